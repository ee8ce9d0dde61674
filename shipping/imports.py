"""Imports into the shipping app's data (registered in reports.registry when the app is ready)."""

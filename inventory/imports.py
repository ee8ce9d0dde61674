"""Imports into the inventory app's data (registered in reports.registry when the app is ready)."""

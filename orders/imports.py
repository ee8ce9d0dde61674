"""Imports into the orders app's data (registered in reports.registry when the app is ready)."""

from . import admin_reference  # noqa: F401  (customers, checklist templates, target times)

"""The reports admin, one module per screen: exports (the export page, the mixin every
list uses, the export jobs list) and imports (upload, preview, confirm)."""

from . import exports, imports  # noqa: F401  (registers ExportJobAdmin)

"""The shipping admin: carriers, the shipment list, and the shipment parts of the
order page (orders.py, which registers the Order admin again with them)."""

from . import carriers, orders, returns, shipments  # noqa: F401  (registers the admin classes)

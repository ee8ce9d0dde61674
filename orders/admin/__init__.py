"""The orders admin, one module per screen staff use:

- orders.py: the order list and the order page (OrderAdmin, registered here);
- actions.py: the order page's buttons and forms, and the list's bulk actions;
- packing.py: the packing station;
- lookup.py: the customer-service lookup;
- printables.py: pick lists and packing slips;
- dashboard.py: the managers' dashboard;
- reference.py: customers, checklist steps and target times (reference data);
- refunds.py: the refund list and page, and "mark refunded";
- filters.py: the list filters the screens share.

The shipping app adds the shipment forms to the order page (shipping/admin.py), so
that this app never imports shipping.
"""

from . import orders, reference, refunds  # noqa: F401  (registers the admin classes)
from .orders import OrderAdmin  # noqa: F401

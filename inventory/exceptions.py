from django.utils.translation import gettext as _


class InventoryError(Exception):
    """A stock operation was refused; the message is meant for staff."""


class InsufficientStock(InventoryError):
    """Not enough available stock. `skus` names the short products."""

    def __init__(self, skus, message=None, *, warehouse=None):
        self.skus = sorted(set(skus))
        self.warehouse = warehouse
        if message is None:
            listed = ", ".join(self.skus)
            if warehouse is not None:
                message = _("Not enough stock in %(warehouse)s for: %(skus)s") % {
                    "warehouse": warehouse.code,
                    "skus": listed,
                }
            else:
                message = _("Not enough stock for: %(skus)s") % {"skus": listed}
        super().__init__(message)

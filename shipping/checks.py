"""The automatic checklist steps about shipments, registered with the orders
checklist from ShippingConfig.ready(). Like orders/checklist.py they read the
prefetched `order.shipments.all()` and return (passed, hint)."""

from django.utils.translation import gettext as _

from orders import checklist
from orders.models import Predicate

from .models import Shipment
from .tracking import tracking_number_valid


def shipment_tracked(order):
    shipments = [s for s in order.shipments.all() if s.status != Shipment.Status.CANCELLED]
    if not shipments:
        return False, _("No shipment yet.")
    for shipment in shipments:
        if tracking_number_valid(shipment.carrier, shipment.tracking_number):
            return True, ""
    return False, _("No shipment has a valid tracking number.")


def shipment_delivered(order):
    if any(s.status == Shipment.Status.DELIVERED for s in order.shipments.all()):
        return True, ""
    return False, _("The carrier has not reported delivery; tick it when the customer confirms.")


def register():
    checklist.register_predicate(Predicate.SHIPMENT_TRACKED, shipment_tracked, reads={"shipments"})
    # The customer confirms delivery by phone: staff may tick it by hand.
    checklist.register_predicate(
        Predicate.SHIPMENT_DELIVERED, shipment_delivered, tickable_by_hand=True, reads={"shipments"}
    )

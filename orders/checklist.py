"""Automatic checklist steps: pure predicates over an order.

Each returns (passed, hint); the hint says in words what is still missing. They
read `order.lines.all()` and `order.shipments.all()`, so a caller that prefetched
those pays no extra query per step.
"""

import re

from django.utils.translation import gettext as _

from inventory.models import StockLevel, Warehouse

from .models import PaymentStatus, Predicate


def payment_confirmed(order):
    if order.payment_status == PaymentStatus.PAID:
        return True, ""
    return False, _("Payment is %(status)s.") % {"status": order.get_payment_status_display()}


def stock_available(order):
    """Some one warehouse (the order's, or any active one) can supply every line."""
    wanted = {}
    for line in order.lines.all():
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    if not wanted:
        return False, _("The order has no lines.")
    if order.warehouse_id:
        warehouse_ids = [order.warehouse_id]
    else:
        warehouse_ids = list(Warehouse.objects.filter(is_active=True).values_list("pk", flat=True))
    available = {}
    for level in StockLevel.objects.filter(warehouse_id__in=warehouse_ids, product_id__in=wanted).only(
        "warehouse_id", "product_id", "on_hand", "reserved"
    ):
        available[(level.warehouse_id, level.product_id)] = level.available
    for warehouse_id in warehouse_ids:
        if all(available.get((warehouse_id, pid), 0) >= qty for pid, qty in wanted.items()):
            return True, ""
    short = sorted(
        line.sku
        for line in order.lines.all()
        if max((available.get((wid, line.product_id), 0) for wid in warehouse_ids), default=0)
        < wanted[line.product_id]
    )
    if short:
        return False, _("Not enough stock for: %(skus)s") % {"skus": ", ".join(short)}
    return False, _("No single warehouse holds every line.")


def all_items_scanned(order):
    missing = [line for line in order.lines.all() if line.quantity_scanned < line.quantity]
    if not missing:
        return True, ""
    return False, _("%(count)s line(s) not fully scanned: %(skus)s") % {
        "count": len(missing),
        "skus": ", ".join(line.sku for line in missing),
    }


def tracking_number_valid(carrier, tracking_number):
    if not tracking_number:
        return False
    pattern = carrier.tracking_number_pattern
    return not pattern or re.fullmatch(pattern, tracking_number) is not None


def shipment_tracked(order):
    shipments = [s for s in order.shipments.all() if s.status != "cancelled"]
    if not shipments:
        return False, _("No shipment yet.")
    for shipment in shipments:
        if tracking_number_valid(shipment.carrier, shipment.tracking_number):
            return True, ""
    return False, _("No shipment has a valid tracking number.")


def shipment_delivered(order):
    if any(s.status == "delivered" for s in order.shipments.all()):
        return True, ""
    return False, _("The carrier has not reported delivery; tick it when the customer confirms.")


PREDICATES = {
    Predicate.PAYMENT_CONFIRMED: payment_confirmed,
    Predicate.STOCK_AVAILABLE: stock_available,
    Predicate.ALL_ITEMS_SCANNED: all_items_scanned,
    Predicate.SHIPMENT_TRACKED: shipment_tracked,
    Predicate.SHIPMENT_DELIVERED: shipment_delivered,
}
# Automatic steps that staff may also tick by hand (the customer confirms by phone).
TICKABLE_BY_HAND = {Predicate.SHIPMENT_DELIVERED}


def evaluate(predicate, order):
    return PREDICATES[predicate](order)


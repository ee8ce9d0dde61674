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
    snapshot = getattr(order, "_stock_snapshot", None)  # set by prefetch_stock() on list pages
    if order.warehouse_id:
        warehouse_ids = [order.warehouse_id]
    elif snapshot is not None:
        warehouse_ids = snapshot[0]
    else:
        warehouse_ids = list(Warehouse.objects.filter(is_active=True).values_list("pk", flat=True))
    if snapshot is not None:
        available = snapshot[1]
    else:
        available = _available_stock(warehouse_ids, wanted)
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


def _available_stock(warehouse_ids, product_ids):
    return {
        (level.warehouse_id, level.product_id): level.available
        for level in StockLevel.objects.filter(warehouse_id__in=warehouse_ids, product_id__in=product_ids).only(
            "warehouse_id", "product_id", "on_hand", "reserved"
        )
    }


def prefetch_stock(orders):
    """Load what stock_available() reads for many orders at once (two queries), so a
    list page can show checklist progress without a query per row. The orders must
    have their lines prefetched; the snapshot is only as fresh as the page."""
    orders = list(orders)
    if not orders:
        return
    active_ids = list(Warehouse.objects.filter(is_active=True).values_list("pk", flat=True))
    warehouse_ids = set(active_ids) | {order.warehouse_id for order in orders if order.warehouse_id}
    product_ids = {line.product_id for order in orders for line in order.lines.all()}
    available = _available_stock(warehouse_ids, product_ids)
    for order in orders:
        order._stock_snapshot = (active_ids, available)


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


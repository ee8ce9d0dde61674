"""Automatic checklist steps: pure predicates over an order.

Each returns (passed, hint); the hint says in words what is still missing. They
read `order.lines.all()` and `order.shipments.all()`, so a caller that prefetched
those pays no extra query per step. The shipment steps are the shipping app's
(shipping/checks.py), registered with register_predicate().
"""

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


PREDICATES = {
    Predicate.PAYMENT_CONFIRMED: payment_confirmed,
    Predicate.STOCK_AVAILABLE: stock_available,
    Predicate.ALL_ITEMS_SCANNED: all_items_scanned,
}
# Automatic steps that staff may also tick by hand (the customer confirms by phone).
TICKABLE_BY_HAND = set()


def register_predicate(predicate, check, *, tickable_by_hand=False):
    """Another app supplies the check of an automatic step it owns (shipping: the
    shipment steps, from its AppConfig.ready), so that orders never imports it."""
    PREDICATES[predicate] = check
    if tickable_by_hand:
        TICKABLE_BY_HAND.add(predicate)


def evaluate(predicate, order):
    return PREDICATES[predicate](order)


# --- the steps of an order ------------------------------------------------------


def step_passed(item, order):
    """(done, hint) for one checklist item of the order's current state."""
    if item.is_done:
        return True, ""
    if item.predicate:
        return evaluate(item.predicate, order)
    return False, ""


def missing_steps(order):
    """Labels of the required steps of the current state that are not done."""
    return [label for label, _hint in missing_steps_with_hints(order)]


def missing_steps_with_hints(order):
    missing = []
    for item in order.checklist_items.all():
        if item.state != order.status or not item.required:
            continue
        done, hint = step_passed(item, order)
        if not done:
            missing.append((item.display_label, hint))
    return missing

"""Automatic checklist steps: pure predicates over an order.

Each returns (passed, hint); the hint says in words what is still missing. They
read `order.lines.all()` and `order.shipments.all()`, so a caller that prefetched
those pays no extra query per step. The shipment steps are the shipping app's
(shipping/checks.py), registered with register_predicate().
"""

from django.db.models import Q
from django.utils.translation import gettext as _

from inventory.models import StockLevel, Warehouse

from .defaults import DEFAULT_STEPS
from .models import COLLECTED_BY_CARRIER, PREDICATE_STATES, Order, PaymentStatus, Predicate


def payment_confirmed(order):
    """Paid; or paid to the carrier on delivery (cash on delivery, paid at store
    pickup: COLLECTED_BY_CARRIER), which cannot be paid before it ships, so such an
    order starts processing unpaid and the hint says why."""
    if order.payment_status == PaymentStatus.PAID:
        return True, ""
    if order.payment_method in COLLECTED_BY_CARRIER and order.payment_status == PaymentStatus.PENDING:
        return True, _("%(method)s: the carrier collects the payment on delivery.") % {
            "method": order.get_payment_method_display()
        }
    return False, _("Payment is %(status)s.") % {"status": order.get_payment_status_display()}


def no_active_warehouse(inactive_code=None):
    """Why no stock can be reserved (the reservation and the check say the same)."""
    if inactive_code:
        return _("Warehouse %(code)s of the order is not active, and there is no active warehouse to take stock from.") % {
            "code": inactive_code
        }
    return _("There is no active warehouse to take stock from.")


def warehouse_not_active(code):
    return _("Warehouse %(code)s of the order is not active.") % {"code": code}


def stock_available(order):
    """Some one active warehouse can supply every line: the order's own, or, when it
    has none or its own is no longer active, any active one, as the reservation
    (orders.services._reserve_stock) takes it."""
    wanted = {}
    for line in order.lines.all():
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    if not wanted:
        return False, _("The order has no lines.")
    snapshot = getattr(order, "_stock_snapshot", None)  # set by prefetch_stock() on list pages
    if snapshot is not None:
        active_ids, available, inactive_codes = snapshot
        inactive = inactive_codes.get(order.warehouse_id)
    else:
        active_ids, inactive, available = None, _inactive_own_warehouse(order), None
    if order.warehouse_id and not inactive:
        warehouse_ids = [order.warehouse_id]
    else:
        if active_ids is None:
            active_ids = list(Warehouse.objects.filter(is_active=True).values_list("pk", flat=True))
        warehouse_ids = active_ids
        if not warehouse_ids:
            return False, no_active_warehouse(inactive)
    if available is None:
        available = _available_stock(warehouse_ids, wanted)
    for warehouse_id in warehouse_ids:
        if all(available.get((warehouse_id, pid), 0) >= qty for pid, qty in wanted.items()):
            if inactive:
                return True, _(
                    "Warehouse %(code)s of the order is not active; the stock will be reserved in an active warehouse instead."
                ) % {"code": inactive}
            return True, ""
    short = sorted(
        line.sku
        for line in order.lines.all()
        if max((available.get((wid, line.product_id), 0) for wid in warehouse_ids), default=0)
        < wanted[line.product_id]
    )
    if short:
        hint = _("Not enough stock for: %(skus)s") % {"skus": ", ".join(short)}
    else:
        hint = _("No single warehouse holds every line.")
    return False, f"{warehouse_not_active(inactive)} {hint}" if inactive else hint


def _inactive_own_warehouse(order):
    """The code of the order's warehouse if it is set and not active, else None (no
    query when the warehouse was loaded with the order)."""
    if not order.warehouse_id:
        return None
    if Order.warehouse.is_cached(order):
        warehouse = order.warehouse
        return None if warehouse.is_active else warehouse.code
    row = Warehouse.objects.filter(pk=order.warehouse_id).values_list("code", "is_active").first()
    return None if row is None or row[1] else row[0]


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
    own_ids = {order.warehouse_id for order in orders if order.warehouse_id}
    warehouses = list(
        Warehouse.objects.filter(Q(is_active=True) | Q(pk__in=own_ids)).values_list("pk", "code", "is_active")
    )
    active_ids = [pk for pk, _code, is_active in warehouses if is_active]
    inactive_codes = {pk: code for pk, code, is_active in warehouses if not is_active}
    warehouse_ids = set(active_ids) | (own_ids - set(inactive_codes))
    product_ids = {line.product_id for order in orders for line in order.lines.all()}
    # What _available_stock() gives (StockLevel.available: on hand less reserved), read
    # as plain values and unordered: no model instances, no join for the ordering.
    available = {
        (warehouse_id, product_id): on_hand - reserved
        for warehouse_id, product_id, on_hand, reserved in StockLevel.objects.filter(
            warehouse_id__in=warehouse_ids, product_id__in_ids=product_ids
        )
        .order_by()
        .values_list("warehouse_id", "product_id", "on_hand", "reserved")
    }
    for order in orders:
        order._stock_snapshot = (active_ids, available, inactive_codes)


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
# What each check reads besides the order's own fields, so that a list page loads
# only that for the orders it checks (selectors.list_checklist_progress): "lines",
# "shipments", "stock" (prefetch_stock). A check registered without saying reads all.
READS_ALL = frozenset({"lines", "shipments", "stock"})
PREDICATE_READS = {
    Predicate.PAYMENT_CONFIRMED: frozenset(),
    Predicate.STOCK_AVAILABLE: frozenset({"lines", "stock"}),
    Predicate.ALL_ITEMS_SCANNED: frozenset({"lines"}),
}
# Automatic steps that staff may also tick by hand (the customer confirms by phone).
TICKABLE_BY_HAND = set()


def register_predicate(predicate, check, *, tickable_by_hand=False, reads=READS_ALL):
    """Another app supplies the check of an automatic step it owns (shipping: the
    shipment steps, from its AppConfig.ready), so that orders never imports it.
    `reads`: what the check reads of the order besides its fields (PREDICATE_READS)."""
    PREDICATES[predicate] = check
    PREDICATE_READS[predicate] = frozenset(reads)
    if tickable_by_hand:
        TICKABLE_BY_HAND.add(predicate)


def evaluate(predicate, order):
    return PREDICATES[predicate](order)


# --- automatic steps are invariants ----------------------------------------------
# Where each check can pass is orders.models.PREDICATE_STATES (the database holds it
# too). The checks each state requires whatever its template says are those of the
# default checklist: an order leaves the state only when they pass, even if a
# manager's template, or the order's copy of it, lost the step.
REQUIRED_CHECKS = {}
CHECK_LABELS = {}  # the default step's label of each check (in the message catalogue)
for _state, _label, _required, _predicate in DEFAULT_STEPS:
    if _predicate:
        REQUIRED_CHECKS.setdefault(_state, []).append(Predicate(_predicate))
        CHECK_LABELS.setdefault(Predicate(_predicate), _label)
del _state, _label, _required, _predicate


def can_pass_in(predicate, state):
    """Whether the automatic check `predicate` can ever pass while an order is in `state`."""
    return predicate in PREDICATE_STATES and state in PREDICATE_STATES[predicate]


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
    """(label, hint) of each required step of the current state not done: the order's
    own required steps, and every check the state requires (REQUIRED_CHECKS) even if
    the order's copy of it was removed or made optional. An automatic step is always
    required, whatever its row says."""
    missing = []
    checked = set()
    for item in order.checklist_items.all():
        if item.state != order.status or not (item.required or item.predicate):
            continue
        checked.add(item.predicate)
        done, hint = step_passed(item, order)
        if not done:
            missing.append((item.display_label, hint))
    for predicate in REQUIRED_CHECKS.get(order.status, ()):
        if predicate in checked:
            continue
        done, hint = evaluate(predicate, order)
        if not done:
            missing.append((_(CHECK_LABELS[predicate]), hint))
    return missing

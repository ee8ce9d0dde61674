"""Reads for the start page of each role (the admin index) and the empty packing
station: what to pack now, what waits for a carrier, what customers may call about.

Every list is capped and every figure is one query, so a page runs the same number
of queries for ten orders or a million; each reads an index on (status, …) (see
tests/orders/test_start_page_plans.py).

The ship-by time. An order should leave the warehouse (be shipped) by

    placed_at + the target times of New, Processing and Packed

(StatusTarget; a state without a target adds nothing): the promise made when the
customer placed the order, whatever state it is in now. A hold does not move it, so
an order resumed late is still at the head of the queue. Because the sum is the same
for every order, "earliest ship-by first" is "placed first", which the (status,
placed_at) index answers without sorting. `ship_by()` is the one definition: the
start page, the packing station and the tests all call it.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from inventory.models import StaffWarehouse

from . import dashboard, defaults
from .filters import overdue_q, status_target_deltas
from .models import DeliveryMethod, Order, OrderStatus, Refund, shipment_model, status_label
from .text import human_duration, money

S = OrderStatus

# The states an order passes through in the warehouse, before it is shipped.
SHIP_BY_STATES = (S.NEW, S.PROCESSING, S.PACKED)
QUEUE_LIMIT = 20
STATION_QUEUE_LIMIT = 8
PICK_LIST_BATCH = 5  # "Print pick list for these": the first orders of the queue
LIST_LIMIT = 10

WAREHOUSE, SERVICE, MANAGER = "warehouse", "service", "manager"
ROLE_GROUPS = {defaults.MANAGER: MANAGER, defaults.WAREHOUSE: WAREHOUSE, defaults.CUSTOMER_SERVICE: SERVICE}


def ship_by(placed_at, targets):
    """When an order placed at `placed_at` should be shipped (module docstring);
    `targets` is {status: timedelta}, as status_target_deltas() returns."""
    return placed_at + sum((targets.get(status, timedelta(0)) for status in SHIP_BY_STATES), timedelta(0))


def start_page_role(user):
    """Which start page a user gets: "manager", "warehouse" or "service" from their
    group (a manager in several groups gets the manager's), None for everyone else
    (a superuser or a user in no role keeps the plain index)."""
    if not user.is_active or user.is_superuser:
        return None
    names = set(user.groups.values_list("name", flat=True))
    for group, role in ROLE_GROUPS.items():
        if group in names:
            return role
    return None


def staff_warehouse(user):
    """The warehouse `user` works in (set by a manager), or None."""
    link = StaffWarehouse.objects.filter(user=user).select_related("warehouse").first()
    return link.warehouse if link is not None else None


def _of_warehouse(queryset, warehouse, field="warehouse"):
    return queryset.filter(**{field: warehouse}) if warehouse is not None else queryset


def _delivery_label(method):
    try:
        return DeliveryMethod(method).label
    except ValueError:
        return method


def _with_ship_by(rows, targets, now):
    for row in rows:
        if "delivery_method" in row:
            row["delivery_label"] = _delivery_label(row["delivery_method"])
        row["ship_by"] = ship_by(row["placed_at"], targets)
        row["late"] = row["ship_by"] < now
    return rows


@dataclass(frozen=True)
class PackingQueue:
    orders: list  # the first `limit` orders in Processing, earliest ship-by first
    total: int  # every order in Processing (of the warehouse)
    packed: int  # every packed order (of the warehouse), waiting for a pickup

    @property
    def more(self):
        return max(self.total - len(self.orders), 0)

    @property
    def pick_list_ids(self):
        return [row["pk"] for row in self.orders[:PICK_LIST_BATCH]]


def packing_queue(warehouse, *, targets, now, limit=QUEUE_LIMIT):
    """Orders in Processing for `warehouse` (None: every warehouse), earliest ship-by
    first, with how many there are in Processing and Packed. Three queries."""
    orders = _of_warehouse(Order.objects.order_by(), warehouse)
    rows = list(
        orders.filter(status=S.PROCESSING)
        .order_by("placed_at", "pk")
        .values("pk", "number", "placed_at", "delivery_method", "ship_name", "ship_city", "warehouse__code")[:limit]
    )
    # One count per state: with both in one query PostgreSQL walks the whole partial
    # index of unshipped orders instead of looking each state up in (status, …).
    processing, packed = (orders.filter(status=status).count() for status in (S.PROCESSING, S.PACKED))
    return PackingQueue(orders=_with_ship_by(rows, targets, now), total=processing, packed=packed)


def queue_by_delivery_method(warehouse):
    """[(delivery method label, orders)] of the orders in Processing, biggest first."""
    rows = (
        _of_warehouse(Order.objects.order_by(), warehouse)
        .filter(status=S.PROCESSING)
        .values_list("delivery_method")
        .annotate(orders=Count("status"))
    )
    return sorted(((_delivery_label(method), count) for method, count in rows), key=lambda row: (-row[1], row[0]))


def _live_shipments():
    return shipment_model().objects.order_by().exclude(status="cancelled")


def by_carrier(warehouse, status):
    """[(carrier name, orders)] of the orders in `status` that have a shipment (not
    cancelled), biggest first. Orders without one are the total minus these."""
    rows = (
        _of_warehouse(_live_shipments(), warehouse, "order__warehouse")
        .filter(order__status=status)
        .values_list("carrier__name")
        .annotate(orders=Count("order", distinct=True))
    )
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def awaiting_pickup(warehouse, *, targets, now, limit=LIST_LIMIT):
    """The packed orders of `warehouse`, earliest ship-by first, each with the
    carriers and tracking numbers of its shipments. Two queries."""
    rows = list(
        _of_warehouse(Order.objects.order_by(), warehouse)
        .filter(status=S.PACKED)
        .order_by("placed_at", "pk")
        .values("pk", "number", "placed_at", "warehouse__code")[:limit]
    )
    shipments = {}
    for order_id, carrier, tracking in (
        _live_shipments()
        .filter(order_id__in=[row["pk"] for row in rows])
        .order_by("pk")
        .values_list("order_id", "carrier__name", "tracking_number")
    ):
        shipments.setdefault(order_id, []).append({"carrier": carrier, "tracking_number": tracking})
    for row in rows:
        row["shipments"] = shipments.get(row["pk"], [])
    return _with_ship_by(rows, targets, now)


def warehouse_start(user, now):
    """Everything the warehouse start page shows, in a fixed number of queries."""
    warehouse = staff_warehouse(user)
    targets = status_target_deltas()
    queue = packing_queue(warehouse, targets=targets, now=now)
    carriers = by_carrier(warehouse, S.PROCESSING)
    pickup = by_carrier(warehouse, S.PACKED)
    return {
        "warehouse": warehouse,
        "queue": queue,
        "by_delivery_method": queue_by_delivery_method(warehouse),
        "by_carrier": carriers,
        "without_carrier": max(queue.total - sum(count for _name, count in carriers), 0),
        "pickup": awaiting_pickup(warehouse, targets=targets, now=now),
        "pickup_by_carrier": pickup,
        "pickup_without_carrier": max(queue.packed - sum(count for _name, count in pickup), 0),
    }


def on_hold(*, limit=LIST_LIMIT):
    """([orders on hold, longest held first], how many are on hold). Two queries."""
    held = Order.objects.order_by().filter(status=S.ON_HOLD)
    rows = list(
        held.order_by("status_changed_at", "pk").values(
            "pk", "number", "status_changed_at", "held_from_status", "customer__name", "warehouse__code"
        )[:limit]
    )
    for row in rows:
        row["held_from_label"] = status_label(row["held_from_status"])
    return rows, held.count()


def past_target(*, targets, now, limit=LIST_LIMIT):
    """([the orders past their state's target time, longest in it first], how many
    are past it). Two queries; none when no state has a target."""
    overdue = overdue_q(targets, now)
    if overdue is None:
        return [], 0
    late = Order.objects.order_by().filter(overdue)
    rows = list(
        late.order_by("status_changed_at", "pk").values(
            "pk", "number", "status", "status_changed_at", "customer__name", "warehouse__code"
        )[:limit]
    )
    for row in rows:
        row["late_by"] = now - (row["status_changed_at"] + targets[row["status"]])
        row["late_by_text"] = human_duration(row["late_by"])
        row["status_label"] = status_label(row["status"])
    return rows, late.count()


def service_start(user, now):
    """Everything the customer-service start page shows, in a fixed number of queries."""
    held, held_total = on_hold()
    late, late_total = past_target(targets=status_target_deltas(), now=now)
    return {"on_hold": held, "on_hold_total": held_total, "past_target": late, "past_target_total": late_total}


def refunds_due(*, limit=LIST_LIMIT):
    """([refunds due, the longest waiting first], how many are due). Two queries on
    refund_status_created (read backwards: oldest first)."""
    due = Refund.objects.order_by().filter(status=Refund.Status.DUE)
    rows = list(
        due.order_by("created_at", "pk").values(
            "pk", "order_id", "order__number", "order__currency", "amount", "reason", "created_at"
        )[:limit]
    )
    reasons = dict(Refund.Reason.choices)
    for row in rows:
        row["amount_text"] = money(row["amount"], row["order__currency"])
        row["reason_label"] = reasons.get(row["reason"], row["reason"])
    return rows, due.count()


def manager_start(user, now):
    """The manager's start page: orders in each open state now (with how many are
    past their target), the orders longest past it, the refunds due, and low stock,
    read as the dashboard reads them."""
    today = timezone.localdate(now)
    scope = dashboard.Scope(since=today, until=today, warehouse=None, placed=Order.objects.none())
    late, late_total = past_target(targets=status_target_deltas(), now=now)
    refunds, refunds_total = refunds_due()
    return {
        "refunds_due": refunds,
        "refunds_due_total": refunds_total,
        "states": dashboard.state_counts(scope, now),
        "past_target": late,
        "past_target_total": late_total,
        "low_stock": dashboard.low_stock(scope, LIST_LIMIT)[:LIST_LIMIT],
    }


START_PAGES = {WAREHOUSE: warehouse_start, SERVICE: service_start, MANAGER: manager_start}


def start_page(user, now):
    """(role, the role's start page context) for the admin index; (None, {}) for a
    user who keeps the plain index."""
    role = start_page_role(user)
    return role, (START_PAGES[role](user, now) if role else {})


def station_queue(user, now, *, limit=STATION_QUEUE_LIMIT):
    """The first orders of the user's packing queue, for the empty packing station."""
    warehouse = staff_warehouse(user)
    return {
        "warehouse": warehouse,
        "queue": packing_queue(warehouse, targets=status_target_deltas(), now=now, limit=limit),
    }

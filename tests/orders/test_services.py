"""The order services: every transition allowed and refused, the stock each one moves,
the roles of DESIGN.md section 5, the timeline, the shipped e-mail, corrections and
order creation."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import translation

from inventory.exceptions import InsufficientStock
from inventory.models import StockLevel, StockMovement, Warehouse
from orders import services, tasks
from orders.exceptions import ChecklistIncomplete, StaleAction, WorkflowError
from orders.models import Order, OrderEvent, OrderLine, OrderStatus, PaymentStatus
from shipping.models import Shipment
from shipping.returns import return_open, return_receive
from shipping.services import shipment_create, shipment_mark_delivered
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    StockLevelFactory,
    UserFactory,
    WarehouseFactory,
    count_stock,
    manager_user,
    order_to,
    return_everything,
    service_user,
    tick_manual_steps,
    warehouse_user,
)

S = OrderStatus
E = OrderEvent.Kind
MAIN_PATH = [S.NEW, S.PROCESSING, S.PACKED, S.SHIPPED, S.DELIVERED, S.COMPLETED]


def fresh(order):
    return Order.objects.get(pk=order.pk)


def level(product, warehouse=None):
    levels = StockLevel.objects.filter(product=product)
    if warehouse is not None:
        levels = levels.filter(warehouse=warehouse)
    return levels.get()


def stock_of(order):
    levels = StockLevel.objects.select_related("product", "warehouse").filter(product__order_lines__order=order)
    return {(lv.product.sku, lv.warehouse.code): (lv.on_hand, lv.reserved) for lv in levels}


def snapshot(order):
    """Everything a refused action must leave as it was."""
    order = fresh(order)
    return {
        "order": {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields},
        "events": list(order.events.values_list("pk", flat=True)),
        "checklist": list(order.checklist_items.values_list("pk", "done_at", "done_by")),
        "lines": list(order.lines.values_list("pk", "quantity", "quantity_scanned")),
        "shipments": list(Shipment.objects.filter(order=order).values_list("pk", "status")),
        "stock": list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved")),
        "movements": StockMovement.objects.count(),
        "orders": Order.objects.count(),
    }


def prepare_advance(order, actor=None):
    """Do what the current state's checklist asks, so that advance is allowed."""
    tick_manual_steps(order, actor=actor)
    if order.status == S.PROCESSING:
        order.lines.update(quantity_scanned=F("quantity"))
    elif order.status == S.PACKED and not order.shipments.exists():
        shipment_create(order=order, carrier=CarrierFactory(), tracking_number=f"{order.pk:012d}", actor=actor)
    elif order.status == S.SHIPPED:
        for shipment in order.shipments.filter(status=Shipment.Status.SHIPPED):
            shipment_mark_delivered(shipment=shipment, actor=actor)
    return order


def held(status, **kwargs):
    order = OrderFactory(status=status, **kwargs)
    return services.order_hold(order=order, actor=None, reason="Customer asked to wait")


def make_order(lines, *, warehouse=None, number=None, **fields):
    """An order in `new`, ready to advance: `lines` are (product, quantity) pairs."""
    fields.setdefault("payment_status", PaymentStatus.PAID)
    customer = CustomerFactory()
    order = services.order_create(
        number=number or f"T-{Order.objects.count() + 1:05d}",
        customer=customer,
        lines=[{"product": p, "quantity": q, "unit_price": Decimal("100")} for p, q in lines],
        warehouse=warehouse,
        ship_name=customer.name,
        ship_address1="1 Main Road",
        ship_city="Taipei",
        **fields,
    )
    tick_manual_steps(order)
    return order


# --- the main path ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("start, target", list(zip(MAIN_PATH, MAIN_PATH[1:])))
def test_advance_moves_one_step_along_the_main_path(start, target, warehouse_user):
    order = prepare_advance(OrderFactory(status=start), actor=warehouse_user)
    before = fresh(order).status_changed_at

    order = services.order_advance(order=order, actor=warehouse_user)

    assert order.status == fresh(order).status == target
    assert fresh(order).status_changed_at > before
    transition = order.events.filter(kind=E.TRANSITION).order_by("-id").first()
    assert transition.actor == warehouse_user
    assert transition.data == {"from": start, "to": target}


@pytest.mark.django_db
def test_a_warehouse_user_takes_an_order_from_new_to_completed(warehouse_user):
    order = OrderFactory(lines=2)
    seen = [order.status]
    while order.status != S.COMPLETED:
        order = services.order_advance(order=prepare_advance(order, actor=warehouse_user), actor=warehouse_user)
        seen.append(order.status)
    assert seen == MAIN_PATH
    transitions = order.events.filter(kind=E.TRANSITION).order_by("id")
    assert [(e.data["from"], e.data["to"]) for e in transitions] == list(zip(MAIN_PATH, MAIN_PATH[1:]))


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED, S.RETURNED, S.ON_HOLD])
def test_advance_is_refused_outside_the_main_path(status, manager):
    if status == S.ON_HOLD:
        order = held(S.NEW)
    elif status == S.CANCELLED:
        order = services.order_cancel(order=OrderFactory(), actor=None, reason="Duplicate")
    elif status == S.RETURNED:
        order = return_everything(OrderFactory(shipped=True))
    else:
        order = OrderFactory(status=status)
    before = snapshot(order)

    with pytest.raises(WorkflowError, match="cannot be advanced while it is"):
        services.order_advance(order=order, actor=manager)
    assert snapshot(order) == before


@pytest.mark.django_db
def test_advance_from_a_state_the_user_did_not_see_is_stale(warehouse_user):
    order = prepare_advance(OrderFactory())
    seen = fresh(order)
    services.order_advance(order=order, actor=warehouse_user)
    before = snapshot(order)

    with pytest.raises(StaleAction, match="already Processing"):
        services.order_advance(order=seen, actor=warehouse_user)
    with pytest.raises(StaleAction, match="already Processing"):
        services.order_advance(order=fresh(order), actor=warehouse_user, expected_status=S.NEW)
    assert snapshot(order) == before


# --- hold and resume ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.NEW, S.PROCESSING, S.PACKED])
def test_hold_from_a_holdable_state_and_resume_back_to_it(status, warehouse_user, service_user):
    order = OrderFactory(status=status)
    stock = stock_of(order)

    order = services.order_hold(order=order, actor=warehouse_user, reason="Customer asked to wait")
    assert fresh(order).status == S.ON_HOLD
    assert fresh(order).held_from_status == status
    hold = order.events.filter(kind=E.TRANSITION).order_by("-id").first()
    assert (hold.data, hold.message, hold.actor) == (
        {"from": status, "to": S.ON_HOLD},
        "Customer asked to wait",
        warehouse_user,
    )
    assert stock_of(order) == stock  # a hold keeps the reservation

    order = services.order_resume(order=order, actor=service_user)
    assert fresh(order).status == status
    assert fresh(order).held_from_status == ""
    resume = order.events.filter(kind=E.TRANSITION).order_by("-id").first()
    assert (resume.data, resume.actor) == ({"from": S.ON_HOLD, "to": status}, service_user)
    assert stock_of(order) == stock


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED, S.COMPLETED, S.ON_HOLD, S.CANCELLED])
def test_hold_is_refused_elsewhere(status, manager):
    if status == S.ON_HOLD:
        order = held(S.NEW)
    elif status == S.CANCELLED:
        order = services.order_cancel(order=OrderFactory(), actor=None, reason="Duplicate")
    else:
        order = OrderFactory(status=status)
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="cannot be put on hold"):
        services.order_hold(order=order, actor=manager, reason="Wait")
    assert snapshot(order) == before


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_hold_and_cancel_need_a_reason(reason, manager):
    order = OrderFactory()
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="Give a reason"):
        services.order_hold(order=order, actor=manager, reason=reason)
    with pytest.raises(WorkflowError, match="Give a reason"):
        services.order_cancel(order=order, actor=manager, reason=reason)
    shipped = OrderFactory(shipped=True)
    with pytest.raises(WorkflowError, match="Give a reason"):
        return_open(order=shipped, actor=manager, lines={shipped.lines.get().pk: 1}, reason=reason)
    assert not shipped.returns.exists()
    assert snapshot(order)["order"] == before["order"]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.NEW, S.PROCESSING, S.SHIPPED, S.COMPLETED])
def test_resume_is_refused_unless_on_hold(status, manager):
    order = OrderFactory(status=status)
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="cannot be resumed"):
        services.order_resume(order=order, actor=manager)
    assert snapshot(order) == before


@pytest.mark.django_db
def test_resume_keeps_what_was_ticked_and_scanned(warehouse_user, manager):
    order = OrderFactory(processing=True)
    picked = order.checklist_items.get(state=S.PROCESSING, label="Items picked")
    services.checklist_tick(item=picked, actor=warehouse_user)
    order.lines.update(quantity_scanned=1)
    items = order.checklist_items.count()

    services.order_hold(order=order, actor=manager, reason="Wait")
    order = services.order_resume(order=order, actor=manager)

    assert order.checklist_items.count() == items
    assert order.checklist_items.get(pk=picked.pk).done_by == warehouse_user
    assert order.lines.get().quantity_scanned == 1


# --- cancel -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.NEW, S.PROCESSING, S.PACKED])
def test_cancel_before_shipping_releases_what_was_reserved(status, service_user):
    order = OrderFactory(status=status, lines=2, quantity=2, stock=5)
    reserved = 2 if status != S.NEW else 0
    assert all(value == (5, reserved) for value in stock_of(order).values())

    order = services.order_cancel(order=order, actor=service_user, reason="Customer changed their mind")

    assert fresh(order).status == S.CANCELLED
    assert all(value == (5, 0) for value in stock_of(order).values())
    cancelled = order.events.filter(kind=E.TRANSITION).order_by("-id").first()
    assert (cancelled.data, cancelled.message, cancelled.actor) == (
        {"from": status, "to": S.CANCELLED},
        "Customer changed their mind",
        service_user,
    )
    releases = order.stock_movements.filter(kind=StockMovement.Kind.RELEASE)
    stock_events = order.events.filter(kind=E.STOCK, data__action="release")
    if status == S.NEW:
        assert not releases.exists() and not stock_events.exists()
    else:
        assert sorted(releases.values_list("on_hand_delta", "reserved_delta")) == [(0, -2), (0, -2)]
        event = stock_events.get()
        assert sorted(event.data["lines"]) == sorted([line.sku, 2] for line in order.lines.all())
        assert event.actor == service_user


@pytest.mark.django_db
@pytest.mark.parametrize("held_from", [S.NEW, S.PROCESSING, S.PACKED])
def test_cancel_an_order_on_hold_releases_what_it_held(held_from, service_user):
    order = held(held_from, quantity=3, stock=4)
    services.order_cancel(order=order, actor=service_user, reason="Out of patience")
    assert fresh(order).status == S.CANCELLED
    assert fresh(order).held_from_status == ""
    assert list(stock_of(order).values()) == [(4, 0)]


@pytest.mark.django_db
def test_cancel_from_packed_cancels_the_pending_shipment(service_user):
    order = prepare_advance(OrderFactory(packed=True))
    services.order_cancel(order=order, actor=service_user, reason="Fraud")
    assert order.shipments.get().status == Shipment.Status.CANCELLED


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED, S.COMPLETED])
def test_cancel_after_shipping_is_refused_pointing_to_a_return(status, service_user):
    order = OrderFactory(status=status)
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="request a return"):
        services.order_cancel(order=order, actor=service_user, reason="Too late")
    assert snapshot(order) == before


@pytest.mark.django_db
def test_cancel_twice_is_refused(service_user):
    order = services.order_cancel(order=OrderFactory(processing=True), actor=service_user, reason="Duplicate")
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="cannot be cancelled while it is Cancelled"):
        services.order_cancel(order=order, actor=service_user, reason="Again")
    assert snapshot(order) == before


# --- stock effects ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_processing_reserves_every_line_in_the_first_warehouse_by_priority(warehouse_user):
    first = WarehouseFactory(code="A", priority=1)
    second = WarehouseFactory(code="B", priority=2)
    products = [ProductFactory(), ProductFactory()]
    for product in products:
        StockLevelFactory(product=product, warehouse=first, on_hand=5)
        StockLevelFactory(product=product, warehouse=second, on_hand=5)
    order = make_order([(products[0], 2), (products[1], 3)])

    order = services.order_advance(order=order, actor=warehouse_user)

    assert fresh(order).warehouse == first
    assert (level(products[0], first).reserved, level(products[1], first).reserved) == (2, 3)
    assert (level(products[0], first).on_hand, level(products[1], first).on_hand) == (5, 5)
    assert level(products[0], second).reserved == level(products[1], second).reserved == 0
    assert sorted(order.stock_movements.values_list("kind", "on_hand_delta", "reserved_delta", "actor")) == [
        ("reserve", 0, 2, warehouse_user.pk),
        ("reserve", 0, 3, warehouse_user.pk),
    ]
    event = order.events.get(kind=E.STOCK)
    assert event.data == {
        "action": "reserve",
        "warehouse": "A",
        "lines": [[products[0].sku, 2], [products[1].sku, 3]],
    }


@pytest.mark.django_db
def test_processing_skips_a_warehouse_that_cannot_supply_every_line(warehouse_user):
    near = WarehouseFactory(code="NEAR", priority=1)
    far = WarehouseFactory(code="FAR", priority=2)
    tea, cup = ProductFactory(), ProductFactory()
    StockLevelFactory(product=tea, warehouse=near, on_hand=10)  # no cups here
    StockLevelFactory(product=tea, warehouse=far, on_hand=1)
    StockLevelFactory(product=cup, warehouse=far, on_hand=1)
    order = make_order([(tea, 1), (cup, 1)])

    services.order_advance(order=order, actor=warehouse_user)

    assert fresh(order).warehouse == far
    assert level(tea, near).reserved == 0  # nothing left behind in the skipped warehouse
    assert (level(tea, far).reserved, level(cup, far).reserved) == (1, 1)


@pytest.mark.django_db
def test_processing_skips_inactive_warehouses(warehouse_user):
    closed = WarehouseFactory(code="CLOSED", priority=1, is_active=False)
    open_ = WarehouseFactory(code="OPEN", priority=2)
    product = ProductFactory()
    StockLevelFactory(product=product, warehouse=closed, on_hand=10)
    StockLevelFactory(product=product, warehouse=open_, on_hand=10)
    services.order_advance(order=make_order([(product, 1)]), actor=warehouse_user)
    assert level(product, open_).reserved == 1 and level(product, closed).reserved == 0


@pytest.mark.django_db
def test_processing_honours_the_orders_warehouse(warehouse_user):
    preferred = WarehouseFactory(code="A", priority=1)
    chosen = WarehouseFactory(code="B", priority=2)
    product = ProductFactory()
    StockLevelFactory(product=product, warehouse=preferred, on_hand=5)
    StockLevelFactory(product=product, warehouse=chosen, on_hand=5)
    order = make_order([(product, 1)], warehouse=chosen)

    services.order_advance(order=order, actor=warehouse_user)

    assert fresh(order).warehouse == chosen
    assert (level(product, preferred).reserved, level(product, chosen).reserved) == (0, 1)


@pytest.mark.django_db
def test_the_orders_warehouse_is_not_swapped_for_another_when_it_is_short(warehouse_user):
    """Bypassing the checklist (which already says the stock is missing), the reservation itself refuses."""
    elsewhere = WarehouseFactory(code="A", priority=1)
    chosen = WarehouseFactory(code="B", priority=2)
    product = ProductFactory(sku="MUG-1")
    StockLevelFactory(product=product, warehouse=elsewhere, on_hand=5)
    StockLevelFactory(product=product, warehouse=chosen, on_hand=5)
    order = make_order([(product, 2)], warehouse=chosen)
    count_stock(product, chosen, 1)
    order.checklist_items.filter(predicate="stock_available").update(done_at="2020-01-01T00:00Z")
    before = snapshot(order)

    with pytest.raises(InsufficientStock) as refused:
        services.order_advance(order=order, actor=warehouse_user)
    assert refused.value.skus == ["MUG-1"] and "B" in str(refused.value)
    assert snapshot(order) == before


@pytest.mark.django_db
def test_processing_refused_naming_the_short_skus_when_no_warehouse_can_supply(warehouse_user):
    """The reservation re-checks under lock what the checklist saw; every short SKU is named."""
    north = WarehouseFactory(code="NORTH", priority=1)
    south = WarehouseFactory(code="SOUTH", priority=2)
    tea = ProductFactory(sku="TEA-1")
    cup = ProductFactory(sku="CUP-1")
    pot = ProductFactory(sku="POT-1")
    for product in (tea, cup, pot):
        StockLevelFactory(product=product, warehouse=north, on_hand=1)
        StockLevelFactory(product=product, warehouse=south, on_hand=1)
    order = make_order([(tea, 1), (cup, 1), (pot, 1)])
    # Someone else's reservation lands between the checklist and the lock.
    OrderFactory(lines=[tea], warehouse=north, stock=0, processing=True)
    OrderFactory(lines=[cup], warehouse=south, stock=0, processing=True)
    order.checklist_items.filter(predicate="stock_available").update(done_at="2020-01-01T00:00Z")
    before = snapshot(order)

    with pytest.raises(InsufficientStock) as refused:
        services.order_advance(order=order, actor=warehouse_user)
    assert refused.value.skus == ["CUP-1", "TEA-1"]
    assert "NORTH short of TEA-1" in str(refused.value) and "SOUTH short of CUP-1" in str(refused.value)
    assert snapshot(order) == before


@pytest.mark.django_db
def test_processing_refused_when_there_is_no_active_warehouse(warehouse_user):
    order = OrderFactory()
    tick_manual_steps(order)
    order.checklist_items.filter(predicate="stock_available").update(done_at="2020-01-01T00:00Z")
    Warehouse.objects.update(is_active=False)
    with pytest.raises(WorkflowError, match="no active warehouse"):
        services.order_advance(order=order, actor=warehouse_user)
    assert fresh(order).status == S.NEW


@pytest.mark.django_db
def test_shipping_consumes_the_reservation(warehouse_user):
    order = prepare_advance(OrderFactory(packed=True, lines=2, quantity=2, stock=5))
    assert all(value == (5, 2) for value in stock_of(order).values())

    services.order_advance(order=order, actor=warehouse_user)

    assert all(value == (3, 0) for value in stock_of(order).values())
    ships = order.stock_movements.filter(kind=StockMovement.Kind.SHIP)
    assert sorted(ships.values_list("on_hand_delta", "reserved_delta")) == [(-2, -2), (-2, -2)]
    event = order.events.get(kind=E.STOCK, data__action="ship")
    assert sorted(event.data["lines"]) == sorted([line.sku, 2] for line in order.lines.all())
    assert order.shipments.get().status == Shipment.Status.SHIPPED
    assert order.shipments.get().shipped_at is not None


@pytest.mark.django_db
def test_delivered_marks_the_shipment_delivered_when_ticked_by_hand(warehouse_user):
    order = OrderFactory(shipped=True)
    services.checklist_tick(item=order.checklist_items.get(state=S.SHIPPED), actor=warehouse_user)
    services.order_advance(order=order, actor=warehouse_user)
    shipment = order.shipments.get()
    assert shipment.status == Shipment.Status.DELIVERED and shipment.delivered_at is not None


# --- permissions (DESIGN.md section 5) ---------------------------------------------------------------


def _ready_new():
    return prepare_advance(OrderFactory())


def _ticked_new():
    order = OrderFactory()
    services.checklist_tick(item=order.checklist_items.get(predicate="", state=S.NEW), actor=None)
    return order


def _with_open_return(order):
    return_open(order=order, actor=None, reason="Too small", lines={order.lines.get().pk: 1})
    return order


ORDER_ACTIONS = {
    "advance": (_ready_new, lambda o, u: services.order_advance(order=o, actor=u)),
    "tick": (OrderFactory, lambda o, u: services.checklist_tick(item=o.checklist_items.get(predicate=""), actor=u)),
    "untick": (_ticked_new, lambda o, u: services.checklist_untick(item=o.checklist_items.get(predicate=""), actor=u)),
    "hold": (OrderFactory, lambda o, u: services.order_hold(order=o, actor=u, reason="Wait")),
    "resume": (lambda: held(S.NEW), lambda o, u: services.order_resume(order=o, actor=u)),
    "cancel": (
        lambda: OrderFactory(processing=True),
        lambda o, u: services.order_cancel(order=o, actor=u, reason="Duplicate"),
    ),
    "return": (
        lambda: OrderFactory(shipped=True),
        lambda o, u: return_open(order=o, actor=u, reason="Damaged", lines={o.lines.get().pk: 1}),
    ),
    "receive_return": (
        lambda: _with_open_return(OrderFactory(shipped=True)),
        lambda o, u: return_receive(
            return_record=o.returns.get(), actor=u, outcomes={o.returns.get().lines.get().pk: "restocked"}
        ),
    ),
    "correct_address": (
        OrderFactory,
        lambda o, u: services.order_correct_address(order=o, actor=u, ship_city="Kaohsiung"),
    ),
    "add_note": (OrderFactory, lambda o, u: services.order_add_note(order=o, actor=u, text="Leave at the door")),
    "mark_paid": (
        lambda: OrderFactory(payment_status=PaymentStatus.PENDING),
        lambda o, u: services.order_mark_paid(order=o, actor=u),
    ),
    "create_shipment": (
        lambda: OrderFactory(packed=True),
        lambda o, u: shipment_create(order=o, carrier=CarrierFactory(), tracking_number="123456789012", actor=u),
    ),
    "mark_delivered": (
        lambda: OrderFactory(shipped=True),
        lambda o, u: shipment_mark_delivered(shipment=o.shipments.get(), actor=u),
    ),
    "split": (
        lambda: OrderFactory(quantity=2),
        lambda o, u: services.order_split(order=o, actor=u, lines={o.lines.get().pk: 1}),
    ),
}
ROLES = {"warehouse": warehouse_user, "service": service_user, "manager": manager_user}
PERMITTED = {
    "warehouse": {"advance", "tick", "untick", "hold", "create_shipment", "mark_delivered", "receive_return", "split"},
    "service": {"hold", "resume", "cancel", "return", "correct_address", "add_note", "mark_paid", "split"},
    "manager": set(ORDER_ACTIONS),
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("action", sorted(ORDER_ACTIONS))
def test_each_role_may_do_exactly_what_design_section_5_says(role, action):
    setup, perform = ORDER_ACTIONS[action]
    order = setup()
    user = ROLES[role]()
    before = snapshot(order)

    if action in PERMITTED[role]:
        perform(order, user)
        after = snapshot(order)
        assert after != before
        assert set(after["events"]) > set(before["events"])
        assert OrderEvent.objects.filter(pk__in=set(after["events"]) - set(before["events"]), actor=user).exists()
    else:
        with pytest.raises(PermissionDenied, match="You do not have permission to"):
            perform(order, user)
        assert snapshot(order) == before


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(ORDER_ACTIONS))
def test_a_user_without_a_role_or_an_inactive_manager_may_do_nothing(action):
    setup, perform = ORDER_ACTIONS[action]
    for user in (UserFactory(), manager_user(is_active=False)):
        order = setup()
        before = snapshot(order)
        with pytest.raises(PermissionDenied):
            perform(order, user)
        assert snapshot(order) == before


@pytest.mark.django_db
def test_creating_orders_is_for_managers_and_the_system(manager, warehouse_user, service_user):
    product = ProductFactory()
    lines = [{"product": product, "quantity": 1, "unit_price": 10}]
    address = {"ship_name": "Lin", "ship_address1": "1 Road", "ship_city": "Taipei"}
    for user in (warehouse_user, service_user):
        with pytest.raises(PermissionDenied):
            services.order_create(number="P-1", customer=CustomerFactory(), lines=lines, actor=user, **address)
    assert not Order.objects.exists()
    services.order_create(number="P-1", customer=CustomerFactory(), lines=lines, actor=manager, **address)
    services.order_create(number="P-2", customer=CustomerFactory(), lines=lines, actor=None, **address)
    assert Order.objects.count() == 2


# --- the timeline -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_change_adds_an_event_with_its_actor(
    warehouse_user, service_user, manager, django_capture_on_commit_callbacks, mailoutbox
):
    order = OrderFactory(payment_status=PaymentStatus.PENDING, quantity=2)
    assert list(order.events.values_list("kind", "actor")) == [(E.CREATED, None)]

    def last():
        event = order.events.order_by("-id").first()
        return event.kind, event.actor

    services.order_mark_paid(order=order, actor=service_user)
    assert last() == (E.PAYMENT, service_user)
    step = order.checklist_items.get(state=S.NEW, predicate="")
    services.checklist_tick(item=step, actor=warehouse_user)
    assert last() == (E.TICK, warehouse_user)
    services.checklist_untick(item=step, actor=manager)
    assert last() == (E.UNTICK, manager)
    services.checklist_tick(item=step, actor=warehouse_user)
    services.order_add_note(order=order, actor=service_user, text="Call before delivery")
    assert last() == (E.NOTE, service_user)
    services.order_correct_address(order=order, actor=service_user, ship_address2="5F")
    assert last() == (E.ADDRESS, service_user)
    services.order_hold(order=order, actor=warehouse_user, reason="Wait")
    assert last() == (E.TRANSITION, warehouse_user)
    services.order_resume(order=order, actor=service_user)
    assert last() == (E.TRANSITION, service_user)

    count = order.events.count()
    order = services.order_advance(order=order, actor=warehouse_user)
    assert list(order.events.order_by("id").values_list("kind", "actor"))[count:] == [
        (E.STOCK, warehouse_user.pk),
        (E.TRANSITION, warehouse_user.pk),
    ]
    order = order_to(order, S.PACKED, actor=warehouse_user)
    shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=warehouse_user)
    assert last() == (E.SHIPMENT, warehouse_user)
    tick_manual_steps(order, actor=warehouse_user)

    count = order.events.count()
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_advance(order=order, actor=warehouse_user)
    assert list(order.events.order_by("id").values_list("kind", flat=True))[count:] == [
        E.STOCK,
        E.TRANSITION,
        E.NOTIFICATION,
    ]
    shipment_mark_delivered(shipment=order.shipments.get(), actor=warehouse_user)
    assert last() == (E.SHIPMENT, warehouse_user)
    order = services.order_advance(order=order, actor=warehouse_user)
    assert last() == (E.TRANSITION, warehouse_user)

    record = return_open(order=order, actor=service_user, reason="Broken", lines={order.lines.get().pk: 2})
    assert last() == (E.RETURN, service_user)
    count = order.events.count()
    return_receive(return_record=record, actor=warehouse_user, outcomes={record.lines.get().pk: "restocked"})
    assert list(order.events.order_by("id").values_list("kind", "actor"))[count:] == [
        (E.RETURN, warehouse_user.pk),
        (E.STOCK, warehouse_user.pk),
        (E.TRANSITION, warehouse_user.pk),
        (E.REFUND, warehouse_user.pk),
    ]
    # Every event describes itself on the timeline.
    assert all(event.describe() for event in order.events.all())


# --- the shipped e-mail ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_shipped_email_goes_after_commit_in_the_customers_language(
    language, warehouse_user, django_capture_on_commit_callbacks, mailoutbox, monkeypatch
):
    customer = CustomerFactory(language=language, email="Mei@Example.com")
    order = prepare_advance(OrderFactory(packed=True, customer=customer), actor=warehouse_user)
    rendered_in = []
    render = tasks.render_to_string

    def spy(*args, **kwargs):
        rendered_in.append(translation.get_language())
        return render(*args, **kwargs)

    monkeypatch.setattr(tasks, "render_to_string", spy)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.order_advance(order=order, actor=warehouse_user)
        assert mailoutbox == []  # nothing leaves before the transaction commits
    assert len(callbacks) == 1

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["mei@example.com"]
    assert order.number in mail.subject
    tracking = order.shipments.get().tracking_number
    assert tracking in mail.body and f"https://track.example.com/?no={tracking}" in mail.body
    assert rendered_in == [language, language]
    notification = order.events.get(kind=E.NOTIFICATION)
    assert notification.data == {"template": "order_shipped", "to": "mei@example.com"}


@pytest.mark.django_db
def test_no_email_when_the_shipping_transaction_rolls_back(warehouse_user, django_capture_on_commit_callbacks):
    order = prepare_advance(OrderFactory(packed=True), actor=warehouse_user)
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                services.order_advance(order=order, actor=warehouse_user)
                raise RuntimeError("the request failed after the service")
    assert callbacks == []
    assert fresh(order).status == S.PACKED


@pytest.mark.django_db
def test_no_email_for_a_customer_without_an_address(warehouse_user, django_capture_on_commit_callbacks, mailoutbox):
    order = prepare_advance(OrderFactory(packed=True, customer=CustomerFactory(email="")), actor=warehouse_user)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_advance(order=order, actor=warehouse_user)
    assert mailoutbox == []
    assert fresh(order).status == S.SHIPPED
    assert not order.events.filter(kind=E.NOTIFICATION).exists()


# --- corrections ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_mark_paid(service_user):
    order = OrderFactory(payment_status=PaymentStatus.PENDING)
    order = services.order_mark_paid(order=order, actor=service_user)
    assert fresh(order).payment_status == PaymentStatus.PAID
    event = order.events.get(kind=E.PAYMENT)
    assert (event.actor, event.data) == (service_user, {"payment_status": "paid", "method": "card", "reference": ""})


@pytest.mark.django_db
def test_mark_paid_twice_is_stale(service_user):
    order = OrderFactory(payment_status=PaymentStatus.PAID)
    before = snapshot(order)
    with pytest.raises(StaleAction, match="already paid"):
        services.order_mark_paid(order=order, actor=service_user)
    assert snapshot(order) == before


@pytest.mark.django_db
def test_mark_paid_refused_for_a_cancelled_order(service_user):
    order = services.order_cancel(
        order=OrderFactory(payment_status=PaymentStatus.PENDING), actor=service_user, reason="Duplicate"
    )
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="payment cannot change"):
        services.order_mark_paid(order=order, actor=service_user)
    assert snapshot(order) == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.NEW, S.PROCESSING, S.PACKED, S.ON_HOLD])
def test_correct_address_before_shipping(status, service_user):
    order = held(S.PACKED) if status == S.ON_HOLD else OrderFactory(status=status)
    old_city = order.ship_city
    order = services.order_correct_address(
        order=order, actor=service_user, ship_city="  Tainan ", ship_postcode="700", ship_country="jp"
    )
    stored = fresh(order)
    assert (stored.ship_city, stored.ship_postcode, stored.ship_country) == ("Tainan", "700", "JP")
    event = order.events.get(kind=E.ADDRESS)
    assert event.actor == service_user
    assert event.data["changed"] == {
        "ship_city": [old_city, "Tainan"],
        "ship_postcode": ["110", "700"],
        "ship_country": ["TW", "JP"],
    }


@pytest.mark.django_db
def test_correct_address_with_nothing_changed_adds_no_event(service_user):
    order = OrderFactory()
    services.order_correct_address(order=order, actor=service_user, ship_city=order.ship_city)
    assert not order.events.filter(kind=E.ADDRESS).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED, S.COMPLETED])
def test_correct_address_refused_after_shipping(status, service_user):
    order = OrderFactory(status=status)
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="can no longer be changed"):
        services.order_correct_address(order=order, actor=service_user, ship_city="Tainan")
    assert snapshot(order) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"ship_country": "Taiwan"},
        {"ship_country": "T1"},
        {"ship_country": "12"},
        {"ship_country": ""},
        {"ship_name": "  "},
        {"ship_address1": ""},
        {"ship_city": "x" * 101},
    ],
)
def test_correct_address_with_bad_values_changes_nothing(fields, service_user):
    order = OrderFactory()
    before = snapshot(order)
    with pytest.raises(ValidationError) as refused:
        services.order_correct_address(order=order, actor=service_user, ship_postcode="999", **fields)
    assert set(refused.value.message_dict) == set(fields)
    assert snapshot(order) == before


@pytest.mark.django_db
def test_correct_address_rejects_fields_that_are_not_the_address(service_user):
    order = OrderFactory()
    with pytest.raises(TypeError):
        services.order_correct_address(order=order, actor=service_user, status="completed")
    assert fresh(order).status == S.NEW


@pytest.mark.django_db
def test_add_note(service_user):
    order = OrderFactory(shipped=True)
    note = services.order_add_note(order=order, actor=service_user, text="  Customer called about delivery  ")
    assert (note.kind, note.actor, note.message) == (E.NOTE, service_user, "Customer called about delivery")
    assert note.describe() == "Customer called about delivery"


@pytest.mark.django_db
@pytest.mark.parametrize("text, message", [("", "cannot be empty"), ("   ", "cannot be empty"), ("x" * 2001, "2000")])
def test_add_note_refuses_empty_or_overlong_text(text, message, service_user):
    order = OrderFactory()
    before = snapshot(order)
    with pytest.raises(WorkflowError, match=message):
        services.order_add_note(order=order, actor=service_user, text=text)
    assert snapshot(order) == before


# --- creating orders ------------------------------------------------------------------------------------------


def _create(number="C-1", lines=None, **fields):
    if lines is None:
        lines = [{"product": ProductFactory(), "quantity": 2, "unit_price": "19.90"}]
    fields.setdefault("ship_name", "Chen Mei")
    fields.setdefault("ship_address1", "1 Road")
    fields.setdefault("ship_city", "Taipei")
    return services.order_create(number=number, customer=CustomerFactory(), lines=lines, **fields)


@pytest.mark.django_db
def test_create_an_order_in_new_with_its_lines_checklist_and_event():
    tea = ProductFactory(sku="TEA-9", name="Oolong")
    cup = ProductFactory()
    order = _create(
        number=" SO-777 ",
        lines=[
            {"product": tea, "quantity": 2, "unit_price": "19.90"},
            {"product": cup, "quantity": 1, "unit_price": Decimal("5")},
        ],
    )
    order = fresh(order)
    assert (order.number, order.status, order.total) == ("SO-777", S.NEW, Decimal("44.80"))
    first = order.lines.order_by("id").first()
    assert (first.sku, first.product_name, first.quantity, first.unit_price, first.quantity_scanned) == (
        "TEA-9",
        "Oolong",
        2,
        Decimal("19.90"),
        0,
    )
    assert order.checklist_items.filter(state=S.NEW).count() == 3
    event = order.events.get()
    assert (event.kind, event.data) == (E.CREATED, {"lines": 2})
    assert not StockMovement.objects.exists()  # nothing is reserved until processing


@pytest.mark.django_db
def test_create_refuses_a_duplicate_order_number():
    _create(number="SO-1")
    with pytest.raises(WorkflowError, match="SO-1 already exists"):
        _create(number=" SO-1")
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "lines, field",
    [
        ([], "lines"),
        ([{"quantity": 0}], "lines"),
        ([{"quantity": -1}], "lines"),
        ([{"quantity": 1.5}], "lines"),
        ([{"quantity": True}], "lines"),
        ([{"quantity": "2"}], "lines"),
        ([{"unit_price": "-0.01"}], "lines"),
        # Refused on the line, like every other fault of a line (issue #7 item 4).
        ([{"unit_price": "abc"}], "lines"),
        ([{"unit_price": "NaN"}], "lines"),
        ([{"unit_price": "1.005"}], "lines"),
        ([{}, {"quantity": 0}], "lines"),
    ],
)
def test_create_refuses_bad_lines_and_writes_nothing(lines, field):
    product = ProductFactory()
    lines = [{"product": product, "quantity": 1, "unit_price": "1", **line} for line in lines]
    with pytest.raises(ValidationError) as refused:
        _create(lines=lines)
    assert field in refused.value.message_dict
    assert not Order.objects.exists() and not OrderLine.objects.exists() and not OrderEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, field",
    [({"ship_name": ""}, "ship_name"), ({"ship_country": "TWN"}, "ship_country"), ({"currency": "TWDX"}, "currency")],
)
def test_create_refuses_a_bad_order_field(fields, field):
    with pytest.raises(ValidationError) as refused:
        _create(**fields)
    assert field in refused.value.message_dict
    assert not Order.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["", "   ", None])
def test_create_needs_a_number(number):
    with pytest.raises(ValidationError):
        _create(number=number)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_create_rejects_unknown_fields():
    with pytest.raises(TypeError, match="status"):
        _create(status=S.SHIPPED)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_refused_advance_leaves_no_partial_reservation(warehouse_user):
    """All or nothing: the first line fits, the second does not; nothing stays reserved."""
    warehouse = WarehouseFactory(code="ONLY", priority=1)
    tea, cup = ProductFactory(sku="AAA-TEA"), ProductFactory(sku="ZZZ-CUP")
    StockLevelFactory(product=tea, warehouse=warehouse, on_hand=5)
    StockLevelFactory(product=cup, warehouse=warehouse, on_hand=5)
    order = make_order([(tea, 1), (cup, 3)])
    count_stock(cup, warehouse, 2)
    order.checklist_items.filter(predicate="stock_available").update(done_at="2020-01-01T00:00Z")
    movements = list(StockMovement.objects.values_list("pk", flat=True))  # the receipts and the count

    with pytest.raises(InsufficientStock) as refused:
        services.order_advance(order=order, actor=warehouse_user)
    assert refused.value.skus == ["ZZZ-CUP"]
    assert level(tea).reserved == 0 and level(cup).reserved == 0
    assert list(StockMovement.objects.values_list("pk", flat=True)) == movements


@pytest.mark.django_db
def test_advance_refused_for_missing_steps_changes_nothing(warehouse_user):
    order = OrderFactory(processing=True)
    before = snapshot(order)
    with pytest.raises(ChecklistIncomplete):
        services.order_advance(order=order, actor=warehouse_user)
    assert snapshot(order) == before


@pytest.mark.parametrize("country", ["T1", "TWN", "12", "台灣"])
def test_order_create_refuses_a_country_that_is_not_a_two_letter_code(db, country):
    product = ProductFactory()
    with pytest.raises(ValidationError) as refused:
        services.order_create(
            number="SO-COUNTRY",
            customer=CustomerFactory(),
            lines=[{"product": product, "quantity": 1, "unit_price": "10"}],
            ship_name="Lin",
            ship_address1="1 Road",
            ship_city="Taipei",
            ship_country=country,
        )
    assert "ship_country" in refused.value.message_dict
    assert not Order.objects.filter(number="SO-COUNTRY").exists()


def test_order_create_accepts_a_lower_case_country_code(db):
    order = services.order_create(
        number="SO-JP",
        customer=CustomerFactory(),
        lines=[{"product": ProductFactory(), "quantity": 1, "unit_price": "10"}],
        ship_name="Sato",
        ship_address1="1-1 Chiyoda",
        ship_city="Tokyo",
        ship_country="jp",
    )
    assert order.ship_country == "JP"


# --- order_returned (called by shipping.returns.return_receive) ---------------------------------


@pytest.mark.django_db
def test_order_returned_marks_a_partial_return_without_a_transition():
    order = OrderFactory(delivered=True)
    events = order.events.count()
    order = services.order_returned(order=order, actor=None, fully=False, message="Part came back")
    order = fresh(order)
    assert (order.status, order.return_state) == (S.DELIVERED, "partly")
    assert order.events.count() == events


@pytest.mark.django_db
def test_order_returned_fully_moves_the_order_to_returned(warehouse_user):
    order = OrderFactory(status=S.COMPLETED)
    order = services.order_returned(order=order, actor=warehouse_user, fully=True, message="All back")
    order = fresh(order)
    assert (order.status, order.return_state) == (S.RETURNED, "fully")
    transition = order.events.filter(kind=E.TRANSITION).latest("id")
    assert transition.data == {"from": S.COMPLETED, "to": S.RETURNED}
    assert (transition.actor, transition.message) == (warehouse_user, "All back")


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.NEW, S.PACKED, S.CANCELLED])
def test_order_returned_fully_is_refused_where_nothing_shipped(status):
    order = services.order_cancel(order=OrderFactory(), actor=None, reason="x") if status == S.CANCELLED else OrderFactory(status=status)
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="cannot be returned while it is"):
        services.order_returned(order=order, actor=None, fully=True)
    assert snapshot(order) == before


def test_only_those_who_receive_returns_mark_an_order_returned(service_user):
    """order_returned checks its permission itself, as every service does: customer
    service open returns but do not receive them."""
    order = OrderFactory(shipped=True)
    with pytest.raises(PermissionDenied):
        services.order_returned(order=order, actor=service_user, fully=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.return_state == ""

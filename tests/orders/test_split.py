"""Splitting an order into a backorder (orders.services.order_split): every rule and
refusal, the reservation and the ledger, totals, both timelines and the numbering."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone, translation

from inventory.models import StockLevel, StockMovement
from orders import services
from orders.exceptions import WorkflowError
from orders.models import (
    DeliveryMethod,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    StoreChain,
)
from shipping.models import Shipment, ShipmentLine
from shipping.services import shipment_create, shipment_void
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
    WarehouseFactory,
    order_to,
    receive_stock,
    tick_manual_steps,
)
from tests.orders.test_services import snapshot

pytestmark = pytest.mark.django_db

S = OrderStatus
E = OrderEvent.Kind


def lines_of(order):
    return [(line.sku, line.quantity) for line in Order.objects.get(pk=order.pk).lines.order_by("pk")]


def split_events(order):
    return list(Order.objects.get(pk=order.pk).events.filter(kind=E.SPLIT))


def level(product):
    row = StockLevel.objects.get(product=product)
    return row.on_hand, row.reserved


def two_line_order(status=S.NEW, *, first=3, second=2, **fields):
    """Order SO-1001 of TEA × first (NT$120) and CUP × second (NT$80), driven to
    `status`, its stock (10 of each) in MAIN."""
    return _mixed(ProductFactory(sku="TEA"), ProductFactory(sku="CUP"), first, second, status, **fields)


def _mixed(tea, cup, first, second, status, **fields):
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    for product in (tea, cup):
        receive_stock(product, warehouse, 10)
    customer = CustomerFactory()
    order = services.order_create(
        number=fields.pop("number", "SO-1001"),
        customer=customer,
        lines=[
            {"product": tea, "quantity": first, "unit_price": Decimal("120.00")},
            {"product": cup, "quantity": second, "unit_price": Decimal("80.00")},
        ],
        payment_status=fields.pop("payment_status", PaymentStatus.PAID),
        ship_name=customer.name,
        ship_phone="0912-345-678",
        ship_address1="No. 7, Section 5, Xinyi Road",
        ship_city="Taipei",
        ship_postcode="110",
        **fields,
    )
    return order_to(order, status)


def line(order, sku):
    return OrderLine.objects.get(order=order, sku=sku)


# --- the backorder ---------------------------------------------------------------------


def test_a_part_of_a_line_moves_into_a_new_linked_order_in_new(warehouse_user):
    order = two_line_order()
    backorder = services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 2}, reason="Short")

    assert backorder.number == "SO-1001-B1"
    backorder = Order.objects.get(pk=backorder.pk)
    assert backorder.status == S.NEW and backorder.split_from_id == order.pk
    assert list(order.split_orders.all()) == [backorder]
    assert lines_of(backorder) == [("TEA", 2)]
    assert lines_of(order) == [("TEA", 1), ("CUP", 2)]
    # Both totals from their lines: 3 × 120 + 2 × 80 = 520 becomes 1 × 120 + 2 × 80 and 2 × 120.
    assert Order.objects.get(pk=order.pk).total == Decimal("280.00")
    assert backorder.total == Decimal("240.00")
    # Created like any order: its checklist of New and its "created" event, by the one who split.
    assert backorder.checklist_items.filter(state=S.NEW).count() == order.checklist_items.filter(state=S.NEW).count()
    created = backorder.events.get(kind=E.CREATED)
    assert created.actor == warehouse_user


def test_a_line_moved_whole_leaves_the_original(warehouse_user):
    order = two_line_order()
    cup = line(order, "CUP")
    backorder = services.order_split(order=order, actor=warehouse_user, lines={cup.pk: 2})

    assert lines_of(order) == [("TEA", 3)]
    assert not OrderLine.objects.filter(pk=cup.pk).exists()
    assert lines_of(backorder) == [("CUP", 2)]
    assert Order.objects.get(pk=order.pk).total == Decimal("360.00")
    assert backorder.total == Decimal("160.00")


def test_the_backorder_copies_customer_ship_to_pickup_store_delivery_payment_currency_and_warehouse(service_user):
    warehouse = WarehouseFactory(code="TPE", priority=1)
    order = two_line_order(
        warehouse=warehouse,
        payment_status=PaymentStatus.PAID,
        currency="USD",
        delivery_method=DeliveryMethod.STORE_PICKUP,
        pickup_chain=StoreChain.SEVEN_ELEVEN,
        pickup_store_code="131386",
        pickup_store_name="府城門市",
    )
    paid_at = timezone.now()
    Order.objects.filter(pk=order.pk).update(
        payment_method=PaymentMethod.ATM,
        payment_reference="12345",
        paid_at=paid_at,
        pickup_chain=StoreChain.SEVEN_ELEVEN,
        pickup_store_code="131386",
        pickup_store_name="府城門市",
        ship_address2="2F",
        ship_country="TW",
    )
    order = Order.objects.get(pk=order.pk)
    backorder = services.order_split(order=order, actor=service_user, lines={line(order, "TEA").pk: 1})

    backorder = Order.objects.get(pk=backorder.pk)
    for name in services.SPLIT_COPIED_FIELDS:
        assert getattr(backorder, name) == getattr(order, name), name
    assert backorder.customer_id == order.customer_id
    assert backorder.payment_status == PaymentStatus.PAID  # it was paid for as part of the original
    assert backorder.pickup_store_code == "131386" and backorder.warehouse == warehouse
    # The automatic "payment confirmed" step passes for the paid backorder.
    from orders.checklist import payment_confirmed

    assert payment_confirmed(backorder)[0]


def test_a_pending_order_has_a_pending_backorder(service_user):
    order = two_line_order(payment_status=PaymentStatus.PENDING)
    backorder = services.order_split(order=order, actor=service_user, lines={line(order, "TEA").pk: 1})
    assert Order.objects.get(pk=backorder.pk).payment_status == PaymentStatus.PENDING


def test_the_backorder_keeps_the_lines_sku_and_name_as_ordered(warehouse_user):
    order = two_line_order()
    tea = line(order, "TEA")
    tea.product.name = "Renamed since"
    tea.product.save()
    backorder = services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 1})
    moved = backorder.lines.get()
    assert (moved.sku, moved.product_name, moved.unit_price) == (tea.sku, tea.product_name, tea.unit_price)


def test_a_second_split_is_numbered_b2_and_a_taken_number_is_skipped(warehouse_user, manager):
    order = two_line_order(first=5)
    tea = line(order, "TEA")
    first = services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 1})
    second = services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 1})
    assert (first.number, second.number) == ("SO-1001-B1", "SO-1001-B2")
    # A number taken some other way (an import) is passed over.
    services.order_create(
        number="SO-1001-B3",
        customer=CustomerFactory(),
        lines=[{"product": tea.product, "quantity": 1, "unit_price": 1}],
        ship_name="Lin",
        ship_address1="1 Road",
        ship_city="Taipei",
    )
    third = services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 1})
    assert third.number == "SO-1001-B4"
    cup_of_first = services.order_split(order=order, actor=warehouse_user, lines={line(order, "CUP").pk: 1})
    assert cup_of_first.number == "SO-1001-B5"
    assert lines_of(order) == [("TEA", 2), ("CUP", 1)]
    assert [o.number for o in Order.objects.get(pk=order.pk).split_orders.order_by("pk")] == [
        "SO-1001-B1",
        "SO-1001-B2",
        "SO-1001-B4",
        "SO-1001-B5",
    ]


def test_a_backorder_can_be_split_again(warehouse_user):
    order = two_line_order(first=4)
    backorder = services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 3})
    again = services.order_split(order=backorder, actor=warehouse_user, lines={backorder.lines.get().pk: 1})
    assert again.number == "SO-1001-B1-B1"
    assert again.split_from_id == backorder.pk
    assert lines_of(backorder) == [("TEA", 2)] and lines_of(again) == [("TEA", 1)]


def test_a_number_too_long_for_a_backorder_is_refused(warehouse_user):
    order = two_line_order(number="X" * 30)
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="too long to number a backorder"):
        services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 1})
    assert snapshot(order) == before


# --- both timelines ------------------------------------------------------------------------


def test_both_timelines_name_the_other_order_the_moved_lines_and_the_reason(warehouse_user):
    order = two_line_order()
    tea, cup = line(order, "TEA"), line(order, "CUP")
    backorder = services.order_split(
        order=order, actor=warehouse_user, lines={tea.pk: 2, cup.pk: 1}, reason="Supplier late"
    )

    [into] = split_events(order)
    [came_from] = split_events(backorder)
    assert into.actor == came_from.actor == warehouse_user
    assert into.describe() == "Split into SO-1001-B1: 2 × TEA, 1 × CUP — Supplier late"
    assert came_from.describe() == "Split from SO-1001: 2 × TEA, 1 × CUP — Supplier late"
    assert into.data["order_id"] == backorder.pk and came_from.data["order_id"] == order.pk
    # The backorder's timeline: created, then where it came from.
    assert [event.kind for event in backorder.events.order_by("created_at", "id")] == [E.CREATED, E.SPLIT]
    with translation.override("zh-hant"):
        assert "SO-1001-B1" in into.describe() and "2 × TEA" in into.describe()


def test_without_a_reason_the_event_has_none(warehouse_user):
    order = two_line_order()
    services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 1}, reason="  ")
    assert split_events(order)[0].describe() == "Split into SO-1001-B1: 1 × TEA"


# --- stock ------------------------------------------------------------------------------------


def test_a_new_order_releases_nothing(warehouse_user):
    order = two_line_order()
    movements = StockMovement.objects.count()
    backorder = services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 2})
    assert StockMovement.objects.count() == movements
    assert not order.events.filter(kind=E.STOCK).exists() and not backorder.events.filter(kind=E.STOCK).exists()


def test_a_processing_order_releases_the_moved_units_and_the_rest_ships(warehouse_user):
    order = two_line_order(S.PROCESSING)
    tea, cup = line(order, "TEA"), line(order, "CUP")
    assert level(tea.product) == (10, 3) and level(cup.product) == (10, 2)

    backorder = services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 2, cup.pk: 2})

    # Reserved falls by the moved units; nothing leaves on hand; the backorder reserves nothing.
    assert level(tea.product) == (10, 1) and level(cup.product) == (10, 0)
    released = StockMovement.objects.filter(order=order, kind=StockMovement.Kind.RELEASE)
    assert sorted((m.product.sku, m.reserved_delta, m.on_hand_delta) for m in released) == [
        ("CUP", -2, 0),
        ("TEA", -2, 0),
    ]
    assert not StockMovement.objects.filter(order=backorder).exists()
    stock_event = order.events.filter(kind=E.STOCK, data__action="release").get()
    assert stock_event.describe() == "Released in MAIN: 2 × TEA, 2 × CUP"

    # The rest ships: exactly the units left leave on hand.
    order = order_to(Order.objects.get(pk=order.pk), S.SHIPPED)
    assert order.status == S.SHIPPED
    assert level(tea.product) == (9, 0) and level(cup.product) == (10, 0)
    # The backorder starts processing later and reserves its own units.
    tick_manual_steps(backorder)
    backorder = services.order_advance(order=backorder, actor=warehouse_user)
    assert backorder.status == S.PROCESSING
    assert level(tea.product) == (9, 2) and level(cup.product) == (10, 2)


def test_an_order_on_hold_from_processing_releases_the_moved_units(warehouse_user, service_user):
    order = two_line_order(S.PROCESSING)
    order = services.order_hold(order=order, actor=service_user, reason="Customer called")
    tea = line(order, "TEA")
    services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 1})
    assert level(tea.product) == (10, 2)
    # Resumed, it is processing again with what it holds reserved, and cancelling it
    # releases exactly that.
    order = services.order_resume(order=order, actor=service_user)
    services.order_cancel(order=order, actor=service_user, reason="Changed their mind")
    assert level(tea.product) == (10, 0)


def test_an_order_on_hold_from_new_releases_nothing(warehouse_user, service_user):
    order = services.order_hold(order=two_line_order(), actor=service_user, reason="Wait")
    movements = StockMovement.objects.count()
    services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 1})
    assert StockMovement.objects.count() == movements


def test_two_lines_of_one_product_release_only_the_moved_units(warehouse_user):
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    tea = ProductFactory(sku="TEA")
    receive_stock(tea, warehouse, 10)
    customer = CustomerFactory()
    order = services.order_create(
        number="SO-2",
        customer=customer,
        lines=[
            {"product": tea, "quantity": 2, "unit_price": 100},
            {"product": tea, "quantity": 3, "unit_price": 90},
        ],
        payment_status=PaymentStatus.PAID,
        ship_name="Lin",
        ship_phone="0912",
        ship_address1="1 Road",
        ship_city="Taipei",
    )
    order = order_to(order, S.PROCESSING)
    first = order.lines.order_by("pk").first()
    services.order_split(order=order, actor=warehouse_user, lines={first.pk: 2})
    assert level(tea) == (10, 3)


# --- scanned units --------------------------------------------------------------------------------


def test_processing_moves_only_unscanned_units(warehouse_user):
    order = two_line_order(S.PROCESSING, first=5)
    tea = line(order, "TEA")
    OrderLine.objects.filter(pk=tea.pk).update(quantity_scanned=3)
    before = snapshot(order)
    with pytest.raises(WorkflowError) as refusal:
        services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 3})
    assert str(refusal.value) == (
        "3 of the 5 × TEA are scanned already, so at most 2 can move; "
        "undo their scans at the packing station first to move more."
    )
    assert snapshot(order) == before

    services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 2})
    tea.refresh_from_db()
    assert (tea.quantity, tea.quantity_scanned) == (3, 3)


def test_a_packed_order_takes_moved_units_out_of_the_scanned_count(warehouse_user):
    order = two_line_order(S.PACKED)
    tea = line(order, "TEA")
    assert tea.quantity_scanned == 3  # every unit is scanned before an order is packed
    services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 2})
    tea.refresh_from_db()
    assert (tea.quantity, tea.quantity_scanned) == (1, 1)
    [event] = split_events(order)
    assert event.data["unscanned"] == [["TEA", 2]]
    assert event.describe() == "Split into SO-1001-B1: 2 × TEA — taken out of the scanned count: 2 × TEA"
    assert level(tea.product) == (10, 1)


# --- parcels ---------------------------------------------------------------------------------------


def test_units_in_a_live_parcel_stay(warehouse_user):
    order = two_line_order(S.PACKED)
    shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=warehouse_user)
    tea = line(order, "TEA")
    before = snapshot(order)
    with pytest.raises(WorkflowError) as refusal:
        services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 1})
    assert str(refusal.value) == (
        "3 of the 3 × TEA are in a parcel already, so at most 0 can move; void the parcel first to move more."
    )
    assert snapshot(order) == before


def test_only_units_outside_live_parcels_move(warehouse_user):
    order = two_line_order(S.PACKED, first=5)
    shipment = shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=None)
    tea = line(order, "TEA")
    # Two of the five in the parcel (as the parcels part writes a partial parcel).
    ShipmentLine.objects.filter(shipment=shipment, order_line=tea).update(quantity=2)
    with pytest.raises(WorkflowError, match="2 of the 5 × TEA are in a parcel already, so at most 3 can move"):
        services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 4})
    services.order_split(order=order, actor=warehouse_user, lines={tea.pk: 3})
    assert lines_of(order) == [("TEA", 2), ("CUP", 2)]


def test_a_voided_parcel_does_not_keep_a_line_from_moving_whole(warehouse_user):
    order = two_line_order(S.PACKED)
    shipment = shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=None)
    shipment_void(shipment=shipment, actor=None, reason="Mistyped")
    cup = line(order, "CUP")
    backorder = services.order_split(order=order, actor=warehouse_user, lines={cup.pk: 2})
    assert lines_of(order) == [("TEA", 3)] and lines_of(backorder) == [("CUP", 2)]
    # The voided parcel stays, with what it held of the lines still on the order.
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED and shipment.void_reason == "Mistyped"
    assert list(shipment.lines.values_list("order_line__sku", flat=True)) == ["TEA"]


# --- refusals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED, S.COMPLETED])
def test_splitting_a_shipped_order_is_refused(status, manager):
    order = two_line_order(status)
    before = snapshot(order)
    with pytest.raises(WorkflowError) as refusal:
        services.order_split(order=order, actor=manager, lines={line(order, "TEA").pk: 1})
    assert str(refusal.value) == (
        f"Order SO-1001 is {S(status).label} and cannot be split: only an order that has not shipped "
        "(new, processing, packed or on hold) can be."
    )
    assert snapshot(order) == before


def test_splitting_a_cancelled_order_is_refused(manager):
    order = two_line_order()
    order = services.order_cancel(order=order, actor=manager, reason="Duplicate")
    with pytest.raises(WorkflowError, match="is Cancelled and cannot be split"):
        services.order_split(order=order, actor=manager, lines={line(order, "TEA").pk: 1})


@pytest.mark.parametrize("quantity", [0, -1, 4, 2.5, "1", True, None])
def test_a_quantity_outside_1_to_the_lines_quantity_is_refused(quantity, warehouse_user):
    order = two_line_order()
    before = snapshot(order)
    with pytest.raises(WorkflowError) as refusal:
        services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: quantity})
    assert str(refusal.value) == "Move a whole number between 1 and 3 of TEA."
    assert snapshot(order) == before


def test_a_line_of_another_order_is_refused(warehouse_user):
    order, other = two_line_order(), OrderFactory()
    before = snapshot(order)
    for key in (other.lines.get().pk, "²", "x", 0):
        with pytest.raises(WorkflowError) as refusal:
            services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 1, key: 1})
        assert str(refusal.value) == "A line to move does not belong to order SO-1001."
    assert snapshot(order) == before


def test_a_line_id_as_text_is_read(warehouse_user):
    order = two_line_order()
    backorder = services.order_split(order=order, actor=warehouse_user, lines={str(line(order, "TEA").pk): 1})
    assert lines_of(backorder) == [("TEA", 1)]


def test_nothing_to_move_is_refused(warehouse_user):
    order = two_line_order()
    before = snapshot(order)
    with pytest.raises(WorkflowError) as refusal:
        services.order_split(order=order, actor=warehouse_user, lines={})
    assert str(refusal.value) == "Choose the lines to move to the new order and how many of each."
    assert snapshot(order) == before


def test_splitting_every_line_away_is_refused(warehouse_user):
    order = two_line_order(S.PROCESSING)
    before = snapshot(order)
    with pytest.raises(WorkflowError) as refusal:
        services.order_split(
            order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 3, line(order, "CUP").pk: 2}
        )
    assert str(refusal.value) == (
        "Splitting every line away would leave order SO-1001 empty: at least one unit must stay. "
        "Cancel the order instead if none of it ships now."
    )
    assert snapshot(order) == before
    # One unit staying is enough.
    services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 2, line(order, "CUP").pk: 2})
    assert lines_of(order) == [("TEA", 1)]


def test_a_reason_longer_than_a_note_is_refused(warehouse_user):
    order = two_line_order()
    before = snapshot(order)
    with pytest.raises(WorkflowError, match="A reason can be at most 2000 characters; this one has 2001."):
        services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 1}, reason="x" * 2001)
    assert snapshot(order) == before


def test_splitting_needs_the_permission(warehouse_user):
    order = two_line_order()
    before = snapshot(order)
    for user in (UserFactory(), warehouse_user.__class__.objects.get(pk=warehouse_user.pk)):
        if user.pk == warehouse_user.pk:
            user.is_active = False
            user.save()
        with pytest.raises(PermissionDenied, match="You do not have permission to split orders."):
            services.order_split(order=order, actor=user, lines={line(order, "TEA").pk: 1})
    assert snapshot(order) == before


def test_the_system_may_split(db):
    order = two_line_order()
    backorder = services.order_split(order=order, actor=None, lines={line(order, "TEA").pk: 1})
    assert split_events(order)[0].actor is None and backorder.events.get(kind=E.CREATED).actor is None


def test_the_roles_that_split_are_warehouse_service_and_managers(warehouse_user, service_user, manager):
    assert all(user.has_perm("orders.split_order") for user in (warehouse_user, service_user, manager))
    assert not UserFactory().has_perm("orders.split_order")


# --- the demo data ----------------------------------------------------------------------


def test_the_demo_data_splits_one_processing_order_into_a_backorder_once():
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", "--orders", "20", stdout=StringIO())
    [backorder] = Order.objects.filter(split_from__isnull=False)
    original = backorder.split_from
    assert original.status == S.PROCESSING and backorder.status == S.NEW
    assert backorder.number == f"{original.number}-B1"
    [event] = split_events(original)
    assert event.actor.username == "warehouse" and "Supplier is late" in event.describe()
    # The original holds reserved exactly what it still has.
    from inventory.services import reserved_for_order

    held = {}
    for order_line in original.lines.all():
        held[order_line.product_id] = held.get(order_line.product_id, 0) + order_line.quantity
    assert {product: units for (product, _warehouse), units in reserved_for_order(original).items()} == held
    assert not reserved_for_order(backorder)
    # A second run splits nothing more (smaller seeds keep exactly --orders orders: tests/test_seed_demo.py).
    call_command("seed_demo", "--orders", "20", stdout=StringIO())
    assert Order.objects.filter(split_from__isnull=False).count() == 1

"""Races between staff, with real threads and real transactions (issue 2, "Bad input
and races"). Each thread has its own database connection and closes it at the end."""

from decimal import Decimal

import pytest
from django.db import OperationalError

from inventory import services as stock
from inventory.exceptions import InsufficientStock
from inventory.models import StockLevel
from orders import services
from orders.exceptions import StaleAction, WorkflowError
from orders.models import Order, OrderEvent, OrderStatus, PaymentStatus
from shipping.exceptions import ShippingError
from shipping.models import Shipment, ShipmentLine
from shipping.services import shipment_create, shipment_mark_delivered, shipment_void
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    WarehouseFactory,
    manager_user,
    tick_manual_steps,
    warehouse_user,
)
from tests.utils import ledger_mismatches, race, requires_postgresql

# serialized_rollback: the roles and default checklist come from data migrations,
# which a transactional test's flush would otherwise leave empty.
pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

S = OrderStatus


def new_order(lines, *, number):
    """An order in `new` whose checklist allows it to start processing."""
    customer = CustomerFactory()
    order = services.order_create(
        number=number,
        customer=customer,
        lines=[{"product": product, "quantity": quantity, "unit_price": Decimal("50")} for product, quantity in lines],
        payment_status=PaymentStatus.PAID,
        ship_name=customer.name,
        ship_address1="1 Road",
        ship_city="Taipei",
    )
    tick_manual_steps(order)
    return order


def stocked(product, warehouse, quantity):
    stock.stock_receive(product=product, warehouse=warehouse, quantity=quantity, actor=None)
    return product


def test_two_staff_advancing_the_same_order_make_one_transition():
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    first_user, second_user = warehouse_user(), warehouse_user()
    for attempt in range(5):
        order = new_order([(stocked(ProductFactory(), warehouse, 5), 1)], number=f"RACE-{attempt}")
        # Each person's page loaded the order while it was new.
        seen_by_first, seen_by_second = Order.objects.get(pk=order.pk), Order.objects.get(pk=order.pk)

        outcomes = race(
            lambda: services.order_advance(order=seen_by_first, actor=first_user),
            lambda: services.order_advance(order=seen_by_second, actor=second_user),
        )

        kinds = sorted(kind for kind, _value in outcomes)
        assert kinds == ["error", "ok"], outcomes
        error = next(value for kind, value in outcomes if kind == "error")
        assert isinstance(error, StaleAction)
        assert "already" in str(error) and "Processing" in str(error)
        order.refresh_from_db()
        assert order.status == S.PROCESSING
        assert order.events.filter(kind=OrderEvent.Kind.TRANSITION).count() == 1
        assert StockLevel.objects.get(product=order.lines.get().product).reserved == 1
    assert ledger_mismatches() == {}


def test_twenty_reservations_race_for_the_last_unit():
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    product = stocked(ProductFactory(sku="LAST-1"), warehouse, 1)
    orders = [new_order([(product, 1)], number=f"LAST-{n:02d}") for n in range(20)]

    outcomes = race(
        *[
            (
                lambda order=order: stock.stock_reserve(
                    order=order, warehouse=warehouse, lines=[(product, 1)], actor=None
                )
            )
            for order in orders
        ]
    )

    assert [kind for kind, _value in outcomes].count("ok") == 1, outcomes
    for kind, value in outcomes:
        if kind == "error":
            assert isinstance(value, InsufficientStock), value
            assert value.skus == ["LAST-1"] and "LAST-1" in str(value)
    level = StockLevel.objects.get(product=product)
    assert (level.on_hand, level.reserved) == (1, 1)
    assert ledger_mismatches() == {}


def test_twenty_orders_starting_processing_race_for_the_last_unit():
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    product = stocked(ProductFactory(sku="LAST-2"), warehouse, 1)
    orders = [new_order([(product, 1)], number=f"ADV-{n:02d}") for n in range(20)]
    users = [warehouse_user() for _ in orders]

    outcomes = race(
        *[
            (lambda order=order, user=user: services.order_advance(order=order, actor=user))
            for order, user in zip(orders, users)
        ]
    )

    assert [kind for kind, _value in outcomes].count("ok") == 1, outcomes
    for kind, value in outcomes:
        if kind == "error":
            # Refused by the reservation under lock (InsufficientStock) or, for an order
            # that looked after the winner committed, by its "Stock available" step.
            assert isinstance(value, (InsufficientStock, WorkflowError)), value
            assert "LAST-2" in str(value)
    level = StockLevel.objects.get(product=product)
    assert (level.on_hand, level.reserved) == (1, 1)
    assert Order.objects.filter(status=S.PROCESSING).count() == 1
    assert Order.objects.filter(status=S.NEW).count() == 19
    assert ledger_mismatches() == {}


def test_multi_line_orders_locking_products_in_opposite_orders_never_deadlock():
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    tea = stocked(ProductFactory(sku="TEA"), warehouse, 1000)
    cup = stocked(ProductFactory(sku="CUP"), warehouse, 1000)
    user = manager_user()
    for round_ in range(8):
        orders = []
        for n in range(3):
            orders.append(new_order([(tea, 1), (cup, 2)], number=f"DL-{round_}-{n}A"))
            orders.append(new_order([(cup, 1), (tea, 2)], number=f"DL-{round_}-{n}B"))

        started = race(*[(lambda order=order: services.order_advance(order=order, actor=user)) for order in orders])
        assert all(kind == "ok" for kind, _value in started), started

        # And back again: the releases lock the same rows, again from both sides.
        cancelled = race(
            *[(lambda order=order: services.order_cancel(order=order, actor=user, reason="Race")) for order in orders]
        )
        assert all(kind == "ok" for kind, _value in cancelled), cancelled
        assert ledger_mismatches() == {}

    for product in (tea, cup):
        level = StockLevel.objects.get(product=product)
        assert (level.on_hand, level.reserved) == (1000, 0)


def test_opposite_multi_line_orders_racing_for_scarce_stock_succeed_or_refuse_cleanly():
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    tea = stocked(ProductFactory(sku="TEA"), warehouse, 5)
    cup = stocked(ProductFactory(sku="CUP"), warehouse, 5)
    for round_ in range(6):
        orders = [
            new_order([(tea, 1), (cup, 1)] if n % 2 else [(cup, 1), (tea, 1)], number=f"SC-{round_}-{n}")
            for n in range(8)
        ]
        outcomes = race(
            *[
                (
                    lambda order=order: stock.stock_reserve(
                        order=order,
                        warehouse=warehouse,
                        lines=[(line.product, line.quantity) for line in order.lines.all()],
                        actor=None,
                    )
                )
                for order in orders
            ]
        )
        assert [kind for kind, _value in outcomes].count("ok") == 5, outcomes
        for kind, value in outcomes:
            if kind == "error":
                assert isinstance(value, InsufficientStock), value
                assert value.skus and set(value.skus) <= {"TEA", "CUP"}
        levels = {
            level.product.sku: (level.on_hand, level.reserved) for level in StockLevel.objects.select_related("product")
        }
        assert levels == {"TEA": (5, 5), "CUP": (5, 5)}
        assert ledger_mismatches() == {}
        for order in orders:
            stock.stock_release(order=order, actor=None)


# --- the lock order: the order row first, then its shipments (issue #7, item 6) ---------------


def tick_delivery_confirmed(order, actor):
    """The customer confirmed delivery by phone: the step is ticked by hand, so advancing
    to delivered does not wait for the carrier's report."""
    item = order.checklist_items.get(state=S.SHIPPED, predicate="shipment_delivered")
    services.checklist_tick(item=item, actor=actor)


def test_advancing_to_delivered_and_marking_the_shipment_delivered_at_once_never_deadlock():
    # Before the fix shipment_mark_delivered locked the shipment, then the order (its
    # event's foreign key), while order_advance locks the order, then the shipments
    # (shipping/receivers.py): PostgreSQL broke the deadlock by failing one of them.
    staff, carrier_report = warehouse_user(), warehouse_user()
    for attempt in range(40):
        order = OrderFactory(shipped=True, number=f"LOCK-{attempt:02d}")
        shipment = order.shipments.get()
        tick_delivery_confirmed(order, staff)

        outcomes = race(
            lambda: services.order_advance(order=order, actor=staff, expected_status=S.SHIPPED),
            lambda: shipment_mark_delivered(shipment=shipment, actor=carrier_report),
        )

        errors = [value for kind, value in outcomes if kind == "error"]
        assert not [error for error in errors if isinstance(error, OperationalError)], outcomes  # deadlock detected
        (advanced, advance_result), (marked, mark_result) = outcomes
        assert advanced == "ok", outcomes  # the order moves on whoever goes first
        if marked == "error":
            # The advance went first and delivered the shipment with the order.
            assert isinstance(mark_result, ShippingError), outcomes
            assert str(mark_result) == f"Shipment {shipment.tracking_number} is Delivered, not shipped."
        order.refresh_from_db()
        shipment.refresh_from_db()
        assert order.status == S.DELIVERED
        assert shipment.status == Shipment.Status.DELIVERED and shipment.delivered_at is not None
        assert order.events.filter(kind=OrderEvent.Kind.TRANSITION, data__to=S.DELIVERED).count() == 1
        delivered_events = order.events.filter(kind=OrderEvent.Kind.SHIPMENT, data__action="delivered").count()
        assert delivered_events == (1 if marked == "ok" else 0)


def test_two_staff_creating_a_shipment_of_everything_for_the_same_order_make_one():
    carrier = CarrierFactory()
    first_user, second_user = warehouse_user(), warehouse_user()
    for attempt in range(10):
        order = OrderFactory(packed=True, number=f"TWO-{attempt:02d}")
        outcomes = race(
            lambda: shipment_create(order=order, carrier=carrier, tracking_number=f"1{attempt:011d}", actor=first_user),
            lambda: shipment_create(order=order, carrier=carrier, tracking_number=f"2{attempt:011d}", actor=second_user),
        )
        assert sorted(kind for kind, _value in outcomes) == ["error", "ok"], outcomes
        created = next(value for kind, value in outcomes if kind == "ok")
        refusal = next(value for kind, value in outcomes if kind == "error")
        assert isinstance(refusal, ShippingError), outcomes
        assert str(refusal) == (
            f"Every item of order {order.number} is already in a parcel; void a parcel waiting for pickup to change one."
        )
        assert list(order.shipments.exclude(status=Shipment.Status.CANCELLED)) == [created]
        assert order.events.filter(kind=OrderEvent.Kind.SHIPMENT, data__action="created").count() == 1


def test_two_staff_putting_most_of_the_same_line_in_parcels_at_once_never_exceed_the_ordered_quantity():
    """Each takes 2 of the line's 3 units, in a parcel with another carrier: one parcel
    is booked, the other refused with what is left; the line is never in parcels more
    than it was ordered."""
    tcat = CarrierFactory()
    post = CarrierFactory(code="POST", name="Chunghwa Post", tracking_number_pattern=r"[A-Z]{2}\d{9}TW")
    first_user, second_user = warehouse_user(), warehouse_user()
    for attempt in range(10):
        order = OrderFactory(packed=True, lines=2, quantity=3, number=f"HALF-{attempt:02d}")
        line, other = order.lines.order_by("pk")
        outcomes = race(
            lambda: shipment_create(
                order=order, carrier=tcat, tracking_number=f"5{attempt:011d}", actor=first_user, lines={line.pk: 2}
            ),
            lambda: shipment_create(
                order=order,
                carrier=post,
                tracking_number=f"RR{attempt:09d}TW",
                actor=second_user,
                lines={line.pk: 2, other.pk: 1},
            ),
        )
        assert sorted(kind for kind, _value in outcomes) == ["error", "ok"], outcomes
        refusal = next(value for kind, value in outcomes if kind == "error")
        assert isinstance(refusal, ShippingError), outcomes
        assert str(refusal) == f"{line.sku}: 1 of 3 left to put in a parcel; 2 is more than that."
        assert not [value for _kind, value in outcomes if isinstance(value, OperationalError)], outcomes
        in_parcels = sum(
            ShipmentLine.objects.filter(order_line=line).exclude(shipment__status="cancelled").values_list(
                "quantity", flat=True
            )
        )
        assert in_parcels == 2 <= line.quantity
        assert order.shipments.count() == 1
        assert order.events.filter(kind=OrderEvent.Kind.SHIPMENT, data__action="created").count() == 1


def test_a_parcel_voided_while_another_is_booked_from_its_units_leaves_them_in_one_parcel():
    """One member of staff voids the parcel holding every unit while a colleague books
    a new parcel of them: the new one is refused (nothing was left when it looked) or
    booked after the void; never both parcels live."""
    carrier = CarrierFactory()
    staff, colleague = warehouse_user(), warehouse_user()
    for attempt in range(10):
        order = OrderFactory(packed=True, lines=1, quantity=2, number=f"SWAP-{attempt:02d}")
        booked = shipment_create(order=order, carrier=carrier, tracking_number=f"6{attempt:011d}", actor=staff)
        outcomes = race(
            lambda: shipment_void(shipment=booked, actor=staff, reason="Wrong box"),
            lambda: shipment_create(order=order, carrier=carrier, tracking_number=f"7{attempt:011d}", actor=colleague),
        )
        (voided, _void_result), (created, create_result) = outcomes
        assert voided == "ok", outcomes
        if created == "error":
            assert isinstance(create_result, ShippingError) and "already in a parcel" in str(create_result), outcomes
        live = order.shipments.exclude(status=Shipment.Status.CANCELLED)
        assert live.count() == (1 if created == "ok" else 0)
        assert sum(ShipmentLine.objects.filter(shipment__in=live).values_list("quantity", flat=True)) <= 2


def test_voiding_a_shipment_while_the_order_ships_never_deadlocks():
    carrier = CarrierFactory()
    staff, colleague = warehouse_user(), warehouse_user()
    for attempt in range(20):
        order = OrderFactory(packed=True, number=f"VOID-{attempt:02d}")
        shipment = shipment_create(order=order, carrier=carrier, tracking_number=f"3{attempt:011d}", actor=staff)
        tick_manual_steps(order, actor=staff)

        outcomes = race(
            lambda: services.order_advance(order=order, actor=staff, expected_status=S.PACKED),
            lambda: shipment_void(shipment=shipment, actor=colleague, reason="Mistyped tracking number"),
        )

        assert not [value for kind, value in outcomes if isinstance(value, OperationalError)], outcomes
        assert sorted(kind for kind, _value in outcomes) == ["error", "ok"], outcomes
        (advanced, advance_result), (voided, void_result) = outcomes
        order.refresh_from_db()
        shipment.refresh_from_db()
        if voided == "ok":
            # Voided first: the order has no shipment to ship with and stays packed.
            assert isinstance(advance_result, WorkflowError) and "No shipment yet" in str(advance_result), outcomes
            assert (order.status, shipment.status) == (S.PACKED, Shipment.Status.CANCELLED)
        else:
            assert isinstance(void_result, ShippingError), outcomes
            assert "is Shipped; only a shipment waiting for pickup can be voided" in str(void_result)
            assert (order.status, shipment.status) == (S.SHIPPED, Shipment.Status.SHIPPED)


def test_a_location_set_and_a_receipt_at_once_on_a_new_stock_row_both_land():
    """Both create the product's first stock row in the warehouse: one row results,
    with the location and the received quantity, and the ledger agrees."""
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    for attempt in range(5):
        product = ProductFactory(sku=f"BIN-{attempt}")
        outcomes = race(
            lambda: stock.stock_location_set(product=product, warehouse=warehouse, location="A-03-2", actor=None),
            lambda: stock.stock_receive(product=product, warehouse=warehouse, quantity=4, actor=None),
        )
        assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
        level = StockLevel.objects.get(product=product, warehouse=warehouse)
        assert (level.location, level.on_hand) == ("A-03-2", 4)
    assert ledger_mismatches() == {}

"""Shipments: booking a parcel with a carrier, delivery, and what the order's
transitions do to its shipments."""

import pytest
from django.core.exceptions import PermissionDenied

from orders import services as orders
from orders.models import OrderEvent, OrderStatus
from shipping.exceptions import ShippingError
from shipping.models import Shipment
from shipping.services import shipment_create, shipment_mark_delivered
from tests.factories import CarrierFactory, OrderFactory, tick_manual_steps

S = OrderStatus


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PROCESSING, S.PACKED])
def test_create_a_shipment_with_every_line_by_default(status, warehouse_user):
    order = OrderFactory(status=status, lines=2, quantity=3)
    carrier = CarrierFactory()

    shipment = shipment_create(order=order, carrier=carrier, tracking_number=" 1234 5678 9012 ", actor=warehouse_user)

    assert (shipment.tracking_number, shipment.status, shipment.carrier) == ("123456789012", "pending", carrier)
    assert sorted(shipment.lines.values_list("order_line__sku", "quantity")) == sorted(
        (line.sku, 3) for line in order.lines.all()
    )
    assert shipment.tracking_url == "https://track.example.com/?no=123456789012"
    event = order.events.get(kind=OrderEvent.Kind.SHIPMENT)
    assert (event.actor, event.data) == (
        warehouse_user,
        {
            "action": "created",
            "carrier": "TESTCAT",
            "tracking_number": "123456789012",
            "lines": [[line.sku, 3] for line in order.lines.order_by("pk")],
        },
    )


@pytest.mark.django_db
def test_tracking_numbers_are_normalised_to_upper_case(warehouse_user):
    carrier = CarrierFactory(code="SF", name="SF Express", tracking_number_pattern=r"SF\d{10}")
    shipment = shipment_create(
        order=OrderFactory(packed=True), carrier=carrier, tracking_number="sf 1234567890", actor=warehouse_user
    )
    assert shipment.tracking_number == "SF1234567890"


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.NEW, S.SHIPPED, S.DELIVERED, S.COMPLETED])
def test_shipments_are_created_only_while_processing_or_packed(status, warehouse_user):
    order = OrderFactory(status=status)
    count = Shipment.objects.count()
    with pytest.raises(ShippingError, match="shipments are created while it is processing or packed"):
        shipment_create(order=order, carrier=CarrierFactory(), tracking_number="999999999999", actor=warehouse_user)
    assert Shipment.objects.count() == count


@pytest.mark.django_db
@pytest.mark.parametrize("tracking_number", ["", "   ", "12345", "ABCDEFGHIJKL", "1234567890123"])
def test_a_tracking_number_not_matching_the_carriers_pattern_is_refused(tracking_number, warehouse_user):
    order = OrderFactory(packed=True)
    with pytest.raises(ShippingError, match="is not a valid T-Cat tracking number"):
        shipment_create(order=order, carrier=CarrierFactory(), tracking_number=tracking_number, actor=warehouse_user)
    assert not Shipment.objects.exists()
    assert not order.events.filter(kind=OrderEvent.Kind.SHIPMENT).exists()


@pytest.mark.django_db
def test_an_inactive_carrier_is_refused(warehouse_user):
    carrier = CarrierFactory(code="OLD", name="Old Post", is_active=False)
    with pytest.raises(ShippingError, match="Old Post is not an active carrier"):
        shipment_create(
            order=OrderFactory(packed=True), carrier=carrier, tracking_number="123456789012", actor=warehouse_user
        )
    assert not Shipment.objects.exists()


@pytest.mark.django_db
def test_a_tracking_number_already_used_is_refused_naming_the_order(warehouse_user):
    first = OrderFactory(packed=True, number="SO-1")
    second = OrderFactory(packed=True, number="SO-2")
    shipment_create(order=first, carrier=CarrierFactory(), tracking_number="123456789012", actor=warehouse_user)
    with pytest.raises(ShippingError, match="already used by order SO-1"):
        shipment_create(order=second, carrier=CarrierFactory(), tracking_number="123456789012", actor=warehouse_user)
    assert not second.shipments.exists()


@pytest.mark.django_db
def test_creating_shipments_is_for_warehouse_staff_and_managers(service_user, manager):
    order = OrderFactory(packed=True)
    with pytest.raises(PermissionDenied, match="create shipments"):
        shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=service_user)
    assert not Shipment.objects.exists()
    shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=manager)
    assert order.shipments.count() == 1


@pytest.mark.django_db
def test_mark_delivered(warehouse_user):
    order = OrderFactory(shipped=True)
    shipment = order.shipments.get()
    assert shipment.status == Shipment.Status.SHIPPED and shipment.shipped_at is not None

    shipment = shipment_mark_delivered(shipment=shipment, actor=warehouse_user)

    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED and shipment.delivered_at is not None
    event = order.events.filter(kind=OrderEvent.Kind.SHIPMENT).order_by("-id").first()
    assert (event.actor, event.data["action"]) == (warehouse_user, "delivered")
    assert order.status == S.SHIPPED  # the order moves on when staff advance it


@pytest.mark.django_db
def test_mark_delivered_refuses_a_shipment_that_has_not_shipped(warehouse_user):
    order = OrderFactory(packed=True)
    shipment = shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=None)
    with pytest.raises(ShippingError, match="not shipped"):
        shipment_mark_delivered(shipment=shipment, actor=warehouse_user)
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PENDING


@pytest.mark.django_db
def test_mark_delivered_twice_is_refused(warehouse_user):
    order = OrderFactory(shipped=True)
    shipment_mark_delivered(shipment=order.shipments.get(), actor=warehouse_user)
    with pytest.raises(ShippingError, match="is Delivered, not shipped"):
        shipment_mark_delivered(shipment=order.shipments.get(), actor=warehouse_user)
    assert order.events.filter(kind=OrderEvent.Kind.SHIPMENT, data__action="delivered").count() == 1


@pytest.mark.django_db
def test_mark_delivered_needs_the_advance_permission(service_user):
    order = OrderFactory(shipped=True)
    with pytest.raises(PermissionDenied):
        shipment_mark_delivered(shipment=order.shipments.get(), actor=service_user)
    assert order.shipments.get().status == Shipment.Status.SHIPPED


@pytest.mark.django_db
def test_shipping_the_order_ships_its_pending_shipment_but_not_a_cancelled_one(warehouse_user):
    order = OrderFactory(packed=True)
    cancelled = Shipment.objects.create(
        order=order, carrier=CarrierFactory(), tracking_number="000000000001", status=Shipment.Status.CANCELLED
    )
    live = shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=None)
    tick_manual_steps(order)
    orders.order_advance(order=order, actor=warehouse_user)
    cancelled.refresh_from_db()
    live.refresh_from_db()
    assert (cancelled.status, live.status) == (Shipment.Status.CANCELLED, Shipment.Status.SHIPPED)


@pytest.mark.django_db
def test_cancelling_the_order_cancels_its_pending_shipment_so_the_number_can_be_reused(
    service_user, warehouse_user
):
    order = OrderFactory(packed=True)
    shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=warehouse_user)
    orders.order_cancel(order=order, actor=service_user, reason="Customer cancelled")
    assert order.shipments.get().status == Shipment.Status.CANCELLED

    other = OrderFactory(packed=True)
    shipment_create(order=other, carrier=CarrierFactory(), tracking_number="123456789012", actor=warehouse_user)
    assert other.shipments.count() == 1

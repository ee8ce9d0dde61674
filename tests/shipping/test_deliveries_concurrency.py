"""Delivery reports racing each other and staff, with real threads on PostgreSQL: the
import locks each order, then its parcels, in ascending order id (the lock order of
orders/services.py), so nothing deadlocks and every parcel is delivered once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import OrderEvent, OrderStatus
from shipping.exceptions import ShippingError
from shipping.models import Shipment
from shipping.services import DeliveryReportRow, deliveries_record, shipment_mark_delivered
from tests.factories import OrderFactory, manager_user, warehouse_user
from tests.utils import race, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def shipped_parcels(count):
    parcels = []
    for _ in range(count):
        order = OrderFactory(shipped=True)
        order.shipments.update(shipped_at=timezone.now() - timedelta(days=2))
        parcels.append(order.shipments.get())
    return parcels


def rows_for(parcels):
    moment = timezone.now() - timedelta(hours=3)
    return [DeliveryReportRow(n, p.tracking_number, moment) for n, p in enumerate(parcels, start=2)]


def delivered_events(parcel):
    return OrderEvent.objects.filter(
        order_id=parcel.order_id, kind=OrderEvent.Kind.SHIPMENT, data__action="delivered"
    ).count()


def completions(parcel):
    return OrderEvent.objects.filter(order_id=parcel.order_id, kind=OrderEvent.Kind.TRANSITION, data__to="completed").count()


def test_two_managers_importing_the_same_report_at_once_deliver_each_parcel_once():
    first, second = manager_user(), manager_user()
    parcels = shipped_parcels(4)
    rows = rows_for(parcels)
    # The second file lists the parcels the other way round: the locks are still taken in order id.
    outcomes = race(
        lambda: deliveries_record(rows=rows, actor=first),
        lambda: deliveries_record(rows=list(reversed([DeliveryReportRow(r.row, r.tracking_number, r.delivered_at) for r in rows])), actor=second),
    )
    assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
    results = [value for _kind, value in outcomes]
    assert sorted(len(result.delivered) for result in results) == [0, 4]
    assert sorted(len(result.skipped) for result in results) == [0, 4]
    for parcel in parcels:
        parcel.refresh_from_db()
        assert parcel.status == Shipment.Status.DELIVERED
        assert parcel.order.status == OrderStatus.COMPLETED
        assert (delivered_events(parcel), completions(parcel)) == (1, 1)


def test_an_import_and_staff_marking_the_same_parcel_delivered_record_it_once():
    manager, staff = manager_user(), warehouse_user()
    for attempt in range(3):
        parcels = shipped_parcels(3)
        seen = Shipment.objects.get(pk=parcels[1].pk)
        outcomes = race(
            lambda: deliveries_record(rows=rows_for(parcels), actor=manager),
            lambda: shipment_mark_delivered(shipment=seen, actor=staff),
        )
        imported, by_hand = outcomes
        assert imported[0] == "ok", outcomes
        # Staff first: the import finds it delivered and still completes the order. The
        # import first: the order is completed and staff are told.
        assert by_hand[0] == "ok" or isinstance(by_hand[1], ShippingError), outcomes
        for parcel in parcels:
            parcel.refresh_from_db()
            assert parcel.status == Shipment.Status.DELIVERED and parcel.order.status == OrderStatus.COMPLETED
            assert (delivered_events(parcel), completions(parcel)) == (1, 1)

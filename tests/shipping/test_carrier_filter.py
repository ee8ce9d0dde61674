"""The order list's carrier filter (shipping.admin.orders.CarrierFilter): the orders
with a live (not cancelled) shipment of the carrier, each probed through the
(carrier, order) index of live shipments (issue #8)."""

import pytest
from django.db import connection
from django.db.models import Q
from django.urls import reverse

from shipping.models import Shipment
from shipping.services import shipment_create, shipment_void
from tests.factories import CarrierFactory, OrderFactory, UserFactory
from tests.utils import changelist_rows

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def carriers(db):
    post = CarrierFactory(code="POST", name="Post", tracking_number_pattern=r"[A-Z]{2}\d{9}TW")
    tcat = CarrierFactory(code="TCAT", name="T-Cat")
    by_post = OrderFactory(packed=True, number="SO-7001")
    by_tcat = OrderFactory(packed=True, number="SO-7002")
    voided = OrderFactory(packed=True, number="SO-7003")
    shipment_create(order=by_post, carrier=post, tracking_number="RR123456781TW", actor=None)
    shipment_create(order=by_tcat, carrier=tcat, tracking_number="900000000002", actor=None)
    mistyped = shipment_create(order=voided, carrier=tcat, tracking_number="900000000003", actor=None)
    shipment_void(shipment=mistyped, actor=None, reason="Mistyped number")
    OrderFactory(number="SO-7004")  # no shipment
    return {"post": post, "tcat": tcat}


def test_the_carrier_lists_its_orders_with_a_live_shipment(client, carriers):
    client.force_login(UserFactory(username="root", is_superuser=True))
    for carrier, numbers in ((carriers["post"], {"SO-7001"}), (carriers["tcat"], {"SO-7002"})):
        response = client.get(CHANGELIST, {"carrier": carrier.pk})
        assert response.status_code == 200
        assert {order.number for order in changelist_rows(response)} == numbers


def test_live_shipments_are_indexed_by_carrier_and_order():
    """What the list's count and status chips ask of each order of a status (walked
    through the orders' own index): has it a live shipment of the carrier? The
    (carrier, order) index of live shipments answers that from the index alone (on
    the bench: an Index Only Scan per order; the small test tables are planned
    otherwise, so the plan itself is checked on the bench, bench/pages_bench.py)."""
    [index] = [index for index in Shipment._meta.indexes if index.name == "shipment_live_carrier_order"]
    assert index.fields == ["carrier", "order"]
    assert index.condition == ~Q(status=Shipment.Status.CANCELLED)
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Shipment._meta.db_table)
    assert constraints["shipment_live_carrier_order"]["columns"] == ["carrier_id", "order_id"]

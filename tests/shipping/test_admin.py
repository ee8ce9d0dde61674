"""Carrier and shipment admin."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from shipping.models import Carrier, Shipment
from shipping.services import shipment_create
from tests.factories import CarrierFactory, OrderFactory, UserFactory
from tests.utils import changelist_rows, count_queries, page_queries

pytestmark = pytest.mark.django_db

CARRIERS = reverse("admin:shipping_carrier_changelist")
SHIPMENTS = reverse("admin:shipping_shipment_changelist")


def packed_order(**kwargs):
    """A packed order with its (pending) shipment booked."""
    order = OrderFactory(packed=True, **kwargs)
    shipment_create(order=order, carrier=CarrierFactory(), tracking_number=f"{order.pk:012d}", actor=None)
    return order


def carrier_data(**overrides):
    return {
        "code": "SF",
        "name": "SF Express 順豐",
        "tracking_url_template": "https://www.sf-express.com/track?id={tracking_number}",
        "tracking_number_pattern": r"SF\d{10}",
        "serves_express": "on",
        "is_active": "on",
        **overrides,
    }


# --- query counts -------------------------------------------------------------------


def test_carrier_list_query_count_does_not_grow(client, manager):
    client.force_login(manager)
    Carrier.objects.all().delete()  # the migrated ten: nothing refers to them yet
    CarrierFactory()
    count_queries(client, CARRIERS)
    one, one_page = page_queries(client, CARRIERS)
    for code in ("A", "B", "C"):
        CarrierFactory(code=code, name=code, store_pickup=code == "C")
    many, many_page = page_queries(client, CARRIERS)
    # Both pages list the carriers their queries are counted over.
    assert (len(changelist_rows(one_page)), len(changelist_rows(many_page))) == (1, 4)
    assert many == one


def test_shipment_list_query_count_does_not_grow(client, warehouse_user):
    client.force_login(warehouse_user)
    packed_order()
    count_queries(client, SHIPMENTS)
    one, one_page = page_queries(client, SHIPMENTS)
    OrderFactory(shipped=True)
    dhl = CarrierFactory(code="TESTHOME", name="Home Post", tracking_number_pattern=r"\d{10}")
    for n in range(3):
        order = packed_order(lines=2)
        order.shipments.update(status=Shipment.Status.CANCELLED)
        shipment_create(order=order, carrier=dhl, tracking_number=f"{n:010d}", actor=None)
    assert Shipment.objects.count() == 8
    many, many_page = page_queries(client, SHIPMENTS)
    # Both pages list the shipments their queries are counted over.
    assert (len(changelist_rows(one_page)), len(changelist_rows(many_page))) == (1, 8)
    assert many == one


def test_shipment_page_query_count_does_not_grow_with_lines(client, warehouse_user):
    client.force_login(warehouse_user)
    small = packed_order().shipments.get()
    big = packed_order(lines=5).shipments.get()
    count_queries(client, reverse("admin:shipping_shipment_change", args=[small.pk]))
    one, small_page = page_queries(client, reverse("admin:shipping_shipment_change", args=[small.pk]))
    many, big_page = page_queries(client, reverse("admin:shipping_shipment_change", args=[big.pk]))
    # Each page shows the lines whose queries are counted: one, then five.
    for shipment, page, count in ((small, small_page, 1), (big, big_page, 5)):
        skus = [line.order_line.sku for line in shipment.lines.select_related("order_line")]
        assert len(skus) == count and all(sku in page.content.decode() for sku in skus)
    assert many == one


# --- carriers -------------------------------------------------------------------------


def test_manager_adds_a_carrier(client, manager):
    client.force_login(manager)
    response = client.post(reverse("admin:shipping_carrier_add"), carrier_data())
    assert response.status_code == 302
    carrier = Carrier.objects.get(code="SF")
    assert carrier.tracking_url("SF1234567890") == "https://www.sf-express.com/track?id=SF1234567890"
    assert (carrier.serves_home, carrier.serves_store_pickup, carrier.serves_express) == (False, False, True)


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"tracking_number_pattern": "[0-9"}, "not a valid regular expression"),
        ({"tracking_url_template": "https://www.dhl.com/track"}, "{tracking_number}"),
        ({"tracking_url_template": "javascript:alert(1)//{tracking_number}"}, "https://"),
    ],
)
def test_bad_carrier_settings_are_refused(client, manager, overrides, error):
    client.force_login(manager)
    response = client.post(reverse("admin:shipping_carrier_add"), carrier_data(**overrides))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Carrier.objects.filter(code="SF").exists()


def test_warehouse_staff_cannot_edit_carriers(client, warehouse_user):
    client.force_login(warehouse_user)
    carrier = CarrierFactory()
    assert client.get(CARRIERS).status_code == 200
    assert client.post(reverse("admin:shipping_carrier_add"), carrier_data()).status_code == 403
    response = client.post(reverse("admin:shipping_carrier_change", args=[carrier.pk]), carrier_data(code="TESTCAT"))
    assert response.status_code == 403
    carrier.refresh_from_db()
    assert carrier.name == "T-Cat"


# --- shipments ------------------------------------------------------------------------


def test_shipments_are_read_only_even_for_a_superuser(client):
    client.force_login(UserFactory(is_superuser=True))
    shipment = packed_order().shipments.get()
    change = reverse("admin:shipping_shipment_change", args=[shipment.pk])
    page = client.get(change).content.decode()
    assert 'name="tracking_number"' not in page
    assert 'name="status"' not in page
    assert client.post(change, {"tracking_number": "999999999999", "status": "delivered"}).status_code == 403
    assert client.get(reverse("admin:shipping_shipment_add")).status_code == 403
    assert client.post(reverse("admin:shipping_shipment_delete", args=[shipment.pk]), {"post": "yes"}).status_code == 403
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PENDING


def test_shipment_page_shows_its_lines_and_the_tracking_link(client, service_user):
    client.force_login(service_user)
    order = packed_order(lines=2, quantity=3)
    shipment = order.shipments.get()
    html = client.get(reverse("admin:shipping_shipment_change", args=[shipment.pk])).content.decode()
    for line in order.lines.all():
        assert line.sku in html
    assert f"https://track.example.com/?no={shipment.tracking_number}" in html
    assert reverse("admin:orders_order_change", args=[order.pk]) in html


def test_shipment_search_by_tracking_number_as_typed_or_order_number(client, service_user):
    client.force_login(service_user)
    carrier = CarrierFactory(code="TESTPOST", name="Post", tracking_number_pattern=r"[A-Z]{2}\d{9}TW")
    order = OrderFactory(processing=True, number="SO-5150")
    shipment = shipment_create(order=order, carrier=carrier, tracking_number="RR123456789TW", actor=None)
    packed_order()
    assert changelist_rows(client.get(SHIPMENTS, {"q": "rr 123 456 789 tw"})) == [shipment]
    assert changelist_rows(client.get(SHIPMENTS, {"q": "so-5150"})) == [shipment]
    assert changelist_rows(client.get(SHIPMENTS, {"q": "x" * 5000})) == []


def test_list_filters_by_status_and_carrier(client, warehouse_user):
    client.force_login(warehouse_user)
    shipped = OrderFactory(shipped=True).shipments.get()
    packed_order()
    assert changelist_rows(client.get(SHIPMENTS, {"status__exact": "shipped"})) == [shipped]
    assert len(changelist_rows(client.get(SHIPMENTS, {"carrier__id__exact": shipped.carrier_id}))) == 2


def test_mark_delivered_action_goes_through_the_service(client, warehouse_user):
    client.force_login(warehouse_user)
    shipped = OrderFactory(shipped=True).shipments.get()
    pending = packed_order().shipments.get()
    response = client.post(
        SHIPMENTS, {"action": "mark_delivered", "_selected_action": [shipped.pk, pending.pk], "index": 0}
    )
    assert response.status_code == 302
    [text] = [str(m) for m in get_messages(response.wsgi_request)]
    assert text == (
        f'1 shipment marked delivered, 1 refused<ul class="message-list"><li>{pending.order.number}: '
        f"Shipment {pending.tracking_number} is Waiting for pickup, not shipped.</li></ul>"
    )
    shipped.refresh_from_db()
    pending.refresh_from_db()
    assert (shipped.status, pending.status) == (Shipment.Status.DELIVERED, Shipment.Status.PENDING)
    assert shipped.order.events.filter(kind="shipment", data__action="delivered").exists()


def test_customer_service_has_no_mark_delivered_action(client, service_user):
    client.force_login(service_user)
    shipped = OrderFactory(shipped=True).shipments.get()
    assert "mark_delivered" not in client.get(SHIPMENTS).content.decode()
    client.post(SHIPMENTS, {"action": "mark_delivered", "_selected_action": [shipped.pk], "index": 0})
    shipped.refresh_from_db()
    assert shipped.status == Shipment.Status.SHIPPED

"""Convenience-store pickup as data: the chain, store code and store name on the
order, required for a store pickup (in the chain's code format) and blank for any
other delivery method; checked on creation, on address corrections and in the
orders import; shown on the order page and in the lookup."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders import services
from orders.models import STORE_CODE_PATTERNS, DeliveryMethod, Order, OrderEvent, StoreChain, store_code_format
from orders.imports import OrderImporter
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, WarehouseFactory
from tests.orders.test_admin import change_url, messages_of
from tests.orders.test_imports import csv_file, errors_of, order_row
from reports.imports import run_import
from tests.utils import count_queries, page_queries

pytestmark = pytest.mark.django_db

STORE = {"pickup_chain": "7-eleven", "pickup_store_code": "131386", "pickup_store_name": "府城門市"}


def create(**fields):
    customer = CustomerFactory()
    values = {
        "ship_name": customer.name,
        "ship_address1": "No. 7, Section 5, Xinyi Road",
        "ship_city": "Taipei",
        "delivery_method": DeliveryMethod.STORE_PICKUP,
        **STORE,
        **fields,
    }
    return services.order_create(
        number=fields.pop("number", "SO-7001"),
        customer=customer,
        lines=[{"product": ProductFactory(), "quantity": 1, "unit_price": Decimal("100")}],
        **values,
    )


def refusal(**fields):
    with pytest.raises(ValidationError) as refused:
        create(**fields)
    assert not Order.objects.exists()
    return refused.value.message_dict


# --- the rule, through order_create ---------------------------------------------------------


def test_a_store_pickup_order_keeps_its_store():
    order = create()
    order.refresh_from_db()
    assert (order.pickup_chain, order.pickup_store_code, order.pickup_store_name) == ("7-eleven", "131386", "府城門市")
    assert order.pickup_store_text == "7-ELEVEN 府城門市 (store 131386)"
    assert order.delivery_text == "Convenience-store pickup (7-ELEVEN)"


@pytest.mark.parametrize(
    "chain, good, bad, expected",
    [
        ("7-eleven", "131386", "13138", "6 digits, like 123456"),
        ("familymart", "013579", "0135791", "6 digits, like 123456"),
        ("hilife", "3312", "331", "4 digits, like 1234"),
        ("okmart", "0715", "07150", "4 digits, like 1234"),
    ],
)
def test_each_chain_has_its_store_code_format(chain, good, bad, expected):
    assert store_code_format(chain) == expected
    message = refusal(pickup_chain=chain, pickup_store_code=bad)
    label = StoreChain(chain).label
    assert message == {"pickup_store_code": [f"“{bad}” is not a {label} store code: expected {expected}."]}
    assert create(pickup_chain=chain, pickup_store_code=good).pickup_store_code == good


def test_every_chain_has_a_pattern():
    assert set(STORE_CODE_PATTERNS) == set(StoreChain)


def test_a_code_typed_in_full_width_digits_or_with_spaces_is_read_as_digits():
    assert create(pickup_store_code=" １３１ ３８６ ").pickup_store_code == "131386"


@pytest.mark.parametrize("code", ["١٣١٣٨٦", "13138a", "131-386"])
def test_other_scripts_digits_and_letters_are_refused(code):
    assert "pickup_store_code" in refusal(pickup_store_code=code)


def test_a_store_pickup_needs_chain_code_and_name():
    assert refusal(pickup_chain="", pickup_store_code="", pickup_store_name="  ") == {
        "pickup_chain": ["Choose the store chain for a convenience-store pickup."],
        "pickup_store_code": ["Enter the store code for a convenience-store pickup."],
        "pickup_store_name": ["Enter the name of the pickup store."],
    }


def test_an_unknown_chain_is_refused():
    assert "pickup_chain" in refusal(pickup_chain="circle-k")


@pytest.mark.parametrize("method, label", [("home", "Home delivery"), ("express", "Express (international)")])
def test_another_delivery_method_has_no_pickup_store(method, label):
    message = refusal(delivery_method=method, pickup_chain="", pickup_store_code="131386", pickup_store_name="")
    assert message == {
        "pickup_store_code": [
            f"Only a convenience-store pickup order has a pickup store; this order is sent by {label}. Leave it blank."
        ]
    }
    order = create(delivery_method=method, pickup_chain="", pickup_store_code="", pickup_store_name="")
    assert order.pickup_store_text == ""


def test_the_model_clean_applies_the_same_rule():
    order = Order(delivery_method=DeliveryMethod.STORE_PICKUP, pickup_chain="hilife", pickup_store_code="12345")
    with pytest.raises(ValidationError) as refused:
        order.clean()
    assert set(refused.value.message_dict) == {"pickup_store_code", "pickup_store_name"}


# --- corrections before shipping ------------------------------------------------------------


def test_staff_correct_the_store_before_shipping(service_user):
    order = create()
    services.order_correct_address(
        order=order, actor=service_user, pickup_chain="familymart", pickup_store_code="024680", pickup_store_name="高雄四維店"
    )
    order.refresh_from_db()
    assert (order.pickup_chain, order.pickup_store_code, order.pickup_store_name) == ("familymart", "024680", "高雄四維店")
    event = order.events.get(kind=OrderEvent.Kind.ADDRESS)
    assert event.data["changed"]["pickup_store_code"] == ["131386", "024680"]
    assert "131386 → 024680" in event.describe()


def test_a_correction_to_a_store_code_of_the_wrong_format_changes_nothing(service_user):
    order = create()
    with pytest.raises(ValidationError) as refused:
        services.order_correct_address(order=order, actor=service_user, pickup_chain="hilife")
    assert refused.value.message_dict == {
        "pickup_store_code": ["“131386” is not a Hi-Life store code: expected 4 digits, like 1234."]
    }
    order.refresh_from_db()
    assert order.pickup_chain == "7-eleven"
    assert not order.events.filter(kind=OrderEvent.Kind.ADDRESS).exists()


def test_the_address_page_corrects_the_store(client, service_user):
    order = create()
    client.force_login(service_user)
    url = reverse("admin:orders_order_address", args=[order.pk])
    page = client.get(url).content.decode()
    assert 'name="pickup_store_code"' in page and "Pickup store" in page
    data = {
        "ship_name": order.ship_name,
        "ship_phone": "",
        "ship_address1": order.ship_address1,
        "ship_address2": "",
        "ship_city": order.ship_city,
        "ship_postcode": "",
        "ship_country": "TW",
        "pickup_chain": "7-eleven",
        "pickup_store_code": "12",
        "pickup_store_name": "府城門市",
    }
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "“12” is not a 7-ELEVEN store code: expected 6 digits, like 123456." in refused.content.decode()
    assert 'value="12"' in refused.content.decode()  # what was typed stays
    response = client.post(url, {**data, "pickup_store_code": "111111", "pickup_store_name": "鑫台北門市"})
    assert response.status_code == 302
    assert messages_of(response) == [("success", f"Shipping address of order {order.number} corrected.")]
    order.refresh_from_db()
    assert (order.pickup_store_code, order.pickup_store_name) == ("111111", "鑫台北門市")


def test_a_home_orders_address_page_has_no_store_fields(client, service_user):
    order = OrderFactory()
    client.force_login(service_user)
    page = client.get(reverse("admin:orders_order_address", args=[order.pk])).content.decode()
    assert 'name="ship_address1"' in page and 'name="pickup_store_code"' not in page


# --- shown where staff look -------------------------------------------------------------------


def test_the_order_page_shows_the_store_in_the_ship_to_block(client, service_user):
    order = OrderFactory(delivery_method="store_pickup")
    client.force_login(service_user)
    html = client.get(change_url(order)).content.decode()
    ship_to = html[html.index("Ship to") :]
    assert "pickup store: chain" in html.lower() and "7-ELEVEN" in ship_to
    assert "131386" in ship_to and "府城門市" in ship_to
    home = client.get(change_url(OrderFactory())).content.decode()
    assert "pickup store: code" not in home.lower()


def test_the_lookup_shows_the_store(client, service_user):
    order = OrderFactory(delivery_method="store_pickup")
    client.force_login(service_user)
    html = client.get(reverse("admin:orders_order_lookup"), {"q": order.number}).content.decode()
    assert '<div class="lookup-order__store">7-ELEVEN 府城門市 (store 131386)</div>' in html


def test_the_lookups_queries_do_not_grow_with_store_pickup_orders(client, service_user):
    customer = CustomerFactory(name="Store Customer")
    OrderFactory(customer=customer, delivery_method="store_pickup")
    client.force_login(service_user)
    url = reverse("admin:orders_order_lookup") + "?q=" + customer.email
    count_queries(client, url)
    one, _page = page_queries(client, url)
    for chain in ("familymart", "hilife", "okmart"):
        OrderFactory(customer=customer, delivery_method="store_pickup", pickup_chain=chain)
    many, page = page_queries(client, url)
    assert page.content.decode().count("lookup-order__store") == 4
    assert many == one


# --- the orders import --------------------------------------------------------------------------


def run(rows, *, fieldnames=None):
    file = csv_file(rows) if fieldnames is None else _csv(rows, fieldnames)
    return run_import("orders", file, actor=None, dry_run=False)


def _csv(rows, fieldnames):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fieldnames, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile("orders.csv", out.getvalue().encode("utf-8"))


@pytest.fixture
def tea(db):
    WarehouseFactory(code="TPE", priority=1)
    return ProductFactory(sku="TEA")


# The header with the optional trailing columns.
WITH_STORES = [*OrderImporter.columns, *OrderImporter.optional_columns]


def test_the_trailing_columns_bring_the_store_and_the_payment_method(tea):
    rows = [
        order_row("SO-1", "TEA", delivery_method="store_pickup", pickup_chain="FamilyMart", pickup_store_code="013579",
                  pickup_store_name="台中公益店", payment_method="store_pickup"),
        order_row("SO-2", "TEA", pickup_chain="", pickup_store_code="", pickup_store_name="", payment_method=""),
    ]
    report = run(rows, fieldnames=WITH_STORES)
    assert report.written, report.errors
    pickup, home = Order.objects.get(number="SO-1"), Order.objects.get(number="SO-2")
    assert (pickup.pickup_chain, pickup.pickup_store_code, pickup.pickup_store_name) == ("familymart", "013579", "台中公益店")
    assert pickup.payment_method == "store_pickup"
    assert (home.pickup_chain, home.payment_method) == ("", "card")


def test_the_old_header_still_imports(tea):
    report = run([order_row("SO-1", "TEA")])
    assert report.written, report.errors
    assert Order.objects.get().payment_method == "card"


def test_a_store_pickup_row_without_a_store_is_refused_with_its_row(tea):
    rows = [
        order_row("SO-1", "TEA", pickup_chain="", pickup_store_code="", pickup_store_name="", payment_method=""),
        order_row("SO-2", "TEA", delivery_method="store_pickup", pickup_chain="", pickup_store_code="",
                  pickup_store_name="", payment_method=""),
        order_row("SO-3", "TEA", delivery_method="store_pickup", pickup_chain="hilife", pickup_store_code="13",
                  pickup_store_name="永康店", payment_method="cash"),
        order_row("SO-4", "TEA", pickup_chain="okmart", pickup_store_code="", pickup_store_name="", payment_method=""),
    ]
    report = run(rows, fieldnames=WITH_STORES)
    assert not report.written and not Order.objects.exists()
    assert errors_of(report) == [
        (3, "pickup_chain"),
        (3, "pickup_store_code"),
        (3, "pickup_store_name"),
        (4, "payment_method"),
        (4, "pickup_store_code"),
        (5, "pickup_chain"),
    ]
    reasons = {(error.row, error.column): error.reason for error in report.errors}
    assert reasons[(4, "pickup_store_code")] == "“13” is not a Hi-Life store code: expected 4 digits, like 1234."
    assert reasons[(3, "pickup_chain")] == "Choose the store chain for a convenience-store pickup."
    assert reasons[(4, "payment_method")] == "“cash” is not one of: card, atm, cod, store_pickup."
    assert "this order is sent by Home delivery" in reasons[(5, "pickup_chain")]


def test_an_unknown_chain_in_the_import_names_the_chains(tea):
    rows = [order_row("SO-1", "TEA", delivery_method="store_pickup", pickup_chain="circle-k",
                      pickup_store_code="123456", pickup_store_name="X", payment_method="")]
    report = run(rows, fieldnames=WITH_STORES)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (2, "pickup_chain", "“circle-k” is not one of: 7-eleven, familymart, hilife, okmart.")
    ]


def test_rows_of_one_order_must_agree_on_the_store(tea):
    rows = [
        order_row("SO-1", "TEA", delivery_method="store_pickup", **STORE, payment_method=""),
        order_row("SO-1", "TEA", delivery_method="store_pickup", **{**STORE, "pickup_store_code": "111111"}, payment_method=""),
    ]
    report = run(rows, fieldnames=WITH_STORES)
    assert errors_of(report) == [(3, "pickup_store_code")]

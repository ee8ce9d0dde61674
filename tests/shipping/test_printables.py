"""Pick lists and packing slips: content, layouts, permissions, bad input, query
counts, and the changelist actions that open them."""

import re

import pytest
from django.contrib.admin import helpers
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory import services as inventory_services
from orders import services
from orders import selectors
from orders.models import Order
from shipping.barcodes import code128_svg
from shipping.services import shipment_create
from tests.factories import CarrierFactory, OrderFactory, ProductFactory, WarehouseFactory
from tests.inventory.test_list_plans import assert_no_full_read
from tests.utils import requires_postgresql_plans

pytestmark = pytest.mark.django_db

PICK_LIST = reverse("admin:orders_order_pick_list")
PACKING_SLIPS = reverse("admin:orders_order_packing_slips")
CHANGELIST = reverse("admin:orders_order_changelist")


def ids(*orders):
    return ",".join(str(order.pk) for order in orders)


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def products(db):
    WarehouseFactory(code="MAIN", priority=1)
    return [
        ProductFactory(sku="SKU-B", name="Blue mug", barcode="4710000000027"),
        ProductFactory(sku="SKU-A", name="Apple tea", barcode="4710000000010"),
        ProductFactory(sku="SKU-C", name="Cork coaster", barcode=""),
    ]


@pytest.fixture
def batch(products):
    """Two orders sharing SKU-B (2 + 3 units), one with SKU-A, one with SKU-C, all
    reserved in MAIN."""
    blue, apple, cork = products
    first = OrderFactory(number="SO-2001", lines=[blue, apple], quantity=2, processing=True)
    second = OrderFactory(number="SO-2002", lines=[blue, cork], quantity=3, processing=True)
    return first, second


# --- barcodes ------------------------------------------------------------------------


def test_code128_svg_is_inline_svg_without_prolog():
    svg = code128_svg("SO-2001")
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and 'id="' not in svg
    assert 'viewBox="' in svg and svg.count("<rect") > 10


def test_code128_svg_differs_per_value_and_refuses_what_code128_cannot_carry():
    assert code128_svg("SO-2001") != code128_svg("SO-2002")
    assert code128_svg("") == ""
    assert code128_svg("訂單") == ""


# --- pick list -----------------------------------------------------------------------


def test_pick_list_selector_totals_each_sku_across_orders(batch):
    first, second = batch
    pick_list = selectors.pick_list([second.pk, first.pk, 999999])

    assert [order.number for order in pick_list.orders] == ["SO-2001", "SO-2002"]
    assert [(row.sku, row.quantity, row.orders) for row in pick_list.rows] == [
        ("SKU-A", 2, [("SO-2001", 2)]),
        ("SKU-B", 5, [("SO-2001", 2), ("SO-2002", 3)]),
        ("SKU-C", 3, [("SO-2002", 3)]),
    ]
    assert pick_list.total_units == 10
    assert pick_list.missing_ids == [999999]
    assert pick_list.flagged == []
    assert pick_list.warehouses == ["MAIN"]  # one sheet


def _located(product, warehouse, location):
    inventory_services.stock_location_set(product=product, warehouse=warehouse, location=location, actor=None)


@pytest.fixture
def two_warehouses(db):
    """SO-2101 reserved in TPE, SO-2102 in TXG (each its own warehouse), SO-2103 new
    with no warehouse: nothing reserved. Locations in TPE for three of the products."""
    tpe = WarehouseFactory(code="TPE", name="Taipei", priority=1)
    txg = WarehouseFactory(code="TXG", name="Taichung", priority=2)
    mug, tea, pot, cup = (ProductFactory(sku=sku) for sku in ("MUG", "TEA", "POT", "CUP"))
    first = OrderFactory(number="SO-2101", lines=[mug, tea, pot, cup], quantity=1, warehouse=tpe, processing=True)
    second = OrderFactory(number="SO-2102", lines=[mug, tea], quantity=2, warehouse=txg, processing=True)
    third = OrderFactory(number="SO-2103", lines=[cup], quantity=4)
    _located(mug, tpe, "B-10-1")
    _located(tea, tpe, "b-2-4")
    _located(cup, tpe, "A-03-2")
    _located(tea, txg, "Z-1")
    return first, second, third


def test_pick_list_is_one_sheet_per_warehouse_sorted_by_location(two_warehouses):
    first, second, third = two_warehouses

    pick_list = selectors.pick_list([third.pk, second.pk, first.pk])

    assert [sheet.warehouse.code if sheet.warehouse else None for sheet in pick_list.sheets] == ["TPE", "TXG", None]
    tpe, txg, nowhere = pick_list.sheets
    # Letters without case, numbers as numbers (2 before 10), no location last then by SKU.
    assert [(row.location, row.sku, row.quantity) for row in tpe.rows] == [
        ("A-03-2", "CUP", 1), ("b-2-4", "TEA", 1), ("B-10-1", "MUG", 1), ("", "POT", 1)
    ]
    assert [(row.location, row.sku, row.orders) for row in txg.rows] == [
        ("Z-1", "TEA", [("SO-2102", 2)]), ("", "MUG", [("SO-2102", 2)])
    ]
    assert [(row.sku, row.quantity) for row in nowhere.rows] == [("CUP", 4)]
    # The per-order part likewise, each order's lines where they are picked.
    assert [pick.order.number for pick in tpe.orders] == ["SO-2101"]
    assert [(line.location, line.product.sku) for line in tpe.orders[0].lines] == [
        ("A-03-2", "CUP"), ("b-2-4", "TEA"), ("B-10-1", "MUG"), ("", "POT")
    ]
    assert [pick.order.number for pick in txg.orders] == ["SO-2102"]
    assert [pick.order.number for pick in nowhere.orders] == ["SO-2103"]
    assert pick_list.total_units == 4 + 4 + 4


def test_pick_list_follows_the_reservation_not_the_orders_warehouse(two_warehouses):
    first, _second, _third = two_warehouses
    # The order names TXG now, but its stock is still reserved in TPE: pick it there.
    Order.objects.filter(pk=first.pk).update(warehouse=WarehouseFactory(code="KHH"))

    sheets = selectors.pick_list([first.pk]).sheets

    assert [sheet.warehouse.code for sheet in sheets] == ["TPE"]


def test_pick_list_page_prints_a_headed_page_per_warehouse(client, warehouse_user, two_warehouses):
    client.force_login(warehouse_user)

    html = client.get(PICK_LIST, {"ids": ids(*two_warehouses)}).content.decode()

    sheets = html.split('<article class="sheet pick-list"')[1:]
    assert len(sheets) == 3
    assert "Pick list · warehouse TPE – Taipei" in sheets[0] and "list 1 of 3" in sheets[0]
    assert "Pick list · warehouse TXG – Taichung" in sheets[1]
    assert "Pick list · no stock reserved" in sheets[2] and "advance them to processing" in sheets[2]
    summary = sheets[0][: sheets[0].index("By order")]
    assert re.findall(r'class="col-location">([^<]+)<', summary) == ["A-03-2", "b-2-4", "B-10-1", "—"]
    assert "SO-2102" not in sheets[0] and "SO-2101" not in sheets[1]


def test_pick_list_page_shows_skus_with_totals_barcodes_and_orders(client, warehouse_user, batch):
    client.force_login(warehouse_user)
    response = client.get(PICK_LIST, {"ids": ids(*batch)})

    assert response.status_code == 200
    html = response.content.decode()
    skus = [m for m in re.findall(r'class="col-sku">([^<]+)<', html)]
    assert skus[:3] == ["SKU-A", "SKU-B", "SKU-C"]  # the summary, sorted by SKU
    row_b = html[html.index('class="col-sku">SKU-B<') :]
    row_b = row_b[: row_b.index("</tr>")]
    assert "Blue mug" in row_b
    assert "4710000000027" in row_b and "<svg" in row_b
    assert '<td class="col-qty">5</td>' in row_b
    assert "SO-2001 ×2" in row_b and "SO-2002 ×3" in row_b
    assert "window.print()" in html
    assert "Check before picking" not in html


def test_pick_list_flags_orders_not_new_or_processing(client, manager, products):
    packed = OrderFactory(number="SO-2003", lines=products[:1], packed=True)
    fresh = OrderFactory(number="SO-2004", lines=products[:1])
    client.force_login(manager)

    response = client.get(PICK_LIST, {"ids": ids(packed, fresh)})

    assert response.status_code == 200
    warning = re.search(r'class="doc-warning".*?</div>', response.content.decode(), re.S).group()
    assert "SO-2003 (Packed)" in warning
    assert "SO-2004" not in warning


# --- packing slips ---------------------------------------------------------------------


def test_packing_slip_has_number_barcode_ship_to_lines_shipment_and_notes(client, manager, products):
    order = OrderFactory(
        number="SO-3001",
        lines=products[:2],
        quantity=2,
        ship_name="Lin Mei-hua",
        ship_phone="0912-345-678",
        ship_address1="No. 7, Section 5, Xinyi Road",
        ship_city="Taipei",
        ship_postcode="110",
        packed=True,
    )
    shipment = shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=manager)
    services.order_add_note(order=order, actor=manager, text="Fragile: wrap the mug twice")
    client.force_login(manager)

    response = client.get(PACKING_SLIPS, {"ids": ids(order)})

    assert response.status_code == 200
    html = response.content.decode()
    assert "SO-3001" in html
    assert code128_svg("SO-3001", module_height=12.0) in html
    assert "Lin Mei-hua" in html and "0912-345-678" in html
    assert "No. 7, Section 5, Xinyi Road" in html and "110 Taipei" in html
    for line in order.lines.all():
        assert f'class="col-sku">{line.sku}<' in html
        assert line.product_name in html
        assert line.product.barcode in html
    assert "Home delivery" in html
    assert shipment.carrier.name in html and shipment.tracking_number in html
    assert "Fragile: wrap the mug twice" in html
    assert "@page { size: A4;" in html
    assert "layout-a4" in html


def test_packing_slips_one_sheet_per_order_in_number_order(client, warehouse_user, batch):
    client.force_login(warehouse_user)
    response = client.get(PACKING_SLIPS, {"ids": ids(*reversed(batch))})

    sheets = re.findall(r'<article class="sheet packing-slip" aria-label="Packing slip (SO-\d+)"', response.content.decode())
    assert sheets == ["SO-2001", "SO-2002"]


def test_packing_slip_label_layout(client, warehouse_user, batch):
    client.force_login(warehouse_user)
    response = client.get(PACKING_SLIPS, {"ids": ids(batch[0]), "layout": "label"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "@page { size: 100mm 150mm;" in html
    assert "layout-label" in html
    assert "SO-2001" in html


def test_unknown_layout_falls_back_to_a4_with_a_message(client, warehouse_user, batch):
    client.force_login(warehouse_user)
    response = client.get(PACKING_SLIPS, {"ids": ids(batch[0]), "layout": "poster"})

    assert response.status_code == 200
    assert "@page { size: A4;" in response.content.decode()
    assert any("poster" in message for message in messages_of(response))


def test_packing_slip_warns_not_to_ship_a_cancelled_order(client, manager, batch):
    order = services.order_cancel(order=batch[1], actor=manager, reason="Customer changed their mind")
    client.force_login(manager)

    response = client.get(PACKING_SLIPS, {"ids": ids(order)})

    assert "do not pack or ship it" in response.content.decode()


# --- permissions ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [PICK_LIST, PACKING_SLIPS])
@pytest.mark.parametrize("role, status", [("warehouse_user", 200), ("manager", 200), ("service_user", 403)])
def test_printing_is_for_warehouse_staff_and_managers(request, client, batch, url, role, status):
    client.force_login(request.getfixturevalue(role))
    assert client.get(url, {"ids": ids(*batch)}).status_code == status


def test_anonymous_user_is_sent_to_login(client, batch):
    response = client.get(PICK_LIST, {"ids": ids(*batch)})
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [PICK_LIST, PACKING_SLIPS])
@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, "Select the orders to print first."),
        ({"ids": " , "}, "Select the orders to print first."),
        ({"ids": "1,abc,2"}, "These are not order ids: abc."),
        ({"ids": "-1"}, "These are not order ids: -1."),
        ({"ids": "9" * 40}, "These are not order ids"),
        ({"ids": "999998,999999"}, "None of the selected orders exist."),
    ],
)
def test_bad_ids_redirect_to_the_list_with_a_message(client, warehouse_user, url, query, expected):
    client.force_login(warehouse_user)
    response = client.get(url, query)

    assert response.status_code == 302
    assert response.url == CHANGELIST
    assert any(expected in message for message in messages_of(response))


def test_too_many_ids_are_refused(client, warehouse_user):
    client.force_login(warehouse_user)
    response = client.get(PICK_LIST, {"ids": ",".join(str(n) for n in range(1, 502))})

    assert response.status_code == 302
    assert any("At most 500 orders" in message for message in messages_of(response))


def test_ids_that_do_not_exist_are_named_and_the_rest_print(client, warehouse_user, batch):
    client.force_login(warehouse_user)
    response = client.get(PACKING_SLIPS, {"ids": f"{batch[0].pk},999999"})

    assert response.status_code == 200
    assert "SO-2001" in response.content.decode()
    assert any("999999" in message for message in messages_of(response))


# --- query counts ----------------------------------------------------------------------------


def _orders_with_lines(count, products):
    orders = [OrderFactory(lines=products, quantity=2, processing=True) for _ in range(count)]
    for order in orders:
        services.order_add_note(order=order, actor=None, text=f"Note for {order.number}")
    return orders


@pytest.mark.parametrize("url", [PICK_LIST, PACKING_SLIPS])
def test_query_count_does_not_grow_with_orders_and_lines(client, manager, products, url):
    one = _orders_with_lines(1, products[:1])
    many = _orders_with_lines(10, products)
    client.force_login(manager)
    client.get(url, {"ids": ids(*one)})  # warm the session and permission caches alike

    with CaptureQueriesContext(connection) as single:
        alone = client.get(url, {"ids": ids(*one)})
    assert alone.status_code == 200
    with CaptureQueriesContext(connection) as batch:
        response = client.get(url, {"ids": ids(*many)})
    assert response.status_code == 200
    # Both pages print the orders their queries are counted over.
    assert one[0].number in alone.content.decode()
    assert not any(order.number in alone.content.decode() for order in many)
    assert all(order.number in response.content.decode() for order in many)
    assert len(batch) == len(single), [q["sql"] for q in batch.captured_queries]


def test_pick_list_of_fifty_orders_in_two_warehouses_takes_the_queries_of_one(client, manager, products):
    north = WarehouseFactory(code="NORTH", priority=2)
    one = OrderFactory(lines=products[:1], quantity=1, processing=True)
    many = [
        OrderFactory(lines=products, quantity=1, processing=True, warehouse=north if i % 2 else None)
        for i in range(50)
    ]
    for product in products:
        _located(product, north, f"N-{product.sku}")
    client.force_login(manager)
    client.get(PICK_LIST, {"ids": ids(one)})  # warm the session and permission caches

    with CaptureQueriesContext(connection) as single:
        client.get(PICK_LIST, {"ids": ids(one)})
    with CaptureQueriesContext(connection) as batch:
        response = client.get(PICK_LIST, {"ids": ids(*many)})

    assert response.context["pick_list"].warehouses == ["MAIN", "NORTH"]
    assert "N-SKU-A" in response.content.decode()
    assert len(batch) == len(single), [q["sql"] for q in batch.captured_queries]


# --- changelist actions -------------------------------------------------------------------------


@pytest.mark.parametrize("action, url", [("print_pick_list", PICK_LIST), ("print_packing_slips", PACKING_SLIPS)])
def test_bulk_actions_redirect_with_the_selected_ids(client, warehouse_user, batch, products, action, url):
    OrderFactory(number="SO-2999", lines=products[:1])  # not selected
    client.force_login(warehouse_user)

    response = client.post(
        CHANGELIST, {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(order.pk) for order in batch]}
    )

    assert response.status_code == 302
    assert response.url == f"{url}?ids={ids(*batch)}"


def test_print_actions_offered_only_with_the_print_permission(client, warehouse_user, service_user, batch):
    client.force_login(warehouse_user)
    choices = dict(client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "print_pick_list" in choices and "print_packing_slips" in choices

    client.force_login(service_user)
    choices = dict(client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "print_pick_list" not in choices and "print_packing_slips" not in choices


def test_bulk_print_of_too_many_orders_is_refused(client, warehouse_user, batch, settings, monkeypatch):
    from orders.admin import OrderAdmin

    monkeypatch.setattr(OrderAdmin, "print_batch_limit", 1)
    client.force_login(warehouse_user)

    response = client.post(
        CHANGELIST,
        {"action": "print_pick_list", helpers.ACTION_CHECKBOX_NAME: [str(order.pk) for order in batch]},
        follow=True,
    )

    assert response.redirect_chain[-1][0].startswith(CHANGELIST)
    assert any("At most 1 order can" in message for message in messages_of(response))



@requires_postgresql_plans
def test_pick_list_reads_through_indexes(client, manager, two_warehouses):
    """Orders, lines, reservations (the ledger's order index) and locations (the
    stock level's product/warehouse index): no whole-table read at 1.5 million orders."""
    client.force_login(manager)
    response = assert_no_full_read(client, PICK_LIST, {"ids": ids(*two_warehouses)})
    assert len(response.context["pick_list"].sheets) == 3


@pytest.mark.parametrize(
    ("language", "shown"),
    [("en", "these orders are not new or processing: SO-2003 (Packed)"), ("zh-hant", "以下訂單不是「新訂單」或「處理中」：SO-2003（已包裝）")],
)
def test_orders_not_to_pick_are_named_with_their_state_in_the_reader_s_punctuation(
    admin_client, batch, products, language, shown
):
    packed = OrderFactory(number="SO-2003", lines=[products[0]], packed=True)
    response = admin_client.get(PICK_LIST, {"ids": ids(batch[0], packed)}, HTTP_ACCEPT_LANGUAGE=language)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))
    assert shown in text

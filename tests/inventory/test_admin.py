"""Stock admin: lists, the read-only ledger, and the receive / cycle-count pages."""

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from inventory import services
from inventory.exceptions import InventoryError
from inventory.models import Product, StockLevel, StockMovement
from tests.factories import OrderFactory, ProductFactory, StockLevelFactory, UserFactory, WarehouseFactory
from tests.utils import changelist_rows, count_queries, page_queries

pytestmark = pytest.mark.django_db

RECEIVE = reverse("admin:inventory_stocklevel_receive")
COUNT = reverse("admin:inventory_stocklevel_count")
LEVELS = reverse("admin:inventory_stocklevel_changelist")
MOVEMENTS = reverse("admin:inventory_stockmovement_changelist")


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


# --- query counts -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name", ["inventory_warehouse_changelist", "inventory_product_changelist", "inventory_stocklevel_changelist", "inventory_stockmovement_changelist"]
)
def test_list_query_count_does_not_grow_with_rows(client, manager, url_name):
    client.force_login(manager)
    url = reverse(f"admin:{url_name}")
    OrderFactory(processing=True)  # one warehouse, product, level and a couple of movements
    count_queries(client, url)
    one, one_page = page_queries(client, url)
    for code in ("N1", "N2", "N3"):
        OrderFactory(processing=True, lines=2, warehouse=WarehouseFactory(code=code))
    many, many_page = page_queries(client, url)
    # Both pages list the rows their queries are counted over, the second more of them.
    assert 0 < len(changelist_rows(one_page)) < len(changelist_rows(many_page))
    assert many == one


# --- stock levels -------------------------------------------------------------------


def test_stock_levels_show_available_and_flag_low_stock(client, warehouse_user):
    client.force_login(warehouse_user)
    plenty = StockLevelFactory(on_hand=50, reserved=10, product=ProductFactory(low_stock_threshold=5))
    low = StockLevelFactory(on_hand=8, reserved=4, product=ProductFactory(low_stock_threshold=5))
    response = client.get(LEVELS)
    assert {level.pk: level.available_quantity for level in changelist_rows(response)} == {plenty.pk: 40, low.pk: 4}
    assert changelist_rows(client.get(LEVELS, {"low": "yes"})) == [low]
    assert changelist_rows(client.get(LEVELS, {"low": "no"})) == [plenty]
    html = response.content.decode()
    assert html.count('class="low-stock"') == 1  # marked on the low row only
    assert "Low (≤ 5)" in html


def test_stock_levels_filter_by_warehouse_and_search_by_barcode(client, warehouse_user):
    client.force_login(warehouse_user)
    north = StockLevelFactory(warehouse=WarehouseFactory(code="TPE"), product=ProductFactory(barcode="4710088000011"))
    StockLevelFactory(warehouse=WarehouseFactory(code="KHH"))
    assert changelist_rows(client.get(LEVELS, {"warehouse__id__exact": north.warehouse_id})) == [north]
    assert changelist_rows(client.get(LEVELS, {"q": "4710088000011"})) == [north]


def test_stock_quantities_are_never_editable_in_the_admin(client, superuser):
    client.force_login(superuser)
    level = StockLevelFactory(on_hand=10)
    change = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert 'name="on_hand"' not in page.content.decode()
    # Only the location is a field of the page: posted quantities are ignored.
    assert client.post(change, {"on_hand": 99, "reserved": 0, "location": ""}).status_code == 302
    assert client.get(reverse("admin:inventory_stocklevel_add")).status_code == 403
    assert client.post(reverse("admin:inventory_stocklevel_delete", args=[level.pk]), {"post": "yes"}).status_code == 403
    level.refresh_from_db()
    assert level.on_hand == 10


# --- bin locations ------------------------------------------------------------------


def test_manager_sets_a_trimmed_location_and_the_stock_list_shows_it(client, manager):
    level = StockLevelFactory(on_hand=10)
    change = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    client.force_login(manager)

    response = client.post(change, {"location": "  A-03-2 "})

    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.location, level.on_hand) == ("A-03-2", 10)
    assert not StockMovement.objects.filter(kind=StockMovement.Kind.COUNT).exists()  # not a stock change
    assert '<td class="field-location">A-03-2</td>' in client.get(LEVELS).content.decode()


def test_a_too_long_location_is_refused_with_the_limit_and_kept_in_the_field(client, manager):
    level = StockLevelFactory(on_hand=10)
    level.location = "B-01-1"
    level.save()
    change = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    client.force_login(manager)
    typed = "AISLE-12-SHELF-04-BIN-7"

    response = client.post(change, {"location": typed})

    assert response.status_code == 200
    html = response.content.decode()
    assert "A location can be at most 20 characters, like A-03-2; this one has 23." in html
    assert f'value="{typed}"' in html
    level.refresh_from_db()
    assert level.location == "B-01-1"


def test_other_roles_see_the_location_but_cannot_change_it(client, warehouse_user):
    level = StockLevelFactory(on_hand=10)
    services.stock_location_set(product=level.product, warehouse=level.warehouse, location="C-2", actor=None)
    change = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    client.force_login(warehouse_user)

    page = client.get(change)
    assert page.status_code == 200
    assert 'name="location"' not in page.content.decode() and "C-2" in page.content.decode()
    assert client.post(change, {"location": "Z-9"}).status_code == 403
    level.refresh_from_db()
    assert level.location == "C-2"


def test_location_service_refuses_without_permission_and_too_long(warehouse_user):
    level = StockLevelFactory(on_hand=1)
    with pytest.raises(PermissionDenied):
        services.stock_location_set(product=level.product, warehouse=level.warehouse, location="A-1", actor=warehouse_user)
    with pytest.raises(InventoryError, match="at most 20 characters"):
        services.stock_location_set(product=level.product, warehouse=level.warehouse, location="X" * 21, actor=None)
    level.refresh_from_db()
    assert level.location == ""


# --- the ledger -----------------------------------------------------------------------


def test_ledger_is_read_only_even_for_a_superuser(client, superuser):
    client.force_login(superuser)
    movement = services.stock_receive(
        product=ProductFactory(), warehouse=WarehouseFactory(), quantity=5, actor=None
    ).product.movements.get()
    change = reverse("admin:inventory_stockmovement_change", args=[movement.pk])
    assert client.get(reverse("admin:inventory_stockmovement_add")).status_code == 403
    assert client.post(change, {"on_hand_delta": 500}).status_code == 403
    assert client.post(reverse("admin:inventory_stockmovement_delete", args=[movement.pk]), {"post": "yes"}).status_code == 403
    assert 'name="on_hand_delta"' not in client.get(change).content.decode()
    assert "delete_selected" not in client.get(MOVEMENTS).content.decode()
    movement.refresh_from_db()
    assert movement.on_hand_delta == 5


def test_ledger_search_by_order_number_and_sku_and_filter_by_kind(client, service_user):
    client.force_login(service_user)
    order = OrderFactory(processing=True, number="SO-4242")
    other = OrderFactory(processing=True, number="SO-4343")
    sku = order.lines.get().sku
    found = changelist_rows(client.get(MOVEMENTS, {"q": "so-4242"}))
    assert found and {m.order_id for m in found} == {order.pk}
    assert {m.product.sku for m in changelist_rows(client.get(MOVEMENTS, {"q": sku}))} == {sku}
    reserved = changelist_rows(client.get(MOVEMENTS, {"kind__exact": "reserve"}))
    assert {m.order_id for m in reserved} == {order.pk, other.pk}


# --- receiving stock ------------------------------------------------------------------


def test_warehouse_staff_receive_stock_by_barcode(client, warehouse_user):
    client.force_login(warehouse_user)
    product = ProductFactory(barcode="4710088000028")
    warehouse = WarehouseFactory(code="TPE")
    assert client.get(RECEIVE).status_code == 200
    response = client.post(
        RECEIVE, {"product": "4710088000028", "warehouse": warehouse.pk, "quantity": "12", "note": "PO 123"}
    )
    assert response.status_code == 302
    level = StockLevel.objects.get(product=product, warehouse=warehouse)
    assert (level.on_hand, level.reserved) == (12, 0)
    movement = StockMovement.objects.get()
    assert (movement.kind, movement.actor, movement.note) == ("receipt", warehouse_user, "PO 123")
    assert any("on hand is now 12" in text for text in messages_of(response))


def test_receive_by_sku_in_any_case(client, warehouse_user):
    client.force_login(warehouse_user)
    product = ProductFactory(sku="TEA-OOL-300")
    warehouse = WarehouseFactory()
    client.post(RECEIVE, {"product": "tea-ool-300", "warehouse": warehouse.pk, "quantity": "3"})
    assert StockLevel.objects.get(product=product, warehouse=warehouse).on_hand == 3


@pytest.mark.parametrize(
    "product, quantity, error",
    [
        ("NO-SUCH-SKU", "5", "No product has the SKU or barcode"),
        ("SKU-OK", "0", "greater than or equal to 1"),
        ("SKU-OK", "-3", "greater than or equal to 1"),
        ("SKU-OK", "many", "Enter a whole number"),
        ("", "5", "This field is required"),
    ],
)
def test_bad_receipts_change_nothing_and_say_why(client, warehouse_user, product, quantity, error):
    client.force_login(warehouse_user)
    ProductFactory(sku="SKU-OK")
    warehouse = WarehouseFactory()
    response = client.post(RECEIVE, {"product": product, "warehouse": warehouse.pk, "quantity": quantity})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert "Nothing was changed" in " ".join(messages_of(response))
    assert not StockMovement.objects.exists()
    assert not StockLevel.objects.exclude(on_hand=0).exists()


def test_inactive_product_cannot_be_received(client, warehouse_user):
    client.force_login(warehouse_user)
    ProductFactory(sku="OLD-1", is_active=False)
    response = client.post(RECEIVE, {"product": "OLD-1", "warehouse": WarehouseFactory().pk, "quantity": "1"})
    assert "not an active product" in response.content.decode()
    assert not StockMovement.objects.exists()


def test_customer_service_cannot_receive_stock(client, service_user):
    client.force_login(service_user)
    product, warehouse = ProductFactory(), WarehouseFactory()
    assert client.get(RECEIVE).status_code == 403
    response = client.post(RECEIVE, {"product": product.sku, "warehouse": warehouse.pk, "quantity": "5"})
    assert response.status_code == 403
    assert not StockMovement.objects.exists()


def test_stock_pages_accept_only_get_and_post(client, manager):
    client.force_login(manager)
    assert client.put(RECEIVE).status_code == 405
    assert client.delete(COUNT).status_code == 405


def test_receive_form_is_prefilled_from_a_product_row(client, warehouse_user):
    client.force_login(warehouse_user)
    level = StockLevelFactory(product=ProductFactory(sku="PRE-1"))
    response = client.get(RECEIVE, {"product": level.product_id, "warehouse": level.warehouse_id})
    form = response.context["form"]
    assert form.initial == {"product": "PRE-1", "warehouse": level.warehouse_id}
    assert "autofocus" in form.fields["quantity"].widget.attrs
    listing = client.get(LEVELS).content.decode()
    assert f"{RECEIVE}?product={level.product_id}&amp;warehouse={level.warehouse_id}" in listing
    assert COUNT not in listing  # warehouse staff do not count


# --- cycle counts ---------------------------------------------------------------------


def test_manager_counts_stock(client, manager):
    client.force_login(manager)
    level = StockLevelFactory(on_hand=10)
    response = client.post(
        COUNT, {"product": level.product.sku, "warehouse": level.warehouse_id, "on_hand": "7", "note": "Q4 count"}
    )
    assert response.status_code == 302
    level.refresh_from_db()
    assert level.on_hand == 7
    movement = StockMovement.objects.exclude(kind="receipt").get()  # the receipt is the factory's stock
    assert (movement.kind, movement.on_hand_delta, movement.actor) == ("count", -3, manager)
    sku, code = level.product.sku, level.warehouse.code
    assert messages_of(response) == [f"Counted {sku} in {code}: on hand 10 → 7 (\N{MINUS SIGN}3)."]


@pytest.mark.parametrize(("counted", "shown"), [("12", "on hand 10 → 12 (+2)"), ("10", "on hand 10 → 10 (±0)")])
def test_a_count_says_the_difference_with_its_sign(client, manager, counted, shown):
    client.force_login(manager)
    level = StockLevelFactory(on_hand=10)
    response = client.post(COUNT, {"product": level.product.sku, "warehouse": level.warehouse_id, "on_hand": counted})
    [text] = messages_of(response)
    assert text.endswith(f": {shown}.")


def test_the_ledger_shows_changes_with_their_sign(client, manager):
    """The movement list: "−3" with a real minus sign, "+10", and "±0" for a count
    that found what was on hand (other kinds that leave on hand alone show 0)."""
    client.force_login(manager)
    level = StockLevelFactory(on_hand=10)  # a receipt of +10
    services.stock_count(product=level.product, warehouse=level.warehouse, on_hand=7, actor=manager)
    services.stock_count(product=level.product, warehouse=level.warehouse, on_hand=7, actor=manager)
    response = client.get(MOVEMENTS)
    admin_ = response.context["cl"].model_admin
    shown = [
        (m.kind, admin_.on_hand_change(m), admin_.reserved_change(m)) for m in changelist_rows(response)
    ]
    assert shown == [("count", "±0", "0"), ("count", "\N{MINUS SIGN}3", "0"), ("receipt", "+10", "0")]
    html = response.content.decode()
    assert '<td class="field-on_hand_change">\N{MINUS SIGN}3</td>' in html


def test_count_below_what_is_reserved_is_refused_with_the_reason(client, manager):
    client.force_login(manager)
    order = OrderFactory(processing=True, quantity=3, stock=5)
    line = order.lines.get()
    before = StockMovement.objects.count()
    response = client.post(COUNT, {"product": line.sku, "warehouse": order.warehouse_id, "on_hand": "1"})
    assert response.status_code == 200
    assert any("3 reserved for orders" in text for text in messages_of(response))
    level = StockLevel.objects.get(product=line.product, warehouse=order.warehouse)
    assert (level.on_hand, level.reserved) == (5, 3)
    assert StockMovement.objects.count() == before


def test_warehouse_staff_cannot_count_stock(client, warehouse_user):
    client.force_login(warehouse_user)
    level = StockLevelFactory(on_hand=10)
    assert client.get(COUNT).status_code == 403
    response = client.post(COUNT, {"product": level.product.sku, "warehouse": level.warehouse_id, "on_hand": "0"})
    assert response.status_code == 403
    level.refresh_from_db()
    assert level.on_hand == 10


# --- products and warehouses ----------------------------------------------------------


def test_product_list_totals_and_search(client, warehouse_user):
    client.force_login(warehouse_user)
    tea = ProductFactory(sku="TEA-1", name="烏龍茶 Oolong tea 300g", barcode="4710088000035")
    StockLevelFactory(product=tea, warehouse=WarehouseFactory(code="TPE"), on_hand=10, reserved=2)
    StockLevelFactory(product=tea, warehouse=WarehouseFactory(code="KHH"), on_hand=5)
    ProductFactory(sku="MUG-1", name="Mug", is_active=False)
    [row] = changelist_rows(client.get(reverse("admin:inventory_product_changelist"), {"q": "烏龍"}))
    assert (row.on_hand_total, row.available_total) == (15, 13)
    assert changelist_rows(client.get(reverse("admin:inventory_product_changelist"), {"q": "4710088000035"})) == [tea]
    assert [p.sku for p in changelist_rows(client.get(reverse("admin:inventory_product_changelist"), {"is_active__exact": "0"}))] == ["MUG-1"]


def test_product_page_shows_stock_per_warehouse_and_stock_links(client, manager):
    client.force_login(manager)
    product = ProductFactory()
    StockLevelFactory(product=product, warehouse=WarehouseFactory(code="TXG"), on_hand=9, reserved=1)
    html = client.get(reverse("admin:inventory_product_change", args=[product.pk])).content.decode()
    assert "<td>TXG</td><td>9</td><td>1</td><td>8</td>" in html
    assert f"{RECEIVE}?product={product.pk}" in html
    assert f"{COUNT}?product={product.pk}" in html


def test_only_managers_edit_products(client, warehouse_user, manager):
    product = ProductFactory(name="Old name")
    change = reverse("admin:inventory_product_change", args=[product.pk])
    data = {"sku": product.sku, "name": "New name", "barcode": "", "weight_grams": 10, "low_stock_threshold": 3, "is_active": "on"}
    client.force_login(warehouse_user)
    assert client.post(change, data).status_code == 403
    client.force_login(manager)
    assert client.post(change, data).status_code == 302
    product.refresh_from_db()
    assert (product.name, product.barcode) == ("New name", None)  # blank barcode stored as NULL
    assert Product.objects.count() == 1

"""The stock lists stay fast however big the ledger grows (issue #8): every query a
list page runs is served by an index, the page's queries do not grow with its rows,
and odd query strings get a page with a message, never a slow query or an error.

The plan tests capture the queries a page runs through the test client and EXPLAIN
each with sequential scans priced out (enable_seqscan = off), as
tests/orders/test_search_plan.py does. PostgreSQL then still reads a whole table
when no index can answer, so a plan without such a read on the big tables proves
indexes serve the page. A full read is a Seq Scan, or an index scan with no index
condition, except one that merely walks an index in the list's order under a Limit
with no filter of its own: that is the page (or the capped count, or a deep page's
keys) reading just the rows it shows, and it is what the ordering indexes are for.
Timings on 1,500,000 orders: bench/pages_bench.py.
"""

import json
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory.admin import StockMovementAdmin
from inventory.models import StockMovement
from tests.factories import OrderFactory, ProductFactory, StockLevelFactory, UserFactory, WarehouseFactory
from tests.utils import changelist_rows, page_queries, requires_postgresql_plans

pytestmark = pytest.mark.django_db

PRODUCTS = reverse("admin:inventory_product_changelist")
LEVELS = reverse("admin:inventory_stocklevel_changelist")
MOVEMENTS = reverse("admin:inventory_stockmovement_changelist")

# The tables that grow with the business: never read whole by a list page.
BIG_TABLES = {"orders_order", "orders_orderline", "shipping_shipment", "inventory_stockmovement"}

# Nodes that read all of their input before giving a row: below one, a Limit above
# no longer bounds what is read.
BLOCKING = {"Sort", "Hash", "Aggregate", "SetOp", "WindowAgg", "Materialize", "Unique", "Group"}


def full_reads(node, tables=BIG_TABLES, bounded=False):
    """Reads of a whole table in an EXPLAIN (FORMAT JSON) plan node (see the module's
    docstring): a Seq Scan, a bitmap scan of a whole index, or an index scan without
    an index condition that is not bounded by a Limit (or is, but filters rows, so
    that it may walk the whole index to find a page of them)."""
    found = []
    kind = node["Node Type"]
    if node.get("Relation Name") in tables:
        if kind == "Seq Scan":
            found.append(f"Seq Scan on {node['Relation Name']}")
        elif kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node:
            if not bounded or "Filter" in node:
                found.append(f"{kind} on {node['Relation Name']} ({node.get('Index Name')}), unbounded")
        elif kind == "Bitmap Heap Scan" and any("Index Cond" not in scan for scan in _bitmap_index_scans(node)):
            found.append(f"Bitmap Heap Scan on {node['Relation Name']} through a whole index")
    for child in node.get("Plans", []):
        relationship = child.get("Parent Relationship")
        if kind == "Limit":
            child_bounded = True
        elif kind in BLOCKING or relationship in ("InitPlan", "SubPlan"):
            child_bounded = False
        elif kind == "Nested Loop" and relationship == "Inner":
            child_bounded = False  # run again for every outer row
        else:
            child_bounded = bounded
        found.extend(full_reads(child, tables, child_bounded))
    return found


def _bitmap_index_scans(node):
    for child in node.get("Plans", []):
        if child["Node Type"] == "Bitmap Index Scan":
            yield child
        elif child["Node Type"] in ("BitmapAnd", "BitmapOr"):
            yield from _bitmap_index_scans(child)


def explain(sql):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        raw = cursor.fetchone()[0]
    return (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]


def page_plans(client, url, params=None):
    """(sql, plan) of every SELECT the GET of `url` runs (and of the page it
    redirects to), planned with sequential scans priced out; and the response."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {}, follow=True)  # a refused filter is a redirect
    assert response.status_code == 200, response
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        return [(sql, explain(sql)) for sql in selects], response


def assert_no_full_read(client, url, params=None):
    plans, response = page_plans(client, url, params)
    assert plans, "the page ran no query"
    for sql, plan in plans:
        assert full_reads(plan) == [], f"{full_reads(plan)}\n{sql}\n{json.dumps(plan, indent=1)}"
    return response


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def ledger(db):
    """Two warehouses, orders reserved in each (movements with and without an order)."""
    north = WarehouseFactory(code="TPE", priority=1)
    south = WarehouseFactory(code="KHH", priority=2)
    orders = [OrderFactory(processing=True, lines=2, warehouse=wh, number=f"SO-77{n}") for n, wh in enumerate([north, south, north])]
    tea = ProductFactory(sku="TEA-OOL-300", barcode="4710088000042")
    StockLevelFactory(product=tea, warehouse=north, on_hand=3)
    return {"orders": orders, "tea": tea, "north": north, "south": south}


# --- plans ---------------------------------------------------------------------------


def ledger_pages(ledger):
    order = ledger["orders"][0]
    day = timezone.localdate(StockMovement.objects.latest("created_at").created_at).isoformat()
    return {
        "all": {},
        "search SKU (any case)": {"q": "tea-ool-300"},
        "search barcode": {"q": "4710088000042"},
        "search order number": {"q": order.number.lower()},
        "an order's movements": {"order__id__exact": order.pk},
        "a product's movements": {"product__id__exact": ledger["tea"].pk},
        "kind": {"kind__exact": "reserve"},
        "warehouse": {"warehouse__id__exact": ledger["south"].pk},
        "date range": {"created_at__range__gte": day, "created_at__range__lte": day},
        "kind, warehouse and date range": {
            "kind__exact": "receipt",
            "warehouse__id__exact": ledger["north"].pk,
            "created_at__range__gte": day,
        },
        "oldest first": {"o": "1"},
        "page 2": {"p": "2"},
        "page 999999": {"p": "999999"},
        "a sort it refuses": {"o": "5"},
        "a filter it refuses": {"note__icontains": "x"},
    }


@requires_postgresql_plans
@pytest.mark.parametrize(
    "page",
    [
        "all", "search SKU (any case)", "search barcode", "search order number", "an order's movements",
        "a product's movements", "kind", "warehouse", "date range", "kind, warehouse and date range",
        "oldest first", "page 2", "page 999999", "a sort it refuses", "a filter it refuses",
    ],
)  # fmt: skip
def test_every_ledger_query_uses_an_index(client, superuser, ledger, page, monkeypatch):
    # A page 2, and a count cap below the ledger's size as on a real ledger (else
    # counting every row up to the cap is the cheapest plan, and right).
    monkeypatch.setattr(StockMovementAdmin, "list_per_page", 2)
    monkeypatch.setattr(StockMovementAdmin, "list_max_pages", 3)
    client.force_login(superuser)
    response = assert_no_full_read(client, MOVEMENTS, ledger_pages(ledger)[page])
    assert changelist_rows(response)


@requires_postgresql_plans
@pytest.mark.parametrize(
    "url, params",
    [
        (PRODUCTS, {}),
        (PRODUCTS, {"o": "6"}),  # by on hand: the totals of every product, but no big table
        (PRODUCTS, {"q": "tea"}),
        (LEVELS, {}),
        (LEVELS, {"low": "yes"}),
        (LEVELS, {"low": "no"}),
        (LEVELS, {"q": "4710088000042"}),
    ],
)
def test_product_and_stock_level_lists_read_no_big_table(client, superuser, ledger, url, params):
    client.force_login(superuser)
    response = assert_no_full_read(client, url, params)
    assert changelist_rows(response)


@requires_postgresql_plans
def test_the_check_catches_a_full_read():
    """A count of the whole ledger, a filter on a column no index has and a sort by
    one are full reads; a page of the ledger in index order is not."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        count = explain("SELECT count(*) FROM inventory_stockmovement")
        unindexed = explain(
            "SELECT * FROM inventory_stockmovement WHERE note LIKE '%x%' ORDER BY created_at DESC, id DESC LIMIT 50"
        )
        sorted_all = explain("SELECT * FROM inventory_stockmovement ORDER BY on_hand_delta, id DESC LIMIT 50")
        page = explain("SELECT * FROM inventory_stockmovement ORDER BY created_at DESC, id DESC LIMIT 50")
    assert full_reads(count)
    assert full_reads(unindexed)
    assert full_reads(sorted_all)
    assert full_reads(page) == []


@requires_postgresql_plans
def test_the_check_catches_the_date_hierarchy_and_the_old_search(client, superuser, ledger, monkeypatch):
    """What the ledger list did before: the date hierarchy's DISTINCT over every date,
    and a search ORing conditions on the joined product and order tables."""
    from django.db.models import Q

    import inventory.admin as stock_admin

    client.force_login(superuser)
    monkeypatch.setattr(StockMovementAdmin, "date_hierarchy", "created_at")
    plans, _response = page_plans(client, MOVEMENTS)
    assert any(full_reads(plan) for _sql, plan in plans)
    monkeypatch.setattr(StockMovementAdmin, "date_hierarchy", None)
    monkeypatch.setattr(
        stock_admin, "movement_search", lambda queryset, term: queryset.filter(Q(product__sku=term) | Q(order__number=term))
    )
    plans, _response = page_plans(client, MOVEMENTS, {"q": "TEA-OOL-300"})
    assert any(full_reads(plan) for _sql, plan in plans)


# --- queries per page ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"q": "tea-ool-300"},
        {"q": "SO-770"},
        {"kind__exact": "reserve"},
        {"created_at__range__gte": "2000-01-01"},
        {"p": "2"},
    ],
)
def test_ledger_query_count_does_not_grow_with_rows(client, manager, ledger, params, monkeypatch):
    monkeypatch.setattr(StockMovementAdmin, "list_per_page", 2)
    client.force_login(manager)
    url = f"{MOVEMENTS}?{urlencode(params)}"
    page_queries(client, url)  # warm the caches
    one, one_page = page_queries(client, url)
    # More of everything: the tea in more warehouses (more rows for its search),
    # more orders, kinds of movement and pages.
    for code in ("N1", "N2"):
        warehouse = WarehouseFactory(code=code)
        StockLevelFactory(product=ledger["tea"], warehouse=warehouse, on_hand=4)
        OrderFactory(processing=True, lines=2, warehouse=warehouse)
    many, many_page = page_queries(client, url)
    assert changelist_rows(one_page) and changelist_rows(many_page)
    assert many == one


def test_product_totals_are_per_page_row_and_zero_without_stock(client, warehouse_user):
    client.force_login(warehouse_user)
    tea = ProductFactory(sku="TEA-1")
    StockLevelFactory(product=tea, warehouse=WarehouseFactory(code="TPE"), on_hand=10, reserved=0)
    StockLevelFactory(product=tea, warehouse=WarehouseFactory(code="KHH"), on_hand=5)
    ProductFactory(sku="MUG-1")
    with CaptureQueriesContext(connection) as captured:
        rows = changelist_rows(client.get(PRODUCTS))
    assert {p.sku: (p.on_hand_total, p.reserved_total, p.available_total) for p in rows} == {
        "TEA-1": (15, 0, 15),
        "MUG-1": (0, 0, 0),
    }
    # No GROUP BY over products joined to their stock levels: the totals are
    # subqueries of the page's rows.
    listing = [q["sql"] for q in captured.captured_queries if 'FROM "inventory_product"' in q["sql"]]
    assert listing and not any('LEFT OUTER JOIN "inventory_stocklevel"' in sql for sql in listing)


# --- odd query strings -----------------------------------------------------------------


def test_a_page_past_the_end_shows_the_last_page_with_a_message(client, manager, ledger, monkeypatch):
    monkeypatch.setattr(StockMovementAdmin, "list_per_page", 2)
    client.force_login(manager)
    total = StockMovement.objects.count()
    last = (total + 1) // 2
    response = client.get(MOVEMENTS, {"p": "999999"})
    assert response.status_code == 200
    assert response.context["cl"].page_num == last
    assert changelist_rows(response)
    assert any("999" in text and str(last) in text for text in messages_of(response)), messages_of(response)
    for odd in ("0", "-3", "abc", "²"):
        response = client.get(MOVEMENTS, {"p": odd})
        assert response.status_code == 200 and changelist_rows(response), odd


def test_deep_pages_stop_at_the_cap_and_say_so(client, manager, ledger, monkeypatch):
    monkeypatch.setattr(StockMovementAdmin, "list_per_page", 2)
    monkeypatch.setattr(StockMovementAdmin, "list_max_pages", 3)
    client.force_login(manager)
    assert StockMovement.objects.count() > 6
    response = client.get(MOVEMENTS, {"p": "5"})
    assert response.status_code == 200
    assert response.context["cl"].page_num == 3
    assert any("first 3 pages" in text for text in messages_of(response)), messages_of(response)
    html = response.content.decode()
    assert "6+ stock movements" in html


def test_an_unknown_or_unindexed_sort_is_left_out_with_a_message(client, manager, ledger):
    client.force_login(manager)
    default = [m.pk for m in changelist_rows(client.get(MOVEMENTS))]
    for odd in ("99", "5", "-5", "x", "1.5"):
        response = client.get(MOVEMENTS, {"o": odd})
        assert response.status_code == 200, odd
        assert "cannot be sorted" in " ".join(messages_of(response)), odd
    assert [m.pk for m in changelist_rows(client.get(MOVEMENTS, {"o": "5"}))] == default
    oldest_first = changelist_rows(client.get(MOVEMENTS, {"o": "1"}))
    assert [m.pk for m in oldest_first] == sorted(default)
    assert not messages_of(client.get(MOVEMENTS, {"o": "1"}))


def test_a_filter_the_list_does_not_offer_is_left_out_with_a_message(client, manager, ledger):
    client.force_login(manager)
    everything = {m.pk for m in changelist_rows(client.get(MOVEMENTS))}
    for param in ("note__icontains", "on_hand_delta", "product__name__icontains", "actor__username", "created_at__year"):
        response = client.get(MOVEMENTS, {param: "x"}, follow=True)
        assert response.redirect_chain and response.status_code == 200, param
        assert {m.pk for m in changelist_rows(response)} == everything, param
        assert any(param in text and "cannot be filtered" in text for text in messages_of(response)), param
    # The list's own filters and the links into it still work.
    order = ledger["orders"][0]
    rows = changelist_rows(client.get(MOVEMENTS, {"order__id__exact": order.pk}))
    assert rows and {m.order_id for m in rows} == {order.pk}
    assert {m.kind for m in changelist_rows(client.get(MOVEMENTS, {"kind__exact": "reserve"}))} == {"reserve"}


def test_a_bad_filter_value_is_a_page_not_an_error(client, manager, ledger):
    client.force_login(manager)
    assert changelist_rows(client.get(MOVEMENTS, {"kind__exact": "no-such-kind"})) == []
    everything = {m.pk for m in changelist_rows(client.get(MOVEMENTS))}
    for params in ({"warehouse__id__exact": "abc"}, {"order__id__exact": "²"}, {"product__id__exact": "9" * 20}):
        response = client.get(MOVEMENTS, params, follow=True)
        assert response.status_code == 200, params
        assert {m.pk for m in changelist_rows(response)} == everything, params
        assert any("is not a" in text for text in messages_of(response)), params
    response = client.get(MOVEMENTS, {"created_at__range__gte": "2026/11/01"})
    assert response.status_code == 200
    assert changelist_rows(response) == []
    assert any("could not be read" in text for text in messages_of(response))


def test_the_ledger_has_a_date_range_instead_of_a_date_hierarchy(client, manager, ledger):
    client.force_login(manager)
    latest = timezone.localdate(StockMovement.objects.latest("created_at").created_at)
    response = client.get(MOVEMENTS, {"created_at__range__gte": latest.isoformat()})
    assert changelist_rows(response)
    assert changelist_rows(client.get(MOVEMENTS, {"created_at__range__lte": "2000-01-01"})) == []
    assert response.context["cl"].date_hierarchy is None
    # The export page starts from the same range.
    admin = response.context["cl"].model_admin
    assert admin.export_filter_data({"created_at__range__gte": latest.isoformat()}) == {"since": latest.isoformat()}


def test_facet_counts_are_never_shown(client, manager, ledger):
    client.force_login(manager)
    response = client.get(MOVEMENTS, {"_facets": "1"})
    assert response.status_code == 200
    assert response.context["cl"].add_facets is False


def test_object_urls_resolved_once_are_the_urls_reverse_gives():
    from django.contrib.admin.utils import quote

    from inventory.admin import object_url

    for viewname, pk in (
        ("admin:inventory_stockmovement_change", 5),
        ("admin:orders_order_change", 123456789),
        ("admin:inventory_product_change", "a/b c_é"),
    ):
        assert object_url(viewname, pk) == reverse(viewname, args=[quote(pk)])

"""Every list and page of the orders app reads its tables through indexes, so it stays
fast with millions of orders (bench/: 1,500,000 orders, 6,000,000 lines).

Each page is fetched with the test client and every query it ran is EXPLAINed with
sequential scans priced out (enable_seqscan = off): PostgreSQL then still reads a
table whole only where no index can answer. A scan of one of the big tables is a
full scan when it is a Seq Scan, or an index scan with no index condition, unless a
LIMIT stops it without anything in between that must read all its rows first (the
first 51 entries of the list's ordering index, or the count of at most 2,001 rows,
are not full scans; a Sort of them would be).
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import services
from orders.models import Order, Refund
from shipping.models import Carrier
from tests.factories import CustomerFactory, OrderFactory, WarehouseFactory
from tests.utils import requires_postgresql_plans

pytestmark = [requires_postgresql_plans, pytest.mark.django_db]

BIG_TABLES = {
    "orders_order",
    "orders_orderline",
    "orders_orderevent",
    "shipping_shipment",
    "inventory_stockmovement",
    "orders_refund",
}
# Nodes that pass rows on as they get them: a LIMIT above them stops the scan below.
STREAMING = {"Nested Loop", "Subquery Scan", "Result", "Incremental Sort", "Unique", "Memoize", "Merge Join"}


def unbounded_scans(node, tables=BIG_TABLES, bounded=False):
    """Scans in an EXPLAIN (FORMAT JSON) plan node that read one of `tables` whole."""
    found = []
    kind = node["Node Type"]
    if node.get("Relation Name") in tables and not bounded:
        if kind == "Seq Scan" or (kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node):
            found.append(f'{kind} on {node["Relation Name"]}')
    for child in node.get("Plans", []):
        if kind == "Limit":
            child_bounded = True
        elif kind in STREAMING:
            # The inner side of a nested loop runs once per outer row: bounded only
            # by its own condition, never by the LIMIT above.
            inner = kind == "Nested Loop" and child.get("Parent Relationship") == "Inner"
            child_bounded = bounded and not inner
        else:
            child_bounded = False
        found.extend(unbounded_scans(child, tables, child_bounded))
    return found


def explain(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        raw = cursor.fetchone()[0]
    return (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]


def page_plans(client, url):
    """(response, [(sql, full scans)]) for every SELECT a GET of `url` ran."""
    client.get(url)  # warm the per-process caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    plans = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.startswith("SELECT") or sql.startswith("WITH"):
            plans.append((sql, unbounded_scans(explain(sql))))
    assert plans, f"{url} ran no query"
    return response, plans


def assert_no_full_scans(client, url):
    response, plans = page_plans(client, url)
    scans = [(found, sql[:400]) for sql, found in plans if found]
    assert not scans, f"{url}: {scans}"
    return response


BULK_ORDERS = 30_000


def bulk_history(model_order, count):
    """`count` completed orders from long ago, each with two lines, a delivered
    shipment and two events, written in SQL: enough rows that the planner chooses
    the plans it chooses for a large table (on a handful of rows any plan is cheap,
    and PostgreSQL may walk a whole index to save a sort)."""
    line = model_order.lines.first()
    shipment = model_order.shipments.get()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO orders_order (number, customer_id, status, held_from_status, placed_at, status_changed_at,
                payment_status, currency, total, delivery_method, ship_name, ship_phone, ship_address1,
                ship_address2, ship_city, ship_postcode, ship_country, warehouse_id)
            SELECT 'BH-' || lpad(i::text, 7, '0'), %(customer)s, 'completed', '',
                   now() - interval '400 days' - i * interval '10 minutes', now() - interval '390 days',
                   'paid', 'TWD', 240, 'home', 'Bulk', '', 'Road 1', '', 'Taipei', '110', 'TW', %(warehouse)s
            FROM generate_series(1, %(count)s) AS i
            """,
            {"customer": model_order.customer_id, "warehouse": model_order.warehouse_id, "count": count},
        )
        cursor.execute(
            """
            INSERT INTO orders_orderline (order_id, product_id, sku, product_name, quantity, unit_price, quantity_scanned)
            SELECT o.id, %(product)s, %(sku)s, 'Bulk', 1, 120, 1
            FROM orders_order o CROSS JOIN generate_series(1, 2) WHERE o.number LIKE 'BH-%%'
            """,
            {"product": line.product_id, "sku": line.sku},
        )
        cursor.execute(
            """
            INSERT INTO shipping_shipment (order_id, carrier_id, tracking_number, status, created_at, shipped_at,
                delivered_at, void_reason)
            SELECT o.id, %(carrier)s, 'BH' || o.id, 'delivered', o.placed_at, o.placed_at, o.placed_at, ''
            FROM orders_order o WHERE o.number LIKE 'BH-%%'
            """,
            {"carrier": shipment.carrier_id},
        )
        # A refund on every tenth (a price refunded by hand afterwards): the refund
        # list is read from its indexes too, never sorted whole.
        cursor.execute(
            """
            INSERT INTO orders_refund (order_id, amount, status, reason, note, created_at, refunded_at, reference)
            SELECT o.id, 20, 'refunded', 'goodwill', 'Bulk', o.placed_at, o.placed_at, 'BULK-' || o.id
            FROM orders_order o WHERE o.number LIKE 'BH-%%' AND mod(o.id, 10) = 0
            """
        )
        cursor.execute(
            """
            INSERT INTO orders_orderevent (order_id, kind, created_at, message, data)
            SELECT o.id, k.kind, o.placed_at, '', '{}'::jsonb
            FROM orders_order o CROSS JOIN (VALUES ('created'), ('note')) AS k(kind) WHERE o.number LIKE 'BH-%%'
            """
        )


@pytest.fixture
def data(db):
    """A few orders in most states, with lines, shipments, events and stock moves."""
    taipei = WarehouseFactory(code="TPE", priority=1)
    customer = CustomerFactory(name="Lin Mei", email="lin@example.com", phone="0912-345-678")
    orders = [OrderFactory(customer=customer, number="SO-90001", warehouse=taipei, lines=2)]
    for index, status in enumerate(["processing", "packed", "shipped", "delivered", "new", "shipped"]):
        orders.append(OrderFactory(status=status, warehouse=taipei, lines=1 + index % 2))
    services.order_cancel(order=OrderFactory(warehouse=taipei), reason="Changed their mind", actor=None)
    bulk_history(orders[3], BULK_ORDERS)
    with connection.cursor() as cursor:
        for table in sorted(BIG_TABLES):
            cursor.execute(f"ANALYZE {table}")
    return {"orders": orders, "customer": customer, "warehouse": taipei}


def changelist(**params):
    from urllib.parse import urlencode

    url = reverse("admin:orders_order_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def order_list_urls(data):
    carrier = Carrier.objects.filter(shipments__isnull=False).first()
    return [
        changelist(),
        changelist(status__exact="processing"),
        changelist(status__exact="delivered"),
        changelist(overdue="yes"),
        changelist(overdue="no"),
        changelist(warehouse__id__exact=data["warehouse"].pk),
        changelist(carrier=carrier.pk),
        changelist(payment_status__exact="pending"),
        changelist(payment_method__exact="atm"),
        changelist(delivery_method__exact="express"),
        changelist(placed_at__range__gte="2020-01-01", placed_at__range__lte="2099-12-31"),
        changelist(status__exact="shipped", warehouse__id__exact=data["warehouse"].pk),
        changelist(customer__id__exact=data["customer"].pk),
        changelist(q="SO-9000"),  # not a whole number: a search, no redirect
        changelist(q="lin@example.com"),
        changelist(q="0912345678"),
        changelist(q=data["orders"][3].shipments.get().tracking_number + " "),
        changelist(q="Lin"),
        changelist(q="Li"),
        changelist(p="2"),
        changelist(o="1"),
        changelist(o="-7"),
    ]


def test_every_order_list_reads_through_indexes(client, manager, data, monkeypatch):
    from orders.admin import OrderAdmin
    from django.contrib import admin

    # Two rows a page, so that ?p=2 is a page of its own (the keys-first path).
    monkeypatch.setattr(admin.site._registry[Order], "list_per_page", 2)
    assert isinstance(admin.site._registry[Order], OrderAdmin)
    client.force_login(manager)
    for url in order_list_urls(data):
        assert_no_full_scans(client, url)


def test_order_pages_read_through_indexes(client, manager, data):
    client.force_login(manager)
    order = data["orders"][0]
    ids = ",".join(str(o.pk) for o in data["orders"])
    for url in [
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:orders_order_lookup") + "?q=lin@example.com",
        reverse("admin:orders_order_lookup") + "?q=Lin",
        reverse("admin:orders_order_lookup") + "?q=Li",
        reverse("admin:orders_order_lookup") + "?q=SO-90001",
        reverse("admin:orders_order_pick_list") + f"?ids={ids}",
        reverse("admin:orders_order_packing_slips") + f"?ids={ids}",
        reverse("admin:orders_customer_changelist"),
        reverse("admin:orders_customer_changelist") + "?q=Lin",
        reverse("admin:orders_customer_change", args=[data["customer"].pk]),
        reverse("admin:orders_checkliststep_changelist"),
        reverse("admin:orders_order_dashboard"),
        reverse("admin:orders_refund_changelist"),
        reverse("admin:orders_refund_changelist") + "?status__exact=due",
        reverse("admin:orders_refund_changelist") + "?reason__exact=cancelled",
        reverse("admin:orders_refund_changelist") + "?q=SO-90001",
        reverse("admin:orders_refund_change", args=[Refund.objects.first().pk]),
    ]:
        assert_no_full_scans(client, url)


def test_the_check_catches_a_full_scan(data):
    """A filter on a column no index holds, and a sort of the whole table before its
    LIMIT, both read every order: the check must say so."""
    unindexed = Order.objects.filter(ship_city="Nowhere").values("pk")
    (scan,) = unbounded_scans(explain(*unindexed.query.sql_with_params()))
    assert scan.endswith(" on orders_order")
    sorted_first = Order.objects.order_by("total", "-pk").values("pk")[:50]
    assert unbounded_scans(explain(*sorted_first.query.sql_with_params())), "a Sort under a LIMIT reads everything"
    walked = Order.objects.order_by("-placed_at", "-id").values("pk")[:50]
    assert unbounded_scans(explain(*walked.query.sql_with_params())) == [], "the first 50 of an index are no full scan"


def test_the_list_count_stops_at_the_cap(data):
    """The paginator's COUNT reads at most cap + 1 rows: a LIMIT above the scan."""
    from common.pagination import CappedPaginator

    paginator = CappedPaginator(Order.objects.all(), 2, max_pages=2)
    with CaptureQueriesContext(connection) as captured:
        assert paginator.count == 4 and paginator.capped
    (query,) = captured.captured_queries
    assert "LIMIT 5" in query["sql"]
    assert unbounded_scans(explain(query["sql"])) == []

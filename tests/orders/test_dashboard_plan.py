"""The dashboard reads orders and their timeline through indexes, so it stays fast
with a million orders (bench/dashboard_bench.py has the timings).

As in test_search_plan: with sequential scans priced out, a plan in which every scan
of the orders and events tables has an index condition proves that indexes serve it.
The one exception is order_unshipped_placed, a partial index holding only the orders
not shipped yet, which the oldest-open list reads in order from its start.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import dashboard, services
from tests.factories import OrderFactory, WarehouseFactory
from tests.utils import full_scans, requires_postgresql_plans

pytestmark = [requires_postgresql_plans, pytest.mark.django_db]

TABLES = {"orders_order", "orders_orderevent"}
WHOLE_SMALL_INDEXES = {"order_unshipped_placed"}


def scans_without_condition(node):
    if node.get("Index Name") in WHOLE_SMALL_INDEXES:
        return [scan for child in node.get("Plans", []) for scan in scans_without_condition(child)]
    found = full_scans({**node, "Plans": []}, TABLES)
    return found + [scan for child in node.get("Plans", []) for scan in scans_without_condition(child)]


@pytest.mark.parametrize("params", [{}, {"warehouse": "TPE"}])
def test_every_dashboard_query_reads_orders_and_events_by_index(params):
    warehouse = WarehouseFactory(code="TPE")
    OrderFactory(warehouse=warehouse, shipped=True)
    scanning = OrderFactory(warehouse=warehouse, processing=True)
    services.order_scan_refusal_record(order=scanning, code="X", reason="No", actor=None)
    _filterset, scope = dashboard.dashboard_scope(params)
    with CaptureQueriesContext(connection) as captured:
        dashboard.dashboard(scope, timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
            raw = cursor.fetchone()[0]
            plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
            assert scans_without_condition(plan) == [], (query["sql"], plan)

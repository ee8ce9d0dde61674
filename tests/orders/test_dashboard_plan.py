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


def reads(captured):
    """The queries that read (not the savepoints and the writes of the time-in-state
    snapshot, orders.dashboard.cached_stay_times)."""
    return [query for query in captured.captured_queries if query["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]


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
        for query in reads(captured):
            cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
            raw = cursor.fetchone()[0]
            plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
            assert scans_without_condition(plan) == [], (query["sql"], plan)


# --- every read of the timeline is bounded by the period or by one order ---------------

EVENTS = "orders_orderevent"
# A condition on one of these keeps a read of the timeline to the period (created_at)
# or to one order's events (order_id, the stays that started before the period).
BOUNDING_COLUMNS = ("created_at", "order_id")


def plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def unbounded_event_reads(plan):
    """Reads of the events table whose index condition names neither the period nor
    an order: an index scan on kind alone would still read every event of that kind
    ever recorded, although it has an index condition."""
    found = []
    for node in plan_nodes(plan):
        if node.get("Relation Name") != EVENTS:
            continue
        conditions = " ".join(
            [node.get("Index Cond", ""), node.get("Recheck Cond", "")]
            + [child.get("Index Cond", "") for child in plan_nodes(node) if child is not node]
        )
        if not any(column in conditions for column in BOUNDING_COLUMNS):
            found.append(f'{node["Node Type"]} on {EVENTS}: {conditions or "no condition"}')
    return found


def explained(sql):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        raw = cursor.fetchone()[0]
    return (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]


def dashboard_queries(params):
    _filterset, scope = dashboard.dashboard_scope(params)
    with CaptureQueriesContext(connection) as captured:
        dashboard.dashboard(scope, timezone.now())
    return [query["sql"] for query in reads(captured)]


@pytest.mark.parametrize("params", [{}, {"warehouse": "TPE"}, {"period": "last_month"}])
def test_every_dashboard_read_of_the_timeline_is_bounded_by_the_period(params):
    warehouse = WarehouseFactory(code="TPE")
    OrderFactory(warehouse=warehouse, shipped=True)
    scanning = OrderFactory(warehouse=warehouse, processing=True)
    services.order_scan_refusal_record(order=scanning, code="X", reason="No", actor=None)
    queries = dashboard_queries(params)
    assert any(EVENTS in sql for sql in queries)
    assert any("LAG(" in sql for sql in queries)  # nothing kept yet: the stays were worked out
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    for sql in queries:
        plan = explained(sql)
        assert scans_without_condition(plan) == [], (sql, plan)
        assert unbounded_event_reads(plan) == [], (sql, plan)


def test_the_scan_counts_read_their_partial_indexes():
    """Scans and refusals are counted from event_scanned_created and
    event_refused_created (0010), not from every scan event of the period."""
    scanning = OrderFactory(processing=True)
    services.order_scan_refusal_record(order=scanning, code="X", reason="No", actor=None)
    _filterset, scope = dashboard.dashboard_scope({})
    with CaptureQueriesContext(connection) as captured:
        assert dashboard.scan_counts(scope) == {"scans": 0, "refused": 1}
    (sql,) = [query["sql"] for query in captured.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    indexes = {node.get("Index Name") for node in plan_nodes(explained(sql))}
    assert {"event_scanned_created", "event_refused_created"} <= indexes, indexes

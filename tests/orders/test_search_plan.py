"""The look-ups staff make use indexes, so they stay fast with millions of orders.

With sequential scans priced out (enable_seqscan = off), PostgreSQL still reads a
whole table (a Seq Scan, or an index scan with no index condition) whenever no index
can answer the query; so a plan where every scan of these tables has an index
condition proves indexes serve it. Timings on large data: bench/search_bench.py.
"""

import json


import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from orders.selectors import order_search_filter
from tests.factories import CustomerFactory, OrderFactory, order_to
from tests.utils import full_scans, requires_postgresql_plans

pytestmark = [requires_postgresql_plans, pytest.mark.django_db]


def plans_for(term):
    with CaptureQueriesContext(connection) as captured:
        list(Order.objects.filter(order_search_filter(term)))
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
            raw = cursor.fetchone()[0]
            plans.append(raw if isinstance(raw, list) else json.loads(raw))
    return plans




@pytest.mark.parametrize(
    "term",
    ["SO-10001", "someone@example.com", "0912-345-678", "+886 912 345 678", "123456789012", "Lin"],
)
def test_every_search_query_uses_an_index(term):
    customer = CustomerFactory(name="Lin Mei", email="someone@example.com", phone="0912345678")
    order_to(OrderFactory(customer=customer, number="SO-10001"), "packed")
    plans = plans_for(term)
    assert plans, "the search ran no query"
    for plan in plans:
        assert full_scans(plan[0]["Plan"]) == [], plan


def test_the_check_catches_a_full_scan(monkeypatch):
    """A name match on the orders table itself has no index and must be caught."""
    from django.db.models import Q

    import tests.orders.test_search_plan as this

    OrderFactory(number="SO-20001")
    monkeypatch.setattr(this, "order_search_filter", lambda term: Q(ship_name__icontains=term))
    assert any(full_scans(plan[0]["Plan"]) for plan in plans_for("Lin"))

"""The look-ups staff make use indexes, so they stay fast with millions of orders.

With sequential scans priced out (enable_seqscan = off), PostgreSQL still scans a
table whenever no index can answer the query; so a plan without "Seq Scan" proves
an index serves it. Timings on large data are in bench/search_bench.py.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from orders.selectors import order_search_filter
from tests.factories import CustomerFactory, OrderFactory, order_to
from tests.utils import requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db]


def plans_for(term):
    with CaptureQueriesContext(connection) as captured:
        list(Order.objects.filter(order_search_filter(term)))
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
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
        assert "Seq Scan" not in plan, plan

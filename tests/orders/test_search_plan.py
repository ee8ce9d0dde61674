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

from orders.models import Order, OrderEvent
from orders.selectors import order_search_filter
from tests.factories import CustomerFactory, OrderFactory, order_to
from tests.utils import SEARCHED_TABLES, full_scans, requires_postgresql_plans

pytestmark = [requires_postgresql_plans, pytest.mark.django_db]


def explained(captured):
    """(sql, EXPLAIN output) of each captured query, with sequential scans priced out."""
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
            raw = cursor.fetchone()[0]
            plans.append((query["sql"], raw if isinstance(raw, list) else json.loads(raw)))
    return plans


def plans_for(term):
    with CaptureQueriesContext(connection) as captured:
        list(Order.objects.filter(order_search_filter(term)))
    return [plan for _sql, plan in explained(captured)]




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


# --- what callers say, on enough customers that a scan would be chosen -------------

# The shipments table is left out: without its statistics (see many_customers) its
# 20,000 rows are planned as a guess; its queries are the same for every search and
# are checked by test_every_lookup_query_uses_an_index (tests/orders/test_lookup.py).
CALLER_TABLES = SEARCHED_TABLES - {"shipping_shipment"}
CALLER_TERMS = ["林", "美華", "wang", "WANG", "Da-wei", "477523", "477-523", "1052", "#1052", "!!!", "L", "x" * 200]


@pytest.fixture
def many_customers(db):
    """5,000 customers with their name parts and statistics, so that reading every
    row would be a real choice for the planner; a few dozen share a surname (林), a given name
    (美華) or a Latin word (Wang), as real names do."""
    from orders.models import Customer, CustomerNamePart, name_part_rows

    callers = ["林美華", "林志明", "王美華", "Wang Da-wei", "WANG Xiao"]
    customers = []
    for index in range(5_000):
        if index % 100 < len(callers):
            name = callers[index % 100]
        elif index % 2:  # two characters from a range without 林, 美 or 華
            name = f"{chr(0x4E00 + index % 2000)}{chr(0x5200 + index % 1500)}{chr(0x5800 + index % 700)}"
        else:
            name = f"Ho{index:04d} Tsai{index:04d}"
        customer = Customer(name=name, email=f"c{index}@example.com", phone=f"09{index:08d}")
        customer.normalise_contact()
        customers.append(customer)
    customers = Customer.objects.bulk_create(customers)
    CustomerNamePart.objects.bulk_create(
        CustomerNamePart(customer_id=pk, part=part) for pk, part in name_part_rows(customers)
    )
    lin = CustomerFactory(name="林美華", phone="0962-477-523")
    shipped = OrderFactory(customer=lin, number="SO-1052", lines=2, shipped=True)
    # Four orders a customer, each with a line, a shipment and an event: the tables the lookup
    # joins are planned at a real size too.
    line, shipment = shipped.lines.first(), shipped.shipments.first()
    orders = Order.objects.bulk_create(
        Order(number=f"SO-{30000 + index}", customer_id=customers[index % 5000].pk, ship_name="x",
              ship_address1="x", ship_city="x")
        for index in range(20_000)
    )
    line_model, shipment_model = type(line), type(shipment)
    line_model.objects.bulk_create(
        line_model(order_id=order.pk, product_id=line.product_id, sku=line.sku, product_name=line.product_name,
                   quantity=1, unit_price=line.unit_price)
        for order in orders
    )
    shipment_model.objects.bulk_create(
        shipment_model(order_id=order.pk, carrier_id=shipment.carrier_id, tracking_number=f"{order.pk:012d}")
        for order in orders
    )
    OrderEvent.objects.bulk_create(OrderEvent(order_id=order.pk, kind=OrderEvent.Kind.CREATED) for order in orders)
    # The statistics of the customers' tables only: ANALYZE writes a table's size in
    # place, outside the test's transaction, and later tests of the orders and
    # shipments (tests/shipping/test_list_plans.py) would be planned for tables far
    # bigger than theirs.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_customer, orders_customernamepart")
    return lin


def lookup_plans(term):
    from orders.selectors import customer_lookup

    with CaptureQueriesContext(connection) as captured:
        customer_lookup(term)
        # Unordered: how the order list pages and sorts the matches is for
        # tests/orders/test_list_plans.py; whether the match itself is indexed is here.
        list(Order.objects.filter(order_search_filter(term)).order_by())
    return [(sql, plan[0]["Plan"]) for sql, plan in explained(captured)]


@pytest.mark.parametrize("term", CALLER_TERMS)
def test_surnames_phone_endings_and_bare_numbers_are_found_through_indexes(many_customers, term):
    plans = lookup_plans(term)
    assert plans, "the search ran no query"
    for sql, plan in plans:
        assert full_scans(plan, CALLER_TABLES) == [], (term, sql)


def test_the_caller_searches_find_what_they_should_on_many_customers(many_customers):
    from orders.selectors import customer_lookup

    assert many_customers in customer_lookup("477523").customers
    assert customer_lookup("1052").customers[0] == many_customers  # SO-1052's customer first
    assert customer_lookup("林").more_customers  # 100 named 林: the first 20, and "refine"


def test_a_part_lookup_without_its_index_is_caught(many_customers):
    """Without the (part, customer) index the parts table is read whole: the check sees it."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE orders_customernamepart DROP CONSTRAINT customer_name_part_unique")
    assert any(full_scans(plan) for _sql, plan in lookup_plans("林"))

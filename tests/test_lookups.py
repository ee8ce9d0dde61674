"""common/lookups.py: `field__in_ids` finds what `__in` finds, with one parameter on
PostgreSQL however many ids."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order, OrderLine
from tests.factories import CustomerFactory, OrderFactory
from tests.utils import ON_POSTGRESQL

pytestmark = pytest.mark.django_db


def test_it_finds_what_in_finds_by_key_and_by_foreign_key():
    chen, lin, wang = CustomerFactory(), CustomerFactory(), CustomerFactory()
    orders = [OrderFactory(customer=customer) for customer in (chen, lin, wang, chen)]
    ids = [orders[0].pk, orders[2].pk, 10**9]
    assert set(Order.objects.filter(pk__in_ids=ids)) == set(Order.objects.filter(pk__in=ids)) == {orders[0], orders[2]}
    by_customer = Order.objects.filter(customer_id__in_ids=[chen.pk, lin.pk])
    assert set(by_customer) == {orders[0], orders[1], orders[3]}
    # Inside another query (the table then has another alias): still the same rows.
    lines = OrderLine.objects.filter(order__in=Order.objects.filter(customer_id__in_ids=[wang.pk]))
    assert {line.order_id for line in lines} == {orders[2].pk}


def test_no_ids_match_nothing_without_a_query():
    OrderFactory()
    with CaptureQueriesContext(connection) as captured:
        assert list(Order.objects.filter(pk__in_ids=[])) == []
    assert captured.captured_queries == []
    # Or-ed with something else, the empty side simply drops out.
    order = OrderFactory()
    assert list(Order.objects.filter(pk__in_ids=[]) | Order.objects.filter(pk__in_ids=[order.pk])) == [order]


@pytest.mark.skipif(not ON_POSTGRESQL, reason="the one-array parameter is PostgreSQL's; other databases get IN (…)")
def test_on_postgresql_500_ids_are_one_parameter():
    ids = list(range(1, 501))
    sql, params = Order.objects.filter(customer_id__in_ids=ids).query.sql_with_params()
    assert "= ANY(%s::bigint[])" in sql and len(params) == 1 and list(params[0]) == ids

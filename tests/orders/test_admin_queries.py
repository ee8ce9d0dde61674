"""The order list and the order page run a fixed number of queries, however many
rows, lines, shipments and events there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import services
from tests.factories import OrderFactory, tick_manual_steps

pytestmark = pytest.mark.django_db

STATES = ["new", "processing", "packed", "shipped", "delivered"]


def queries_for(client, url, **params):
    client.get(url, params)  # warm the per-process caches (content types) first
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(context.captured_queries)


def make_orders(count):
    """Orders spread over the states with one to three lines each, so that every
    automatic step shown on the list has something to read."""
    orders = []
    for index in range(count):
        state = STATES[index % len(STATES)]
        orders.append(OrderFactory(status=state, lines=1 + index % 3))
    return orders


@pytest.mark.parametrize("params", [{}, {"q": "Customer"}, {"overdue": "yes"}, {"carrier": "1"}])
def test_changelist_queries_do_not_grow_with_rows(client, manager, params):
    client.force_login(manager)
    url = reverse("admin:orders_order_changelist")
    make_orders(5)  # one order in each state
    few = queries_for(client, url, **params)
    make_orders(20)
    many = queries_for(client, url, **params)
    assert few == many


def test_changelist_query_count_is_the_same_for_1_and_20_orders(client, warehouse_user):
    client.force_login(warehouse_user)
    url = reverse("admin:orders_order_changelist")
    OrderFactory()
    one = queries_for(client, url)
    for _index in range(19):
        OrderFactory(lines=3)
    twenty = queries_for(client, url)
    assert one == twenty
    page = client.get(url)
    assert len(page.context["cl"].result_list) == 20


@pytest.mark.parametrize("state", ["new", "processing", "packed", "shipped"])
def test_change_page_queries_do_not_grow_with_lines_and_events(client, warehouse_user, service_user, state):
    client.force_login(warehouse_user)
    small = OrderFactory(status=state, lines=1)
    big = OrderFactory(status=state, lines=12, quantity=2)
    for index in range(15):
        services.order_add_note(order=big, actor=service_user, text=f"note {index}")
    tick_manual_steps(big)

    small_count = queries_for(client, reverse("admin:orders_order_change", args=[small.pk]))
    big_count = queries_for(client, reverse("admin:orders_order_change", args=[big.pk]))
    assert big.lines.count() == 12 and big.events.count() >= small.events.count() + 15
    assert small_count == big_count

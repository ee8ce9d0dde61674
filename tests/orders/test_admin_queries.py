"""The order list and the order page run a fixed number of queries, however many
rows, lines, shipments and events there are."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.models import Order, StatusTarget
from shipping.models import Carrier
from tests.factories import OrderFactory, tick_manual_steps
from tests.utils import changelist_rows

pytestmark = pytest.mark.django_db

STATES = ["new", "processing", "packed", "shipped", "delivered"]


def queries_for(client, url, **params):
    """How many queries a GET runs, and the response (warm per-process caches first)."""
    client.get(url, params)  # warm the per-process caches (content types) first
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(context.captured_queries), response


def make_orders(count):
    """Orders spread over the states with one to three lines each, so that every
    automatic step shown on the list has something to read."""
    orders = []
    for index in range(count):
        state = STATES[index % len(STATES)]
        orders.append(OrderFactory(status=state, lines=1 + index % 3))
    return orders


def make_overdue():
    """Every order in a state with a target time has been there longer than it."""
    longest = StatusTarget.objects.aggregate(hours=Max("target_hours"))["hours"]
    Order.objects.update(status_changed_at=timezone.now() - timedelta(hours=longest + 1))


def carrier_pk():
    # The carrier the shipped orders went with (its pk differs between databases).
    return str(Carrier.objects.get(code="TESTCAT").pk)


@pytest.mark.parametrize("case", ["all", "search", "overdue", "carrier"])
def test_changelist_queries_do_not_grow_with_rows(client, manager, case):
    client.force_login(manager)
    url = reverse("admin:orders_order_changelist")

    def measure():
        if case == "overdue":
            make_overdue()
        params = {
            "all": {},
            "search": {"q": "Customer"},
            "overdue": {"overdue": "yes"},
            "carrier": lambda: {"carrier": carrier_pk()},
        }[case]
        return queries_for(client, url, **(params() if callable(params) else params))

    make_orders(5)  # one order in each state
    few, few_page = measure()
    make_orders(20)
    many, many_page = measure()
    few_rows, many_rows = changelist_rows(few_page), changelist_rows(many_page)
    # Both pages list the rows their queries are counted over, the second more of them.
    assert 0 < len(few_rows) < len(many_rows)
    assert few == many


def test_changelist_query_count_is_the_same_for_1_and_20_orders(client, warehouse_user):
    client.force_login(warehouse_user)
    url = reverse("admin:orders_order_changelist")
    OrderFactory()
    one, one_page = queries_for(client, url)
    assert len(changelist_rows(one_page)) == 1
    for _index in range(19):
        OrderFactory(lines=3)
    twenty, twenty_page = queries_for(client, url)
    assert len(changelist_rows(twenty_page)) == 20
    assert one == twenty


@pytest.mark.parametrize("state", ["new", "processing", "packed", "shipped"])
def test_change_page_queries_do_not_grow_with_lines_and_events(client, warehouse_user, service_user, state):
    client.force_login(warehouse_user)
    small = OrderFactory(status=state, lines=1)
    big = OrderFactory(status=state, lines=12, quantity=2)
    for index in range(15):
        services.order_add_note(order=big, actor=service_user, text=f"note {index}")
    tick_manual_steps(big)

    small_count, small_page = queries_for(client, reverse("admin:orders_order_change", args=[small.pk]))
    big_count, big_page = queries_for(client, reverse("admin:orders_order_change", args=[big.pk]))
    assert big.lines.count() == 12 and big.events.count() >= small.events.count() + 15
    # Each page shows the lines and the timeline whose queries are counted.
    for order, page in ((small, small_page), (big, big_page)):
        html = page.content.decode()
        assert all(line.product.sku in html for line in order.lines.select_related("product"))
    small_html, big_html = small_page.content.decode(), big_page.content.decode()
    assert all(f"note {index}" in big_html for index in range(15)) and "note 0" not in small_html
    assert small_count == big_count

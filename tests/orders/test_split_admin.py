"""The order page's "Split order" form (admin:orders_order_split) and the links
between an order and its backorders."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from orders import services
from orders.models import Order, OrderLine, OrderStatus
from tests.factories import UserFactory
from tests.orders.test_admin import change_url, messages_of
from tests.orders.test_admin_queries import queries_for
from tests.orders.test_services import snapshot
from tests.orders.test_split import line, lines_of, two_line_order

pytestmark = pytest.mark.django_db

S = OrderStatus


def split_url(order):
    return reverse("admin:orders_order_split", args=[order.pk])


def test_the_form_shows_each_line_with_what_may_move(client, warehouse_user):
    order = two_line_order(S.PROCESSING, first=5)
    tea, cup = line(order, "TEA"), line(order, "CUP")
    OrderLine.objects.filter(pk=tea.pk).update(quantity_scanned=2)
    client.force_login(warehouse_user)

    html = client.get(change_url(order)).content.decode()

    assert f'action="{split_url(order)}"' in html
    assert f'name="move-{tea.pk}" value="0" min="0" max="3"' in html
    assert f'name="move-{cup.pk}" value="0" min="0" max="2"' in html
    assert "at most 3 (the rest is scanned or in a parcel)" in html
    assert 'name="reason"' in html and "Reason for splitting" in html


@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED])
def test_no_form_once_the_order_has_shipped(client, manager, status):
    order = two_line_order(status)
    client.force_login(manager)
    html = client.get(change_url(order)).content.decode()
    assert split_url(order) not in html and "Split order" not in html


def test_no_form_without_the_permission(client):
    order = two_line_order()
    viewer = UserFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    response = client.get(change_url(order))
    assert response.status_code == 200
    assert split_url(order) not in response.content.decode()
    # Posting anyway is a 403, and nothing changes.
    before = snapshot(order)
    assert client.post(split_url(order), {f"move-{line(order, 'TEA').pk}": "1"}).status_code == 403
    assert snapshot(order) == before


def test_splitting_from_the_page_says_so_and_links_the_new_order(client, service_user):
    order = two_line_order()
    tea, cup = line(order, "TEA"), line(order, "CUP")
    client.force_login(service_user)

    response = client.post(
        split_url(order), {f"move-{tea.pk}": "2", f"move-{cup.pk}": "0", "reason": "Supplier late"}
    )

    assert response.status_code == 302 and response.url == change_url(order)
    backorder = Order.objects.get(split_from=order)
    assert backorder.number == "SO-1001-B1" and lines_of(backorder) == [("TEA", 2)]
    assert messages_of(response) == [
        (
            "success",
            f'Order SO-1001 is split: the moved lines are in the new order <a href="{change_url(backorder)}">'
            "SO-1001-B1</a>, which starts as New.",
        )
    ]
    # The message is shown as a link on the page it goes back to.
    page = client.get(response.url).content.decode()
    assert f'<a href="{change_url(backorder)}">SO-1001-B1</a>, which starts as New.' in page
    # The original lists its split orders; the backorder names where it came from.
    assert "Split into" in page and f'<a href="{change_url(backorder)}">SO-1001-B1</a>' in page
    assert "Split into SO-1001-B1: 2 × TEA — Supplier late" in page
    back_page = client.get(change_url(backorder)).content.decode()
    assert "Split from" in back_page and f'<a href="{change_url(order)}">SO-1001</a>' in back_page
    assert "Split from SO-1001: 2 × TEA — Supplier late" in back_page


def test_an_empty_field_counts_as_zero(client, warehouse_user):
    order = two_line_order()
    client.force_login(warehouse_user)
    response = client.post(split_url(order), {f"move-{line(order, 'CUP').pk}": "1", f"move-{line(order, 'TEA').pk}": ""})
    assert messages_of(response)[0][0] == "success"
    assert lines_of(Order.objects.get(split_from=order)) == [("CUP", 1)]


@pytest.mark.parametrize("typed", ["abc", "-1", "1.5", "²"])
def test_a_quantity_that_is_no_whole_number_is_refused_naming_the_line(client, warehouse_user, typed):
    order = two_line_order()
    client.force_login(warehouse_user)
    before = snapshot(order)
    tea = line(order, "TEA")
    response = client.post(split_url(order), {f"move-{tea.pk}": typed, "reason": "Short"})
    assert response.status_code == 302
    assert messages_of(response) == [
        ("error", "Enter how many of TEA move to the new order as a whole number (0 for none).")
    ]
    assert snapshot(order) == before
    # The page shows the form open again with what was typed.
    page = client.get(change_url(order)).content.decode()
    assert "<details open>" in page and 'value="Short"' in page


def test_a_refusal_of_the_service_is_a_message_and_keeps_what_was_typed(client, warehouse_user):
    order = two_line_order()
    tea, cup = line(order, "TEA"), line(order, "CUP")
    client.force_login(warehouse_user)
    before = snapshot(order)
    response = client.post(split_url(order), {f"move-{tea.pk}": "3", f"move-{cup.pk}": "2", "reason": "All short"})
    assert messages_of(response) == [
        (
            "error",
            "Splitting every line away would leave order SO-1001 empty: at least one unit must stay. "
            "Cancel the order instead if none of it ships now.",
        )
    ]
    assert snapshot(order) == before
    page = client.get(change_url(order)).content.decode()
    assert f'name="move-{tea.pk}" value="3"' in page and 'value="All short"' in page


def test_nothing_typed_is_refused(client, warehouse_user):
    order = two_line_order()
    client.force_login(warehouse_user)
    response = client.post(split_url(order), {})
    assert messages_of(response) == [("error", "Choose the lines to move to the new order and how many of each.")]
    assert not Order.objects.filter(split_from=order).exists()


def test_the_split_view_is_post_only(client, warehouse_user):
    order = two_line_order()
    client.force_login(warehouse_user)
    assert client.get(split_url(order)).status_code == 405


def test_the_order_page_queries_do_not_grow_with_split_orders(client, warehouse_user):
    order = two_line_order(first=9)
    client.force_login(warehouse_user)
    services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 1})
    one, one_page = queries_for(client, change_url(order))
    for _index in range(5):
        services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 1})
    six, six_page = queries_for(client, change_url(order))
    numbers = [f"SO-1001-B{n}" for n in range(1, 7)]
    assert numbers[0] in one_page.content.decode() and numbers[1] not in one_page.content.decode()
    assert all(number in six_page.content.decode() for number in numbers)
    assert one == six


def test_the_backorder_page_reads_the_original_without_more_queries(client, warehouse_user):
    order = two_line_order()
    client.force_login(warehouse_user)
    plain_count, _plain_page = queries_for(client, change_url(order))
    backorder = services.order_split(order=order, actor=warehouse_user, lines={line(order, "TEA").pk: 1})
    back_count, page = queries_for(client, change_url(backorder))
    assert "Split from" in page.content.decode()
    assert back_count == plain_count


# --- the customer-service lookup -------------------------------------------------------------


def test_the_lookup_shows_where_a_backorder_was_split_from_in_one_query_for_all(client, service_user):
    from tests.orders.test_lookup import queries_for as lookup_queries

    order = two_line_order(first=9)
    client.force_login(service_user)
    customer = order.customer.name
    plain, page = lookup_queries(client, customer)
    assert "Split from" not in page.content.decode()

    first = services.order_split(order=order, actor=service_user, lines={line(order, "TEA").pk: 1})
    one, page = lookup_queries(client, customer)
    html = page.content.decode()
    assert f'Split from <a href="{change_url(order)}">SO-1001</a>' in html and first.number in html
    # One query for the numbers of the orders split from, however many backorders are shown.
    assert one == plain + 1
    for _index in range(3):
        services.order_split(order=order, actor=service_user, lines={line(order, "TEA").pk: 1})
    four, page = lookup_queries(client, customer)
    assert page.content.decode().count("Split from <a") == 4
    assert four == one

"""Returns in the admin (issue 10, item 6): the order page's return form and its
receiving forms, the order page's returns and return state, the order list's badge,
the return list and page."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from inventory.models import StockLevel
from orders.models import OrderStatus, ReturnState
from shipping.models import Return
from shipping.returns import return_open, return_receive
from tests.factories import OrderFactory
from tests.utils import changelist_rows, count_queries, page_queries

pytestmark = pytest.mark.django_db

RETURNS = reverse("admin:shipping_return_changelist")


def change_url(order):
    return reverse("admin:orders_order_change", args=[order.pk])


def action_url(action, order):
    return reverse(f"admin:orders_order_{action}", args=[order.pk])


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)._queued_messages]


def two_lines(**kwargs):
    order = OrderFactory(delivered=True, lines=2, quantity=3, **kwargs)
    return (order, *order.lines.order_by("pk"))


def on_hand(line):
    return StockLevel.objects.get(product_id=line.product_id).on_hand


# --- opening a return on the order page --------------------------------------------------------


def test_the_return_form_shows_per_line_shipped_already_returned_and_what_can_come_back(client, service_user):
    order, first, second = two_lines()
    return_open(order=order, actor=None, lines={first.pk: 3, second.pk: 1}, reason="Too small")
    client.force_login(service_user)
    html = client.get(change_url(order)).content.decode()
    assert 'class="order-restock order-return-form"' in html
    # The first line is all in a return: no input; the second has 2 left.
    assert f'name="quantity-{first.pk}"' not in html
    assert f'name="quantity-{second.pk}" value="0" min="0" max="2"' in html
    assert f"Return #{order.returns.get().pk}" in html


def test_opening_a_return_from_the_order_page(client, service_user):
    order, first, second = two_lines()
    client.force_login(service_user)
    response = client.post(
        action_url("return", order), {"reason": "Wrong colour", f"quantity-{first.pk}": "2", f"quantity-{second.pk}": ""}
    )
    record = order.returns.get()
    assert response.status_code == 302 and response["Location"] == change_url(order)
    assert messages_of(response) == [
        ("success", f"Return #{record.pk} of order {order.number} opened; the warehouse receives it when it arrives.")
    ]
    assert [(line.order_line_id, line.quantity) for line in record.lines.all()] == [(first.pk, 2)]
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


@pytest.mark.parametrize(
    "posted, message",
    [
        ({"q1": "x"}, "Enter how many of {sku1} come back as a whole number (0 for none)."),
        ({"q1": "4"}, "{sku1}: 4 is more than can be returned; at most 3 (3 shipped, 0 already in returns)."),
        ({}, "Choose at least one line and how many of it come back."),
        ({"q1": "1", "reason": ""}, "Give a reason to start a return."),
    ],
)
def test_a_refused_return_says_why_and_keeps_what_was_typed(client, service_user, posted, message):
    order, first, second = two_lines()
    client.force_login(service_user)
    data = {"reason": posted.get("reason", "Wrong size"), f"quantity-{second.pk}": "0"}
    if "q1" in posted:
        data[f"quantity-{first.pk}"] = posted["q1"]
    response = client.post(action_url("return", order), data, follow=True)
    assert response.status_code == 200
    assert ("error", message.format(sku1=first.sku)) in [
        (m.level_tag, m.message) for m in response.context["messages"]
    ]
    assert not order.returns.exists()
    html = response.content.decode()
    if "q1" in posted:
        assert f'name="quantity-{first.pk}" value="{posted["q1"]}"' in html
    if posted.get("reason", "Wrong size"):
        assert 'value="Wrong size"' in html


def test_with_everything_in_returns_the_return_button_says_why_it_is_greyed(client, service_user):
    order = OrderFactory(delivered=True)
    return_open(order=order, actor=None, lines={order.lines.get().pk: 1}, reason="Broken")
    client.force_login(service_user)
    html = client.get(change_url(order)).content.decode()
    assert "Everything that shipped is already in a return." in html


def test_warehouse_staff_see_no_return_form_and_cannot_post_one(client, warehouse_user):
    order, first, _second = two_lines()
    client.force_login(warehouse_user)
    assert "order-return-form" not in client.get(change_url(order)).content.decode()
    response = client.post(action_url("return", order), {"reason": "x", f"quantity-{first.pk}": "1"})
    assert response.status_code == 403
    assert not order.returns.exists()


# --- receiving it ---------------------------------------------------------------------------------


def test_the_warehouse_receives_a_return_with_one_line_back_to_stock_and_one_damaged(client, warehouse_user):
    order, first, second = two_lines()
    record = return_open(order=order, actor=None, lines={first.pk: 2, second.pk: 1}, reason="Too small")
    back, broken = record.lines.order_by("pk")
    stock_first, stock_second = on_hand(first), on_hand(second)
    client.force_login(warehouse_user)
    html = client.get(change_url(order)).content.decode()
    assert f'name="outcome-{back.pk}" value="restocked"' in html and f'name="outcome-{broken.pk}" value="damaged"' in html

    response = client.post(
        action_url("receive_return", order),
        {"return": record.pk, f"outcome-{back.pk}": "restocked", f"outcome-{broken.pk}": "damaged"},
    )

    assert messages_of(response) == [
        ("success", f"Return #{record.pk} received. A refund of TWD 360.00 is due.")
    ]
    assert (on_hand(first), on_hand(second)) == (stock_first + 2, stock_second)
    order.refresh_from_db()
    assert order.return_state == ReturnState.PARTLY
    html = client.get(change_url(order)).content.decode()
    assert 'order-badge--return-partly">Partly returned</span>' in html
    assert "Back to stock" in html and "Damaged" in html
    assert "received by" in html
    assert "Refund: TWD 360.00 (Refund due)" in html


def test_a_refused_receipt_keeps_the_chosen_outcomes(client, warehouse_user):
    order, first, second = two_lines()
    record = return_open(order=order, actor=None, lines={first.pk: 1, second.pk: 1}, reason="Too small")
    back, undecided = record.lines.order_by("pk")
    client.force_login(warehouse_user)
    response = client.post(
        action_url("receive_return", order), {"return": record.pk, f"outcome-{back.pk}": "restocked"}, follow=True
    )
    text = f"Choose “back to stock” or “damaged” for every line of return #{record.pk}: {second.sku}."
    assert ("error", text) in [(m.level_tag, m.message) for m in response.context["messages"]]
    assert f'name="outcome-{back.pk}" value="restocked" required checked' in response.content.decode()
    record.refresh_from_db()
    assert record.status == Return.Status.OPEN


def test_receiving_a_return_twice_is_a_warning(client, warehouse_user):
    order = OrderFactory(delivered=True)
    record = return_open(order=order, actor=None, lines={order.lines.get().pk: 1}, reason="Broken")
    data = {"return": record.pk, f"outcome-{record.lines.get().pk}": "damaged"}
    client.force_login(warehouse_user)
    client.post(action_url("receive_return", order), data)
    response = client.post(action_url("receive_return", order), data)
    assert messages_of(response) == [
        ("warning", f"Return #{record.pk} of order {order.number} has already been received.")
    ]


def test_a_return_of_another_order_is_not_received_here(client, warehouse_user):
    order = OrderFactory(delivered=True)
    other = OrderFactory(delivered=True)
    record = return_open(order=other, actor=None, lines={other.lines.get().pk: 1}, reason="Broken")
    client.force_login(warehouse_user)
    response = client.post(
        action_url("receive_return", order), {"return": record.pk, f"outcome-{record.lines.get().pk}": "damaged"}
    )
    assert messages_of(response) == [("error", f"That return is not on order {order.number}.")]
    record.refresh_from_db()
    assert record.status == Return.Status.OPEN


def test_customer_service_see_no_receiving_form_and_cannot_post_one(client, service_user):
    order = OrderFactory(delivered=True)
    record = return_open(order=order, actor=None, lines={order.lines.get().pk: 1}, reason="Broken")
    client.force_login(service_user)
    html = client.get(change_url(order)).content.decode()
    assert "order-receive-form" not in html and f"Return #{record.pk}" in html
    response = client.post(
        action_url("receive_return", order), {"return": record.pk, f"outcome-{record.lines.get().pk}": "damaged"}
    )
    assert response.status_code == 403


def test_the_order_page_query_count_does_not_grow_with_returns(client, manager):
    order = OrderFactory(delivered=True, lines=4, quantity=5)
    lines = list(order.lines.order_by("pk"))
    client.force_login(manager)
    return_open(order=order, actor=None, lines={lines[0].pk: 1}, reason="One")
    count_queries(client, change_url(order))
    one = count_queries(client, change_url(order))
    for line in lines[1:]:
        record = return_open(order=order, actor=None, lines={line.pk: 1, lines[0].pk: 1}, reason="More")
        return_receive(return_record=record, actor=None, outcomes={entry.pk: "restocked" for entry in record.lines.all()})
    many, page = page_queries(client, change_url(order))
    assert page.content.decode().count('class="order-return"') == 4
    assert many == one


# --- the order list ------------------------------------------------------------------------------


def test_the_order_list_shows_partly_returned_beside_the_status(client, manager):
    order = OrderFactory(delivered=True, lines=2)
    record = return_open(order=order, actor=None, lines={order.lines.first().pk: 1}, reason="Broken")
    return_receive(return_record=record, actor=None, outcomes={record.lines.get().pk: "damaged"})
    client.force_login(manager)
    html = client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert 'order-badge--return-partly">Partly returned</span>' in html


# --- the return list and page ------------------------------------------------------------------------


def test_the_return_list_puts_open_returns_first_and_links_to_the_order(client, warehouse_user):
    old = OrderFactory(delivered=True)
    received = return_open(order=old, actor=None, lines={old.lines.get().pk: 1}, reason="Broken")
    return_receive(return_record=received, actor=None, outcomes={received.lines.get().pk: "restocked"})
    order = OrderFactory(delivered=True)
    waiting = return_open(order=order, actor=None, lines={order.lines.get().pk: 1}, reason="Too small")
    client.force_login(warehouse_user)
    response = client.get(RETURNS)
    assert [record.pk for record in changelist_rows(response)] == [waiting.pk, received.pk]
    html = response.content.decode()
    assert f'href="{change_url(order)}#return-{waiting.pk}">{order.number}</a>' in html
    assert f"1 × {old.lines.get().sku} (Back to stock)" in html


def test_the_return_list_filters_by_status_and_finds_by_order_number(client, warehouse_user):
    first = OrderFactory(delivered=True)
    one = return_open(order=first, actor=None, lines={first.lines.get().pk: 1}, reason="Broken")
    second = OrderFactory(delivered=True)
    two = return_open(order=second, actor=None, lines={second.lines.get().pk: 1}, reason="Broken")
    return_receive(return_record=two, actor=None, outcomes={two.lines.get().pk: "damaged"})
    client.force_login(warehouse_user)
    assert [r.pk for r in changelist_rows(client.get(RETURNS, {"status__exact": "received"}))] == [two.pk]
    assert [r.pk for r in changelist_rows(client.get(RETURNS, {"q": first.number.lower()}))] == [one.pk]
    assert changelist_rows(client.get(RETURNS, {"q": "SO-0"})) == []


def test_the_return_list_query_count_does_not_grow(client, warehouse_user):
    client.force_login(warehouse_user)
    order = OrderFactory(delivered=True)
    return_open(order=order, actor=None, lines={order.lines.get().pk: 1}, reason="Broken")
    count_queries(client, RETURNS)
    one, one_page = page_queries(client, RETURNS)
    for _index in range(4):
        order = OrderFactory(delivered=True, lines=2)
        record = return_open(order=order, actor=None, lines={line.pk: 1 for line in order.lines.all()}, reason="x")
        return_receive(return_record=record, actor=None, outcomes={line.pk: "damaged" for line in record.lines.all()})
    many, many_page = page_queries(client, RETURNS)
    assert (len(changelist_rows(one_page)), len(changelist_rows(many_page))) == (1, 5)
    assert many == one


def test_the_return_page_shows_its_lines_and_refund(client, manager):
    order = OrderFactory(delivered=True, lines=2)
    first, second = order.lines.order_by("pk")
    record = return_open(order=order, actor=None, lines={first.pk: 1, second.pk: 1}, reason="Too small")
    one, two = record.lines.order_by("pk")
    return_receive(return_record=record, actor=None, outcomes={one.pk: "restocked", two.pk: "damaged"})
    client.force_login(manager)
    html = client.get(reverse("admin:shipping_return_change", args=[record.pk])).content.decode()
    assert first.sku in html and second.sku in html
    assert "Back to stock" in html and "Damaged" in html and "Too small" in html
    assert "TWD 240.00 (Refund due)" in html

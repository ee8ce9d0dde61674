"""Payments and refunds in the admin, as each role uses them: the order page's payment
line, mark-paid form and refunds block, the bulk "mark paid", the lookup, the refund
list and page with "mark refunded", the managers' start page, the order list's
payment-method filter. Refusals are messages, never error pages."""

from decimal import Decimal

import pytest
from django.urls import reverse

from orders import services
from orders.models import Order, OrderStatus, PaymentMethod, PaymentStatus, Refund
from tests.factories import OrderFactory, manager_user
from tests.orders.test_admin import action_url, change_url, messages_of
from tests.utils import changelist_rows, page_queries

pytestmark = pytest.mark.django_db

M = PaymentMethod
REFUNDS = "admin:orders_refund_changelist"


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def unpaid(method, **fields):
    return OrderFactory(payment_status=PaymentStatus.PENDING, payment_method=method, **fields)


def mark_refunded_url(refund):
    return reverse("admin:orders_refund_mark_refunded", args=[refund.pk])


def cancelled_with_refund(**fields):
    order = OrderFactory(**fields)
    services.order_cancel(order=order, actor=None, reason="Out of stock at the supplier")
    return order, order.refunds.get()


# --- the order page: payment ------------------------------------------------------------------


def test_an_atm_order_is_marked_paid_from_its_page_with_the_last_five_digits(as_user, service_user):
    order = unpaid(M.ATM)
    client = as_user(service_user)
    page = client.get(change_url(order)).content.decode()
    assert "ATM transfer" in page
    assert 'name="reference" required inputmode="numeric" pattern="[0-9]{5}"' in page

    response = client.post(action_url("mark_paid", order), {"reference": "12a"})
    assert messages_of(response)[0][0] == "error"
    assert "last five digits of the account the transfer came from" in messages_of(response)[0][1]
    # The page shows the refused reference again, once.
    assert 'value="12a"' in client.get(change_url(order)).content.decode()
    assert Order.objects.get(pk=order.pk).payment_status == PaymentStatus.PENDING

    response = client.post(action_url("mark_paid", order), {"reference": "40213"})
    assert ("success", f"Order {order.number} is marked paid.") in messages_of(response)
    page = client.get(change_url(order)).content.decode()
    assert "reference 40213" in page
    assert "Paid: ATM transfer, reference 40213" in page  # the timeline


def test_a_card_order_is_marked_paid_without_a_reference(as_user, service_user):
    order = unpaid(M.CARD)
    client = as_user(service_user)
    assert 'placeholder="Reference (optional)"' in client.get(change_url(order)).content.decode()
    response = client.post(action_url("mark_paid", order), {"reference": ""})
    assert ("success", f"Order {order.number} is marked paid.") in messages_of(response)


def test_a_cash_on_delivery_order_offers_no_mark_paid_and_refuses_one_posted(as_user, service_user):
    order = unpaid(M.CASH_ON_DELIVERY)
    client = as_user(service_user)
    response = client.get(change_url(order))
    assert not response.context["can_mark_paid"]
    page = response.content.decode()
    assert "Cash on delivery" in page and "The carrier collects the payment on delivery." in page
    assert action_url("mark_paid", order) not in page
    response = client.post(action_url("mark_paid", order))
    assert response.status_code == 302
    assert messages_of(response) == [
        (
            "error",
            f"Order {order.number} is paid to the carrier (Cash on delivery): it is paid when the carrier's "
            "delivery report says the cash was collected, not by hand.",
        )
    ]


def test_the_order_page_shows_the_payment_fields(as_user, manager):
    order = OrderFactory(payment_method=M.STORE_PICKUP)
    response = as_user(manager).get(change_url(order))
    fields = [field for _name, options in response.context["adminform"].fieldsets for field in options["fields"]]
    assert {"payment_method", "payment_reference", "paid_at"} <= set(fields)
    assert "Pay at store pickup" in response.content.decode()


# --- the bulk action --------------------------------------------------------------------------


def test_bulk_mark_paid_marks_card_orders_and_refuses_atm_and_cash_on_delivery_each_with_why(as_user, service_user):
    card = unpaid(M.CARD, number="SO-1")
    atm = unpaid(M.ATM, number="SO-2")
    cod = unpaid(M.CASH_ON_DELIVERY, number="SO-3")
    paid = OrderFactory(number="SO-4")
    response = as_user(service_user).post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_paid_selected", "_selected_action": [card.pk, atm.pk, cod.pk, paid.pk]},
    )
    assert response.status_code == 302
    (level, text), = messages_of(response)
    assert level == "warning"
    assert text.startswith("1 marked paid")
    assert "SO-2: paid by ATM transfer: mark it paid on its page, with the last five digits of the transfer account." in text
    assert "Order SO-3 is paid to the carrier (Cash on delivery)" in text
    assert "Order SO-4 is already paid." in text
    statuses = dict(Order.objects.values_list("number", "payment_status"))
    assert statuses == {"SO-1": "paid", "SO-2": "pending", "SO-3": "pending", "SO-4": "paid"}


def test_warehouse_staff_have_no_bulk_mark_paid(as_user, warehouse_user):
    response = as_user(warehouse_user).get(reverse("admin:orders_order_changelist"))
    choices = [value for value, _label in response.context["action_form"].fields["action"].choices]
    assert "mark_paid_selected" not in choices


# --- the lookup -------------------------------------------------------------------------------


def test_the_lookup_shows_the_method_a_reference_field_for_atm_and_a_refund_due(as_user, service_user):
    atm = unpaid(M.ATM, number="SO-5001")
    cancelled, _refund = cancelled_with_refund(number="SO-5002", customer=atm.customer)
    client = as_user(service_user)
    lookup = reverse("admin:orders_order_lookup")
    page = client.get(lookup, {"q": atm.customer.email}).content.decode()
    assert 'pattern="[0-9]{5}"' in page and "Last 5 digits of the transfer account for SO-5001" in page
    assert "Refund due: TWD 120.00" in page
    assert "Credit card" in page and "ATM transfer" in page

    back = f"{lookup}?q={atm.customer.email}"
    response = client.post(action_url("mark_paid", atm), {"reference": "", "next": back})
    assert response.url == back
    assert messages_of(response)[0][0] == "error"
    response = client.post(action_url("mark_paid", atm), {"reference": "77001", "next": back})
    assert ("success", "Order SO-5001 is marked paid.") in messages_of(response)
    assert "ATM transfer · reference 77001" in client.get(back).content.decode()


# --- refunds on the order page ----------------------------------------------------------------


def test_a_manager_marks_a_refund_refunded_from_the_order_page(as_user, manager):
    order, refund = cancelled_with_refund()
    client = as_user(manager)
    page = client.get(change_url(order)).content.decode()
    assert "Refund due: TWD 120.00" in page
    assert mark_refunded_url(refund) in page

    response = client.post(mark_refunded_url(refund), {"reference": "", "next": change_url(order)})
    assert response.url == change_url(order)
    assert messages_of(response) == [("error", "Enter the reference of the refund transfer.")]

    response = client.post(mark_refunded_url(refund), {"reference": "TRF-881", "next": change_url(order)})
    assert response.url == change_url(order)
    assert messages_of(response) == [
        ("success", f"The refund of TWD 120.00 on order {order.number} is marked refunded.")
    ]
    response = client.get(change_url(order))
    page = response.content.decode()
    assert "TRF-881" in page and response.context["refund_due"] == 0
    assert "Refunded TWD 120.00, reference TRF-881" in page
    assert Order.objects.get(pk=order.pk).payment_status == PaymentStatus.REFUNDED

    response = client.post(mark_refunded_url(refund), {"reference": "AGAIN", "next": change_url(order)})
    assert messages_of(response)[0][0] == "warning"
    assert "was already marked refunded" in messages_of(response)[0][1]


def test_a_refused_reference_is_shown_again_on_the_order_page(as_user, manager):
    order, refund = cancelled_with_refund()
    client = as_user(manager)
    client.post(mark_refunded_url(refund), {"reference": "R" * 65, "next": change_url(order)})
    assert f'value="{"R" * 65}"' in client.get(change_url(order)).content.decode()


def test_customer_service_and_warehouse_see_refunds_but_cannot_record_them(as_user, service_user, warehouse_user):
    order, refund = cancelled_with_refund()
    for user in (service_user, warehouse_user):
        client = as_user(user)
        response = client.get(change_url(order))
        page = response.content.decode()
        assert "Refund due: TWD 120.00" in page
        assert mark_refunded_url(refund) not in page
        assert not response.context["can_refund_by_hand"]
        assert client.post(mark_refunded_url(refund), {"reference": "X"}).status_code == 403
        assert client.post(action_url("refund_open", order), {"amount": "1", "note": "x"}).status_code == 403
    refund.refresh_from_db()
    assert refund.status == Refund.Status.DUE


def test_mark_refunded_answers_post_only(as_user, manager):
    _order, refund = cancelled_with_refund()
    assert as_user(manager).get(mark_refunded_url(refund)).status_code == 405


def test_a_manager_grants_a_refund_by_hand_and_more_than_is_left_is_refused(as_user, manager):
    order = OrderFactory(lines=2, delivered=True)
    client = as_user(manager)
    page = client.get(change_url(order)).content.decode()
    assert action_url("refund_open", order) in page and "At most TWD 240.00 is left to refund." in page

    response = client.post(action_url("refund_open", order), {"amount": "300", "note": "Broken mug"})
    assert messages_of(response) == [
        ("error", f"Order {order.number} can be refunded at most TWD 240.00 more; TWD 300.00 is more than was paid.")
    ]
    page = client.get(change_url(order)).content.decode()
    assert 'value="300"' in page and 'value="Broken mug"' in page  # kept for correcting

    response = client.post(action_url("refund_open", order), {"amount": "1,000", "note": "Broken mug"})
    assert messages_of(response)[0][0] == "error"
    response = client.post(action_url("refund_open", order), {"amount": "60", "note": "Broken mug"})
    assert messages_of(response) == [("success", f"A refund of TWD 60.00 is due on order {order.number}.")]
    assert order.refunds.get().amount == Decimal("60.00")


def test_an_unpaid_order_offers_no_refund_by_hand(as_user, manager):
    order = unpaid(M.CARD)
    assert not as_user(manager).get(change_url(order)).context["can_refund_by_hand"]


# --- the refund list and page -----------------------------------------------------------------


def test_the_refund_list_puts_refunds_due_first_and_links_each_order(as_user, manager):
    old_order, old_due = cancelled_with_refund(number="SO-7001")
    done_order, done = cancelled_with_refund(number="SO-7002")
    services.refund_mark_refunded(refund=done, actor=manager, reference="DONE-1")
    new_order, new_due = cancelled_with_refund(number="SO-7003")
    response = as_user(manager).get(reverse(REFUNDS))
    assert [refund.pk for refund in changelist_rows(response)] == [new_due.pk, old_due.pk, done.pk]
    page = response.content.decode()
    assert f'href="{change_url(old_order)}"' in page
    assert reverse("admin:orders_refund_change", args=[old_due.pk]) in page
    assert "TWD 120.00" in page and "DONE-1" in page
    assert reverse("admin:orders_refund_add") not in page  # read-only: no "add"


def test_the_refund_list_filters_by_status_and_reason_and_finds_an_order_number(as_user, manager):
    cancelled, due = cancelled_with_refund(number="SO-8001")
    delivered = OrderFactory(number="SO-8002", delivered=True)
    by_hand = services.refund_open_by_hand(order=delivered, actor=manager, amount="20", note="Late")
    services.refund_mark_refunded(refund=by_hand, actor=manager, reference="R-1")
    client = as_user(manager)

    def listed(**params):
        return [refund.pk for refund in changelist_rows(client.get(reverse(REFUNDS), params))]

    assert listed(status__exact="due") == [due.pk]
    assert listed(status__exact="refunded") == [by_hand.pk]
    assert listed(reason__exact="goodwill") == [by_hand.pk]
    assert listed(q="SO-8001") == [due.pk]
    assert listed(q="8002") == [by_hand.pk]  # the number without its prefix
    assert listed(q="so-8002") == [by_hand.pk]
    assert listed(q="SO-80") == []  # exact numbers only
    response = client.get(reverse(REFUNDS), {"amount__gt": "1"})
    assert response.status_code == 302  # an unknown filter is taken out, with a message


def test_the_refund_list_runs_the_same_queries_for_one_row_or_many(as_user, manager):
    client = as_user(manager)
    cancelled_with_refund()
    few, response = page_queries(client, reverse(REFUNDS))
    assert len(changelist_rows(response)) == 1
    for _ in range(6):
        order, refund = cancelled_with_refund()
        services.refund_mark_refunded(refund=refund, actor=manager_user(), reference="R")
    many, response = page_queries(client, reverse(REFUNDS))
    assert len(changelist_rows(response)) == 7
    assert few == many


def test_the_refund_page_marks_it_refunded_and_goes_back_to_itself(as_user, manager, service_user):
    order, refund = cancelled_with_refund()
    page_url = reverse("admin:orders_refund_change", args=[refund.pk])
    assert mark_refunded_url(refund) not in as_user(service_user).get(page_url).content.decode()
    client = as_user(manager)
    page = client.get(page_url).content.decode()
    assert mark_refunded_url(refund) in page and order.number in page
    response = client.post(mark_refunded_url(refund), {"reference": "   "})
    assert response.url == page_url
    assert messages_of(response) == [("error", "Enter the reference of the refund transfer.")]
    response = client.post(mark_refunded_url(refund), {"reference": "TRF-2"})
    assert response.url == page_url
    page = client.get(page_url).content.decode()
    assert "TRF-2" in page and mark_refunded_url(refund) not in page


def test_an_unknown_refund_is_a_404(as_user, manager):
    response = as_user(manager).post(reverse("admin:orders_refund_mark_refunded", args=[999999]), {"reference": "X"})
    assert response.status_code == 404


def test_refunds_are_in_the_orders_section_of_the_index(as_user, manager):
    response = as_user(manager).get(reverse("admin:index"))
    orders = next(app for app in response.context["app_list"] if app["app_label"] == "orders")
    assert "Refunds" in [str(model["name"]) for model in orders["models"]]


# --- the managers' start page -------------------------------------------------------------------


def test_managers_see_the_refunds_due_on_their_start_page(as_user, manager, service_user):
    order, refund = cancelled_with_refund(number="SO-9001")
    other, done = cancelled_with_refund(number="SO-9002")
    services.refund_mark_refunded(refund=done, actor=manager, reference="R")
    response = as_user(manager).get(reverse("admin:index"))
    assert [row["pk"] for row in response.context["refunds_due"]] == [refund.pk]
    assert response.context["refunds_due_total"] == 1
    page = response.content.decode()
    assert "Refunds due" in page and "All 1 refund due" in page and "SO-9001" in page
    assert "Refunds due" not in as_user(service_user).get(reverse("admin:index")).content.decode()


# --- the order list ---------------------------------------------------------------------------


def test_the_order_list_filters_by_payment_method(as_user, manager):
    atm = unpaid(M.ATM)
    OrderFactory(payment_method=M.CARD)
    cod = unpaid(M.CASH_ON_DELIVERY)
    client = as_user(manager)

    def listed(value):
        return {order.pk for order in changelist_rows(client.get(reverse("admin:orders_order_changelist"), {"payment_method__exact": value}))}

    assert listed("atm") == {atm.pk}
    assert listed("cod") == {cod.pk}
    response = client.get(reverse("admin:orders_order_changelist"))
    assert "payment method" in response.content.decode().lower()


def test_the_export_starts_from_the_payment_method_filter():
    from django.contrib import admin

    from orders.filters import OrderReportFilter

    atm = unpaid(M.ATM)
    OrderFactory(payment_method=M.CARD)
    data = admin.site._registry[Order].export_filter_data({"payment_method__exact": "atm"})
    assert data == {"payment_method": "atm"}
    assert list(OrderReportFilter(data, queryset=Order.objects.all()).qs) == [atm]


def test_cancelling_from_the_order_page_opens_the_refund(as_user, service_user):
    order = OrderFactory(status=OrderStatus.PROCESSING)
    response = as_user(service_user).post(action_url("cancel", order), {"reason": "Customer asked"})
    assert ("success", f"Order {order.number} is cancelled.") in messages_of(response)
    assert order.refunds.get().reason == Refund.Reason.CANCELLED

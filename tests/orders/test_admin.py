"""The order admin through the test client, as each role uses it."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.exceptions import WorkflowError
from orders.models import ChecklistStep, Order, OrderEvent, OrderStatus, PaymentStatus
from shipping.models import Shipment
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    OrderFactory,
    tick_manual_steps,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:orders_order_changelist"


def change_url(order):
    return reverse("admin:orders_order_change", args=[order.pk])


def action_url(action, order):
    return reverse(f"admin:orders_order_{action}", args=[order.pk])


def messages_of(response):
    """The messages this request added (unread ones from earlier requests left out)."""
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)._queued_messages]


def current_items(order):
    return {item.label: item for item in order.checklist_items.filter(state=order.status)}


def tick_all_manual(client, order):
    for item in order.checklist_items.filter(state=order.status, predicate="", done_at__isnull=True):
        response = client.post(action_url("tick", order), {"item": item.pk})
        assert response.status_code == 302
        assert ("success", f"“{item.label}” ticked.") in messages_of(response)


def advance(client, order):
    order.refresh_from_db()
    return client.post(action_url("advance", order), {"expected_status": order.status})


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


# --- the order page, role by role -------------------------------------------------------


def test_warehouse_takes_an_order_from_new_to_shipped_through_the_admin(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory(lines=2)
    carrier = CarrierFactory()

    tick_all_manual(client, order)
    response = advance(client, order)
    assert ("success", f"Order {order.number} is now Processing.") in messages_of(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING

    tick_all_manual(client, order)
    order.lines.update(quantity_scanned=F("quantity"))  # the packing station's part
    advance(client, order)
    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED

    response = client.post(action_url("create_shipment", order), {"carrier": carrier.pk, "tracking_number": "1234 5678 9012"})
    assert response.status_code == 302
    assert ("success", "Shipment T-Cat 123456789012 created.") in messages_of(response)
    tick_all_manual(client, order)
    advance(client, order)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert order.shipments.get().status == Shipment.Status.SHIPPED
    transitions = order.events.filter(kind=OrderEvent.Kind.TRANSITION)
    assert transitions.count() == 3
    assert set(transitions.values_list("actor", flat=True)) == {warehouse_user.pk}

    page = client.get(change_url(order))
    assert page.status_code == 200
    assert "https://track.example.com/?no=123456789012" in page.content.decode()


def test_order_page_shows_checklist_actions_lines_and_timeline(as_user, warehouse_user):
    order = OrderFactory(processing=True, lines=2)
    response = as_user(warehouse_user).get(change_url(order))
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["title"] == f"Order {order.number}"
    assert 'class="order-badge order-badge--processing"' in html
    assert "Items picked" in html
    assert "line(s) not fully scanned" in html  # the hint of the automatic step
    assert response.context["progress"] == "0/4"
    for line in order.lines.all():
        assert line.sku in html
    assert "Reserved in MAIN" in html  # the timeline
    advance_action = next(a for a in response.context["actions"] if a["code"] == "advance")
    assert not advance_action["enabled"]
    assert "Items picked" in advance_action["reason"]
    # Warehouse staff may hold but never cancel: cancel is not shown at all.
    assert [a["code"] for a in response.context["actions"]] == ["advance", "hold"]
    assert "Cancel order" not in html
    assert "You do not have permission" not in html
    # Status is never a form field; the form has no save button.
    assert 'name="status"' not in html
    assert 'name="_save"' not in html


def test_customer_service_cannot_tick_or_advance(as_user, service_user):
    client = as_user(service_user)
    order = OrderFactory()
    item = current_items(order)["Order details verified: name, phone and address complete"]

    assert client.post(action_url("tick", order), {"item": item.pk}).status_code == 403
    assert client.post(action_url("advance", order), {"expected_status": "new"}).status_code == 403
    assert client.post(action_url("create_shipment", order), {"carrier": CarrierFactory().pk}).status_code == 403
    item.refresh_from_db()
    order.refresh_from_db()
    assert item.done_at is None
    assert order.status == OrderStatus.NEW

    page = client.get(change_url(order))
    assert page.context["checklist"] and not any(row["tickable"] for row in page.context["checklist"])
    assert action_url("tick", order) not in page.content.decode()


def test_customer_service_holds_resumes_and_cancels(as_user, service_user):
    client = as_user(service_user)
    order = OrderFactory(processing=True)

    response = client.post(action_url("hold", order), {"reason": "Customer asked to wait"})
    assert ("success", f"Order {order.number} is on hold.") in messages_of(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    page = client.get(change_url(order))
    assert page.context["hold_reason"] == "Customer asked to wait"
    assert "Held from Processing." in page.content.decode()

    client.post(action_url("resume", order))
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING

    response = client.post(action_url("cancel", order), {"reason": "Customer changed their mind"})
    assert ("success", f"Order {order.number} is cancelled.") in messages_of(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    level = order.lines.get().product.stock_levels.get()
    assert level.reserved == 0


def test_hold_without_a_reason_is_refused_with_a_message(as_user, warehouse_user):
    order = OrderFactory()
    response = as_user(warehouse_user).post(action_url("hold", order), {"reason": "  "})
    assert response.status_code == 302
    assert messages_of(response) == [("error", "Give a reason to put the order on hold.")]
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW


def test_warehouse_may_hold_but_not_cancel(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory()
    assert client.post(action_url("cancel", order), {"reason": "no"}).status_code == 403
    client.post(action_url("hold", order), {"reason": "Address unclear"})
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD


def test_refused_advance_names_the_missing_steps(as_user, warehouse_user):
    order = OrderFactory(payment_status=PaymentStatus.PENDING)
    response = advance(as_user(warehouse_user), order)
    assert response.status_code == 302
    assert response["Location"] == change_url(order)
    [(level, text)] = messages_of(response)
    assert level == "error"
    assert "Payment confirmed" in text
    assert "Order details verified: name, phone and address complete" in text
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW


@pytest.mark.parametrize(
    "action",
    [
        "advance",
        "hold",
        "resume",
        "cancel",
        "return",
        "tick",
        "untick",
        "note",
        "mark_paid",
        "create_shipment",
        "shipment_delivered",
        "receive_return",
    ],
)
def test_get_on_an_action_url_is_405(as_user, manager, action):
    order = OrderFactory()
    response = as_user(manager).get(action_url(action, order))
    assert response.status_code == 405
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    assert order.events.count() == 1


def test_stale_tick_is_a_warning_not_an_error(as_user, warehouse_user, manager):
    order = OrderFactory()
    item = current_items(order)["Order details verified: name, phone and address complete"]
    services.checklist_tick(item=item, actor=manager)

    response = as_user(warehouse_user).post(action_url("tick", order), {"item": item.pk})
    assert response.status_code == 302
    assert messages_of(response) == [
        ("warning", "“Order details verified: name, phone and address complete” was already ticked by manager.")
    ]


def test_untick_and_unknown_step(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory()
    item = current_items(order)["Order details verified: name, phone and address complete"]
    client.post(action_url("tick", order), {"item": item.pk})
    response = client.post(action_url("untick", order), {"item": item.pk})
    assert ("success", f"“{item.label}” unticked.") in messages_of(response)
    item.refresh_from_db()
    assert item.done_at is None

    other = OrderFactory()
    foreign = current_items(other)["Order details verified: name, phone and address complete"]
    for bad in (str(foreign.pk), "abc", ""):
        response = client.post(action_url("tick", order), {"item": bad})
        assert messages_of(response) == [("error", f"That step is not on order {order.number}.")]
    foreign.refresh_from_db()
    assert foreign.done_at is None


def test_automatic_step_cannot_be_ticked_by_hand(as_user, warehouse_user):
    order = OrderFactory(payment_status=PaymentStatus.PENDING)
    item = current_items(order)["Payment confirmed"]
    response = as_user(warehouse_user).post(action_url("tick", order), {"item": item.pk})
    [(level, text)] = messages_of(response)
    assert level == "error" and "checked automatically" in text


def test_double_advance_says_already(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory()
    tick_manual_steps(order)
    first = client.post(action_url("advance", order), {"expected_status": "new"})
    second = client.post(action_url("advance", order), {"expected_status": "new"})
    assert messages_of(first)[0][0] == "success"
    assert messages_of(second) == [("warning", f"Order {order.number} is already Processing.")]
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING
    assert order.events.filter(kind=OrderEvent.Kind.TRANSITION).count() == 1


def test_advance_refused_for_lack_of_stock_is_a_message(as_user, warehouse_user):
    order = OrderFactory(stock=0)
    tick_manual_steps(order)
    response = advance(as_user(warehouse_user), order)
    [(level, text)] = messages_of(response)
    assert level == "error"
    assert order.lines.get().sku in text


def test_action_on_a_missing_order_is_404(as_user, manager):
    response = as_user(manager).post(reverse("admin:orders_order_advance", args=[999999]))
    assert response.status_code == 404


def test_anonymous_user_is_sent_to_login(client):
    order = OrderFactory()
    response = client.post(action_url("advance", order))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# --- corrections, payment, notes, shipments, returns ------------------------------------


def test_mark_paid(as_user, service_user, warehouse_user):
    order = OrderFactory(payment_status=PaymentStatus.PENDING)
    assert as_user(warehouse_user).post(action_url("mark_paid", order)).status_code == 403
    client = as_user(service_user)
    assert client.get(change_url(order)).context["can_mark_paid"]
    response = client.post(action_url("mark_paid", order))
    assert ("success", f"Order {order.number} is marked paid.") in messages_of(response)
    response = client.post(action_url("mark_paid", order))
    assert messages_of(response) == [("warning", f"Order {order.number} is already paid.")]
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID


def test_note_appears_on_the_timeline(as_user, service_user):
    client = as_user(service_user)
    order = OrderFactory()
    client.post(action_url("note", order), {"text": "Customer called: leave at the door"})
    response = client.post(action_url("note", order), {"text": ""})
    assert messages_of(response) == [("error", "A note cannot be empty.")]
    page = client.get(change_url(order))
    assert page.context["events"][0].kind == OrderEvent.Kind.NOTE
    assert "Customer called: leave at the door" in page.content.decode()


def test_correct_address_form(as_user, service_user):
    client = as_user(service_user)
    order = OrderFactory(processing=True)
    url = action_url("address", order)
    form_page = client.get(url)
    assert form_page.status_code == 200
    assert form_page.context["form"].initial["ship_city"] == "Taipei"

    data = {field: getattr(order, field) for field in services.ADDRESS_FIELDS}
    data.update(ship_city="Kaohsiung", ship_postcode="800")
    response = client.post(url, data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.ship_city, order.ship_postcode) == ("Kaohsiung", "800")
    assert order.events.filter(kind=OrderEvent.Kind.ADDRESS).count() == 1

    bad = client.post(url, {**data, "ship_address1": "", "ship_country": "TWN"})
    assert bad.status_code == 200
    assert set(bad.context["form"].errors) == {"ship_address1", "ship_country"}
    order.refresh_from_db()
    assert order.ship_address1 == "No. 7, Section 5, Xinyi Road"


def test_address_cannot_be_corrected_after_shipping(as_user, service_user, warehouse_user):
    order = OrderFactory(shipped=True)
    client = as_user(service_user)
    assert not client.get(change_url(order)).context["can_correct_address"]
    response = client.get(action_url("address", order))
    assert response.status_code == 302
    assert "can no longer be changed" in messages_of(response)[0][1]
    assert as_user(warehouse_user).get(action_url("address", order)).status_code == 403


def test_create_shipment_with_a_bad_tracking_number_is_refused(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory(packed=True)
    carrier = CarrierFactory()
    response = client.post(action_url("create_shipment", order), {"carrier": carrier.pk, "tracking_number": "12AB"})
    [(level, text)] = messages_of(response)
    assert level == "error" and "not a valid T-Cat tracking number" in text
    response = client.post(action_url("create_shipment", order), {"carrier": "", "tracking_number": "123456789012"})
    assert messages_of(response) == [("error", "Choose a carrier.")]
    assert not order.shipments.exists()


def test_mark_shipment_delivered_then_advance(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory(shipped=True)
    shipment = order.shipments.get()
    page = client.get(change_url(order))
    assert action_url("shipment_delivered", order) in page.content.decode()
    response = client.post(action_url("shipment_delivered", order), {"shipment": shipment.pk})
    assert ("success", f"Shipment {shipment.tracking_number} is marked delivered.") in messages_of(response)
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED
    advance(client, order)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


def test_no_add_change_or_delete_of_orders_through_the_form(as_user, manager):
    client = as_user(manager)
    order = OrderFactory()
    assert client.get(reverse("admin:orders_order_add")).status_code == 403
    assert client.post(change_url(order), {"ship_city": "Hacked"}).status_code == 403
    assert client.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    order.refresh_from_db()
    assert order.ship_city == "Taipei"


# --- the order list -----------------------------------------------------------------------


def test_list_columns(as_user, warehouse_user):
    order = OrderFactory(processing=True)
    Order.objects.filter(pk=order.pk).update(status_changed_at=timezone.now() - timedelta(hours=30))
    fresh = OrderFactory()
    response = as_user(warehouse_user).get(reverse(CHANGELIST))
    html = response.content.decode()
    assert 'class="order-badge order-badge--processing"' in html
    assert '<span class="order-overdue" title="Target: 24 h">30 h</span>' in html
    assert "0/4" in html  # processing: nothing ticked yet
    assert '<span class="order-progress">2/3</span>' in html  # new: paid and in stock, not verified
    assert "TWD 120.00" in html
    assert fresh.number in html
    counts = {row["status"]: row["count"] for row in response.context["status_counts"]}
    assert counts[""] == 2 and counts["new"] == 1 and counts["processing"] == 1 and counts["shipped"] == 0


def test_overdue_filter(as_user, manager):
    late = OrderFactory()
    Order.objects.filter(pk=late.pk).update(status_changed_at=timezone.now() - timedelta(hours=25))
    on_time = OrderFactory()
    shipped_long_ago = OrderFactory(shipped=True)  # shipped target is 120 h
    Order.objects.filter(pk=shipped_long_ago.pk).update(status_changed_at=timezone.now() - timedelta(hours=100))
    client = as_user(manager)
    listed = set(client.get(reverse(CHANGELIST), {"overdue": "yes"}).context["cl"].result_list)
    assert {o.number for o in listed} == {late.number}
    listed = set(client.get(reverse(CHANGELIST), {"overdue": "no"}).context["cl"].result_list)
    assert {o.number for o in listed} == {on_time.number, shipped_long_ago.number}


def test_carrier_status_payment_and_date_filters(as_user, manager):
    shipped = OrderFactory(shipped=True)
    pending = OrderFactory(payment_status=PaymentStatus.PENDING)
    old = OrderFactory(placed_at=timezone.now() - timedelta(days=40))
    client = as_user(manager)

    def numbers(**params):
        response = client.get(reverse(CHANGELIST), params)
        assert response.status_code == 200
        return {o.number for o in response.context["cl"].result_list}

    carrier = shipped.shipments.get().carrier
    assert numbers(carrier=carrier.pk) == {shipped.number}
    assert numbers(status__exact="new") == {pending.number, old.number}
    assert numbers(payment_status__exact="pending") == {pending.number}
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert numbers(placed_at__range__gte=since) == {shipped.number, pending.number}
    until = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert numbers(placed_at__range__lte=until) == {old.number}


def test_search_by_phone_typed_with_dashes(as_user, service_user):
    customer = CustomerFactory(phone="+886 912 345 678")
    wanted = OrderFactory(customer=customer)
    other = OrderFactory()
    response = as_user(service_user).get(reverse(CHANGELIST), {"q": "0912-345-678"})
    assert response.status_code == 200
    assert {o.number for o in response.context["cl"].result_list} == {wanted.number}
    assert other.number not in response.content.decode()


def test_search_by_email_tracking_number_and_name(as_user, service_user):
    customer = CustomerFactory(name="陳小明", email="ming@example.com")
    by_customer = OrderFactory(customer=customer)
    shipped = OrderFactory(shipped=True)
    OrderFactory()
    client = as_user(service_user)

    def found(term):
        return {o.number for o in client.get(reverse(CHANGELIST), {"q": term}).context["cl"].result_list}

    assert found("MING@Example.com") == {by_customer.number}
    assert found("小明") == {by_customer.number}
    assert found(shipped.shipments.get().tracking_number) == {shipped.number}
    assert found("nobody-by-this-name") == set()


def test_exact_order_number_goes_straight_to_the_order(as_user, service_user):
    order = OrderFactory(number="SO-4242")
    client = as_user(service_user)
    for term in ("SO-4242", " so-4242 "):
        response = client.get(reverse(CHANGELIST), {"q": term})
        assert response.status_code == 302
        assert response["Location"] == change_url(order)
    assert client.get(reverse(CHANGELIST), {"q": "SO-424"}).status_code == 200


def test_too_long_search_shows_a_message_and_no_rows(as_user, service_user):
    OrderFactory()
    response = as_user(service_user).get(reverse(CHANGELIST), {"q": "9" * 10_000})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    shown = [(message.level_tag, str(message)) for message in response.context["messages"]]
    assert shown == [("warning", "The search is too long (at most 200 characters).")]
    assert "The search is too long" in response.content.decode()


# --- bulk actions -----------------------------------------------------------------------


def bulk(client, action, orders, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [o.pk for o in orders], "index": 0, **extra},
    )


def test_bulk_advance_names_the_refused_orders(as_user, warehouse_user):
    ready = [OrderFactory(number=f"SO-200{i}") for i in range(2)]
    for order in ready:
        tick_manual_steps(order)
    not_ticked = OrderFactory(number="SO-1001")
    cancelled = OrderFactory(number="SO-1002")
    services.order_cancel(order=cancelled, actor=None, reason="test")

    response = bulk(as_user(warehouse_user), "advance_selected", [*ready, not_ticked, cancelled])
    assert response.status_code == 302
    [(level, text)] = messages_of(response)
    assert level == "warning"
    # A summary line, then one line per refused order.
    assert text == (
        '2 advanced, 2 refused<ul class="message-list">'
        "<li>SO-1001: missing “Order details verified: name, phone and address complete”</li>"
        "<li>Order SO-1002 cannot be advanced while it is Cancelled.</li></ul>"
    )
    assert set(Order.objects.filter(status=OrderStatus.PROCESSING).values_list("number", flat=True)) == {
        "SO-2000",
        "SO-2001",
    }


def test_bulk_result_lines_are_escaped_and_follow_the_language(as_user, warehouse_user):
    """The message is HTML (a list): what comes from the data is escaped, and the
    summary and lines are in the reader's language."""
    step = ChecklistStep.objects.create(state="new", label="<b>Gift</b> wrapped", position=99, required=True)
    order = OrderFactory(number="SO-<1>")
    client = as_user(warehouse_user)
    [(level, text)] = messages_of(bulk(client, "advance_selected", [order]))
    assert level == "error"
    assert "<li>SO-&lt;1&gt;: missing " in text and "“&lt;b&gt;Gift&lt;/b&gt; wrapped”" in text
    assert "<b>" not in text
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert '0 advanced, 1 refused<ul class="message-list"><li>SO-&lt;1&gt;: missing' in page
    step.delete()

    cancelled = OrderFactory(number="SO-9")
    services.order_cancel(order=cancelled, actor=None, reason="test")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    [(_level, text)] = messages_of(bulk(client, "advance_selected", [cancelled]))
    assert '<ul class="message-list"><li>' in text
    assert "Cancelled" not in text and "SO-9" in text  # the refusal in Chinese


def test_bulk_advance_all_done_is_a_success(as_user, warehouse_user):
    order = OrderFactory()
    tick_manual_steps(order)
    response = bulk(as_user(warehouse_user), "advance_selected", [order])
    assert messages_of(response) == [("success", "1 advanced")]


def test_bulk_actions_follow_permissions(as_user, service_user, warehouse_user):
    order = OrderFactory()
    tick_manual_steps(order)
    client = as_user(service_user)
    choices = dict(client.get(reverse(CHANGELIST)).context["action_form"].fields["action"].choices)
    assert "hold_selected" in choices and "advance_selected" not in choices
    bulk(client, "advance_selected", [order])
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    choices = dict(as_user(warehouse_user).get(reverse(CHANGELIST)).context["action_form"].fields["action"].choices)
    assert {"hold_selected", "advance_selected"} <= set(choices)
    assert "delete_selected" not in choices


def test_bulk_hold_asks_for_a_reason_first(as_user, service_user):
    client = as_user(service_user)
    new = OrderFactory(number="SO-3001")
    shipped = OrderFactory(number="SO-3002", shipped=True)

    confirm = bulk(client, "hold_selected", [new, shipped])
    assert confirm.status_code == 200
    assert "cannot be put on hold in this state" in confirm.content.decode()
    new.refresh_from_db()
    assert new.status == OrderStatus.NEW

    # The confirmation form posts back without "index", like delete_selected's.
    data = {"action": "hold_selected", "_selected_action": [new.pk, shipped.pk], "post": "yes"}
    no_reason = client.post(reverse(CHANGELIST), {**data, "reason": ""})
    assert no_reason.status_code == 200
    assert no_reason.context["reason_missing"]

    done = client.post(reverse(CHANGELIST), {**data, "reason": "Warehouse closed for typhoon"})
    assert done.status_code == 302
    [(level, text)] = messages_of(done)
    assert level == "warning"
    assert text == '1 put on hold, 1 refused<ul class="message-list"><li>Order SO-3002 cannot be put on hold while it is Shipped.</li></ul>'
    new.refresh_from_db()
    assert new.status == OrderStatus.ON_HOLD
    assert new.events.filter(kind=OrderEvent.Kind.TRANSITION).latest("pk").message == "Warehouse closed for typhoon"


def test_list_progress_uses_live_stock(as_user, warehouse_user):
    order = OrderFactory(stock=0)
    response = as_user(warehouse_user).get(reverse(CHANGELIST))
    row = next(o for o in response.context["cl"].result_list if o.pk == order.pk)
    assert row.admin_progress == ("1/3", False)  # paid; neither verified nor in stock


def test_prefetched_stock_gives_the_same_verdict_as_a_live_check(db):
    from orders import checklist
    from orders.models import Predicate
    from tests.factories import WarehouseFactory

    in_stock = OrderFactory(lines=2)
    short = OrderFactory(stock=0)
    elsewhere = OrderFactory(warehouse=WarehouseFactory(code="SOUTH", priority=5))
    orders = list(Order.objects.filter(pk__in=[in_stock.pk, short.pk, elsewhere.pk]).prefetch_related("lines"))
    live = {order.number: checklist.evaluate(Predicate.STOCK_AVAILABLE, order) for order in orders}
    checklist.prefetch_stock(orders)
    snapshot = {order.number: checklist.evaluate(Predicate.STOCK_AVAILABLE, order) for order in orders}
    assert snapshot == live
    assert live[in_stock.number][0] and live[elsewhere.number][0] and not live[short.number][0]


# --- refused forms keep what was typed ---------------------------------------------------


def test_a_refused_tracking_number_keeps_the_carrier_and_number_and_names_the_format(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory(packed=True)
    carrier = CarrierFactory()

    response = client.post(action_url("create_shipment", order), {"carrier": carrier.pk, "tracking_number": "12AB"}, follow=True)

    html = response.content.decode()
    assert "“12AB” is not a valid T-Cat tracking number: expected 12 digits, like 123456789012." in html
    assert f'<option value="{carrier.pk}" selected>T-Cat</option>' in html
    assert 'name="tracking_number"' in html and 'value="12AB"' in html
    # Every carrier's format is on the form, the chosen one marked.
    assert '<li class="is-chosen">T-Cat: 12 digits, like 123456789012</li>' in html
    # The other carriers that deliver to a home (migrated) too; not an express-only one.
    assert "新竹物流 HCT: 10 digits, like 1234567890" in html
    assert "DHL Express" not in html
    # Read once: the next visit shows an empty form.
    again = client.get(change_url(order)).content.decode()
    assert 'value="12AB"' not in again and " selected>T-Cat" not in again
    assert not order.shipments.exists()


def test_a_shipment_without_a_carrier_keeps_the_typed_number(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory(packed=True)
    CarrierFactory()
    html = client.post(action_url("create_shipment", order), {"carrier": "", "tracking_number": "123456789012"}, follow=True).content.decode()
    assert "Choose a carrier." in html and 'value="123456789012"' in html


def test_a_refused_note_keeps_its_text(as_user, service_user):
    client = as_user(service_user)
    order = OrderFactory(processing=True)
    long_note = "x" * 2001  # over the note's limit: refused by the service
    html = client.post(action_url("note", order), {"text": long_note}, follow=True).content.decode()
    assert f">{long_note}</textarea>" in html
    assert not order.events.filter(kind=OrderEvent.Kind.NOTE).exists()


def test_a_refused_hold_keeps_the_reason_typed(as_user, warehouse_user, monkeypatch):
    client = as_user(warehouse_user)
    order = OrderFactory(processing=True)
    reason = "Waiting for the customer to confirm the address"

    def refuse(**kwargs):
        raise WorkflowError("Refused for the test.")  # e.g. a colleague moved the order meanwhile

    monkeypatch.setattr(services, "order_hold", refuse)
    html = client.post(action_url("hold", order), {"reason": reason}, follow=True).content.decode()
    assert "Refused for the test." in html
    assert f'value="{reason}"' in html
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING


def test_a_refused_void_keeps_its_reason_on_that_shipment(as_user, warehouse_user):
    client = as_user(warehouse_user)
    order = OrderFactory(packed=True)
    client.post(action_url("create_shipment", order), {"carrier": CarrierFactory().pk, "tracking_number": "123456789012"})
    shipment = order.shipments.get()
    too_long = "Mistyped " * 250  # over the reason's limit: refused by the service

    html = client.post(action_url("void_shipment", order), {"shipment": shipment.pk, "reason": too_long}, follow=True).content.decode()

    assert "A reason can be at most 2000 characters" in html
    assert f'value="{too_long}"' in html
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PENDING

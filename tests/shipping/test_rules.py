"""The shipping rules of issue #7: voiding a shipment before pickup, no delivery on a
finished order (item 2), and tracking patterns that cannot hang the server, with
tracking numbers encoded in their links (item 9). The lock order (item 6) is raced in
tests/test_concurrency.py. Issue 10 dropped "one live shipment per order": an order
ships in parcels (tests/shipping/test_parcels.py), and a second one is refused only
when every item is already in a parcel."""

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from orders import services as orders
from orders.models import OrderEvent, OrderStatus
from shipping import checks as shipping_checks
from shipping import services
from shipping.admin.carriers import CarrierForm
from shipping.exceptions import ShippingError
from shipping.models import Carrier, Shipment
from shipping.services import shipment_create, shipment_mark_delivered, shipment_void
from shipping.tracking import tracking_number_valid
from tests.factories import CarrierFactory, OrderFactory, return_everything, tick_manual_steps

pytestmark = pytest.mark.django_db

S = OrderStatus
SHIPMENTS = reverse("admin:shipping_shipment_changelist")


def change_url(order):
    return reverse("admin:orders_order_change", args=[order.pk])


def action_url(action, order):
    return reverse(f"admin:orders_order_{action}", args=[order.pk])


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)._queued_messages]


def booked(order, number="123456789012", actor=None):
    return shipment_create(order=order, carrier=CarrierFactory(), tracking_number=number, actor=actor)


def live_shipments(order):
    return list(order.shipments.exclude(status=Shipment.Status.CANCELLED))


# --- a second shipment once everything is in one -------------------------------------------


def test_a_second_shipment_when_every_item_is_in_one_is_refused(warehouse_user):
    order = OrderFactory(packed=True, lines=1, quantity=2)
    first = booked(order, actor=warehouse_user)

    with pytest.raises(ShippingError) as refused:
        booked(order, "999999999999", actor=warehouse_user)

    assert str(refused.value) == (
        f"Every item of order {order.number} is already in a parcel; void a parcel waiting for pickup to change one."
    )
    assert live_shipments(order) == [first]
    assert order.events.filter(kind=OrderEvent.Kind.SHIPMENT).count() == 1
    # The ordered quantity is shipped once: two for the line of two, not four.
    assert sum(first.lines.values_list("quantity", flat=True)) == 2


def test_a_shipment_written_meanwhile_is_refused_in_the_services_words(monkeypatch, warehouse_user):
    """Someone else's shipment with the same number appears between the service's check
    and its INSERT: the constraint refuses the INSERT and the service says why, instead
    of an error page."""
    check = "_tracking_number_user"
    order = OrderFactory(packed=True, number="SO-RACE")
    carrier = CarrierFactory()
    other = OrderFactory(packed=True, number="SO-OTHER")
    racer = Shipment.objects.create(order=other, carrier=carrier, tracking_number="123456789012")
    expected = "Tracking number 123456789012 is already used by order SO-OTHER."
    real = getattr(services, check)
    calls = []

    def blind_the_first_time(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(services, check, blind_the_first_time)

    with pytest.raises(ShippingError) as refused:
        shipment_create(order=order, carrier=carrier, tracking_number="123456789012", actor=warehouse_user)

    assert str(refused.value) == expected
    assert len(calls) == 2  # the check, then again after the constraint refused the INSERT
    assert list(Shipment.objects.exclude(status="cancelled")) == [racer]
    assert not order.events.filter(kind=OrderEvent.Kind.SHIPMENT).exists()


# --- voiding a shipment before pickup --------------------------------------------------------


def test_void_a_pending_shipment_then_book_the_corrected_number(warehouse_user):
    order = OrderFactory(packed=True)
    mistyped = booked(order, "123456789012", actor=warehouse_user)

    voided = shipment_void(shipment=mistyped, actor=warehouse_user, reason="  Mistyped: the label says 123456789013 ")

    mistyped.refresh_from_db()
    assert voided == mistyped
    assert mistyped.status == Shipment.Status.CANCELLED
    assert (mistyped.voided_by, mistyped.void_reason) == (warehouse_user, "Mistyped: the label says 123456789013")
    assert mistyped.voided_at is not None
    event = order.events.filter(kind=OrderEvent.Kind.SHIPMENT).latest("id")
    assert (event.actor, event.message) == (warehouse_user, "Mistyped: the label says 123456789013")
    assert event.data == {"action": "voided", "carrier": "TESTCAT", "tracking_number": "123456789012"}
    assert event.describe() == "Shipment voided: TESTCAT 123456789012 — Mistyped: the label says 123456789013"
    assert shipping_checks.shipment_tracked(order) == (False, "No shipment yet.")

    corrected = booked(order, "123456789013", actor=warehouse_user)
    assert live_shipments(order) == [corrected]
    tick_manual_steps(order)
    order = orders.order_advance(order=order, actor=warehouse_user)
    mistyped.refresh_from_db()
    corrected.refresh_from_db()
    assert (mistyped.status, corrected.status) == (Shipment.Status.CANCELLED, Shipment.Status.SHIPPED)


@pytest.mark.parametrize(
    "reason, message",
    [
        ("", "Give a reason to void the shipment."),
        ("   ", "Give a reason to void the shipment."),
        (None, "Give a reason to void the shipment."),
        ("x" * 2001, "A reason can be at most 2000 characters; this one has 2001."),
    ],
)
def test_voiding_needs_a_reason_of_at_most_2000_characters(warehouse_user, reason, message):
    order = OrderFactory(packed=True)
    shipment = booked(order)
    with pytest.raises(ShippingError) as refused:
        shipment_void(shipment=shipment, actor=warehouse_user, reason=reason)
    assert str(refused.value) == message
    shipment.refresh_from_db()
    assert (shipment.status, shipment.voided_at, shipment.void_reason) == (Shipment.Status.PENDING, None, "")
    assert not order.events.filter(kind=OrderEvent.Kind.SHIPMENT, data__action="voided").exists()


def test_a_reason_of_exactly_2000_characters_is_kept_whole(warehouse_user):
    shipment = booked(OrderFactory(packed=True))
    shipment_void(shipment=shipment, actor=warehouse_user, reason="x" * 2000)
    shipment.refresh_from_db()
    assert shipment.void_reason == "x" * 2000


@pytest.mark.parametrize("status, label", [(S.SHIPPED, "Shipped"), (S.DELIVERED, "Delivered")])
def test_only_a_shipment_waiting_for_pickup_can_be_voided(warehouse_user, status, label):
    order = OrderFactory(status=status)
    shipment = order.shipments.get()
    before = shipment.status
    with pytest.raises(ShippingError) as refused:
        shipment_void(shipment=shipment, actor=warehouse_user, reason="Wrong number")
    assert str(refused.value) == (
        f"Shipment {shipment.tracking_number} is {label}; only a shipment waiting for pickup can be voided."
    )
    shipment.refresh_from_db()
    assert (shipment.status, shipment.voided_at) == (before, None)


def test_a_voided_shipment_cannot_be_voided_again(warehouse_user):
    shipment = booked(OrderFactory(packed=True))
    shipment_void(shipment=shipment, actor=warehouse_user, reason="Wrong number")
    with pytest.raises(ShippingError, match="is Cancelled; only a shipment waiting for pickup can be voided"):
        shipment_void(shipment=shipment, actor=warehouse_user, reason="Again")
    assert shipment.order.events.filter(data__action="voided").count() == 1


def test_voiding_is_for_those_who_create_shipments(service_user, warehouse_user):
    shipment = booked(OrderFactory(packed=True))
    with pytest.raises(PermissionDenied, match="void shipments"):
        shipment_void(shipment=shipment, actor=service_user, reason="Wrong number")
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PENDING
    shipment_void(shipment=shipment, actor=warehouse_user, reason="Wrong number")


# --- no delivery on a finished order -----------------------------------------------------------


def returned_order(manager):
    order = OrderFactory(shipped=True)
    return return_everything(order, actor=manager, receiver=manager, reason="Refused at the door")


def completed_order(manager):
    order = OrderFactory(status=S.COMPLETED)
    order.shipments.update(status=Shipment.Status.SHIPPED, delivered_at=None)  # a carrier report arriving late
    return order


def cancelled_order(manager):
    order = OrderFactory(packed=True)
    booked(order)
    orders.order_cancel(order=order, actor=manager, reason="Customer cancelled")
    order.shipments.update(status=Shipment.Status.SHIPPED)  # as if the parcel had left anyway
    return order


@pytest.mark.parametrize(
    "make, label",
    [(returned_order, "Returned"), (completed_order, "Completed"), (cancelled_order, "Cancelled")],
)
def test_a_finished_orders_shipment_cannot_be_marked_delivered(manager, make, label):
    order = make(manager)
    shipment = order.shipments.get()
    assert shipment.status == Shipment.Status.SHIPPED
    events = order.events.count()
    with pytest.raises(ShippingError) as refused:
        shipment_mark_delivered(shipment=shipment, actor=manager)
    assert str(refused.value) == f"Order {order.number} is {label}; its shipments can no longer be marked delivered."
    shipment.refresh_from_db()
    assert (shipment.status, shipment.delivered_at) == (Shipment.Status.SHIPPED, None)
    assert order.events.count() == events


# --- the order page ----------------------------------------------------------------------------


def test_the_void_button_is_next_to_a_pending_shipment_for_warehouse_staff(client, warehouse_user, service_user):
    order = OrderFactory(packed=True)
    booked(order)
    client.force_login(warehouse_user)
    html = client.get(change_url(order)).content.decode()
    assert action_url("void_shipment", order) in html
    assert 'name="reason" required maxlength="2000"' in html
    # Every item is in that parcel: no form to create another.
    assert action_url("create_shipment", order) not in html

    client.force_login(service_user)
    assert action_url("void_shipment", order) not in client.get(change_url(order)).content.decode()


def test_no_void_button_once_the_shipment_has_shipped(client, warehouse_user):
    order = OrderFactory(shipped=True)
    client.force_login(warehouse_user)
    assert action_url("void_shipment", order) not in client.get(change_url(order)).content.decode()


def test_void_from_the_order_page_then_create_the_corrected_one(client, warehouse_user):
    order = OrderFactory(packed=True)
    shipment = booked(order)
    client.force_login(warehouse_user)

    response = client.post(action_url("void_shipment", order), {"shipment": shipment.pk, "reason": "Mistyped"})

    assert response.status_code == 302
    assert messages_of(response) == [
        ("success", "Shipment 123456789012 is voided; the order can have a new one.")
    ]
    shipment.refresh_from_db()
    assert (shipment.status, shipment.void_reason, shipment.voided_by) == ("cancelled", "Mistyped", warehouse_user)
    html = client.get(change_url(order)).content.decode()
    assert "Voided: Mistyped" in html  # next to the shipment
    assert "Shipment voided: TESTCAT 123456789012 — Mistyped" in html  # the timeline
    assert action_url("create_shipment", order) in html

    carrier = CarrierFactory()
    response = client.post(action_url("create_shipment", order), {"carrier": carrier.pk, "tracking_number": "123456789013"})
    assert messages_of(response) == [("success", "Shipment T-Cat 123456789013 created.")]
    assert [s.tracking_number for s in live_shipments(order)] == ["123456789013"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"reason": ""}, "Give a reason to void the shipment."),
        ({"reason": "x" * 2001}, "A reason can be at most 2000 characters; this one has 2001."),
        ({"reason": "Mistyped", "shipment": "abc"}, "That shipment is not on order {number}."),
        ({"reason": "Mistyped", "shipment": "999999"}, "That shipment is not on order {number}."),
    ],
)
def test_void_from_the_order_page_refused_with_a_message(client, warehouse_user, data, message):
    order = OrderFactory(packed=True)
    shipment = booked(order)
    client.force_login(warehouse_user)
    response = client.post(action_url("void_shipment", order), {"shipment": shipment.pk, **data})
    assert response.status_code == 302
    assert messages_of(response) == [("error", message.format(number=order.number))]
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PENDING


def test_void_of_another_orders_shipment_is_refused(client, warehouse_user):
    order, other = OrderFactory(packed=True), OrderFactory(packed=True)
    theirs = booked(other)
    client.force_login(warehouse_user)
    response = client.post(action_url("void_shipment", order), {"shipment": theirs.pk, "reason": "Mistyped"})
    assert messages_of(response) == [("error", f"That shipment is not on order {order.number}.")]
    theirs.refresh_from_db()
    assert theirs.status == Shipment.Status.PENDING


def test_void_from_the_order_page_needs_the_permission_and_a_post(client, service_user, warehouse_user):
    order = OrderFactory(packed=True)
    shipment = booked(order)
    client.force_login(service_user)
    assert client.post(action_url("void_shipment", order), {"shipment": shipment.pk, "reason": "x"}).status_code == 403
    client.force_login(warehouse_user)
    assert client.get(action_url("void_shipment", order)).status_code == 405
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PENDING


def test_a_second_shipment_from_the_order_page_once_all_is_in_one_is_refused_with_a_message(client, warehouse_user):
    order = OrderFactory(packed=True)
    booked(order)
    client.force_login(warehouse_user)
    response = client.post(
        action_url("create_shipment", order), {"carrier": CarrierFactory().pk, "tracking_number": "999999999999"}
    )
    assert response.status_code == 302
    assert messages_of(response) == [
        (
            "error",
            f"Every item of order {order.number} is already in a parcel; void a parcel waiting for pickup to change one.",
        )
    ]
    assert len(live_shipments(order)) == 1


def test_mark_delivered_on_a_returned_order_is_a_message_and_the_button_is_gone(client, manager):
    order = returned_order(manager)
    shipment = order.shipments.get()
    client.force_login(manager)
    assert action_url("shipment_delivered", order) not in client.get(change_url(order)).content.decode()

    response = client.post(action_url("shipment_delivered", order), {"shipment": shipment.pk})

    assert response.status_code == 302
    assert messages_of(response) == [
        ("error", f"Order {order.number} is Returned; its shipments can no longer be marked delivered.")
    ]
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.SHIPPED


def test_mark_delivered_after_the_order_was_advanced_meanwhile_is_a_message(client, warehouse_user):
    """The page was loaded while the shipment was shipped; meanwhile a colleague
    advanced the order to delivered (which delivers the shipment): the button answers
    with a message, not an error page."""
    order = OrderFactory(shipped=True)
    shipment = order.shipments.get()
    client.force_login(warehouse_user)
    assert action_url("shipment_delivered", order) in client.get(change_url(order)).content.decode()
    item = order.checklist_items.get(state=S.SHIPPED, predicate="shipment_delivered")
    orders.checklist_tick(item=item, actor=warehouse_user)
    orders.order_advance(order=order, actor=warehouse_user)

    response = client.post(action_url("shipment_delivered", order), {"shipment": shipment.pk})

    assert response.status_code == 302
    assert messages_of(response) == [("error", f"Shipment {shipment.tracking_number} is Delivered, not shipped.")]
    assert order.events.filter(kind=OrderEvent.Kind.SHIPMENT, data__action="delivered").count() == 0


def test_the_bulk_mark_delivered_action_refuses_a_returned_orders_shipment(client, manager):
    returned = returned_order(manager).shipments.get()
    shipped = OrderFactory(shipped=True).shipments.get()
    client.force_login(manager)
    response = client.post(
        SHIPMENTS, {"action": "mark_delivered", "_selected_action": [returned.pk, shipped.pk], "index": 0}
    )
    assert response.status_code == 302
    [text] = [str(m) for m in get_messages(response.wsgi_request)]
    assert text == (
        '1 shipment marked delivered, 1 refused<ul class="message-list">'
        f"<li>Order {returned.order.number} is Returned; its shipments can no longer be marked delivered.</li></ul>"
    )
    returned.refresh_from_db()
    shipped.refresh_from_db()
    assert (returned.status, shipped.status) == (Shipment.Status.SHIPPED, Shipment.Status.DELIVERED)


# --- tracking patterns and links ---------------------------------------------------------------


def test_a_pattern_that_backtracks_exponentially_in_re_is_matched_in_linear_time():
    # With Python's re, fullmatch("(A+)+B", "A" * 35 + "C") takes hours; RE2 answers at once.
    carrier = CarrierFactory(code="SLOW", name="Slow", tracking_number_pattern="(A+)+B")
    assert tracking_number_valid(carrier, "A" * 35 + "C") is False
    assert tracking_number_valid(carrier, "A" * 40 + "C") is False
    assert tracking_number_valid(carrier, "A" * 62 + "B") is True
    order = OrderFactory(packed=True)
    Shipment.objects.create(order=order, carrier=carrier, tracking_number="A" * 35 + "C")
    assert shipping_checks.shipment_tracked(order) == (False, "No shipment has a valid tracking number.")


def test_a_tracking_number_over_64_characters_is_refused(warehouse_user):
    carrier = CarrierFactory(code="ANY", name="Any Post", tracking_number_pattern="")
    assert tracking_number_valid(carrier, "1" * 64) is True
    assert tracking_number_valid(carrier, "1" * 65) is False
    order = OrderFactory(packed=True)
    with pytest.raises(ShippingError) as refused:
        shipment_create(order=order, carrier=carrier, tracking_number="1" * 65, actor=warehouse_user)
    assert str(refused.value) == "A tracking number has at most 64 characters; this one has 65."
    with pytest.raises(ShippingError, match="at most 64 characters; this one has 10000"):
        shipment_create(order=order, carrier=carrier, tracking_number="A" * 10000, actor=warehouse_user)
    assert not order.shipments.exists()


def carrier_form(pattern):
    return CarrierForm(
        data={
            "code": "SF",
            "name": "SF Express",
            "tracking_url_template": "https://www.sf-express.com/track?id={tracking_number}",
            "tracking_number_pattern": pattern,
            "serves_express": "on",
            "is_active": "on",
        }
    )


@pytest.mark.parametrize(
    "pattern, detail",
    [
        (r"(\d)\1{9}", r"invalid escape sequence: \1"),  # a backreference
        (r"(?=\d{10})\d+", "invalid perl operator: (?="),  # look-ahead
        (r"(?<=X)\d{10}", "invalid perl operator: (?<="),  # look-behind
        ("[0-9", "missing ]: [0-9"),
    ],
)
def test_the_carrier_form_refuses_a_pattern_re2_cannot_run(pattern, detail):
    form = carrier_form(pattern)
    assert not form.is_valid()
    assert form.errors["tracking_number_pattern"] == [
        "This is not a valid regular expression, or it uses what is not allowed here "
        rf"(backreferences such as \1, look-ahead or look-behind): {detail}"
    ]


def test_the_carrier_form_accepts_an_ordinary_pattern():
    form = carrier_form(r" \d{14}|[A-Z]{2}\d{9}TW ")
    assert form.is_valid(), form.errors
    assert form.save().tracking_number_pattern == r"\d{14}|[A-Z]{2}\d{9}TW"


def test_the_carrier_admin_refuses_a_backreference(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("admin:shipping_carrier_add"),
        {
            "code": "SF",
            "name": "SF",
            "tracking_url_template": "",
            "tracking_number_pattern": r"(\d)\1",
            "serves_express": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "backreferences such as" in response.content.decode()
    assert not Carrier.objects.filter(code="SF").exists()


def test_the_model_validates_the_pattern_on_every_path():
    carrier = Carrier(code="X", name="X", tracking_number_pattern=r"(\d)\1", serves_home=True)
    with pytest.raises(ValidationError) as refused:
        carrier.full_clean()
    assert list(refused.value.message_dict) == ["tracking_number_pattern"]
    Carrier(code="Y", name="Y", tracking_number_pattern=r"\d{12}", serves_home=True).full_clean()


def test_a_stored_pattern_re2_cannot_run_refuses_shipments_with_a_message(warehouse_user):
    # Saved before patterns were checked with RE2.
    carrier = CarrierFactory(code="OLD", name="Old Post", tracking_number_pattern=r"(\d)\1{11}")
    assert tracking_number_valid(carrier, "111111111111") is False
    order = OrderFactory(packed=True)
    with pytest.raises(ShippingError) as refused:
        shipment_create(order=order, carrier=carrier, tracking_number="111111111111", actor=warehouse_user)
    assert str(refused.value) == (
        "The tracking number pattern of Old Post cannot be used; a manager must correct it on the carrier page."
    )
    assert not order.shipments.exists()


def test_the_tracking_number_is_url_encoded_in_the_tracking_link(client, warehouse_user):
    carrier = CarrierFactory(code="ANY", name="Any Post", tracking_number_pattern="")
    assert carrier.tracking_url("AB&REDIRECT=x") == "https://track.example.com/?no=AB%26REDIRECT%3Dx"
    assert carrier.tracking_url("A/B#C?D E") == "https://track.example.com/?no=A%2FB%23C%3FD%20E"
    assert carrier.tracking_url("123456789012") == "https://track.example.com/?no=123456789012"

    order = OrderFactory(packed=True)
    shipment = shipment_create(order=order, carrier=carrier, tracking_number="ab&redirect=x", actor=warehouse_user)
    assert shipment.tracking_url == "https://track.example.com/?no=AB%26REDIRECT%3DX"
    client.force_login(warehouse_user)
    html = client.get(change_url(order)).content.decode()
    assert 'href="https://track.example.com/?no=AB%26REDIRECT%3DX"' in html
    assert "REDIRECT=X\"" not in html

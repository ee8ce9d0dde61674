"""The shipped e-mail when the mail server fails: the failure is on the timeline in every
backend, never an error in the request, and is retried with back-off where the backend
can defer a task."""

import smtplib
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django_tasks import default_task_backend

from orders import services, tasks
from orders.models import OrderEvent, OrderStatus
from shipping.services import shipment_create
from tests.factories import CarrierFactory, CustomerFactory, OrderFactory, order_to, tick_manual_steps

E = OrderEvent.Kind
S = OrderStatus
DUMMY = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def mail_server_down(monkeypatch):
    """send_mail as it fails when the SMTP server hangs up; counts the attempts."""
    calls = []

    def refuse(subject, body, from_email, to, **kwargs):
        calls.append(to)
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(tasks, "send_mail", refuse)
    return calls


def ready_to_ship(actor, **kwargs):
    """A packed order with its shipment and its checklist done: it may advance to shipped."""
    order = OrderFactory(packed=True, customer=CustomerFactory(email="mei@example.com"), **kwargs)
    shipment_create(order=order, carrier=CarrierFactory(), tracking_number=f"{order.pk:012d}", actor=actor)
    tick_manual_steps(order, actor=actor)
    return order


def notifications(order):
    return list(order.events.filter(kind=E.NOTIFICATION).order_by("id"))


# --- the immediate backend (tests, development): no deferring -------------------------------------------


@pytest.mark.django_db
def test_a_failed_send_is_on_the_timeline_and_the_advance_still_succeeds(
    warehouse_user, mail_server_down, mailoutbox, django_capture_on_commit_callbacks
):
    order = ready_to_ship(warehouse_user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = services.order_advance(order=order, actor=warehouse_user)
    assert len(callbacks) == 1 and len(mail_server_down) == 1

    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert mailoutbox == []
    [event] = notifications(order)
    assert event.data == {
        "template": "order_shipped",
        "to": "mei@example.com",
        "action": "failed",
        "attempt": 1,
        "error": "SMTPServerDisconnected: Connection unexpectedly closed",
        # The immediate backend cannot defer a task, so this was the only attempt.
        "gave_up": True,
    }
    assert event.describe() == (
        "E-mail to mei@example.com failed (attempt 1), gave up: SMTPServerDisconnected: Connection unexpectedly closed"
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failing_mail_server_costs_the_shipping_request_nothing(client, mail_server_down):
    """The immediate backend runs the task inside the request's on_commit: a real commit
    here (transaction=True), so the failure would reach the response if it escaped."""
    from tests.factories import warehouse_user

    user = warehouse_user()
    order = ready_to_ship(user)
    client.force_login(user)
    response = client.post(
        reverse("admin:orders_order_advance", args=[order.pk]), {"expected_status": order.status}
    )
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)._queued_messages]
    assert f"Order {order.number} is now Shipped." in messages
    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert len(mail_server_down) == 1
    [event] = notifications(order)
    assert event.data["action"] == "failed" and event.data["gave_up"] is True
    # The timeline on the order page shows it.
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "E-mail to mei@example.com failed (attempt 1), gave up" in page


@pytest.mark.django_db
def test_an_error_message_is_kept_short_on_one_line(warehouse_user, monkeypatch):
    order = order_to(ready_to_ship(warehouse_user), S.SHIPPED, actor=warehouse_user)
    order.events.filter(kind=E.NOTIFICATION).delete()

    def refuse(*args, **kwargs):
        raise OSError("line one\nline two " + "x" * 500)

    monkeypatch.setattr(tasks, "send_mail", refuse)
    tasks.notify_order_shipped.call(order_id=order.pk)
    [event] = notifications(order)
    error = event.data["error"]
    assert error.startswith("OSError: line one line two xxx")
    assert len(error) == tasks.NOTIFY_ERROR_MAX_CHARS and error.endswith("…")


# --- a backend that defers tasks (the database queue in production) ----------------------------------


@pytest.fixture
def deferring_backend(settings):
    settings.TASKS = DUMMY
    assert tasks.notify_order_shipped.get_backend().supports_defer
    default_task_backend.clear()
    yield default_task_backend
    default_task_backend.clear()


def shipped_with_queued_email(actor, capture):
    """An order advanced to shipped; the e-mail waits in the queue (not yet run)."""
    order = ready_to_ship(actor)
    with capture(execute=True):
        order = services.order_advance(order=order, actor=actor)
    return order


@pytest.mark.django_db
def test_a_failed_send_is_tried_again_later_with_the_next_attempt_number(
    warehouse_user, deferring_backend, mail_server_down, django_capture_on_commit_callbacks
):
    order = shipped_with_queued_email(warehouse_user, django_capture_on_commit_callbacks)
    [queued] = deferring_backend.results
    assert queued.kwargs == {"order_id": order.pk} and queued.task.run_after is None

    before = timezone.now()
    tasks.notify_order_shipped.call(**queued.kwargs)
    after = timezone.now()

    assert len(deferring_backend.results) == 2
    retry = deferring_backend.results[-1]
    assert retry.task.func is tasks.notify_order_shipped.func
    assert retry.kwargs == {"order_id": order.pk, "attempt": 2}
    first_delay = tasks.NOTIFY_RETRY_DELAYS[0]
    assert before + first_delay <= retry.task.run_after <= after + first_delay
    [event] = notifications(order)
    assert event.data["action"] == "failed" and event.data["attempt"] == 1
    assert event.data["gave_up"] is False
    assert event.data["retry_at"] == retry.task.run_after.isoformat()
    assert event.describe() == (
        "E-mail to mei@example.com failed (attempt 1), will try again: "
        "SMTPServerDisconnected: Connection unexpectedly closed"
    )


@pytest.mark.django_db
def test_the_retries_back_off_and_stop_after_the_last_attempt(
    warehouse_user, deferring_backend, mail_server_down, django_capture_on_commit_callbacks
):
    order = shipped_with_queued_email(warehouse_user, django_capture_on_commit_callbacks)
    delays = []
    ran = 0
    while ran < len(deferring_backend.results):
        result = deferring_backend.results[ran]
        if result.task.run_after is not None:
            delays.append(result.task.run_after - result.enqueued_at)
        tasks.notify_order_shipped.call(*result.args, **result.kwargs)
        ran += 1
        assert ran <= 10, "the e-mail is retried for ever"

    assert ran == tasks.NOTIFY_MAX_ATTEMPTS == 4
    assert len(mail_server_down) == 4
    # Each wait is the schedule's (give or take the moment between computing and enqueuing).
    for delay, planned in zip(delays, tasks.NOTIFY_RETRY_DELAYS, strict=True):
        assert abs(delay - planned) < timedelta(seconds=5)
    events = notifications(order)
    assert [e.data["attempt"] for e in events] == [1, 2, 3, 4]
    assert [e.data["gave_up"] for e in events] == [False, False, False, True]
    assert "retry_at" not in events[-1].data
    assert events[-1].describe().startswith("E-mail to mei@example.com failed (attempt 4), gave up: ")


@pytest.mark.django_db
def test_the_last_attempt_failing_enqueues_nothing_more(warehouse_user, deferring_backend, mail_server_down):
    order = order_to(ready_to_ship(warehouse_user), S.SHIPPED, actor=warehouse_user)
    deferring_backend.clear()
    tasks.notify_order_shipped.call(order_id=order.pk, attempt=tasks.NOTIFY_MAX_ATTEMPTS)
    assert deferring_backend.results == []
    [event] = notifications(order)
    assert event.data["attempt"] == tasks.NOTIFY_MAX_ATTEMPTS and event.data["gave_up"] is True


@pytest.mark.django_db
def test_a_retry_that_gets_through_records_the_sent_email(warehouse_user, deferring_backend, mailoutbox):
    order = order_to(ready_to_ship(warehouse_user), S.SHIPPED, actor=warehouse_user)
    deferring_backend.clear()
    tasks.notify_order_shipped.call(order_id=order.pk, attempt=2)
    assert deferring_backend.results == []
    assert [m.to for m in mailoutbox] == [["mei@example.com"]]
    [event] = notifications(order)
    assert event.data == {"template": "order_shipped", "to": "mei@example.com", "attempt": 2}
    assert event.describe() == "E-mail sent to mei@example.com"


@pytest.mark.django_db
def test_a_first_send_that_gets_through_is_the_usual_sent_event(
    warehouse_user, mailoutbox, django_capture_on_commit_callbacks
):
    order = ready_to_ship(warehouse_user)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_advance(order=order, actor=warehouse_user)
    assert len(mailoutbox) == 1
    [event] = notifications(order)
    assert event.data == {"template": "order_shipped", "to": "mei@example.com"}
    assert event.describe() == "E-mail sent to mei@example.com"

"""Side effects outside the database, enqueued after commit (django-tasks).

A customer e-mail that fails is an event on the timeline, never an error in the request
that enqueued it (the immediate backend runs the task inside that request's on_commit).
Where the backend can defer a task (the database queue), the send is tried again after
each delay of NOTIFY_RETRY_DELAYS; the last failure says that it gave up."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django_tasks import task

from .models import Order, OrderEvent, shipment_model

logger = logging.getLogger(__name__)

# How long to wait before the 2nd, 3rd, ... attempt; one attempt more than delays.
NOTIFY_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
NOTIFY_MAX_ATTEMPTS = len(NOTIFY_RETRY_DELAYS) + 1
# The error kept on the timeline is the exception's class and the start of its message.
NOTIFY_ERROR_MAX_CHARS = 200


def _error_text(error):
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= NOTIFY_ERROR_MAX_CHARS else text[: NOTIFY_ERROR_MAX_CHARS - 1] + "…"


@task()
def notify_order_shipped(*, order_id, attempt=1):
    Shipment = shipment_model()
    parcel_lines = Shipment._meta.get_field("lines").related_model.objects
    # Every parcel that left (not a voided one), each with what it holds.
    parcels = (
        Shipment.objects.exclude(status=Shipment.Status.CANCELLED)
        .select_related("carrier")
        .prefetch_related(Prefetch("lines", queryset=parcel_lines.select_related("order_line").order_by("order_line_id")))
        .order_by("created_at", "pk")
    )
    order = (
        Order.objects.select_related("customer")
        .prefetch_related(Prefetch("shipments", queryset=parcels))
        .get(pk=order_id)
    )
    customer = order.customer
    if not customer.email:
        return
    with translation.override(customer.language or settings.LANGUAGE_CODE):
        context = {"order": order, "customer": customer, "shipments": list(order.shipments.all())}
        subject = render_to_string("emails/order_shipped_subject.txt", context).strip()
        body = render_to_string("emails/order_shipped.txt", context)
    data = {"template": "order_shipped", "to": customer.email}
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [customer.email])
    except Exception as error:  # the mail server's refusal, a timeout, a dropped connection ...
        _notification_failed(order, data=data, attempt=attempt, error=error)
        return
    if attempt > 1:
        data["attempt"] = attempt
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOTIFICATION, data=data)


def _notification_failed(order, *, data, attempt, error):
    """Record the failed send on the timeline, and try again later where the backend can."""
    logger.warning("Shipped e-mail for order %s failed (attempt %s): %r", order.number, attempt, error)
    retry = notify_order_shipped.get_backend().supports_defer and attempt < NOTIFY_MAX_ATTEMPTS
    run_after = timezone.now() + NOTIFY_RETRY_DELAYS[attempt - 1] if retry else None
    OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.NOTIFICATION,
        data={
            **data,
            "action": "failed",
            "attempt": attempt,
            "error": _error_text(error),
            "gave_up": not retry,
            **({"retry_at": run_after.isoformat()} if retry else {}),
        },
    )
    if retry:
        notify_order_shipped.using(run_after=run_after).enqueue(order_id=order.pk, attempt=attempt + 1)


@task()
def refresh_period_figures(*, values):
    """Work out the dashboard's figures about a period for the filter `values` (since,
    until, warehouse code) and keep them for the page (orders.dashboard)."""
    from . import dashboard

    dashboard.refresh_period_figures(values)

"""Side effects outside the database, enqueued after commit (django-tasks)."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django_tasks import task

from .models import Order, OrderEvent


@task()
def notify_order_shipped(*, order_id):
    order = Order.objects.select_related("customer").prefetch_related("shipments__carrier").get(pk=order_id)
    customer = order.customer
    if not customer.email:
        return
    with translation.override(customer.language or settings.LANGUAGE_CODE):
        context = {"order": order, "customer": customer, "shipments": list(order.shipments.all())}
        subject = render_to_string("emails/order_shipped_subject.txt", context).strip()
        body = render_to_string("emails/order_shipped.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [customer.email])
    OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.NOTIFICATION,
        data={"template": "order_shipped", "to": customer.email},
    )

"""Shipments follow their order through the workflow (orders.signals).

The order row is already locked when the signal arrives; the shipments are locked
after it (the lock order of orders/services.py, "Lock order"). Keep it that way: the
signal is sent inside the transition, after the order is locked and saved."""

from django.dispatch import receiver

from orders.models import Order, OrderStatus
from orders.signals import order_status_changed

from . import services


@receiver(order_status_changed, sender=Order, dispatch_uid="shipping.shipments_follow_order")
def shipments_follow_order(sender, *, order, old_status, new_status, actor, **kwargs):
    if new_status == OrderStatus.SHIPPED:
        services.shipments_mark_shipped(order=order, actor=actor)
    elif new_status == OrderStatus.DELIVERED:
        services.shipments_mark_delivered(order=order, actor=actor)
    elif new_status == OrderStatus.CANCELLED:
        services.shipments_cancel(order=order, actor=actor)

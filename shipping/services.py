"""Writes to shipments. Transitions of the order call the bulk helpers at the bottom."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.permissions import require_permission
from orders import workflow
from orders.models import Order, OrderEvent, OrderStatus
from orders.services import event_add

from .exceptions import ShippingError
from .models import Shipment, ShipmentLine
from .tracking import normalise_tracking_number, tracking_number_valid

SHIPPABLE = {OrderStatus.PROCESSING, OrderStatus.PACKED}


@transaction.atomic
def shipment_create(*, order, carrier, tracking_number, actor):
    """Book the order's parcel with a carrier. All lines go in the one shipment."""
    require_permission(actor, "shipping.add_shipment", _("create shipments"))
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status not in SHIPPABLE:
        raise ShippingError(
            _("Order %(number)s is %(status)s; shipments are created while it is processing or packed.")
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
    if not carrier.is_active:
        raise ShippingError(_("%(carrier)s is not an active carrier.") % {"carrier": carrier.name})
    tracking_number = normalise_tracking_number(tracking_number)
    if not tracking_number_valid(carrier, tracking_number):
        raise ShippingError(
            _("“%(number)s” is not a valid %(carrier)s tracking number.")
            % {"number": tracking_number, "carrier": carrier.name}
        )
    duplicate = (
        Shipment.objects.filter(carrier=carrier, tracking_number=tracking_number)
        .exclude(status=Shipment.Status.CANCELLED)
        .select_related("order")
        .first()
    )
    if duplicate:
        raise ShippingError(
            _("Tracking number %(number)s is already used by order %(order)s.")
            % {"number": tracking_number, "order": duplicate.order.number}
        )
    shipment = Shipment.objects.create(order=order, carrier=carrier, tracking_number=tracking_number)
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=shipment, order_line=line, quantity=line.quantity) for line in order.lines.all()
    )
    event_add(
        order=order,
        kind=OrderEvent.Kind.SHIPMENT,
        actor=actor,
        data={"action": "created", "carrier": carrier.code, "tracking_number": tracking_number},
    )
    return shipment


@transaction.atomic
def shipment_mark_delivered(*, shipment, actor):
    """The carrier reports delivery; the order's "Delivery confirmed" step passes."""
    require_permission(actor, "orders.advance_order", _("confirm deliveries"))
    shipment = Shipment.objects.select_for_update().select_related("order").get(pk=shipment.pk)
    if shipment.status != Shipment.Status.SHIPPED:
        raise ShippingError(
            _("Shipment %(number)s is %(status)s, not shipped.")
            % {"number": shipment.tracking_number, "status": shipment.get_status_display()}
        )
    shipment.status = Shipment.Status.DELIVERED
    shipment.delivered_at = timezone.now()
    shipment.save(update_fields=["status", "delivered_at"])
    event_add(
        order=shipment.order,
        kind=OrderEvent.Kind.SHIPMENT,
        actor=actor,
        data={"action": "delivered", "carrier": shipment.carrier.code, "tracking_number": shipment.tracking_number},
    )
    return shipment


def shipments_mark_shipped(*, order, actor):
    return order.shipments.filter(status=Shipment.Status.PENDING).update(
        status=Shipment.Status.SHIPPED, shipped_at=timezone.now()
    )


def shipments_mark_delivered(*, order, actor):
    return order.shipments.filter(status=Shipment.Status.SHIPPED).update(
        status=Shipment.Status.DELIVERED, delivered_at=timezone.now()
    )


def shipments_cancel(*, order, actor):
    return order.shipments.filter(status=Shipment.Status.PENDING).update(status=Shipment.Status.CANCELLED)

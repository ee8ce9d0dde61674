"""Writes to shipments. Transitions of the order call the bulk helpers at the bottom.

Locks follow the lock order written down in orders/services.py ("Lock order"): the
order row first, then its shipments. A path that starts from a shipment (marking it
delivered, voiding it) takes the order id from the shipment without a lock, locks the
order, and only then locks and re-reads the shipment. The bulk helpers at the bottom
run inside an order's transition, under its lock (shipping/receivers.py).
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from common.permissions import require_permission
from orders import workflow
from orders.models import Order, OrderEvent, OrderStatus
from orders.services import checked_reason, event_add

from .exceptions import ShippingError
from .models import Carrier, Shipment, ShipmentLine
from .tracking import TRACKING_NUMBER_MAX_LENGTH, normalise_tracking_number, pattern_error, tracking_number_valid

SHIPPABLE = {OrderStatus.PROCESSING, OrderStatus.PACKED}
# A finished order's shipments are history: no delivery is recorded on them any more.
FINISHED = {OrderStatus.RETURNED, OrderStatus.CANCELLED, OrderStatus.COMPLETED}


def _lock_order(order_id):
    """Lock the order row, and only it (`of`: a join would lock the joined rows in the
    same statement), and return a fresh copy. Always the first lock."""
    return Order.objects.select_for_update(of=("self",)).get(pk=order_id)


def _lock_shipment(shipment_id):
    """After the order: lock the shipment row, and only it, and re-read it."""
    return Shipment.objects.select_for_update(of=("self",)).select_related("carrier").get(pk=shipment_id)


def _live_shipment(order):
    """The order's shipment that is not cancelled (there is at most one), or None."""
    return (
        Shipment.objects.filter(order=order)
        .exclude(status=Shipment.Status.CANCELLED)
        .select_related("carrier")
        .order_by("pk")
        .first()
    )


def _second_shipment_refusal(order, live):
    return ShippingError(
        _(
            "Order %(number)s already has shipment %(carrier)s %(tracking_number)s (%(status)s); "
            "void it before creating another."
        )
        % {
            "number": order.number,
            "carrier": live.carrier.name,
            "tracking_number": live.tracking_number,
            "status": live.get_status_display(),
        }
    )


def _tracking_number_user(carrier, tracking_number):
    return (
        Shipment.objects.filter(carrier=carrier, tracking_number=tracking_number)
        .exclude(status=Shipment.Status.CANCELLED)
        .select_related("order")
        .first()
    )


def _tracking_number_used_refusal(tracking_number, duplicate):
    return ShippingError(
        _("Tracking number %(number)s is already used by order %(order)s.")
        % {"number": tracking_number, "order": duplicate.order.number}
    )


def carriers_serving(order):
    """The active carriers that deliver `order` (its delivery method and, for a store
    pickup, its chain), by name."""
    return [carrier for carrier in Carrier.objects.filter(is_active=True).order_by("name") if carrier.serves(order)]


def no_carrier_text(order):
    """What staff are told when no active carrier serves the order."""
    return _(
        "No active carrier delivers %(delivery)s; a manager can add one, or tick the method on a carrier's page "
        "(Shipping › Carriers)."
    ) % {"delivery": order.delivery_text}


def _carrier_refusal(carrier, order):
    """A ShippingError when `carrier` does not serve the order's delivery method (and,
    for a convenience-store pickup, its chain), naming the carriers that do; None
    when it does."""
    if carrier.serves(order):
        return None
    if order.is_store_pickup and not order.pickup_chain:
        return ShippingError(
            _("Order %(number)s has no pickup store yet; correct its address with the chain and store first.")
            % {"number": order.number}
        )
    serving = carriers_serving(order)
    text = _("Order %(number)s goes by %(delivery)s, which %(carrier)s does not deliver.") % {
        "carrier": carrier.name,
        "delivery": order.delivery_text,
        "number": order.number,
    }
    if not serving:
        return ShippingError(f"{text} {no_carrier_text(order)}")
    return ShippingError(
        f"{text} "
        + _("Choose %(carriers)s.")
        % {"carriers": pgettext("between the items of a list", ", ").join(c.name for c in serving)}
    )


@transaction.atomic
def shipment_create(*, order, carrier, tracking_number, actor):
    """Book the order's parcel with a carrier. All lines go in the one shipment, and an
    order has one live (not cancelled) shipment: a mistyped one is voided first
    (shipment_void)."""
    require_permission(actor, "shipping.add_shipment", _("create shipments"))
    order = _lock_order(order.pk)
    if order.status not in SHIPPABLE:
        raise ShippingError(
            _("Order %(number)s is %(status)s; shipments are created while it is processing or packed.")
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
    live = _live_shipment(order)
    if live is not None:
        raise _second_shipment_refusal(order, live)
    if not carrier.is_active:
        raise ShippingError(_("%(carrier)s is not an active carrier.") % {"carrier": carrier.name})
    refusal = _carrier_refusal(carrier, order)
    if refusal is not None:
        raise refusal
    if pattern_error(carrier.tracking_number_pattern):
        raise ShippingError(
            _("The tracking number pattern of %(carrier)s cannot be used; a manager must correct it on the carrier page.")
            % {"carrier": carrier.name}
        )
    tracking_number = normalise_tracking_number(tracking_number)
    if len(tracking_number) > TRACKING_NUMBER_MAX_LENGTH:
        raise ShippingError(
            _("A tracking number has at most %(max)s characters; this one has %(length)s.")
            % {"max": TRACKING_NUMBER_MAX_LENGTH, "length": len(tracking_number)}
        )
    if not tracking_number_valid(carrier, tracking_number):
        raise ShippingError(
            _("“%(number)s” is not a valid %(carrier)s tracking number: expected %(format)s.")
            % {"number": tracking_number, "carrier": carrier.name, "format": carrier.tracking_number_format}
            if carrier.tracking_number_format
            else _("“%(number)s” is not a valid %(carrier)s tracking number.")
            % {"number": tracking_number, "carrier": carrier.name}
        )
    duplicate = _tracking_number_user(carrier, tracking_number)
    if duplicate:
        raise _tracking_number_used_refusal(tracking_number, duplicate)
    try:
        with transaction.atomic():  # a savepoint: after a refused INSERT the checks can be asked again
            shipment = Shipment.objects.create(order=order, carrier=carrier, tracking_number=tracking_number)
    except IntegrityError:
        # A writer that got past the checks above at the same moment (the same tracking
        # number on another order, or a shipment written without the order lock): the
        # database's constraints refused this one; say why in the service's words.
        live = _live_shipment(order)
        if live is not None:
            raise _second_shipment_refusal(order, live) from None
        duplicate = _tracking_number_user(carrier, tracking_number)
        if duplicate is not None:
            raise _tracking_number_used_refusal(tracking_number, duplicate) from None
        raise
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
    """The carrier reports delivery; the order's "Delivery confirmed" step passes.

    The order is locked before the shipment (see the module docstring), as advancing
    the order does; locking the shipment first deadlocked against an advance. A
    finished order's shipment is refused."""
    require_permission(actor, "orders.advance_order", _("confirm deliveries"))
    order = _lock_order(shipment.order_id)
    shipment = _lock_shipment(shipment.pk)
    shipment.order = order
    if order.status in FINISHED:
        raise ShippingError(
            _("Order %(number)s is %(status)s; its shipments can no longer be marked delivered.")
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
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


@transaction.atomic
def shipment_void(*, shipment, actor, reason):
    """Cancel a shipment that has not been picked up (a tracking number mistyped but
    well-formed), with the reason on the timeline; the order can then have a new one."""
    require_permission(actor, "shipping.add_shipment", _("void shipments"))
    reason = checked_reason(reason, _("void the shipment"), error=ShippingError)
    order = _lock_order(shipment.order_id)
    shipment = _lock_shipment(shipment.pk)
    if shipment.status != Shipment.Status.PENDING:
        raise ShippingError(
            _("Shipment %(number)s is %(status)s; only a shipment waiting for pickup can be voided.")
            % {"number": shipment.tracking_number, "status": shipment.get_status_display()}
        )
    shipment.status = Shipment.Status.CANCELLED
    shipment.voided_at = timezone.now()
    shipment.voided_by = actor
    shipment.void_reason = reason
    shipment.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
    shipment.order = order
    event_add(
        order=order,
        kind=OrderEvent.Kind.SHIPMENT,
        actor=actor,
        message=reason,
        data={"action": "voided", "carrier": shipment.carrier.code, "tracking_number": shipment.tracking_number},
    )
    return shipment


# --- following the order (shipping/receivers.py, inside the transition, under the order lock) ---


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

"""Writes to shipments. Transitions of the order call the bulk helpers at the bottom.

Locks follow the lock order written down in orders/services.py ("Lock order"): the
order row first, then its lines and shipments. A path that starts from a shipment
(marking it delivered, voiding it) takes the order id from the shipment without a
lock, locks the order, and only then locks and re-reads the shipment. The bulk
helpers at the bottom run inside an order's transition, under its lock
(shipping/receivers.py).

Parcels: an order ships in one or more shipments, each holding a quantity of some of
its lines (ShipmentLine). What is left of a line to put in a parcel is its ordered
quantity less the units in its live (not cancelled) parcels; shipment_create reads
that under the order's lock and its lines' locks, so two staff booking parcels for
the same line at once are serialised and the second is refused with what is left:
the units in live parcels never exceed the ordered quantity.
"""

from numbers import Integral

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.cleaning import parse_id, parse_whole_number
from common.permissions import require_permission
from orders import workflow
from orders.models import Order, OrderEvent, OrderLine, OrderStatus
from orders.services import checked_reason, event_add

from .exceptions import ShippingError
from .models import Shipment, ShipmentLine
from .selectors import parcel_quantities
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


def _lock_lines(order):
    """After the order: lock its lines, in primary-key order, and return them."""
    return list(OrderLine.objects.select_for_update().filter(order_id=order.pk).order_by("pk"))


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


def _whole_number(value):
    """The int `value` is (an int, or ASCII digits with an optional "-" as a form
    sends them), or None for anything else (1.5, "2.0", "abc", True)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, str):
        return parse_whole_number(value, negative=True)
    return None


def _left_to_ship(order, lines):
    """{order line id: units not yet in a live parcel} of the order's (locked) lines,
    read under the lock; refused when nothing is left."""
    in_parcels = parcel_quantities(order)
    left = {line.pk: line.quantity - in_parcels.get(line.pk, 0) for line in lines}
    if not any(units > 0 for units in left.values()):
        raise ShippingError(
            _("Every item of order %(number)s is already in a parcel; void a parcel waiting for pickup to change one.")
            % {"number": order.number}
        )
    return left


def _parcel_lines(order, lines, left, requested):
    """[(order line, quantity)] for the parcel, in line order, from `requested`
    (the caller's mapping, or None for everything left), or a refusal naming what is
    wrong."""
    if requested is None:
        return [(line, left[line.pk]) for line in lines if left[line.pk] > 0]
    by_pk = {line.pk: line for line in lines}
    wanted = {}
    for key, value in dict(requested).items():
        line_id = key.pk if isinstance(key, OrderLine) else parse_id(key) if isinstance(key, (int, str)) else None
        line = by_pk.get(line_id)
        if line is None:
            raise ShippingError(
                _("Order %(number)s has no line %(line)s.")
                % {"number": order.number, "line": key.sku if isinstance(key, OrderLine) else key}
            )
        if line.pk in wanted:
            raise ShippingError(_("%(sku)s is given twice for the parcel.") % {"sku": line.sku})
        quantity = _whole_number(value)
        if quantity is None:
            raise ShippingError(
                _("The quantity of %(sku)s must be a whole number, not “%(quantity)s”.")
                % {"sku": line.sku, "quantity": value}
            )
        if quantity < 1:
            raise ShippingError(
                _("The quantity of %(sku)s must be at least 1, not %(quantity)s; leave a line out of the parcel instead.")
                % {"sku": line.sku, "quantity": quantity}
            )
        if quantity > left[line.pk]:
            raise ShippingError(
                _("%(sku)s: %(left)s of %(ordered)s left to put in a parcel; %(quantity)s is more than that.")
                % {"quantity": quantity, "sku": line.sku, "left": left[line.pk], "ordered": line.quantity}
            )
        wanted[line.pk] = quantity
    if not wanted:
        raise ShippingError(_("The parcel holds nothing: give a quantity for at least one line."))
    return [(line, wanted[line.pk]) for line in lines if line.pk in wanted]


@transaction.atomic
def shipment_create(*, order, carrier, tracking_number, actor, lines=None):
    """Book a parcel of the order with a carrier.

    `lines` maps the order's lines to the units this parcel holds: keys are OrderLine
    objects or their ids (ints, or digit strings as a form sends them), values whole
    numbers of at least 1; a line left out is not in this parcel. None means
    everything not yet in a live parcel. Refused: a quantity that is zero, negative,
    not whole, for a line of another order or above what is left of the line (its
    ordered quantity less the units in live parcels); a parcel with nothing in it;
    an order whose every line is already in parcels. An order may have several live
    parcels; one booked by mistake is voided (shipment_void), which frees its units."""
    require_permission(actor, "shipping.add_shipment", _("create shipments"))
    order = _lock_order(order.pk)
    order_lines = _lock_lines(order)
    if order.status not in SHIPPABLE:
        raise ShippingError(
            _("Order %(number)s is %(status)s; shipments are created while it is processing or packed.")
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
    left = _left_to_ship(order, order_lines)
    if not carrier.is_active:
        raise ShippingError(_("%(carrier)s is not an active carrier.") % {"carrier": carrier.name})
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
    parcel = _parcel_lines(order, order_lines, left, lines)
    try:
        with transaction.atomic():  # a savepoint: after a refused INSERT the check can be asked again
            shipment = Shipment.objects.create(order=order, carrier=carrier, tracking_number=tracking_number)
    except IntegrityError:
        # A writer that got past the check above at the same moment (the same tracking
        # number on another order): the database's constraint refused this one; say
        # why in the service's words.
        duplicate = _tracking_number_user(carrier, tracking_number)
        if duplicate is not None:
            raise _tracking_number_used_refusal(tracking_number, duplicate) from None
        raise
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=shipment, order_line=line, quantity=quantity) for line, quantity in parcel
    )
    event_add(
        order=order,
        kind=OrderEvent.Kind.SHIPMENT,
        actor=actor,
        data={
            "action": "created",
            "carrier": carrier.code,
            "tracking_number": tracking_number,
            "lines": [[line.sku, quantity] for line, quantity in parcel],
        },
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
    """Cancel a parcel that has not been picked up (a tracking number mistyped but
    well-formed, the wrong items in it), with the reason on the timeline; its units
    are free to go into a new parcel. The order's other parcels are left as they are."""
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

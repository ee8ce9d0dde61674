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

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from numbers import Integral

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from common.cleaning import parse_id, parse_whole_number
from common.permissions import require_permission
from common.text import amount_text, bracketed, datetime_text, joined_clauses, labelled
from orders import workflow
from orders.exceptions import WorkflowError
from orders.models import COLLECTED_BY_CARRIER, Order, OrderEvent, OrderLine, OrderStatus, PaymentStatus
from orders.services import checked_reason, event_add, order_advance, order_payment_collect

from .exceptions import ShippingError
from .models import Carrier, Shipment, ShipmentLine
from .selectors import deliveries_match, parcel_quantities
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
    return _deliver(order, shipment, actor=actor, delivered_at=timezone.now())


def _deliver(order, shipment, *, actor, delivered_at, source=""):
    """Mark the locked `shipment` of the locked `order` delivered at `delivered_at`,
    with the "delivered" event (`source` "carrier_report" when a report said so)."""
    shipment.status = Shipment.Status.DELIVERED
    shipment.delivered_at = delivered_at
    shipment.save(update_fields=["status", "delivered_at"])
    data = {"action": "delivered", "carrier": shipment.carrier.code, "tracking_number": shipment.tracking_number}
    if source:
        data.update(source=source, delivered_at=delivered_at.isoformat())
    event_add(order=order, kind=OrderEvent.Kind.SHIPMENT, actor=actor, data=data)
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


# --- delivery reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReportRow:
    """One row of a carrier's delivery report: its row number in the file, the
    parcel's tracking number, when it was delivered, what the carrier collected for
    it (None or 0: nothing) and, when the report says, the carrier (a Carrier)."""

    row: int
    tracking_number: str
    delivered_at: datetime
    collected: Decimal | None = None
    carrier: Carrier | None = None


@dataclass(frozen=True)
class DeliveryNote:
    """What happened to one row (`row`) or one order (`row` None): `subject` names
    the parcel ("T-Cat 123456789012 (SO-1052)") or the order, `reason` says what."""

    row: int | None
    subject: str
    reason: str

    def __str__(self):
        text = labelled(self.subject, self.reason)
        return _("row %(row)s, %(text)s") % {"row": self.row, "text": text} if self.row is not None else text


@dataclass
class DeliveriesResult:
    """What deliveries_record did, or in a dry run would do."""

    dry_run: bool
    delivered: list = field(default_factory=list)  # parcels marked delivered (one note per row)
    paid: list = field(default_factory=list)  # orders paid: the carrier collected the cash (per row)
    advanced: list = field(default_factory=list)  # numbers of the orders now Delivered
    completed: list = field(default_factory=list)  # numbers of the orders now Completed
    unknown: list = field(default_factory=list)  # rows whose number no live parcel has
    skipped: list = field(default_factory=list)  # already delivered, not handed over, order finished
    refused: list = field(default_factory=list)  # collected amounts not recorded, with the reason
    not_advanced: list = field(default_factory=list)  # orders that stay where they are, with the reason
    uncollected: list = field(default_factory=list)  # delivered orders paid to the carrier, cash not reported

    @property
    def changed(self):
        return bool(self.delivered or self.paid)


class DeliveryRowsRefused(ShippingError):
    """Rows of a delivery report that match no single parcel (a number two carriers
    share, a parcel given twice) or give an impossible date: `errors` holds (row,
    column, reason) for each, and nothing was recorded."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__(
            ngettext(
                "Nothing was recorded: %(count)s row of the report cannot be matched to one parcel (%(rows)s).",
                "Nothing was recorded: %(count)s rows of the report cannot be matched to one parcel (%(rows)s).",
                len(self.errors),
            )
            % {"count": len(self.errors), "rows": "; ".join(f"{row}: {reason}" for row, _column, reason in self.errors)}
        )


def _checked_report_rows(rows):
    """The rows in row order with their numbers normalised, refusing what no report
    can say: a blank or too long number, a delivery in the future, a negative amount,
    the same parcel (number and carrier) twice."""
    now = timezone.now()
    checked, seen = [], {}
    for row in sorted(rows, key=lambda row: row.row):
        number = normalise_tracking_number(row.tracking_number)
        if not number or len(number) > TRACKING_NUMBER_MAX_LENGTH:
            raise ShippingError(_("Row %(row)s: a tracking number is required, at most 64 characters.") % {"row": row.row})
        if timezone.is_naive(row.delivered_at) or row.delivered_at > now:
            raise ShippingError(_("Row %(row)s: the delivery time must be a moment in the past.") % {"row": row.row})
        if row.collected is not None and (not isinstance(row.collected, Decimal) or row.collected < 0):
            raise ShippingError(_("Row %(row)s: a collected amount cannot be negative.") % {"row": row.row})
        key = (number, row.carrier.pk if row.carrier else None)
        if key in seen:
            raise ShippingError(
                _("Row %(row)s gives parcel %(number)s again (row %(first)s).")
                % {"row": row.row, "number": number, "first": seen[key]}
            )
        seen[key] = row.row
        checked.append(replace(row, tracking_number=number))
    return checked


@transaction.atomic
def deliveries_record(*, rows, actor, dry_run=False):
    """Record a carrier's delivery report: `rows` are DeliveryReportRows. Returns a
    DeliveriesResult. All in one transaction; in a dry run everything is worked out
    exactly as it would be written (the same code, orders advanced, payments
    recorded), then rolled back, so the preview is what the import will do.

    - A row matching a shipped parcel marks it delivered at the row's delivered_at,
      with the shipment "delivered" event "from the carrier's report".
    - A row whose number no live parcel has is listed (`unknown`), not refused: the
      rest of the report is recorded. A parcel already delivered, one still waiting
      for pickup (not handed to the carrier) and one of a finished order (cancelled,
      returned, completed) are listed (`skipped`) and left as they are.
    - `collected`: for an order paid to the carrier (COLLECTED_BY_CARRIER) the cash
      is collected on one parcel, any of the order's, for the whole total: that row
      pays the order (orders.services.order_payment_collect, the tracking number as
      its reference). A different amount, an order the carrier does not collect for
      or one already paid otherwise is listed (`refused`) with the reason; the
      delivery itself is still recorded. The same row imported again changes nothing.
    - Then each order the report has a delivered parcel of (delivered now or
      before) whose live parcels are now all delivered advances through order_advance: shipped → delivered, and on to completed when
      the delivered state has no required step left. An order paid to the carrier
      whose cash is not reported collected stays Delivered (`uncollected`); one whose
      checklist refuses stays where it is (`not_advanced`, with the refusal); an order
      with parcels still on the way stays Shipped (`not_advanced`).
    Nothing else is touched.

    Permissions: orders.import_data and orders.advance_order; orders.mark_paid as
    well when a row carries a collected amount. Rows that match no single parcel or
    give an impossible date raise DeliveryRowsRefused, writing nothing.

    Lock order (orders/services.py): the orders in ascending id, each locked and then
    its live parcels, before the next; nothing but an order's own rows is locked
    while its lock is held, so the import cannot deadlock against staff, who lock one
    order at a time, or against another import."""
    require_permission(actor, "orders.import_data", _("import delivery reports"))
    require_permission(actor, "orders.advance_order", _("confirm deliveries"))
    rows = _checked_report_rows(rows)
    if any(row.collected for row in rows):
        require_permission(actor, "orders.mark_paid", _("record cash collected by carriers"))
    matches, unknown, errors = deliveries_match(rows)
    if errors:
        raise DeliveryRowsRefused(errors)
    result = DeliveriesResult(dry_run=dry_run)
    for row in unknown:
        result.unknown.append(DeliveryNote(row.row, row.tracking_number, _unknown_reason(row)))
    by_order = {}
    for row in rows:
        if row.row in matches:
            by_order.setdefault(matches[row.row].order_id, []).append((row, matches[row.row]))
    for order_id in sorted(by_order):
        _record_order_deliveries(order_id, by_order[order_id], actor=actor, result=result)
    if dry_run:
        transaction.set_rollback(True)
    return result


def _unknown_reason(row):
    if row.carrier is not None:
        return _("no live %(carrier)s parcel has this tracking number; nothing was recorded for it.") % {
            "carrier": row.carrier.name
        }
    return _("no live parcel has this tracking number (mistyped, voided or not entered yet); nothing was recorded for it.")


def _record_order_deliveries(order_id, rows, *, actor, result):
    order = _lock_order(order_id)
    live = {
        shipment.pk: shipment
        for shipment in Shipment.objects.select_for_update(of=("self",))
        .filter(order=order)
        .exclude(status=Shipment.Status.CANCELLED)
        .select_related("carrier")
        .order_by("pk")
    }
    delivered_parcels = False
    for row, match in rows:
        shipment = live.get(match.shipment_id)
        if shipment is None:  # voided since the report was matched
            result.unknown.append(DeliveryNote(row.row, row.tracking_number, _unknown_reason(row)))
            continue
        subject = bracketed(f"{shipment.carrier.name} {shipment.tracking_number}", order.number)
        if shipment.status == Shipment.Status.PENDING:
            result.skipped.append(
                DeliveryNote(
                    row.row,
                    subject,
                    _("waiting for pickup: not handed to the carrier yet, so not marked delivered."),
                )
            )
            continue
        if shipment.status == Shipment.Status.SHIPPED and order.status in FINISHED:
            result.skipped.append(
                DeliveryNote(
                    row.row,
                    subject,
                    _("order %(number)s is %(status)s; its parcels are no longer marked delivered.")
                    % {"number": order.number, "status": workflow.status_label(order.status)},
                )
            )
            continue
        delivered_parcels = True
        delivered_now = shipment.status == Shipment.Status.SHIPPED
        if delivered_now:
            _deliver(order, shipment, actor=actor, delivered_at=row.delivered_at, source="carrier_report")
            result.delivered.append(
                DeliveryNote(row.row, subject, _("delivered %(moment)s") % {"moment": datetime_text(row.delivered_at)})
            )
        collected = ""
        if row.collected:
            order, collected = _collect(order, shipment, row, subject, actor=actor, result=result)
        if not delivered_now and collected not in ("paid", "refused"):
            reason = _("already delivered %(moment)s; left as it is.") % {
                "moment": datetime_text(shipment.delivered_at) if shipment.delivered_at else "—"
            }
            if collected == "recorded":
                reason = joined_clauses([reason, _("its cash is recorded already")])
            result.skipped.append(DeliveryNote(row.row, subject, reason))
    if delivered_parcels:
        # Also when every parcel was delivered already (marked by hand, an earlier
        # report): the report confirms it, and the order moves on if it still can.
        _advance_delivered(order, live.values(), actor=actor, result=result)


def _collect(order, shipment, row, subject, *, actor, result):
    """The cash the carrier reports collected on `shipment`: "paid" (recorded now),
    "recorded" (this parcel paid the order already: a report imported again) or
    "refused" (listed with the reason). Returns (the order as it now is, outcome)."""
    if order.payment_status == PaymentStatus.PAID and order.payment_reference == shipment.tracking_number:
        return order, "recorded"
    try:
        with transaction.atomic():
            order = order_payment_collect(
                order=order,
                actor=actor,
                amount=row.collected,
                reference=shipment.tracking_number,
                collected_at=row.delivered_at,
            )
    except WorkflowError as refusal:
        result.refused.append(DeliveryNote(row.row, subject, _("cash not recorded: %(reason)s") % {"reason": refusal}))
        return order, "refused"
    result.paid.append(
        DeliveryNote(
            row.row, subject, _("%(amount)s collected") % {"amount": amount_text(row.collected, order.currency)}
        )
    )
    return order, "paid"


def _advance_delivered(order, parcels, *, actor, result):
    """Advance `order` (locked) once every live parcel is delivered: shipped →
    delivered → completed, as far as its checklist allows (see deliveries_record)."""
    parcels = list(parcels)
    delivered = sum(1 for parcel in parcels if parcel.status == Shipment.Status.DELIVERED)
    if delivered < len(parcels):
        if order.status == OrderStatus.SHIPPED:
            result.not_advanced.append(
                DeliveryNote(
                    None,
                    order.number,
                    ngettext(
                        "%(delivered)s of %(count)s parcel delivered; stays Shipped until the others are.",
                        "%(delivered)s of %(count)s parcels delivered; stays Shipped until the others are.",
                        len(parcels),
                    )
                    % {"delivered": delivered, "count": len(parcels)},
                )
            )
        return
    if order.status == OrderStatus.SHIPPED:
        order = _advance_from(order, actor=actor, result=result)
        if order is None:
            return
        result.advanced.append(order.number)
    if order.status != OrderStatus.DELIVERED:
        return
    if order.payment_method in COLLECTED_BY_CARRIER and order.payment_status == PaymentStatus.PENDING:
        result.uncollected.append(
            DeliveryNote(
                None,
                order.number,
                _("delivered, cash not reported collected (%(method)s); stays Delivered until it is.")
                % {"method": order.get_payment_method_display()},
            )
        )
        return
    order = _advance_from(order, actor=actor, result=result)
    if order is not None:
        result.completed.append(order.number)


def _advance_from(order, *, actor, result):
    """order_advance from the order's state; None, with the refusal listed, when its
    checklist (or anything else) refuses."""
    try:
        with transaction.atomic():
            return order_advance(order=order, actor=actor, expected_status=order.status)
    except WorkflowError as refusal:
        result.not_advanced.append(DeliveryNote(None, order.number, str(refusal)))
        return None


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

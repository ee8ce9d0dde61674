"""The automatic checklist steps about shipments, registered with the orders
checklist from ShippingConfig.ready(). Like orders/checklist.py they read the
prefetched `order.shipments.all()` (and `order.lines.all()`) and return (passed, hint).

An order ships in one or more parcels (shipments), each holding some units of some
lines; a cancelled (voided) parcel counts for nothing."""

from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from common.text import joined_clauses
from orders import checklist
from orders.models import Predicate

from .models import Shipment, ShipmentLine
from .tracking import tracking_number_valid


def _listed(items):
    return pgettext("between the items of a list", ", ").join(items)


def _live(order):
    return [s for s in order.shipments.all() if s.status != Shipment.Status.CANCELLED]


def _units_in(shipments):
    """{order line id: units} in `shipments`: from their prefetched lines when every
    one has them (the order page, list pages), else in one query."""
    if not shipments:
        return {}
    if all("lines" in getattr(s, "_prefetched_objects_cache", {}) for s in shipments):
        units = {}
        for shipment in shipments:
            for line in shipment.lines.all():
                units[line.order_line_id] = units.get(line.order_line_id, 0) + line.quantity
        return units
    rows = (
        ShipmentLine.objects.filter(shipment_id__in=[s.pk for s in shipments])
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("order_line_id", "total")
        .order_by()
    )
    return dict(rows)


def shipment_tracked(order):
    """Every unit of every line is in a live parcel with a valid tracking number."""
    live = _live(order)
    if not live:
        return False, _("No shipment yet.")
    tracked = [s for s in live if tracking_number_valid(s.carrier, s.tracking_number)]
    untracked = [s for s in live if s not in tracked]
    if not tracked:
        return False, _("No shipment has a valid tracking number.")
    covered = _units_in(tracked)
    in_untracked = _units_in(untracked)
    not_in_parcel, not_tracked = [], []
    for line in order.lines.all():
        missing = line.quantity - covered.get(line.id, 0)
        if missing <= 0:
            continue
        waiting = min(missing, in_untracked.get(line.id, 0))
        if waiting:
            not_tracked.append(f"{waiting} × {line.sku}")
        if missing - waiting:
            not_in_parcel.append(f"{missing - waiting} × {line.sku}")
    if not not_in_parcel and not not_tracked:
        return True, ""
    clauses = []
    if not_in_parcel:
        clauses.append(_("%(items)s not in a parcel yet") % {"items": _listed(not_in_parcel)})
    if not_tracked:
        clauses.append(_("%(items)s in a parcel without a valid tracking number") % {"items": _listed(not_tracked)})
    return False, joined_clauses(clauses)


def shipment_delivered(order):
    """Every live parcel is delivered (or the step is ticked by hand)."""
    live = _live(order)
    delivered = sum(1 for s in live if s.status == Shipment.Status.DELIVERED)
    if live and delivered == len(live):
        return True, ""
    if len(live) <= 1:
        return False, _("The carrier has not reported delivery; tick it when the customer confirms.")
    return False, ngettext(
        "%(delivered)s of %(count)s parcel delivered; tick it when the customer confirms delivery of all of them.",
        "%(delivered)s of %(count)s parcels delivered; tick it when the customer confirms delivery of all of them.",
        len(live),
    ) % {"delivered": delivered, "count": len(live)}


def register():
    # Reads the order's lines too: what each parcel must cover.
    checklist.register_predicate(Predicate.SHIPMENT_TRACKED, shipment_tracked, reads={"shipments", "lines"})
    # The customer confirms delivery by phone: staff may tick it by hand.
    checklist.register_predicate(
        Predicate.SHIPMENT_DELIVERED, shipment_delivered, tickable_by_hand=True, reads={"shipments"}
    )

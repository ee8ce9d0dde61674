"""Reads of shipments shared by the shipment list and its export, and the per-line
quantities in parcels that shipping and returns check against."""

from django.db.models import Q, Sum

from orders.models import Order

from .models import Shipment, ShipmentLine
from .tracking import normalise_tracking_number


SEARCH_MAX_LENGTH = 64


class SearchTooLong(ValueError):
    pass


def shipment_search(queryset, term):
    """Shipments by their whole tracking number, or by their order's number. Shared by
    the shipment list and its export.

    The tracking number is matched exactly, after the same normalisation as stored
    numbers (upper case, spaces taken out), so a number typed in lower case or with
    spaces as printed on the label finds its shipment, through the tracking_number
    index. Deliberately no partial match: parcels of one carrier share long prefixes,
    so a part of a number would match a large share of 1.5 million shipments (and be
    sorted by date), and staff scan or paste the whole number from the label anyway.

    The order number (as typed or upper case) is looked up first, through the
    orders' unique index, and its shipments found by order_id (indexed): an OR with a
    condition on the joined orders table could use neither index, and would read
    every shipment."""
    term = (term or "").strip()
    if not term:
        return queryset
    if len(term) > SEARCH_MAX_LENGTH:
        raise SearchTooLong(term)
    normalised = normalise_tracking_number(term)
    order_ids = list(
        Order.objects.filter(number__in=sorted({term, term.upper()}))
        .order_by()
        .values_list("pk", flat=True)
    )
    matches = Q(tracking_number=normalised)
    if order_ids:
        matches |= Q(order_id__in=order_ids)
    return queryset.filter(matches)


def _line_quantities(order, statuses=None, exclude=None):
    lines = ShipmentLine.objects.filter(shipment__order=order)
    if statuses is not None:
        lines = lines.filter(shipment__status__in=statuses)
    if exclude is not None:
        lines = lines.exclude(shipment__status__in=exclude)
    return dict(lines.values("order_line_id").annotate(total=Sum("quantity")).values_list("order_line_id", "total"))


def parcel_quantities(order):
    """{order line id: units in the order's live (not cancelled) parcels}; lines in no
    parcel are absent. One query."""
    return _line_quantities(order, exclude=[Shipment.Status.CANCELLED])


def shipped_quantities(order):
    """{order line id: units in parcels that have left (shipped or delivered)}: what a
    return may take back at most. One query."""
    return _line_quantities(order, statuses=[Shipment.Status.SHIPPED, Shipment.Status.DELIVERED])

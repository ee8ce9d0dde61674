"""Reads of shipments shared by the shipment list and its export, and the per-line
quantities in parcels that shipping and returns check against."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from common.text import date_text
from orders.models import Order
from reports.imports import chunked

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


# --- delivery reports (shipping.services.deliveries_record) --------------------------------


@dataclass(frozen=True)
class ParcelMatch:
    """The live parcel a row of a delivery report is about, as read before any lock."""

    shipment_id: int
    order_id: int
    order_number: str
    carrier_code: str
    carrier_name: str
    tracking_number: str
    status: str
    shipped_at: datetime | None

    @property
    def label(self):
        return f"{self.carrier_name} {self.tracking_number}"


def deliveries_match(rows):
    """Match each row of a delivery report (objects with `row`, `tracking_number`
    (normalised), `delivered_at` and `carrier`, a Carrier or None) to the live (not
    cancelled) parcel it is about, by tracking number and, when the row names one,
    carrier. One query per 5,000 numbers, through the tracking_number index.

    Returns (matches {row number: ParcelMatch}, unknown [rows matching no live parcel],
    errors [(row number, column, reason)]): a number two carriers' live parcels share
    on a row naming no carrier, a parcel another row is already about, and a delivery
    before the day the parcel was shipped (a mistyped date)."""
    candidates = {}
    for chunk in chunked({row.tracking_number for row in rows}):
        for parcel in (
            Shipment.objects.filter(tracking_number__in=chunk)
            .exclude(status=Shipment.Status.CANCELLED)
            .order_by("pk")
            .values_list(
                "pk", "order_id", "order__number", "carrier_id", "carrier__code", "carrier__name", "tracking_number",
                "status", "shipped_at",
            )
        ):  # fmt: skip
            pk, order_id, number, carrier_id, code, name, tracking_number, status, shipped_at = parcel
            match = ParcelMatch(pk, order_id, number, code, name, tracking_number, status, shipped_at)
            candidates.setdefault(tracking_number, []).append((carrier_id, match))
    matches, unknown, errors, first_rows = {}, [], [], {}
    for row in sorted(rows, key=lambda row: row.row):
        found = [
            match
            for carrier_id, match in candidates.get(row.tracking_number, [])
            if row.carrier is None or carrier_id == row.carrier.pk
        ]
        if not found:
            unknown.append(row)
            continue
        if len(found) > 1:
            errors.append(
                (
                    row.row,
                    "carrier",
                    _(
                        "Tracking number %(number)s belongs to parcels of %(parcels)s; give the carrier's code in "
                        "the carrier column."
                    )
                    % {
                        "number": row.tracking_number,
                        "parcels": ", ".join(f"{match.carrier_code} ({match.order_number})" for match in found),
                    },
                )
            )
            continue
        match = found[0]
        if match.shipment_id in first_rows:
            errors.append(
                (
                    row.row,
                    "tracking_number",
                    _("Parcel %(parcel)s is given on row %(row)s already.")
                    % {"parcel": match.label, "row": first_rows[match.shipment_id]},
                )
            )
            continue
        first_rows[match.shipment_id] = row.row
        if (
            match.status == Shipment.Status.SHIPPED
            and match.shipped_at is not None
            and timezone.localtime(row.delivered_at).date() < timezone.localtime(match.shipped_at).date()
        ):
            errors.append(
                (
                    row.row,
                    "delivered_at",
                    _("Delivered on %(delivered)s, before parcel %(parcel)s was shipped (%(shipped)s).")
                    % {
                        "delivered": date_text(row.delivered_at),
                        "parcel": match.label,
                        "shipped": date_text(match.shipped_at),
                    },
                )
            )
            continue
        matches[row.row] = match
    return matches, unknown, errors

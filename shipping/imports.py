"""Imports into the shipping app's data (registered in reports.registry when the app is ready).

`deliveries`: a carrier's delivery report, `tracking_number,delivered_at`, optionally
`collected` (the cash the carrier collected for the parcel, for an order paid on
delivery or at store pickup) and `carrier` (a carrier's code, for a number two carriers
share). Thin: this module reads the cells; which parcels and orders the report moves
on, and how, is shipping.services.deliveries_record's.

All or nothing, as every import: a malformed row (a blank or too long number, a
delivered_at that is no ISO 8601 date or date-time or is in the future, a bad amount,
an unknown carrier, a row given twice) and a row that matches no single parcel (a
number two carriers share with no carrier given, a parcel given twice, a delivery
before the parcel was shipped) are named by row and nothing is written. An unknown
tracking number is not such an error: carriers' reports hold parcels of other
senders and numbers nobody entered; it is listed, and the rest is recorded.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from orders.exceptions import WorkflowError
from reports.imports import Cells, Importer, ImportRefused, Skipped, shown
from reports.registry import register_import

from .models import Carrier
from .selectors import deliveries_match
from .services import DeliveryReportRow, DeliveryRowsRefused, deliveries_record
from .tracking import TRACKING_NUMBER_MAX_LENGTH, normalise_tracking_number

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_CENTS = Decimal("0.01")
# An order's total holds 12 digits, two of them decimals.
_AMOUNT_LIMIT = Decimal(10) ** 10


@dataclass
class DeliveryPlan:
    rows: list
    report: object


class DeliveryImporter(Importer):
    name = "deliveries"
    verbose_name = gettext_lazy("deliveries")
    columns = ("tracking_number", "delivered_at")
    optional_columns = ("collected", "carrier")
    # Besides orders.import_data; a row with a collected amount needs orders.mark_paid too
    # (the service checks it).
    permission = "orders.advance_order"
    result_page = True
    existing = gettext_lazy(
        "Each row is a parcel the carrier delivered: a shipped parcel is marked delivered at delivered_at (a date "
        "alone is that day, 00:00), and an order whose parcels are then all delivered moves to Delivered, and on to "
        "Completed when no required step is left. A parcel already delivered, not handed to the carrier yet or of a "
        "finished order is skipped. A tracking number no parcel has is listed, and the rest is still imported. "
        "collected: the cash the carrier collected for an order paid on delivery or at store pickup, the whole "
        "total on one of its parcels (blank or 0: nothing collected). carrier: the carrier's code, needed only for "
        "a number two carriers share."
    )

    def plan(self, rows, report):
        carriers = {carrier.code.upper(): carrier for carrier in Carrier.objects.all()}
        now = timezone.now()
        parsed, first_rows = [], {}
        for row in rows:
            cells = Cells(row, report)
            number = self._tracking_number(cells)
            delivered_at = cells.moment("delivered_at")
            if delivered_at is not None and delivered_at > now:
                cells.error(
                    "delivered_at",
                    _("“%(value)s” is in the future; a delivery report says when parcels were delivered.")
                    % {"value": shown(cells["delivered_at"])},
                )
            collected = self._collected(cells)
            carrier = None
            code = cells["carrier"]
            if code:
                carrier = carriers.get(code.upper())
                if carrier is None:
                    cells.error(
                        "carrier",
                        _("Unknown carrier “%(code)s”; the carriers' codes are %(codes)s.")
                        % {"code": shown(code), "codes": ", ".join(sorted(c.code for c in carriers.values()))},
                    )
            if not cells.ok:
                continue
            key = (number, carrier.pk if carrier else None)
            if key in first_rows:
                cells.error(
                    "tracking_number",
                    _("%(number)s is given on row %(row)s already.") % {"number": number, "row": first_rows[key]},
                )
                continue
            first_rows[key] = row.number
            parsed.append(DeliveryReportRow(row.number, number, delivered_at, collected, carrier))
        if not report.errors:
            _matches, _unknown, errors = deliveries_match(parsed)
            for row_number, column, reason in errors:
                report.error(row_number, column, reason)
        return DeliveryPlan(parsed, report)

    @staticmethod
    def _tracking_number(cells):
        value = cells["tracking_number"]
        if not value:
            return cells.error("tracking_number", _("A value is required."))
        number = normalise_tracking_number(value)
        if len(number) > TRACKING_NUMBER_MAX_LENGTH:
            return cells.error(
                "tracking_number",
                _("Too long: at most %(max)s characters, this has %(length)s.")
                % {"max": TRACKING_NUMBER_MAX_LENGTH, "length": len(number)},
            )
        return number

    @staticmethod
    def _collected(cells):
        """The amount collected: None when blank or 0 (nothing collected)."""
        value = cells["collected"]
        if not value:
            return None
        if not _NUMBER.match(value):
            if "," in value and _NUMBER.match(value.replace(",", "")):
                return cells.error(
                    "collected",
                    _("“%(value)s” is not an amount: write it without thousands separators, such as 1280 or 1280.50.")
                    % {"value": shown(value)},
                )
            return cells.error(
                "collected", _("“%(value)s” is not an amount such as 1280 or 1280.50.") % {"value": shown(value)}
            )
        amount = Decimal(value)
        if amount < 0:
            return cells.error("collected", _("A collected amount cannot be negative."))
        if amount >= _AMOUNT_LIMIT:
            return cells.error("collected", _("Too large for an amount."))
        if amount != amount.quantize(_CENTS):
            return cells.error("collected", _("At most %(places)s decimals.") % {"places": 2})
        return amount.quantize(_CENTS) if amount else None

    # --- what the report does -----------------------------------------------------------

    def preview(self, plan, report, *, actor):
        _fill(report, self._record(plan, actor=actor, dry_run=True))

    def write(self, plan, *, actor):
        _fill(plan.report, self._record(plan, actor=actor, dry_run=False))

    @staticmethod
    def _record(plan, *, actor, dry_run):
        try:
            return deliveries_record(rows=plan.rows, actor=actor, dry_run=dry_run)
        except DeliveryRowsRefused as refusal:
            # The parcels changed since the rows were checked (a parcel entered meanwhile).
            for row_number, column, reason in refusal.errors:
                plan.report.error(row_number, column, reason)
            raise ImportRefused(str(refusal)) from None
        except (WorkflowError, PermissionDenied) as refusal:
            raise ImportRefused(str(refusal)) from None


def _fill(report, result):
    """Put what deliveries_record did (or would do) into the import's report."""
    by_row = {}
    for note in [*result.delivered, *result.paid]:
        by_row.setdefault(note.row, (note.subject, []))[1].append(note.reason)
    report.created = [f"{subject}: {'; '.join(reasons)}" for _row, (subject, reasons) in sorted(by_row.items())]
    report.skipped = [Skipped(note.row, note.subject, note.reason) for note in result.skipped]
    report.other_changes = len(result.advanced) + len(result.completed)
    report.sections = []
    report.section(
        "unknown", _("Unknown tracking numbers: nothing recorded for these rows, the rest imported"), result.unknown
    )
    report.section("refused", _("Cash not recorded"), result.refused)
    report.section("uncollected", _("Delivered, cash not reported collected"), result.uncollected)
    report.section("not-advanced", _("Orders that stay where they are"), result.not_advanced)
    if result.advanced:
        report.section("advanced", _("Orders moved to Delivered"), [", ".join(result.advanced)])
    if result.completed:
        report.section("completed", _("Orders completed"), [", ".join(result.completed)])
    counts = {
        "delivered": len(result.delivered),
        "advanced": len(result.advanced),
        "completed": len(result.completed),
        "paid": len(result.paid),
        "unknown": len(result.unknown),
    }
    if result.dry_run:
        summary = [
            ngettext(
                "%(delivered)s parcel would be marked delivered.", "%(delivered)s parcels would be marked delivered.",
                counts["delivered"],
            ),
            ngettext(
                "%(advanced)s order would move to Delivered.", "%(advanced)s orders would move to Delivered.",
                counts["advanced"],
            ),
            ngettext(
                "%(completed)s order would be completed.", "%(completed)s orders would be completed.",
                counts["completed"],
            ),
            ngettext(
                "%(paid)s order would be marked paid (cash collected by the carrier).",
                "%(paid)s orders would be marked paid (cash collected by the carrier).",
                counts["paid"],
            ),
        ]  # fmt: skip
    else:
        summary = [
            ngettext("%(delivered)s parcel marked delivered.", "%(delivered)s parcels marked delivered.", counts["delivered"]),
            ngettext("%(advanced)s order moved to Delivered.", "%(advanced)s orders moved to Delivered.", counts["advanced"]),
            ngettext("%(completed)s order completed.", "%(completed)s orders completed.", counts["completed"]),
            ngettext(
                "%(paid)s order marked paid (cash collected by the carrier).",
                "%(paid)s orders marked paid (cash collected by the carrier).",
                counts["paid"],
            ),
        ]  # fmt: skip
    if counts["unknown"]:
        summary.append(
            ngettext(
                "%(unknown)s tracking number is unknown: nothing recorded for it (listed).",
                "%(unknown)s tracking numbers are unknown: nothing recorded for them (listed).",
                counts["unknown"],
            )
        )
    report.summary = [line % counts for line in summary]


register_import(DeliveryImporter.name, DeliveryImporter())

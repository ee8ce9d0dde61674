"""Imports, all or nothing: a CSV or XLSX file in, an ImportReport out.

The framework only; what each kind of data means lives with the app that owns it
(`inventory/imports.py`, `orders/imports.py`), registered in `reports.registry`.

`run_import()` reads the whole file first and refuses it as a whole
(ImportFileError, nothing run) when it cannot be trusted: empty, too large, not
UTF-8, not .csv/.xlsx, a header that is not the kind's columns, a workbook cell
holding a formula. Then the importer checks EVERY row and reports every problem as
(row, column, reason) – staff fix the file once, not once per error. Only a file
without a single error is written, in one transaction, by the importer through its
app's services; a service that refuses during the write (someone changed the data
since the check) rolls the whole import back and the report says why.

Row numbers are the spreadsheet's: the header is row 1, the first data row is 2.
Cells are text, stripped of surrounding spaces and kept exactly otherwise: a name
typed as `=HYPERLINK("…")` is stored as that text, never evaluated (the exports
neutralise such cells for spreadsheets, see reports.neutralise).
"""

import csv
import gc
import io
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from common.cleaning import NUL

from . import registry

IMPORT_PERMISSION = "orders.import_data"
EXTENSIONS = (".csv", ".xlsx")
# A workbook with more formula cells than this is refused naming the first ones.
FORMULA_CELLS_NAMED = 10


class ImportFileError(Exception):
    """The file as a whole cannot be imported (nothing was checked or written)."""


class ImportRefused(Exception):
    """An importer's write was refused by a service (the data changed since the
    rows were checked); the import is rolled back. The message is for staff."""


# --- the report ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self):
        if self.column:
            return _("row %(row)s, column %(column)s: %(reason)s") % {
                "row": self.row,
                "column": self.column,
                "reason": self.reason,
            }
        return _("row %(row)s: %(reason)s") % {"row": self.row, "reason": self.reason}


@dataclass(frozen=True)
class Skipped:
    row: int
    label: str
    reason: str

    def __str__(self):
        return _("row %(row)s, %(label)s: %(reason)s") % {"row": self.row, "label": self.label, "reason": self.reason}


@dataclass
class ReportSection:
    """More that an import has to say than created and skipped (the delivery report:
    unknown tracking numbers, orders that could not advance): a heading and its lines
    (each a text, e.g. "row 4, 1234: no parcel has this number")."""

    key: str  # stable, for the page's class names and tests
    title: str
    lines: list = field(default_factory=list)


@dataclass
class ImportReport:
    """What an import did, or in a dry run would do.

    `created`: a label per record created (an order with its lines is one record);
    `skipped`: records left as they are, with the reason; `errors`: every bad cell
    or row. `written` is True once the rows are in the database; `refusal` is the
    reason a service refused the write, after which nothing was written.
    `summary` (sentences, such as "3 parcels delivered") and `sections` are what an
    importer adds beyond those; the command and the admin pages show them."""

    kind: str
    dry_run: bool
    created: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    refusal: str = ""
    written: bool = False
    summary: list = field(default_factory=list)
    sections: list = field(default_factory=list)
    # Changes besides the records created (the delivery report: orders moved on whose
    # parcels were delivered before), so that such a file can still be confirmed.
    other_changes: int = 0

    @property
    def changes_anything(self):
        return bool(self.created) or self.other_changes > 0

    def section(self, key, title, lines):
        """Add a section, if it has lines."""
        if lines:
            self.sections.append(ReportSection(key, str(title), [str(line) for line in lines]))

    def error(self, row, column, reason):
        self.errors.append(RowError(row, column, reason))

    def skip(self, row, label, reason):
        self.skipped.append(Skipped(row, label, reason))

    def create(self, label):
        self.created.append(label)

    @property
    def ok(self):
        return not self.errors and not self.refusal

    def sorted_errors(self):
        return sorted(self.errors, key=lambda error: error.row)


# --- importers ---------------------------------------------------------------------------


class Row:
    """One data row: its spreadsheet row number and its cells by column name."""

    __slots__ = ("number", "cells")

    def __init__(self, number, cells):
        self.number = number
        self.cells = cells

    def __repr__(self):
        return f"Row({self.number}, {self.cells!r})"


class Importer:
    """One kind of import. Subclasses set `name` (the kind, as typed on the command
    line), `verbose_name` (plural, for people), `columns` (the header, every one
    required, in any order), `permission` (the model permission its writes need,
    besides orders.import_data), `existing` (what happens to a record that already
    exists, for the form and the preview), and implement:

    - `plan(rows, report)`: check every row, record each error, skip and creation
      in `report`, and return what `write` needs. Reads only.
    - `write(plan, *, actor)`: write it through the services, inside the caller's
      transaction; raise ImportRefused when a service refuses.
    - optionally `preview(plan, report, *, actor)`: in a dry run of a file without
      errors, add to `report` what the write would do that `plan` cannot tell by
      reading alone (the delivery report works it out and rolls it back); raise
      ImportRefused when a service refuses. The default adds nothing.

    `result_page`: the admin shows the report after a confirmed import (instead of
    going back to the list with a one-line message), for imports whose outcome is
    more than records created.
    """

    name = ""
    verbose_name = ""
    columns = ()
    optional_columns = ()
    permission = None
    existing = ""
    result_page = False

    def plan(self, rows, report):
        raise NotImplementedError

    def preview(self, plan, report, *, actor):
        return None

    def write(self, plan, *, actor):
        raise NotImplementedError


def may_import(user, importer):
    """Whether `user` may run `importer` (None is the system, which may)."""
    if user is None:
        return True
    if not user.is_active or not user.has_perm(IMPORT_PERMISSION):
        return False
    return importer.permission is None or user.has_perm(importer.permission)


def run_import(kind, file, *, actor, dry_run, name=None):
    """Import `file` (binary, opened or uploaded; `.name` gives the format unless
    `name` is given) as `kind`. Returns an ImportReport; raises LookupError for an
    unknown kind, PermissionDenied when `actor` may not import it and
    ImportFileError when the file as a whole cannot be imported."""
    importer = registry.importer(kind)
    if not may_import(actor, importer):
        raise PermissionDenied(_("You do not have permission to %(action)s.") % {"action": _("import data")})
    with _cyclic_gc_paused():
        table = read_table(file, columns=importer.columns, optional=importer.optional_columns, name=name)
        report = ImportReport(kind=kind, dry_run=dry_run)
        report.errors.extend(table.errors)
        plan = importer.plan(table.rows, report)
        if report.errors:
            return report
        if dry_run:
            try:
                importer.preview(plan, report, actor=actor)
            except ImportRefused as refusal:
                report.refusal = str(refusal)
            return report
        try:
            with transaction.atomic():
                importer.write(plan, actor=actor)
        except ImportRefused as refusal:
            report.refusal = str(refusal)
            return report
    report.written = True
    return report


@contextmanager
def _cyclic_gc_paused():
    """Python's cycle collector off while an import runs. A large file means
    millions of small objects alive at once (a cell, a row, a planned record), and
    each full collection walks all of them again: measured, about a sixth of the time
    of an import of 100,000 lines. Nothing is lost: any cycle made meanwhile is
    collected once the collector runs again, and the file size (IMPORT_MAX_BYTES)
    bounds what is held until then."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- reading files ----------------------------------------------------------------------


@dataclass
class Table:
    header: list
    rows: list
    # Rows that do not fit the header (more cells than columns), as RowErrors.
    errors: list


def read_table(file, *, columns, optional=(), name=None):
    """The rows of `file` under its header, which must be exactly `columns` (in any
    order), plus any of `optional` (each row's cells give "" for one the file leaves
    out). Blank rows are left out; their numbers are kept for the others."""
    name = name if name is not None else getattr(file, "name", "") or ""
    extension = os.path.splitext(str(name))[1].lower()
    if extension not in EXTENSIONS:
        raise ImportFileError(
            _("Only .csv and .xlsx files can be imported; “%(name)s” is neither.")
            % {"name": os.path.basename(str(name)) or "?"}
        )
    data = _read_limited(file)
    if not data.strip():
        raise ImportFileError(_("The file is empty."))
    raw_rows = _csv_rows(data) if extension == ".csv" else _xlsx_rows(data)
    return _table(raw_rows, columns, optional)


def _read_limited(file):
    limit = settings.IMPORT_MAX_BYTES
    size = getattr(file, "size", None)
    if size is None or size <= limit:
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read(limit + 1)
        size = len(data)
    if size > limit:
        raise ImportFileError(
            _("The file is %(size)s; at most %(limit)s can be imported at once. Split it into smaller files.")
            % {"size": filesizeformat(size), "limit": filesizeformat(limit)}
        )
    return data


def _csv_rows(data):
    try:
        # utf-8-sig: the byte-order mark Excel writes in "CSV UTF-8" is not part of the first column's name.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            _(
                "The file is not UTF-8 text (it may be Big5 or another encoding). Save it as UTF-8 – in Excel "
                "“CSV UTF-8 (comma delimited)” – and import it again."
            )
        ) from None
    if NUL in text:
        # No database column can store one (common/cleaning.py). A UTF-16 file ("Unicode
        # text") decodes as UTF-8 with a NUL after every letter. (XLSX cannot hold one.)
        raise ImportFileError(
            _(
                "Line %(line)s of the file holds an invisible NUL character, which cannot be stored (the file "
                "may be saved as UTF-16 “Unicode text”). Save it as UTF-8 – in Excel “CSV UTF-8 (comma "
                "delimited)” – and import it again."
            )
            % {"line": text.count("\n", 0, text.index(NUL)) + 1}
        )
    # newline="" lets the csv module see \n, \r\n and a lone \r alike, and keeps line
    # breaks inside quoted cells.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from reader
    except csv.Error as error:
        raise ImportFileError(
            _("The file is not valid CSV (line %(line)s: %(error)s).") % {"line": reader.line_num, "error": error}
        ) from None


def _xlsx_rows(data):
    """The first worksheet's rows as text cells. Formulas are refused, not
    evaluated: an import takes the values people see, and a formula's cached value
    may be stale or missing."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        sheet = workbook.worksheets[0]
    except Exception:  # noqa: BLE001  (openpyxl raises many kinds for a damaged file)
        raise ImportFileError(
            _("The file is not an XLSX workbook that can be read. Save it from the spreadsheet as .xlsx or as CSV UTF-8.")
        ) from None
    try:
        # Some writers record a wrong sheet size; read what is there instead.
        sheet.reset_dimensions()
        rows, formulas = [], []
        for row_number, row in enumerate(sheet.iter_rows(), start=1):
            cells = []
            for column_number, cell in enumerate(row, start=1):
                value = cell.value
                if cell.data_type == "f" or isinstance(value, (ArrayFormula, DataTableFormula)):
                    formulas.append(f"{get_column_letter(column_number)}{row_number}")
                    cells.append("")
                    continue
                cells.append(_xlsx_text(value))
            rows.append(cells)
    finally:
        workbook.close()
    if formulas:
        named = ", ".join(formulas[:FORMULA_CELLS_NAMED])
        if len(formulas) > FORMULA_CELLS_NAMED:
            named += " " + _("and %(count)s more") % {"count": len(formulas) - FORMULA_CELLS_NAMED}
        raise ImportFileError(
            _(
                "Cell %(cells)s holds a formula. Imports take values only: replace the formulas by their values "
                "(copy, then paste as values) and import again."
            )
            % {"cells": named}
        )
    return rows


def _xlsx_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # A whole number typed in a cell is stored as a float: 12.0 is "12".
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def _header(cells):
    header = [cell.strip().lower() for cell in cells]
    while header and not header[-1]:
        header.pop()
    return header


def _table(raw_rows, columns, optional=()):
    rows_iter = iter(raw_rows)
    header = None
    for cells in rows_iter:
        header = _header(cells)
        break
    if header is None or (not header and not any(any(map(str.strip, cells)) for cells in rows_iter)):
        raise ImportFileError(_("The file is empty."))
    _check_header(header, columns, optional)
    absent = {name: "" for name in optional if name not in header}
    width = len(header)
    rows, errors = [], []
    strip = str.strip
    for number, cells in enumerate(rows_iter, start=2):
        cells = list(map(strip, cells))
        if len(cells) == width and any(cells):  # the usual case
            rows.append(Row(number, {**absent, **dict(zip(header, cells))} if absent else dict(zip(header, cells))))
            continue
        while len(cells) > width and not cells[-1]:
            cells.pop()  # empty cells right of the table: a spreadsheet's used range
        if len(cells) > width:
            errors.append(
                RowError(
                    number,
                    "",
                    _(
                        "This row has %(cells)s cells but the header has %(columns)s columns. A value that "
                        "contains a comma must be in double quotes."
                    )
                    % {"cells": len(cells), "columns": width},
                )
            )
            continue
        if not any(cells):
            continue
        cells.extend([""] * (width - len(cells)))
        rows.append(Row(number, {**absent, **dict(zip(header, cells))}))
    if not rows and not errors:
        raise ImportFileError(_("The file has a header row but no rows to import."))
    return Table(header=header, rows=rows, errors=errors)


def _check_header(header, columns, optional=()):
    expected = list(columns)
    duplicated = sorted({name for name in header if header.count(name) > 1})
    missing = [name for name in expected if name not in header]
    unexpected = [name or _("(blank)") for name in header if name not in expected and name not in optional]
    if not (missing or unexpected or duplicated):
        return
    problems = []
    if missing:
        problems.append(_("missing %(columns)s") % {"columns": ", ".join(missing)})
    if unexpected:
        problems.append(_("unexpected %(columns)s") % {"columns": ", ".join(unexpected)})
    if duplicated:
        problems.append(_("repeated %(columns)s") % {"columns": ", ".join(duplicated)})
    message = _("The first row must name the columns %(expected)s (%(problems)s).") % {
        "expected": ",".join(expected),
        "problems": "; ".join(problems),
    }
    if optional:
        message += " " + _("It may also have %(columns)s.") % {"columns": ",".join(optional)}
    if len(header) == 1 and re.search(r"[;\t]", header[0]):
        message += " " + _("Separate the columns with commas.")
    raise ImportFileError(message)


# --- reading cells -----------------------------------------------------------------------


def shown(value, limit=40):
    """A cell as quoted in a message: long ones cut, so a reason stays readable."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


_WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")
_PLAIN_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_PRICE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
_CENTS = Decimal("0.01")


class Cells:
    """The cells of one row, read column by column into values. Each problem is
    recorded in the report under the row and column, and the reader goes on, so
    one pass finds every error in the row; `ok` says whether there was none."""

    def __init__(self, row, report):
        self.row = row
        self.report = report
        self.ok = True

    def __getitem__(self, column):
        return self.row.cells[column]

    def error(self, column, reason):
        """Record a bad cell. Returns None, the value a reader gives for it."""
        self.report.error(self.row.number, column, reason)
        self.ok = False

    def text(self, column, model_field, *, required=None):
        """The cell as text, required unless the model field may be blank, and no
        longer than the field holds (so nothing is ever cut short when stored)."""
        value = self.row.cells[column]
        if required is None:
            required = not model_field.blank
        if not value:
            if required:
                return self.error(column, _("A value is required."))
            return ""
        if model_field.max_length is not None and len(value) > model_field.max_length:
            return self.error(
                column,
                _("Too long: at most %(max)s characters, this has %(length)s.")
                % {"max": model_field.max_length, "length": len(value)},
            )
        return value

    def whole_number(self, column, *, minimum=0, default=None):
        value = self.row.cells[column]
        if value.isascii() and value.isdigit() and len(value) < 10 and int(value) >= minimum:
            return int(value)  # the usual case, in one step
        if not value:
            if default is None:
                return self.error(column, _("A value is required."))
            return default
        if not _WHOLE_NUMBER.match(value):
            return self.error(column, _("“%(value)s” is not a whole number.") % {"value": shown(value)})
        number = int(value)
        if number < minimum:
            return self.error(column, _("Must be at least %(minimum)s.") % {"minimum": minimum})
        # PositiveIntegerField and IntegerField hold 32 bits on every database.
        if number > 2147483647:
            return self.error(column, _("Too large: at most %(maximum)s.") % {"maximum": 2147483647})
        return number

    def money(self, column, *, max_digits=12, places=2):
        """A price: a plain decimal ≥ 0 with at most `places` decimals."""
        value = self.row.cells[column]
        if places == 2 and max_digits == 12 and _PRICE.match(value):
            return Decimal(value).quantize(_CENTS)  # the usual case, in one step
        if not value:
            return self.error(column, _("A value is required."))
        if not _PLAIN_DECIMAL.match(value):
            return self.error(column, _("“%(value)s” is not a number such as 120 or 19.90.") % {"value": shown(value)})
        try:
            amount = Decimal(value)
        except InvalidOperation:  # pragma: no cover  (the pattern admits only numbers)
            return self.error(column, _("“%(value)s” is not a number such as 120 or 19.90.") % {"value": shown(value)})
        if amount < 0:
            return self.error(column, _("A price cannot be negative."))
        if amount and amount.adjusted() >= max_digits - places:
            return self.error(column, _("Too large for a price."))
        step = Decimal(1).scaleb(-places)
        if amount != amount.quantize(step):
            return self.error(column, _("At most %(places)s decimals.") % {"places": places})
        return amount.quantize(step)

    def choice(self, column, choices, *, default=None):
        """One of `choices` (the stored values), typed in any case."""
        value = self.row.cells[column].lower()
        if not value and default is not None:
            return default
        if value not in choices:
            return self.error(
                column,
                _("“%(value)s” is not one of: %(choices)s.")
                % {"value": shown(self.row.cells[column]), "choices": ", ".join(choices)},
            )
        return value

    def moment(self, column):
        """An ISO 8601 date (midnight) or date-time; without an offset it is local
        time (settings.TIME_ZONE)."""
        value = self.row.cells[column]
        if not value:
            return self.error(column, _("A value is required."))
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return self.error(
                column,
                _("“%(value)s” is not an ISO 8601 date or date-time, such as 2026-05-01 or 2026-05-01T14:30.")
                % {"value": shown(value)},
            )
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, timezone.get_default_timezone())
        return moment


def chunked(values, size=5000):
    """`values` in lists of at most `size`, for `__in` look-ups any database takes."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]

"""Writing exports: which rows (a kind's FilterSet, search and selection), then the
cells, as CSV, XLSX or JSON.

Rows are read with one `values_list()` iterated in chunks (a server-side cursor on
PostgreSQL), so memory stays flat however many rows there are. On PostgreSQL the
CSV can instead come straight from `COPY (SELECT …) TO STDOUT`, with the cells
rendered and neutralised in the SELECT (`copy_sql`); both paths write the same bytes.

Cells: text is neutralised for spreadsheets (reports.neutralise) in CSV and XLSX and
left as it is in JSON; date-times are local time (settings.TIME_ZONE) as
YYYY-MM-DD HH:MM:SS; numbers as the database holds them (2 decimals for money).
"""

import csv
import io
import json
import re
import tempfile
import threading
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql as psycopg_sql

from .filters import filtered
from .neutralise import neutralise, neutralise_sql
from .resources import BOOLEAN, DATE, DATETIME, DECIMAL, TEXT

CENTS = Decimal("0.01")
CHUNK_ROWS = 2000
PROGRESS_EVERY = 5000
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "json": ("application/json", "json"),
}


# --- which rows ------------------------------------------------------------------


class Selection:
    """What one export covers: the kind's FilterSet values, a search box entry and
    (from "export selected") primary keys of the rows the user ticked."""

    def __init__(self, data=None, search="", ids=None):
        self.data = {key: value for key, value in (data or {}).items() if value not in (None, "")}
        self.search = (search or "").strip()
        self.ids = [int(pk) for pk in ids or []]

    def as_json(self):
        return {"data": self.data, "search": self.search, "ids": self.ids}

    @classmethod
    def from_json(cls, value):
        return cls(value.get("data"), value.get("search", ""), value.get("ids"))


def export_queryset(kind, resource, selection):
    """The rows of `kind` for `selection`, ordered by primary key.

    Raises reports.filters.ReportFilterError when a filter value does not parse:
    never an unfiltered export."""
    base = resource.get_queryset()
    target = kind.filterset._meta.model._default_manager.all() if kind.rows_from else base
    if kind.filterset is not None:
        target = filtered(kind.filterset(selection.data, queryset=target))
    if selection.search and kind.search is not None:
        target = kind.search(target, selection.search)
    if selection.ids:
        target = target.filter(pk__in=selection.ids)
    rows = kind.rows_from(target, base) if kind.rows_from else target
    return rows.order_by("pk")


def value_rows(columns, queryset):
    return queryset.values_list(*[column.path for column in columns]).iterator(chunk_size=CHUNK_ROWS)


# --- cells -------------------------------------------------------------------------


def csv_cell(value, column_type):
    if value is None:
        return ""
    if column_type == TEXT:
        return neutralise(str(value))
    if column_type == DATETIME:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if column_type == DATE:
        return value.isoformat()
    if column_type == BOOLEAN:
        return "true" if value else "false"
    if column_type == DECIMAL:
        return format(_money(value), "f")
    return str(value)


def _money(value):
    """Decimal columns are money: two decimals, as the database stores them (SQLite
    returns computed amounts such as quantity × price without the scale)."""
    return Decimal(str(value)).quantize(CENTS)


# Characters XML 1.0 (and so XLSX) cannot hold.
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def xlsx_cell(value, column_type):
    if value is None:
        return None
    if column_type == TEXT:
        return _XLSX_ILLEGAL.sub("", neutralise(str(value)))
    if column_type == DATETIME:
        return timezone.localtime(value).replace(tzinfo=None)
    if column_type == DECIMAL:
        return _money(value)
    return value


def json_value(value, column_type):
    if value is None:
        return None
    if column_type == DATETIME:
        return timezone.localtime(value).isoformat()
    if column_type == DATE:
        return value.isoformat()
    if column_type == DECIMAL:
        return str(_money(value))  # exact, unlike a float
    return value


# --- writers ------------------------------------------------------------------------


def _counted(rows, progress):
    count = 0
    for count, row in enumerate(rows, start=1):
        yield row
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if progress is not None:
        progress(count)


def write_csv(out, columns, rows, *, progress=None, bom=False):
    """CSV into the binary file `out`; returns the number of rows."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    if bom:
        text.write("\ufeff")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([column.name for column in columns])
    types = [column.type for column in columns]
    count = 0
    for count, row in enumerate(_counted(rows, progress), start=1):
        writer.writerow([csv_cell(value, column_type) for value, column_type in zip(row, types)])
    text.flush()
    text.detach()
    return count


def write_xlsx(out, columns, rows, *, progress=None, title="Export"):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    types = [column.type for column in columns]
    count = 0
    date_cells = {index for index, column_type in enumerate(types) if column_type in (DATETIME, DATE)}
    for count, row in enumerate(_counted(rows, progress), start=1):
        values = [xlsx_cell(value, column_type) for value, column_type in zip(row, types)]
        if date_cells:
            cells = []
            for index, value in enumerate(values):
                cell = WriteOnlyCell(sheet, value=value)
                if index in date_cells and value is not None:
                    cell.number_format = "yyyy-mm-dd hh:mm:ss" if types[index] == DATETIME else "yyyy-mm-dd"
                cells.append(cell)
            sheet.append(cells)
        else:
            sheet.append(values)
    workbook.save(out)
    return count


def write_json(out, columns, rows, *, progress=None):
    """A JSON array of objects, one per row, written as it is read."""
    names = [column.name for column in columns]
    types = [column.type for column in columns]
    out.write(b"[")
    count = 0
    for count, row in enumerate(_counted(rows, progress), start=1):
        item = {name: json_value(value, column_type) for name, value, column_type in zip(names, row, types)}
        out.write((b",\n" if count > 1 else b"\n") + json.dumps(item, ensure_ascii=False).encode("utf-8"))
    out.write(b"\n]\n")
    return count


def write_export(out, file_format, columns, queryset, *, progress=None, bom=False, title="Export"):
    rows = value_rows(columns, queryset)
    if file_format == "csv":
        return write_csv(out, columns, rows, progress=progress, bom=bom)
    if file_format == "xlsx":
        return write_xlsx(out, columns, rows, progress=progress, title=title)
    if file_format == "json":
        return write_json(out, columns, rows, progress=progress)
    raise ValueError(f"unknown export format {file_format!r}")


# --- the PostgreSQL fast path ----------------------------------------------------------


def _cell_sql(alias, column_type):
    if column_type == TEXT:
        return f"NULLIF({neutralise_sql(f'{alias}::text')}, '')"
    if column_type == DATETIME:
        # Truncated to the second, as strftime does; the text form is ISO (DateStyle
        # is set for the COPY), and a cast is faster than to_char().
        return f"date_trunc('second', {alias} AT TIME ZONE %s)::text"
    if column_type == DATE:
        return f"to_char({alias}, 'YYYY-MM-DD')"
    if column_type == BOOLEAN:
        return f"CASE WHEN {alias} THEN 'true' WHEN NOT {alias} THEN 'false' END"
    if column_type == DECIMAL:
        return f"({alias})::numeric(14, 2)::text"
    return f"{alias}::text"


# A large export of a Resource with CopyJoins aggregates whole tables once (a merge
# join on the primary key) rather than running a subquery per row; a small one keeps
# the subqueries, which read only its own rows. The choice uses the planner's estimate.
COPY_JOIN_MIN_ROWS = 100_000


def copy_sql(columns, queryset, joins=(), key_range=None):
    """(sql, params) of a SELECT giving the CSV cells of `queryset` as text, exactly
    as csv_cell() writes them (an empty text is NULL, which COPY writes unquoted).

    With `joins` (CopyJoins), the columns they provide come from pre-aggregated
    tables joined on the primary key instead of the queryset's subqueries;
    `key_range` (first, after-last) limits those tables to one slice of keys (the
    caller limits the queryset to the same slice)."""
    joined = {path: (index, sql) for index, join in enumerate(joins) for path, sql in join.columns.items()}
    plain = [column for column in columns if column.path not in joined]
    inner, params = queryset.values_list("pk", *[column.path for column in plain]).query.sql_with_params()
    aliases = {column.path: f"c{index}" for index, column in enumerate(plain)}
    cells, cell_params = [], []
    for column in columns:
        if column.path in joined:
            index, template = joined[column.path]
            expression = template.format(join=f"j{index}")
        else:
            expression = f"export_rows.{aliases[column.path]}"
        cells.append(_cell_sql(expression, column.type))
        if column.type == DATETIME:
            cell_params.append(settings.TIME_ZONE)
    sources = f"({inner}) AS export_rows (row_pk, {', '.join(aliases[column.path] for column in plain)})"
    join_params = []
    for index in sorted({joined[column.path][0] for column in columns if column.path in joined}):
        join = joins[index]
        where = "TRUE"
        if key_range is not None:
            where = f"{join.key} >= %s AND {join.key} < %s"
            join_params += key_range
        sources += f" LEFT JOIN ({join.sql.format(where=where)}) AS j{index} ON j{index}.row_pk = export_rows.row_pk"
    sql = f"SELECT {', '.join(cells)} FROM {sources} ORDER BY export_rows.row_pk"
    return sql, (*cell_params, *params, *join_params)


def estimated_rows(queryset):
    """The planner's estimate of the queryset's rows (PostgreSQL), without running it."""
    sql, params = queryset.values_list("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


# A large export is read in this many slices of primary keys at once, each on its
# own connection (one per core), from one snapshot so the slices agree.
COPY_PARTS = 2


def _prepare(cursor):
    # Room to sort and aggregate in memory (the joins read whole tables); no JIT for
    # one long query, whose compiling costs more than it saves; ISO dates.
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")
    cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")


def _copy_into(cursor, sql, params, out, counter=None):
    with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
        for data in copy:
            out.write(data)
            if counter is not None:
                counter(bytes(data).count(b"\n"))  # quoted line breaks make it approximate
    return cursor.rowcount


def copy_csv(out, columns, queryset, *, joins=None, progress=None, bom=False):
    """CSV into the binary file `out` through COPY … TO STDOUT (PostgreSQL only);
    returns the number of rows. `joins`: the Resource's CopyJoins, used when the
    export is large (None: never); a large export is also read in COPY_PARTS
    slices at once."""
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([column.name for column in columns])
    out.write(("\ufeff" if bom else "").encode("utf-8") + header.getvalue().encode("utf-8"))
    lines = [0]

    def count_lines(count):
        before, lines[0] = lines[0], lines[0] + count
        if lines[0] // PROGRESS_EVERY > before // PROGRESS_EVERY:
            progress(lines[0])

    counter = count_lines if progress is not None else None

    large = bool(joins) and estimated_rows(queryset) >= COPY_JOIN_MIN_ROWS
    # Other connections cannot see what an enclosing transaction has not committed.
    if large and not connection.in_atomic_block:
        first = queryset.order_by("pk").values_list("pk", flat=True).first()
        last = queryset.order_by("-pk").values_list("pk", flat=True).first()
        if first is not None:
            return _copy_in_slices(out, columns, queryset, joins, (first, last + 1), counter)
    sql, params = copy_sql(columns, queryset, joins if large else ())
    connection.ensure_connection()
    with transaction.atomic(), connection.connection.cursor() as cursor:
        _prepare(cursor)
        return _copy_into(cursor, sql, params, out, counter)


def _copy_in_slices(out, columns, queryset, joins, bounds, counter):
    """The rows in COPY_PARTS slices of primary keys, read at once: this connection
    reads the first slice straight into `out`, other connections read the others
    into temporary files, all in one snapshot (pg_export_snapshot), and the files
    are appended in key order."""
    first, after_last = bounds
    cuts = [first + (after_last - first) * index // COPY_PARTS for index in range(COPY_PARTS + 1)]
    slices = [(cuts[index], cuts[index + 1]) for index in range(COPY_PARTS)]
    statements = [
        copy_sql(columns, queryset.filter(pk__gte=low, pk__lt=high), joins, key_range=(low, high))
        for low, high in slices
    ]
    connection.ensure_connection()
    with transaction.atomic(), connection.connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _prepare(cursor)
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        spools = [tempfile.TemporaryFile() for _slice in slices[1:]]
        counts, failures = [0] * len(slices), []

        def read_slice(index):
            other = connection.get_new_connection(connection.get_connection_params())
            try:
                other.autocommit = False
                with other.cursor() as their_cursor:
                    their_cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    their_cursor.execute(
                        psycopg_sql.SQL("SET TRANSACTION SNAPSHOT {}").format(psycopg_sql.Literal(snapshot))
                    )
                    _prepare(their_cursor)
                    counts[index] = _copy_into(their_cursor, *statements[index], spools[index - 1])
                other.rollback()
            except Exception as error:  # raised again in the calling thread
                failures.append(error)
            finally:
                other.close()

        readers = [threading.Thread(target=read_slice, args=(index,)) for index in range(1, len(slices))]
        for reader in readers:
            reader.start()
        try:
            counts[0] = _copy_into(cursor, *statements[0], out, counter)
        finally:
            for reader in readers:
                reader.join()
        if failures:
            raise failures[0]
        for spool in spools:
            spool.seek(0)
            while chunk := spool.read(1024 * 1024):
                out.write(chunk)
                if counter is not None:
                    counter(chunk.count(b"\n"))
            spool.close()
        return sum(counts)

"""Inserting many rows fast, for imports: COPY on PostgreSQL, bulk_create elsewhere.

Why not bulk_create everywhere: an import of 100,000 order lines creates about
230,000 rows (orders, lines, checklist items, events). bulk_create prepares every
value of every row through its field (`get_db_prep_save`) and builds one statement
per batch; measured on PostgreSQL that alone took about 9 s, several times the
budget of the whole import (20,000 lines a second). `COPY … FROM STDIN` streams the
same rows in a fraction of that. The values given here are already what a saved
model instance holds (ints, text, Decimals, aware datetimes, dicts for JSON), so
they need no preparation except JSON. On other databases (SQLite in development and
tests) the same rows go through bulk_create, so both paths store the same data.

With `background=True` (large batches) the COPYs run in a thread on the same
connection, in the order given, while the caller prepares the next batch: the
database works on one CPU while Python checks the next rows on the other. For the
same reason the foreign keys are checked as each COPY ends (SET CONSTRAINTS ALL
IMMEDIATE, back to DEFERRED afterwards) rather than all at COMMIT, where nothing
else could overlap them; parents are always inserted before their children here.

An Inserter must be used inside a transaction (the caller's atomic block), and the
caller must not run queries between enter and exit other than through it.
"""

import queue
import threading

from django.db import DEFAULT_DB_ALIAS, connection, connections

# Fields whose Python value is what PostgreSQL takes in COPY (Django's PostgreSQL
# adapters return these values unchanged).
_AS_IS = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateTimeField",
    "DecimalField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}
# Batches waiting for the background thread at most: memory stays bounded when the
# database is slower than the caller.
_QUEUED_BATCHES = 4


def on_postgresql():
    return connection.vendor == "postgresql"


def new_ids(model, count):
    """`count` primary keys for new rows of `model`, taken from its sequence as an
    INSERT would take them (PostgreSQL); on other databases None each, and the
    INSERT assigns them."""
    if not on_postgresql() or count == 0:
        return [None] * count
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


class Inserter:
    """INSERTs, in the order they are given, of new model instances (`objects`) and
    of plain rows (`rows`)."""

    def __init__(self, *, background=False):
        self.background = background
        self._thread = None
        self._error = None
        self._cancelled = False

    def __enter__(self):
        if on_postgresql():
            # This thread's connection, handed to the background thread: Django's
            # `connection` is per thread, and the COPYs belong to this transaction.
            self._wrapper = connections[DEFAULT_DB_ALIAS]
            self._wrapper.ensure_connection()
            if self.background:
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                self._queue = queue.Queue(maxsize=_QUEUED_BATCHES)
                self._thread = threading.Thread(target=self._copy_batches, name="bulk-insert", daemon=True)
                self._thread.start()
        return self

    def __exit__(self, exc_type, exc, traceback):
        if self._thread is not None:
            self._cancelled = exc is not None
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            if exc is None and self._error is None:
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        if exc is None and self._error is not None:
            with connection.wrap_database_errors:  # a duplicate key becomes django.db.IntegrityError
                raise self._error
        return False

    def objects(self, objects):
        """INSERT unsaved instances of one model. On PostgreSQL their primary keys
        must be set already (new_ids); elsewhere the INSERT sets them. Field defaults
        and auto_now_add apply as in save(); no signals are sent."""
        objects = list(objects)
        if not objects:
            return
        model = type(objects[0])
        if not on_postgresql():
            model._default_manager.bulk_create(objects)
            return
        if any(obj.pk is None for obj in objects):
            raise ValueError(f"{model.__name__} objects need their primary keys from new_ids() before a COPY.")
        fields = model._meta.concrete_fields
        rows = [[field.pre_save(obj, True) for field in fields] for obj in objects]
        for obj in objects:
            obj._state.adding = False
            obj._state.db = connection.alias
        self._copy(model, fields, rows)

    def rows(self, model, attnames, rows):
        """INSERT rows given as sequences of values for `attnames` (attribute names
        such as `order_id`); the other columns get their defaults. For rows nobody
        needs as objects afterwards (order lines, checklist items, events)."""
        rows = list(rows)
        if not rows:
            return
        if not on_postgresql():
            model._default_manager.bulk_create(model(**dict(zip(attnames, row))) for row in rows)
            return
        fields_by_attname = {field.attname: field for field in model._meta.concrete_fields}
        fields = [fields_by_attname[attname] for attname in attnames]
        defaults = [
            field
            for field in model._meta.concrete_fields
            if field.attname not in attnames and not field.primary_key and field.has_default()
        ]
        if defaults:
            fields = fields + defaults
            rows = [tuple(row) + tuple(field.get_default() for field in defaults) for row in rows]
        self._copy(model, fields, rows)

    # --- PostgreSQL ------------------------------------------------------------------

    def _copy(self, model, fields, rows):
        if self._error is not None:
            # The background thread's COPY failed: stop the caller at once.
            with connection.wrap_database_errors:
                raise self._error
        if self._thread is None:
            with connection.wrap_database_errors:
                _copy(self._wrapper, model, fields, rows)
            return
        self._queue.put((model, fields, rows))

    def _copy_batches(self):
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is not None or self._cancelled:
                continue
            try:
                _copy(self._wrapper, *batch)
            except BaseException as error:  # noqa: BLE001  (handed to the caller's thread, which raises it)
                self._error = error


def _preparer(field, wrapper):
    if field.get_internal_type() in _AS_IS:
        return None
    return lambda value: field.get_db_prep_save(value, wrapper)


def _copy(wrapper, model, fields, rows):
    """COPY `rows` (sequences of values in the order of `fields`) into the model's
    table, on `wrapper`'s connection (Django's wrapper of it, from the caller's thread)."""
    preparers = [(index, prepare) for index, field in enumerate(fields) if (prepare := _preparer(field, wrapper))]
    quote = wrapper.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    with wrapper.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            if preparers:
                row = list(row)
                for index, prepare in preparers:
                    row[index] = prepare(row[index])
            copy.write_row(row)

"""The benchmarks' fill (bench/reports_bench.fill) at a few hundred orders in the test
database, for the tests of the benchmarks themselves (tests/test_reports_bench.py,
tests/test_pages_bench.py).

The fill writes on its own connections, so its rows are committed: `committed_fill`
checks the tables start empty, fills them, and removes every row afterwards.
"""

from contextlib import contextmanager

from django.db import connection

from bench import reports_bench

ORDERS = 400
FILL_TABLES = reports_bench.Fill.FILLED_TABLES + [
    "orders_customer",
    "inventory_product",
    "inventory_warehouse",
]
# The carriers are the installation's own (a data migration), not the fill's: they are
# there before it and stay after it.


def row_count(cursor, table):
    cursor.execute(f"SELECT count(*) FROM {table}")
    return cursor.fetchone()[0]


@contextmanager
def committed_fill(orders=ORDERS):
    """Fill `orders` orders, yield the fill's job, and empty the tables again."""
    with connection.cursor() as cursor:
        leftovers = {table: row_count(cursor, table) for table in FILL_TABLES if row_count(cursor, table)}
    assert not leftovers, f"the test database should start without these rows: {leftovers}"
    try:
        # Sixty days rather than two years, so that a few hundred orders still reach
        # every state and recent ones are open (in Processing, to scan and print).
        _seconds, job = reports_bench.fill(orders=orders, span_days=60, verbose=False)
        yield job
    finally:
        from django.contrib.auth.models import User

        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_plan")
            cursor.execute("TRUNCATE " + ", ".join(FILL_TABLES) + " CASCADE")
        User.objects.filter(username__startswith=reports_bench.USER_PREFIX).delete()

"""The reports benchmark (bench/reports_bench.py) at a few hundred orders: the same
fill and measurement functions, on the test database.

The fill is committed once for the module (the measurements run the commands in
child processes, which only see committed rows) and removed afterwards. The
export, import and dashboard tests fail, rather than skip, when a command or page
is missing: by the time the suite runs they exist, and a skip would hide a harness
that no longer measures them.
"""

from pathlib import Path

import pytest
from django.db import connection

from bench import reports_bench as bench
from orders.phones import normalize_phone
from tests.bench_fill import ORDERS, committed_fill, row_count
from tests.utils import ON_POSTGRESQL


requires_postgresql_bench = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="the reports benchmark fills and measures PostgreSQL (generate_series, COPY), the production database",
)
pytestmark = [requires_postgresql_bench, pytest.mark.django_db]


@pytest.fixture(scope="module")
def filled(django_db_setup, django_db_blocker):
    """ORDERS orders filled (and committed) in the test database for this module."""
    with django_db_blocker.unblock(), committed_fill(ORDERS) as job:
        yield job


def test_fill_is_consistent(filled):
    assert bench.consistency_problems() == {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT customer_id) FROM orders_order WHERE number LIKE %s",
                       [bench.ORDER_PREFIX + "%"])
        orders, customers = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM orders_orderline")
        lines = cursor.fetchone()[0]
        cursor.execute("SELECT DISTINCT status FROM orders_order")
        statuses = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT DISTINCT data->>'to' FROM orders_orderevent WHERE kind = 'transition'")
        reached = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT data->>'action', count(*) FROM orders_orderevent WHERE kind = 'scan' GROUP BY 1")
        scans = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM inventory_stockmovement WHERE order_id IS NOT NULL")
        order_movements = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM inventory_stocklevel WHERE on_hand - reserved < 5")
        low = cursor.fetchone()[0]
        cursor.execute("SELECT phone, phone_digits, email FROM orders_customer")
        contacts = cursor.fetchall()
    assert orders == ORDERS and customers > 1
    assert 3 * ORDERS <= lines <= 5 * ORDERS  # about four lines an order
    # Every state is on some timeline; recent orders are still open.
    assert reached >= {"processing", "packed", "shipped", "delivered", "completed", "on_hold", "cancelled", "returned"}
    assert statuses & {"new", "processing", "packed"} and "completed" in statuses
    assert scans.get("scan") and scans.get("refused")
    assert order_movements and low
    assert all(normalize_phone(phone) == digits for phone, digits, _email in contacts)
    assert all(email == email.lower() for _phone, _digits, email in contacts)


def test_a_second_fill_adds_nothing(filled):
    seconds, _job = bench.fill(orders=ORDERS, span_days=60, verbose=False)
    assert seconds == 0


@pytest.mark.parametrize("kind, table", [("orders", "orders_order"), ("order-lines", "orders_orderline")])
def test_export_is_measured_beside_copy(filled, tmp_path, kind, table):
    with connection.cursor() as cursor:
        expected = row_count(cursor, table)
    ours = bench.measure_export(kind, tmp_path / "export.csv")
    assert ours["rows"] == expected
    assert ours["seconds"] > 0 and ours["rows_per_s"] > 0 and ours["peak_mb"] > 0
    copy = bench.measure_copy(kind, tmp_path / "copy.csv")
    # The baseline runs the export's own SELECT, not a stand-in.
    assert copy["source"].startswith("reports.exporting.copy_sql")
    assert copy["rows"] == expected and copy["rows_per_s"] > 0
    assert bench.same_file(tmp_path / "export.csv", tmp_path / "copy.csv")


def test_import_is_measured_and_cleaned_up(filled, tmp_path):
    path = tmp_path / "import.csv"
    lines = bench.write_import_file(path, orders=20, lines_per_order=4)
    assert lines == 80
    dry = bench.measure_import(path, lines=lines, orders=20, dry_run=True)
    assert dry["created"] == 0 and dry["lines_per_s"] > 0 and dry["peak_mb"] > 0
    real = bench.measure_import(path, lines=lines, orders=20)
    assert real["created"] == 20 and real["lines_per_s"] > 0
    assert bench.imported_orders() == 0  # deleted again, children first
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_customer WHERE email LIKE %s", ["%@" + bench.IMPORT_EMAIL_DOMAIN])
        assert cursor.fetchone()[0] == 0


def test_dashboard_is_measured(filled):
    found = bench.measure_dashboard(repeat=1)
    assert set(found) == {"default", "warehouse"}
    assert "warehouse=" in found["warehouse"]["url"]
    for figures in found.values():
        assert figures["median_s"] > 0 and figures["runs"] == 1


def test_report_is_written_where_asked_only(filled, tmp_path):
    results_file = Path(bench.RESULTS_PATH)
    before = results_file.stat().st_mtime_ns if results_file.exists() else None
    results = {
        "export orders": {"seconds": 2.0, "rows": 400, "rows_per_s": 200.0, "peak_mb": 60.0},
        "copy orders": {"seconds": 1.0, "rows": 400, "rows_per_s": 400.0, "peak_mb": 5.0, "source": "x",
                        "identical": True},
        "export order-lines": bench.NOT_AVAILABLE,
        "import": "failed: something",
        "dashboard": {"default": {"url": "/d/", "median_s": 0.2, "min_s": 0.1, "max_s": 0.3, "runs": 5}},
    }
    rows = bench.result_rows(results)
    assert [row[0] for row in rows][:2] == ["`export_csv orders`", "PostgreSQL `COPY … TO STDOUT` (orders), psql → file"]
    assert any(bench.NOT_AVAILABLE in row[1] for row in rows)
    target = tmp_path / "RESULTS.md"
    bench.write_results(target, info=bench.machine(), rows=rows, fill_note="test.", data_note="400 orders")
    text = target.read_text(encoding="utf-8")
    assert "| `export_csv orders` |" in text and bench.NOT_AVAILABLE in text and "PostgreSQL" in text
    after = results_file.stat().st_mtime_ns if results_file.exists() else None
    assert after == before

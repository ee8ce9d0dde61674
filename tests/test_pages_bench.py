"""The pages benchmark (bench/pages_bench.py) at a few hundred orders: the same fill
(bench/reports_bench.fill) and the same measuring function, on the test database, so
that a page the harness can no longer open, or one that lists nothing, fails here
rather than in the next run on 1,500,000 orders. Nothing big is filled: the bench's own
database (fulfilment_bench) is never touched by the suite.

The fill is committed once for the module (it writes on its own connections) and
removed afterwards, as in tests/test_reports_bench.py.
"""

import pytest

from bench import pages_bench
from bench import reports_bench as fill_bench
from tests.bench_fill import ORDERS, committed_fill
from tests.utils import ON_POSTGRESQL

pytestmark = [
    pytest.mark.skipif(
        not ON_POSTGRESQL,
        reason="the pages benchmark fills and measures PostgreSQL (the fill uses generate_series and "
               "hashint8extended), the production database",
    ),
    pytest.mark.django_db,
]


@pytest.fixture(scope="module")
def filled(django_db_setup, django_db_blocker):
    """ORDERS orders filled (and committed) in the test database for this module."""
    with django_db_blocker.unblock(), committed_fill(ORDERS) as job:
        yield job


def test_every_page_answers_with_rows(filled):
    from orders.models import Order, OrderLine

    # The fill's few orders in Processing may be scanned already: give the scan units to count
    # (in this test's transaction only).
    assert Order.objects.filter(status="processing").exists()
    OrderLine.objects.filter(order__status="processing").update(quantity_scanned=0)
    results = pages_bench.measure_pages(repeat=1, verbose=False)
    failed = {r["name"]: r["error"] for r in results if "error" in r}
    assert not failed
    names = {r["name"] for r in results}
    # Every page of issue #8 item 2, and the stock admin beside them.
    for expected in ("order list", "order list: status processing", "order list: overdue",
                     "order list: warehouse TPE", "order list: carrier TCAT", "order list: payment pending",
                     "order list: delivery store pickup", "order list: placed last 30 days",
                     "order list: search order number (→ order page)", "order list: search e-mail",
                     "order list: search phone", "order list: search tracking number",
                     "order list: search name part", "order page", "lookup: order number", "lookup: e-mail",
                     "lookup: phone", "lookup: tracking number", "lookup: name part",
                     "packing station: open an order", "packing station: scan (POST)", "customers", "products",
                     "stock levels", "stock levels: low stock", "stock movements", "stock movements: search SKU",
                     "stock movements: search order", "shipments", "shipments: search tracking number",
                     "checklist steps", "dashboard", "stock admin: order list", "stock admin: status processing",
                     "stock admin: search e-mail"):
        assert expected in names
    assert any(name.startswith("order list: page ") for name in names)  # the deep page (the last, here)
    assert any(name.startswith("pick list, ") for name in names)
    assert any(name.startswith("packing slips, ") for name in names)
    for r in results:
        assert r["rows"] >= 1, r["name"]
        assert r["queries"] >= 1 and r["median_ms"] > 0 and r["slowest_sql"], r["name"]
    assert len(pages_bench.ratio_rows(results)) == len(pages_bench.STOCK_PAIRS)


def test_only_and_the_report(filled, tmp_path):
    results = pages_bench.measure_pages(repeat=2, only=["checklist", "stock admin: order list"], verbose=False)
    # The stock admin's page brings ours along, for the ratio.
    assert [r["name"] for r in results] == ["order list", "checklist steps", "stock admin: order list"]
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n", encoding="utf-8")
    info = fill_bench.machine()
    pages_bench.write_results(path, info=info, counts=pages_bench.row_counts(), results=results,
                              fill_note="test", repeat=2, label="test", command="python -m bench.pages_bench")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Results\n")
    assert "| checklist steps |" in text and "| order list, page 1 |" in text
    assert f"{ORDERS:,} orders" in text

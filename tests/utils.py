import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

requires_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="row locks (select_for_update) only mean something on PostgreSQL; SQLite serialises all writers",
)

requires_postgresql_plans = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="query plans (EXPLAIN, the trigram index) are PostgreSQL's, the production database",
)


def ledger_mismatches():
    """Stock levels whose on_hand/reserved differ from the sum of their StockMovements
    (with levels that have movements but no row counted against zero). Empty when the
    ledger is consistent."""
    from django.db.models import Sum

    from inventory.models import StockLevel, StockMovement

    ledger = {
        (row["product_id"], row["warehouse_id"]): (row["on_hand"], row["reserved"])
        for row in StockMovement.objects.values("product_id", "warehouse_id")
        .annotate(on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
        .order_by()
    }
    levels = {
        (level.product_id, level.warehouse_id): (level.on_hand, level.reserved) for level in StockLevel.objects.all()
    }
    return {
        key: {"level": levels.get(key, (0, 0)), "ledger": ledger.get(key, (0, 0))}
        for key in set(ledger) | set(levels)
        if levels.get(key, (0, 0)) != ledger.get(key, (0, 0))
    }


def describe_mismatches(mismatches):
    """One line per row of ledger_mismatches(), naming the product and warehouse."""
    from inventory.models import Product, Warehouse

    skus = dict(Product.objects.filter(pk__in={product for product, _wh in mismatches}).values_list("pk", "sku"))
    codes = dict(Warehouse.objects.filter(pk__in={wh for _product, wh in mismatches}).values_list("pk", "code"))
    return "\n".join(
        f"  {skus.get(product, f'product {product}')} @ {codes.get(warehouse, f'warehouse {warehouse}')}: "
        f"stock level on_hand={row['level'][0]} reserved={row['level'][1]}, "
        f"movements sum to on_hand={row['ledger'][0]} reserved={row['ledger'][1]}"
        for (product, warehouse), row in sorted(mismatches.items())
    )


def assert_ledger_balances():
    """Fail, listing the rows, when some StockLevel differs from the sum of its movements."""
    mismatches = ledger_mismatches()
    assert not mismatches, (
        f"{len(mismatches)} stock level(s) differ from the sum of their StockMovements (write stock through "
        f"inventory.services or tests.factories; mark a test that means to do so ledger_unbalanced):\n"
        + describe_mismatches(mismatches)
    )


def page_queries(client, url):
    """How many queries a GET of `url` runs, and the page (asserting it answers 200).
    A query count means something only over a page that listed rows: assert them."""
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context), response


def count_queries(client, url):
    """How many queries a GET of `url` runs (asserting the page answers 200)."""
    return page_queries(client, url)[0]


def changelist_rows(response):
    return list(response.context["cl"].result_list)


SEARCHED_TABLES = {
    "orders_order", "orders_customer", "orders_customernamepart", "orders_orderline", "shipping_shipment",
    "orders_orderevent",
}


def full_scans(node, tables=SEARCHED_TABLES):
    """Scans in an EXPLAIN (FORMAT JSON) plan node that read one of `tables` whole:
    a Seq Scan, or an index scan with no index condition."""
    found = []
    if node.get("Relation Name") in tables and (
        node["Node Type"] == "Seq Scan"
        or (node["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in node)
    ):
        found.append(f'{node["Node Type"]} on {node["Relation Name"]}')
    for child in node.get("Plans", []):
        found.extend(full_scans(child, tables))
    return found


def race(*calls, timeout=60):
    """Start every call at the same moment, each in its own thread; return what each
    returned or raised, in the order given."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=timeout)
            outcomes[index] = ("ok", call())
        except Exception as error:  # noqa: BLE001  (the outcome is what the test asserts)
            outcomes[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return outcomes

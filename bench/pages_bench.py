"""Every admin page staff use, timed on a large PostgreSQL database (issue #8 item 4),
beside Django's stock ModelAdmin on the same order table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fulfilment_bench \\
        .venv/bin/python -m bench.pages_bench [--orders 1500000] [--repeat 3] [--only NAME ...]

(or `make bench`). Refuses to run on anything but PostgreSQL. Creates the database if
it does not exist, migrates it and fills it once with bench/reports_bench.py's generator
(1,500,000 orders by default, about four lines each, a shipment for every order that got
as far as packing, a ledger with reservations, consumptions, releases and returns for
the last three weeks' orders). The data is kept between runs: a second run measures at
once. A complete fill is never replaced from here (not even when someone has added
orders of their own); use `bench.reports_bench --refill` for that.

Then, logged in as the bench's superuser through django.test.Client (force_login, the
whole middleware stack), each page is requested once to warm up and then --repeat
times: the median, min and max of the time around client.get/post, the number of
queries (CaptureQueriesContext) and the slowest query (timed with
connection.execute_wrapper). Each response must be 200 (the scan: the redirect back to
the station, with the item counted) and must have listed rows, so that an empty page
is not taken for a fast one. The values searched for (an order number, an e-mail of a
customer with orders, a phone, a tracking number, a name part, a SKU, an order with
stock movements, 50 orders to print ...) are read from the database first.

The scan POSTs one item of a different order in Processing on each request (warm-up
included), so that every request does the same work: each leaves that order with one
more unit scanned and its scan event, as a packer would. Nothing else is written
(except the login session).

The stock admin is a plain `admin.ModelAdmin` for Order on a second AdminSite
("stockadmin", mounted at /stockadmin/ through a bench-only urlconf: this module's
`urlpatterns`), list_display of five columns, list_filter=["status"],
search_fields=["number", "customer__email"], 50 rows a page like ours; its order list is timed on page 1, filtered
by status and searched by e-mail, in the same run, and the ratio stock / ours printed.

Goals: every page under 50 ms, the scan under 30 ms, the order list at least twice as
fast as the stock admin's. The table is printed and appended to bench/RESULTS.md.
"""

import argparse
import os
import re
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfilment_site.settings")

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_PATH = BASE_DIR / "bench" / "RESULTS.md"
BENCH_URLCONF = "bench.pages_bench"
STOCK_SITE_NAME = "stockadmin"

PAGE_GOAL_MS = 50
SCAN_GOAL_MS = 30
STOCK_RATIO_GOAL = 2.0
PRINT_BATCH = 50
DEEP_PAGE = 5000
SQL_CHARS = 120


# --- the stock admin (bench only: never registered in the project) ------------------------

_stock_site = None

# The project's admin/base_site.html and index.html link to these views of the order admin
# ({% url 'admin:…' %}, resolved in the site being shown): the stock site answers those
# names with a redirect to the project's admin, so that Django's own pages render.
PROJECT_LINKS = ["orders_order_lookup", "orders_order_packing_station", "orders_order_dashboard"]


def _stock_site_class():
    from django.contrib import admin
    from django.urls import path
    from django.views.generic import RedirectView

    class StockAdminSite(admin.AdminSite):
        def get_urls(self):
            links = [path(f"project/{name}/", RedirectView.as_view(pattern_name=f"admin:{name}"), name=name)
                     for name in PROJECT_LINKS]
            return links + super().get_urls()

    return StockAdminSite


def stock_site():
    """The second AdminSite with a plain ModelAdmin for Order (made once)."""
    global _stock_site
    if _stock_site is None:
        from django.contrib import admin

        from orders.models import Order

        StockAdminSite = _stock_site_class()

        class StockOrderAdmin(admin.ModelAdmin):
            # Django's own list template: the project's one for orders links to its extra views.
            change_list_template = "admin/change_list.html"
            list_display = ["number", "customer", "status", "placed_at", "total"]
            list_filter = ["status"]
            search_fields = ["number", "customer__email"]
            list_per_page = 50  # as many rows as the project's order list shows (Django's default is 100)

        site = StockAdminSite(name=STOCK_SITE_NAME)
        site.register(Order, StockOrderAdmin)
        _stock_site = site
    return _stock_site


def __getattr__(name):
    # ROOT_URLCONF = "bench.pages_bench" during the measurements: the project's URLs plus
    # the stock admin's, built when Django first reads them (after django.setup()).
    if name == "urlpatterns":
        from django.urls import path

        from fulfilment_site.urls import urlpatterns as project

        return [path(f"{STOCK_SITE_NAME}/", stock_site().urls), *project]
    raise AttributeError(name)


# --- set-up -------------------------------------------------------------------------------


def require_postgresql_url():
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit("DATABASE_URL is not set. Point it at a PostgreSQL database the benchmark may fill, e.g.\n"
                 "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/fulfilment_bench make bench")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        sys.exit(f"DATABASE_URL must name a PostgreSQL database (postgres://...), not {url.split(':', 1)[0]}:...")


def fill_if_needed(connection, *, orders, workers=None):
    """(seconds the fill took, 0 when it was there, and a note). Never replaces a complete fill."""
    from bench import reports_bench

    job = reports_bench.Fill(connection, orders=orders, workers=workers, verbose=False)
    with connection.cursor() as cursor:
        state = job.state(cursor)
    if state["complete"] and state["bench_orders"]:
        note = "already there from an earlier run (not timed in this one)"
        if state["bench_orders"] != orders:
            note += f"; it holds {state['bench_orders']:,} orders, not the {orders:,} asked for"
        if state["other_orders"]:
            note += f"; plus {state['other_orders']:,} orders not made by the fill"
        reports_bench.bench_superuser()
        return 0.0, note
    seconds, job = reports_bench.fill(connection, orders=orders, workers=workers)
    steps = ", ".join(f"{name} {value:.0f} s" for name, value in job.timings.items())
    return seconds, f"{seconds:.0f} s on {job.workers} connections ({steps})"


def row_counts(connection=None):
    """Exact row counts of the tables the pages read."""
    if connection is None:
        from django.db import connection
    tables = [("orders", "orders_order"), ("lines", "orders_orderline"), ("shipments", "shipping_shipment"),
              ("stock movements", "inventory_stockmovement"), ("customers", "orders_customer"),
              ("products", "inventory_product"), ("events", "orders_orderevent"),
              ("stock levels", "inventory_stocklevel")]
    counts = {}
    with connection.cursor() as cursor:
        for label, table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[label] = cursor.fetchone()[0]
        cursor.execute("SELECT kind, count(*) FROM inventory_stockmovement GROUP BY 1 ORDER BY 1")
        counts["movements by kind"] = dict(cursor.fetchall())
        cursor.execute("""SELECT count(*) FROM orders_order o WHERE o.status IN ('shipped', 'delivered', 'completed')
                          AND NOT EXISTS (SELECT 1 FROM shipping_shipment s WHERE s.order_id = o.id)""")
        counts["shipped orders without a shipment"] = cursor.fetchone()[0]
    return counts


# --- the values the pages search for ---------------------------------------------------------


def _one(cursor, sql, params=()):
    cursor.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError(f"the database has no row for: {' '.join(sql.split())[:200]}")
    return row


def pick_values(connection=None):
    """Real values for every page, read from the database (a dict)."""
    if connection is None:
        from django.db import connection
    v = {}
    with connection.cursor() as cursor:
        # An order with a shipment, lines, stock movements and events: the order page, the
        # order-number searches, the ledger "by order".
        v["order_id"], v["order_number"], v["customer_id"] = _one(cursor, """
            SELECT o.id, o.number, o.customer_id FROM orders_order o
            WHERE o.status = 'shipped'
              AND EXISTS (SELECT 1 FROM inventory_stockmovement m WHERE m.order_id = o.id)
              AND EXISTS (SELECT 1 FROM shipping_shipment s WHERE s.order_id = o.id AND s.tracking_number <> '')
            ORDER BY o.id LIMIT 1""")
        v["email"], = _one(cursor, "SELECT email FROM orders_customer WHERE id = %s", [v["customer_id"]])
        # A phone typed the usual Taiwanese way, of another customer with orders.
        v["phone"], = _one(cursor, """
            SELECT c.phone FROM orders_customer c
            WHERE c.phone LIKE '09__-___-___' AND EXISTS (SELECT 1 FROM orders_order o WHERE o.customer_id = c.id)
            ORDER BY c.id LIMIT 1""")
        v["tracking"], = _one(cursor, """
            SELECT s.tracking_number FROM shipping_shipment s
            WHERE s.tracking_number <> '' AND s.status = 'delivered' ORDER BY s.id DESC LIMIT 1""")
        # Part of a name: the family name of a customer with orders and an English name
        # ("Tanaka" of "Kenji Tanaka"): three characters or more, inside the name, so that it
        # is a part however names are matched (a part under three characters may be matched
        # at the start of the name only).
        name, = _one(cursor, """
            SELECT c.name FROM orders_customer c
            WHERE c.name LIKE '%% %%' AND EXISTS (SELECT 1 FROM orders_order o WHERE o.customer_id = c.id)
            ORDER BY c.id DESC LIMIT 1""")
        v["name_part"] = name.rsplit(" ", 1)[1]
        v["sku"], = _one(cursor, """
            SELECT p.sku FROM inventory_product p JOIN orders_orderline l ON l.product_id = p.id
            WHERE l.order_id = %s ORDER BY l.id LIMIT 1""", [v["order_id"]])
        v["warehouse_id"], = _one(cursor, "SELECT id FROM inventory_warehouse WHERE code = 'TPE'")
        v["carrier_id"], = _one(cursor, "SELECT id FROM shipping_carrier WHERE code = 'TCAT'")
        # Orders in Processing: the packing station (one opened), the printables (50; on a
        # small database, topped up with orders packed, then any).
        v["station_number"], = _one(cursor, """
            SELECT o.number FROM orders_order o WHERE o.status = 'processing'
              AND EXISTS (SELECT 1 FROM orders_orderline l WHERE l.order_id = o.id)
            ORDER BY o.id LIMIT 1""")
        cursor.execute("""
            SELECT o.id FROM orders_order o WHERE EXISTS (SELECT 1 FROM orders_orderline l WHERE l.order_id = o.id)
            ORDER BY o.status = 'processing' DESC, o.status = 'packed' DESC, o.id LIMIT %s""", [PRINT_BATCH])
        v["print_ids"] = [pk for pk, in cursor.fetchall()]
        cursor.execute("SELECT max(placed_at), count(*) FROM orders_order")
        latest, orders = cursor.fetchone()
    # Page 5,000 of 50 rows (on a small test database: its last page).
    v["deep_page"] = max(1, min(DEEP_PAGE, orders // 50))
    v["since"] = (latest - timedelta(days=30)).date().isoformat()
    v["until"] = latest.date().isoformat()
    return v


def next_scan(connection=None, *, exclude=()):
    """(order id, code) for an order in Processing with a unit still to scan, if possible
    not one of `exclude` (so that each request scans a fresh order)."""
    if connection is None:
        from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT o.id, p.barcode, p.sku FROM orders_order o
            JOIN orders_orderline l ON l.order_id = o.id JOIN inventory_product p ON p.id = l.product_id
            WHERE o.status = 'processing' AND l.quantity_scanned < l.quantity
            ORDER BY o.id = ANY(%s), o.id DESC, l.id LIMIT 1""", [list(exclude)])
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("no order in Processing has an item left to scan")
    order_id, barcode, sku = row
    return order_id, barcode or sku


def scanned_units(order_id, connection=None):
    if connection is None:
        from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(quantity_scanned), 0) FROM orders_orderline WHERE order_id = %s",
                       [order_id])
        return cursor.fetchone()[0]


# --- the pages ---------------------------------------------------------------------------------


def _changelist_rows(response):
    cl = (response.context_data or {}).get("cl")
    return None if cl is None else len(cl.result_list)


def _context_rows(key, count=len):
    def rows(response):
        value = (response.context_data or {}).get(key)
        return None if value is None else count(value)
    return rows


def _lookup_rows(response):
    customers = (response.context_data or {}).get("customers") or []
    return sum(len(c["orders"]) for c in customers)


def _dashboard_rows(response):
    figures = (response.context_data or {}).get("figures")
    return None if figures is None else sum(row.get("orders", 0) or 0 for row in figures.states)


def _order_page_rows(response):
    context = response.context_data or {}
    return 1 if context.get("original") is not None else None


@dataclass
class Page:
    name: str
    url: str
    group: str = "page"  # page | scan | stock | background (the last two have no goal)
    rows: object = _changelist_rows
    goal_ms: float = PAGE_GOAL_MS
    method: str = "get"
    data: dict = field(default_factory=dict)
    expect: int = 200
    location: str = ""  # where a redirect must go
    prepare: object = None  # for the scan: () -> (data, check)


def _url(name, *args, **query):
    from django.urls import reverse

    url = reverse(name, args=args)
    return f"{url}?{urlencode(query)}" if query else url


def pages(values):
    """[Page] in the order they are measured."""
    v = values
    order_list = "admin:orders_order_changelist"
    p = []
    add = p.append
    add(Page("order list", _url(order_list)))
    add(Page("order list: status processing", _url(order_list, status__exact="processing")))
    add(Page("order list: overdue", _url(order_list, overdue="yes")))
    add(Page("order list: warehouse TPE", _url(order_list, warehouse__id__exact=v["warehouse_id"])))
    add(Page("order list: carrier TCAT", _url(order_list, carrier=v["carrier_id"])))
    add(Page("order list: payment pending", _url(order_list, payment_status__exact="pending")))
    add(Page("order list: delivery store pickup", _url(order_list, delivery_method__exact="store_pickup")))
    add(Page("order list: placed last 30 days",
             _url(order_list, placed_at__range__gte=v["since"], placed_at__range__lte=v["until"])))
    # An exact order number opens the order page: the list answers with the redirect.
    add(Page("order list: search order number (→ order page)", _url(order_list, q=v["order_number"]),
             rows=None, expect=302, location=_url("admin:orders_order_change", v["order_id"])))
    add(Page("order list: search e-mail", _url(order_list, q=v["email"].upper())))
    add(Page("order list: search phone", _url(order_list, q=v["phone"])))
    add(Page("order list: search tracking number", _url(order_list, q=v["tracking"])))
    add(Page("order list: search name part", _url(order_list, q=v["name_part"])))
    add(Page(f"order list: page {v['deep_page']:,}", _url(order_list, p=v["deep_page"])))
    add(Page("order page", _url("admin:orders_order_change", v["order_id"]), rows=_order_page_rows))
    lookup = "admin:orders_order_lookup"
    add(Page("lookup: order number", _url(lookup, q=v["order_number"]), rows=_lookup_rows))
    add(Page("lookup: e-mail", _url(lookup, q=v["email"].upper()), rows=_lookup_rows))
    add(Page("lookup: phone", _url(lookup, q=v["phone"]), rows=_lookup_rows))
    add(Page("lookup: tracking number", _url(lookup, q=v["tracking"]), rows=_lookup_rows))
    add(Page("lookup: name part", _url(lookup, q=v["name_part"]), rows=_lookup_rows))
    station = "admin:orders_order_packing_station"
    add(Page("packing station: open an order", _url(station, number=v["station_number"]),
             rows=lambda r: 1 if (r.context_data or {}).get("order") is not None else None))
    add(Page("packing station: scan (POST)", _url("admin:orders_order_scan"), group="scan", method="post",
             goal_ms=SCAN_GOAL_MS, rows=None, expect=302, prepare=_prepare_scan()))
    ids = ",".join(str(pk) for pk in v["print_ids"])
    add(Page(f"pick list, {len(v['print_ids'])} orders", _url("admin:orders_order_pick_list", ids=ids),
             rows=lambda r: len(r.context_data["pick_list"].orders) if r.context_data else None))
    add(Page(f"packing slips, {len(v['print_ids'])} orders", _url("admin:orders_order_packing_slips", ids=ids),
             rows=_context_rows("orders")))
    add(Page("customers", _url("admin:orders_customer_changelist")))
    add(Page("products", _url("admin:inventory_product_changelist")))
    add(Page("stock levels", _url("admin:inventory_stocklevel_changelist")))
    add(Page("stock levels: low stock", _url("admin:inventory_stocklevel_changelist", low="yes")))
    movements = "admin:inventory_stockmovement_changelist"
    add(Page("stock movements", _url(movements)))
    add(Page("stock movements: search SKU", _url(movements, q=v["sku"])))
    add(Page("stock movements: search order", _url(movements, q=v["order_number"])))
    add(Page("shipments", _url("admin:shipping_shipment_changelist")))
    add(Page("shipments: search tracking number", _url("admin:shipping_shipment_changelist", q=v["tracking"])))
    add(Page("checklist steps", _url("admin:orders_checkliststep_changelist")))
    # The period's figures are worked out in the background (orders.dashboard): the page
    # shows them as last worked out. The second row is that working-out itself, run
    # within the request as the immediate backend does (the bench's settings).
    add(Page("dashboard", _url("admin:orders_order_dashboard"), rows=_dashboard_rows))
    add(Page("dashboard: the period's figures worked out (task worker, no page waits for it)",
             _url("admin:orders_order_dashboard"), group="background", rows=_dashboard_rows,
             prepare=_forget_period_figures))
    stock = f"{STOCK_SITE_NAME}:orders_order_changelist"
    add(Page("stock admin: order list", _url(stock), group="stock"))
    add(Page("stock admin: status processing", _url(stock, status__exact="processing"), group="stock"))
    add(Page("stock admin: search e-mail", _url(stock, q=v["email"].upper()), group="stock"))
    return p


# Ours ↔ the stock admin's, for the ratio rows.
STOCK_PAIRS = [
    ("order list, page 1", "order list", "stock admin: order list"),
    ("order list, status filter", "order list: status processing", "stock admin: status processing"),
    ("order list, e-mail search", "order list: search e-mail", "stock admin: search e-mail"),
]


def _forget_period_figures():
    """Before each request: no figures kept, so that the page works them out."""
    from orders.models import DashboardSnapshot

    DashboardSnapshot.objects.all().delete()
    return {}, _worked_out_rows


def _worked_out_rows(response):
    """The stays counted, when the page worked out the period's figures (else None: a failure)."""
    figures = (response.context_data or {}).get("figures")
    if figures is None or figures.stays is None:
        return None
    return sum(row["stays"] for row in figures.stays)


def _prepare_scan():
    used = []

    def prepare():
        order_id, code = next_scan(exclude=used)
        used.append(order_id)
        before = scanned_units(order_id)

        def check(response):
            after = scanned_units(order_id)
            if after != before + 1:
                messages = [str(m) for m in getattr(response.wsgi_request, "_messages", [])]
                raise AssertionError(f"the scan of {code} into order {order_id} was not counted ({messages})")
            return 1

        return {"order": str(order_id), "code": code}, check

    return prepare


# --- measuring -------------------------------------------------------------------------------


class QueryTimer:
    """connection.execute_wrapper that keeps (seconds, sql) of every query."""

    def __init__(self):
        self.timings = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.timings.append((time.perf_counter() - started, sql))

    def slowest(self):
        return max(self.timings, key=lambda t: t[0]) if self.timings else (0.0, "")


def _request(client, page):
    check = page.rows
    data = page.data
    if page.prepare is not None:
        data, check = page.prepare()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timer = QueryTimer()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timer):
        started = time.perf_counter()
        response = getattr(client, page.method)(page.url, data) if page.method == "post" else client.get(page.url)
        seconds = time.perf_counter() - started
    if response.status_code != page.expect:
        where = f" → {response.get('Location')}" if response.status_code in (301, 302) else ""
        raise AssertionError(f"{page.name}: {page.url} answered {response.status_code}{where}, not {page.expect}")
    if page.location and response.get("Location") != page.location:
        raise AssertionError(f"{page.name}: {page.url} redirected to {response.get('Location')}, not {page.location}")
    rows = check(response) if check is not None else 1
    if not rows:
        raise AssertionError(f"{page.name}: {page.url} listed no rows")
    return {"seconds": seconds, "queries": len(captured.captured_queries), "slowest": timer.slowest(), "rows": rows}


_COLUMN = r'"\w+"(?:\."\w+")?(?: AS "\w+")?'
_COLUMNS = re.compile(rf"^SELECT (DISTINCT )?((?:{_COLUMN}, )+{_COLUMN}) FROM ")


def short_sql(sql):
    """The first SQL_CHARS characters of a query, a list of plain columns shown as "…"."""
    sql = " ".join(sql.split())
    return _COLUMNS.sub(lambda m: f"SELECT {m.group(1) or ''}… FROM ", sql, count=1)[:SQL_CHARS]


def measure(client, page, *, repeat=3):
    """Warm up once, then `repeat` timed requests; a dict of figures."""
    _request(client, page)
    runs = [_request(client, page) for _ in range(repeat)]
    times = [run["seconds"] for run in runs]
    median_run = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    slow_s, slow_sql = max((run["slowest"] for run in runs), key=lambda t: t[0])
    return {
        "name": page.name, "url": page.url, "group": page.group, "goal_ms": page.goal_ms,
        "median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000, "max_ms": max(times) * 1000,
        "queries": median_run["queries"], "rows": median_run["rows"],
        "slowest_ms": slow_s * 1000, "slowest_sql": short_sql(slow_sql),
    }


def _selected(page, only):
    if not only:
        return True
    name = page.name.lower()
    return any(word.lower() in name for word in only)


CPU_READING_LOOP = 1_000_000


def cpu_reading():
    """Milliseconds this machine takes for a fixed pure-Python loop, just before a page
    is measured. The machine is a shared virtual one whose speed varies by more than
    1.5× within an hour (the load average does not show it): a page's time is only
    comparable with another's measured at a similar reading."""
    started = time.perf_counter()
    sum(i * i for i in range(CPU_READING_LOOP))
    return (time.perf_counter() - started) * 1000


def measure_pages(*, repeat=3, only=None, values=None, user=None, verbose=True):
    """Every page (or those whose name contains a word of `only`), measured: a list of
    dicts, or for a page that failed a dict with "error". Pages the stock-admin ratio
    needs come along when a stock-admin page is selected."""
    from django.test import Client, override_settings

    from bench import reports_bench

    with override_settings(ROOT_URLCONF=BENCH_URLCONF):
        values = values or pick_values()
        user = user or reports_bench.bench_superuser()
        client = Client()
        client.force_login(user)
        chosen = [page for page in pages(values) if _selected(page, only)]
        names = {page.name for page in chosen}
        for _label, ours, stock in STOCK_PAIRS:
            if stock in names and ours not in names:
                chosen.insert(0, next(page for page in pages(values) if page.name == ours))
        results = []
        for page in chosen:
            load = os.getloadavg()[0]
            speed = cpu_reading()
            try:
                found = measure(client, page, repeat=repeat)
                found["load"] = load
                found["cpu"] = speed
            except Exception as error:  # noqa: BLE001 (a failed page is a row of the report; the rest still runs)
                found = {"name": page.name, "url": page.url, "group": page.group, "goal_ms": page.goal_ms,
                         "error": f"{type(error).__name__}: {error}"[:300]}
            results.append(found)
            if verbose:
                print("  " + _line(found), flush=True)
    return results


# --- report ------------------------------------------------------------------------------------


# Measured beside the pages, without a goal of their own: the stock admin (for the
# ratio) and the work the dashboard leaves to the task worker.
NO_GOAL_GROUPS = {"stock", "background"}


def _has_goal(found):
    return found["group"] not in NO_GOAL_GROUPS


def _met(found):
    return "error" not in found and found["median_ms"] < found["goal_ms"]


def _figures(found):
    return f"{found['median_ms']:,.1f} ({found['min_ms']:,.1f}–{found['max_ms']:,.1f})"


def _line(found):
    if "error" in found:
        return f"{found['name']}: FAILED {found['error']}"
    return (f"{found['name']}: {_figures(found)} ms, {found['queries']} queries, {found['rows']} rows; "
            f"slowest {found['slowest_ms']:,.1f} ms {found['slowest_sql']}")


def ratio_rows(results):
    """[(label, ours ms, stock ms, ratio or None)]"""
    by_name = {r["name"]: r for r in results if "error" not in r}
    rows = []
    for label, ours, stock in STOCK_PAIRS:
        if ours in by_name and stock in by_name:
            a, b = by_name[ours]["median_ms"], by_name[stock]["median_ms"]
            rows.append((label, a, b, b / a if a else None))
    return rows


def print_table(results):
    width = max(len(r["name"]) for r in results)
    print(f"\n{'page':{width}}  {'ms median (min–max)':>24}  {'queries':>7}  goal     met  cpu  slowest query")
    for r in results:
        goal = f"< {r['goal_ms']:.0f} ms" if _has_goal(r) else "–"
        if "error" in r:
            print(f"{r['name']:{width}}  {'FAILED':>24}  {'':>7}  {goal:7}  no   {r['error']}")
            continue
        met = ("yes" if _met(r) else "NO") if _has_goal(r) else "–"
        print(f"{r['name']:{width}}  {_figures(r):>24}  {r['queries']:>7}  {goal:7}  {met:3}  {r.get('cpu', 0):3.0f}  "
              f"{r['slowest_ms']:,.1f} ms {r['slowest_sql']}")
    for label, ours, stock, ratio in ratio_rows(results):
        verdict = "yes" if ratio and ratio >= STOCK_RATIO_GOAL else "NO"
        print(f"stock admin / ours, {label}: {stock:,.1f} / {ours:,.1f} ms = {ratio:.2f}× "
              f"(goal ≥ {STOCK_RATIO_GOAL:.0f}×; {verdict})")


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


SECTION_INTRO = """\
Pages benchmark (`bench/pages_bench.py`, `make bench`): every admin page through Django's
test Client (whole middleware stack, logged in as a superuser), one warm-up then {repeat}
timed requests each; time in ms, median (min–max); queries and the slowest query of the
page (its first {chars} characters, a list of plain columns shown as "…"). Goals: every
page < {page} ms, the scan < {scan} ms, the order list at least {ratio:.0f}× faster than
Django's stock ModelAdmin on the same table (a plain ModelAdmin, 50 rows a page). The last
two columns are the load average and the machine's speed just before the page: ms for a
fixed Python loop (cpu_reading; lower is faster), since this shared machine's speed varies."""


def write_results(path, *, info, counts, results, fill_note, repeat, label, command):
    from django.db import connection

    section = [
        f"\n## {info['date']} ({datetime.now(UTC):%H:%M} UTC): pages{' — ' + label if label else ''}\n",
        SECTION_INTRO.format(repeat=repeat, chars=SQL_CHARS, page=PAGE_GOAL_MS, scan=SCAN_GOAL_MS,
                             ratio=STOCK_RATIO_GOAL) + "\n",
        f"Command: `{command}`\n",
        (f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; PostgreSQL {info['postgresql']}; "
         f"Python {info['python']}; Django {info['django']}. Load average (1 min) before each page is in the "
         "last column: the machine is shared.\n"),
        f"Database: `{connection.settings_dict['NAME']}`. Fill: {fill_note}.\n",
        "Rows: " + ", ".join(f"{counts[k]:,} {k}" for k in
                             ("orders", "lines", "shipments", "stock movements", "customers", "products", "events",
                              "stock levels"))
        + " (movements by kind: " + ", ".join(f"{k} {n:,}" for k, n in counts["movements by kind"].items())
        + f"; shipped orders without a shipment: {counts['shipped orders without a shipment']:,}).\n",
        "| page | ms median (min–max) | queries | rows | slowest query | goal | met | load | cpu |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        goal = f"< {r['goal_ms']:.0f} ms" if _has_goal(r) else "–"
        if "error" in r:
            section.append(f"| {_cell(r['name'])} | failed: {_cell(r['error'])} | | | | {goal} | **no** | | |")
            continue
        met = ("yes" if _met(r) else "**no**") if _has_goal(r) else "–"
        section.append(
            f"| {_cell(r['name'])} | {_figures(r)} | {r['queries']} | {r['rows']} | "
            f"{r['slowest_ms']:,.1f} ms `{_cell(r['slowest_sql'])}` | {goal} | {met} | {r['load']:.1f} | "
            f"{r['cpu']:.0f} |")
    ratios = ratio_rows(results)
    if ratios:
        section += ["", "| stock admin / ours | stock ms | ours ms | ratio | goal | met |", "|---|---|---|---|---|---|"]
        for label_, ours, stock, ratio in ratios:
            met = "yes" if ratio and ratio >= STOCK_RATIO_GOAL else "**no**"
            section.append(f"| {label_} | {stock:,.1f} | {ours:,.1f} | {ratio:.2f}× | ≥ {STOCK_RATIO_GOAL:.0f}× | {met} |")
    timed = [r for r in results if "error" not in r and _has_goal(r)]
    missed = [r for r in timed if not _met(r)]
    failed = [r for r in results if "error" in r]
    loads = [r["load"] for r in results if "load" in r]
    speeds = [r["cpu"] for r in results if "cpu" in r]
    section += ["", f"{len(timed) - len(missed)} of {len(timed)} pages met their goal"
                    + (f"; {len(failed)} failed" if failed else "") + "."
                    + (f" Load average (1 min) during the run: {min(loads):.1f}–{max(loads):.1f} on "
                       f"{info['cores']} cores." if loads else "")
                    + (f" Speed readings: {min(speeds):.0f}–{max(speeds):.0f} ms." if speeds else "")]
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(existing.rstrip("\n") + "\n" + "\n".join(section) + "\n", encoding="utf-8")


# --- main ----------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_500_000, help="orders to fill when the database is empty")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="connections the fill uses")
    parser.add_argument("--repeat", type=int, default=3, help="timed requests per page (after one warm-up)")
    parser.add_argument("--only", nargs="*", help="measure only the pages whose name contains one of these words")
    parser.add_argument("--label", default="", help="a few words for the RESULTS.md heading (e.g. before)")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH, help="where to append the results")
    parser.add_argument("--no-results", action="store_true", help="print only, do not write RESULTS.md")
    args = parser.parse_args(argv)
    require_postgresql_url()
    import warnings

    # WhiteNoise's note that collectstatic has not run: no page here serves a static file.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    from bench import reports_bench

    connection = reports_bench.setup_django()
    info = reports_bench.machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram']}; PostgreSQL {info['postgresql']}; "
          f"Python {info['python']}; Django {info['django']}", flush=True)
    _seconds, fill_note = fill_if_needed(connection, orders=args.orders, workers=args.workers)
    print(f"fill: {fill_note}", flush=True)
    counts = row_counts(connection)
    print("rows: " + ", ".join(f"{key} {value:,}" if isinstance(value, int) else f"{key} {value}"
                               for key, value in counts.items()), flush=True)
    results = measure_pages(repeat=args.repeat, only=args.only)
    print_table(results)
    if not args.no_results:
        command = shlex.join(["python", "-m", "bench.pages_bench", *(sys.argv[1:] if argv is None else argv)])
        write_results(args.results, info=info, counts=counts, results=results, fill_note=fill_note,
                      repeat=args.repeat, label=args.label, command=command.strip())
        print(f"\nappended to {args.results}")
    return results


if __name__ == "__main__":
    # Run as bench.pages_bench (not __main__), the module ROOT_URLCONF names, so that the
    # stock admin site is made once.
    from bench.pages_bench import main as bench_main

    bench_main()

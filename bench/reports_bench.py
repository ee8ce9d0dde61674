"""Reports on a large PostgreSQL database: CSV export, CSV import and the managers'
dashboard, measured side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fulfilment_bench \\
        .venv/bin/python -m bench.reports_bench --orders 1000000

(or `make bench-reports`). Refuses to run on anything but PostgreSQL. Creates the
database if it does not exist, migrates it, and fills it once with realistic data;
the data is kept between runs (the database is never dropped), so a second run skips
the minutes of filling. A fill left unfinished is detected and redone; a complete
fill of another size is kept unless --refill is given (which also redoes one of the same size).

What the fill makes, with set-based SQL only (generate_series, INSERT … SELECT,
no per-row Python), for --orders N (1,000,000 by default):

- 3 warehouses, 5 of the carriers every install starts with, 2,000 products with EAN-13
  barcodes, N/5 customers (phones written the usual mixed ways), bench staff users;
- N orders placed over the last two years (more per day recently), about four lines
  each, totals equal to the sum of their lines. Each order follows a timeline drawn
  from per-state durations: new → processing → packed → shipped → delivered →
  completed, with some held (and resumed or cancelled), some cancelled, some
  returned; where "now" falls on that timeline gives its status, status_changed_at
  and held_from_status, so recent orders are still open;
- an OrderEvent "created" plus one "transition" event ({"from", "to"}) per step at
  increasing times, so time-in-state medians mean something;
- a shipment (carrier, tracking number matching the carrier's pattern, shipped_at,
  delivered_at) and its lines for every order that got as far as packing it;
- checklist items for the open orders (closed orders' checklists are not filled);
- for the orders of the last LEDGER_DAYS days: stock movements (reserve, ship,
  release, return) with their "stock" events, shipment and e-mail events, and the
  packing-station scan events ({"action": "scan"} per unit, some {"action":
  "refused"}); receipts and a few cycle counts; an opening count per stock level,
  so that the stock levels equal the sum of the ledger.

The fill runs its big statements on --workers connections at once (two on a 2-core
machine), with `synchronous_commit = off` and, when the role is a superuser,
`session_replication_role = replica`, which skips the foreign-key triggers: the
generated rows are consistent by construction, and `consistency_problems()` (run by
the smoke test, and here with --check) proves it, references included. Nothing of
Django's is dropped or altered. It ends with VACUUM ANALYZE (autovacuum may be off).

Then it measures, and prints a table and appends it to bench/RESULTS.md:

- `manage.py export_csv orders` and `order-lines` on every order (a child process:
  wall time, rows/s, peak RSS), beside PostgreSQL's own `COPY (the same SELECT) TO
  STDOUT` through psql into a file;
- `manage.py import_csv orders FILE` for a generated 100,000-line file (25,000 new
  orders), with and without --dry-run; what the import created is deleted afterwards;
- the dashboard's response time through Django's test Client (median of 5 after a
  warm-up), with the default period and with a warehouse.

A command or URL that does not exist yet is reported as "not available yet".
"""

import argparse
import csv
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfilment_site.settings")

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_PATH = BASE_DIR / "bench" / "RESULTS.md"

ORDER_PREFIX = "FB-"  # orders made by the fill: FB-0000001 …
SKU_PREFIX = "BS-"  # products made by the fill: BS-00001 …
USER_PREFIX = "bench-"
OPENING_NOTE = "Opening count (bench fill)"
IMPORT_PREFIX = "IMPBENCH-"  # orders made by the import measurement (deleted afterwards)
IMPORT_EMAIL_DOMAIN = "import.bench.example"
MAX_LINES = 7
PRODUCTS = 2000
LEDGER_DAYS = 21
SPAN_DAYS = 730

TARGETS = {
    "export_rows_per_s": 200_000,
    "export_peak_mb": 150,
    "import_lines_per_s": 20_000,
    "dashboard_s": 1.0,
}
NOT_AVAILABLE = "not available yet"

STATES = ["new", "processing", "packed", "shipped", "delivered", "completed"]
CARRIER_CODES = ["TCAT", "POST", "SEVEN", "FAMILY", "DHL"]
WAREHOUSE_CODES = ["TPE", "TXG", "KHH"]

# Names the fill draws from (small arrays: looked up by index in SQL).
SURNAMES = ["陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊", "許", "鄭", "謝", "郭", "洪", "曾", "邱", "廖", "賴", "周"]
SURNAMES_ROMAN = ["chen", "lin", "huang", "chang", "li", "wang", "wu", "liu", "tsai", "yang", "hsu", "cheng",
                  "hsieh", "kuo", "hung", "tseng", "chiu", "liao", "lai", "chou"]
GIVEN = ["怡君", "志明", "小美", "家豪", "淑芬", "建宏", "佩珊", "俊傑", "宜蓁", "宗翰", "雅婷", "凱文", "欣怡", "子豪",
         "詩涵", "冠宇", "承恩", "品妍", "彥廷", "思妤", "柏翰", "郁婷", "家瑋", "宇軒", "婉婷", "俊宏", "美玲", "文雄",
         "秀英", "國華"]
GIVEN_ROMAN = ["yijun", "chihming", "xiaomei", "jiahao", "shufen", "chienhung", "peishan", "chunchieh", "yichen",
               "tsunghan", "yating", "kaiwen", "hsinyi", "tzuhao", "shihhan", "kuanyu", "chengen", "pinyen",
               "yenting", "szuyu", "pohan", "yuting", "chiawei", "yuhsuan", "wanting", "chunhung", "meiling",
               "wenhsiung", "hsiuying", "kuohua"]
FIRST = ["Emily", "David", "Sarah", "Michael", "Grace", "Kenji", "Priya", "James", "Olivia", "Daniel", "Sophie",
         "Lucas", "Hannah", "Ryan", "Mia", "Ethan", "Chloe", "Noah", "Aiko", "Wei"]
LAST = ["Chen", "Lin", "Wang", "Brown", "Ho", "Tanaka", "Nair", "Smith", "Lee", "Wong", "Tan", "Garcia", "Kim",
        "Sato", "Nguyen", "Taylor", "Lim", "Ng", "Suzuki", "Martin"]
DOMAINS = ["example.com", "example.net", "example.org", "example.com.tw", "example.jp"]
CITIES = ["台北市", "台北市", "新北市", "新北市", "桃園市", "新竹市", "台中市", "台中市", "台南市", "高雄市", "高雄市",
          "基隆市", "宜蘭縣", "花蓮縣", "嘉義市", "屏東縣"]
POSTCODES = ["110", "106", "220", "231", "330", "300", "403", "407", "700", "802", "806", "200", "260", "970", "600",
             "900"]
ROADS = ["信義區松仁路", "大安區忠孝東路四段", "板橋區文化路一段", "新店區北新路三段", "桃園區中正路", "東區光復路二段",
         "西區公益路二段", "西屯區台灣大道三段", "中西區民生路二段", "苓雅區四維三路", "前鎮區中山二路", "仁愛區愛一路",
         "宜蘭市神農路二段", "花蓮市中華路", "東區中山路", "屏東市自由路"]
CATEGORIES = ["烏龍茶 Oolong tea", "高山茶 High-mountain tea", "紅玉紅茶 Ruby black tea", "鳳梨酥 Pineapple cakes",
              "牛軋糖 Milk nougat", "芒果乾 Dried mango", "沙茶醬 Shacha sauce", "黑豆醬油 Black bean soy sauce",
              "咖啡豆 Coffee beans", "陶瓷馬克杯 Ceramic mug", "鶯歌茶壺 Yingge teapot", "帆布托特包 Canvas tote bag",
              "摺疊傘 Folding umbrella", "純棉毛巾 Cotton towel", "手工皂 Handmade soap", "保溫瓶 Insulated bottle",
              "筆記本 Notebook", "中性筆 Gel pens", "USB-C 充電線 USB-C cable", "行動電源 Power bank"]
VARIANTS = ["經典 Classic", "限定 Limited", "家庭號 Family size", "禮盒 Gift box", "迷你 Mini", "黑 Black", "白 White",
            "綠 Green", "藍 Blue", "紅 Red"]


def R(expr, salt):
    """SQL for a pseudo-random number in [0, 1) that depends only on (expr, salt)."""
    return f"((hashint8extended(({expr})::int8, {salt}) & 2147483647)::float8 / 2147483648.0)"


def H(hours_expr):
    return f"(({hours_expr}) * interval '1 hour')"


# --- set-up ----------------------------------------------------------------------


def ensure_database():
    """Create the PostgreSQL database DATABASE_URL names if it does not exist yet."""
    import dj_database_url
    import psycopg

    config = dj_database_url.config()
    if not config or config.get("ENGINE") != "django.db.backends.postgresql":
        return
    params = {
        key: value
        for key, value in {
            "host": config.get("HOST"), "port": config.get("PORT"),
            "user": config.get("USER"), "password": config.get("PASSWORD"),
        }.items()
        if value
    }
    try:
        psycopg.connect(dbname=config["NAME"], **params).close()
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
        print(f"created database {config['NAME']}")


def setup_django():
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database: the benchmark is about production scale.")
    call_command("migrate", verbosity=0)
    return connection


def database_url(connection=None):
    """A postgres:// URL for the database `connection` is using (the test database
    inside a test), for child processes and psql."""
    if connection is None:
        from django.db import connection
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = s.get("HOST") or "localhost"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth + '@' if auth else ''}{host}{port}/{quote(s['NAME'], safe='')}"


def raw_connection(connection=None):
    """A new autocommit psycopg connection to the same database as Django's."""
    import psycopg

    if connection is None:
        from django.db import connection
    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


def _session_setup(conn):
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute("SET jit = off")  # the fill's expressions are cheap; compiling them is not
    # Memoize would cache every per-row lateral subquery, each row being different: a
    # quarter of the plan's time for no hit at all.
    conn.execute("SET enable_memoize = off")
    superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    if superuser:
        conn.execute("SET session_replication_role = replica")
    return superuser


# --- the fill ----------------------------------------------------------------------


def fill_name_parts(cursor):
    """The name parts (orders/names.py) of every customer that has none, as
    Customer.save() writes them: the bench inserts customers with SQL."""
    from orders.names import name_parts

    cursor.execute(
        "SELECT id, name FROM orders_customer c "
        "WHERE NOT EXISTS (SELECT 1 FROM orders_customernamepart p WHERE p.customer_id = c.id)"
    )
    rows = [(pk, part) for pk, name in cursor.fetchall() for part in sorted(name_parts(name))]
    raw = getattr(cursor, "cursor", cursor)  # Django's cursor wraps psycopg's
    with raw.copy("COPY orders_customernamepart (customer_id, part) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


class Fill:
    """Everything the fill needs to know to write one consistent data set."""

    def __init__(self, connection, *, orders, customers=None, products=PRODUCTS, span_days=SPAN_DAYS,
                 ledger_days=LEDGER_DAYS, workers=None, now=None, verbose=True):
        self.connection = connection
        self.n = orders
        self.customers = customers or max(orders // 5, 10)
        self.products = products
        self.span_days = span_days
        self.ledger_days = ledger_days
        self.workers = workers or max(os.cpu_count() or 1, 1)
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.window_start = self.now - timedelta(days=ledger_days)
        self.verbose = verbose
        self.timings = {}

    def say(self, text):
        if self.verbose:
            print(text, flush=True)

    # -- state of the database

    def state(self, cursor):
        cursor.execute("SELECT count(*) FROM orders_order WHERE number LIKE %s", [ORDER_PREFIX + "%"])
        bench_orders = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM orders_order WHERE number NOT LIKE %s", [ORDER_PREFIX + "%"])
        other_orders = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM inventory_stockmovement WHERE note = %s", [OPENING_NOTE])
        opening = cursor.fetchone()[0]
        return {"bench_orders": bench_orders, "other_orders": other_orders, "complete": opening > 0}

    # -- reference data (small; kept and topped up)

    def base(self, conn):
        from django.contrib.auth.models import Group, User

        from orders import defaults
        from demo.management.commands.seed_demo import WAREHOUSES
        from shipping.defaults import DEFAULT_CARRIERS

        started = time.perf_counter()
        with conn.cursor() as cursor:
            for code, name, priority in WAREHOUSES:
                cursor.execute(
                    "INSERT INTO inventory_warehouse (code, name, priority, is_active) VALUES (%s, %s, %s, true) "
                    "ON CONFLICT (code) DO NOTHING", [code, name, priority])
            # The carriers every install starts with (shipping migration 0006): already
            # there on a migrated database; written here only if they are missing.
            for code, name, pattern, url, (home, store_pickup, express), chain in DEFAULT_CARRIERS:
                cursor.execute(
                    "INSERT INTO shipping_carrier (code, name, tracking_url_template, tracking_number_pattern, "
                    "is_active, serves_home, serves_store_pickup, serves_express, store_chain) "
                    "VALUES (%s, %s, %s, %s, true, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING",
                    [code, name, url, pattern, home, store_pickup, express, chain])
            # Products: EAN-13 barcodes (Taiwan's 471 prefix) with their check digit.
            cursor.execute(
                f"""
                INSERT INTO inventory_product (sku, name, barcode, weight_grams, low_stock_threshold, is_active)
                SELECT {self.sku_sql('p')}, {self.product_name_sql('p')}, body || ((10 - (
                           SELECT sum(substr(body, d, 1)::int * CASE WHEN mod(d, 2) = 0 THEN 3 ELSE 1 END)
                           FROM generate_series(1, 12) AS d) %% 10) %% 10)::text,
                       50 + mod(p * 37, 1950), CASE WHEN mod(p, 10) = 0 THEN 10 ELSE 5 END, true
                FROM generate_series(1, %(P)s) AS p
                CROSS JOIN LATERAL (SELECT '4719' || lpad(p::text, 8, '0') AS body) b
                ON CONFLICT DO NOTHING
                """,
                {"P": self.products, "cats": CATEGORIES, "variants": VARIANTS},
            )
            cursor.execute("SELECT count(*) FROM orders_customer")
            have = cursor.fetchone()[0]
            if have < self.customers:
                self.say(f"  customers: adding {self.customers - have:,}")
                cursor.execute(self.customers_sql(), self.customer_params(have + 1, self.customers))
                fill_name_parts(cursor)
        # Staff who act on the timeline (no usable password), and the bench's superuser.
        staff = [(f"{USER_PREFIX}warehouse-{n}", defaults.WAREHOUSE) for n in range(1, 7)]
        staff += [(f"{USER_PREFIX}service-{n}", defaults.CUSTOMER_SERVICE) for n in range(1, 4)]
        staff += [(f"{USER_PREFIX}manager", defaults.MANAGER)]
        for username, group in staff:
            user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
            if created:
                user.set_unusable_password()
                user.save()
                found = Group.objects.filter(name=group).first()
                if found:
                    user.groups.add(found)
        bench_superuser()
        self.timings["reference data"] = time.perf_counter() - started

    def load_ids(self, cursor):
        from django.contrib.auth.models import User

        cursor.execute("SELECT code, id FROM inventory_warehouse WHERE code = ANY(%s)", [WAREHOUSE_CODES])
        warehouses = dict(cursor.fetchall())
        cursor.execute("SELECT code, id FROM shipping_carrier WHERE code = ANY(%s)", [CARRIER_CODES])
        carriers = dict(cursor.fetchall())
        cursor.execute(
            "SELECT id FROM inventory_product WHERE sku LIKE %s ORDER BY sku LIMIT %s",
            [SKU_PREFIX + "%", self.products])
        self.product_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT id FROM orders_customer ORDER BY id LIMIT %s", [self.customers])
        self.customer_ids = [row[0] for row in cursor.fetchall()]
        assert len(self.product_ids) == self.products, "bench products are missing"
        assert len(self.customer_ids) == self.customers, "customers are missing"
        self.warehouse_ids = [warehouses[code] for code in WAREHOUSE_CODES]
        self.carrier_ids = [carriers[code] for code in CARRIER_CODES]
        users = dict(User.objects.filter(username__startswith=USER_PREFIX).values_list("username", "id"))
        self.warehouse_users = [users[f"{USER_PREFIX}warehouse-{n}"] for n in range(1, 7)]
        self.service_users = [users[f"{USER_PREFIX}service-{n}"] for n in range(1, 4)]
        self.manager_user = users[f"{USER_PREFIX}manager"]

    # -- SQL fragments shared by several statements (so that they agree)

    @staticmethod
    def sku_sql(p):
        return f"('{SKU_PREFIX}' || lpad(({p})::text, 5, '0'))"

    @staticmethod
    def product_name_sql(p):
        return (f"((%(cats)s::text[])[1 + mod(({p}) - 1, 20)] || ' ' || "
                f"(%(variants)s::text[])[1 + mod((({p}) - 1) / 20, 10)] || ' #' || ({p})::text)")

    def customers_sql(self):
        d = "lpad(mod(n::int8 * 9301 + 49297, 100000000)::text, 8, '0')"
        return f"""
            INSERT INTO orders_customer (name, email, phone, phone_digits, phone_reversed, language, created_at)
            SELECT x.name, x.email, y.phone, y.digits, reverse(y.digits), CASE WHEN x.zh THEN 'zh-hant' ELSE 'en' END,
                   %(now)s - make_interval(days => %(span)s + 30) + {R('n', 3)} * interval '30 days'
            FROM generate_series(%(lo)s, %(hi)s) AS n
            CROSS JOIN LATERAL (SELECT {R('n', 1)} < 0.85 AS zh, 1 + floor({R('n', 2)} * 20)::int AS a,
                                       1 + floor({R('n', 4)} * 30)::int AS b, 1 + floor({R('n', 5)} * 20)::int AS c,
                                       {d} AS d, {R('n', 6)} AS u, {R('n', 7)} AS v) r
            CROSS JOIN LATERAL (SELECT r.zh,
                CASE WHEN r.zh THEN (%(surnames)s::text[])[r.a] || (%(given)s::text[])[r.b]
                     ELSE (%(first)s::text[])[r.c] || ' ' || (%(last)s::text[])[r.a] END AS name,
                CASE WHEN r.zh THEN (%(given_roman)s::text[])[r.b] || '.' || (%(surnames_roman)s::text[])[r.a]
                     ELSE lower((%(first)s::text[])[r.c] || '.' || (%(last)s::text[])[r.a]) END
                    || n::text || '@' || (%(domains)s::text[])[1 + floor(r.u * 5)::int] AS email) x
            CROSS JOIN LATERAL (SELECT
                CASE WHEN NOT r.zh AND r.v < 0.12 THEN '+852 ' || substr(r.d, 1, 4) || ' ' || substr(r.d, 5, 4)
                     WHEN NOT r.zh AND r.v < 0.24 THEN '+81 90-' || substr(r.d, 1, 4) || '-' || substr(r.d, 5, 4)
                     WHEN NOT r.zh AND r.v < 0.35 THEN '+65 ' || substr(r.d, 1, 4) || ' ' || substr(r.d, 5, 4)
                     WHEN r.v < 0.45 THEN '09' || substr(r.d, 1, 2) || '-' || substr(r.d, 3, 3) || '-' || substr(r.d, 6, 3)
                     WHEN r.v < 0.70 THEN '09' || r.d
                     WHEN r.v < 0.85 THEN '+886 9' || substr(r.d, 1, 2) || ' ' || substr(r.d, 3, 3) || ' ' || substr(r.d, 6, 3)
                     ELSE '09' || substr(r.d, 1, 2) || ' ' || substr(r.d, 3, 3) || ' ' || substr(r.d, 6, 3) END AS phone,
                CASE WHEN NOT r.zh AND r.v < 0.12 THEN '852' || r.d
                     WHEN NOT r.zh AND r.v < 0.24 THEN '8190' || r.d
                     WHEN NOT r.zh AND r.v < 0.35 THEN '65' || r.d
                     ELSE '09' || r.d END AS digits) y
            ORDER BY n
        """

    def customer_params(self, lo, hi):
        return {
            "lo": lo, "hi": hi, "now": self.now, "span": self.span_days,
            "surnames": SURNAMES, "surnames_roman": SURNAMES_ROMAN, "given": GIVEN, "given_roman": GIVEN_ROMAN,
            "first": FIRST, "last": LAST, "domains": DOMAINS,
        }

    def lines_lateral(self, p="p"):
        """The lines of plan row `p`: k (1…nlines), pidx (product 1…P), q, price, line_id,
        and restock (whether a return puts the line back into stock)."""
        i = f"{p}.i"
        key = f"({i}::int8 * 8 + k.k)"
        return f"""
            CROSS JOIN LATERAL generate_series(1, {p}.nlines) AS k(k)
            CROSS JOIN LATERAL (SELECT
                1 + mod(floor(%(P)s * {R(i, 101)} ^ 2)::int
                        + k.k * (1 + floor({R(i, 102)} * (%(P)s / {MAX_LINES} - 1))::int), %(P)s) AS pidx,
                1 + floor(4 * {R(key, 103)} ^ 3)::int AS q,
                {R(key, 104)} < 0.1 AS discounted,
                {R(key, 301)} < 0.8 AS restock,
                %(lbase)s + ({i} - 1) * {MAX_LINES} + k.k AS line_id) l0
            CROSS JOIN LATERAL (SELECT CASE WHEN l0.discounted
                THEN round(((mod(l0.pidx * 7919, 40) + 1) * 25 - 1) * 0.9)
                ELSE ((mod(l0.pidx * 7919, 40) + 1) * 25 - 1) END::numeric(12, 2) AS price) l1
        """

    def params(self, **extra):
        return {
            "n": self.n, "now": self.now, "wstart": self.window_start, "span": self.span_days, "P": self.products,
            "C": self.customers, "obase": self.obase, "lbase": self.lbase, "sbase": self.sbase,
            "prod_ids": self.product_ids, "cust_ids": self.customer_ids, "wh_ids": self.warehouse_ids,
            "wh_codes": WAREHOUSE_CODES, "car_ids": self.carrier_ids, "car_codes": CARRIER_CODES,
            "wusers": self.warehouse_users, "susers": self.service_users, "manager": self.manager_user,
            "states": STATES, "cats": CATEGORIES, "variants": VARIANTS, "cities": CITIES, "postcodes": POSTCODES,
            "roads": ROADS, **self.reason_params(), **extra,
        }

    @staticmethod
    def reason_params():
        from demo.management.commands.seed_demo import (
            CANCEL_REASONS,
            HOLD_REASONS,
            RETURN_REASONS,
        )

        return {"hold_reasons": HOLD_REASONS, "cancel_reasons": CANCEL_REASONS, "return_reasons": RETURN_REASONS}

    # -- the plan: one row per order with its whole timeline (an unlogged scratch table)

    PLAN_DDL = """
        DROP TABLE IF EXISTS bench_plan;
        CREATE UNLOGGED TABLE bench_plan (
            i int NOT NULL, oid bigint NOT NULL, cust_id bigint NOT NULL, c_name text, c_phone text, c_email text,
            cidx int, country text, placed timestamptz NOT NULL, nlines int NOT NULL, total numeric(12, 2),
            delivery text, carrier_idx int, wh_idx int, wh_id bigint, branch int, hs_idx int, cs_idx int,
            dn float8, dp float8, dk float8, ds float8, dd float8, dn2 float8, dp2 float8, dk2 float8,
            e_proc timestamptz, e_pack timestamptz, e_ship timestamptz, e_deliv timestamptz, e_comp timestamptz,
            h_at timestamptz, r_at timestamptz, c_at timestamptz, ret_at timestamptz, ret_from text,
            ship_created timestamptz, status text, held_from text, changed_at timestamptz, payment text,
            in_window boolean, wuser int, suser int
        )
    """

    def plan_sql(self):
        i = "g.i"
        return f"""
        INSERT INTO bench_plan
        SELECT g.i, %(obase)s + g.i, c.id, c.name, c.phone, c.email, ci.cidx, a.country, a.placed, a.nlines,
               (SELECT sum(l0.q * l1.price) FROM (SELECT g.i AS i, a.nlines) AS p {self.lines_lateral('p')}),
               b.delivery, b.carrier_idx, a.wh_idx,
               CASE WHEN f.e_proc IS NOT NULL THEN (%(wh_ids)s::int8[])[a.wh_idx] END,
               a.branch, a.hs_idx, a.cs_idx, a.dn, a.dp, a.dk, a.ds, a.dd, b.dn2, b.dp2, b.dk2,
               f.e_proc, f.e_pack, f.e_ship, f.e_deliv, f.e_comp, f.h_at, f.r_at, f.c_at, f.ret_at,
               CASE WHEN b.reach = 5 THEN 'delivered' ELSE 'completed' END,
               f.ship_created, s.status,
               CASE WHEN s.status = 'on_hold' THEN (%(states)s::text[])[a.hs_idx] ELSE '' END,
               greatest(a.placed, f.e_proc, f.e_pack, f.e_ship, f.e_deliv, f.e_comp, f.h_at, f.r_at, f.c_at,
                        f.ret_at),
               CASE WHEN s.status = 'returned' THEN 'refunded'
                    WHEN s.status = 'cancelled' THEN
                        CASE WHEN f.e_proc IS NOT NULL OR {R(i, 12)} < 0.3 THEN 'refunded' ELSE 'pending' END
                    WHEN f.e_proc IS NULL AND {R(i, 12)} < 0.35 THEN 'pending'
                    ELSE 'paid' END,
               a.placed >= %(wstart)s,
               (%(wusers)s::int[])[1 + mod(g.i, cardinality(%(wusers)s::int[]))],
               (%(susers)s::int[])[1 + mod(g.i * 7, cardinality(%(susers)s::int[]))]
        FROM generate_series(%(lo)s, %(hi)s) AS g(i)
        CROSS JOIN LATERAL (SELECT 1 + least(%(C)s - 1, floor(%(C)s * {R(i, 14)} ^ 1.6)::int) AS cidx) ci
        JOIN orders_customer c ON c.id = (%(cust_ids)s::int8[])[ci.cidx]
        CROSS JOIN LATERAL (SELECT
            %(now)s - ((1 - g.i::float8 / %(n)s) * (0.6 + 0.4 * (1 - g.i::float8 / %(n)s)) * %(span)s * 86400
                       + {R(i, 1)} * 1200) * interval '1 second' AS placed,
            1 + floor({R(i, 105)} * 4 + {R(i, 106)} * 3)::int AS nlines,
            0.1 + 36 * {R(i, 2)} ^ 3 AS dn, 0.5 + 16 * {R(i, 3)} ^ 2 AS dp, 1 + 30 * {R(i, 4)} ^ 2 AS dk,
            16 + 80 * {R(i, 5)} ^ 2 AS ds, 72 + 264 * {R(i, 6)} AS dd, 2 + 100 * {R(i, 9)} ^ 2 AS dh,
            CASE WHEN {R(i, 7)} < 0.030 THEN 1 WHEN {R(i, 7)} < 0.040 THEN 2
                 WHEN {R(i, 7)} < 0.075 THEN 3 WHEN {R(i, 7)} < 0.095 THEN 4 ELSE 0 END AS branch,
            CASE WHEN {R(i, 8)} < 0.5 THEN 1 WHEN {R(i, 8)} < 0.8 THEN 2 ELSE 3 END AS hs_idx,
            CASE WHEN {R(i, 8)} < 0.6 THEN 1 WHEN {R(i, 8)} < 0.85 THEN 2 ELSE 3 END AS cs_idx,
            CASE WHEN {R(i, 13)} < 0.5 THEN 1 WHEN {R(i, 13)} < 0.8 THEN 2 ELSE 3 END AS wh_idx,
            CASE WHEN c.phone_digits LIKE '852%%' THEN 'HK' WHEN c.phone_digits LIKE '81%%' THEN 'JP'
                 WHEN c.phone_digits LIKE '65%%' THEN 'SG' ELSE 'TW' END AS country OFFSET 0) a
        CROSS JOIN LATERAL (SELECT
            a.dn + CASE WHEN a.branch IN (2, 3) AND a.hs_idx = 1 THEN a.dh ELSE 0 END AS dn2,
            a.dp + CASE WHEN a.branch IN (2, 3) AND a.hs_idx = 2 THEN a.dh ELSE 0 END AS dp2,
            a.dk + CASE WHEN a.branch IN (2, 3) AND a.hs_idx = 3 THEN a.dh ELSE 0 END AS dk2,
            CASE a.branch WHEN 1 THEN a.cs_idx WHEN 2 THEN a.hs_idx
                          WHEN 4 THEN CASE WHEN {R(i, 10)} < 0.5 THEN 5 ELSE 6 END ELSE 6 END AS reach,
            CASE WHEN a.country <> 'TW' THEN 'express' WHEN {R(i, 15)} < 0.7 THEN 'home' ELSE 'store_pickup' END
                AS delivery,
            CASE WHEN a.country <> 'TW' THEN 5
                 WHEN {R(i, 15)} < 0.7 THEN CASE WHEN {R(i, 16)} < 0.67 THEN 1 ELSE 2 END
                 ELSE CASE WHEN {R(i, 16)} < 0.55 THEN 3 ELSE 4 END END AS carrier_idx OFFSET 0) b
        CROSS JOIN LATERAL (SELECT
            a.placed + {H('b.dn2')} AS e_proc, a.placed + {H('b.dn2 + b.dp2')} AS e_pack,
            a.placed + {H('b.dn2 + b.dp2 + b.dk2')} AS e_ship,
            a.placed + {H('b.dn2 + b.dp2 + b.dk2 + a.ds')} AS e_deliv,
            a.placed + {H('b.dn2 + b.dp2 + b.dk2 + a.ds + a.dd')} AS e_comp,
            a.placed + {H('b.dn2 + 0.4 * a.dk')} + {H('b.dp2')} AS ship_created OFFSET 0) t
        CROSS JOIN LATERAL (SELECT
            CASE a.hs_idx WHEN 1 THEN a.placed + {H('0.5 * a.dn')} WHEN 2 THEN t.e_proc + {H('0.5 * a.dp')}
                          ELSE t.e_pack + {H('0.5 * a.dk')} END AS h_at,
            CASE a.cs_idx WHEN 1 THEN a.placed + {H(f'(0.05 + 0.9 * {R(i, 10)}) * a.dn')}
                          WHEN 2 THEN t.e_proc + {H(f'(0.05 + 0.9 * {R(i, 10)}) * a.dp')}
                          ELSE t.e_pack + {H(f'(0.05 + 0.9 * {R(i, 10)}) * a.dk')} END AS c_direct OFFSET 0) h
        CROSS JOIN LATERAL (SELECT
            CASE a.branch WHEN 1 THEN h.c_direct WHEN 2 THEN h.h_at + {H('a.dh')} END AS c_at,
            CASE WHEN b.reach = 5 THEN t.e_deliv + {H(f'(0.1 + 0.8 * {R(i, 11)}) * a.dd')}
                 ELSE t.e_comp + (1 + 20 * {R(i, 11)}) * interval '1 day' END AS ret_at OFFSET 0) x
        CROSS JOIN LATERAL (SELECT
            CASE WHEN b.reach >= 2 AND t.e_proc <= %(now)s THEN t.e_proc END AS e_proc,
            CASE WHEN b.reach >= 3 AND t.e_pack <= %(now)s THEN t.e_pack END AS e_pack,
            CASE WHEN b.reach >= 4 AND t.e_ship <= %(now)s THEN t.e_ship END AS e_ship,
            CASE WHEN b.reach >= 5 AND t.e_deliv <= %(now)s THEN t.e_deliv END AS e_deliv,
            CASE WHEN b.reach >= 6 AND t.e_comp <= %(now)s THEN t.e_comp END AS e_comp,
            CASE WHEN a.branch IN (2, 3) AND h.h_at <= %(now)s THEN h.h_at END AS h_at,
            CASE WHEN a.branch = 3 AND h.h_at + {H('a.dh')} <= %(now)s THEN h.h_at + {H('a.dh')} END AS r_at,
            CASE WHEN a.branch IN (1, 2) AND x.c_at <= %(now)s THEN x.c_at END AS c_at,
            CASE WHEN a.branch = 4 AND x.ret_at <= %(now)s THEN x.ret_at END AS ret_at,
            CASE WHEN b.reach >= 3 AND t.ship_created <= %(now)s
                      AND (a.branch NOT IN (1, 2) OR t.ship_created < x.c_at) THEN t.ship_created END
                AS ship_created OFFSET 0) f
        CROSS JOIN LATERAL (SELECT CASE
            WHEN f.ret_at IS NOT NULL THEN 'returned' WHEN f.c_at IS NOT NULL THEN 'cancelled'
            WHEN f.h_at IS NOT NULL AND f.r_at IS NULL THEN 'on_hold'
            WHEN f.e_comp IS NOT NULL THEN 'completed' WHEN f.e_deliv IS NOT NULL THEN 'delivered'
            WHEN f.e_ship IS NOT NULL THEN 'shipped' WHEN f.e_pack IS NOT NULL THEN 'packed'
            WHEN f.e_proc IS NOT NULL THEN 'processing' ELSE 'new' END AS status OFFSET 0) s
        """

    # -- the big statements (each over a range of plan rows)

    def orders_sql(self):
        return f"""
        INSERT INTO orders_order (id, number, customer_id, status, held_from_status, placed_at, status_changed_at,
            payment_status, currency, total, delivery_method, ship_name, ship_phone, ship_address1, ship_address2,
            ship_city, ship_postcode, ship_country, warehouse_id)
        SELECT p.oid, '{ORDER_PREFIX}' || lpad(p.i::text, 7, '0'), p.cust_id, p.status, p.held_from, p.placed,
               p.changed_at, p.payment, 'TWD', p.total, p.delivery, p.c_name, p.c_phone,
               CASE WHEN p.country = 'HK' THEN 'Flat ' || (1 + mod(p.cidx, 30))::text || 'B, '
                        || (1 + mod(p.cidx, 200))::text || ' Queen''s Road Central'
                    WHEN p.country = 'JP' THEN '2-' || (1 + mod(p.cidx, 30))::text || '-1 Shibuya, Shibuya-ku'
                    WHEN p.country = 'SG' THEN (1 + mod(p.cidx, 90))::text || ' Bayfront Avenue, #12-01'
                    WHEN p.delivery = 'store_pickup' THEN
                        CASE WHEN p.carrier_idx = 3 THEN '7-ELEVEN ' ELSE '全家 ' END
                        || substr((%(roads)s::text[])[1 + mod(p.cidx, 16)], 1, 2) || '門市 (店號 '
                        || lpad(mod(p.cidx::int8 * 7919, 1000000)::text, 6, '0') || ')'
                    ELSE (%(roads)s::text[])[1 + mod(p.cidx, 16)] || (1 + mod(p.cidx * 13, 300))::text || '號'
                        || CASE WHEN mod(p.cidx, 2) = 0 THEN (2 + mod(p.cidx, 15))::text || '樓' ELSE '' END END,
               '',
               CASE p.country WHEN 'HK' THEN 'Hong Kong' WHEN 'JP' THEN 'Tokyo' WHEN 'SG' THEN 'Singapore'
                    ELSE (%(cities)s::text[])[1 + mod(p.cidx, 16)] END,
               CASE p.country WHEN 'HK' THEN '' WHEN 'JP' THEN '150-0002' WHEN 'SG' THEN '018956'
                    ELSE (%(postcodes)s::text[])[1 + mod(p.cidx, 16)] END,
               p.country, p.wh_id
        FROM bench_plan p WHERE p.i BETWEEN %(lo)s AND %(hi)s
        """

    def lines_sql(self):
        return f"""
        INSERT INTO orders_orderline (id, order_id, product_id, sku, product_name, quantity, unit_price,
                                      quantity_scanned)
        SELECT l0.line_id, p.oid, (%(prod_ids)s::int8[])[l0.pidx], {self.sku_sql('l0.pidx')},
               {self.product_name_sql('l0.pidx')}, l0.q, l1.price, {self.scanned_sql()}
        FROM bench_plan p {self.lines_lateral()}
        WHERE p.i BETWEEN %(lo)s AND %(hi)s
        """

    @staticmethod
    def scanned_sql(p="p"):
        """Units of line k scanned by now. Unit j of line k is scanned at
        e_proc + 0.45·dp·((k−1) + j/(q+1))/nlines: all before the order could be packed
        (or put on hold, halfway through processing); a cancel in processing stops it."""
        stop = f"coalesce({p}.e_pack, CASE WHEN {p}.branch = 1 THEN {p}.c_at END, %(now)s)"
        s = (f"(extract(epoch FROM ({stop} - {p}.e_proc)) / 3600.0 / (0.45 * {p}.dp) * {p}.nlines - (k.k - 1))")
        return (f"CASE WHEN {p}.e_proc IS NULL THEN 0 "
                f"ELSE greatest(0, least(l0.q, floor({s} * (l0.q + 1))::int)) END")

    def events_sql(self):
        t = "jsonb_build_object('from', {}, 'to', {})"
        wu, su = "p.wuser", "p.suser"
        return f"""
        INSERT INTO orders_orderevent (order_id, kind, actor_id, created_at, message, data)
        SELECT p.oid, e.kind, e.actor, e.at, e.message, e.data
        FROM bench_plan p
        CROSS JOIN LATERAL (VALUES
            ('created', NULL::int, p.placed, '', jsonb_build_object('lines', p.nlines)),
            ('transition', {wu}, p.e_proc, '', '{{"from": "new", "to": "processing"}}'::jsonb),
            ('transition', {wu}, p.e_pack, '', '{{"from": "processing", "to": "packed"}}'::jsonb),
            ('transition', {wu}, p.e_ship, '', '{{"from": "packed", "to": "shipped"}}'::jsonb),
            ('transition', {wu}, p.e_deliv, '', '{{"from": "shipped", "to": "delivered"}}'::jsonb),
            ('transition', {su}, p.e_comp, '', '{{"from": "delivered", "to": "completed"}}'::jsonb),
            ('transition', {su}, p.h_at, (%(hold_reasons)s::text[])[1 + mod(p.i, 3)],
                {t.format("(%(states)s::text[])[p.hs_idx]", "'on_hold'")}),
            ('transition', {su}, p.r_at, '', {t.format("'on_hold'", "(%(states)s::text[])[p.hs_idx]")}),
            ('transition', {su}, p.c_at, (%(cancel_reasons)s::text[])[1 + mod(p.i, 3)],
                {t.format("CASE WHEN p.branch = 2 THEN 'on_hold' ELSE (%(states)s::text[])[p.cs_idx] END",
                          "'cancelled'")}),
            ('transition', {su}, p.ret_at, (%(return_reasons)s::text[])[1 + mod(p.i, 3)],
                {t.format("p.ret_from", "'returned'")})
        ) AS e(kind, actor, at, message, data)
        WHERE p.i BETWEEN %(lo)s AND %(hi)s AND e.at IS NOT NULL
        """

    def shipments_sql(self):
        return """
        INSERT INTO shipping_shipment (id, order_id, carrier_id, tracking_number, status, created_at, shipped_at,
                                       delivered_at)
        SELECT %(sbase)s + p.i, p.oid, (%(car_ids)s::int8[])[p.carrier_idx],
               CASE p.carrier_idx WHEN 1 THEN '8' || lpad(p.i::text, 11, '0')
                                  WHEN 2 THEN '13' || lpad(p.i::text, 12, '0')
                                  WHEN 3 THEN 'B' || lpad(p.i::text, 11, '0')
                                  WHEN 4 THEN '9' || lpad(p.i::text, 10, '0')
                                  ELSE '5' || lpad(p.i::text, 9, '0') END,
               CASE WHEN p.status = 'cancelled' THEN 'cancelled' WHEN p.e_deliv IS NOT NULL THEN 'delivered'
                    WHEN p.e_ship IS NOT NULL THEN 'shipped' ELSE 'pending' END,
               p.ship_created, p.e_ship, p.e_deliv - interval '30 minutes'
        FROM bench_plan p WHERE p.i BETWEEN %(lo)s AND %(hi)s AND p.ship_created IS NOT NULL
        """

    def shipment_lines_sql(self):
        return f"""
        INSERT INTO shipping_shipmentline (shipment_id, order_line_id, quantity)
        SELECT %(sbase)s + p.i, l0.line_id, l0.q
        FROM bench_plan p {self.lines_lateral()}
        WHERE p.i BETWEEN %(lo)s AND %(hi)s AND p.ship_created IS NOT NULL
        """

    def checklist_sql(self):
        step_key = "p.i::int8 * 64 + st.id"
        done = "s.entered + " + H(f"(0.2 + 0.5 * {R(step_key, 601)}) * s.dur")
        return f"""
        INSERT INTO orders_orderchecklistitem (order_id, state, label, position, required, predicate, done_at,
                                               done_by_id)
        SELECT p.oid, st.state, st.label, st.position, st.required, st.predicate, d.done_at,
               CASE WHEN d.done_at IS NOT NULL AND st.predicate = '' THEN p.wuser END
        FROM bench_plan p
        CROSS JOIN LATERAL (VALUES ('new', p.placed, p.dn2, p.e_proc), ('processing', p.e_proc, p.dp2, p.e_pack),
                                   ('packed', p.e_pack, p.dk2, p.e_ship), ('shipped', p.e_ship, p.ds, p.e_deliv),
                                   ('delivered', p.e_deliv, p.dd, p.e_comp)) AS s(state, entered, dur, left_at)
        JOIN orders_checkliststep st ON st.state = s.state AND st.is_active
        CROSS JOIN LATERAL (SELECT CASE
            WHEN s.left_at IS NOT NULL AND st.predicate <> '' THEN s.left_at - interval '1 second'
            WHEN s.left_at IS NOT NULL AND (st.required OR {R(step_key, 602)} < 0.5) THEN {done}
            WHEN s.left_at IS NULL AND st.predicate = '' AND {done} <= %(now)s THEN {done}
            END AS done_at) d
        WHERE p.i BETWEEN %(lo)s AND %(hi)s AND s.entered IS NOT NULL
          AND p.status IN ('new', 'processing', 'packed', 'on_hold', 'shipped', 'delivered')
        """

    def window_events_sql(self):
        """Timeline entries kept for the ledger window: stock, shipment, e-mail, refused scans."""
        tracking = """CASE p.carrier_idx WHEN 1 THEN '8' || lpad(p.i::text, 11, '0')
                                  WHEN 2 THEN '13' || lpad(p.i::text, 12, '0')
                                  WHEN 3 THEN 'B' || lpad(p.i::text, 11, '0')
                                  WHEN 4 THEN '9' || lpad(p.i::text, 10, '0')
                                  ELSE '5' || lpad(p.i::text, 9, '0') END"""
        stock = "jsonb_build_object('action', '{}', 'warehouse', (%(wh_codes)s::text[])[p.wh_idx], 'lines', {})"
        shipment = (f"jsonb_build_object('action', '{{}}', 'carrier', (%(car_codes)s::text[])[p.carrier_idx], "
                    f"'tracking_number', {tracking})")
        return f"""
        INSERT INTO orders_orderevent (order_id, kind, actor_id, created_at, message, data)
        SELECT p.oid, e.kind, e.actor, e.at, '', e.data
        FROM bench_plan p
        CROSS JOIN LATERAL (
            SELECT jsonb_agg(jsonb_build_array({self.sku_sql('l0.pidx')}, l0.q) ORDER BY k.k) AS all_lines,
                   jsonb_agg(jsonb_build_array({self.sku_sql('l0.pidx')}, l0.q) ORDER BY k.k)
                       FILTER (WHERE l0.restock) AS back_lines,
                   min(pr.barcode) FILTER (WHERE k.k = 1) AS first_code
            FROM (SELECT p.i, p.nlines) AS pl {self.lines_lateral('pl')}
            JOIN inventory_product pr ON pr.id = (%(prod_ids)s::int8[])[l0.pidx]) la
        CROSS JOIN LATERAL (SELECT pr.barcode AS stray_code, pr.sku AS stray_sku FROM inventory_product pr
            WHERE pr.id = (%(prod_ids)s::int8[])[
                1 + mod(floor(%(P)s * {R('p.i', 101)} ^ 2)::int + %(P)s - 1, %(P)s)]) stray
        CROSS JOIN LATERAL (VALUES
            ('stock', p.wuser, p.e_proc - interval '200 milliseconds', {stock.format('reserve', 'la.all_lines')}),
            ('stock', p.wuser, p.e_ship - interval '200 milliseconds', {stock.format('ship', 'la.all_lines')}),
            ('stock', p.suser, CASE WHEN p.e_proc IS NOT NULL THEN p.c_at - interval '200 milliseconds' END,
                {stock.format('release', 'la.all_lines')}),
            ('stock', p.suser, CASE WHEN la.back_lines IS NOT NULL THEN p.ret_at - interval '200 milliseconds' END,
                {stock.format('return', 'la.back_lines')}),
            ('shipment', p.wuser, p.ship_created, {shipment.format('created')}),
            ('shipment', p.wuser, p.e_deliv - interval '30 minutes', {shipment.format('delivered')}),
            ('notification', NULL::int, p.e_ship + interval '2 seconds',
                jsonb_build_object('template', 'order_shipped', 'to', p.c_email)),
            ('scan', p.wuser, CASE WHEN p.e_proc IS NOT NULL AND {R('p.i', 401)} < 0.12
                THEN p.e_proc + {H(f'0.45 * p.dp * {R("p.i", 402)}')} END,
                jsonb_build_object('action', 'refused', 'reason', 'not_in_order', 'code', stray.stray_code,
                                   'sku', stray.stray_sku)),
            ('scan', p.wuser, CASE WHEN p.e_pack IS NOT NULL AND {R('p.i', 401)} >= 0.96
                THEN p.e_proc + {H('0.46 * p.dp')} END,
                jsonb_build_object('action', 'refused', 'reason', 'too_many', 'code', la.first_code))
        ) AS e(kind, actor, at, data)
        WHERE p.i BETWEEN %(lo)s AND %(hi)s AND p.in_window AND e.at IS NOT NULL
        """

    def scan_events_sql(self):
        return f"""
        INSERT INTO orders_orderevent (order_id, kind, actor_id, created_at, message, data)
        SELECT p.oid, 'scan', p.wuser,
               p.e_proc + {H('0.45 * p.dp * ((k.k - 1) + j.j::float8 / (l0.q + 1)) / p.nlines')}, '',
               jsonb_build_object('action', 'scan', 'line', l0.line_id, 'sku', {self.sku_sql('l0.pidx')},
                                  'code', CASE WHEN {R('l0.line_id', 701)} < 0.85 THEN pr.barcode
                                               ELSE {self.sku_sql('l0.pidx')} END,
                                  'scanned', j.j)
        FROM bench_plan p {self.lines_lateral()}
        JOIN inventory_product pr ON pr.id = (%(prod_ids)s::int8[])[l0.pidx]
        CROSS JOIN LATERAL generate_series(1, {self.scanned_sql()}) AS j(j)
        WHERE p.i BETWEEN %(lo)s AND %(hi)s AND p.in_window AND p.e_proc IS NOT NULL
        """

    def order_movements_sql(self):
        return f"""
        INSERT INTO inventory_stockmovement (product_id, warehouse_id, kind, on_hand_delta, reserved_delta, order_id,
                                             actor_id, created_at, note)
        SELECT (%(prod_ids)s::int8[])[l0.pidx], p.wh_id, m.kind, m.on_hand, m.reserved, p.oid, m.actor, m.at, ''
        FROM bench_plan p {self.lines_lateral()}
        CROSS JOIN LATERAL (VALUES
            ('reserve', 0, l0.q, p.wuser, p.e_proc - interval '200 milliseconds'),
            ('ship', -l0.q, -l0.q, p.wuser, p.e_ship - interval '200 milliseconds'),
            ('release', 0, -l0.q, p.suser, p.c_at - interval '200 milliseconds'),
            ('return', l0.q, 0, p.suser, CASE WHEN l0.restock THEN p.ret_at - interval '200 milliseconds' END)
        ) AS m(kind, on_hand, reserved, actor, at)
        WHERE p.i BETWEEN %(lo)s AND %(hi)s AND p.in_window AND p.wh_id IS NOT NULL AND m.at IS NOT NULL
        """

    def receipts_sql(self):
        pw = "(p::int8 * 4 + w)"
        return f"""
        INSERT INTO inventory_stockmovement (product_id, warehouse_id, kind, on_hand_delta, reserved_delta, order_id,
                                             actor_id, created_at, note)
        SELECT (%(prod_ids)s::int8[])[p], (%(wh_ids)s::int8[])[w], m.kind, m.delta, 0, NULL,
               (%(wusers)s::int[])[1 + mod(p + w, cardinality(%(wusers)s::int[]))], m.at, m.note
        FROM generate_series(1, %(P)s) AS p CROSS JOIN generate_series(1, 3) AS w
        CROSS JOIN LATERAL (
            SELECT 'receipt' AS kind, (2 + floor({R(f'{pw} * 4 + r', 801)} * 10)::int) * 10 AS delta,
                   %(wstart)s + ((r - 1) + {R(f'{pw} * 4 + r', 802)}) * %(ledger)s / 3.0 * interval '1 day' AS at,
                   'PO-' || to_char(%(wstart)s, 'YYMM') || '-' || lpad(({pw} * 4 + r)::text, 6, '0') AS note
            FROM generate_series(1, 3) AS r
            UNION ALL
            SELECT 'count', (ARRAY[-3, -2, -1, 1, 2])[1 + floor({R(pw, 803)} * 5)::int],
                   %(wstart)s + {R(pw, 804)} * %(ledger)s * interval '1 day', 'Cycle count'
            WHERE {R(pw, 805)} < 0.05
        ) AS m
        WHERE m.at <= %(now)s
          AND NOT (m.kind = 'receipt' AND {self.low_stock_sql(pw)})  -- running low: nothing received lately
        """

    @staticmethod
    def low_stock_sql(pw):
        """Product × warehouse pairs left running low (some products in Kaohsiung)."""
        return f"(w = 3 AND {R(pw, 901)} < 0.15)"

    def opening_sql(self):
        pw = "(p::int8 * 4 + w)"
        return f"""
        WITH ledger AS (
            SELECT product_id, warehouse_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved
            FROM inventory_stockmovement WHERE product_id = ANY(%(prod_ids)s::int8[]) GROUP BY 1, 2)
        INSERT INTO inventory_stockmovement (product_id, warehouse_id, kind, on_hand_delta, reserved_delta, order_id,
                                             actor_id, created_at, note)
        SELECT (%(prod_ids)s::int8[])[p], (%(wh_ids)s::int8[])[w], 'count',
               greatest(coalesce(l.reserved, 0) + t.available - coalesce(l.on_hand, 0), 0), 0, NULL, %(manager)s,
               %(wstart)s - interval '1 hour', '{OPENING_NOTE}'
        FROM generate_series(1, %(P)s) AS p CROSS JOIN generate_series(1, 3) AS w
        LEFT JOIN ledger l ON l.product_id = (%(prod_ids)s::int8[])[p] AND l.warehouse_id = (%(wh_ids)s::int8[])[w]
        CROSS JOIN LATERAL (SELECT CASE WHEN {self.low_stock_sql(pw)} THEN floor({R(pw, 902)} * 5)::int
                                        ELSE 5 + floor({R(pw, 903)} * 300)::int END AS available) t
        """

    LEVELS_SQL = """
        INSERT INTO inventory_stocklevel (product_id, warehouse_id, on_hand, reserved)
        SELECT product_id, warehouse_id, sum(on_hand_delta), sum(reserved_delta)
        FROM inventory_stockmovement WHERE product_id = ANY(%(prod_ids)s::int8[]) GROUP BY 1, 2
        ON CONFLICT (product_id, warehouse_id) DO UPDATE SET on_hand = excluded.on_hand, reserved = excluded.reserved
    """

    FILLED_TABLES = [
        "orders_order", "orders_orderline", "orders_orderevent", "orders_orderchecklistitem",
        "shipping_shipment", "shipping_shipmentline", "inventory_stockmovement", "inventory_stocklevel",
    ]

    # -- running it

    def chunks(self, parts):
        size = -(-self.n // parts)
        return [(lo, min(lo + size - 1, self.n)) for lo in range(1, self.n + 1, size)]

    def run_parallel(self, tasks, label):
        """Run (name, sql, params) on self.workers connections at once, longest first."""
        local = threading.local()
        opened, lock = [], threading.Lock()
        timings = {}

        def run(task):
            name, sql, params = task
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = raw_connection(self.connection)
                _session_setup(conn)
                with lock:
                    opened.append(conn)
            started = time.perf_counter()
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.rowcount
            timings[name] = time.perf_counter() - started
            self.say(f"    {name:34} {rows:>12,} rows {timings[name]:8.1f} s")
            return rows

        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                list(pool.map(run, tasks))
        finally:
            for conn in opened:
                conn.close()
        self.timings[label] = time.perf_counter() - started
        return timings

    def wipe(self, cursor):
        cursor.execute("TRUNCATE " + ", ".join(self.FILLED_TABLES) + " CASCADE")

    def run(self, *, refill=False, vacuum=True):
        """Fill what is missing; return the seconds it took (0 when nothing was missing)."""
        started = time.perf_counter()
        delete_imported(self.connection)  # left by an interrupted import measurement, if any
        conn = raw_connection(self.connection)
        try:
            superuser = _session_setup(conn)
            with conn.cursor() as cursor:
                state = self.state(cursor)
                if state["complete"] and state["bench_orders"] == self.n and not state["other_orders"] and not refill:
                    self.say(f"using the {self.n:,} orders already filled")
                    return 0.0
                if state["complete"] and state["bench_orders"] and state["bench_orders"] != self.n and not refill:
                    raise SystemExit(
                        f"The database holds a complete fill of {state['bench_orders']:,} orders, not "
                        f"{self.n:,}. Run with --refill to replace it, or with --orders {state['bench_orders']}.")
                if state["bench_orders"] or state["other_orders"]:
                    self.say(f"replacing {state['bench_orders'] + state['other_orders']:,} orders "
                             f"({'an unfinished fill' if not state['complete'] else 'asked to refill'}"
                             f"{', and orders not made by this fill' if state['other_orders'] else ''})")
                    self.wipe(cursor)
            self.say(f"filling {self.n:,} orders, {self.customers:,} customers, {self.products:,} products "
                     f"on {self.workers} connections"
                     f"{'' if superuser else ' (not a superuser: foreign-key checks stay on, slower)'} …")
            self.base(conn)
            with conn.cursor() as cursor:
                self.load_ids(cursor)
                cursor.execute("SELECT coalesce(max(id), 0) FROM orders_order")
                self.obase = cursor.fetchone()[0]
                cursor.execute("SELECT coalesce(max(id), 0) FROM orders_orderline")
                self.lbase = cursor.fetchone()[0]
                cursor.execute("SELECT coalesce(max(id), 0) FROM shipping_shipment")
                self.sbase = cursor.fetchone()[0]
                cursor.execute(self.PLAN_DDL)
            workers = self.workers
            self.run_parallel(
                [(f"plan {lo:,}–{hi:,}", self.plan_sql(), self.params(lo=lo, hi=hi)) for lo, hi in self.chunks(workers)],
                "plan")
            with conn.cursor() as cursor:
                cursor.execute("ANALYZE bench_plan")
            # Cost-ordered (longest first) so that the connections finish together.
            big = self.chunks(max(workers * 2, 2))
            tasks = []
            tasks += [(f"events {lo:,}–{hi:,}", self.events_sql(), self.params(lo=lo, hi=hi)) for lo, hi in big]
            tasks += [(f"lines {lo:,}–{hi:,}", self.lines_sql(), self.params(lo=lo, hi=hi)) for lo, hi in self.chunks(workers)]
            if superuser:  # no FK triggers: children need not wait for their parents
                tasks += [(f"shipment lines {lo:,}–{hi:,}", self.shipment_lines_sql(), self.params(lo=lo, hi=hi))
                          for lo, hi in self.chunks(workers)]
            tasks += [("orders", self.orders_sql(), self.params(lo=1, hi=self.n))]
            tasks += [("shipments", self.shipments_sql(), self.params(lo=1, hi=self.n))]
            tasks += [("scan events", self.scan_events_sql(), self.params(lo=1, hi=self.n)),
                      ("stock/shipment/e-mail events", self.window_events_sql(), self.params(lo=1, hi=self.n)),
                      ("stock movements (orders)", self.order_movements_sql(), self.params(lo=1, hi=self.n)),
                      ("checklist items", self.checklist_sql(), self.params(lo=1, hi=self.n)),
                      ("receipts and counts", self.receipts_sql(), self.params(ledger=self.ledger_days))]
            if not superuser:
                order_task = [t for t in tasks if t[0] == "orders"]
                self.run_parallel(order_task, "orders")
                tasks = [t for t in tasks if t[0] != "orders"]
            self.run_parallel(tasks, "rows")
            if not superuser:
                self.run_parallel([(f"shipment lines {lo:,}–{hi:,}", self.shipment_lines_sql(),
                                    self.params(lo=lo, hi=hi)) for lo, hi in self.chunks(workers)], "shipment lines")
            with conn.cursor() as cursor:
                step = time.perf_counter()
                cursor.execute(self.opening_sql(), self.params())
                cursor.execute(self.LEVELS_SQL, self.params())
                for table, column in (("orders_order", "id"), ("orders_orderline", "id"), ("shipping_shipment", "id")):
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                                   f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)")
                cursor.execute("DROP TABLE bench_plan")
                self.timings["stock levels"] = time.perf_counter() - step
        finally:
            conn.close()
        if vacuum:
            self.run_parallel([(f"vacuum analyze {table}", f"VACUUM (ANALYZE) {table}", None)
                               for table in self.FILLED_TABLES + ["orders_customer", "inventory_product"]],
                              "vacuum analyze")
        else:
            self.run_parallel([("analyze", "ANALYZE", None)], "analyze")
        elapsed = time.perf_counter() - started
        self.say(f"filled in {elapsed:.1f} s")
        return elapsed


def bench_superuser():
    from django.contrib.auth.models import User

    user, created = User.objects.get_or_create(
        username=f"{USER_PREFIX}admin", defaults={"is_staff": True, "is_superuser": True})
    if created:
        user.set_unusable_password()
        user.save()
    return user


def fill(connection=None, *, orders, refill=False, vacuum=True, **options):
    """Fill the database `connection` uses with `orders` orders (see the module
    docstring); returns (seconds, the Fill). Nothing is done when it is already there."""
    if connection is None:
        from django.db import connection
    job = Fill(connection, orders=orders, **options)
    seconds = job.run(refill=refill, vacuum=vacuum)
    return seconds, job


# --- is the fill consistent? ----------------------------------------------------------

CONSISTENCY_CHECKS = {
    "order total differs from the sum of its lines": """
        SELECT count(*) FROM orders_order o
        LEFT JOIN (SELECT order_id, sum(quantity * unit_price) AS s FROM orders_orderline GROUP BY 1) l
               ON l.order_id = o.id
        WHERE o.total IS DISTINCT FROM coalesce(l.s, 0) OR l.s IS NULL""",
    "shipped (or later) order without a shipped shipment": """
        SELECT count(*) FROM orders_order o
        WHERE (o.status IN ('shipped', 'delivered', 'completed')
               OR (o.status = 'returned' AND EXISTS (SELECT 1 FROM orders_orderevent e WHERE e.order_id = o.id
                   AND e.kind = 'transition' AND e.data->>'to' = 'shipped')))
          AND NOT EXISTS (SELECT 1 FROM shipping_shipment s WHERE s.order_id = o.id
                          AND s.status IN ('shipped', 'delivered') AND s.shipped_at IS NOT NULL
                          AND s.tracking_number <> '')""",
    "delivered order whose shipment is not delivered": """
        SELECT count(*) FROM orders_order o
        WHERE o.status IN ('delivered', 'completed')
          AND NOT EXISTS (SELECT 1 FROM shipping_shipment s WHERE s.order_id = o.id AND s.status = 'delivered'
                          AND s.delivered_at >= s.shipped_at)""",
    "shipment of an order not yet packed": """
        SELECT count(*) FROM shipping_shipment s JOIN orders_order o ON o.id = s.order_id
        WHERE o.status IN ('new', 'processing') AND s.status <> 'cancelled'""",
    "shipment lines differing from the order lines": """
        SELECT count(*) FROM shipping_shipment s
        JOIN orders_orderline l ON l.order_id = s.order_id
        LEFT JOIN shipping_shipmentline sl ON sl.shipment_id = s.id AND sl.order_line_id = l.id
        WHERE sl.id IS NULL OR sl.quantity <> l.quantity""",
    "order without exactly one created event, first on its timeline": """
        SELECT count(*) FROM orders_order o
        WHERE (SELECT count(*) FROM orders_orderevent e WHERE e.order_id = o.id AND e.kind = 'created') <> 1
           OR EXISTS (SELECT 1 FROM orders_orderevent e WHERE e.order_id = o.id AND e.kind = 'transition'
                      AND e.created_at <= (SELECT min(c.created_at) FROM orders_orderevent c
                                           WHERE c.order_id = o.id AND c.kind = 'created'))""",
    "transition not starting where the previous one ended (or not later)": """
        SELECT count(*) FROM (
            SELECT e.data->>'from' AS from_state, e.created_at,
                   lag(e.data->>'to') OVER w AS prev_to, lag(e.created_at) OVER w AS prev_at
            FROM orders_orderevent e WHERE e.kind = 'transition'
            WINDOW w AS (PARTITION BY e.order_id ORDER BY e.created_at, e.id)) t
        WHERE from_state IS DISTINCT FROM coalesce(prev_to, 'new') OR created_at <= prev_at""",
    "status or status_changed_at differing from the last transition": """
        SELECT count(*) FROM orders_order o
        LEFT JOIN LATERAL (SELECT e.data->>'to' AS to_state, e.created_at FROM orders_orderevent e
                           WHERE e.order_id = o.id AND e.kind = 'transition'
                           ORDER BY e.created_at DESC, e.id DESC LIMIT 1) last ON true
        WHERE o.status <> coalesce(last.to_state, 'new')
           OR o.status_changed_at <> coalesce(last.created_at, o.placed_at)
           OR o.placed_at > o.status_changed_at""",
    "held_from_status set other than on hold, or missing": """
        SELECT count(*) FROM orders_order
        WHERE (status = 'on_hold') <> (held_from_status IN ('new', 'processing', 'packed'))""",
    "order past new that is not paid (or refunded)": """
        SELECT count(*) FROM orders_order
        WHERE status IN ('processing', 'packed', 'shipped', 'delivered', 'completed', 'returned')
          AND payment_status NOT IN ('paid', 'refunded')""",
    "line of a packed (or later) order not fully scanned": """
        SELECT count(*) FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id
        WHERE o.status IN ('packed', 'shipped', 'delivered', 'completed', 'returned')
          AND l.quantity_scanned <> l.quantity""",
    "more scan events for a line than units scanned": """
        SELECT count(*) FROM (
            SELECT (e.data->>'line')::bigint AS line_id, count(*) AS scans FROM orders_orderevent e
            WHERE e.kind = 'scan' AND e.data->>'action' = 'scan' GROUP BY 1) s
        LEFT JOIN orders_orderline l ON l.id = s.line_id
        WHERE l.id IS NULL OR s.scans > l.quantity_scanned""",
    "stock level differing from the sum of its ledger": """
        SELECT count(*) FROM inventory_stocklevel sl
        FULL JOIN (SELECT product_id, warehouse_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved
                   FROM inventory_stockmovement GROUP BY 1, 2) m
             ON m.product_id = sl.product_id AND m.warehouse_id = sl.warehouse_id
        WHERE coalesce(sl.on_hand, 0) <> coalesce(m.on_hand, 0) OR coalesce(sl.reserved, 0) <> coalesce(m.reserved, 0)""",
    "stock reserved other than for orders processing or packed": """
        SELECT count(*) FROM (
            SELECT m.order_id, sum(m.reserved_delta) AS reserved FROM inventory_stockmovement m
            WHERE m.order_id IS NOT NULL GROUP BY 1) r
        JOIN orders_order o ON o.id = r.order_id
        WHERE r.reserved <> 0 AND NOT (o.status IN ('processing', 'packed')
                                       OR (o.status = 'on_hold' AND o.held_from_status IN ('processing', 'packed')))""",
    "reference to a missing row": """
        SELECT (SELECT count(*) FROM orders_orderline l LEFT JOIN orders_order o ON o.id = l.order_id WHERE o.id IS NULL)
             + (SELECT count(*) FROM orders_orderline l LEFT JOIN inventory_product p ON p.id = l.product_id
                WHERE p.id IS NULL)
             + (SELECT count(*) FROM orders_order o LEFT JOIN orders_customer c ON c.id = o.customer_id WHERE c.id IS NULL)
             + (SELECT count(*) FROM orders_orderevent e LEFT JOIN orders_order o ON o.id = e.order_id WHERE o.id IS NULL)
             + (SELECT count(*) FROM orders_orderevent e LEFT JOIN auth_user u ON u.id = e.actor_id
                WHERE e.actor_id IS NOT NULL AND u.id IS NULL)
             + (SELECT count(*) FROM orders_orderchecklistitem i LEFT JOIN orders_order o ON o.id = i.order_id
                WHERE o.id IS NULL)
             + (SELECT count(*) FROM shipping_shipment s LEFT JOIN orders_order o ON o.id = s.order_id WHERE o.id IS NULL)
             + (SELECT count(*) FROM shipping_shipment s LEFT JOIN shipping_carrier c ON c.id = s.carrier_id
                WHERE c.id IS NULL)
             + (SELECT count(*) FROM shipping_shipmentline sl LEFT JOIN shipping_shipment s ON s.id = sl.shipment_id
                WHERE s.id IS NULL)
             + (SELECT count(*) FROM shipping_shipmentline sl LEFT JOIN orders_orderline l ON l.id = sl.order_line_id
                WHERE l.id IS NULL)
             + (SELECT count(*) FROM inventory_stockmovement m LEFT JOIN orders_order o ON o.id = m.order_id
                WHERE m.order_id IS NOT NULL AND o.id IS NULL)
             + (SELECT count(*) FROM inventory_stockmovement m LEFT JOIN inventory_warehouse w ON w.id = m.warehouse_id
                WHERE w.id IS NULL)""",
}


def consistency_problems(connection=None):
    """{check: number of offending rows} for every check that finds some (empty: consistent)."""
    conn = raw_connection(connection)
    try:
        conn.execute("SET work_mem = '256MB'")
        found = {}
        for label, sql in CONSISTENCY_CHECKS.items():
            count = conn.execute(sql).fetchone()[0]
            if count:
                found[label] = count
        return found
    finally:
        conn.close()


# --- measurements -------------------------------------------------------------------


class Unavailable(Exception):
    """The command or page does not exist (yet)."""


def command_exists(name):
    from django.core.management import get_commands

    return name in get_commands()


# Runs argv[2:] as its own child and writes that child's peak RSS (KiB) to argv[1]. A
# process's ru_maxrss starts from the RSS of the process it was forked from, so the
# command is forked from this small interpreter rather than from the bench (whose
# own RSS, Django loaded, would otherwise be the floor of every figure).
_PEAK_RSS_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(args, *, env_url, stdout_path=None, append=False, timeout=3600):
    """Run a command in a child process; return (seconds, exit code, peak RSS in MB of
    that command alone, stderr text)."""
    import signal

    env = {**os.environ, "DATABASE_URL": env_url, "DEBUG": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with tempfile.TemporaryFile() as err, open(stdout_path or os.devnull, "ab" if append else "wb") as out, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-I", "-S", "-c", _PEAK_RSS_WRAPPER, rss.name, *args],
                                 cwd=BASE_DIR, env=env, stdout=out, stderr=err, start_new_session=True)
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        seconds = time.perf_counter() - started
        text = Path(rss.name).read_text().strip()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return seconds, child.returncode, (int(text) / 1024 if text else None), stderr


def manage(*args):
    return [sys.executable, str(BASE_DIR / "manage.py"), *args]


def count_csv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def measure_export(kind, output, *, connection=None):
    """`manage.py export_csv KIND --output FILE` in a child process:
    {seconds, rows, rows_per_s, peak_mb}. Unavailable when the command is missing;
    RuntimeError when it fails."""
    if not command_exists("export_csv"):
        raise Unavailable("export_csv")
    seconds, code, peak, stderr = run_child(manage("export_csv", kind, "--output", str(output)),
                                            env_url=database_url(connection))
    if code != 0:
        raise RuntimeError(f"export_csv {kind} exited {code}: {stderr.strip()[-500:]}")
    rows = count_csv_rows(output)
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "peak_mb": peak}


def export_copy_sql(kind):
    """(SELECT, where it came from, header) that export_csv's PostgreSQL path runs for KIND with
    no filters, built the way the command builds it (reports.exporting.copy_sql over the
    kind's columns and queryset); None when the export module offers no such function."""
    import importlib
    import inspect

    from django.db import connection

    try:
        exporting = importlib.import_module("reports.exporting")
        from reports.registry import export_kind
    except ImportError:
        return None
    copy_sql = getattr(exporting, "copy_sql", None)
    if not callable(copy_sql):
        return None
    parameters = list(inspect.signature(copy_sql).parameters)
    if parameters[:2] == ["columns", "queryset"]:
        report = export_kind(kind)
        resource = report.resource_for(include_personal=True)
        queryset = exporting.export_queryset(report, resource, exporting.Selection({}))
        header = [column.name for column in resource.columns()]
        # The statement export_csv runs for a large export: with the Resource's
        # CopyJoins (it also reads it in slices on two connections, which psql cannot).
        joins = resource.copy_joins() if hasattr(resource, "copy_joins") else ()
        sql, params = copy_sql(resource.columns(), queryset, joins) if joins else copy_sql(resource.columns(), queryset)
    else:  # copy_sql(kind)
        found = copy_sql(kind)
        sql, params = found if isinstance(found, tuple) else (found, None)
        header = None
    if params:
        sql = connection.ops.compose_sql(sql, params)
    return str(sql), "reports.exporting.copy_sql, the SELECT export_csv runs", header


def copy_statement(kind):
    """(COPY … TO STDOUT statement, where its SELECT came from, header row or None)."""
    found = export_copy_sql(kind)
    if found is None:
        table = {"orders": "orders_order", "order-lines": "orders_orderline"}[kind]
        found = (f"SELECT * FROM {table}", f"plain SELECT * FROM {table}: the export module offers no SQL yet", None)
    select, source, header = found
    select = select.strip().rstrip(";")
    if re.match(r"(?is)^copy\b", select):
        return select, source, header  # the module's own COPY … TO STDOUT
    options = "FORMAT csv" if header else "FORMAT csv, HEADER"
    return f"COPY ({select}) TO STDOUT WITH ({options})", source, header


def measure_copy(kind, output, *, connection=None):
    """PostgreSQL's own COPY of the export's SELECT into a file, through psql (or,
    without psql, psycopg's COPY), after the same header row as the export's:
    {seconds, rows, rows_per_s, peak_mb, source}."""
    statement, source, header = copy_statement(kind)
    with open(output, "w", newline="", encoding="utf-8") as handle:
        if header:
            csv.writer(handle, lineterminator="\n").writerow(header)
    psql = shutil.which("psql")
    if psql:
        seconds, code, peak, stderr = run_child([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                                 database_url(connection), "-c", statement],
                                                env_url=database_url(connection), stdout_path=output, append=True)
        if code != 0:
            raise RuntimeError(f"psql COPY exited {code}: {stderr.strip()[-500:]}")
    else:
        conn = raw_connection(connection)
        try:
            started = time.perf_counter()
            with conn.cursor() as cursor, open(output, "ab") as handle:
                with cursor.copy(statement) as copy:
                    for block in copy:
                        handle.write(block)
            seconds, peak = time.perf_counter() - started, None
        finally:
            conn.close()
    rows = count_csv_rows(output)
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "peak_mb": peak, "source": source}


TABLES = {"orders": "orders_order", "order-lines": "orders_orderline"}


def measure_table_copy(kind, output, *, connection=None):
    """PostgreSQL's COPY of the kind's own table, every column as stored, in key
    order: the cost of reading the same rows with no report columns at all."""
    statement = f"COPY (SELECT * FROM {TABLES[kind]} ORDER BY id) TO STDOUT WITH (FORMAT csv)"
    seconds, code, peak, stderr = run_child(
        [shutil.which("psql") or "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database_url(connection), "-c", statement],
        env_url=database_url(connection), stdout_path=output,
    )
    if code != 0:
        raise RuntimeError(f"psql COPY exited {code}: {stderr.strip()[-500:]}")
    rows = count_csv_rows(output) + 1  # no header row
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "peak_mb": peak}


def same_file(first, second):
    """Whether two files hold the same bytes."""
    import filecmp

    return filecmp.cmp(first, second, shallow=False)


IMPORT_HEADER = ["order_number", "placed_at", "customer_email", "customer_name", "customer_phone", "ship_name",
                 "ship_phone", "ship_address1", "ship_address2", "ship_city", "ship_postcode", "ship_country",
                 "delivery_method", "warehouse", "payment_status", "currency", "sku", "quantity", "unit_price",
                 "pickup_chain", "pickup_store_code", "pickup_store_name"]


def write_import_file(path, *, orders=25_000, lines_per_order=4, connection=None):
    """A CSV for `import_csv orders`: `orders` new order numbers (IMPORT_PREFIX…) of
    `lines_per_order` lines with existing SKUs; about a third of the customers are new
    (e-mails @IMPORT_EMAIL_DOMAIN), the others existing. Returns the number of lines."""
    import random

    if connection is None:
        from django.db import connection
    rng = random.Random(2026)
    with connection.cursor() as cursor:
        cursor.execute("SELECT sku FROM inventory_product WHERE sku LIKE %s ORDER BY sku", [SKU_PREFIX + "%"])
        skus = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT email, name, phone FROM orders_customer WHERE email <> '' ORDER BY id LIMIT %s",
                       [orders])
        customers = cursor.fetchall()
    assert skus, "fill the database first: no bench products"
    now = datetime.now(UTC).replace(microsecond=0)
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(IMPORT_HEADER)
        for n in range(1, orders + 1):
            if customers and n % 3:
                email, name, phone = customers[rng.randrange(len(customers))]
            else:
                email = f"new.customer{n}@{IMPORT_EMAIL_DOMAIN}"
                name, phone = f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}", f"09{rng.randrange(10**8):08d}"
            city = rng.randrange(len(CITIES))
            placed = (now - timedelta(minutes=rng.randrange(7 * 24 * 60))).isoformat()
            method = rng.choice(["home", "home", "store_pickup"])
            warehouse = rng.choice(["", "TPE", "TXG", "KHH"])
            payment = rng.choice(["paid", "paid", "pending"])
            address = f"{ROADS[city]}{rng.randrange(1, 300)}號"
            # A store pickup names its store (required): a 7-ELEVEN store, six digits.
            store = ["7-eleven", f"{rng.randrange(10**6):06d}", "測試門市"] if method == "store_pickup" else ["", "", ""]
            for sku in rng.sample(skus, min(lines_per_order, len(skus))):
                writer.writerow([
                    f"{IMPORT_PREFIX}{n:07d}", placed, email, name, phone, name, phone,
                    address, "", CITIES[city], POSTCODES[city], "TW", method,
                    warehouse, payment, "TWD", sku, rng.randrange(1, 4), f"{rng.randrange(24, 1000)}.00", *store,
                ])
                written += 1
    return written


def _delete_rows(cursor, model, where, params, seen=()):
    """Delete model rows matching `where`, children first (every model with a foreign
    key to it, recursively), with plain SQL."""
    table, pk = model._meta.db_table, model._meta.pk.column
    for relation in model._meta.related_objects:
        if relation.many_to_many or not getattr(relation.field, "concrete", False) or relation.related_model in seen:
            continue
        child = relation.related_model
        _delete_rows(cursor, child, f'"{relation.field.column}" IN (SELECT "{pk}" FROM "{table}" WHERE {where})',
                     params, (*seen, model))
    cursor.execute(f'DELETE FROM "{table}" WHERE {where}', params)


def delete_imported(connection=None):
    """Remove what an import of write_import_file()'s file created: its orders and
    everything hanging from them, and the customers it added. Returns the orders deleted."""
    from orders.models import Customer, Order

    conn = raw_connection(connection)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM orders_order WHERE number LIKE %s", [IMPORT_PREFIX + "%"])
            orders = cursor.fetchone()[0]
            if orders:
                _delete_rows(cursor, Order, '"number" LIKE %s', [IMPORT_PREFIX + "%"])
            _delete_rows(cursor, Customer,
                         '"email" LIKE %s AND NOT EXISTS (SELECT 1 FROM orders_order o WHERE o.customer_id = '
                         'orders_customer.id)', ["%@" + IMPORT_EMAIL_DOMAIN])
        return orders
    finally:
        conn.close()


def imported_orders(connection=None):
    conn = raw_connection(connection)
    try:
        return conn.execute("SELECT count(*) FROM orders_order WHERE number LIKE %s",
                            [IMPORT_PREFIX + "%"]).fetchone()[0]
    finally:
        conn.close()


def measure_import(path, *, lines, orders, dry_run=False, connection=None):
    """`manage.py import_csv orders FILE [--dry-run]` in a child process:
    {seconds, lines, lines_per_s, peak_mb, created}. Checks that a real import created
    every order and a dry run none; deletes what it created afterwards."""
    if not command_exists("import_csv"):
        raise Unavailable("import_csv")
    delete_imported(connection)  # a run interrupted earlier would make every row "already exists"
    args = manage("import_csv", "orders", str(path), *(["--dry-run"] if dry_run else []))
    try:
        seconds, code, peak, stderr = run_child(args, env_url=database_url(connection))
        created = imported_orders(connection)
    finally:
        delete_imported(connection)
    if code != 0:
        raise RuntimeError(f"import_csv{' --dry-run' if dry_run else ''} exited {code}: {stderr.strip()[-500:]}")
    expected = 0 if dry_run else orders
    if created != expected:
        raise RuntimeError(f"import_csv{' --dry-run' if dry_run else ''} created {created} orders, not {expected}")
    return {"seconds": seconds, "lines": lines, "lines_per_s": lines / seconds, "peak_mb": peak, "created": created}


def dashboard_url():
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("admin:orders_order_dashboard")
    except NoReverseMatch:
        raise Unavailable("admin:orders_order_dashboard") from None


def _warehouse_query(html, warehouse):
    """The query string choosing `warehouse` on the dashboard's own filter form (the
    field whose name mentions the warehouse), or ?warehouse=<pk>."""
    for name in re.findall(r'name="([^"]*warehouse[^"]*)"', html):
        select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.DOTALL)
        if select:
            values = re.findall(r'<option[^>]*value="([^"]*)"', select.group(1))
            for value in (str(warehouse.pk), warehouse.code):
                if value in values:
                    return f"{name}={value}"
        return f"{name}={warehouse.pk}"
    return f"warehouse={warehouse.pk}"


def measure_dashboard(*, repeat=5, connection=None):
    """The dashboard's response time through Django's test Client, as the bench's
    superuser: {"default": {...}, "warehouse": {...}} with median/min/max seconds over
    `repeat` GETs after one warm-up."""
    from django.test import Client

    from inventory.models import Warehouse

    url = dashboard_url()
    client = Client()
    client.force_login(bench_superuser())
    results = {}
    warm = client.get(url)
    if warm.status_code != 200:
        raise RuntimeError(f"GET {url} answered {warm.status_code}")
    warehouse = Warehouse.objects.filter(code__in=WAREHOUSE_CODES).order_by("priority").first() \
        or Warehouse.objects.order_by("priority").first()
    variants = {"default": url}
    if warehouse is not None:
        variants["warehouse"] = f"{url}?{_warehouse_query(warm.content.decode('utf-8', 'replace'), warehouse)}"
    for label, target in variants.items():
        if label != "default":
            response = client.get(target)  # warm-up
            if response.status_code != 200:
                raise RuntimeError(f"GET {target} answered {response.status_code}")
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(target)
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"GET {target} answered {response.status_code}")
        results[label] = {"url": target, "median_s": statistics.median(times), "min_s": min(times),
                          "max_s": max(times), "runs": repeat}
    # Where the time goes: one more GET with its queries timed.
    from django.db import connection as django_connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(django_connection) as captured:
        client.get(url)
    timed = sorted(((float(query["time"]), query["sql"]) for query in captured.captured_queries), reverse=True)
    results["default"]["queries"] = len(timed)
    results["default"]["slowest"] = [(seconds, " ".join(sql.split())[:160]) for seconds, sql in timed[:3]]
    return results


# --- report ---------------------------------------------------------------------------


def machine():
    import django

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return {"cpu": cpu, "cores": os.cpu_count(), "ram": ram, "postgresql": pg,
            "python": platform.python_version(), "django": django.get_version(),
            "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}


def database_size(connection=None):
    if connection is None:
        from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
        counts = {}
        for table in ("orders_order", "orders_orderline", "orders_orderevent", "orders_customer", "shipping_shipment",
                      "shipping_shipmentline", "inventory_stockmovement", "orders_orderchecklistitem"):
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            counts[table] = cursor.fetchone()[0]
    return size, counts


def _mb(value):
    return "–" if value is None else f"{value:.0f} MB"


def _load(found):
    return f"; load average before: {found['load']:.1f}" if found.get("load") is not None else ""


def _verdict(ok):
    return "yes" if ok else "**no**"


def result_rows(results):
    """[(measurement, figures, target, met)] for printing and for RESULTS.md."""
    rows = []
    for kind in ("orders", "order-lines"):
        ours = results.get(f"export {kind}")
        label = f"`export_csv {kind}`"
        if isinstance(ours, dict):
            met = ours["rows_per_s"] >= TARGETS["export_rows_per_s"] and ours["peak_mb"] < TARGETS["export_peak_mb"]
            rows.append((label, f"{ours['rows']:,} rows in {ours['seconds']:.1f} s = {ours['rows_per_s']:,.0f} rows/s, "
                                f"peak RSS {_mb(ours['peak_mb'])}{_load(ours)}",
                         f"≥ {TARGETS['export_rows_per_s']:,} rows/s, < {TARGETS['export_peak_mb']} MB", _verdict(met)))
        else:
            rows.append((label, ours or NOT_AVAILABLE, f"≥ {TARGETS['export_rows_per_s']:,} rows/s, "
                                                      f"< {TARGETS['export_peak_mb']} MB", "–"))
        copy = results.get(f"copy {kind}")
        label = f"PostgreSQL `COPY … TO STDOUT` ({kind}), psql → file"
        if isinstance(copy, dict):
            same = {True: "; the same bytes as export_csv's file", False: "; **not** the same bytes as export_csv's file",
                    None: ""}[copy.get("identical")]
            rows.append((label, f"{copy['rows']:,} rows in {copy['seconds']:.1f} s = {copy['rows_per_s']:,.0f} rows/s "
                                f"(SELECT from {copy['source']}{same}{_load(copy)})", "baseline", "–"))
        else:
            rows.append((label, copy or NOT_AVAILABLE, "baseline", "–"))
        table = results.get(f"table copy {kind}")
        label = f"PostgreSQL `COPY` of the table itself ({TABLES[kind]}, all columns as stored), psql → file"
        if isinstance(table, dict):
            rows.append((label, f"{table['rows']:,} rows in {table['seconds']:.1f} s = {table['rows_per_s']:,.0f} rows/s"
                                f"{_load(table)}", "baseline", "–"))
        else:
            rows.append((label, table or NOT_AVAILABLE, "baseline", "–"))
    for dry in (False, True):
        key = "import dry-run" if dry else "import"
        label = f"`import_csv orders FILE{' --dry-run' if dry else ''}`"
        found = results.get(key)
        if isinstance(found, dict):
            met = found["lines_per_s"] >= TARGETS["import_lines_per_s"]
            rows.append((label, f"{found['lines']:,} lines in {found['seconds']:.1f} s = "
                                f"{found['lines_per_s']:,.0f} lines/s, peak RSS {_mb(found['peak_mb'])}{_load(found)}",
                         f"≥ {TARGETS['import_lines_per_s']:,} lines/s", _verdict(met)))
        else:
            rows.append((label, found or NOT_AVAILABLE, f"≥ {TARGETS['import_lines_per_s']:,} lines/s", "–"))
    dashboard = results.get("dashboard")
    for variant, label in (("default", "dashboard, default period"), ("warehouse", "dashboard, one warehouse")):
        if isinstance(dashboard, dict) and variant in dashboard:
            found = dashboard[variant]
            met = found["median_s"] < TARGETS["dashboard_s"]
            rows.append((label, f"median {found['median_s'] * 1000:,.0f} ms (min {found['min_s'] * 1000:,.0f}, "
                                f"max {found['max_s'] * 1000:,.0f}, {found['runs']} runs) `{found['url']}`{_load(dashboard)}",
                         f"< {TARGETS['dashboard_s']:.0f} s", _verdict(met)))
        else:
            rows.append((label, dashboard if isinstance(dashboard, str) else NOT_AVAILABLE,
                         f"< {TARGETS['dashboard_s']:.0f} s", "–"))
    return rows


def result_notes(results):
    """Lines worth reading under the table: where the dashboard's time goes."""
    notes = []
    dashboard = results.get("dashboard")
    if isinstance(dashboard, dict) and dashboard.get("default", {}).get("slowest"):
        default = dashboard["default"]
        slowest = "; ".join(f"{seconds * 1000:,.0f} ms `{sql}…`" for seconds, sql in default["slowest"])
        notes.append(f"Dashboard (default period): {default['queries']} queries; the slowest: {slowest}")
    return notes


def print_table(rows):
    width = max(len(row[0]) for row in rows)
    print(f"\n{'measurement':{width}}  figures  [target; met]")
    for label, figures, target, met in rows:
        print(f"{label:{width}}  {figures}  [{target}; {met}]")


RESULTS_INTRO = """# Reports benchmark (`bench/reports_bench.py`)

`make bench-reports` (or `DATABASE_URL=postgres://postgres@127.0.0.1:5432/fulfilment_bench
.venv/bin/python -m bench.reports_bench --orders 1000000`) fills a PostgreSQL database
once with realistic data (see the module docstring) and measures the CSV export, the CSV
import and the managers' dashboard. Each run appends a section below; "not available
yet" marks a command or page that did not exist when it ran.

Targets: export ≥ 200,000 rows/s with a peak RSS < 150 MB for a million rows; import ≥
20,000 lines/s; dashboard < 1 s. Export and import times are wall times of a child
process (`manage.py …`, including Django's start-up of about a second); peak memory is
that command's own RSS high-water mark (`ru_maxrss` from `wait4`; the command is forked
from a small wrapper, so the bench's own memory is not counted; Django alone is about
65 MB). The machine is shared: the load average before each measurement is given, and
figures taken under load are slower than the machine can do.
"""


def write_results(path, *, info, rows, fill_note, data_note, notes=()):
    section = [
        f"\n## {info['date']}: {data_note}\n",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; PostgreSQL {info['postgresql']}; "
        f"Python {info['python']}; Django {info['django']}.\n",
        f"Fill: {fill_note}\n",
        "| measurement | figures | target | met |",
        "|---|---|---|---|",
        *[f"| {label} | {figures} | {target} | {met} |" for label, figures, target, met in rows],
    ]
    if notes:
        section += ["", *[f"- {note}" for note in notes]]
    existing = path.read_text(encoding="utf-8") if path.exists() else RESULTS_INTRO
    path.write_text(existing.rstrip("\n") + "\n" + "\n".join(section) + "\n", encoding="utf-8")


# --- main -----------------------------------------------------------------------------


def measure_all(*, workdir, import_orders=25_000, repeat=5, connection=None, only=None):
    """Every measurement; {key: dict of figures, or a string saying why there is none}."""
    results = {}

    def attempt(key, function):
        if only and not any(key.startswith(prefix) for prefix in only):
            return
        load = os.getloadavg()[0]  # other work on the machine skews every figure: say how much there was
        try:
            results[key] = function()
            if isinstance(results[key], dict):
                results[key]["load"] = load
        except Unavailable:
            results[key] = NOT_AVAILABLE
        except Exception as error:  # noqa: BLE001 (a failure is a figure of the report, the rest still runs)
            results[key] = f"failed: {error}"
        print(f"  {key}: {results[key]}", flush=True)

    for kind in ("orders", "order-lines"):
        output = Path(workdir) / f"export-{kind}.csv"
        attempt(f"export {kind}", lambda kind=kind, output=output: measure_export(kind, output, connection=connection))
        copy_output = Path(workdir) / f"copy-{kind}.csv"
        attempt(f"copy {kind}",
                lambda kind=kind, output=copy_output: measure_copy(kind, output, connection=connection))
        if isinstance(results.get(f"export {kind}"), dict) and isinstance(results.get(f"copy {kind}"), dict):
            results[f"copy {kind}"]["identical"] = same_file(output, copy_output)
        table_output = Path(workdir) / f"table-{kind}.csv"
        attempt(f"table copy {kind}",
                lambda kind=kind, output=table_output: measure_table_copy(kind, output, connection=connection))
        for leftover in Path(workdir).glob(f"*-{kind}.csv"):
            leftover.unlink()
    import_path = Path(workdir) / "import-orders.csv"
    if not only or any(prefix.startswith("import") or "import".startswith(prefix) for prefix in only):
        lines = write_import_file(import_path, orders=import_orders, connection=connection)
    attempt("import dry-run", lambda: measure_import(import_path, lines=lines, orders=import_orders, dry_run=True,
                                                     connection=connection))
    attempt("import", lambda: measure_import(import_path, lines=lines, orders=import_orders, connection=connection))
    attempt("dashboard", lambda: measure_dashboard(repeat=repeat, connection=connection))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="connections the fill uses at once (default: one per core)")
    parser.add_argument("--refill", action="store_true", help="fill again even when a complete fill is there")
    parser.add_argument("--check", action="store_true", help="check the filled data's consistency (slow)")
    parser.add_argument("--fill-only", action="store_true")
    parser.add_argument("--only", nargs="*", help="measure only these (export, copy, import, dashboard)")
    parser.add_argument("--import-orders", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--results", type=Path, default=RESULTS_PATH, help="where to append the results")
    parser.add_argument("--no-results", action="store_true", help="print only, do not write RESULTS.md")
    args = parser.parse_args()
    connection = setup_django()
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram']}; PostgreSQL {info['postgresql']}; "
          f"Python {info['python']}; Django {info['django']}")
    seconds, job = fill(connection, orders=args.orders, refill=args.refill, workers=args.workers)
    if seconds:
        steps = ", ".join(f"{name} {value:.0f} s" for name, value in job.timings.items())
        fill_note = f"{seconds:.0f} s on {job.workers} connections ({steps})."
    else:
        fill_note = "already there from an earlier run (not timed in this one)."
    if seconds:
        fill_note += " Load average (1, 5, 15 min) when it ended: {:.1f}, {:.1f}, {:.1f}.".format(*os.getloadavg())
    if args.check:
        started = time.perf_counter()
        problems = consistency_problems(connection)
        print(f"consistency checks ({time.perf_counter() - started:.0f} s): {problems or 'all pass'}")
        fill_note += f" Consistency checks: {'all pass' if not problems else problems}."
    size, counts = database_size(connection)
    data_note = (f"{counts['orders_order']:,} orders, {counts['orders_orderline']:,} lines, "
                 f"{counts['orders_orderevent']:,} events, {counts['shipping_shipment']:,} shipments, "
                 f"{counts['inventory_stockmovement']:,} stock movements ({size})")
    print(data_note)
    if args.fill_only:
        return
    with tempfile.TemporaryDirectory(prefix="reports-bench-") as workdir:
        results = measure_all(workdir=workdir, import_orders=args.import_orders, repeat=args.repeat,
                              connection=connection, only=args.only)
    rows = result_rows(results)
    print_table(rows)
    notes = result_notes(results)
    for note in notes:
        print(note)
    if not args.no_results:
        write_results(args.results, info=info, rows=rows, fill_note=fill_note, data_note=data_note, notes=notes)
        print(f"\nappended to {args.results}")


if __name__ == "__main__":
    main()

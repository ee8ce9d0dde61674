"""The managers' dashboard on a large PostgreSQL database.

    createdb -h 127.0.0.1 -U postgres fulfilment_dashboard_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fulfilment_dashboard_bench \\
        .venv/bin/python -m bench.dashboard_bench --orders 1000000

Creates (once) orders placed one a minute back from now (about 23 months for a
million), each with a timeline as the services write it: "created", a transition per
state it went through, and a packing-station scan (one in fifty refused). Recent
orders are spread over the open states, older ones mostly completed, some cancelled
or returned; about seven events per order. Then times each figure of the dashboard
and the whole page (default period, one warehouse, the longest period), printing the
median and worst time over --repeat runs, and the query count of the page.
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfilment_site.settings")

from bench.search_bench import setup_django  # the same set-up: PostgreSQL only, migrated

WAREHOUSES = [("TPE", "台北倉 Taipei", 1), ("TXG", "台中倉 Taichung", 2), ("KHH", "高雄倉 Kaohsiung", 3)]


def populate(connection, orders):
    from orders.models import Order

    have = Order.objects.count()
    if have >= orders:
        print(f"using the {have:,} orders already there")
        return
    print(f"creating {orders:,} orders with their timelines …", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE orders_orderevent, orders_orderline, orders_orderchecklistitem, "
                       "shipping_shipmentline, shipping_shipment, orders_order, orders_customer CASCADE")
        for code, name, priority in WAREHOUSES:
            cursor.execute(
                "INSERT INTO inventory_warehouse (code, name, priority, is_active) VALUES (%s, %s, %s, true) "
                "ON CONFLICT (code) DO NOTHING",
                [code, name, priority],
            )
        cursor.execute(
            "SELECT array_agg(id ORDER BY priority) FROM inventory_warehouse WHERE code IN ('TPE', 'TXG', 'KHH')"
        )
        warehouses = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO orders_customer (name, email, phone, phone_digits, phone_reversed, language, created_at)
            SELECT 'Customer ' || i, 'customer' || i || '@example.com', '', '', '', 'zh-hant', now()
            FROM generate_series(1, 1000) AS i
            """
        )
        cursor.execute("SELECT min(id) FROM orders_customer")
        first_customer = cursor.fetchone()[0]
        # The plan of each order: how far along the main path it went, the side state it
        # ended in (if any), and the time between its steps.
        cursor.execute(
            """
            CREATE TEMPORARY TABLE bench_plan AS
            SELECT i, main_steps, side,
                   CASE WHEN i < 4320 THEN make_interval(secs => i * 60.0 / (main_steps + 2))
                        ELSE make_interval(hours => 2 + i %% 23) END AS step
            FROM (
                SELECT i,
                       CASE WHEN i < 4320 THEN (ARRAY[0, 1, 2, 1, 3])[1 + i %% 5]
                            WHEN i %% 100 < 5 THEN 1 WHEN i %% 100 < 10 THEN 4 ELSE 5 END AS main_steps,
                       CASE WHEN i < 4320 THEN (ARRAY[NULL, NULL, NULL, 'on_hold', NULL])[1 + i %% 5]
                            WHEN i %% 100 < 5 THEN 'cancelled' WHEN i %% 100 < 8 THEN 'returned' END AS side
                FROM generate_series(1, %s) AS i
            ) AS plans
            """,
            [orders],
        )
        path = "(ARRAY['new','processing','packed','shipped','delivered','completed'])"
        cursor.execute(
            f"""
            INSERT INTO orders_order (number, customer_id, status, held_from_status, placed_at,
                status_changed_at, payment_status, currency, total, delivery_method, ship_name,
                ship_phone, ship_address1, ship_address2, ship_city, ship_postcode, ship_country, warehouse_id)
            SELECT 'SO-' || (1000000 + i), %s + i %% 1000,
                   coalesce(side, {path}[main_steps + 1]),
                   CASE WHEN side = 'on_hold' THEN {path}[main_steps + 1] ELSE '' END,
                   now() - make_interval(mins => i),
                   now() - make_interval(mins => i) + step * (main_steps + (side IS NOT NULL)::int),
                   'paid', 'TWD', 100, 'home', 'Customer', '', 'Xinyi Road', '', 'Taipei', '110', 'TW',
                   CASE WHEN main_steps > 0 THEN (%s::bigint[])[1 + i %% 3] END
            FROM bench_plan
            """,
            [first_customer, warehouses],
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_orders AS SELECT o.id, o.placed_at, p.* FROM orders_order o "
            "JOIN bench_plan p ON o.number = 'SO-' || (1000000 + p.i)"
        )
        cursor.execute(
            """
            INSERT INTO orders_orderevent (order_id, kind, created_at, message, data)
            SELECT id, 'created', placed_at, '', '{"lines": 1}' FROM bench_orders
            """
        )
        cursor.execute(
            f"""
            INSERT INTO orders_orderevent (order_id, kind, created_at, message, data)
            SELECT id, 'transition', placed_at + step * k, '',
                   jsonb_build_object('from', {path}[k],
                                      'to', CASE WHEN k > main_steps THEN side ELSE {path}[k + 1] END)
            FROM bench_orders, generate_series(1, 6) AS k
            WHERE k <= main_steps + (side IS NOT NULL)::int
            """
        )
        cursor.execute(
            """
            INSERT INTO orders_orderevent (order_id, kind, created_at, message, data)
            SELECT id, 'scan', placed_at + step * 1.5, '',
                   CASE WHEN i % 50 = 0 THEN '{"action": "refused", "code": "X", "reason": "Not in the order"}'::jsonb
                        ELSE '{"action": "scan", "line": 0, "sku": "X", "scanned": 1}'::jsonb END
            FROM bench_orders WHERE main_steps >= 2
            """
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM orders_orderevent")
        events = cursor.fetchone()[0]
    print(f"created {events:,} events in {time.perf_counter() - started:.1f} s", flush=True)


def timed(repeat, function):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return result, statistics.median(times), max(times)


def run(repeat):
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from orders import dashboard

    user, _created = User.objects.get_or_create(
        username="bench-manager", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    today = timezone.localdate()
    scopes = {
        "last 30 days": {},
        "last 30 days, TXG": {"warehouse": "TXG"},
        "a quarter (the longest)": {"since": (today - timedelta(days=91)).isoformat()},
    }
    now = timezone.now()
    print(f"\n{'figure':34} {'median ms':>10} {'max ms':>8}")
    for label, data in scopes.items():
        _filterset, scope = dashboard.dashboard_scope(data)
        figures = {
            "states now": lambda: dashboard.state_counts(scope, now),
            "time in each state": lambda: dashboard.stay_times(scope),
            "placed and shipped per day": lambda: dashboard.daily_orders(scope),
            "scans": lambda: dashboard.scan_counts(scope),
            "oldest open": lambda: dashboard.oldest_open(scope),
            "low stock": lambda: dashboard.low_stock(scope, dashboard.LOW_STOCK_LIMIT),
        }
        for name, function in figures.items():
            _result, median, worst = timed(repeat, function)
            print(f"{label + ': ' + name:34} {median:>10.1f} {worst:>8.1f}")
        # The page shows the period's figures as last worked out (orders.dashboard):
        # after the warm-up it reads them back, it does not work them out again.
        url = "/admin/orders/order/dashboard/"
        client.get(url, data)
        with CaptureQueriesContext(connection) as queries:
            response, median, worst = timed(repeat, lambda: client.get(url, data))
        assert response.status_code == 200, response.status_code
        print(f"{label + ': page, period kept':34} {median:>10.1f} {worst:>8.1f}   ({len(queries) // repeat} queries)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    connection = setup_django()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"PostgreSQL {connection.pg_version // 10000}")
    populate(connection, args.orders)
    run(args.repeat)


if __name__ == "__main__":
    main()

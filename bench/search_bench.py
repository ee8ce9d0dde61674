"""Customer-service look-ups on a large PostgreSQL database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fulfilment_bench \
        .venv/bin/python -m bench.search_bench --orders 1000000

Creates (once) customers, orders and shipments with generate_series, then times
each kind of search (order number, with and without its SO- prefix, email in
another case, phone typed with dashes and its last 6 digits, tracking number, a
surname or given name alone, part of a name) through the same selector the admin
uses. Half the customers have Chinese names of 20 common surnames (about 2.5% of
all customers each, as 林 or 王 are), half Latin ones of 20 common words.
Prints the median and worst time of each over --repeat runs.
"""

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfilment_site.settings")


def setup_django():
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database: the benchmark is about production scale.")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return connection


LATIN_WORDS = ["Wang", "Lin", "Chen", "Chang", "Lee", "Huang", "Wu", "Liu", "Tsai", "Yang",
               "Hsu", "Cheng", "Hsieh", "Kuo", "Hung", "Tseng", "Chiu", "Liao", "Lai", "Chou"]


def populate(connection, orders):
    from bench.reports_bench import fill_name_parts
    from orders.models import Order

    have = Order.objects.count()
    if have >= orders:
        print(f"using the {have:,} orders already there")
        return
    customers = max(orders // 5, 1)
    print(f"creating {customers:,} customers, {orders:,} orders, {orders // 2:,} shipments …", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE orders_orderevent, orders_orderline, orders_orderchecklistitem, "
                       "shipping_shipmentline, shipping_shipment, orders_order, orders_customernamepart, "
                       "orders_customer CASCADE")
        cursor.execute(
            """
            INSERT INTO orders_customer (name, email, phone, phone_digits, phone_reversed, language, created_at)
            SELECT CASE WHEN i %% 2 = 0
                        THEN (%s::text[])[1 + i / 2 %% 20] || chr(19968 + (i::bigint * 7919 %% 20000)::int)
                             || chr(19968 + (i::bigint * 104729 %% 20000)::int)
                        ELSE (%s::text[])[1 + i / 2 %% 20] || ' Customer' || i END,
                   'customer' || i || '@example.com', '09' || lpad(i::text, 8, '0'),
                   '09' || lpad(i::text, 8, '0'), reverse('09' || lpad(i::text, 8, '0')), 'zh-hant', now()
            FROM generate_series(1, %s) AS i
            """,
            [list("林王陳張李黃吳劉蔡楊許鄭謝郭洪曾邱廖賴周"), LATIN_WORDS, customers],
        )
        fill_name_parts(cursor)
        cursor.execute("SELECT min(id) FROM orders_customer")
        first_customer = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO orders_order (number, customer_id, status, held_from_status, placed_at,
                status_changed_at, payment_status, currency, total, delivery_method, ship_name,
                ship_phone, ship_address1, ship_address2, ship_city, ship_postcode, ship_country)
            SELECT 'SO-' || (1000000 + i), %s + (i %% %s),
                   (ARRAY['new','processing','packed','shipped','delivered','completed'])[1 + i %% 6],
                   '', now() - (i || ' minutes')::interval, now(), 'paid', 'TWD', 100, 'home',
                   'Customer', '', 'Xinyi Road', '', 'Taipei', '110', 'TW'
            FROM generate_series(1, %s) AS i
            """,
            [first_customer, customers, orders],
        )
        cursor.execute("INSERT INTO shipping_carrier (code, name, tracking_url_template, tracking_number_pattern, is_active) "
                       "VALUES ('BENCH', 'Bench carrier', '', '', true) ON CONFLICT (code) DO NOTHING")
        cursor.execute("SELECT id FROM shipping_carrier WHERE code = 'BENCH'")
        carrier = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO shipping_shipment (order_id, carrier_id, tracking_number, status, created_at)
            SELECT id, %s, lpad(id::text, 12, '0'), 'shipped', now()
            FROM orders_order WHERE id %% 2 = 0
            """,
            [carrier],
        )
        cursor.execute("ANALYZE")
    print(f"created in {time.perf_counter() - started:.1f} s", flush=True)


def run(repeat):
    from orders.models import Order
    from orders.selectors import order_search_filter

    middle = Order.objects.count() // 2
    sample = Order.objects.order_by("pk")[middle]
    customer = sample.customer
    # A customer of each kind of name near the middle of the table.
    chinese = Order.objects.filter(customer__name__regex=r"^[^A-Za-z]", pk__gte=sample.pk).order_by("pk")[0].customer
    latin = Order.objects.filter(customer__name__contains=" Customer", pk__gte=sample.pk).order_by("pk")[0].customer
    tracking = sample.shipments.values_list("tracking_number", flat=True).first() or "000000000002"
    phone = customer.phone_digits
    terms = {
        "order number": sample.number,
        "order number, no SO-": sample.number.removeprefix("SO-"),
        "email, other case": customer.email.upper(),
        "phone with dashes": f"{phone[:4]}-{phone[4:7]}-{phone[7:]}",
        "phone +886": f"+886 {phone[1:4]} {phone[4:7]} {phone[7:]}",
        "phone, last 6 digits": f"{phone[-6:-3]}-{phone[-3:]}",
        "tracking number": tracking,
        "surname (1 char)": chinese.name[0],
        "given name (2 chars)": chinese.name[1:],
        "Latin word, lower": latin.name.split()[0].lower(),
        "part of a name": latin.name.split()[1][:8],
        "nothing matches": "no-such-thing",
    }
    from orders.selectors import customer_lookup

    print(f"\n{'search':22} {'term':>14} {'matches':>8} {'median ms':>10} {'max ms':>8} {'lookup ms':>10}")
    for label, term in terms.items():
        times, lookup_times = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            found = list(Order.objects.filter(order_search_filter(term)).values_list("pk", flat=True)[:200])
            times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            customer_lookup(term)
            lookup_times.append((time.perf_counter() - started) * 1000)
        print(f"{label:22} {term[:14]:>14} {len(found):>8} {statistics.median(times):>10.2f} {max(times):>8.2f} "
              f"{statistics.median(lookup_times):>10.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    connection = setup_django()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"PostgreSQL {connection.pg_version // 10000}")
    populate(connection, args.orders)
    run(args.repeat)


if __name__ == "__main__":
    main()

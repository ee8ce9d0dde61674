"""orders/imports.py and orders_create_many: orders imported one row per line, all
or nothing, created through the orders service."""

import csv
import io
import threading
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook

from inventory.models import StockLevel, StockMovement
from orders import services
from orders.exceptions import WorkflowError
from orders.imports import OrderImporter
from orders.models import (
    Customer,
    Order,
    OrderChecklistItem,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from reports.imports import run_import
from reports.registry import importer
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    StockLevelFactory,
    WarehouseFactory,
)
from tests.utils import requires_postgresql

TAIPEI = ZoneInfo("Asia/Taipei")


def order_row(number, product_sku, **cells):
    row = {
        "order_number": number,
        "placed_at": "2026-05-01T09:30:00",
        "customer_email": "Lin.Mei@Example.com",
        "customer_name": "林美",
        "customer_phone": "0912-345-678",
        "ship_name": "林美",
        "ship_phone": "0912345678",
        "ship_address1": "信義路五段7號",
        "ship_address2": "",
        "ship_city": "台北市",
        "ship_postcode": "110",
        "ship_country": "TW",
        "delivery_method": "home",
        "warehouse": "TPE",
        "payment_status": "paid",
        "currency": "TWD",
        "sku": product_sku,
        "quantity": "2",
        "unit_price": "120.50",
    }
    row.update(cells)
    return row


def csv_file(rows, name="orders.csv"):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=OrderImporter.columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode("utf-8"))


def run(rows, *, actor=None, dry_run=False):
    return run_import("orders", csv_file(rows), actor=actor, dry_run=dry_run)


def errors_of(report):
    return [(error.row, error.column) for error in report.sorted_errors()]


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (Order, OrderLine, OrderChecklistItem, OrderEvent, Customer, StockLevel, StockMovement)
    }


@pytest.fixture
def catalogue(db):
    """Warehouse TPE with stock of TEA and CUP (stock the import must not touch)."""
    tpe = WarehouseFactory(code="TPE", priority=1)
    tea, cup = ProductFactory(sku="TEA", name="烏龍茶"), ProductFactory(sku="CUP", name="Cup")
    StockLevelFactory(product=tea, warehouse=tpe, on_hand=50)
    StockLevelFactory(product=cup, warehouse=tpe, on_hand=50)
    return tpe, tea, cup


# --- the big file ------------------------------------------------------------------------------

BAD_ROWS = {
    58: ("sku", "NOPE", "Unknown SKU “NOPE”."),
    403: ("quantity", "0", "Must be at least 1."),
    914: ("unit_price", "12.345", "At most 2 decimals."),
}


def thousand_rows(*, bad):
    """250 orders of 4 lines each: rows 2–1001. With `bad`, three rows are wrong."""
    rows = []
    for index in range(1000):
        number = f"SO-{index // 4:04d}"
        row = order_row(number, "TEA" if index % 2 else "CUP", customer_email=f"customer{index // 8}@example.com")
        if bad and index + 2 in BAD_ROWS:
            column, value, _reason = BAD_ROWS[index + 2]
            row[column] = value
        rows.append(row)
    return rows


def test_a_thousand_rows_with_three_bad_ones_import_nothing_and_name_exactly_those(catalogue):
    before = counts()
    report = run(thousand_rows(bad=True))
    assert not report.written
    assert [(error.row, error.column, error.reason) for error in report.sorted_errors()] == [
        (row, column, reason) for row, (column, _value, reason) in sorted(BAD_ROWS.items())
    ]
    assert counts() == before


@pytest.mark.parametrize("chunk", [services.CREATE_CHUNK, 64], ids=["one-chunk", "chunks-in-the-background"])
def test_the_corrected_file_imports_every_order_once(catalogue, monkeypatch, chunk):
    # With several chunks, PostgreSQL COPYs them in a background thread (reports.bulk).
    monkeypatch.setattr(services, "CREATE_CHUNK", chunk)
    stock_before = list(StockLevel.objects.values_list("pk", "on_hand", "reserved"))
    movements_before = list(StockMovement.objects.values_list("pk", flat=True))  # the catalogue's receipts
    report = run(thousand_rows(bad=False))
    assert report.written and len(report.created) == 250 and report.created[0] == "SO-0000 (4 lines)"
    assert Order.objects.count() == 250 and OrderLine.objects.count() == 1000
    assert Customer.objects.count() == 125
    for order in Order.objects.prefetch_related("lines", "checklist_items", "events"):
        assert order.status == OrderStatus.NEW
        assert len(order.lines.all()) == 4 and order.total == Decimal("964.00")
        assert sorted(item.label for item in order.checklist_items.all()) == sorted(
            ["Payment confirmed", "Order details verified: name, phone and address complete", "Stock available for every line"]
        )
        assert [(event.kind, event.data) for event in order.events.all()] == [(OrderEvent.Kind.CREATED, {"lines": 4})]
    assert list(StockLevel.objects.values_list("pk", "on_hand", "reserved")) == stock_before
    assert list(StockMovement.objects.values_list("pk", flat=True)) == movements_before

    again = run(thousand_rows(bad=False))
    assert again.written and again.created == [] and len(again.skipped) == 250
    assert (again.skipped[0].row, again.skipped[0].label) == (2, "SO-0000")
    assert "exists" in again.skipped[0].reason
    assert Order.objects.count() == 250 and OrderLine.objects.count() == 1000 and Customer.objects.count() == 125


def test_an_import_runs_the_same_number_of_queries_for_3_or_30_orders(catalogue):
    def queries(first, count):
        rows = [order_row(f"Q-{first + n}", "TEA", customer_email=f"q{first + n}@example.com") for n in range(count)]
        with CaptureQueriesContext(connection) as context:
            assert run(rows).written
        return len(context)

    assert queries(0, 3) == queries(100, 30)


# --- rows of one order ----------------------------------------------------------------------------


def test_rows_with_one_number_form_one_order_wherever_they_are(catalogue):
    run([order_row("SO-1", "TEA"), order_row("SO-2", "CUP"), order_row("SO-1", "CUP", quantity="1")])
    first = Order.objects.get(number="SO-1")
    assert sorted(first.lines.values_list("sku", "quantity")) == [("CUP", 1), ("TEA", 2)]
    assert first.total == Decimal("361.50")


def test_rows_of_one_order_must_agree_on_every_order_column(catalogue):
    report = run(
        [
            order_row("SO-1", "TEA"),
            order_row("SO-1", "CUP", ship_city="台中市"),
            order_row("SO-1", "CUP", payment_status="pending", currency="USD"),
        ]
    )
    assert errors_of(report) == [(3, "ship_city"), (4, "payment_status"), (4, "currency")]
    assert "differs from row 2 of order SO-1" in report.sorted_errors()[0].reason
    assert not Order.objects.exists()


# --- cells ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cells, column, reason",
    [
        ({"order_number": ""}, "order_number", "A value is required."),
        ({"order_number": "X" * 33}, "order_number", "at most 32 characters"),
        ({"placed_at": "01/05/2026"}, "placed_at", "is not an ISO 8601 date"),
        ({"placed_at": ""}, "placed_at", "A value is required."),
        ({"customer_email": "not-an-address"}, "customer_email", "is not an e-mail address"),
        ({"customer_email": ""}, "customer_email", "A value is required."),
        ({"customer_name": "N" * 201}, "customer_name", "at most 200 characters, this has 201"),
        ({"customer_phone": "9" * 41}, "customer_phone", "at most 40 characters"),
        ({"ship_name": ""}, "ship_name", "A value is required."),
        ({"ship_address1": "A" * 256}, "ship_address1", "at most 255 characters"),
        ({"ship_city": ""}, "ship_city", "A value is required."),
        ({"ship_postcode": "1" * 21}, "ship_postcode", "at most 20 characters"),
        ({"ship_country": "TWN"}, "ship_country", "two-letter country code"),
        ({"ship_country": "台灣"}, "ship_country", "two-letter country code"),
        ({"ship_country": ""}, "ship_country", "A value is required."),
        ({"delivery_method": "drone"}, "delivery_method", "not one of: home, store_pickup, express"),
        ({"payment_status": "refunded"}, "payment_status", "not one of: pending, paid"),
        ({"currency": "NT$"}, "currency", "three-letter currency code"),
        ({"warehouse": "KHH"}, "warehouse", "Unknown warehouse “KHH”."),
        ({"sku": ""}, "sku", "A value is required."),
        ({"sku": "tea"}, "sku", "Unknown SKU “tea”."),
        ({"quantity": "1.5"}, "quantity", "is not a whole number"),
        ({"quantity": "-2"}, "quantity", "Must be at least 1."),
        ({"quantity": ""}, "quantity", "A value is required."),
        ({"unit_price": "-1"}, "unit_price", "cannot be negative"),
        ({"unit_price": "1,200"}, "unit_price", "is not a number"),
        ({"unit_price": "1e3"}, "unit_price", "is not a number"),
        ({"unit_price": "12345678901"}, "unit_price", "Too large"),
        ({"unit_price": ""}, "unit_price", "A value is required."),
    ],
)
def test_each_bad_cell_is_refused_by_row_and_column(catalogue, cells, column, reason):
    before = counts()
    report = run([order_row("SO-OK", "TEA"), order_row("SO-BAD", "TEA", **cells)])
    assert errors_of(report) == [(3, column)]
    assert reason in report.errors[0].reason
    assert counts() == before


def test_an_inactive_warehouse_is_refused(catalogue):
    WarehouseFactory(code="OLD", is_active=False)
    report = run([order_row("SO-1", "TEA", warehouse="OLD")])
    assert errors_of(report) == [(2, "warehouse")] and "not active" in report.errors[0].reason


@pytest.mark.parametrize(
    "placed_at, expected",
    [
        ("2026-05-01", datetime(2026, 5, 1, 0, 0, tzinfo=TAIPEI)),
        ("2026-05-01T09:30", datetime(2026, 5, 1, 9, 30, tzinfo=TAIPEI)),
        ("2026-05-01 09:30:15", datetime(2026, 5, 1, 9, 30, 15, tzinfo=TAIPEI)),
        ("2026-05-01T01:30:00Z", datetime(2026, 5, 1, 9, 30, tzinfo=TAIPEI)),
        ("2026-05-01T10:30:00+09:00", datetime(2026, 5, 1, 9, 30, tzinfo=TAIPEI)),
    ],
)
def test_placed_at_is_an_iso_date_or_date_time_in_local_time_unless_an_offset_is_given(catalogue, placed_at, expected):
    run([order_row("SO-1", "TEA", placed_at=placed_at)])
    assert Order.objects.get().placed_at == expected


def test_optional_columns_and_lower_case_codes(catalogue):
    run([order_row("SO-1", "TEA", warehouse="", currency="", ship_country="jp", delivery_method="Express", ship_phone="")])
    order = Order.objects.get()
    assert (order.warehouse, order.currency, order.ship_country, order.delivery_method, order.ship_phone) == (
        None,
        "TWD",
        "JP",
        "express",
        "",
    )
    run([order_row("SO-2", "TEA", currency="usd", payment_status="PENDING")])
    assert Order.objects.values_list("currency", "payment_status").get(number="SO-2") == ("USD", "pending")


def test_customers_are_matched_by_email_in_any_case_and_created_once(catalogue):
    known = CustomerFactory(email="chen@example.com", name="陳先生", phone="0911-111-111")
    report = run(
        [
            order_row("SO-1", "TEA", customer_email="CHEN@Example.com", customer_name="Someone else"),
            order_row("SO-2", "TEA", customer_email="New.Buyer@Example.com", customer_name="新客人", customer_phone="+886 912 000 111"),
            order_row("SO-3", "CUP", customer_email="new.buyer@example.COM", customer_name="新客人"),
        ]
    )
    assert report.written
    assert Order.objects.get(number="SO-1").customer == known
    known.refresh_from_db()
    assert known.name == "陳先生"  # a matched customer is left as stored
    new = Customer.objects.get(email="new.buyer@example.com")
    assert (new.name, new.phone_digits) == ("新客人", "0912000111")  # normalised as save() would
    assert set(Order.objects.filter(number__in=["SO-2", "SO-3"]).values_list("customer", flat=True)) == {new.pk}


def test_formula_like_names_import_as_that_exact_text(catalogue):
    run([order_row("SO-1", "TEA", customer_email="x@example.com", customer_name='=HYPERLINK("x")', ship_name='=HYPERLINK("x")')])
    order = Order.objects.select_related("customer").get()
    assert order.ship_name == '=HYPERLINK("x")' and order.customer.name == '=HYPERLINK("x")'


def test_a_dry_run_writes_nothing(catalogue):
    before = counts()
    report = run([order_row("SO-1", "TEA"), order_row("SO-2", "CUP")], dry_run=True)
    assert report.ok and report.created == ["SO-1 (1 line)", "SO-2 (1 line)"] and not report.written
    assert counts() == before


def test_an_xlsx_orders_file_with_date_cells(catalogue):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(OrderImporter.columns))
    row = order_row("SO-X", "TEA")
    row.update(placed_at=datetime(2026, 5, 1, 9, 30), quantity=3, unit_price=19.9)
    sheet.append([row[column] for column in OrderImporter.columns])
    out = io.BytesIO()
    workbook.save(out)
    report = run_import("orders", SimpleUploadedFile("orders.xlsx", out.getvalue()), actor=None, dry_run=False)
    assert report.written
    order = Order.objects.get()
    assert order.placed_at == datetime(2026, 5, 1, 9, 30, tzinfo=TAIPEI)
    assert order.lines.values_list("quantity", "unit_price").get() == (3, Decimal("19.90"))


def test_an_orders_import_needs_import_data_and_the_right_to_create_orders(catalogue, manager, service_user):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        run([order_row("SO-1", "TEA")], actor=service_user)
    assert not Order.objects.exists()
    run([order_row("SO-1", "TEA")], actor=manager)
    assert Order.objects.get().events.get().actor == manager


def test_import_csv_orders_fails_naming_each_bad_row(catalogue, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_file([order_row("SO-1", "TEA"), order_row("SO-2", "NOPE"), order_row("SO-3", "TEA", quantity="x")]).read())
    with pytest.raises(CommandError, match="2 errors"):
        call_command("import_csv", "orders", str(path))
    err = capsys.readouterr().err.splitlines()
    assert err == ["row 3, column sku: Unknown SKU “NOPE”.", "row 4, column quantity: “x” is not a whole number."]
    assert not Order.objects.exists()


def miss_existing_numbers_once(monkeypatch):
    """The service's "which numbers exist" check sees none the first time, as when
    another import commits its orders just after this one looked."""
    real = services._existing_numbers
    calls = []

    def existing_numbers(numbers):
        calls.append(numbers)
        return set() if len(calls) == 1 else real(numbers)

    monkeypatch.setattr(services, "_existing_numbers", existing_numbers)


# --- a refusal during the write ------------------------------------------------------------------


def test_a_number_taken_between_the_check_and_the_write_rolls_back_the_whole_import(catalogue, monkeypatch):
    """Another import created SO-3 after this one checked its rows: the first chunk
    is already inserted when the second meets the duplicate, and all of it goes."""
    monkeypatch.setattr(services, "CREATE_CHUNK", 2)
    plan = OrderImporter.plan

    def plan_then_race(self, rows, report):
        specs = plan(self, rows, report)
        services.order_create(
            number="SO-3", customer=CustomerFactory(), lines=[{"product": catalogue[1], "quantity": 1, "unit_price": 1}],
            ship_name="x", ship_address1="x", ship_city="x",
        )
        miss_existing_numbers_once(monkeypatch)
        return specs

    monkeypatch.setattr(OrderImporter, "plan", plan_then_race)
    before_customers = Customer.objects.count()
    report = run([order_row(f"SO-{n}", "TEA", customer_email=f"c{n}@example.com") for n in range(1, 5)])
    assert not report.written and report.refusal == "Order number SO-3 already exists."
    assert list(Order.objects.values_list("number", flat=True)) == ["SO-3"]
    assert Customer.objects.count() == before_customers + 1  # only the racing order's customer


# --- orders_create_many ---------------------------------------------------------------------------


def spec(number, product, **fields):
    return {
        "number": number,
        "customer": fields.pop("customer", None) or CustomerFactory(),
        "lines": fields.pop("lines", None) or [{"product": product, "quantity": 1, "unit_price": "10"}],
        "ship_name": "Lin",
        "ship_address1": "1 Road",
        "ship_city": "Taipei",
        **fields,
    }


@pytest.mark.django_db
def test_orders_create_many_creates_each_order_like_order_create():
    product = ProductFactory()
    shared = Customer(name="New", email="NEW@example.com")
    orders = services.orders_create_many(
        specs=[spec("M-1", product, customer=shared), spec("M-2", product, customer=shared, ship_country="jp")]
    )
    assert [order.number for order in orders] == ["M-1", "M-2"] and all(order.pk for order in orders)
    assert Customer.objects.filter(email="new@example.com").count() == 1
    for order in Order.objects.all():
        assert order.checklist_items.filter(state=OrderStatus.NEW).count() == 3
        assert order.events.get().kind == OrderEvent.Kind.CREATED
    assert Order.objects.get(number="M-2").ship_country == "JP"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad, error",
    [
        ({"lines": [{"quantity": 0}]}, ValidationError),
        ({"ship_name": ""}, ValidationError),
        ({"number": " M-1 "}, WorkflowError),  # given twice
        ({"number": "EXISTS"}, WorkflowError),
        ({"status": "shipped"}, TypeError),
    ],
)
def test_orders_create_many_refuses_as_order_create_does_and_writes_nothing(bad, error):
    product = ProductFactory()
    services.order_create(**spec("EXISTS", product))
    first, second = spec("M-1", product), spec("M-2", product)
    if "lines" in bad:
        second["lines"] = [{"product": product, "unit_price": "1", **bad.pop("lines")[0]}]
    second.update(bad)
    before = counts()
    with pytest.raises(error):
        services.orders_create_many(specs=[first, second])
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, country_error",
    [
        # The country is checked as typed, more strictly than the field's own check
        # (which reads "TWN" as TW), and the refusal names what was typed (issue #7).
        ({"ship_country": "T1"}, "“T1” is not a country code. Enter a two-letter country code (ISO 3166-1), such as TW or JP."),
        ({"ship_name": "x" * 201, "currency": "TWDX", "delivery_method": "drone"}, None),
        ({"payment_status": "refunded-ish", "ship_city": ""}, None),
        ({"placed_at": "yesterday"}, None),
        ({"ship_country": "Taiwan", "ship_city": ""}, "“Taiwan” is not a country code. Enter a two-letter country code (ISO 3166-1), such as TW or JP."),
    ],
)
def test_orders_create_many_refuses_with_exactly_full_cleans_messages_even_after_good_orders(fields, country_error):
    """The service checks each order's fields as Order.full_clean does: the same
    errors, whatever good orders came before in the same call; only the country has
    the service's own, stricter check."""
    product = ProductFactory()
    good = [spec(f"G-{index}", product, ship_country="TW", currency="TWD") for index in range(3)]
    bad = spec("BAD", product, **fields)
    order_fields = {name: value for name, value in bad.items() if name not in ("number", "customer", "lines")}
    reference = Order(number="BAD", customer=bad["customer"], **order_fields)
    exclude = ["customer", "warehouse", *(["ship_country"] if country_error else [])]
    expected = {}
    try:
        reference.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        expected = error.message_dict
    if country_error:
        expected["ship_country"] = [country_error]
    assert expected
    before = counts()
    with pytest.raises(ValidationError) as refused:
        services.orders_create_many(specs=[*good, bad])
    assert refused.value.message_dict == expected
    assert counts() == before


@pytest.mark.django_db
def test_a_duplicate_number_met_at_insert_is_the_services_refusal(monkeypatch):
    """Two imports racing past the existence check: the database's unique index
    refuses the second, and the service says so in its own words."""
    product = ProductFactory()
    services.order_create(**spec("RACE", product))
    miss_existing_numbers_once(monkeypatch)
    with pytest.raises(WorkflowError, match="Order number RACE already exists."):
        services.order_create(**spec("RACE", product))
    assert Order.objects.count() == 1


@requires_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_imports_of_the_same_order_at_once_give_one_order_and_one_refusal(monkeypatch):
    WarehouseFactory(code="TPE", priority=1)
    ProductFactory(sku="TEA")
    data = csv_file([order_row("SO-RACE", "TEA")]).read()
    orders_importer = importer("orders")
    write = orders_importer.write
    both_planned = threading.Barrier(2)

    def write_when_both_have_planned(plan, *, actor):
        both_planned.wait(timeout=30)
        write(plan, actor=actor)

    monkeypatch.setattr(orders_importer, "write", write_when_both_have_planned)
    reports = [None, None]

    def import_once(index):
        try:
            reports[index] = run_import("orders", SimpleUploadedFile("orders.csv", data), actor=None, dry_run=False)
        finally:
            connection.close()

    threads = [threading.Thread(target=import_once, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(report.written for report in reports) == [False, True]
    refused = next(report for report in reports if not report.written)
    assert refused.refusal == "Order number SO-RACE already exists."
    assert Order.objects.filter(number="SO-RACE").count() == 1
    assert OrderLine.objects.count() == 1 and OrderEvent.objects.count() == 1
    assert Customer.objects.count() == 1


@requires_postgresql
def test_after_a_large_import_foreign_keys_are_checked_at_commit_again(catalogue, monkeypatch):
    """The background COPYs check foreign keys as they go (SET CONSTRAINTS ALL
    IMMEDIATE); afterwards the transaction is back to Django's deferred checks."""
    monkeypatch.setattr(services, "CREATE_CHUNK", 2)
    assert run([order_row(f"SO-{n}", "TEA") for n in range(5)]).written
    savepoint = transaction.savepoint()
    OrderEvent.objects.create(order_id=10**12, kind=OrderEvent.Kind.NOTE)  # accepted until commit
    transaction.savepoint_rollback(savepoint)

"""The export engine: columns, cells (neutralised for spreadsheets), the FilterSets'
refusals, and the PostgreSQL COPY path writing the same bytes as the plain path."""

import io
import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from inventory import services as stock_services
from orders.models import Customer, Order
from reports.exporting import Selection, copy_csv, export_queryset, value_rows, write_csv, write_export
from reports.filters import ReportFilterError, month_range
from reports.neutralise import neutralise
from reports.registry import export_kind
from shipping.models import Shipment
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, WarehouseFactory, manager_user
from tests.utils import ON_POSTGRESQL

pytestmark = pytest.mark.django_db

EXPORT_KINDS = ["orders", "order-lines", "shipments", "stock", "movements", "products", "warehouses"]


def export(kind_name, data=None, *, search="", ids=None, personal=True, file_format="csv"):
    kind = export_kind(kind_name)
    resource = kind.resource_for(include_personal=personal)
    queryset = export_queryset(kind, resource, Selection(data or {}, search, ids))
    out = io.BytesIO()
    write_export(out, file_format, resource.columns(), queryset)
    return out.getvalue()


def csv_rows(content):
    import csv

    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def test_every_kind_is_registered_with_its_columns():
    for name in EXPORT_KINDS:
        kind = export_kind(name)
        columns = kind.resource_for(include_personal=True).columns()
        assert columns, name
        assert len({column.name for column in columns}) == len(columns), f"{name}: duplicate column names"


def test_order_row_has_every_reporting_column(db):
    order = OrderFactory(shipped=True, lines=2, quantity=3)
    row = csv_rows(export("orders"))[0]
    shipment = Shipment.objects.get(order=order)
    assert row["number"] == order.number
    assert row["status"] == "shipped"
    assert row["customer_email"] == order.customer.email
    assert row["ship_address1"] == order.ship_address1
    assert row["total"] == "720.00"
    assert row["lines"] == "2"
    assert row["carriers"] == "TESTCAT"
    assert row["tracking_numbers"] == shipment.tracking_number
    assert row["shipped_at"] == timezone.localtime(shipment.shipped_at).strftime("%Y-%m-%d %H:%M:%S")
    assert row["delivered_at"] == ""
    assert row["warehouse"] == "MAIN"
    # The payment columns come last, after the columns files were built on before.
    assert list(row)[-3:] == ["payment_method", "payment_reference", "paid_at"]
    assert (row["payment_method"], row["payment_reference"], row["paid_at"]) == ("card", "", "")


def test_order_rows_carry_the_payment_method_reference_and_when_it_was_paid(db):
    from orders import services
    from orders.models import Order

    order = OrderFactory(payment_status="pending", payment_method="atm")
    services.order_mark_paid(order=order, actor=None, reference="01234")
    paid_at = Order.objects.get(pk=order.pk).paid_at
    row = csv_rows(export("orders"))[0]
    assert (row["payment_method"], row["payment_reference"]) == ("atm", "01234")
    assert row["paid_at"] == timezone.localtime(paid_at).strftime("%Y-%m-%d %H:%M:%S")


def test_order_lines_and_stock_and_products(db):
    order = OrderFactory(processing=True, lines=1, quantity=2)
    line = order.lines.get()
    row = csv_rows(export("order-lines"))[0]
    assert (row["order_number"], row["sku"], row["quantity"], row["unit_price"], row["line_total"]) == (
        order.number, line.sku, "2", "120.00", "240.00",
    )  # fmt: skip
    level = csv_rows(export("stock"))[0]
    assert (level["on_hand"], level["reserved"], level["available"]) == ("10", "2", "8")
    product = csv_rows(export("products"))[0]
    assert (product["sku"], product["on_hand"], product["reserved"]) == (line.sku, "10", "2")


def test_personal_columns_are_left_out_without_the_permission(db):
    OrderFactory(shipped=True)
    for kind in ("orders", "shipments"):
        header = csv_rows(export(kind, personal=False))[0].keys()
        for column in ("customer_email", "customer_phone", "ship_phone", "ship_address1", "ship_city", "ship_postcode"):
            assert column not in header, (kind, column)
        assert "ship_country" in header
    assert "customer_email" in csv_rows(export("orders", personal=True))[0]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_are_neutralised_in_csv_and_xlsx_but_not_json(db, start):
    name = f"{start}HYPERLINK(\"http://evil\")"
    OrderFactory(customer=CustomerFactory(name=name))
    assert csv_rows(export("orders"))[0]["customer_name"] == "'" + name
    sheet = load_workbook(io.BytesIO(export("orders", file_format="xlsx"))).active
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("customer_name") + 1).value
    assert cell.startswith("'" + start.replace("\r", "\n")) and cell.endswith(name[1:])  # XML reads \r as \n
    assert json.loads(export("orders", file_format="json"))[0]["customer_name"] == name


def test_neutralise_covers_nul_and_leaves_numbers_alone():
    assert neutralise("\0x") == "'\0x"
    assert neutralise("plain =") == "plain ="
    assert neutralise(-5) == -5


def test_negative_numbers_are_numbers_not_formulas(db):
    product, warehouse = ProductFactory(), WarehouseFactory()
    stock_services.stock_receive(product=product, warehouse=warehouse, quantity=5, actor=None)
    stock_services.stock_count(product=product, warehouse=warehouse, on_hand=2, actor=None)
    deltas = [row["on_hand_delta"] for row in csv_rows(export("movements"))]
    assert sorted(deltas) == ["-3", "5"]


def test_xlsx_has_real_numbers_and_dates(db):
    OrderFactory()
    sheet = load_workbook(io.BytesIO(export("orders", file_format="xlsx"))).active
    header = [cell.value for cell in sheet[1]]
    row = {name: sheet.cell(row=2, column=index + 1).value for index, name in enumerate(header)}
    assert row["total"] == Decimal("120.00") or row["total"] == 120
    assert isinstance(row["placed_at"], datetime)


def test_json_is_a_list_of_objects_with_exact_amounts(db):
    order = OrderFactory()
    items = json.loads(export("orders", file_format="json"))
    assert items[0]["number"] == order.number
    assert items[0]["total"] == "120.00"
    assert items[0]["lines"] == 1


# --- which rows ------------------------------------------------------------------------


def test_filters_choose_the_rows(db):
    shipped = OrderFactory(shipped=True)
    new = OrderFactory(payment_status="pending")
    assert [r["number"] for r in csv_rows(export("orders", {"status": "shipped"}))] == [shipped.number]
    assert [r["number"] for r in csv_rows(export("orders", {"payment_status": "pending"}))] == [new.number]
    assert [r["order_number"] for r in csv_rows(export("order-lines", {"status": "new"}))] == [new.number]
    assert [r["number"] for r in csv_rows(export("orders", search=new.customer.email.upper()))] == [new.number]
    assert [r["number"] for r in csv_rows(export("orders", ids=[shipped.pk]))] == [shipped.number]


def test_dates_are_whole_local_days(db):
    taipei = ZoneInfo("Asia/Taipei")
    inside = OrderFactory(placed_at=datetime(2026, 11, 1, 0, 0, tzinfo=taipei))
    last = OrderFactory(placed_at=datetime(2026, 11, 30, 23, 59, tzinfo=taipei))
    OrderFactory(placed_at=datetime(2026, 10, 31, 23, 59, tzinfo=taipei))
    OrderFactory(placed_at=datetime(2026, 12, 1, 0, 0, tzinfo=taipei))
    rows = csv_rows(export("orders", {"since": "2026-11-01", "until": "2026-11-30"}))
    assert {row["number"] for row in rows} == {inside.number, last.number}


def test_month_presets():
    assert month_range("this_month", today=date(2026, 12, 2)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert month_range("last_month", today=date(2026, 12, 2)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert month_range("last_month", today=date(2026, 1, 15)) == (date(2025, 12, 1), date(2025, 12, 31))


@pytest.mark.parametrize(
    "data, field",
    [
        ({"since": "2026/11/01"}, "since"),
        ({"until": "01/11/2026"}, "until"),
        ({"status": "bogus"}, "status"),
        ({"since": "2026-11-10", "until": "2026-11-01"}, "until"),
        ({"period": "last_month", "since": "2026-11-01"}, "period"),
        ({"warehouse": "999999"}, "warehouse"),
        ({"overdue": "maybe"}, "overdue"),
    ],
)
def test_a_value_that_does_not_parse_is_refused_never_unfiltered(db, data, field):
    OrderFactory()
    with pytest.raises(ReportFilterError) as refusal:
        export("orders", data)
    assert field in refusal.value.errors
    assert str(refusal.value)  # names the field for the user


# --- the COPY fast path ------------------------------------------------------------------


@pytest.mark.skipif(not ON_POSTGRESQL, reason="COPY … TO STDOUT is PostgreSQL's; SQLite has only the plain path")
@pytest.mark.parametrize("kind_name", EXPORT_KINDS)
def test_copy_and_plain_paths_write_the_same_bytes(db, kind_name):
    tricky = [
        '=SUM(A1:A2)', '+886 912 345 678', '-dash', '@at', '\ttab', 'quote " inside', 'comma, inside',
        'new\nline', '', '林志明 Lin', ' padded ',
    ]  # fmt: skip
    for index, name in enumerate(tricky):
        customer = Customer.objects.create(name=name or "x", email=f"t{index}@example.com", phone=name[:40])
        OrderFactory(customer=customer, ship_address2=name, shipped=index % 3 == 0, placed_at=timezone.now())
    Order.objects.filter(pk=Order.objects.order_by("pk").first().pk).update(ship_address2="")
    OrderFactory(placed_at=datetime(2026, 6, 30, 16, 0, tzinfo=ZoneInfo("UTC")))  # midnight in Taipei
    kind = export_kind(kind_name)
    resource = kind.resource_for(include_personal=True)
    columns = resource.columns()
    queryset = export_queryset(kind, resource, Selection({}))
    plain, copied = io.BytesIO(), io.BytesIO()
    plain_rows = write_csv(plain, columns, value_rows(columns, queryset))
    copied_rows = copy_csv(copied, columns, queryset)
    assert plain_rows == copied_rows > 0
    assert copied.getvalue() == plain.getvalue()


@pytest.mark.skipif(not ON_POSTGRESQL, reason="COPY … TO STDOUT is PostgreSQL's; SQLite has only the plain path")
def test_copy_path_applies_the_filters(db):
    shipped = OrderFactory(shipped=True)
    OrderFactory()
    kind = export_kind("orders")
    resource = kind.resource_for(include_personal=False)
    out = io.BytesIO()
    copy_csv(out, resource.columns(), export_queryset(kind, resource, Selection({"status": "shipped"})))
    rows = csv_rows(out.getvalue())
    assert [row["number"] for row in rows] == [shipped.number]
    assert "customer_email" not in rows[0]


def test_managers_have_the_export_permissions_and_other_roles_do_not(warehouse_user, service_user):
    manager = manager_user()
    for perm in ("orders.export_reports", "orders.export_personal_data", "orders.import_data", "orders.view_dashboard"):
        assert manager.has_perm(perm)
        assert not warehouse_user.has_perm(perm)
        assert not service_user.has_perm(perm)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="COPY … TO STDOUT is PostgreSQL's; SQLite has only the plain path")
def test_copy_of_a_large_export_aggregates_once_and_writes_the_same_bytes(db, monkeypatch):
    from shipping.models import Carrier

    monkeypatch.setattr("reports.exporting.COPY_JOIN_MIN_ROWS", 0)  # take the large-export plan
    seven = Carrier.objects.create(code="TESTSEVEN", name="7-ELEVEN")
    two_parcels = OrderFactory(shipped=True, lines=3)
    # One live shipment per order (issue #7) until orders have parcels: the others are cancelled.
    Shipment.objects.create(order=two_parcels, carrier=seven, tracking_number="A0001", status="cancelled")
    Shipment.objects.create(order=two_parcels, carrier=seven, tracking_number="Z9999", status="cancelled")
    OrderFactory(delivered=True)
    OrderFactory()
    kind = export_kind("orders")
    resource = kind.resource_for(include_personal=True)
    columns = resource.columns()
    queryset = export_queryset(kind, resource, Selection({}))
    plain, copied = io.BytesIO(), io.BytesIO()
    write_csv(plain, columns, value_rows(columns, queryset))
    copy_csv(copied, columns, queryset, joins=resource.copy_joins())
    assert copied.getvalue() == plain.getvalue()
    row = next(r for r in csv_rows(copied.getvalue()) if r["number"] == two_parcels.number)
    live = Shipment.objects.filter(order=two_parcels).exclude(status="cancelled").order_by("tracking_number")
    # Each carrier stands beside its own tracking number; the cancelled parcel is left out.
    assert list(zip(row["carriers"].split(), row["tracking_numbers"].split())) == [
        (shipment.carrier.code, shipment.tracking_number) for shipment in live
    ]
    assert row["lines"] == "3"


@pytest.mark.skipif(not ON_POSTGRESQL, reason="COPY and exported snapshots are PostgreSQL's")
# serialized_rollback: the thread tests after it expect the database as migrated (roles, checklist)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_large_export_read_in_slices_on_several_connections_keeps_order_and_bytes(monkeypatch):
    monkeypatch.setattr("reports.exporting.COPY_JOIN_MIN_ROWS", 0)
    monkeypatch.setattr("reports.exporting.COPY_PARTS", 3)
    for index in range(7):
        OrderFactory(shipped=index % 2 == 0, lines=1 + index % 3)
    kind = export_kind("orders")
    resource = kind.resource_for(include_personal=True)
    columns = resource.columns()
    queryset = export_queryset(kind, resource, Selection({}))
    plain, copied = io.BytesIO(), io.BytesIO()
    write_csv(plain, columns, value_rows(columns, queryset))
    assert copy_csv(copied, columns, queryset, joins=resource.copy_joins()) == 7
    assert copied.getvalue() == plain.getvalue()

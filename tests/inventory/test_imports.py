"""inventory/imports.py: warehouses, products and stock counts, through run_import
and the import_csv command."""

import csv

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory import services
from inventory.models import Product, StockLevel, StockMovement, Warehouse
from reports.imports import ImportFileError, run_import
from tests.factories import OrderFactory, ProductFactory, WarehouseFactory
from tests.utils import ledger_mismatches

pytestmark = pytest.mark.django_db


def csv_file(text, name="import.csv"):
    return SimpleUploadedFile(name, text.encode("utf-8"))


def run(kind, text, *, actor=None, dry_run=False):
    return run_import(kind, csv_file(text), actor=actor, dry_run=dry_run)


def errors_of(report):
    return [(error.row, error.column) for error in report.sorted_errors()]


# --- warehouses -------------------------------------------------------------------------------


def test_warehouses_are_created_and_existing_codes_skipped_not_changed():
    WarehouseFactory(code="TPE", name="Taipei", priority=1)
    report = run("warehouses", "code,name,priority\nTPE,Renamed,9\nKHH,高雄倉,3\nTXG,台中倉,\n")
    assert report.written
    assert [(skip.row, skip.label) for skip in report.skipped] == [(2, "TPE")]
    assert "exists" in report.skipped[0].reason
    assert Warehouse.objects.get(code="TPE").name == "Taipei"  # left as it is
    assert dict(Warehouse.objects.values_list("code", "priority")) == {"TPE": 1, "KHH": 3, "TXG": 100}


def test_warehouse_rows_are_checked_against_the_model():
    report = run("warehouses", "code,name,priority\n" + "X" * 21 + ",Long,1\nTPE,Taipei,1\nTPE,Again,2\nKHH,,1.5\n")
    assert errors_of(report) == [(2, "code"), (4, "code"), (5, "name"), (5, "priority")]
    assert "at most 20 characters" in report.sorted_errors()[0].reason
    assert "given on row 3 already" in report.sorted_errors()[1].reason
    assert not Warehouse.objects.exists()


# --- products ----------------------------------------------------------------------------------


def test_products_are_created_with_an_optional_barcode():
    report = run("products", "sku,name,barcode,weight_grams\nTEA-1,烏龍茶,4710000000017,250\nCUP-1,Cup,,\n")
    assert report.written and report.created == ["TEA-1 – 烏龍茶", "CUP-1 – Cup"]
    tea, cup = Product.objects.get(sku="TEA-1"), Product.objects.get(sku="CUP-1")
    assert (tea.barcode, tea.weight_grams) == ("4710000000017", 250)
    assert (cup.barcode, cup.weight_grams) == (None, 0)  # blank barcode stored as NULL: many may lack one


def test_product_barcodes_in_use_or_repeated_are_refused_by_row():
    ProductFactory(sku="OLD", barcode="111")
    report = run(
        "products",
        "sku,name,barcode,weight_grams\nOLD,Old,999,1\nNEW-1,New,111,1\nNEW-2,New,222,1\nNEW-3,New,222,-5\n",
    )
    assert errors_of(report) == [(3, "barcode"), (5, "barcode"), (5, "weight_grams")]
    assert "belongs to OLD" in report.sorted_errors()[0].reason
    assert [skip.label for skip in report.skipped] == ["OLD"]
    assert Product.objects.count() == 1 and Product.objects.get().barcode == "111"


# --- stock ---------------------------------------------------------------------------------------


def test_stock_counts_go_through_the_ledger_as_differences():
    tpe = WarehouseFactory(code="TPE")
    WarehouseFactory(code="KHH")
    tea, cup = ProductFactory(sku="TEA"), ProductFactory(sku="CUP")
    services.stock_receive(product=tea, warehouse=tpe, quantity=10, actor=None)
    services.stock_receive(product=cup, warehouse=tpe, quantity=4, actor=None)
    report = run("stock", "sku,warehouse,on_hand\nTEA,TPE,7\nCUP,TPE,4\nCUP,KHH,12\n")
    assert report.written
    assert report.created == ["TEA @ TPE: on hand 10 → 7 (\N{MINUS SIGN}3)", "CUP @ KHH: on hand 0 → 12 (+12)"]
    assert [(skip.row, skip.label) for skip in report.skipped] == [(3, "CUP @ TPE")]
    levels = {
        (level.product.sku, level.warehouse.code): level.on_hand
        for level in StockLevel.objects.select_related("product", "warehouse")
    }
    assert levels == {("TEA", "TPE"): 7, ("CUP", "TPE"): 4, ("CUP", "KHH"): 12}
    counts = StockMovement.objects.filter(kind=StockMovement.Kind.COUNT)
    assert sorted(counts.values_list("product__sku", "warehouse__code", "on_hand_delta", "note")) == [
        ("CUP", "KHH", 12, "Imported count"),
        ("TEA", "TPE", -3, "Imported count"),
    ]
    assert ledger_mismatches() == {}


def test_stock_rows_refer_to_known_products_and_warehouses():
    WarehouseFactory(code="TPE")
    ProductFactory(sku="TEA")
    report = run("stock", "sku,warehouse,on_hand\nNOPE,TPE,1\nTEA,NOWHERE,1\nTEA,TPE,-1\n,,\nTEA,TPE,x\nTEA,TPE,3\nTEA,TPE,4\n")
    assert errors_of(report) == [(2, "sku"), (3, "warehouse"), (4, "on_hand"), (6, "on_hand"), (8, "sku")]
    assert "Unknown SKU “NOPE”" in report.sorted_errors()[0].reason
    assert "counted on row 7 already" in report.sorted_errors()[-1].reason
    assert not StockLevel.objects.exists() and not StockMovement.objects.exists()


def test_a_count_below_what_is_reserved_is_refused():
    order = OrderFactory(processing=True, quantity=3)  # reserves 3 of its product in MAIN
    line = order.lines.get()
    before = list(StockMovement.objects.values_list("pk", flat=True))
    report = run("stock", f"sku,warehouse,on_hand\n{line.sku},MAIN,2\n")
    assert errors_of(report) == [(2, "on_hand")] and "3 are reserved" in report.errors[0].reason
    assert list(StockMovement.objects.values_list("pk", flat=True)) == before


def test_stock_import_needs_the_count_permission_as_well(manager, warehouse_user):
    from django.core.exceptions import PermissionDenied

    WarehouseFactory(code="TPE")
    ProductFactory(sku="TEA")
    with pytest.raises(PermissionDenied):
        run("stock", "sku,warehouse,on_hand\nTEA,TPE,5\n", actor=warehouse_user)
    assert run("stock", "sku,warehouse,on_hand\nTEA,TPE,5\n", actor=manager).written
    assert StockMovement.objects.get().actor == manager


def _locations():
    return {
        (level.product.sku, level.warehouse.code): level.location
        for level in StockLevel.objects.select_related("product", "warehouse")
    }


def test_stock_import_sets_locations_and_keeps_them_when_the_column_or_cell_is_empty(manager):
    tpe = WarehouseFactory(code="TPE")
    tea, cup = ProductFactory(sku="TEA"), ProductFactory(sku="CUP")
    ProductFactory(sku="POT")
    services.stock_receive(product=tea, warehouse=tpe, quantity=10, actor=None)
    services.stock_receive(product=cup, warehouse=tpe, quantity=4, actor=None)

    # A location alone (the count is unchanged) is a change; a new row gets both.
    report = run("stock", "location,sku,warehouse,on_hand\n A-03-2 ,TEA,TPE,10\nB-1,CUP,TPE,5\nC-7,POT,TPE,2\n", actor=manager)
    assert report.written, report.errors
    assert report.created == ["TEA @ TPE: location — → A-03-2", "CUP @ TPE: on hand 4 → 5 (+1); location — → B-1", "POT @ TPE: on hand 0 → 2 (+2); location — → C-7"]
    assert _locations() == {("TEA", "TPE"): "A-03-2", ("CUP", "TPE"): "B-1", ("POT", "TPE"): "C-7"}
    movements = StockMovement.objects.count()

    # An old file without the column, and an empty cell, leave the locations alone.
    assert run("stock", "sku,warehouse,on_hand\nTEA,TPE,9\n", actor=manager).written
    report = run("stock", "sku,warehouse,on_hand,location\nCUP,TPE,5,\nPOT,TPE,2,C-7\n", actor=manager)
    assert [(skip.row, skip.label) for skip in report.skipped] == [(2, "CUP @ TPE"), (3, "POT @ TPE")]
    assert _locations() == {("TEA", "TPE"): "A-03-2", ("CUP", "TPE"): "B-1", ("POT", "TPE"): "C-7"}
    assert StockMovement.objects.count() == movements + 1  # TEA's count only
    assert ledger_mismatches() == {}


def test_a_too_long_location_is_refused_by_row_and_nothing_is_written():
    WarehouseFactory(code="TPE")
    ProductFactory(sku="TEA")
    report = run("stock", "sku,warehouse,on_hand,location\nTEA,TPE,3,AISLE-12-SHELF-04-BIN-7\n")
    assert errors_of(report) == [(2, "location")]
    assert "at most 20 characters" in report.errors[0].reason
    assert not StockLevel.objects.exists() and not StockMovement.objects.exists()


def test_an_unknown_extra_column_still_names_the_optional_one():
    WarehouseFactory(code="TPE")
    with pytest.raises(ImportFileError, match="unexpected bin.*It may also have location"):
        run("stock", "sku,warehouse,on_hand,bin\nTEA,TPE,3,A\n")


# --- the command -------------------------------------------------------------------------------------


def test_import_csv_creates_and_prints_what_it_did(tmp_path, capsys):
    path = tmp_path / "warehouses.csv"
    path.write_text("code,name,priority\nTPE,台北倉,1\n", encoding="utf-8")
    call_command("import_csv", "warehouses", str(path))
    out = capsys.readouterr().out
    assert "imported: TPE – 台北倉" in out and "Imported warehouses: 1 imported, 0 skipped." in out
    call_command("import_csv", "warehouses", str(path))
    assert "skipped row 2, TPE: exists" in capsys.readouterr().out
    assert Warehouse.objects.count() == 1


def test_import_csv_dry_run_writes_nothing(tmp_path, capsys):
    path = tmp_path / "products.csv"
    path.write_text("sku,name,barcode,weight_grams\nTEA,Tea,,1\n", encoding="utf-8")
    call_command("import_csv", "products", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "would import: TEA – Tea" in out and "Dry run, nothing written" in out
    assert not Product.objects.exists()


def test_import_csv_prints_every_bad_row_and_fails(tmp_path, capsys):
    path = tmp_path / "stock.csv"
    path.write_text("sku,warehouse,on_hand\nNOPE,TPE,1\nNOPE,TPE,x\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Nothing was imported: 5 errors"):
        call_command("import_csv", "stock", str(path))
    err = capsys.readouterr().err
    assert "row 2, column sku: Unknown SKU “NOPE”." in err
    assert "row 3, column on_hand: “x” is not a whole number." in err
    assert not StockMovement.objects.exists()


def test_import_csv_refuses_an_unknown_kind_a_missing_file_and_a_bad_file(tmp_path):
    with pytest.raises(CommandError, match="Unknown kind “planets”; choose one of: deliveries, orders, products, stock, warehouses"):
        call_command("import_csv", "planets", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="There is no file at"):
        call_command("import_csv", "warehouses", str(tmp_path / "missing.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="Nothing was imported: The file is empty"):
        call_command("import_csv", "warehouses", str(empty))


def test_stock_export_carries_the_location_and_imports_back(tmp_path, manager):
    tpe = WarehouseFactory(code="TPE")
    tea = ProductFactory(sku="TEA")
    services.stock_receive(product=tea, warehouse=tpe, quantity=3, actor=None)
    services.stock_location_set(product=tea, warehouse=tpe, location="A-03-2", actor=None)
    path = tmp_path / "stock.csv"
    call_command("export_csv", "stock", "--output", str(path))
    rows = list(csv.DictReader(open(path, encoding="utf-8-sig", newline="")))
    assert [(row["sku"], row["warehouse"], row["on_hand"], row["location"]) for row in rows] == [("TEA", "TPE", "3", "A-03-2")]
    services.stock_location_set(product=tea, warehouse=tpe, location="", actor=None)
    report = run("stock", "sku,warehouse,on_hand,location\nTEA,TPE,3,A-03-2\n", actor=manager)
    assert report.written and StockLevel.objects.get().location == "A-03-2"

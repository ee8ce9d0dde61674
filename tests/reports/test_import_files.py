"""reports.imports: reading CSV and XLSX files, refusing the ones that cannot be
trusted as a whole, and run_import's all-or-nothing contract. The warehouses kind
is the simplest importer, so it stands in for all of them here."""

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from inventory.models import Warehouse
from reports.imports import ImportFileError, ImportRefused, read_table, run_import
from tests.factories import UserFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

COLUMNS = ("code", "name", "priority")


def csv_file(text, name="warehouses.csv", encoding="utf-8"):
    return SimpleUploadedFile(name, text.encode(encoding) if isinstance(text, str) else text)


def xlsx_file(rows, *, text_cells=(), name="warehouses.xlsx"):
    """A workbook of `rows`; `text_cells` are (row, column) pairs stored as text even
    when they start with "=" (openpyxl would otherwise write a formula)."""
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for row, column in text_cells:
        sheet.cell(row=row, column=column).data_type = "s"
    out = io.BytesIO()
    workbook.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def import_warehouses(file, **kwargs):
    kwargs.setdefault("actor", None)
    kwargs.setdefault("dry_run", False)
    return run_import("warehouses", file, **kwargs)


def refused(file, match):
    """Assert the file is refused as a whole with `match` in the message and nothing is written."""
    before = Warehouse.objects.count()
    with pytest.raises(ImportFileError, match=match):
        import_warehouses(file)
    assert Warehouse.objects.count() == before


# --- what is read -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"code,name,priority\nTPE,Taipei,1\nKHH,Kaohsiung,2\n",
        b"\xef\xbb\xbfcode,name,priority\r\nTPE,Taipei,1\r\nKHH,Kaohsiung,2\r\n",  # Excel's CSV UTF-8
        b"code,name,priority\rTPE,Taipei,1\rKHH,Kaohsiung,2",  # old Mac line endings, no final one
        b"code,name,priority\n\nTPE,Taipei,1\n,,\nKHH,Kaohsiung,2\n\n",  # blank rows are left out
        b" Code , NAME ,priority\nTPE , Taipei,1\nKHH,Kaohsiung ,2\n",  # spaces and case in the header
    ],
    ids=["lf", "bom-crlf", "cr", "blank-rows", "spaces"],
)
def test_csv_with_any_line_ending_bom_or_blank_rows_imports_the_same(data):
    report = import_warehouses(csv_file(data))
    assert report.written and not report.errors
    assert dict(Warehouse.objects.values_list("code", "name")) == {"TPE": "Taipei", "KHH": "Kaohsiung"}


def test_row_numbers_are_the_spreadsheets_with_the_header_as_row_1():
    table = read_table(csv_file("code,name,priority\nA,a,1\n\nB,b,2\n"), columns=COLUMNS)
    assert [(row.number, row.cells["code"]) for row in table.rows] == [(2, "A"), (4, "B")]


def test_quoted_cells_keep_their_commas_and_line_breaks():
    table = read_table(csv_file('code,name,priority\nA,"North, Hall 2\nDock 5",1\n'), columns=COLUMNS)
    assert table.rows[0].cells["name"] == "North, Hall 2\nDock 5"


def test_columns_may_come_in_any_order():
    import_warehouses(csv_file("priority,code,name\n3,TPE,Taipei\n"))
    assert Warehouse.objects.get().priority == 3


def test_a_formula_like_text_is_stored_as_that_exact_text():
    report = import_warehouses(csv_file('code,name,priority\nTPE,"=HYPERLINK(""x"")",1\n'))
    assert report.written
    assert Warehouse.objects.get().name == '=HYPERLINK("x")'


def test_xlsx_imports_values_of_every_type_as_text():
    report = import_warehouses(
        xlsx_file([["code", "name", "priority"], ["TPE", "Taipei", 1], ["KHH", "=HYPERLINK(\"x\")", 2.0]], text_cells=[(3, 2)])
    )
    assert report.written and not report.errors
    assert dict(Warehouse.objects.values_list("code", "priority")) == {"TPE": 1, "KHH": 2}
    assert Warehouse.objects.get(code="KHH").name == '=HYPERLINK("x")'


def test_xlsx_with_a_formula_is_refused_naming_the_cell():
    file = xlsx_file([["code", "name", "priority"], ["TPE", "Taipei", 1], ["KHH", "Kaohsiung", "=1+1"]])
    refused(file, r"Cell C3 holds a formula")


def test_xlsx_names_every_formula_cell_up_to_ten():
    rows = [["code", "name", "priority"]] + [[f"W{n}", "=UPPER(\"x\")", "=1+1"] for n in range(8)]
    with pytest.raises(ImportFileError) as refusal:
        import_warehouses(xlsx_file(rows))
    assert "B2, C2, B3, C3" in str(refusal.value) and "and 6 more" in str(refusal.value)
    assert not Warehouse.objects.exists()


# --- files refused as a whole -------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \n\r\n"], ids=["nothing", "bom-only", "blank-lines"])
def test_an_empty_file_is_refused(data):
    refused(csv_file(data), "The file is empty")


def test_a_header_without_rows_is_refused():
    refused(csv_file("code,name,priority\n\n"), "no rows to import")


def test_a_file_over_the_size_limit_is_refused(settings):
    WarehouseFactory(code="KEEP")
    settings.IMPORT_MAX_BYTES = 30
    refused(csv_file("code,name,priority\nTPE,Taipei,1\nKHH,Kaohsiung,2\n"), r"at most 30\xa0bytes can be imported")


def test_a_file_over_the_size_limit_is_refused_without_a_size_attribute(settings):
    settings.IMPORT_MAX_BYTES = 30
    file = io.BytesIO(b"code,name,priority\nTPE,Taipei,1\nKHH,Kaohsiung,2\n")
    with pytest.raises(ImportFileError, match="Split it into smaller files"):
        run_import("warehouses", file, actor=None, dry_run=False, name="warehouses.csv")
    assert not Warehouse.objects.exists()


def test_a_big5_file_is_refused_asking_for_utf8():
    refused(csv_file("code,name,priority\nTPE,台北倉,1\n", encoding="big5"), "not UTF-8 text.*Save it as UTF-8")


@pytest.mark.parametrize("name", ["warehouses.xls", "warehouses.txt", "warehouses", "warehouses.csv.exe"])
def test_only_csv_and_xlsx_are_read(name):
    refused(csv_file("code,name,priority\nTPE,Taipei,1\n", name=name), r"Only \.csv and \.xlsx files")


def test_a_damaged_workbook_is_refused():
    refused(SimpleUploadedFile("warehouses.xlsx", b"PK\x03\x04 not really a zip"), "not an XLSX workbook")


@pytest.mark.parametrize(
    "header, message",
    [
        ("code,name", r"missing priority"),
        ("code,name,priority,colour", r"unexpected colour"),
        ("code,title,priority", r"missing name; unexpected title"),
        ("code,name,priority,code", r"repeated code"),
        ("TPE,Taipei,1", r"missing code, name, priority; unexpected tpe, taipei, 1"),
    ],
)
def test_a_wrong_or_missing_header_is_refused_naming_the_columns(header, message):
    refused(csv_file(f"{header}\nTPE,Taipei,1\n"), message)


def test_a_semicolon_separated_file_is_told_to_use_commas():
    refused(csv_file("code;name;priority\nTPE;Taipei;1\n"), "Separate the columns with commas")


def test_a_row_with_more_cells_than_the_header_is_refused_by_row():
    report = import_warehouses(csv_file("code,name,priority\nTPE,Taipei,1\nKHH,Kaohsiung, South,2\nTXG,Taichung,3\n"))
    assert not report.written
    assert [(error.row, error.column) for error in report.errors] == [(3, "")]
    assert "4 cells but the header has 3 columns" in report.errors[0].reason
    assert not Warehouse.objects.exists()


def test_empty_cells_right_of_the_table_are_ignored():
    report = import_warehouses(csv_file("code,name,priority,,\nTPE,Taipei,1,,\n"))
    assert report.written and Warehouse.objects.count() == 1


def test_a_short_row_has_its_missing_cells_blank():
    report = import_warehouses(csv_file("code,name,priority\nTPE\n"))
    assert [(error.row, error.column) for error in report.errors] == [(2, "name")]


# --- run_import -------------------------------------------------------------------------------------


def test_every_bad_row_is_reported_and_nothing_is_written():
    report = import_warehouses(csv_file("code,name,priority\nTPE,Taipei,1\n,Nowhere,2\nKHH,,x\nTXG,Taichung,-1\n"))
    assert not report.written
    assert [(error.row, error.column) for error in report.errors] == [
        (3, "code"),
        (4, "name"),
        (4, "priority"),
        (5, "priority"),
    ]
    assert str(report.errors[2]) == "row 4, column priority: “x” is not a whole number."
    assert not Warehouse.objects.exists()


def test_a_dry_run_reports_and_writes_nothing():
    report = import_warehouses(csv_file("code,name,priority\nTPE,Taipei,1\n"), dry_run=True)
    assert report.ok and report.created == ["TPE – Taipei"] and not report.written
    assert not Warehouse.objects.exists()


def test_a_refusal_during_the_write_rolls_everything_back(monkeypatch):
    from reports.registry import importer

    warehouses = importer("warehouses")
    original = warehouses.write

    def write_then_refuse(plan, *, actor):
        original(plan, actor=actor)
        raise ImportRefused("someone changed the data")

    monkeypatch.setattr(warehouses, "write", write_then_refuse)
    report = import_warehouses(csv_file("code,name,priority\nTPE,Taipei,1\n"))
    assert report.refusal == "someone changed the data" and not report.written and not report.ok
    assert not Warehouse.objects.exists()


def test_only_users_who_may_import_data_run_an_import(manager, warehouse_user, service_user):
    data = "code,name,priority\nTPE,Taipei,1\n"
    for user in (warehouse_user, service_user, UserFactory(), UserFactory(is_active=False, is_superuser=True)):
        with pytest.raises(PermissionDenied):
            import_warehouses(csv_file(data), actor=user)
    assert not Warehouse.objects.exists()
    assert import_warehouses(csv_file(data), actor=manager).written


def test_an_unknown_kind_is_a_lookup_error():
    with pytest.raises(LookupError):
        run_import("planets", csv_file("a\n1\n"), actor=None, dry_run=True)

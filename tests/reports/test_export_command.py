"""export_csv KIND [--status S] [--since DATE] [--until DATE] [--output PATH]."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def run(*args, capture=None):
    """The CSV the command writes to --output, as rows of dicts."""
    call_command("export_csv", *args, stderr=io.StringIO())
    return list(csv.DictReader(open(capture, encoding="utf-8", newline="")))


@pytest.mark.parametrize("kind", ["orders", "order-lines", "shipments", "stock", "movements"])
def test_each_kind_writes_a_csv_with_a_header(tmp_path, kind):
    OrderFactory(shipped=True)
    path = tmp_path / f"{kind}.csv"
    rows = run(kind, "--output", str(path), capture=path)
    assert rows, kind
    assert path.read_bytes().splitlines()[0].decode().count(",") >= 3


def test_status_since_and_until(tmp_path):
    shipped = OrderFactory(shipped=True)
    OrderFactory()
    path = tmp_path / "out.csv"
    assert [r["number"] for r in run("orders", "--status", "shipped", "--output", str(path), capture=path)] == [
        shipped.number
    ]
    today = shipped.placed_at.astimezone().date().isoformat()
    assert len(run("orders", "--since", today, "--until", today, "-o", str(path), capture=path)) == 2
    assert run("orders", "--until", "2000-01-01", "-o", str(path), capture=path) == []
    assert len(run("shipments", "--status", "shipped", "-o", str(path), capture=path)) == 1


def test_writes_to_standard_output(capfdbinary):
    order = OrderFactory()
    call_command("export_csv", "orders")
    assert order.number.encode() in capfdbinary.readouterr().out


def test_formula_cells_are_neutralised(tmp_path):
    OrderFactory(customer=CustomerFactory(name="@SUM(1+1)"))
    path = tmp_path / "out.csv"
    assert run("orders", "-o", str(path), capture=path)[0]["customer_name"] == "'@SUM(1+1)"


def test_without_personal_data(tmp_path):
    OrderFactory()
    path = tmp_path / "out.csv"
    row = run("orders", "--no-personal-data", "-o", str(path), capture=path)[0]
    assert "customer_email" not in row and "ship_address1" not in row


@pytest.mark.parametrize(
    "args, message",
    [
        (["orders", "--since", "2026/11/01"], "--since: Enter the date as YYYY-MM-DD"),
        (["orders", "--status", "lost"], "--status"),
        (["orders", "--since", "2026-11-10", "--until", "2026-11-01"], "--until: The end date is before the start date"),
        (["stock", "--since", "2026-11-01"], "--since does not apply to stock"),
        (["stock", "--status", "new"], "--status does not apply to stock"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_written(tmp_path, args, message):
    OrderFactory()
    path = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        call_command("export_csv", *args, "--output", str(path))
    assert not path.exists()


def test_movements_status_means_the_kind_of_movement(tmp_path):
    OrderFactory(processing=True)
    path = tmp_path / "out.csv"
    rows = run("movements", "--status", "reserve", "-o", str(path), capture=path)
    assert rows and {row["kind"] for row in rows} == {"reserve"}

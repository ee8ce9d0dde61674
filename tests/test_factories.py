"""The factories build what the services would (an order's own warehouse, stock with
its ledger), and tests/conftest.py fails a test that leaves the ledger unbalanced."""

import textwrap
from pathlib import Path

import pytest
from django.db.models import F

from inventory.models import StockLevel, StockMovement
from orders.models import Order
from tests.factories import (
    OrderFactory,
    ProductFactory,
    StockLevelFactory,
    WarehouseFactory,
)
from tests.utils import assert_ledger_balances, ledger_mismatches

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


# --- OrderFactory and its warehouse ---------------------------------------------------------


@pytest.mark.django_db
def test_an_order_given_a_warehouse_has_it_as_its_own_and_is_stocked_there():
    south = WarehouseFactory(code="SOUTH", priority=9)
    order = OrderFactory(warehouse=south, lines=2, stock=4)
    assert order.warehouse == south
    assert Order.objects.get(pk=order.pk).warehouse == south  # stored, not only set
    levels = StockLevel.objects.filter(product__order_lines__order=order)
    assert sorted((level.warehouse.code, level.on_hand) for level in levels) == [("SOUTH", 4), ("SOUTH", 4)]


@pytest.mark.django_db
def test_an_order_given_a_warehouse_reserves_there_even_when_another_comes_first():
    WarehouseFactory(code="MAIN", priority=1)
    south = WarehouseFactory(code="SOUTH", priority=9)
    order = OrderFactory(warehouse=south, processing=True)
    assert order.warehouse == south
    assert {(m.warehouse.code, m.kind) for m in order.stock_movements.all()} == {("SOUTH", "reserve")}


@pytest.mark.django_db
def test_an_order_without_a_warehouse_has_none_until_its_stock_is_reserved():
    order = OrderFactory()
    assert order.warehouse is None
    assert StockLevel.objects.get(product=order.lines.get().product).warehouse.code == "MAIN"
    assert OrderFactory(processing=True).warehouse.code == "MAIN"


# --- stock through the services -----------------------------------------------------------


@pytest.mark.django_db
def test_factory_stock_is_received_through_the_ledger():
    level = StockLevelFactory(on_hand=7)
    assert list(level.product.movements.values_list("kind", "on_hand_delta", "reserved_delta")) == [("receipt", 7, 0)]
    order = OrderFactory(stock=3)
    receipt = order.lines.get().product.movements.get()
    assert (receipt.kind, receipt.on_hand_delta, receipt.order) == ("receipt", 3, None)
    assert ledger_mismatches() == {}


@pytest.mark.django_db
def test_a_reserved_quantity_is_reserved_for_an_order_by_the_workflow():
    level = StockLevelFactory(on_hand=20, reserved=15)
    assert (level.on_hand, level.reserved, level.available) == (20, 15, 5)
    reservation = level.product.movements.get(kind="reserve")
    assert reservation.reserved_delta == 15 and reservation.order.warehouse == level.warehouse
    assert reservation.order.status == "processing"
    assert ledger_mismatches() == {}


@pytest.mark.django_db
def test_a_zero_level_has_no_movement_and_an_existing_one_is_not_overwritten():
    level = StockLevelFactory(on_hand=0)
    assert (level.on_hand, level.reserved) == (0, 0) and not StockMovement.objects.exists()
    with pytest.raises(ValueError, match="already has a stock row"):
        StockLevelFactory(product=level.product, warehouse=level.warehouse)
    with pytest.raises(ValueError, match="reserved"):
        StockLevelFactory(on_hand=1, reserved=2)


# --- the ledger check ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.ledger_unbalanced  # corrupts the ledger on purpose, to see it caught
def test_the_check_lists_every_level_that_differs_from_its_movements():
    assert_ledger_balances()  # balanced to start with
    tea = StockLevelFactory(product=ProductFactory(sku="TEA"), warehouse=WarehouseFactory(code="TPE"), on_hand=5)
    StockLevelFactory(product=ProductFactory(sku="CUP"), warehouse=tea.warehouse, on_hand=5)
    StockLevel.objects.filter(pk=tea.pk).update(on_hand=F("on_hand") + 2, reserved=1)
    StockLevel.objects.create(product=ProductFactory(sku="POT"), warehouse=tea.warehouse, on_hand=3)

    with pytest.raises(AssertionError) as failure:
        assert_ledger_balances()
    message = str(failure.value)
    assert "2 stock level(s) differ" in message
    assert "TEA @ TPE: stock level on_hand=7 reserved=1, movements sum to on_hand=5 reserved=0" in message
    assert "POT @ TPE: stock level on_hand=3 reserved=0, movements sum to on_hand=0 reserved=0" in message
    assert "CUP" not in message


INNER_TESTS = '''
    import pytest
    from django.db.models import F

    from inventory.models import StockLevel
    from tests.factories import ProductFactory, StockLevelFactory


    def unbalance():
        level = StockLevelFactory(product=ProductFactory(sku="ODD-1"), on_hand=3)
        StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + 4)


    @pytest.mark.django_db
    def test_writes_a_level_without_its_movement():
        unbalance()


    @pytest.mark.django_db(transaction=True)
    def test_writes_a_level_without_its_movement_and_commits():
        unbalance()


    def test_with_the_db_fixture(db):
        unbalance()


    @pytest.mark.django_db
    @pytest.mark.ledger_unbalanced
    def test_marked_as_unbalancing_on_purpose():
        unbalance()


    @pytest.mark.django_db
    def test_balanced():
        StockLevelFactory(on_hand=3)


    @pytest.mark.django_db
    def test_failing_for_its_own_reason():
        unbalance()
        assert False, "its own reason"


    def test_without_the_database():
        pass
'''


def test_the_fixture_fails_a_test_that_leaves_the_ledger_unbalanced(pytester, monkeypatch):
    """The suite's own conftest, run over tests that unbalance the ledger: each one
    errors at teardown naming the row, unless marked ledger_unbalanced or failed already."""
    pytester.makeini(
        """
        [pytest]
        DJANGO_SETTINGS_MODULE = fulfilment_site.settings
        markers =
            ledger_unbalanced: the test leaves an unbalanced ledger on purpose
        """
    )
    pytester.makeconftest('pytest_plugins = ["tests.conftest"]')
    pytester.makepyfile(test_inner=textwrap.dedent(INNER_TESTS))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("DATABASE_URL", "sqlite://:memory:")  # not the outer run's test database
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "--strict-markers")
    result.assert_outcomes(passed=6, failed=1, errors=3)
    errors = sorted(line.split(" ")[1] for line in result.stdout.lines if line.startswith("ERROR test_inner.py"))
    assert errors == [
        "test_inner.py::test_with_the_db_fixture",
        "test_inner.py::test_writes_a_level_without_its_movement",
        "test_inner.py::test_writes_a_level_without_its_movement_and_commits",
    ]
    result.stdout.fnmatch_lines(["*ODD-1 @ WH*: stock level on_hand=7 reserved=0, movements sum to on_hand=3 reserved=0"])
    failed = [line for line in result.stdout.lines if line.startswith("FAILED test_inner.py")]
    assert len(failed) == 1 and "test_failing_for_its_own_reason - AssertionError: its o" in failed[0]

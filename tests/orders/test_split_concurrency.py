"""Two staff splitting the same order at once, with real threads and transactions on
PostgreSQL: the order lock serialises them, so never more is moved than there was,
each backorder gets its own number, and the reservation follows what stays."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from inventory import services as stock
from inventory.models import StockLevel
from orders import services
from orders.exceptions import WorkflowError
from orders.models import Order, OrderEvent, OrderLine, OrderStatus, PaymentStatus
from tests.factories import CustomerFactory, ProductFactory, WarehouseFactory, order_to, warehouse_user
from tests.utils import ledger_mismatches, race, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def processing_order(product, quantity, *, number):
    customer = CustomerFactory()
    order = services.order_create(
        number=number,
        customer=customer,
        lines=[{"product": product, "quantity": quantity, "unit_price": Decimal("50")}],
        payment_status=PaymentStatus.PAID,
        ship_name=customer.name,
        ship_phone="0912-345-678",
        ship_address1="1 Road",
        ship_city="Taipei",
    )
    return order_to(order, OrderStatus.PROCESSING)


def units(product):
    return OrderLine.objects.filter(product=product).aggregate(total=Sum("quantity"))["total"]


def test_two_staff_moving_more_than_there_is_at_once_move_it_once():
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    first_user, second_user = warehouse_user(), warehouse_user()
    for attempt in range(5):
        product = ProductFactory()
        stock.stock_receive(product=product, warehouse=warehouse, quantity=5, actor=None)
        order = processing_order(product, 5, number=f"SPLIT-{attempt}")
        line_id = order.lines.get().pk
        # Each saw the line of 5 and moves 3 of them.
        seen_by_first, seen_by_second = Order.objects.get(pk=order.pk), Order.objects.get(pk=order.pk)

        outcomes = race(
            lambda: services.order_split(order=seen_by_first, actor=first_user, lines={line_id: 3}),
            lambda: services.order_split(order=seen_by_second, actor=second_user, lines={line_id: 3}),
        )

        assert sorted(kind for kind, _value in outcomes) == ["error", "ok"], outcomes
        error = next(value for kind, value in outcomes if kind == "error")
        assert isinstance(error, WorkflowError) and str(error) == f"Move a whole number between 1 and 2 of {product.sku}."
        assert units(product) == 5  # never more moved than there was
        assert list(Order.objects.filter(split_from=order).values_list("number", flat=True)) == [f"SPLIT-{attempt}-B1"]
        assert order.lines.get().quantity == 2
        assert order.events.filter(kind=OrderEvent.Kind.SPLIT).count() == 1
        assert StockLevel.objects.get(product=product).reserved == 2
    assert ledger_mismatches() == {}


def test_two_splits_that_both_fit_get_their_own_numbers():
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    first_user, second_user = warehouse_user(), warehouse_user()
    for attempt in range(5):
        product = ProductFactory()
        stock.stock_receive(product=product, warehouse=warehouse, quantity=5, actor=None)
        order = processing_order(product, 5, number=f"BOTH-{attempt}")
        line_id = order.lines.get().pk

        outcomes = race(
            lambda: services.order_split(order=order, actor=first_user, lines={line_id: 2}),
            lambda: services.order_split(order=order, actor=second_user, lines={line_id: 2}),
        )

        assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
        assert sorted(value.number for _kind, value in outcomes) == [f"BOTH-{attempt}-B1", f"BOTH-{attempt}-B2"]
        assert order.lines.get().quantity == 1 and units(product) == 5
        assert StockLevel.objects.get(product=product).reserved == 1
        assert Order.objects.get(pk=order.pk).total == Decimal("50")
    assert ledger_mismatches() == {}

"""Returns raced from real threads on PostgreSQL (issue 10, item 6): two staff
receiving the same return at once, two agents opening returns of the last units at
once, and a return received while customer service opens another. Each thread has
its own connection; the order row is locked first (orders/services.py, "Lock order")."""

import pytest

from inventory.models import StockLevel, StockMovement
from orders.exceptions import StaleAction
from orders.models import OrderEvent, OrderStatus, Refund, ReturnState
from shipping.exceptions import ShippingError
from shipping.models import Return
from shipping.returns import return_open, return_receive, returned_quantities
from tests.factories import OrderFactory, service_user, warehouse_user
from tests.utils import ledger_mismatches, race, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_staff_receiving_the_same_return_at_once_receive_it_once():
    order = OrderFactory(shipped=True, lines=1, quantity=3)
    line = order.lines.get()
    record = return_open(order=order, actor=None, lines={line.pk: 3}, reason="Wrong size")
    outcomes = {record.lines.get().pk: "restocked"}
    first, second = warehouse_user(), warehouse_user()
    level = StockLevel.objects.get(product_id=line.product_id)
    before = level.on_hand

    outcomes_of = race(
        lambda: return_receive(return_record=record, actor=first, outcomes=outcomes),
        lambda: return_receive(return_record=record, actor=second, outcomes=outcomes),
    )

    kinds = sorted(kind for kind, _value in outcomes_of)
    assert kinds == ["error", "ok"], outcomes_of
    [error] = [value for kind, value in outcomes_of if kind == "error"]
    assert isinstance(error, StaleAction) and "has already been received" in str(error)
    level.refresh_from_db()
    assert level.on_hand == before + 3  # restocked once
    assert StockMovement.objects.filter(order=order, kind=StockMovement.Kind.RETURN).count() == 1
    assert Refund.objects.filter(order=order).count() == 1
    assert order.events.filter(kind=OrderEvent.Kind.RETURN, data__action="received").count() == 1
    order.refresh_from_db()
    assert (order.status, order.return_state) == (OrderStatus.RETURNED, ReturnState.FULLY)
    assert not ledger_mismatches()


def test_two_agents_returning_the_last_units_at_once_open_one_return():
    order = OrderFactory(shipped=True, lines=1, quantity=2)
    line = order.lines.get()
    first, second = service_user(), service_user()

    outcomes_of = race(
        lambda: return_open(order=order, actor=first, lines={line.pk: 2}, reason="Broken"),
        lambda: return_open(order=order, actor=second, lines={line.pk: 2}, reason="Broken"),
    )

    kinds = sorted(kind for kind, _value in outcomes_of)
    assert kinds == ["error", "ok"], outcomes_of
    [error] = [value for kind, value in outcomes_of if kind == "error"]
    assert isinstance(error, ShippingError) and "at most 0 (2 shipped, 2 already in returns)" in str(error)
    assert Return.objects.filter(order=order).count() == 1
    assert returned_quantities(order) == {line.pk: 2}


def test_receiving_one_return_while_another_is_opened_keeps_the_counts():
    order = OrderFactory(shipped=True, lines=2, quantity=2)
    one, two = order.lines.order_by("pk")
    record = return_open(order=order, actor=None, lines={one.pk: 2}, reason="Broken")
    receiver, agent = warehouse_user(), service_user()

    outcomes_of = race(
        lambda: return_receive(return_record=record, actor=receiver, outcomes={record.lines.get().pk: "damaged"}),
        lambda: return_open(order=order, actor=agent, lines={two.pk: 2}, reason="Too small"),
    )

    assert [kind for kind, _value in outcomes_of] == ["ok", "ok"], outcomes_of
    order.refresh_from_db()
    # Whichever came first, one return is received and one is open: partly returned.
    assert (order.status, order.return_state) == (OrderStatus.SHIPPED, ReturnState.PARTLY)
    assert sorted(Return.objects.filter(order=order).values_list("status", flat=True)) == ["open", "received"]

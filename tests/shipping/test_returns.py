"""Returns as records (issue 10, item 6): shipping.returns.return_open and
return_receive, every rule and each refusal's message. The race of two staff
receiving the same return is in tests/test_concurrency.py."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from inventory.models import StockLevel, StockMovement
from orders import services as orders
from orders.exceptions import StaleAction
from orders.models import OrderEvent, OrderStatus, PaymentStatus, Refund, ReturnState
from shipping.exceptions import ShippingError
from shipping.models import Return, ReturnLine
from shipping.returns import return_open, return_receive, returned_quantities
from tests.factories import OrderFactory, return_everything

pytestmark = pytest.mark.django_db

S = OrderStatus
E = OrderEvent.Kind


def on_hand(line):
    return StockLevel.objects.get(product_id=line.product_id, warehouse__code="MAIN").on_hand


def state(order):
    """What a refused action must leave as it was."""
    order = type(order).objects.get(pk=order.pk)
    return {
        "order": (order.status, order.return_state),
        "returns": list(Return.objects.filter(order=order).values_list("pk", "status")),
        "lines": list(ReturnLine.objects.filter(return_record__order=order).values_list("pk", "quantity", "outcome")),
        "events": order.events.count(),
        "movements": StockMovement.objects.count(),
        "refunds": Refund.objects.filter(order=order).count(),
    }


def two_line_order(**kwargs):
    """Shipped: 3 of the first line, 3 of the second, at 120.00 each."""
    order = OrderFactory(shipped=True, lines=2, quantity=3, **kwargs)
    first, second = order.lines.order_by("pk")
    return order, first, second


# --- opening a return -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED, S.COMPLETED])
def test_a_return_is_opened_on_a_shipped_delivered_or_completed_order(status, service_user):
    order = OrderFactory(status=status, lines=2, quantity=3)
    first, second = order.lines.order_by("pk")
    stock_before = on_hand(first)

    record = return_open(order=order, actor=service_user, lines={first.pk: 2}, reason="Too small")

    assert (record.status, record.reason, record.opened_by) == (Return.Status.OPEN, "Too small", service_user)
    assert [(line.order_line, line.quantity, line.outcome) for line in record.lines.all()] == [(first, 2, "")]
    # Nothing moves until the warehouse receives it; the order stays where it was.
    assert on_hand(first) == stock_before
    order.refresh_from_db()
    assert (order.status, order.return_state) == (status, ReturnState.NONE)
    event = order.events.order_by("-id").first()
    assert (event.kind, event.actor, event.message) == (E.RETURN, service_user, "Too small")
    assert event.data == {"action": "opened", "return": record.pk, "lines": [[first.sku, 2]]}
    assert event.describe() == f"Return #{record.pk} opened: 2 × {first.sku}: Too small"


@pytest.mark.parametrize("status", [S.NEW, S.PROCESSING, S.PACKED, S.ON_HOLD, S.CANCELLED, S.RETURNED])
def test_a_return_is_refused_before_shipping_and_after_everything_came_back(status, service_user):
    if status == S.ON_HOLD:
        order = orders.order_hold(order=OrderFactory(), actor=None, reason="Wait")
    elif status == S.CANCELLED:
        order = orders.order_cancel(order=OrderFactory(), actor=None, reason="Duplicate")
    elif status == S.RETURNED:
        order = return_everything(OrderFactory(shipped=True))
    else:
        order = OrderFactory(status=status)
    before = state(order)
    with pytest.raises(ShippingError, match=f"Order {order.number} is .*; a return is opened on a shipped"):
        return_open(order=order, actor=service_user, lines={order.lines.get().pk: 1}, reason="Changed mind")
    assert state(order) == before


@pytest.mark.parametrize("quantity", [0, -1, "2", True, 1.5, None])
def test_each_quantity_is_a_whole_number_of_at_least_one(quantity, service_user):
    order, first, _second = two_line_order()
    before = state(order)
    with pytest.raises(ShippingError, match=f"Return a whole number of at least 1 of {first.sku}"):
        return_open(order=order, actor=service_user, lines={first.pk: quantity}, reason="Broken")
    assert state(order) == before


@pytest.mark.parametrize("lines", [{}, None])
def test_at_least_one_line(lines, service_user):
    order, _first, _second = two_line_order()
    before = state(order)
    with pytest.raises(ShippingError, match="Choose at least one line"):
        return_open(order=order, actor=service_user, lines=lines, reason="Broken")
    assert state(order) == before


def test_a_line_of_another_order_or_no_id_is_refused(service_user):
    order, _first, _second = two_line_order()
    other = OrderFactory(shipped=True)
    before = state(order)
    for key in (other.lines.get().pk, "²", "abc", 0):
        with pytest.raises(ShippingError, match=f"A line to return is not on order {order.number}"):
            return_open(order=order, actor=service_user, lines={key: 1}, reason="Broken")
    assert state(order) == before


def test_a_line_id_as_text_is_read(service_user):
    order, first, _second = two_line_order()
    record = return_open(order=order, actor=service_user, lines={str(first.pk): 1}, reason="Broken")
    assert record.lines.get().order_line == first


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_a_reason_is_required_and_at_most_2000_characters(reason, service_user):
    order, first, _second = two_line_order()
    before = state(order)
    with pytest.raises(ShippingError, match="Give a reason to start a return|at most 2000 characters"):
        return_open(order=order, actor=service_user, lines={first.pk: 1}, reason=reason)
    assert state(order) == before


def test_never_more_than_shipped(service_user):
    order, first, _second = two_line_order()
    before = state(order)
    with pytest.raises(
        ShippingError,
        match=rf"{first.sku}: 4 is more than can be returned; at most 3 \(3 shipped, 0 already in returns\)",
    ):
        return_open(order=order, actor=service_user, lines={first.pk: 4}, reason="Broken")
    assert state(order) == before


def test_a_second_return_is_refused_beyond_what_shipped(service_user, warehouse_user):
    order, first, second = two_line_order()
    opened = return_open(order=order, actor=service_user, lines={first.pk: 2, second.pk: 1}, reason="Too small")
    # Open returns count: 1 of the first line is left, whether received or not.
    before = state(order)
    with pytest.raises(ShippingError, match=rf"{first.sku}: 2 is more than can be returned; at most 1 \(3 shipped, 2 already"):
        return_open(order=order, actor=service_user, lines={first.pk: 2}, reason="Again")
    assert state(order) == before
    return_receive(
        return_record=opened, actor=warehouse_user, outcomes={line.pk: "restocked" for line in opened.lines.all()}
    )
    with pytest.raises(ShippingError, match=rf"{first.sku}: 2 is more than can be returned; at most 1 \(3 shipped, 2 already"):
        return_open(order=order, actor=service_user, lines={first.pk: 2}, reason="Again")

    second_return = return_open(order=order, actor=service_user, lines={first.pk: 1, second.pk: 2}, reason="Again")

    assert returned_quantities(order) == {first.pk: 3, second.pk: 3}
    with pytest.raises(ShippingError, match=rf"{second.sku}: 1 is more than can be returned; at most 0"):
        return_open(order=order, actor=service_user, lines={second.pk: 1}, reason="Once more")
    assert second_return.status == Return.Status.OPEN


def test_only_customer_service_and_managers_open_returns(warehouse_user, manager):
    order, first, _second = two_line_order()
    before = state(order)
    with pytest.raises(PermissionDenied, match="start returns"):
        return_open(order=order, actor=warehouse_user, lines={first.pk: 1}, reason="Broken")
    assert state(order) == before
    return_open(order=order, actor=manager, lines={first.pk: 1}, reason="Broken")


# --- receiving it -----------------------------------------------------------------------------


def opened(order, lines, actor=None):
    return return_open(order=order, actor=actor, lines=lines, reason="Wrong colour")


def test_back_to_stock_writes_a_ledger_movement_and_damaged_changes_no_stock(service_user, warehouse_user):
    order, first, second = two_line_order()
    record = opened(order, {first.pk: 2, second.pk: 1}, service_user)
    back, broken = record.lines.order_by("pk")
    first_before, second_before = on_hand(first), on_hand(second)
    movements = StockMovement.objects.count()

    record = return_receive(
        return_record=record, actor=warehouse_user, outcomes={back.pk: "restocked", broken.pk: "damaged"}
    )

    assert (record.status, record.received_by) == (Return.Status.RECEIVED, warehouse_user)
    assert record.received_at is not None
    assert list(record.lines.order_by("pk").values_list("outcome", flat=True)) == ["restocked", "damaged"]
    assert (on_hand(first), on_hand(second)) == (first_before + 2, second_before)
    assert StockMovement.objects.count() == movements + 1
    movement = order.stock_movements.get(kind=StockMovement.Kind.RETURN)
    assert (movement.product_id, movement.on_hand_delta, movement.warehouse.code, movement.actor) == (
        first.product_id, 2, "MAIN", warehouse_user,
    )  # fmt: skip
    assert movement.note == f"Return #{record.pk}: Wrong colour"
    received = order.events.get(kind=E.RETURN, data__action="received")
    assert received.actor == warehouse_user
    assert received.data["lines"] == [[first.sku, 2, "restocked"], [second.sku, 1, "damaged"]]
    assert received.describe() == (
        f"Return #{record.pk} received: 2 × {first.sku} back to stock; 1 × {second.sku} damaged (no stock change)"
    )
    stock_event = order.events.get(kind=E.STOCK, data__action="return")
    assert stock_event.data == {"action": "return", "warehouse": "MAIN", "lines": [[first.sku, 2]]}
    order.refresh_from_db()
    assert (order.status, order.return_state) == (S.SHIPPED, ReturnState.PARTLY)


def test_every_damaged_writes_no_movement_and_no_stock_event(warehouse_user):
    order, first, _second = two_line_order()
    record = opened(order, {first.pk: 1})
    before = on_hand(first)
    movements = StockMovement.objects.count()
    return_receive(return_record=record, actor=warehouse_user, outcomes={record.lines.get().pk: "damaged"})
    assert on_hand(first) == before and StockMovement.objects.count() == movements
    assert not order.events.filter(kind=E.STOCK, data__action="return").exists()


def test_partial_then_full_moves_the_order_to_returned(warehouse_user):
    order, first, second = two_line_order(status=S.DELIVERED)
    record = opened(order, {first.pk: 3})
    return_receive(return_record=record, actor=warehouse_user, outcomes={record.lines.get().pk: "restocked"})
    order.refresh_from_db()
    assert (order.status, order.return_state) == (S.DELIVERED, ReturnState.PARTLY)
    # An open return is no return yet: still partly returned.
    rest = opened(order, {second.pk: 3})
    order.refresh_from_db()
    assert order.return_state == ReturnState.PARTLY

    return_receive(return_record=rest, actor=warehouse_user, outcomes={rest.lines.get().pk: "damaged"})

    order.refresh_from_db()
    assert (order.status, order.return_state) == (S.RETURNED, ReturnState.FULLY)
    transition = order.events.filter(kind=E.TRANSITION).order_by("-id").first()
    assert transition.data == {"from": S.DELIVERED, "to": S.RETURNED}
    assert (transition.actor, transition.message) == (warehouse_user, "Wrong colour")


def test_every_line_needs_an_outcome(warehouse_user):
    order, first, second = two_line_order()
    record = opened(order, {first.pk: 1, second.pk: 1})
    one, two = record.lines.order_by("pk")
    before = state(order)
    for outcomes in ({one.pk: "restocked"}, {one.pk: "restocked", two.pk: ""}, {one.pk: "lost", two.pk: "damaged"}, {}):
        with pytest.raises(ShippingError, match=f"Choose “back to stock” or “damaged” for every line of return #{record.pk}"):
            return_receive(return_record=record, actor=warehouse_user, outcomes=outcomes)
    with pytest.raises(ShippingError, match=f"{second.sku}"):
        return_receive(return_record=record, actor=warehouse_user, outcomes={one.pk: "restocked"})
    assert state(order) == before


def test_a_line_not_on_the_return_is_refused(warehouse_user):
    order, first, second = two_line_order()
    record = opened(order, {first.pk: 1})
    other = opened(order, {second.pk: 1})
    before = state(order)
    with pytest.raises(ShippingError, match=f"A line to receive is not on return #{record.pk}"):
        return_receive(
            return_record=record,
            actor=warehouse_user,
            outcomes={record.lines.get().pk: "restocked", other.lines.get().pk: "restocked"},
        )
    assert state(order) == before


def test_a_received_return_is_not_received_again(warehouse_user):
    order, first, _second = two_line_order()
    record = opened(order, {first.pk: 1})
    outcomes = {record.lines.get().pk: "restocked"}
    return_receive(return_record=record, actor=warehouse_user, outcomes=outcomes)
    before = state(order)
    with pytest.raises(StaleAction, match=f"Return #{record.pk} of order {order.number} has already been received"):
        return_receive(return_record=record, actor=warehouse_user, outcomes=outcomes)
    assert state(order) == before


def test_only_warehouse_staff_and_managers_receive_returns(service_user, manager):
    order, first, _second = two_line_order()
    record = opened(order, {first.pk: 1})
    before = state(order)
    with pytest.raises(PermissionDenied, match="receive returns"):
        return_receive(return_record=record, actor=service_user, outcomes={record.lines.get().pk: "restocked"})
    assert state(order) == before
    return_receive(return_record=record, actor=manager, outcomes={record.lines.get().pk: "restocked"})


# --- the refund due ---------------------------------------------------------------------------


def test_a_paid_order_gets_a_refund_of_the_received_units_at_their_price(warehouse_user):
    order, first, second = two_line_order()
    record = opened(order, {first.pk: 2, second.pk: 1})
    one, two = record.lines.order_by("pk")
    record = return_receive(return_record=record, actor=warehouse_user, outcomes={one.pk: "restocked", two.pk: "damaged"})
    refund = record.refund
    assert refund is not None and Return.objects.get(pk=record.pk).refund == refund
    assert (refund.amount, refund.reason, refund.status, refund.created_by) == (
        Decimal("360.00"), Refund.Reason.RETURNED, Refund.Status.DUE, warehouse_user,
    )  # fmt: skip
    assert refund.note == f"Return #{record.pk}"
    event = order.events.get(kind=E.REFUND)
    assert event.data["amount"] == "360.00" and event.data["reason"] == "returned"


def test_an_unpaid_order_gets_no_refund(warehouse_user):
    order, first, _second = two_line_order()
    # Cash on delivery the carrier has not reported collected yet.
    type(order).objects.filter(pk=order.pk).update(payment_status=PaymentStatus.PENDING)
    record = opened(order, {first.pk: 3})
    record = return_receive(return_record=record, actor=warehouse_user, outcomes={record.lines.get().pk: "restocked"})
    assert record.refund is None and not order.refunds.exists()
    assert not order.events.filter(kind=E.REFUND).exists()


def test_the_refund_is_capped_at_what_is_left_to_refund(warehouse_user):
    order, first, second = two_line_order()  # 720.00 paid
    with orders.transaction.atomic():
        orders.refund_open(order=order, amount=Decimal("500.00"), reason=Refund.Reason.CANCELLED, actor=None)
    record = opened(order, {first.pk: 2})  # 240.00 of goods; 220.00 left to refund
    record = return_receive(return_record=record, actor=warehouse_user, outcomes={record.lines.get().pk: "restocked"})
    assert record.refund.amount == Decimal("220.00")

    # Nothing left: no refund at all, the return is still received.
    rest = opened(order, {second.pk: 1})
    rest = return_receive(return_record=rest, actor=warehouse_user, outcomes={rest.lines.get().pk: "restocked"})
    assert rest.status == Return.Status.RECEIVED and rest.refund is None
    assert order.refunds.count() == 2


# --- the timeline, in both languages ------------------------------------------------------------


def test_return_events_describe_themselves_in_chinese_too(warehouse_user):
    order, first, _second = two_line_order()
    record = opened(order, {first.pk: 1})
    return_receive(return_record=record, actor=warehouse_user, outcomes={record.lines.get().pk: "damaged"})
    with translation.override("zh-hant"):
        texts = [event.describe() for event in order.events.filter(kind=E.RETURN)]
    assert len(texts) == 2 and all(first.sku in text for text in texts)

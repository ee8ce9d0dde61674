"""Payment methods, payment references and refunds (issue 10): every rule of
order_mark_paid, the refund a cancellation opens, refunds granted by hand,
refund_mark_refunded and the payment status it leaves, the roles of DESIGN.md
section 5 (only managers record refunds; customer service marks orders paid), the
automatic "Payment confirmed" step for orders paid to the carrier, and the timeline."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from common.text import person_name
from orders import checklist, services, workflow
from orders.exceptions import StaleAction, WorkflowError
from orders.models import Order, OrderEvent, OrderStatus, PaymentMethod, PaymentStatus, Predicate, Refund
from tests.factories import OrderFactory, manager_user, tick_manual_steps

pytestmark = pytest.mark.django_db

S = OrderStatus
M = PaymentMethod


def unpaid(method=M.CARD, **fields):
    return OrderFactory(payment_status=PaymentStatus.PENDING, payment_method=method, **fields)


def fresh(order):
    return Order.objects.get(pk=order.pk)


def payment_events(order):
    return list(order.events.filter(kind=OrderEvent.Kind.PAYMENT))


def refund_events(order):
    return list(order.events.filter(kind=OrderEvent.Kind.REFUND).order_by("id"))


# --- marking paid ---------------------------------------------------------------------


def test_an_atm_transfer_is_marked_paid_with_the_last_five_digits(service_user):
    order = unpaid(M.ATM)
    services.order_mark_paid(order=order, actor=service_user, reference=" 01234 ")
    order = fresh(order)
    assert (order.payment_status, order.payment_reference) == (PaymentStatus.PAID, "01234")
    assert order.paid_at is not None
    (event,) = payment_events(order)
    assert event.actor == service_user
    assert event.data == {"payment_status": "paid", "method": "atm", "reference": "01234"}
    assert event.describe() == "Paid: ATM transfer, reference 01234"


@pytest.mark.parametrize("reference", ["", "1234", "123456", "12a45", "١٢٣٤٥", "12 345"])
def test_an_atm_transfer_without_exactly_five_digits_is_refused_and_nothing_changes(service_user, reference):
    order = unpaid(M.ATM)
    with pytest.raises(WorkflowError) as refusal:
        services.order_mark_paid(order=order, actor=service_user, reference=reference)
    message = str(refusal.value)
    assert f"Order {order.number} was paid by ATM transfer" in message
    assert "last five digits of the account the transfer came from (exactly 5 digits" in message
    if reference:
        assert f"“{reference}” is not 5 digits." in message
    order = fresh(order)
    assert (order.payment_status, order.payment_reference, order.paid_at) == (PaymentStatus.PENDING, "", None)
    assert payment_events(order) == []


def test_a_card_payment_needs_no_reference_but_keeps_one_given(service_user):
    plain, with_code = unpaid(M.CARD), unpaid(M.CARD)
    services.order_mark_paid(order=plain, actor=service_user)
    services.order_mark_paid(order=with_code, actor=service_user, reference="AUTH-778812")
    assert fresh(plain).payment_reference == ""
    assert payment_events(plain)[0].describe() == "Paid: Credit card"
    assert fresh(with_code).payment_reference == "AUTH-778812"
    assert payment_events(with_code)[0].describe() == "Paid: Credit card, reference AUTH-778812"


def test_a_card_reference_over_64_characters_is_refused(service_user):
    order = unpaid(M.CARD)
    with pytest.raises(WorkflowError, match="A reference can be at most 64 characters; this one has 65."):
        services.order_mark_paid(order=order, actor=service_user, reference="x" * 65)
    services.order_mark_paid(order=order, actor=service_user, reference="x" * 64)
    assert fresh(order).payment_reference == "x" * 64


@pytest.mark.parametrize("method", [M.CASH_ON_DELIVERY, M.STORE_PICKUP])
def test_an_order_paid_to_the_carrier_is_not_marked_paid_by_hand(service_user, method):
    order = unpaid(method)
    with pytest.raises(WorkflowError) as refusal:
        services.order_mark_paid(order=order, actor=service_user, reference="12345")
    assert str(refusal.value) == (
        f"Order {order.number} is paid to the carrier ({method.label}): it is paid when the carrier's "
        "delivery report says the cash was collected, not by hand."
    )
    assert fresh(order).payment_status == PaymentStatus.PENDING
    assert not workflow.can_mark_paid(order)


def test_an_order_already_paid_is_refused_as_stale(service_user):
    order = OrderFactory(payment_method=M.ATM)  # paid when it was created
    with pytest.raises(StaleAction, match=f"Order {order.number} is already paid."):
        services.order_mark_paid(order=order, actor=service_user, reference="12345")


def test_a_cancelled_order_or_a_refunded_payment_cannot_be_marked_paid(service_user, manager):
    cancelled = unpaid(M.CARD)
    services.order_cancel(order=cancelled, actor=service_user, reason="Changed their mind")
    with pytest.raises(WorkflowError, match=f"Order {cancelled.number} is Cancelled; its payment cannot change."):
        services.order_mark_paid(order=cancelled, actor=service_user)
    refunded = OrderFactory()
    refund = services.refund_open_by_hand(order=refunded, actor=manager, amount="120", note="Broken on arrival")
    services.refund_mark_refunded(refund=refund, actor=manager, reference="TRF-1")
    assert fresh(refunded).payment_status == PaymentStatus.REFUNDED
    with pytest.raises(WorkflowError, match=f"Order {refunded.number} is Refunded; its payment cannot change."):
        services.order_mark_paid(order=refunded, actor=service_user)


def test_customer_service_and_managers_mark_paid_warehouse_staff_cannot(warehouse_user, service_user, manager):
    order = unpaid(M.CARD)
    with pytest.raises(PermissionDenied, match="You do not have permission to mark orders paid."):
        services.order_mark_paid(order=order, actor=warehouse_user)
    assert fresh(order).payment_status == PaymentStatus.PENDING
    services.order_mark_paid(order=order, actor=service_user)
    other = unpaid(M.ATM)
    services.order_mark_paid(order=other, actor=manager, reference="55555")
    assert fresh(other).payment_status == PaymentStatus.PAID


# --- the automatic "Payment confirmed" step ----------------------------------------------


@pytest.mark.parametrize("method", [M.CASH_ON_DELIVERY, M.STORE_PICKUP])
def test_orders_paid_to_the_carrier_pass_payment_confirmed_and_start_processing_unpaid(method):
    order = unpaid(method)
    passed, hint = checklist.evaluate(Predicate.PAYMENT_CONFIRMED, order)
    assert passed
    assert hint == f"{method.label}: the carrier collects the payment on delivery."
    tick_manual_steps(order)
    order = services.order_advance(order=order, actor=None)
    assert (order.status, fresh(order).payment_status) == (S.PROCESSING, PaymentStatus.PENDING)


@pytest.mark.parametrize("method", [M.CARD, M.ATM])
def test_orders_paid_in_advance_wait_for_their_payment(method):
    order = unpaid(method)
    assert checklist.evaluate(Predicate.PAYMENT_CONFIRMED, order) == (False, "Payment is Pending.")
    tick_manual_steps(order)
    with pytest.raises(WorkflowError, match="Payment confirmed"):
        services.order_advance(order=order, actor=None)


# --- cancelling opens a refund -------------------------------------------------------------


def test_cancelling_a_paid_order_opens_a_refund_due_of_its_total(service_user):
    order = OrderFactory(lines=2, status=S.PROCESSING)  # paid, 2 × 120.00
    services.order_cancel(order=order, actor=service_user, reason="Customer found it cheaper")
    (refund,) = Refund.objects.filter(order=order)
    assert (refund.amount, refund.status, refund.reason) == (Decimal("240.00"), Refund.Status.DUE, "cancelled")
    assert (refund.created_by, refund.note) == (service_user, "Customer found it cheaper")
    (event,) = refund_events(order)
    assert event.describe() == "Refund due: TWD 240.00 (Order cancelled): Customer found it cheaper"
    # The order stays Paid until the money is back.
    assert fresh(order).payment_status == PaymentStatus.PAID
    assert services.refundable_amount(fresh(order)) == 0


def test_cancelling_an_unpaid_order_opens_no_refund(service_user):
    for method in (M.CARD, M.CASH_ON_DELIVERY):
        order = unpaid(method)
        services.order_cancel(order=order, actor=service_user, reason="Never paid")
        assert not Refund.objects.filter(order=order).exists()
        assert refund_events(order) == []


def test_cancelling_after_a_refund_by_hand_opens_only_what_is_left(service_user, manager):
    order = OrderFactory(lines=2)
    services.refund_open_by_hand(order=order, actor=manager, amount="100", note="Late delivery promised")
    services.order_cancel(order=order, actor=service_user, reason="Changed their mind")
    amounts = sorted(Refund.objects.filter(order=order).values_list("reason", "amount"))
    assert amounts == [("cancelled", Decimal("140.00")), ("goodwill", Decimal("100.00"))]


# --- refunds opened by hand and refund_open's refusals -----------------------------------------


def test_a_manager_grants_a_partial_refund_by_hand(manager):
    order = OrderFactory(lines=2, status=S.DELIVERED)
    refund = services.refund_open_by_hand(order=order, actor=manager, amount="50.5", note="Box was dented")
    assert (refund.amount, refund.reason, refund.note, refund.created_by) == (
        Decimal("50.50"), "goodwill", "Box was dented", manager,
    )
    assert refund_events(order)[0].describe() == "Refund due: TWD 50.50 (Granted by hand): Box was dented"
    assert services.refundable_amount(order) == Decimal("189.50")


def test_refunding_more_than_was_paid_is_refused_with_what_is_left(manager):
    order = OrderFactory(lines=2)
    services.refund_open_by_hand(order=order, actor=manager, amount="200", note="First part")
    with pytest.raises(WorkflowError) as refusal:
        services.refund_open_by_hand(order=order, actor=manager, amount="40.01", note="Too much")
    assert str(refusal.value) == (
        f"Order {order.number} can be refunded at most TWD 40.00 more; TWD 40.01 is more than was paid."
    )
    assert Refund.objects.filter(order=order).count() == 1


@pytest.mark.parametrize(
    "amount, message",
    [
        ("0", "A refund must be more than zero."),
        ("-5", "A refund must be more than zero."),
        ("1.005", "A refund is an amount of money: at most two decimals (1.005)."),
        ("abc", "Enter the amount to refund as a number, such as 120 or 120.50; “abc” is not one."),
        ("", "Enter the amount to refund as a number, such as 120 or 120.50; “” is not one."),
        ("NaN", "Enter the amount to refund as a number, such as 120 or 120.50; “NaN” is not one."),
    ],
)
def test_a_refund_by_hand_of_no_amount_of_money_is_refused(manager, amount, message):
    order = OrderFactory()
    with pytest.raises(WorkflowError) as refusal:
        services.refund_open_by_hand(order=order, actor=manager, amount=amount, note="Goodwill")
    assert str(refusal.value) == message
    assert not Refund.objects.exists()


def test_a_refund_by_hand_needs_a_note_and_a_paid_order(manager):
    order = OrderFactory()
    with pytest.raises(WorkflowError, match="Give a reason to refund the customer."):
        services.refund_open_by_hand(order=order, actor=manager, amount="10", note="  ")
    pending = unpaid(M.CARD)
    with pytest.raises(WorkflowError, match=f"Order {pending.number} has not been paid; there is nothing to refund."):
        services.refund_open_by_hand(order=pending, actor=manager, amount="10", note="Goodwill")
    assert not Refund.objects.exists()


def test_refund_open_refuses_an_unknown_reason():
    order = OrderFactory()
    with pytest.raises(ValueError, match="unknown reason"):
        services.refund_open(order=order, amount="10", reason="because", actor=None)


def test_only_managers_grant_refunds_by_hand(warehouse_user, service_user):
    order = OrderFactory()
    for user in (warehouse_user, service_user):
        with pytest.raises(PermissionDenied, match="You do not have permission to record refunds."):
            services.refund_open_by_hand(order=order, actor=user, amount="10", note="Goodwill")
    assert not Refund.objects.exists()


# --- marking refunded ----------------------------------------------------------------------


def cancelled_paid(actor=None, lines=1):
    order = OrderFactory(lines=lines)
    services.order_cancel(order=order, actor=actor, reason="Out of stock at the supplier")
    return order, order.refunds.get()


def test_marking_the_whole_refund_refunded_makes_the_order_refunded(manager):
    order, refund = cancelled_paid(lines=2)
    services.refund_mark_refunded(refund=refund, actor=manager, reference=" TRF-20261203-01 ")
    refund.refresh_from_db()
    assert (refund.status, refund.reference, refund.refunded_by) == ("refunded", "TRF-20261203-01", manager)
    assert refund.refunded_at is not None
    assert fresh(order).payment_status == PaymentStatus.REFUNDED
    event = refund_events(order)[-1]
    assert (event.actor, event.data["payment_status"]) == (manager, "refunded")
    assert event.describe() == "Refunded TWD 240.00, reference TRF-20261203-01"


def test_a_refund_of_part_of_what_was_paid_leaves_the_order_partly_refunded(manager):
    order = OrderFactory(lines=2, status=S.DELIVERED)
    first = services.refund_open_by_hand(order=order, actor=manager, amount="40", note="Dented")
    second = services.refund_open_by_hand(order=order, actor=manager, amount="200", note="The rest, agreed")
    services.refund_mark_refunded(refund=first, actor=manager, reference="A1")
    assert fresh(order).payment_status == PaymentStatus.PARTLY_REFUNDED
    # A refund due does not count until it is made.
    services.refund_mark_refunded(refund=second, actor=manager, reference="A2")
    assert fresh(order).payment_status == PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    "reference, message",
    [
        ("", "Enter the reference of the refund transfer."),
        ("   ", "Enter the reference of the refund transfer."),
        ("R" * 65, "A reference can be at most 64 characters; this one has 65."),
    ],
)
def test_a_refund_needs_a_reference_of_at_most_64_characters(manager, reference, message):
    order, refund = cancelled_paid()
    with pytest.raises(WorkflowError) as refusal:
        services.refund_mark_refunded(refund=refund, actor=manager, reference=reference)
    assert str(refusal.value) == message
    refund.refresh_from_db()
    assert (refund.status, refund.reference, refund.refunded_at) == ("due", "", None)
    assert fresh(order).payment_status == PaymentStatus.PAID


def test_a_refund_already_refunded_is_refused_naming_who_did_it(manager):
    order, refund = cancelled_paid()
    services.refund_mark_refunded(refund=refund, actor=manager, reference="FIRST")
    second_manager = manager_user(first_name="小明", last_name="王")
    with pytest.raises(StaleAction) as refusal:
        services.refund_mark_refunded(refund=refund, actor=second_manager, reference="SECOND")
    assert str(refusal.value) == (
        f"The refund of TWD 120.00 on order {order.number} was already marked refunded by "
        f"{person_name(manager)} (reference FIRST)."
    )
    refund.refresh_from_db()
    assert (refund.reference, refund.refunded_by) == ("FIRST", manager)
    assert len([e for e in refund_events(order) if e.data["action"] == "refunded"]) == 1


def test_only_managers_record_refunds(warehouse_user, service_user):
    order, refund = cancelled_paid()
    for user in (warehouse_user, service_user):
        with pytest.raises(PermissionDenied, match="You do not have permission to record refunds."):
            services.refund_mark_refunded(refund=refund, actor=user, reference="X")
    refund.refresh_from_db()
    assert refund.status == "due"


def test_the_timeline_reads_in_chinese(manager):
    order, refund = cancelled_paid()
    services.refund_mark_refunded(refund=refund, actor=manager, reference="R-9")
    with translation.override("zh-hant"):
        texts = [event.describe() for event in refund_events(order)]
    assert all(texts)
    assert "R-9" in texts[-1]

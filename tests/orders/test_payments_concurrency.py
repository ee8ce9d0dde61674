"""Refunds under concurrency, with real threads and transactions on PostgreSQL: two
managers marking the same refund at once make one refund (the other is told who did
it), and a refund granted by hand while the order is cancelled never refunds more
than was paid."""

from decimal import Decimal

import pytest

from orders import services
from orders.exceptions import StaleAction, WorkflowError
from orders.models import Order, OrderEvent, PaymentStatus, Refund
from tests.factories import OrderFactory, manager_user, service_user
from tests.utils import race, requires_postgresql

# serialized_rollback: the roles and default checklist come from data migrations,
# which a transactional test's flush would otherwise leave empty.
pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_managers_marking_the_same_refund_at_once_make_one_refund():
    first, second = manager_user(), manager_user()
    for attempt in range(5):
        order = OrderFactory(number=f"SO-RR-{attempt}", lines=2)
        services.order_cancel(order=order, actor=None, reason="Changed their mind")
        refund = order.refunds.get()
        # Each manager's page loaded the refund while it was due.
        seen_by_first, seen_by_second = Refund.objects.get(pk=refund.pk), Refund.objects.get(pk=refund.pk)

        outcomes = race(
            lambda: services.refund_mark_refunded(refund=seen_by_first, actor=first, reference="FIRST"),
            lambda: services.refund_mark_refunded(refund=seen_by_second, actor=second, reference="SECOND"),
        )

        kinds = sorted(kind for kind, _value in outcomes)
        assert kinds == ["error", "ok"], outcomes
        error = next(value for kind, value in outcomes if kind == "error")
        assert isinstance(error, StaleAction)
        assert "was already marked refunded" in str(error)
        refund.refresh_from_db()
        winner = next(value for kind, value in outcomes if kind == "ok")
        assert (refund.status, refund.reference) == ("refunded", winner.reference)
        assert f"(reference {refund.reference})" in str(error)
        assert Order.objects.get(pk=order.pk).payment_status == PaymentStatus.REFUNDED
        refunded_events = order.events.filter(kind=OrderEvent.Kind.REFUND, data__action="refunded")
        assert refunded_events.count() == 1


def test_a_refund_by_hand_racing_a_cancellation_never_refunds_more_than_was_paid():
    boss, desk = manager_user(), service_user()
    for attempt in range(5):
        order = OrderFactory(number=f"SO-RC-{attempt}", lines=2)  # 240.00 paid

        outcomes = race(
            lambda: services.refund_open_by_hand(order=order, actor=boss, amount="200", note="Goodwill"),
            lambda: services.order_cancel(order=order, actor=desk, reason="Changed their mind"),
        )

        refunds = dict(order.refunds.values_list("reason", "amount"))
        (by_hand_kind, by_hand), (cancel_kind, _cancelled) = outcomes
        assert cancel_kind == "ok", outcomes
        if by_hand_kind == "ok":  # granted first: the cancellation refunds the rest
            assert refunds == {"goodwill": Decimal("200.00"), "cancelled": Decimal("40.00")}
        else:  # cancelled first: everything is due already
            assert isinstance(by_hand, WorkflowError), outcomes
            assert "can be refunded at most TWD 0.00 more" in str(by_hand)
            assert refunds == {"cancelled": Decimal("240.00")}

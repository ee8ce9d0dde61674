"""Returns as records: customer service opens a return on a shipped order (which
lines, how many, why); the warehouse receives it, each line back to stock or
damaged. Receiving moves the order to partly returned or, when everything that
shipped has come back, to Returned, and a paid order gets a refund due.

Locks follow the lock order of orders/services.py ("Lock order"): the order row
first, then the return; stock levels last (inventory.services.stock_restock).
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from common.cleaning import parse_id
from common.permissions import require_permission
from common.text import joined_clauses
from inventory import services as stock
from orders import workflow
from orders.exceptions import StaleAction
from orders.models import Order, OrderEvent, PaymentStatus, Refund
from orders.services import checked_reason, event_add, order_returned, refund_open, refundable_amount

from .exceptions import ShippingError
from .models import Return, ReturnLine
from .selectors import shipped_quantities


def _lock_order(order_id):
    """Step 1 of the lock order: the order row alone (`of`), with its warehouse."""
    return Order.objects.select_for_update(of=("self",)).select_related("warehouse").get(pk=order_id)


def returned_quantities(order, *, statuses=None):
    """{order line id: units in the order's returns} (open and received, or those of
    `statuses`); lines in no return are absent. One query."""
    lines = ReturnLine.objects.filter(return_record__order=order)
    if statuses is not None:
        lines = lines.filter(return_record__status__in=statuses)
    return dict(lines.values("order_line_id").annotate(total=Sum("quantity")).values_list("order_line_id", "total"))


def _whole_number(value):
    return isinstance(value, int) and not isinstance(value, bool)


@transaction.atomic
def return_open(*, order, actor, lines, reason):
    """Open a return of `lines` ({order line id: quantity}) of a shipped, delivered
    or completed order. Per line, never more than shipped less what is already in
    its returns (open or received). Nothing moves in stock until it is received."""
    require_permission(actor, "orders.return_order", _("start returns"))
    reason = checked_reason(reason, _("start a return"), error=ShippingError)
    order = _lock_order(order.pk)
    if order.status not in workflow.RETURNABLE:
        raise ShippingError(
            _("Order %(number)s is %(status)s; a return is opened on a shipped, delivered or completed order.")
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
    order_lines = {line.pk: line for line in order.lines.all()}
    wanted = {}
    for key, quantity in (lines or {}).items():
        # A key that is no id ("²") is None: it belongs to no line, like another order's line.
        line = order_lines.get(key if _whole_number(key) else parse_id(key))
        if line is None:
            raise ShippingError(_("A line to return is not on order %(number)s.") % {"number": order.number})
        if not _whole_number(quantity) or quantity < 1:
            raise ShippingError(
                _("Return a whole number of at least 1 of %(sku)s (or leave the line out).") % {"sku": line.sku}
            )
        wanted[line.pk] = wanted.get(line.pk, 0) + quantity
    if not wanted:
        raise ShippingError(_("Choose at least one line and how many of it come back."))
    shipped = shipped_quantities(order)
    already = returned_quantities(order)
    for line_id, quantity in wanted.items():
        line = order_lines[line_id]
        left = shipped.get(line_id, 0) - already.get(line_id, 0)
        if quantity > left:
            raise ShippingError(
                _(
                    "%(sku)s: %(quantity)s is more than can be returned; at most %(left)s "
                    "(%(shipped)s shipped, %(returned)s already in returns)."
                )
                % {
                    "sku": line.sku,
                    "quantity": quantity,
                    "left": max(left, 0),
                    "shipped": shipped.get(line_id, 0),
                    "returned": already.get(line_id, 0),
                }
            )
    record = Return.objects.create(order=order, reason=reason, opened_by=actor)
    ReturnLine.objects.bulk_create(
        ReturnLine(return_record=record, order_line=order_lines[line_id], quantity=quantity)
        for line_id, quantity in sorted(wanted.items())
    )
    event_add(
        order=order,
        kind=OrderEvent.Kind.RETURN,
        actor=actor,
        message=reason,
        data={
            "action": "opened",
            "return": record.pk,
            "lines": [[order_lines[line_id].sku, quantity] for line_id, quantity in sorted(wanted.items())],
        },
    )
    record.order = order
    return record


OUTCOMES = {ReturnLine.Outcome.RESTOCKED, ReturnLine.Outcome.DAMAGED}


@transaction.atomic
def return_receive(*, return_record, actor, outcomes):
    """The warehouse receives an open return: `outcomes` maps each of its line ids to
    "restocked" (the units go back on the shelf of the order's warehouse: a ledger
    movement) or "damaged" (recorded, no stock change). The order becomes partly
    returned, or Returned when every unit that shipped has come back; a paid order
    gets a refund due of the received units at their price (at most what is left to
    refund)."""
    require_permission(actor, "shipping.receive_return", _("receive returns"))
    order = _lock_order(return_record.order_id)
    record = Return.objects.select_for_update(of=("self",)).get(pk=return_record.pk)
    if record.status != Return.Status.OPEN:
        raise StaleAction(
            _("Return #%(return)s of order %(number)s has already been received.")
            % {"return": record.pk, "number": order.number}
        )
    lines = list(record.lines.select_related("order_line__product").order_by("pk"))
    by_id = {line.pk: line for line in lines}
    chosen = {}
    for key, outcome in (outcomes or {}).items():
        line = by_id.get(key if _whole_number(key) else parse_id(key))
        if line is None:
            raise ShippingError(
                _("A line to receive is not on return #%(return)s of order %(number)s.")
                % {"return": record.pk, "number": order.number}
            )
        chosen[line.pk] = outcome
    undecided = [line.order_line.sku for line in lines if chosen.get(line.pk) not in OUTCOMES]
    if undecided:
        raise ShippingError(
            _("Choose “back to stock” or “damaged” for every line of return #%(return)s: %(skus)s.")
            % {"return": record.pk, "skus": joined_clauses(undecided)}
        )
    restocked = [line for line in lines if chosen[line.pk] == ReturnLine.Outcome.RESTOCKED]
    if restocked:
        if order.warehouse is None:
            raise ShippingError(_("Order %(number)s has no warehouse to restock into.") % {"number": order.number})
        stock.stock_restock(
            order=order,
            warehouse=order.warehouse,
            lines=[(line.order_line.product, line.quantity) for line in restocked],
            actor=actor,
            note=_("Return #%(return)s: %(reason)s") % {"return": record.pk, "reason": record.reason},
        )
    for line in lines:
        line.outcome = chosen[line.pk]
    ReturnLine.objects.bulk_update(lines, ["outcome"])
    record.status = Return.Status.RECEIVED
    record.received_at = timezone.now()
    record.received_by = actor
    event_add(
        order=order,
        kind=OrderEvent.Kind.RETURN,
        actor=actor,
        data={
            "action": "received",
            "return": record.pk,
            "lines": [[line.order_line.sku, line.quantity, line.outcome] for line in lines],
        },
    )
    if restocked:
        event_add(
            order=order,
            kind=OrderEvent.Kind.STOCK,
            actor=actor,
            data={
                "action": "return",
                "warehouse": order.warehouse.code,
                "lines": [[line.order_line.sku, line.quantity] for line in restocked],
            },
        )
    shipped = shipped_quantities(order)
    back = returned_quantities(order, statuses=[Return.Status.RECEIVED])
    for line in lines:  # this return, not saved as received yet
        back[line.order_line_id] = back.get(line.order_line_id, 0) + line.quantity
    fully = bool(shipped) and all(back.get(line_id, 0) >= units for line_id, units in shipped.items())
    order = order_returned(order=order, actor=actor, fully=fully, message=record.reason)
    if order.payment_status != PaymentStatus.PENDING:
        amount = sum((line.quantity * line.order_line.unit_price for line in lines), Decimal("0"))
        amount = min(amount, refundable_amount(order))
        if amount > 0:
            record.refund = refund_open(
                order=order,
                amount=amount,
                reason=Refund.Reason.RETURNED,
                actor=actor,
                note=_("Return #%(return)s") % {"return": record.pk},
            )
    record.save(update_fields=["status", "received_at", "received_by", "refund"])
    record.order = order
    return record

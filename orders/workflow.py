"""The order workflow as a table: which actions are allowed from which states,
what each needs, and what it is called. Services consult it; templates render it."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from .models import OrderStatus as S
from .models import COLLECTED_BY_CARRIER, PaymentStatus
from .models import status_label  # noqa: F401  (re-exported for services)

MAIN_PATH = [S.NEW, S.PROCESSING, S.PACKED, S.SHIPPED, S.DELIVERED, S.COMPLETED]
NEXT_STATE = dict(zip(MAIN_PATH, MAIN_PATH[1:]))

HOLDABLE = {S.NEW, S.PROCESSING, S.PACKED}
CANCELLABLE = {S.NEW, S.PROCESSING, S.PACKED, S.ON_HOLD}
RETURNABLE = {S.SHIPPED, S.DELIVERED, S.COMPLETED}
# The shipping address and payment can be corrected until the parcel leaves.
BEFORE_SHIPPING = {S.NEW, S.PROCESSING, S.PACKED, S.ON_HOLD}
# An order is split (orders.services.order_split) until its parcel leaves.
SPLITTABLE = BEFORE_SHIPPING
# Once an order is cancelled or returned its payment is settled.
PAYMENT_SETTLED = {S.CANCELLED, S.RETURNED}
# States in which stock is reserved for the order.
RESERVING = {S.PROCESSING, S.PACKED}
# Where an order is still being worked on (not finished, cancelled or returned).
OPEN_STATES = {S.NEW, S.PROCESSING, S.PACKED, S.SHIPPED, S.DELIVERED, S.ON_HOLD}


@dataclass(frozen=True)
class Action:
    code: str
    label: str
    permission: str
    needs_reason: bool = False
    danger: bool = False


ADVANCE_LABELS = {
    S.NEW: _("Start processing"),
    S.PROCESSING: _("Mark packed"),
    S.PACKED: _("Mark shipped"),
    S.SHIPPED: _("Mark delivered"),
    S.DELIVERED: _("Complete"),
}

ACTIONS = {
    "advance": Action("advance", _("Advance"), "orders.advance_order"),
    "hold": Action("hold", _("Put on hold"), "orders.hold_order", needs_reason=True),
    "resume": Action("resume", _("Resume"), "orders.resume_order"),
    "cancel": Action("cancel", _("Cancel order"), "orders.cancel_order", needs_reason=True, danger=True),
    "return": Action("return", _("Start a return"), "orders.return_order", needs_reason=True),
}


def allowed_from(action, status):
    if action == "advance":
        return status in NEXT_STATE
    if action == "hold":
        return status in HOLDABLE
    if action == "resume":
        return status == S.ON_HOLD
    if action == "cancel":
        return status in CANCELLABLE
    if action == "return":
        return status in RETURNABLE
    return False



def scans_can_be_undone(order):
    """Whether the packing station may still undo scans of the order: while it is
    processing, or on hold from processing (to which it resumes). order_split then
    refuses to move scanned units, so the station's undo stays in step with the counts."""
    return order.status == S.PROCESSING or (order.status == S.ON_HOLD and order.held_from_status == S.PROCESSING)


def can_mark_paid(order):
    """Whether "mark paid" applies to the order (the service refuses it otherwise):
    awaiting payment, not cancelled or returned, and not paid to the carrier (cash on
    delivery and payment at store pickup are paid when the carrier reports the
    collection)."""
    return (
        order.payment_status == PaymentStatus.PENDING
        and order.status not in PAYMENT_SETTLED
        and order.payment_method not in COLLECTED_BY_CARRIER
    )


# Every permission abilities() reads, for callers that collect a user's once.
ABILITY_PERMISSIONS = [
    *(action.permission for action in ACTIONS.values()),
    "orders.tick_checklist",
    "orders.add_note",
    "orders.mark_paid",
    "orders.correct_address",
    "orders.split_order",
]


def user_permissions(user):
    """The permission names abilities() needs to know about, held by `user`."""
    if user is None:
        return set(ABILITY_PERMISSIONS)  # the system
    if not user.is_active:
        return set()
    return {perm for perm in ABILITY_PERMISSIONS if user.has_perm(perm)}


def abilities(order, perms):
    """What a holder of `perms` (permission names, see user_permissions()) may do to
    the order now: the one answer the order page, the lookup and the packing station
    show, and the same rules the services enforce."""
    status = order.status
    able = {code: action.permission in perms and allowed_from(code, status) for code, action in ACTIONS.items()}
    able.update(
        {
            # A shipped order is not cancelled: the caller is told to ask for a return.
            "already_shipped": ACTIONS["cancel"].permission in perms and status in RETURNABLE,
            "tick": "orders.tick_checklist" in perms,
            "note": "orders.add_note" in perms,
            "mark_paid": "orders.mark_paid" in perms and can_mark_paid(order),
            "address": "orders.correct_address" in perms and status in BEFORE_SHIPPING,
            "split": "orders.split_order" in perms and status in SPLITTABLE,
        }
    )
    return able

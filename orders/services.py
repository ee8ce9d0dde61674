"""Every write to an order. See DESIGN.md section 3 for the workflow.

Each service is atomic, locks the order row before reading its status (so two staff
acting at once are serialised and the second sees what the first did), checks the
actor's permission itself, and records an OrderEvent. `actor=None` is the system.

Lock order
----------
The one rule for every write that locks rows, in every app (orders, shipping,
inventory); the other services' docstrings point here. Locks are taken in this order,
so that two transactions after the same rows wait for each other instead of
deadlocking (PostgreSQL would fail one of them, and its user would see an error):

1. The order row, before anything else, with `_lock_order`:
   `select_for_update(of=("self",))`, because without `of` a `select_related` join
   locks the joined rows in the same statement. One order per transaction, except a
   carrier's delivery report (shipping.services.deliveries_record), which locks its
   orders one after another in ascending id, each with its own rows (step 2) before
   the next, and no stock.
2. Then the rows that belong to that order: its checklist items, lines and
   shipments. The shipping receiver moves the shipments on inside the transition,
   after the order lock (shipping/receivers.py). A path that starts from one of these
   rows (ticking an item, marking a shipment delivered, voiding it) takes the order id
   from it without a lock, locks the order, and then locks and re-reads the row.
3. Then stock levels, which all orders share: `inventory.services._lock_levels`, one
   warehouse at a time, each warehouse's rows in primary-key order.

Inserting or updating a row that references the order (an event, a shipment, a stock
movement) takes a share lock on the order row, so it too comes after step 1: a
shipment locked before its order, then an event written, is the deadlock against an
advance that issue #7 found. The rows of step 2 are only ever locked while their
order's lock is held, so they cannot deadlock among themselves or against step 3
(advancing to shipped consumes the stock before the receiver marks the shipment
shipped). `tests/test_concurrency.py` runs the paths against each other on PostgreSQL.
"""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import services as stock
from inventory.exceptions import InsufficientStock
from inventory.models import Warehouse
from inventory.selectors import code_means, product_for_code
from common.cleaning import parse_id, shortened
from common.permissions import require_permission
from common.text import amount_text, bracketed, joined_clauses, person_name
from reports import bulk

from . import checklist, workflow
from .exceptions import ChecklistIncomplete, StaleAction, WorkflowError
from .signals import order_status_changed
from .models import (
    ChecklistStep,
    Customer,
    CustomerNamePart,
    Order,
    OrderChecklistItem,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PICKUP_FIELDS as MODEL_PICKUP_FIELDS,
    REASON_MAX_LENGTH,
    COLLECTED_BY_CARRIER,
    PaymentMethod,
    PaymentStatus,
    Refund,
    ReturnState,
    country_code,
    name_part_rows,
)
from .selectors import live_parcel_units
from .text import money, quoted_list

S = OrderStatus

ORDER_FIELDS = {
    "placed_at",
    "payment_status",
    "payment_method",
    "currency",
    "delivery_method",
    "ship_name",
    "ship_phone",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_postcode",
    "ship_country",
    "pickup_chain",
    "pickup_store_code",
    "pickup_store_name",
    "payment_method",
    "warehouse",
}
ADDRESS_FIELDS = [
    "ship_name",
    "ship_phone",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_postcode",
    "ship_country",
]
# The pickup store of a convenience-store pickup order, corrected with the address
# (order_correct_address) while the parcel has not left.
PICKUP_FIELDS = list(MODEL_PICKUP_FIELDS)
CORRECTABLE_FIELDS = [*ADDRESS_FIELDS, *PICKUP_FIELDS]


def event_add(*, order, kind, actor, message="", data=None):
    return OrderEvent.objects.create(order=order, kind=kind, actor=actor, message=message, data=data or {})


def _lock_order(order, *, expected_status=None):
    """Lock the order row and return a fresh copy: step 1 of the lock order (module
    docstring), taken before any other row lock.

    `expected_status` is the state the user saw; if the order has moved on since,
    the action is refused rather than applied to a state nobody looked at.
    """
    locked = Order.objects.select_for_update(of=("self",)).select_related("warehouse", "customer").get(pk=order.pk)
    if expected_status and locked.status != expected_status:
        raise StaleAction(
            _("Order %(number)s is already %(status)s.")
            % {"number": locked.number, "status": workflow.status_label(locked.status)}
        )
    return locked


def _require_allowed(order, action):
    if not workflow.allowed_from(action, order.status):
        raise WorkflowError(
            _("Order %(number)s cannot be %(action)s while it is %(status)s.")
            % {
                "number": order.number,
                "action": _ACTION_PAST[action](),
                "status": workflow.status_label(order.status),
            }
        )


_ACTION_PAST = {
    "advance": lambda: _("advanced"),
    "hold": lambda: _("put on hold"),
    "resume": lambda: _("resumed"),
    "cancel": lambda: _("cancelled"),
    "return": lambda: _("returned"),
}


def _checklist_steps(state):
    """(label, position, required, predicate) of the steps an order gets on entering
    `state`: the template's active steps, but every automatic step of the state as a
    required one, whatever its row says (the database refuses an optional or inactive
    one, but a row can be forced), and any check the state requires that the template
    lacks, at the end under its default label."""
    steps, checks, last = [], set(), 0
    for step in ChecklistStep.objects.filter(state=state).order_by("position", "id"):
        last = max(last, step.position)
        if step.predicate:
            if not checklist.can_pass_in(step.predicate, state):
                continue  # it would hold every order here forever
            checks.add(step.predicate)
            steps.append((step.label, step.position, True, step.predicate))
        elif step.is_active:
            steps.append((step.label, step.position, step.required, ""))
    for predicate in checklist.REQUIRED_CHECKS.get(state, ()):
        if predicate not in checks:
            last += 10
            steps.append((checklist.CHECK_LABELS[predicate], last, True, predicate.value))
    return steps


def _copy_checklist(order, state):
    if order.checklist_items.filter(state=state).exists():
        return  # re-entering a state (after a hold) keeps what was already ticked
    OrderChecklistItem.objects.bulk_create(
        OrderChecklistItem(order=order, state=state, label=label, position=position, required=required, predicate=predicate)
        for label, position, required, predicate in _checklist_steps(state)
    )


def _set_status(order, new_status, *, actor, message="", data=None):
    old_status = order.status
    order.status = new_status
    order.status_changed_at = timezone.now()
    order.save(update_fields=["status", "status_changed_at", "held_from_status", "warehouse"])
    _copy_checklist(order, new_status)
    # The shipping app moves the order's shipments along (shipping/receivers.py).
    order_status_changed.send(sender=Order, order=order, old_status=old_status, new_status=new_status, actor=actor)
    event_add(
        order=order,
        kind=OrderEvent.Kind.TRANSITION,
        actor=actor,
        message=message,
        data={"from": old_status, "to": new_status, **(data or {})},
    )
    return order


# --- creating -----------------------------------------------------------------


def _decimal(value, field):
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: _("Enter a number.")}) from None
    if not number.is_finite():
        raise ValidationError({field: _("Enter a number.")})
    return number


# Orders written per round; each order brings its lines, checklist and event.
CREATE_CHUNK = 2000
# Numbers per "which of these exist already" query (well under every backend's limit
# on query parameters).
LOOKUP_CHUNK = 5000


@transaction.atomic
def order_create(*, number, customer, lines, actor=None, **order_fields):
    """Create an order in `new` with its checklist.

    `lines`: dicts with `product`, `quantity` and `unit_price`. One order through
    the same code as orders_create_many, so a single order and an import of
    100,000 lines are checked and written alike.
    """
    spec = {"number": number, "customer": customer, "lines": lines, **order_fields}
    return _create_orders([spec], actor=actor, caller="order_create")[0]


@transaction.atomic
def orders_create_many(*, specs, actor=None):
    """Create many orders in `new`, each with its lines, checklist and "created"
    event, in a few queries per thousand orders (one order_create per order would
    be eight queries each, minutes for an import of 25,000 orders).

    `specs`: dicts with `number`, `customer`, `lines` and the order fields that
    order_create takes, checked exactly as order_create checks them; the first
    refusal raises and nothing is written. A `customer` may be a new, unsaved
    Customer (shared by several specs): it is created with the orders. Returns the
    orders, in the order of `specs`.
    """
    return _create_orders(specs, actor=actor, caller="orders_create_many")


def _existing_numbers(numbers):
    numbers = list(numbers)
    existing = set()
    for start in range(0, len(numbers), LOOKUP_CHUNK):
        chunk = numbers[start : start + LOOKUP_CHUNK]
        existing.update(Order.objects.filter(number__in=chunk).values_list("number", flat=True))
    return existing


def _order_exists_error(number):
    return WorkflowError(_("Order number %(number)s already exists.") % {"number": number})


def _checked_lines(lines):
    """(product, quantity, unit price) of each of the `lines` dicts, refusing what
    order_create refuses."""
    checked = []
    for index, line in enumerate(lines, start=1):
        quantity = line["quantity"]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValidationError(
                {"lines": _("Line %(index)s: quantity must be a positive whole number.") % {"index": index}}
            )
        try:
            unit_price = _decimal(line.get("unit_price", 0), "unit_price")
        except ValidationError as error:
            raise _line_error(index, "unit_price", error) from None
        if unit_price < 0:
            raise ValidationError({"lines": _("Line %(index)s: price cannot be negative.") % {"index": index}})
        product = line["product"]
        if product is None or product.pk is None:
            raise ValidationError({"lines": _("Line %(index)s: a product is required.") % {"index": index}})
        # Each line is checked as its model field would check it (OrderLine.full_clean
        # per line is too slow for an import of 100,000 lines): a price with three
        # decimals is refused on its line, not reported later against the total.
        for name, value in (("quantity", quantity), ("unit_price", unit_price)):
            try:
                _LINE_FIELDS[name].run_validators(value)
            except ValidationError as error:
                raise _line_error(index, name, error) from None
        checked.append((product, quantity, unit_price))
    return checked


_LINE_FIELDS = {name: OrderLine._meta.get_field(name) for name in ("quantity", "unit_price")}


def _line_error(index, name, error):
    """A refusal about one field of one line: "Line 2: unit price: …"."""
    return ValidationError(
        {
            "lines": _("Line %(index)s: %(field)s: %(message)s")
            % {"index": index, "field": _LINE_FIELDS[name].verbose_name, "message": " ".join(error.messages)}
        }
    )


def _create_orders(specs, *, actor, caller, fields=ORDER_FIELDS, permission_checked=False):
    """`fields`: the order fields a spec may set; `permission_checked`: the caller
    (order_split) has checked its own permission, which stands for "create orders"."""
    if actor is not None and not permission_checked:
        require_permission(actor, "orders.add_order", _("create orders"))
    parsed = _parsed_specs(specs, caller=caller, fields=fields)
    numbers = [number for number, *_rest in parsed]
    existing = _existing_numbers(numbers)
    for number in numbers:
        if number in existing:
            raise _order_exists_error(number)

    customers = _new_customers(customer for _number, customer, _lines, _fields in parsed)
    for customer, pk in zip(customers, bulk.new_ids(Customer, len(customers))):
        customer.pk = pk
    order_ids = bulk.new_ids(Order, len(parsed))
    steps = _checklist_steps(S.NEW)
    created = {"actor_id": actor.pk if actor is not None else None, "at": timezone.now(), "steps": steps}
    orders = []
    try:
        # A savepoint, so that after a refused INSERT the transaction can still say which number it was.
        with transaction.atomic(), bulk.Inserter(background=len(parsed) > CREATE_CHUNK) as inserter:
            inserter.objects(customers)
            inserter.rows(CustomerNamePart, ["customer_id", "part"], name_part_rows(customers))
            for start in range(0, len(parsed), CREATE_CHUNK):
                chunk = [
                    _new_order(*spec, pk=pk)
                    for spec, pk in zip(parsed[start : start + CREATE_CHUNK], order_ids[start : start + CREATE_CHUNK])
                ]
                _insert_chunk(inserter, chunk, **created)
                orders.extend(order for order, _checked in chunk)
    except IntegrityError:
        # Two imports racing past the existence check: the unique index refused this
        # one, in the service's own words.
        taken = _existing_numbers(numbers)
        if not taken:
            raise
        raise _order_exists_error(next(number for number in numbers if number in taken)) from None
    return orders


def _parsed_specs(specs, *, caller, fields=ORDER_FIELDS):
    """(number, customer, lines, order fields) of each spec, refusing unknown fields,
    a missing number and a number given twice."""
    parsed, seen = [], set()
    for spec in specs:
        order_fields = dict(spec)
        number = order_fields.pop("number", None)
        customer = order_fields.pop("customer")
        lines = order_fields.pop("lines")
        unknown = set(order_fields) - fields
        if unknown:
            raise TypeError(f"{caller}() got unexpected fields: {', '.join(sorted(unknown))}")
        number = (number or "").strip()
        if not number:
            raise ValidationError({"number": _("An order needs a number.")})
        if number in seen:
            raise WorkflowError(_("Order number %(number)s is given twice.") % {"number": number})
        seen.add(number)
        parsed.append((number, customer, lines, order_fields))
    return parsed


def _insert_chunk(inserter, chunk, *, actor_id, at, steps):
    """The (order, checked lines) pairs of `chunk`: the orders, their lines, the
    checklist of `new` copied from `steps`, and a "created" event each."""
    inserter.objects(order for order, _checked in chunk)
    inserter.rows(
        OrderLine,
        ["order_id", "product_id", "sku", "product_name", "quantity", "unit_price", "quantity_scanned"],
        (
            (order.pk, product.pk, product.sku, product.name, quantity, unit_price, 0)
            for order, checked in chunk
            for product, quantity, unit_price in checked
        ),
    )
    inserter.rows(
        OrderChecklistItem,
        ["order_id", "state", "label", "position", "required", "predicate"],
        ((order.pk, S.NEW.value, *step) for order, _checked in chunk for step in steps),
    )
    inserter.rows(
        OrderEvent,
        ["order_id", "kind", "actor_id", "created_at", "message", "data"],
        ((order.pk, OrderEvent.Kind.CREATED.value, actor_id, at, "", {"lines": len(checked)}) for order, checked in chunk),
    )


def _new_order(number, customer, lines, order_fields, *, pk):
    """The unsaved order and its checked lines, refusing what order_create refuses."""
    if not lines:
        raise ValidationError({"lines": _("An order needs at least one line.")})
    order = Order(pk=pk, number=number, customer=customer, **order_fields)
    # Checked as typed: the country field itself would quietly read "TWN" as TW.
    errors = {}
    try:
        order.ship_country = country_code(order_fields.get("ship_country", Order._meta.get_field("ship_country").default))
    except ValidationError as refusal:
        errors["ship_country"] = refusal.error_list
    checked = _checked_lines(lines)
    order.total = sum((quantity * unit_price for _product, quantity, unit_price in checked), Decimal("0"))
    # The numbers were checked in one query for all the orders and the total cannot
    # be negative: no unique or constraint queries per order.
    try:
        order.full_clean(
            exclude=["customer", "warehouse", *errors], validate_unique=False, validate_constraints=False
        )
    except ValidationError as refusal:
        errors = {**refusal.error_dict, **errors}
    if errors:
        raise ValidationError(errors)
    return order, checked


def _new_customers(customers):
    """The unsaved ones among `customers`, each once however many orders share it,
    normalised and checked as save() and a form would."""
    new = {}
    for customer in customers:
        if customer.pk is None and id(customer) not in new:
            customer.normalise_contact()
            customer.full_clean(validate_unique=False, validate_constraints=False)
            new[id(customer)] = customer
    return list(new.values())


# --- checklist ----------------------------------------------------------------


def _lock_item(item, *, actor, verb):
    require_permission(actor, "orders.tick_checklist", _("tick checklist steps"))
    order = _lock_order(item.order)
    item = OrderChecklistItem.objects.select_for_update().get(pk=item.pk)
    if item.state != order.status:
        raise WorkflowError(
            _("“%(step)s” belongs to %(state)s; order %(number)s is %(status)s.")
            % {
                "step": item.display_label,
                "state": workflow.status_label(item.state),
                "number": order.number,
                "status": workflow.status_label(order.status),
            }
        )
    if item.predicate and item.predicate not in checklist.TICKABLE_BY_HAND:
        raise WorkflowError(
            _("“%(step)s” is checked automatically and cannot be %(verb)s by hand.")
            % {"step": item.display_label, "verb": verb}
        )
    return order, item


@transaction.atomic
def checklist_tick(*, item, actor):
    order, item = _lock_item(item, actor=actor, verb=_("ticked"))
    if item.is_done:
        raise StaleAction(
            _("“%(step)s” was already ticked by %(user)s.")
            % {"step": item.display_label, "user": person_name(item.done_by) or _("the system")}
        )
    item.done_at = timezone.now()
    item.done_by = actor
    item.save(update_fields=["done_at", "done_by"])
    event_add(order=order, kind=OrderEvent.Kind.TICK, actor=actor, data={"step": item.label, "state": item.state})
    return item


@transaction.atomic
def checklist_untick(*, item, actor):
    order, item = _lock_item(item, actor=actor, verb=_("unticked"))
    if not item.is_done:
        raise StaleAction(_("“%(step)s” is already unticked.") % {"step": item.display_label})
    item.done_at = None
    item.done_by = None
    item.save(update_fields=["done_at", "done_by"])
    event_add(order=order, kind=OrderEvent.Kind.UNTICK, actor=actor, data={"step": item.label, "state": item.state})
    return item


def _auto_tick(order):
    """Stamp the automatic steps of the current state, so the history shows when they passed."""
    now = timezone.now()
    for item in order.checklist_items.filter(state=order.status, done_at__isnull=True).exclude(predicate=""):
        if checklist.evaluate(item.predicate, order)[0]:
            item.done_at = now
            item.save(update_fields=["done_at"])


# --- transitions ----------------------------------------------------------------


def _reserve_stock(order, *, actor):
    """Reserve every line in one active warehouse: the order's own, or, when it has
    none or its own is no longer active, the first active one by priority that can
    supply them all. The automatic stock check (checklist.stock_available) says the
    same in its hint."""
    lines = [(line.product, line.quantity) for line in order.lines.select_related("product")]
    inactive = order.warehouse.code if order.warehouse_id and not order.warehouse.is_active else None
    if order.warehouse_id and not inactive:
        candidates = [order.warehouse]
    else:
        candidates = list(Warehouse.objects.filter(is_active=True).order_by("priority", "code"))
        if not candidates:
            raise WorkflowError(checklist.no_active_warehouse(inactive))
    refusals = []
    for warehouse in candidates:
        try:
            with transaction.atomic():
                stock.stock_reserve(order=order, warehouse=warehouse, lines=lines, actor=actor)
        except InsufficientStock as refusal:
            refusals.append(refusal)
            continue
        order.warehouse = warehouse
        event_add(
            order=order,
            kind=OrderEvent.Kind.STOCK,
            actor=actor,
            # The timeline says why the stock came from elsewhere (OrderEvent.describe).
            data={
                "action": "reserve",
                "warehouse": warehouse.code,
                "lines": [[line.sku, line.quantity] for line in order.lines.all()],
                **({"inactive_warehouse": inactive} if inactive else {}),
            },
        )
        return warehouse
    if len(refusals) == 1 and not inactive:
        raise refusals[0]
    if len(refusals) == 1:
        reason = str(refusals[0])
    else:
        detail = joined_clauses(
            _("%(warehouse)s short of %(skus)s") % {"warehouse": r.warehouse.code, "skus": ", ".join(r.skus)}
            for r in refusals
        )
        reason = _("No warehouse can supply every line (%(detail)s).") % {"detail": detail}
    short = {sku for refusal in refusals for sku in refusal.skus}
    raise InsufficientStock(short, f"{checklist.warehouse_not_active(inactive)} {reason}" if inactive else reason)


def _stock_event(order, *, actor, action, lines):
    """One timeline entry per stock operation; `lines` are [sku, quantity] pairs."""
    if lines:
        event_add(
            order=order,
            kind=OrderEvent.Kind.STOCK,
            actor=actor,
            data={"action": action, "warehouse": order.warehouse.code if order.warehouse else "", "lines": lines},
        )


def _movement_lines(order, movements):
    skus = dict(order.lines.values_list("product_id", "sku"))
    return [[skus.get(m.product_id, str(m.product_id)), abs(m.reserved_delta or m.on_hand_delta)] for m in movements]


@transaction.atomic
def order_advance(*, order, actor, expected_status=None):
    """Move the order to the next state of the main path, if its checklist allows."""
    require_permission(actor, "orders.advance_order", _("advance orders"))
    order = _lock_order(order, expected_status=expected_status or order.status)
    _require_allowed(order, "advance")
    missing = checklist.missing_steps_with_hints(order)
    if missing:
        # The hint says what to do about an automatic step (which SKU is short, ...).
        raise ChecklistIncomplete(
            _("Order %(number)s cannot leave %(status)s yet; missing: %(steps)s.")
            % {
                "number": order.number,
                "status": workflow.status_label(order.status),
                "steps": quoted_list(bracketed(label, hint) if hint else label for label, hint in missing),
            },
            missing=[label for label, _hint in missing],
        )
    _auto_tick(order)
    target = workflow.NEXT_STATE[order.status]
    if target == S.PROCESSING:
        _reserve_stock(order, actor=actor)
    elif target == S.SHIPPED:
        movements = stock.stock_consume(order=order, actor=actor)
        _stock_event(order, actor=actor, action="ship", lines=_movement_lines(order, movements))
    _set_status(order, target, actor=actor)
    if target == S.SHIPPED:
        from .tasks import notify_order_shipped

        transaction.on_commit(lambda: notify_order_shipped.enqueue(order_id=order.pk))
    return order


# Hold, cancel and return reasons, like notes: a longer one is refused, never cut short.
def checked_reason(reason, what, *, error=WorkflowError):
    """The reason staff gave to `what` (hold, cancel, return, void), stripped; refused
    with `error` when empty or longer than REASON_MAX_LENGTH (never cut short)."""
    reason = (reason or "").strip()
    if not reason:
        raise error(_("Give a reason to %(what)s.") % {"what": what})
    if len(reason) > REASON_MAX_LENGTH:
        raise error(
            _("A reason can be at most %(max)s characters; this one has %(length)s.")
            % {"max": REASON_MAX_LENGTH, "length": len(reason)}
        )
    return reason


def reason_check(reason):
    """Refuse a hold reason that no order would take (empty or too long) once, before
    the bulk action tries it on every order."""
    return checked_reason(reason, _("put the order on hold"))


@transaction.atomic
def order_hold(*, order, actor, reason):
    require_permission(actor, "orders.hold_order", _("put orders on hold"))
    reason = checked_reason(reason, _("put the order on hold"))
    order = _lock_order(order)
    _require_allowed(order, "hold")
    order.held_from_status = order.status
    return _set_status(order, S.ON_HOLD, actor=actor, message=reason)


@transaction.atomic
def order_resume(*, order, actor):
    require_permission(actor, "orders.resume_order", _("resume held orders"))
    order = _lock_order(order)
    _require_allowed(order, "resume")
    target = order.held_from_status or S.NEW
    order.held_from_status = ""
    return _set_status(order, target, actor=actor)


@transaction.atomic
def order_cancel(*, order, actor, reason):
    require_permission(actor, "orders.cancel_order", _("cancel orders"))
    reason = checked_reason(reason, _("cancel the order"))
    order = _lock_order(order)
    if order.status in workflow.RETURNABLE:
        raise WorkflowError(
            _("Order %(number)s has already shipped and cannot be cancelled; ask the customer to request a return.")
            % {"number": order.number}
        )
    _require_allowed(order, "cancel")
    movements = stock.stock_release(order=order, actor=actor)
    _stock_event(order, actor=actor, action="release", lines=_movement_lines(order, movements))
    order.held_from_status = ""
    _set_status(order, S.CANCELLED, actor=actor, message=reason)
    # What the customer paid goes back: a refund due of what is left to refund (the
    # total, unless refunds were opened before), which finance marks refunded. An
    # unpaid order (a cash-on-delivery one never collected) owes nothing.
    left = refundable_amount(order)
    if left > 0:
        refund_open(order=order, amount=left, reason=Refund.Reason.CANCELLED, actor=actor, note=reason)
    return order


@transaction.atomic
def order_returned(*, order, actor, fully, message=""):
    """Goods of the order came back (a return received, shipping.returns.return_receive,
    which checks the permission and holds the order lock; taken again here, a no-op in
    the same transaction). The order is partly returned, or, when `fully` (every unit
    that shipped has been received back), it moves to Returned. Returns the order."""
    require_permission(actor, "shipping.receive_return", _("receive returns"))
    order = _lock_order(order)
    state = ReturnState.FULLY if fully else ReturnState.PARTLY
    if fully:
        _require_allowed(order, "return")
    if order.return_state != state:
        order.return_state = state
        order.save(update_fields=["return_state"])
    if fully:
        order.held_from_status = ""
        return _set_status(order, S.RETURNED, actor=actor, message=message)
    return order


# --- splitting (backorders) ------------------------------------------------------

# What a backorder copies from its original besides the lines: the customer's order,
# placed and paid as it was (a paid order's backorder was paid for with it), sent the
# same way to the same place, from the same warehouse.
SPLIT_COPIED_FIELDS = (
    "placed_at",
    "payment_status",
    "payment_method",
    "payment_reference",
    "paid_at",
    "currency",
    "delivery_method",
    *ADDRESS_FIELDS,
    "pickup_chain",
    "pickup_store_code",
    "pickup_store_name",
    "warehouse",
)
_SPLIT_FIELDS = ORDER_FIELDS | set(SPLIT_COPIED_FIELDS) | {"split_from"}
_NUMBER_MAX_LENGTH = Order._meta.get_field("number").max_length


def _line_id(key):
    """An order-line id from a `lines` key: an int, or text of ASCII digits; anything
    else ("²", "-1") is None, which belongs to no line."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    return parse_id(key)


def _split_moves(order, lines):
    """[(line, units to move)] for the `lines` mapping of order_split, in line order,
    refusing what order_split refuses (its docstring)."""
    if not lines:
        raise WorkflowError(_("Choose the lines to move to the new order and how many of each."))
    order_lines = {line.pk: line for line in order.lines.select_related("product").order_by("pk")}
    wanted = {}
    for key, quantity in lines.items():
        line = order_lines.get(_line_id(key))
        if line is None:
            raise WorkflowError(_("A line to move does not belong to order %(number)s.") % {"number": order.number})
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= line.quantity:
            raise WorkflowError(
                _("Move a whole number between 1 and %(max)s of %(sku)s.") % {"max": line.quantity, "sku": line.sku}
            )
        wanted[line.pk] = quantity
    in_parcels = live_parcel_units(order)
    undoable = workflow.scans_can_be_undone(order)
    moves = []
    for line_id in sorted(wanted):
        line, quantity = order_lines[line_id], wanted[line_id]
        parcelled = in_parcels.get(line_id, 0)
        if quantity > line.quantity - parcelled:
            raise WorkflowError(
                _(
                    "%(parcelled)s of the %(quantity)s × %(sku)s are in a parcel already, so at most %(left)s can "
                    "move; void the parcel first to move more."
                )
                % {"parcelled": parcelled, "quantity": line.quantity, "sku": line.sku, "left": line.quantity - parcelled}
            )
        if undoable and quantity > line.quantity - line.quantity_scanned:
            raise WorkflowError(
                _(
                    "%(scanned)s of the %(quantity)s × %(sku)s are scanned already, so at most %(left)s can move; "
                    "undo their scans at the packing station first to move more."
                )
                % {
                    "scanned": line.quantity_scanned,
                    "quantity": line.quantity,
                    "sku": line.sku,
                    "left": line.quantity - line.quantity_scanned,
                }
            )
        moves.append((line, quantity))
    if sum(quantity for _line, quantity in moves) == sum(line.quantity for line in order_lines.values()):
        raise WorkflowError(
            _(
                "Splitting every line away would leave order %(number)s empty: at least one unit must stay. "
                "Cancel the order instead if none of it ships now."
            )
            % {"number": order.number}
        )
    return moves


def _backorder_number(order):
    """The next free "<number>-B<n>": -B1 for the first split of the order, -B2 for
    the second, skipping a number taken some other way (an import). Read under the
    order's lock, so two splits of the same order never pick the same number."""
    n = order.split_orders.count() + 1
    while True:
        number = f"{order.number}-B{n}"
        if len(number) > _NUMBER_MAX_LENGTH:
            raise WorkflowError(
                _("Order number %(number)s is too long to number a backorder after it (at most %(max)s characters).")
                % {"number": order.number, "max": _NUMBER_MAX_LENGTH}
            )
        if not Order.objects.filter(number=number).exists():
            return number
        n += 1


@transaction.atomic
def order_split(*, order, actor, lines, reason=""):
    """Move short lines, or part of their units, out of `order` into a new linked
    order (a backorder, `split_from` = the original), so that the rest ships now.

    `lines` maps order-line ids to the units to move. The backorder is created in
    `new` through the same code as order_create (its checklist and "created" event),
    numbered "<number>-B1" ("-B2" for a second split), with the original's customer,
    ship-to, pickup store, delivery and payment method, payment status (a paid
    order's backorder was paid for with it), currency and warehouse; it reserves
    nothing until it starts processing.

    Refused, with nothing changed: an order that is not new, processing, packed or on
    hold; a line of another order; a quantity that is not a whole number between 1 and
    the line's quantity; units in a live (not cancelled) parcel; moving every unit of
    every line. Scanned units: the units moved are taken from those not scanned yet.
    While scans can still be undone at the packing station (the order is processing,
    or on hold from processing) moving scanned units is refused, so the station's undo
    stays in step with the counts; in a packed order every unit is scanned, and a
    line's scanned count falls to its new quantity (the units are taken out of the
    box), which its SPLIT event names.

    Under the order's lock: the original's lines shrink (a line moved whole leaves
    it), both totals are recomputed, units still reserved for the original beyond
    what it now holds are released (stock_release, with a stock event), and both
    timelines get a SPLIT event naming the other order, the moved lines and the
    reason. Returns the new order."""
    require_permission(actor, "orders.split_order", _("split orders"))
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise WorkflowError(
            _("A reason can be at most %(max)s characters; this one has %(length)s.")
            % {"max": REASON_MAX_LENGTH, "length": len(reason)}
        )
    order = _lock_order(order)
    if order.status not in workflow.SPLITTABLE:
        raise WorkflowError(
            _(
                "Order %(number)s is %(status)s and cannot be split: only an order that has not shipped "
                "(new, processing, packed or on hold) can be."
            )
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
    moves = _split_moves(order, lines)
    number = _backorder_number(order)
    spec = {
        "number": number,
        "customer": order.customer,
        "lines": [{"product": line.product, "quantity": quantity, "unit_price": line.unit_price} for line, quantity in moves],
        "split_from": order,
        **{name: getattr(order, name) for name in SPLIT_COPIED_FIELDS},
        "ship_country": str(order.ship_country),
    }
    backorder = _create_orders(
        [spec], actor=actor, caller="order_split", fields=_SPLIT_FIELDS, permission_checked=True
    )[0]
    # The lines as the original has them (a product renamed since keeps the old name).
    for new_line, (line, _quantity) in zip(backorder.lines.order_by("pk"), moves):
        if (new_line.sku, new_line.product_name) != (line.sku, line.product_name):
            new_line.sku, new_line.product_name = line.sku, line.product_name
            new_line.save(update_fields=["sku", "product_name"])

    unscanned = []
    for line, quantity in moves:
        if quantity == line.quantity:
            # Voided parcels' lines are the only rows that may still name it (a live
            # parcel's units cannot move): the parcel itself, its carrier, number and
            # reason stay; only its breakdown of this line goes with the line.
            line.shipment_lines.all().delete()
            line.delete()
            continue
        line.quantity -= quantity
        if line.quantity_scanned > line.quantity:
            unscanned.append([line.sku, line.quantity_scanned - line.quantity])
            line.quantity_scanned = line.quantity
        line.save(update_fields=["quantity", "quantity_scanned"])
    remaining = list(order.lines.all())
    order.total = sum((line.quantity * line.unit_price for line in remaining), Decimal("0"))
    order.save(update_fields=["total"])

    # Units still reserved for the original beyond what it now holds (all the moved
    # units when its stock was reserved; none when it is new or held from new).
    holds = {}
    for line in remaining:
        holds[line.product_id] = holds.get(line.product_id, 0) + line.quantity
    reserved = {}
    for (product_id, _warehouse_id), quantity in stock.reserved_for_order(order).items():
        reserved[product_id] = reserved.get(product_id, 0) + quantity
    products = {line.product_id: line for line, _quantity in moves}
    release = [
        (products[product_id], reserved[product_id] - holds.get(product_id, 0))
        for product_id in sorted(products)
        if reserved.get(product_id, 0) > holds.get(product_id, 0)
    ]
    if release:
        stock.stock_release(order=order, actor=actor, lines=[(line.product, units) for line, units in release])
        _stock_event(order, actor=actor, action="release", lines=[[line.sku, units] for line, units in release])

    moved = [[line.sku, quantity] for line, quantity in moves]
    event_add(
        order=order,
        kind=OrderEvent.Kind.SPLIT,
        actor=actor,
        message=reason,
        data={
            "action": "split_into",
            "order": backorder.number,
            "order_id": backorder.pk,
            "lines": moved,
            **({"unscanned": unscanned} if unscanned else {}),
        },
    )
    event_add(
        order=backorder,
        kind=OrderEvent.Kind.SPLIT,
        actor=actor,
        message=reason,
        data={"action": "split_from", "order": order.number, "order_id": order.pk, "lines": moved},
    )
    return backorder


# --- refunds --------------------------------------------------------------------

# A payment's or a refund's reference: the columns' length; a longer one is refused.
REFERENCE_MAX_LENGTH = 64
# The last five digits of the account an ATM transfer came from (ASCII digits only:
# "١٢٣٤٥" is no account number a bank statement shows).
ATM_REFERENCE = re.compile(r"[0-9]{5}")


def _checked_reference(reference, *, missing=None):
    """`reference` stripped, refused when too long, or empty when `missing` (the
    refusal's text) is given."""
    reference = str(reference or "").strip()
    if missing and not reference:
        raise WorkflowError(missing)
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise WorkflowError(
            _("A reference can be at most %(max)s characters; this one has %(length)s.")
            % {"max": REFERENCE_MAX_LENGTH, "length": len(reference)}
        )
    return reference


def refundable_amount(order):
    """What can still be refunded on `order`: what was paid (the total, once the
    order is paid) less the refunds already due or made."""
    if order.payment_status == PaymentStatus.PENDING:
        return Decimal("0")
    owed = sum((refund.amount for refund in order.refunds.all()), Decimal("0"))
    return max(order.total - owed, Decimal("0"))


def refund_open(*, order, amount, reason, actor, note=""):
    """A refund due of `amount` on `order`, which the caller has locked (step 1 of the
    lock order), with an event on the timeline. Refused when the order was never
    paid, the amount is not a positive amount of money (at most two decimals), or it
    is more than is left to refund (refundable_amount). The caller checks who may
    open it (cancelling, receiving a return, refund_open_by_hand)."""
    if reason not in Refund.Reason.values:
        raise ValueError(f"refund_open(): unknown reason {reason!r}")
    amount = _decimal(amount, "amount")
    if amount <= 0:
        raise WorkflowError(_("A refund must be more than zero."))
    if amount != amount.quantize(Decimal("0.01")):
        raise WorkflowError(_("A refund is an amount of money: at most two decimals (%(amount)s).") % {"amount": amount})
    note = (note or "").strip()
    if len(note) > REASON_MAX_LENGTH:
        raise WorkflowError(
            _("A note can be at most %(max)s characters; this one has %(length)s.")
            % {"max": REASON_MAX_LENGTH, "length": len(note)}
        )
    if order.payment_status == PaymentStatus.PENDING:
        raise WorkflowError(
            _("Order %(number)s has not been paid; there is nothing to refund.") % {"number": order.number}
        )
    left = refundable_amount(order)
    if amount > left:
        raise WorkflowError(
            _("Order %(number)s can be refunded at most %(left)s more; %(amount)s is more than was paid.")
            % {
                "number": order.number,
                "left": money(left, order.currency),
                "amount": money(amount, order.currency),
            }
        )
    refund = Refund.objects.create(order=order, amount=amount, reason=reason, note=note, created_by=actor)
    event_add(
        order=order,
        kind=OrderEvent.Kind.REFUND,
        actor=actor,
        message=note,
        data={"action": "due", "refund": refund.pk, "amount": str(amount), "reason": reason, "currency": order.currency},
    )
    return refund


@transaction.atomic
def refund_open_by_hand(*, order, actor, amount, note):
    """A refund a manager grants on a paid order (goodwill, a partial refund of a
    price), with a note saying why: refused above what is left to refund."""
    require_permission(actor, "orders.record_refund", _("record refunds"))
    note = checked_reason(note, _("refund the customer"))
    try:
        amount = _decimal(str(amount).strip().replace(",", ""), "amount")
    except ValidationError:
        raise WorkflowError(
            _("Enter the amount to refund as a number, such as 120 or 120.50; “%(value)s” is not one.")
            % {"value": shortened(str(amount).strip(), 20)}
        ) from None
    order = _lock_order(order)
    return refund_open(order=order, amount=amount, reason=Refund.Reason.GOODWILL, actor=actor, note=note)


@transaction.atomic
def refund_mark_refunded(*, refund, actor, reference):
    """Finance has paid a refund back: it is marked refunded with the reference of
    the transfer, and the order's payment becomes Refunded once the refunds made add
    up to what was paid (Partly refunded before). Locks the order, then the refund
    row (the lock order), so of two managers marking the same refund at once the
    second is told the first did."""
    require_permission(actor, "orders.record_refund", _("record refunds"))
    reference = _checked_reference(reference, missing=_("Enter the reference of the refund transfer."))
    order = _lock_order(Order(pk=refund.order_id))
    refund = Refund.objects.select_for_update(of=("self",)).get(pk=refund.pk, order=order)
    if refund.status == Refund.Status.REFUNDED:
        raise StaleAction(
            _("The refund of %(amount)s on order %(number)s was already marked refunded by %(user)s (reference %(reference)s).")
            % {
                "amount": money(refund.amount, order.currency),
                "number": order.number,
                "user": person_name(refund.refunded_by) or _("the system"),
                "reference": refund.reference,
            }
        )
    refund.status = Refund.Status.REFUNDED
    refund.refunded_at = timezone.now()
    refund.refunded_by = actor
    refund.reference = reference
    refund.save(update_fields=["status", "refunded_at", "refunded_by", "reference"])
    refunded = sum(
        order.refunds.filter(status=Refund.Status.REFUNDED).values_list("amount", flat=True), Decimal("0")
    )
    order.payment_status = PaymentStatus.REFUNDED if refunded >= order.total else PaymentStatus.PARTLY_REFUNDED
    order.save(update_fields=["payment_status"])
    event_add(
        order=order,
        kind=OrderEvent.Kind.REFUND,
        actor=actor,
        data={
            "action": "refunded",
            "refund": refund.pk,
            "amount": str(refund.amount),
            "currency": order.currency,
            "reference": reference,
            "payment_status": order.payment_status,
        },
    )
    return refund


# --- corrections ----------------------------------------------------------------


@transaction.atomic
def order_add_note(*, order, actor, text):
    require_permission(actor, "orders.add_note", _("add notes"))
    text = (text or "").strip()
    if not text:
        raise WorkflowError(_("A note cannot be empty."))
    if len(text) > 2000:
        raise WorkflowError(_("A note can be at most 2000 characters."))
    return event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor, message=text)


def payment_reference_check(order, reference):
    """The reference `order` is marked paid with, stripped, or the refusal: an ATM
    transfer needs the last five digits of the account it came from; a card
    payment's authorisation code is optional; an order paid to the carrier (cash on
    delivery, paid at store pickup) is not marked paid by hand at all. Shared by the
    service and the bulk action, which says so per order before trying."""
    if order.payment_method in COLLECTED_BY_CARRIER:
        raise WorkflowError(
            _(
                "Order %(number)s is paid to the carrier (%(method)s): it is paid when the carrier's delivery "
                "report says the cash was collected, not by hand."
            )
            % {"number": order.number, "method": order.get_payment_method_display()}
        )
    if order.payment_method == PaymentMethod.ATM:
        reference = str(reference or "").strip()
        if not ATM_REFERENCE.fullmatch(reference):
            raise WorkflowError(
                _(
                    "Order %(number)s was paid by ATM transfer: enter the last five digits of the account the "
                    "transfer came from (exactly 5 digits, such as 01234)."
                )
                % {"number": order.number}
                + (" " + _("“%(value)s” is not 5 digits.") % {"value": shortened(reference, 20)} if reference else "")
            )
        return reference
    return _checked_reference(reference)


@transaction.atomic
def order_mark_paid(*, order, actor, reference=""):
    """The payment has arrived: the order is paid, with its reference (the last five
    digits of an ATM transfer; a card authorisation code, optional) and when. See
    payment_reference_check for what is refused."""
    require_permission(actor, "orders.mark_paid", _("mark orders paid"))
    order = _lock_order(order)
    if order.payment_status == PaymentStatus.PAID:
        raise StaleAction(_("Order %(number)s is already paid.") % {"number": order.number})
    if order.status in workflow.PAYMENT_SETTLED or order.payment_status != PaymentStatus.PENDING:
        raise WorkflowError(
            _("Order %(number)s is %(status)s; its payment cannot change.")
            % {
                "number": order.number,
                "status": workflow.status_label(order.status)
                if order.status in workflow.PAYMENT_SETTLED
                else order.get_payment_status_display(),
            }
        )
    reference = payment_reference_check(order, reference)
    order.payment_status = PaymentStatus.PAID
    order.payment_reference = reference
    order.paid_at = timezone.now()
    order.save(update_fields=["payment_status", "payment_reference", "paid_at"])
    event_add(
        order=order,
        kind=OrderEvent.Kind.PAYMENT,
        actor=actor,
        data={"payment_status": PaymentStatus.PAID, "method": order.payment_method, "reference": reference},
    )
    return order


# The carrier collects on delivery, so only once the parcel has left.
COLLECTABLE = {S.SHIPPED, S.DELIVERED, S.COMPLETED}
PAYMENT_REFERENCE_MAX_LENGTH = Order._meta.get_field("payment_reference").max_length


@transaction.atomic
def order_payment_collect(*, order, actor, amount, reference, collected_at=None):
    """The carrier collected the order's money from the customer (cash on delivery,
    pay at store pickup: COLLECTED_BY_CARRIER), as its delivery report says: the order
    becomes paid, with `reference` (the parcel's tracking number) as its payment
    reference and `collected_at` (the delivery; default now) as when it was paid.

    Refused, changing nothing: an order the carrier does not collect for, one that has
    not shipped or whose payment is settled (cancelled, returned), one already paid,
    and an amount other than the order's total (the carrier collects the whole total
    on one parcel; a different amount is for staff to take up with the carrier)."""
    require_permission(actor, "orders.mark_paid", _("record payments"))
    amount = _decimal(amount, "amount")
    reference = (reference or "").strip()
    if not reference:
        raise WorkflowError(_("A collected payment needs a reference, such as the parcel's tracking number."))
    if len(reference) > PAYMENT_REFERENCE_MAX_LENGTH:
        raise WorkflowError(
            _("A payment reference has at most %(max)s characters; this one has %(length)s.")
            % {"max": PAYMENT_REFERENCE_MAX_LENGTH, "length": len(reference)}
        )
    now = timezone.now()
    if collected_at is not None and collected_at > now:
        raise WorkflowError(_("A payment cannot be collected in the future."))
    order = _lock_order(order)
    if order.payment_method not in COLLECTED_BY_CARRIER:
        raise WorkflowError(
            _("Order %(number)s is paid by %(method)s; the carrier collects nothing for it.")
            % {"number": order.number, "method": PaymentMethod(order.payment_method).label}
        )
    if order.status in workflow.PAYMENT_SETTLED or order.status not in COLLECTABLE:
        raise WorkflowError(
            _("Order %(number)s is %(status)s; the carrier collects payment only for an order that has shipped.")
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
    if order.payment_status != PaymentStatus.PENDING:
        raise StaleAction(
            _("Order %(number)s is already %(status)s.")
            % {"number": order.number, "status": order.get_payment_status_display().lower()}
        )
    if amount != order.total:
        raise WorkflowError(
            _(
                "The carrier collected %(amount)s but order %(number)s comes to %(total)s; the payment is not "
                "recorded. Check the amount with the carrier."
            )
            % {
                "amount": amount_text(amount, order.currency),
                "number": order.number,
                "total": amount_text(order.total, order.currency),
            }
        )
    order.payment_status = PaymentStatus.PAID
    order.payment_reference = reference
    order.paid_at = collected_at or now
    order.save(update_fields=["payment_status", "payment_reference", "paid_at"])
    event_add(
        order=order,
        kind=OrderEvent.Kind.PAYMENT,
        actor=actor,
        data={
            "payment_status": PaymentStatus.PAID,
            "action": "collected",
            "method": order.payment_method,
            "reference": reference,
            "amount": str(amount),
            "currency": order.currency,
        },
    )
    return order


@transaction.atomic
def order_correct_address(*, order, actor, **fields):
    """Correct the shipping address, and a store pickup's store (PICKUP_FIELDS),
    while the parcel has not left. The store is checked as on creation
    (Order.clean): the chain's code format, required for a store pickup and blank
    otherwise."""
    require_permission(actor, "orders.correct_address", _("correct shipping addresses"))
    unknown = set(fields) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise TypeError(f"order_correct_address() got unexpected fields: {', '.join(sorted(unknown))}")
    order = _lock_order(order)
    if order.status not in workflow.BEFORE_SHIPPING:
        raise WorkflowError(
            _("Order %(number)s is %(status)s; its address can no longer be changed.")
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
    # As text: the country reads as a django-countries Country, which the event's JSON cannot hold.
    before = {name: str(getattr(order, name)) for name in CORRECTABLE_FIELDS}
    errors = {}
    for name, value in fields.items():
        value = str(value or "").strip()
        if name == "ship_country":
            # Checked as typed (any case): the field would quietly read "TWN" as TW.
            try:
                value = country_code(value)
            except ValidationError as refusal:
                errors[name] = refusal.error_list
                continue
        setattr(order, name, value)
    try:
        order.full_clean(exclude=["customer", "warehouse", "number", *errors])
    except ValidationError as refusal:
        errors = {**refusal.error_dict, **errors}
    if errors:
        raise ValidationError(errors)
    after = {name: str(getattr(order, name)) for name in CORRECTABLE_FIELDS}
    changed = {name: [before[name], after[name]] for name in CORRECTABLE_FIELDS if before[name] != after[name]}
    if not changed:
        return order
    if "pickup_chain" in changed:
        _refuse_booked_with_another_chain(order)
    order.save(update_fields=list(changed))
    event_add(order=order, kind=OrderEvent.Kind.ADDRESS, actor=actor, data={"changed": changed})
    return order


def _refuse_booked_with_another_chain(order):
    """A parcel already booked (not cancelled) with a carrier that does not deliver to
    the new chain's stores: the store's chain cannot change under it. Read after the
    order lock, so a shipment being created at the same moment is either seen here or
    sees the new chain (shipment_create checks the carrier under the same lock)."""
    for shipment in order.shipments.exclude(status="cancelled").select_related("carrier"):
        if not shipment.carrier.serves(order):
            raise WorkflowError(
                _(
                    "Order %(number)s is booked with %(carrier)s %(tracking_number)s, which does not deliver to "
                    "%(chain)s stores; void that shipment before changing the store's chain."
                )
                % {
                    "number": order.number,
                    "carrier": shipment.carrier.name,
                    "tracking_number": shipment.tracking_number,
                    "chain": order.pickup_chain_label,
                }
            )


# --- packing station --------------------------------------------------------------


def _scannable_order(order, *, actor):
    require_permission(actor, "orders.scan_items", _("scan items"))
    order = _lock_order(order)
    if order.status != S.PROCESSING:
        raise WorkflowError(
            _("Order %(number)s is %(status)s; items are scanned while it is Processing.")
            % {"number": order.number, "status": workflow.status_label(order.status)}
        )
    return order


@transaction.atomic
def order_scan(*, order, code, actor):
    """One item scanned at the packing station: its line's scanned count grows by one.

    The code is a product barcode or SKU. A product not in the order, or one more
    than ordered, is refused and nothing is counted. The order row is locked, so
    two stations scanning the same order cannot over-count.
    """
    code = (code or "").strip()
    if not code:
        raise WorkflowError(_("Nothing was scanned."))
    if len(code) > 64:
        raise WorkflowError(_("“%(code)s…” is not a barcode or SKU.") % {"code": code[:20]})
    order = _scannable_order(order, actor=actor)
    lines = list(order.lines.select_related("product").order_by("pk"))
    # The product's current SKU as well as the one copied onto the line: a SKU renamed
    # after the order was placed still finds its line instead of "not in this order".
    matching = [line for line in lines if code_means(line.product, code, line_sku=line.sku)]
    if not matching:
        product = product_for_code(code)
        if product is None:
            raise WorkflowError(_("Unknown barcode or SKU “%(code)s”. Nothing was counted.") % {"code": code})
        raise WorkflowError(
            _("%(sku)s (%(name)s) is not in order %(number)s. Nothing was counted; put it aside.")
            % {"sku": product.sku, "name": product.name, "number": order.number}
        )
    line = next((line for line in matching if line.quantity_scanned < line.quantity), None)
    if line is None:
        line = matching[0]
        raise WorkflowError(
            _("Too many %(sku)s: all %(quantity)s already scanned. Nothing was counted; put it aside.")
            % {"sku": line.sku, "quantity": sum(m.quantity for m in matching)}
        )
    line.quantity_scanned += 1
    line.save(update_fields=["quantity_scanned"])
    event_add(
        order=order,
        kind=OrderEvent.Kind.SCAN,
        actor=actor,
        data={"action": "scan", "line": line.pk, "sku": line.sku, "code": code, "scanned": line.quantity_scanned},
    )
    return line


def _last_undoable_scan(order):
    """The newest scan not already undone (undo works like a stack). Refused scans
    counted nothing, so they are passed over."""
    undos = 0
    for event in order.events.filter(kind=OrderEvent.Kind.SCAN).order_by("-id").only("id", "data"):
        if event.data.get("action") == "refused":
            continue
        if event.data.get("action") == "undo":
            undos += 1
        elif undos:
            undos -= 1
        else:
            return event
    return None


@transaction.atomic
def order_scan_undo(*, order, actor):
    """Take back the last scan of the order (a wrong item was counted by mistake)."""
    order = _scannable_order(order, actor=actor)
    event = _last_undoable_scan(order)
    if event is None:
        raise WorkflowError(_("There is no scan to undo on order %(number)s.") % {"number": order.number})
    line = OrderLine.objects.get(pk=event.data["line"], order=order)
    if line.quantity_scanned == 0:
        raise WorkflowError(_("There is no scan to undo on order %(number)s.") % {"number": order.number})
    line.quantity_scanned -= 1
    line.save(update_fields=["quantity_scanned"])
    event_add(
        order=order,
        kind=OrderEvent.Kind.SCAN,
        actor=actor,
        data={"action": "undo", "line": line.pk, "sku": line.sku, "scanned": line.quantity_scanned},
    )
    return line


@transaction.atomic
def order_scan_refusal_record(*, order, code, reason, actor):
    """Write down a code the packing station refused (see order_scan), so managers
    can see how often the wrong item reaches the bench.

    Called after order_scan's own transaction has rolled back: the refusal changes
    nothing but the timeline, and a refused scan is never undone (it counted nothing).
    """
    require_permission(actor, "orders.scan_items", _("scan items"))
    return event_add(
        order=order,
        kind=OrderEvent.Kind.SCAN,
        actor=actor,
        # Codes are at most 64 characters (the columns they match); a longer entry was
        # refused for that, and the timeline keeps its beginning, marked as cut.
        data={"action": "refused", "code": shortened((code or "").strip(), 64), "reason": str(reason)},
    )


# --- the dashboard's background figures (orders.dashboard) -------------------------------


def dashboard_snapshot_request(*, key, now, retry_after):
    """Mark the snapshot `key` as asked for at `now`, creating it if needed. True when
    this caller is the one to have it worked out: nobody asked in the last
    `retry_after` (so a figure whose worker died is asked for again). A conditional
    UPDATE, so of two managers opening the page at once only one gets True."""
    from django.db.models import Q

    from .models import DashboardSnapshot

    DashboardSnapshot.objects.get_or_create(key=key)
    due = Q(requested_at__isnull=True) | Q(requested_at__lt=now - retry_after)
    return DashboardSnapshot.objects.filter(due, key=key).update(requested_at=now) == 1


def dashboard_snapshot_save(*, key, data, computed_at, forget_before=None):
    """Keep `data` as the snapshot `key` as of `computed_at` (a newer one already
    kept wins), and forget snapshots not worked out since `forget_before` (scopes
    nobody looks at any more)."""
    from django.db.models import Q

    from .models import DashboardSnapshot

    with transaction.atomic():
        DashboardSnapshot.objects.get_or_create(key=key)
        DashboardSnapshot.objects.filter(Q(computed_at__isnull=True) | Q(computed_at__lte=computed_at), key=key).update(
            data=data, computed_at=computed_at
        )
        if forget_before is not None:
            DashboardSnapshot.objects.filter(computed_at__lt=forget_before).exclude(key=key).delete()

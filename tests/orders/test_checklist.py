"""The checklist of each state: copying, ticking, the automatic steps, and advance
refused until every required step is done (DESIGN.md section 3)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.utils import timezone

from inventory.models import Warehouse
from orders import checklist, services
from shipping import checks as shipping_checks
from orders.exceptions import ChecklistIncomplete, StaleAction, WorkflowError
from orders.models import ChecklistStep, Order, OrderChecklistItem, OrderEvent, OrderStatus, PaymentStatus, Predicate
from shipping.models import Shipment
from shipping.services import shipment_create, shipment_mark_delivered
from tests.factories import (
    CarrierFactory,
    OrderFactory,
    ProductFactory,
    StockLevelFactory,
    WarehouseFactory,
    count_stock,
    order_to,
    receive_stock,
    tick_manual_steps,
)

S = OrderStatus
PAYMENT = "Payment confirmed"
VERIFIED = "Order details verified: name, phone and address complete"
STOCK = "Stock available for every line"
PICKED = "Items picked"
SCANNED = "Every item scanned at the packing station"
SEALED = "Packed and sealed"
SLIP = "Packing slip inserted"
TRACKED = "Shipment created with a valid tracking number"
HANDED = "Handed to the carrier"
DELIVERED = "Delivery confirmed"
FOLLOW_UP = "After-sales follow-up done"


def item(order, label, state=None):
    return order.checklist_items.get(state=state or order.status, label=label)


def labels(order, state):
    return list(order.checklist_items.filter(state=state).order_by("position", "id").values_list("label", flat=True))


def template_labels(state):
    return list(
        ChecklistStep.objects.filter(state=state, is_active=True)
        .order_by("position", "id")
        .values_list("label", flat=True)
    )


def fresh(order):
    return Order.objects.get(pk=order.pk)


def ready_to_ship(order, actor=None):
    shipment_create(order=order, carrier=CarrierFactory(), tracking_number=f"{order.pk:012d}", actor=actor)
    tick_manual_steps(order, actor=actor)
    return order


# --- copying the template ------------------------------------------------------


@pytest.mark.django_db
def test_new_order_gets_the_steps_of_new_and_no_other_state():
    order = OrderFactory()
    assert labels(order, S.NEW) == [PAYMENT, VERIFIED, STOCK] == template_labels(S.NEW)
    assert set(order.checklist_items.values_list("state", flat=True)) == {S.NEW}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status, expected",
    [
        (S.PROCESSING, [PICKED, SCANNED, SEALED, SLIP]),
        (S.PACKED, [TRACKED, HANDED]),
        (S.SHIPPED, [DELIVERED]),
        (S.DELIVERED, [FOLLOW_UP]),
        (S.COMPLETED, []),
    ],
)
def test_entering_a_state_copies_its_steps(status, expected):
    order = OrderFactory(status=status)
    assert labels(order, status) == expected == template_labels(status)
    copied = order.checklist_items.filter(state=status)
    assert all(not i.is_done for i in copied)  # nothing is ticked on arrival
    steps = {s.label: s for s in ChecklistStep.objects.filter(state=status)}
    for copy in copied:
        assert (copy.required, copy.predicate, copy.position) == (
            steps[copy.label].required,
            steps[copy.label].predicate,
            steps[copy.label].position,
        )


@pytest.mark.django_db
def test_template_edits_later_do_not_change_existing_orders():
    order = OrderFactory(processing=True)
    before = list(order.checklist_items.values_list("state", "label", "required", "position", "predicate"))

    ChecklistStep.objects.filter(state=S.PROCESSING, label=PICKED).update(label="Picked twice", required=False)
    ChecklistStep.objects.filter(state=S.PROCESSING, label=SLIP).update(is_active=False)
    ChecklistStep.objects.create(state=S.PROCESSING, label="Gift wrapped", position=1)
    ChecklistStep.objects.create(state=S.NEW, label="Phoned the customer", position=99)

    assert list(order.checklist_items.values_list("state", "label", "required", "position", "predicate")) == before
    # A new order, and this order's next state, get the template as it is now.
    newer = OrderFactory(processing=True)
    assert labels(newer, S.NEW)[-1] == "Phoned the customer"
    assert labels(newer, S.PROCESSING) == ["Gift wrapped", "Picked twice", SCANNED, SEALED]


@pytest.mark.django_db
def test_steps_are_copied_when_the_order_enters_the_state_not_when_it_is_created():
    order = OrderFactory()
    ChecklistStep.objects.create(state=S.PROCESSING, label="Weighed", position=100)
    order = order_to(order, S.PROCESSING)
    assert labels(order, S.PROCESSING)[-1] == "Weighed"


@pytest.mark.django_db
def test_inactive_template_steps_are_not_copied():
    ChecklistStep.objects.filter(state=S.NEW, label=VERIFIED).update(is_active=False)
    order = OrderFactory()
    assert labels(order, S.NEW) == [PAYMENT, STOCK]


# --- tick and untick -------------------------------------------------------------


@pytest.mark.django_db
def test_tick_records_who_and_when_and_adds_an_event(warehouse_user):
    order = OrderFactory()
    before = timezone.now()
    ticked = services.checklist_tick(item=item(order, VERIFIED), actor=warehouse_user)

    stored = OrderChecklistItem.objects.get(pk=ticked.pk)
    assert stored.done_by == warehouse_user
    assert before <= stored.done_at <= timezone.now()
    event = order.events.get(kind=OrderEvent.Kind.TICK)
    assert event.actor == warehouse_user
    assert event.data == {"step": VERIFIED, "state": S.NEW}


@pytest.mark.django_db
def test_untick_clears_who_and_when_and_adds_an_event(warehouse_user, manager):
    order = OrderFactory()
    services.checklist_tick(item=item(order, VERIFIED), actor=warehouse_user)
    services.checklist_untick(item=item(order, VERIFIED), actor=manager)

    stored = item(order, VERIFIED)
    assert stored.done_at is None and stored.done_by is None
    event = order.events.get(kind=OrderEvent.Kind.UNTICK)
    assert event.actor == manager
    assert event.data == {"step": VERIFIED, "state": S.NEW}


@pytest.mark.django_db
def test_stale_tick_raises_stale_action_and_keeps_the_first_tick(warehouse_user, manager):
    order = OrderFactory()
    seen_by_first = item(order, VERIFIED)
    seen_by_second = item(order, VERIFIED)  # loaded before the first tick
    services.checklist_tick(item=seen_by_first, actor=warehouse_user)

    with pytest.raises(StaleAction, match="already ticked by warehouse"):
        services.checklist_tick(item=seen_by_second, actor=manager)
    assert item(order, VERIFIED).done_by == warehouse_user
    assert order.events.filter(kind=OrderEvent.Kind.TICK).count() == 1


@pytest.mark.django_db
def test_stale_untick_raises_stale_action(warehouse_user, manager):
    order = OrderFactory()
    ticked = services.checklist_tick(item=item(order, VERIFIED), actor=warehouse_user)
    services.checklist_untick(item=ticked, actor=warehouse_user)

    with pytest.raises(StaleAction, match="already unticked"):
        services.checklist_untick(item=ticked, actor=manager)
    assert order.events.filter(kind=OrderEvent.Kind.UNTICK).count() == 1


@pytest.mark.django_db
def test_tick_of_a_step_not_in_the_current_state_is_refused(warehouse_user):
    ChecklistStep.objects.create(state=S.NEW, label="Gift note written", position=50, required=False)
    order = OrderFactory()
    services.checklist_tick(item=item(order, VERIFIED), actor=warehouse_user)
    order = services.order_advance(order=order, actor=warehouse_user)
    leftover = item(order, "Gift note written", state=S.NEW)
    assert not leftover.is_done
    events = order.events.count()

    with pytest.raises(WorkflowError, match="belongs to New; order .* is Processing"):
        services.checklist_tick(item=leftover, actor=warehouse_user)
    assert not item(order, "Gift note written", state=S.NEW).is_done
    assert order.events.count() == events


@pytest.mark.django_db
def test_tick_and_untick_refused_while_the_order_is_on_hold(warehouse_user, manager):
    order = OrderFactory(processing=True)
    picked = services.checklist_tick(item=item(order, PICKED), actor=warehouse_user)
    services.order_hold(order=order, actor=manager, reason="Customer asked to wait")

    with pytest.raises(WorkflowError, match="belongs to Processing"):
        services.checklist_tick(item=item(order, SEALED, state=S.PROCESSING), actor=warehouse_user)
    with pytest.raises(WorkflowError, match="belongs to Processing"):
        services.checklist_untick(item=picked, actor=warehouse_user)
    assert item(order, PICKED, state=S.PROCESSING).is_done
    assert not item(order, SEALED, state=S.PROCESSING).is_done


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status, label",
    [
        (S.NEW, PAYMENT),
        (S.NEW, STOCK),
        (S.PROCESSING, SCANNED),
        (S.PACKED, TRACKED),
    ],
)
def test_automatic_steps_cannot_be_ticked_by_hand(status, label, manager):
    order = OrderFactory(status=status, payment_status=PaymentStatus.PENDING if status == S.NEW else PaymentStatus.PAID)
    events = order.events.count()
    with pytest.raises(WorkflowError, match="checked automatically and cannot be ticked by hand"):
        services.checklist_tick(item=item(order, label), actor=manager)
    with pytest.raises(WorkflowError, match="cannot be unticked by hand"):
        services.checklist_untick(item=item(order, label), actor=manager)
    assert not item(order, label).is_done
    assert order.events.count() == events


@pytest.mark.django_db
def test_delivery_confirmed_can_be_ticked_by_hand(warehouse_user):
    order = OrderFactory(shipped=True)
    step = item(order, DELIVERED)
    assert step.predicate == Predicate.SHIPMENT_DELIVERED

    services.checklist_tick(item=step, actor=warehouse_user)  # the customer confirmed by phone
    assert item(order, DELIVERED).done_by == warehouse_user
    order = services.order_advance(order=order, actor=warehouse_user)
    assert order.status == S.DELIVERED


@pytest.mark.django_db
def test_tick_needs_the_tick_permission(service_user):
    order = OrderFactory()
    with pytest.raises(PermissionDenied):
        services.checklist_tick(item=item(order, VERIFIED), actor=service_user)
    assert not item(order, VERIFIED).is_done
    assert not order.events.filter(kind=OrderEvent.Kind.TICK).exists()


# --- advance and the checklist ------------------------------------------------------


@pytest.mark.django_db
def test_advance_is_refused_naming_the_missing_steps(warehouse_user):
    order = OrderFactory(payment_status=PaymentStatus.PENDING)
    events = order.events.count()

    with pytest.raises(ChecklistIncomplete) as refused:
        services.order_advance(order=order, actor=warehouse_user)
    assert refused.value.missing == [PAYMENT, VERIFIED]
    assert PAYMENT in str(refused.value) and VERIFIED in str(refused.value)
    order = fresh(order)
    assert order.status == S.NEW and order.warehouse is None
    assert order.events.count() == events
    assert not order.stock_movements.exists()


@pytest.mark.django_db
def test_advance_refusal_for_stock_names_the_short_sku(warehouse_user):
    product = ProductFactory(sku="TEA-500")
    order = OrderFactory(lines=[product], stock=0)
    tick_manual_steps(order)

    with pytest.raises(ChecklistIncomplete) as refused:
        services.order_advance(order=order, actor=warehouse_user)
    assert refused.value.missing == [STOCK]
    assert "TEA-500" in str(refused.value)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PROCESSING, S.PACKED])
def test_each_required_manual_step_blocks_advance(status, warehouse_user):
    order = OrderFactory(status=status)
    if status == S.PROCESSING:
        order.lines.update(quantity_scanned=F("quantity"))
    else:
        shipment_create(order=order, carrier=CarrierFactory(), tracking_number="123456789012", actor=warehouse_user)
    manual = list(order.checklist_items.filter(state=status, predicate="").order_by("position"))
    for left_out in manual:
        for step in manual:
            if step.pk != left_out.pk and not item(order, step.label).is_done:
                services.checklist_tick(item=step, actor=warehouse_user)
        if item(order, left_out.label).is_done:
            services.checklist_untick(item=left_out, actor=warehouse_user)
        with pytest.raises(ChecklistIncomplete) as refused:
            services.order_advance(order=order, actor=warehouse_user)
        assert refused.value.missing == [left_out.label]
    assert fresh(order).status == status


@pytest.mark.django_db
def test_optional_steps_do_not_block_advance(warehouse_user, manager):
    ChecklistStep.objects.create(state=S.NEW, label="Upsell call", position=5, required=False)
    order = OrderFactory()
    services.checklist_tick(item=item(order, VERIFIED), actor=warehouse_user)
    order = services.order_advance(order=order, actor=warehouse_user)
    assert order.status == S.PROCESSING
    assert not item(order, "Upsell call", state=S.NEW).is_done

    delivered = OrderFactory(delivered=True)
    assert not item(delivered, FOLLOW_UP).is_done and not item(delivered, FOLLOW_UP).required
    assert services.order_advance(order=delivered, actor=manager).status == S.COMPLETED


@pytest.mark.django_db
def test_advance_stamps_the_automatic_steps_it_relied_on(warehouse_user):
    order = OrderFactory()
    services.checklist_tick(item=item(order, VERIFIED), actor=warehouse_user)
    services.order_advance(order=order, actor=warehouse_user)

    for label in (PAYMENT, STOCK):
        stamped = item(order, label, state=S.NEW)
        assert stamped.done_at is not None
        assert stamped.done_by is None  # the system, not a person


@pytest.mark.django_db
def test_resume_keeps_ticked_steps_and_does_not_copy_them_again(warehouse_user, manager):
    order = OrderFactory(processing=True)
    services.checklist_tick(item=item(order, PICKED), actor=warehouse_user)
    count = order.checklist_items.count()

    order = services.order_hold(order=order, actor=warehouse_user, reason="Address unclear")
    order = services.order_resume(order=order, actor=manager)

    assert order.status == S.PROCESSING
    assert order.checklist_items.count() == count
    assert item(order, PICKED).done_by == warehouse_user


# --- the automatic steps -------------------------------------------------------------


@pytest.mark.django_db
def test_payment_confirmed_follows_the_payment_status():
    order = OrderFactory(payment_status=PaymentStatus.PENDING)
    assert checklist.payment_confirmed(order) == (False, "Payment is Pending.")
    order.payment_status = PaymentStatus.PAID
    assert checklist.payment_confirmed(order) == (True, "")


@pytest.mark.django_db
def test_mark_paid_makes_payment_confirmed_pass(service_user):
    order = OrderFactory(payment_status=PaymentStatus.PENDING)
    assert checklist.step_passed(item(order, PAYMENT), order)[0] is False
    order = services.order_mark_paid(order=order, actor=service_user)
    assert checklist.step_passed(item(order, PAYMENT), order) == (True, "")


@pytest.mark.django_db
def test_stock_available_when_one_warehouse_holds_every_line():
    order = OrderFactory(lines=2, quantity=3, stock=3)
    assert checklist.stock_available(order) == (True, "")


@pytest.mark.django_db
def test_stock_available_names_the_short_skus():
    short = ProductFactory(sku="SHORT-1")
    plenty = ProductFactory(sku="PLENTY-1")
    order = OrderFactory(lines=[short, plenty], quantity=2, stock=2)
    count_stock(short, Warehouse.objects.get(code="MAIN"), 1)
    passed, hint = checklist.stock_available(order)
    assert not passed
    assert "SHORT-1" in hint and "PLENTY-1" not in hint


@pytest.mark.django_db
def test_stock_available_counts_reserved_units_as_gone():
    order = OrderFactory(stock=1)
    OrderFactory(lines=[order.lines.get().product], stock=0, processing=True)  # reserves the one unit
    passed, hint = checklist.stock_available(order)
    assert not passed and order.lines.get().sku in hint


@pytest.mark.django_db
def test_stock_available_adds_up_lines_of_the_same_product():
    product = ProductFactory()
    order = OrderFactory(lines=[product, product], quantity=1, stock=0)
    main = Warehouse.objects.get(code="MAIN")
    receive_stock(product, main, 1)
    assert checklist.stock_available(order)[0] is False
    receive_stock(product, main, 1)
    assert checklist.stock_available(order)[0] is True


@pytest.mark.django_db
def test_stock_available_fails_when_no_single_warehouse_can_supply_every_line():
    north = WarehouseFactory(code="NORTH", priority=1)
    south = WarehouseFactory(code="SOUTH", priority=2)
    first, second = ProductFactory(), ProductFactory()
    StockLevelFactory(product=first, warehouse=north, on_hand=5)
    StockLevelFactory(product=second, warehouse=south, on_hand=5)
    order = OrderFactory(lines=[first, second], stock=0)  # no warehouse of its own

    assert checklist.stock_available(order) == (False, "No single warehouse holds every line.")
    StockLevelFactory(product=second, warehouse=north, on_hand=1)
    assert checklist.stock_available(order) == (True, "")


@pytest.mark.django_db
def test_stock_available_ignores_inactive_warehouses():
    order = OrderFactory(stock=5)
    Warehouse.objects.filter(code="MAIN").update(is_active=False)
    assert checklist.stock_available(order)[0] is False


@pytest.mark.django_db
def test_stock_available_only_looks_at_the_orders_warehouse_when_one_is_set():
    order = OrderFactory(stock=5)
    elsewhere = WarehouseFactory(code="EMPTY", priority=9)
    Order.objects.filter(pk=order.pk).update(warehouse=elsewhere)
    order = fresh(order)
    passed, hint = checklist.stock_available(order)
    assert not passed and order.lines.get().sku in hint


@pytest.mark.django_db
def test_all_items_scanned_passes_only_when_every_line_is_fully_scanned():
    order = OrderFactory(processing=True, lines=2, quantity=2)
    first, second = order.lines.order_by("id")
    passed, hint = checklist.all_items_scanned(order)
    assert not passed and "2 line(s)" in hint and first.sku in hint and second.sku in hint

    order.lines.filter(pk=first.pk).update(quantity_scanned=2)
    order.lines.filter(pk=second.pk).update(quantity_scanned=1)
    passed, hint = checklist.all_items_scanned(order)
    assert not passed and first.sku not in hint and second.sku in hint

    order.lines.filter(pk=second.pk).update(quantity_scanned=2)
    assert checklist.all_items_scanned(order) == (True, "")


@pytest.mark.django_db
def test_shipment_tracked_needs_a_live_shipment_with_a_tracking_number_matching_the_pattern(warehouse_user):
    order = OrderFactory(packed=True)
    carrier = CarrierFactory()  # pattern: twelve digits
    assert shipping_checks.shipment_tracked(order) == (False, "No shipment yet.")

    bad = Shipment.objects.create(order=order, carrier=carrier, tracking_number="ABC123")
    assert shipping_checks.shipment_tracked(order) == (False, "No shipment has a valid tracking number.")

    bad.status = Shipment.Status.CANCELLED
    bad.save()
    good = shipment_create(order=order, carrier=carrier, tracking_number="1234 5678 9012", actor=warehouse_user)
    assert good.tracking_number == "123456789012"
    assert shipping_checks.shipment_tracked(order) == (True, "")

    good.status = Shipment.Status.CANCELLED
    good.save()
    assert shipping_checks.shipment_tracked(order) == (False, "No shipment yet.")


@pytest.mark.django_db
def test_shipment_tracked_accepts_any_number_for_a_carrier_without_a_pattern():
    order = OrderFactory(packed=True)
    carrier = CarrierFactory(code="ANYPOST", name="Post", tracking_number_pattern="")
    shipment_create(order=order, carrier=carrier, tracking_number="anything-1", actor=None)
    assert shipping_checks.shipment_tracked(order) == (True, "")


@pytest.mark.django_db
def test_shipment_delivered_passes_when_the_carrier_reports_delivery(warehouse_user):
    order = OrderFactory(shipped=True)
    passed, hint = shipping_checks.shipment_delivered(order)
    assert not passed and "tick it when the customer confirms" in hint
    with pytest.raises(ChecklistIncomplete) as refused:
        services.order_advance(order=order, actor=warehouse_user)
    assert refused.value.missing == [DELIVERED]

    shipment_mark_delivered(shipment=order.shipments.get(), actor=warehouse_user)
    assert shipping_checks.shipment_delivered(order) == (True, "")
    order = services.order_advance(order=order, actor=warehouse_user)
    assert order.status == S.DELIVERED
    assert item(order, DELIVERED, state=S.SHIPPED).done_at is not None


@pytest.mark.django_db
def test_automatic_steps_are_evaluated_against_the_current_data():
    """An automatic step that passed once fails again when its condition stops holding."""
    order = OrderFactory()
    assert checklist.step_passed(item(order, STOCK), order)[0] is True
    count_stock(order.lines.get().product, Warehouse.objects.get(code="MAIN"), 0)
    assert checklist.step_passed(item(order, STOCK), order)[0] is False


@pytest.mark.django_db
def test_every_predicate_in_the_model_choices_has_an_implementation():
    assert set(checklist.PREDICATES) == set(Predicate.values)
    assert checklist.TICKABLE_BY_HAND == {Predicate.SHIPMENT_DELIVERED}


@pytest.mark.django_db
def test_a_ticked_step_keeps_its_original_time(warehouse_user):
    order = OrderFactory()
    ticked = services.checklist_tick(item=item(order, VERIFIED), actor=warehouse_user)
    OrderChecklistItem.objects.filter(pk=ticked.pk).update(done_at=timezone.now() - timedelta(hours=3))
    services.order_advance(order=order, actor=warehouse_user)
    assert item(order, VERIFIED, state=S.NEW).done_at < timezone.now() - timedelta(hours=2)


@pytest.mark.django_db
def test_mark_paid_refused_without_permission_keeps_payment_pending(warehouse_user):
    order = OrderFactory(payment_status=PaymentStatus.PENDING)
    with pytest.raises(PermissionDenied):
        services.order_mark_paid(order=order, actor=warehouse_user)
    assert fresh(order).payment_status == PaymentStatus.PENDING

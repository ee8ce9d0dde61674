"""order_scan and order_scan_undo: the packing station's services."""

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from orders import checklist, services
from orders.exceptions import WorkflowError
from orders.models import OrderEvent, OrderStatus
from tests.factories import OrderFactory, ProductFactory, warehouse_user
from tests.utils import requires_postgresql


@pytest.fixture
def order(db):
    return OrderFactory(processing=True, lines=2, quantity=2)


def scanned(order):
    return [line.quantity_scanned for line in order.lines.order_by("pk")]


def scan_events(order):
    return order.events.filter(kind=OrderEvent.Kind.SCAN).count()


# --- counting -------------------------------------------------------------------------


def test_scan_by_barcode_counts_one_and_records_who(order, warehouse_user):
    line = order.lines.select_related("product").first()
    counted = services.order_scan(order=order, code=line.product.barcode, actor=warehouse_user)
    assert counted.pk == line.pk
    assert scanned(order) == [1, 0]
    event = order.events.get(kind=OrderEvent.Kind.SCAN)
    assert event.actor == warehouse_user
    assert event.data["action"] == "scan"
    assert event.describe() == f"Scanned {line.sku} (1)"


@pytest.mark.parametrize("spelling", [str.lower, str.upper, lambda sku: f"  {sku.swapcase()}\n"])
def test_scan_by_sku_in_any_case(order, warehouse_user, spelling):
    second = order.lines.order_by("pk")[1]
    services.order_scan(order=order, code=spelling(second.sku), actor=warehouse_user)
    assert scanned(order) == [0, 1]


def test_scan_by_the_products_current_sku_after_a_rename(order, warehouse_user):
    """The line keeps the SKU it was ordered under; the product's new SKU still finds it."""
    line = order.lines.select_related("product").first()
    product = line.product
    product.sku = "RENAMED-1"
    product.save(update_fields=["sku"])
    services.order_scan(order=order, code="renamed-1", actor=warehouse_user)
    services.order_scan(order=order, code=line.sku, actor=warehouse_user)  # the old one too
    assert scanned(order) == [2, 0]


def test_the_same_product_on_two_lines_fills_them_in_turn(warehouse_user):
    product = ProductFactory()
    order = OrderFactory(processing=True, lines=[product, product], quantity=1)
    services.order_scan(order=order, code=product.barcode, actor=warehouse_user)
    services.order_scan(order=order, code=product.barcode, actor=warehouse_user)
    assert scanned(order) == [1, 1]
    with pytest.raises(WorkflowError, match=f"Too many {product.sku}: all 2 already scanned"):
        services.order_scan(order=order, code=product.barcode, actor=warehouse_user)


# --- refusals -------------------------------------------------------------------------


def test_unknown_code_is_refused_and_nothing_counted(order, warehouse_user):
    with pytest.raises(WorkflowError, match="Unknown barcode or SKU “NO-SUCH-THING”. Nothing was counted."):
        services.order_scan(order=order, code="NO-SUCH-THING", actor=warehouse_user)
    assert scanned(order) == [0, 0]
    assert scan_events(order) == 0


@pytest.mark.parametrize("code", ["", "   ", None])
def test_empty_scan_is_refused(order, warehouse_user, code):
    with pytest.raises(WorkflowError, match="Nothing was scanned."):
        services.order_scan(order=order, code=code, actor=warehouse_user)
    assert scanned(order) == [0, 0]


def test_overlong_code_is_refused(order, warehouse_user):
    with pytest.raises(WorkflowError, match="is not a barcode or SKU"):
        services.order_scan(order=order, code="4" * 10_000, actor=warehouse_user)
    assert scanned(order) == [0, 0]


def test_product_not_in_the_order_is_refused(order, warehouse_user):
    stranger = ProductFactory(name="Umbrella")
    for code in (stranger.barcode, stranger.sku.lower()):
        with pytest.raises(WorkflowError) as refusal:
            services.order_scan(order=order, code=code, actor=warehouse_user)
        assert str(refusal.value) == (
            f"{stranger.sku} (Umbrella) is not in order {order.number}. Nothing was counted; put it aside."
        )
    assert scanned(order) == [0, 0]
    assert scan_events(order) == 0


def test_one_more_than_ordered_is_refused(order, warehouse_user):
    line = order.lines.first()
    services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    with pytest.raises(WorkflowError) as refusal:
        services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    assert str(refusal.value) == f"Too many {line.sku}: all 2 already scanned. Nothing was counted; put it aside."
    assert scanned(order) == [2, 0]
    assert scan_events(order) == 2


@pytest.mark.parametrize("status", [OrderStatus.NEW, OrderStatus.PACKED, OrderStatus.SHIPPED])
def test_orders_not_in_processing_cannot_be_scanned(warehouse_user, status):
    order = OrderFactory(status=status)
    line = order.lines.first()
    before = line.quantity_scanned
    with pytest.raises(WorkflowError) as refusal:
        services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    assert str(refusal.value) == (
        f"Order {order.number} is {OrderStatus(status).label}; items are scanned while it is Processing."
    )
    with pytest.raises(WorkflowError):
        services.order_scan_undo(order=order, actor=warehouse_user)
    line.refresh_from_db()
    assert line.quantity_scanned == before


def test_an_order_on_hold_cannot_be_scanned_and_keeps_its_counts(order, warehouse_user, service_user):
    line = order.lines.first()
    services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    services.order_hold(order=order, actor=service_user, reason="Address unclear")
    with pytest.raises(WorkflowError, match="is On hold; items are scanned while it is Processing"):
        services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    services.order_resume(order=order, actor=service_user)
    assert scanned(order) == [1, 0]
    services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    assert scanned(order) == [2, 0]


def test_customer_service_may_not_scan_or_undo(order, warehouse_user, service_user):
    line = order.lines.first()
    with pytest.raises(PermissionDenied):
        services.order_scan(order=order, code=line.sku, actor=service_user)
    services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    with pytest.raises(PermissionDenied):
        services.order_scan_undo(order=order, actor=service_user)
    assert scanned(order) == [1, 0]


def test_managers_may_scan(order, manager):
    services.order_scan(order=order, code=order.lines.first().sku, actor=manager)
    assert scanned(order) == [1, 0]


# --- undo -----------------------------------------------------------------------------


def test_undo_works_like_a_stack(order, warehouse_user):
    first, second = order.lines.order_by("pk")

    def scan(line):
        services.order_scan(order=order, code=line.sku, actor=warehouse_user)

    def undo():
        return services.order_scan_undo(order=order, actor=warehouse_user)

    scan(first)
    scan(second)
    scan(first)
    assert scanned(order) == [2, 1]
    assert undo().pk == first.pk  # the newest scan first
    assert scanned(order) == [1, 1]
    assert undo().pk == second.pk
    assert scanned(order) == [1, 0]
    scan(second)
    assert undo().pk == second.pk  # a new scan goes on top of the stack
    assert undo().pk == first.pk  # then the oldest scan, whose newer ones are all undone
    assert scanned(order) == [0, 0]
    with pytest.raises(WorkflowError, match=f"There is no scan to undo on order {order.number}."):
        undo()
    undos = order.events.filter(kind=OrderEvent.Kind.SCAN, data__action="undo")
    assert undos.count() == 4
    assert undos.first().actor == warehouse_user


def test_undo_with_nothing_scanned_is_refused(order, warehouse_user):
    with pytest.raises(WorkflowError, match="There is no scan to undo"):
        services.order_scan_undo(order=order, actor=warehouse_user)
    assert scan_events(order) == 0


def test_refused_scans_are_not_undone(order, warehouse_user):
    line = order.lines.first()
    services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    with pytest.raises(WorkflowError):
        services.order_scan(order=order, code=ProductFactory().sku, actor=warehouse_user)
    assert services.order_scan_undo(order=order, actor=warehouse_user).pk == line.pk
    assert scanned(order) == [0, 0]


# --- the checklist --------------------------------------------------------------------


def test_the_automatic_step_passes_when_every_item_is_scanned(order, warehouse_user):
    step = "Every item scanned at the packing station"
    assert step in checklist.missing_steps(order)
    lines = list(order.lines.all())
    services.order_scan(order=order, code=lines[0].sku, actor=warehouse_user)
    services.order_scan(order=order, code=lines[0].sku, actor=warehouse_user)
    services.order_scan(order=order, code=lines[1].sku, actor=warehouse_user)
    assert step in checklist.missing_steps(order)  # one unit still missing
    services.order_scan(order=order, code=lines[1].sku, actor=warehouse_user)
    assert step not in checklist.missing_steps(order)
    services.order_scan_undo(order=order, actor=warehouse_user)
    assert step in checklist.missing_steps(order)  # undo takes the pass back


def test_packing_needs_every_item_scanned(order, warehouse_user):
    from tests.factories import tick_manual_steps

    tick_manual_steps(order, actor=warehouse_user)
    with pytest.raises(WorkflowError, match="Every item scanned at the packing station"):
        services.order_advance(order=order, actor=warehouse_user)
    for line in order.lines.all():
        for _unit in range(line.quantity):
            services.order_scan(order=order, code=line.sku, actor=warehouse_user)
    order = services.order_advance(order=order, actor=warehouse_user, expected_status=OrderStatus.PROCESSING)
    assert order.status == OrderStatus.PACKED
    item = order.checklist_items.get(state=OrderStatus.PROCESSING, predicate="all_items_scanned")
    assert item.done_at is not None  # stamped when the order left Processing


# --- two stations at once -------------------------------------------------------------


def _race(stations, scan_once):
    """Run scan_once(index) in `stations` threads released together; returns their results."""
    barrier = threading.Barrier(stations)
    results = []

    def station(index):
        try:
            barrier.wait(timeout=10)
            results.extend(scan_once(index))
        finally:
            connection.close()

    threads = [threading.Thread(target=station, args=(index,)) for index in range(stations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _scan_result(order, code, actor):
    try:
        services.order_scan(order=order, code=code, actor=actor)
    except WorkflowError as refusal:
        return str(refusal)
    return "counted"


@requires_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_stations_scanning_the_last_unit_count_it_once():
    order = OrderFactory(processing=True, lines=1, quantity=3)
    line = order.lines.select_related("product").get()
    packers = [warehouse_user(), warehouse_user()]
    services.order_scan(order=order, code=line.sku, actor=packers[0])
    too_many = f"Too many {line.sku}: all 3 already scanned. Nothing was counted; put it aside."
    for _round in range(5):  # the race is short: run it a few times
        services.order_scan(order=order, code=line.sku, actor=packers[0])  # one unit left
        results = _race(2, lambda index: [_scan_result(order, line.product.barcode, packers[index])])
        assert sorted(results) == sorted(["counted", too_many]), results
        line.refresh_from_db()
        assert line.quantity_scanned == 3
        services.order_scan_undo(order=order, actor=packers[0])
        services.order_scan_undo(order=order, actor=packers[0])


@requires_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_stations_scanning_together_never_lose_or_add_a_count():
    order = OrderFactory(processing=True, lines=1, quantity=20, stock=20)
    line = order.lines.get()
    packers = [warehouse_user() for _ in range(4)]
    results = _race(4, lambda index: [_scan_result(order, line.sku, packers[index]) for _ in range(8)])
    assert results.count("counted") == 20, results
    line.refresh_from_db()
    assert line.quantity_scanned == 20
    assert order.events.filter(kind=OrderEvent.Kind.SCAN).count() == 20


# --- refused scans on the timeline ---------------------------------------------------------


def test_a_refusal_is_recorded_as_a_scan_event_and_changes_nothing_else(order, warehouse_user):
    status, changed_at, events = order.status, order.status_changed_at, order.events.count()
    event = services.order_scan_refusal_record(
        order=order, code="  NO-SUCH-THING ", reason="Unknown barcode or SKU “NO-SUCH-THING”.", actor=warehouse_user
    )
    assert event.kind == OrderEvent.Kind.SCAN
    assert event.actor == warehouse_user
    assert event.data == {
        "action": "refused",
        "code": "NO-SUCH-THING",
        "reason": "Unknown barcode or SKU “NO-SUCH-THING”.",
    }
    assert event.describe() == "Refused scan of NO-SUCH-THING: Unknown barcode or SKU “NO-SUCH-THING”."
    order.refresh_from_db()
    assert (order.status, order.status_changed_at) == (status, changed_at)
    assert scanned(order) == [0, 0]
    assert order.events.count() == events + 1


def test_a_refused_code_is_kept_at_most_64_characters_marked_as_cut(order, warehouse_user):
    event = services.order_scan_refusal_record(order=order, code="4" * 500, reason="Too long", actor=warehouse_user)
    assert event.data["code"] == "4" * 63 + "…"


def test_only_people_who_may_scan_record_refusals(order, service_user):
    with pytest.raises(PermissionDenied):
        services.order_scan_refusal_record(order=order, code="X", reason="No", actor=service_user)
    assert scan_events(order) == 0


def test_undo_passes_over_recorded_refusals(order, warehouse_user):
    first, second = order.lines.order_by("pk")
    services.order_scan(order=order, code=first.sku, actor=warehouse_user)
    services.order_scan(order=order, code=second.sku, actor=warehouse_user)
    services.order_scan_refusal_record(order=order, code="WRONG", reason="Not in the order", actor=warehouse_user)
    assert services.order_scan_undo(order=order, actor=warehouse_user).pk == second.pk
    services.order_scan_refusal_record(order=order, code="WRONG", reason="Not in the order", actor=warehouse_user)
    assert services.order_scan_undo(order=order, actor=warehouse_user).pk == first.pk
    assert scanned(order) == [0, 0]
    services.order_scan_refusal_record(order=order, code="WRONG", reason="Not in the order", actor=warehouse_user)
    with pytest.raises(WorkflowError, match="There is no scan to undo"):
        services.order_scan_undo(order=order, actor=warehouse_user)

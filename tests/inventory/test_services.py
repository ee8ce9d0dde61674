"""Stock services: receive, count, reserve, release, consume, restock, and the ledger
(every StockMovement) summing to every StockLevel after any sequence of operations."""

import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import F

from inventory import services as stock
from inventory.exceptions import InsufficientStock, InventoryError
from inventory.models import StockLevel, StockMovement
from orders import services as orders
from shipping.returns import return_open, return_receive, returned_quantities
from orders.exceptions import WorkflowError
from orders.models import Order, OrderStatus, PaymentStatus
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    StockLevelFactory,
    WarehouseFactory,
    manager_user,
    order_to,
    tick_manual_steps,
)
from tests.utils import ledger_mismatches

S = OrderStatus


def state():
    return (
        list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved")),
        StockMovement.objects.count(),
    )


# --- stock_receive -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_receive_creates_the_stock_row_and_records_a_receipt(warehouse_user):
    product, warehouse = ProductFactory(), WarehouseFactory()

    level = stock.stock_receive(
        product=product, warehouse=warehouse, quantity=12, actor=warehouse_user, note="PO 4471"
    )

    assert (level.on_hand, level.reserved) == (12, 0)
    assert StockLevel.objects.get(product=product, warehouse=warehouse).on_hand == 12
    movement = StockMovement.objects.get()
    assert (movement.kind, movement.on_hand_delta, movement.reserved_delta, movement.actor, movement.note) == (
        StockMovement.Kind.RECEIPT,
        12,
        0,
        warehouse_user,
        "PO 4471",
    )
    assert movement.order is None


@pytest.mark.django_db
def test_receive_adds_to_what_is_there(manager):
    level = StockLevelFactory(on_hand=0)
    stock.stock_receive(product=level.product, warehouse=level.warehouse, quantity=3, actor=manager)
    stock.stock_receive(product=level.product, warehouse=level.warehouse, quantity=" 4 ", actor=manager)
    level.refresh_from_db()
    assert level.on_hand == 7
    assert ledger_mismatches() == {}


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [0, -3, "abc", "1.5", "", None, True])
def test_receive_refuses_a_bad_quantity_and_changes_nothing(quantity, manager):
    product, warehouse = ProductFactory(), WarehouseFactory()
    with pytest.raises(InventoryError):
        stock.stock_receive(product=product, warehouse=warehouse, quantity=quantity, actor=manager)
    assert not StockLevel.objects.exists() and not StockMovement.objects.exists()


@pytest.mark.django_db
def test_receive_is_for_warehouse_staff_and_managers(warehouse_user, service_user, manager):
    level = StockLevelFactory(on_hand=0)
    before = state()
    with pytest.raises(PermissionDenied, match="receive stock"):
        stock.stock_receive(product=level.product, warehouse=level.warehouse, quantity=1, actor=service_user)
    assert state() == before
    for user in (warehouse_user, manager):
        stock.stock_receive(product=level.product, warehouse=level.warehouse, quantity=1, actor=user)
    level.refresh_from_db()
    assert level.on_hand == 2


# --- stock_count --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("counted, delta", [(4, -6), (10, 0), (25, 15), (0, -10)])
def test_count_sets_on_hand_and_records_the_difference(counted, delta, manager):
    level = StockLevelFactory(on_hand=10)  # received: the ledger holds its receipt

    stock.stock_count(product=level.product, warehouse=level.warehouse, on_hand=counted, actor=manager, note="Q3")

    level.refresh_from_db()
    assert level.on_hand == counted
    movement = StockMovement.objects.get(kind=StockMovement.Kind.COUNT)
    assert (movement.on_hand_delta, movement.reserved_delta, movement.actor, movement.note) == (delta, 0, manager, "Q3")
    assert ledger_mismatches() == {}


@pytest.mark.django_db
def test_count_of_a_product_never_stocked_there_creates_the_row(manager):
    product, warehouse = ProductFactory(), WarehouseFactory()
    stock.stock_count(product=product, warehouse=warehouse, on_hand=3, actor=manager)
    assert StockLevel.objects.get(product=product, warehouse=warehouse).on_hand == 3
    assert ledger_mismatches() == {}


@pytest.mark.django_db
def test_count_below_what_is_reserved_is_refused(manager):
    order = OrderFactory(processing=True, quantity=3, stock=5)
    line = order.lines.get()
    level = StockLevel.objects.get(product=line.product)
    before = state()

    with pytest.raises(InventoryError, match=f"{line.sku} has 3 reserved for orders in MAIN"):
        stock.stock_count(product=line.product, warehouse=level.warehouse, on_hand=2, actor=manager)
    assert state() == before

    stock.stock_count(product=line.product, warehouse=level.warehouse, on_hand=3, actor=manager)
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.available) == (3, 3, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("counted", [-1, "minus one", "2.5", "", None])
def test_count_refuses_bad_numbers(counted, manager):
    level = StockLevelFactory(on_hand=5)
    before = state()
    with pytest.raises(InventoryError):
        stock.stock_count(product=level.product, warehouse=level.warehouse, on_hand=counted, actor=manager)
    assert state() == before


@pytest.mark.django_db
def test_count_is_for_managers_only(warehouse_user, service_user):
    level = StockLevelFactory(on_hand=5)
    before = state()
    for user in (warehouse_user, service_user):
        with pytest.raises(PermissionDenied, match="adjust stock"):
            stock.stock_count(product=level.product, warehouse=level.warehouse, on_hand=1, actor=user)
    assert state() == before


# --- reserve, release, consume, restock ------------------------------------------------------------------


def _order(*products):
    return OrderFactory(lines=list(products), stock=0)


@pytest.mark.django_db
def test_reserve_is_all_or_nothing_and_names_every_short_sku():
    warehouse = WarehouseFactory(code="W1")
    tea, cup, pot = ProductFactory(sku="TEA"), ProductFactory(sku="CUP"), ProductFactory(sku="POT")
    StockLevelFactory(product=tea, warehouse=warehouse, on_hand=5)
    StockLevelFactory(product=cup, warehouse=warehouse, on_hand=1)  # pot: no row at all
    order = _order(tea, cup, pot)
    before = state()

    with pytest.raises(InsufficientStock) as refused:
        stock.stock_reserve(order=order, warehouse=warehouse, lines=[(tea, 2), (cup, 2), (pot, 1)], actor=None)

    assert refused.value.skus == ["CUP", "POT"]
    assert refused.value.warehouse == warehouse
    assert str(refused.value) == "Not enough stock in W1 for: CUP, POT"
    assert state() == before


@pytest.mark.django_db
def test_reserve_adds_up_lines_of_the_same_product():
    level = StockLevelFactory(on_hand=3)
    order = _order(level.product)
    with pytest.raises(InsufficientStock):
        stock.stock_reserve(
            order=order, warehouse=level.warehouse, lines=[(level.product, 2), (level.product, 2)], actor=None
        )
    stock.stock_reserve(
        order=order, warehouse=level.warehouse, lines=[(level.product, 1), (level.product, 2)], actor=None
    )
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (3, 3)
    assert StockMovement.objects.get(kind=StockMovement.Kind.RESERVE).reserved_delta == 3


@pytest.mark.django_db
def test_release_and_consume_settle_what_the_ledger_says_is_reserved():
    level = StockLevelFactory(on_hand=0)
    stock.stock_receive(product=level.product, warehouse=level.warehouse, quantity=10, actor=None)
    first, second = _order(level.product), _order(level.product)
    stock.stock_reserve(order=first, warehouse=level.warehouse, lines=[(level.product, 4)], actor=None)
    stock.stock_reserve(order=second, warehouse=level.warehouse, lines=[(level.product, 3)], actor=None)
    assert stock.reserved_for_order(first) == {(level.product_id, level.warehouse_id): 4}

    stock.stock_release(order=first, actor=None)
    stock.stock_consume(order=second, actor=None)
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (7, 0)
    assert stock.reserved_for_order(first) == {} == stock.reserved_for_order(second)

    # Settling twice changes nothing: there is nothing left outstanding.
    assert stock.stock_release(order=first, actor=None) == []
    assert stock.stock_consume(order=second, actor=None) == []
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (7, 0)
    assert ledger_mismatches() == {}


@pytest.mark.django_db
def test_a_part_release_gives_back_that_many_units_of_what_the_order_reserved():
    level = StockLevelFactory(on_hand=10)
    other = ProductFactory()
    stock.stock_receive(product=other, warehouse=level.warehouse, quantity=5, actor=None)
    order = _order(level.product)
    stock.stock_reserve(order=order, warehouse=level.warehouse, lines=[(level.product, 4), (other, 2)], actor=None)

    movements = stock.stock_release(order=order, actor=None, lines=[(level.product, 1), (level.product, 2)])

    assert [(m.product_id, m.kind, m.reserved_delta, m.on_hand_delta) for m in movements] == [
        (level.product_id, StockMovement.Kind.RELEASE, -3, 0)
    ]
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (10, 1)
    assert stock.reserved_for_order(order) == {
        (level.product_id, level.warehouse_id): 1,
        (other.pk, level.warehouse_id): 2,
    }
    assert ledger_mismatches() == {}


@pytest.mark.django_db
def test_a_part_release_of_more_than_is_reserved_is_refused_and_changes_nothing():
    level = StockLevelFactory(on_hand=10)
    order = _order(level.product)
    stock.stock_reserve(order=order, warehouse=level.warehouse, lines=[(level.product, 2)], actor=None)
    before = state()
    with pytest.raises(InventoryError) as refusal:
        stock.stock_release(order=order, actor=None, lines=[(level.product, 3)])
    assert str(refusal.value) == (
        f"Only 2 of {level.product.sku} are reserved for order {order.number}; 3 cannot be released."
    )
    assert state() == before


@pytest.mark.django_db
def test_restock_puts_goods_back_even_where_the_product_had_no_row():
    order = OrderFactory(shipped=True)
    product = order.lines.get().product
    other = WarehouseFactory(code="RETURNS", priority=50)
    stock.stock_restock(order=order, warehouse=other, lines=[(product, 1)], actor=None, note="Return 12")
    level = StockLevel.objects.get(product=product, warehouse=other)
    assert (level.on_hand, level.reserved) == (1, 0)
    assert StockMovement.objects.get(kind="return").note == "Return 12"


# --- the ledger after a random sequence of operations ------------------------------------------------


class Model:
    """What stock should be, worked out from the operations alone."""

    def __init__(self):
        self.on_hand = defaultdict(int)
        self.reserved = defaultdict(int)

    def levels(self):
        keys = set(self.on_hand) | set(self.reserved)
        return {key: (self.on_hand[key], self.reserved[key]) for key in keys if self.on_hand[key] or self.reserved[key]}


def _reserving(order):
    return order.status in (S.PROCESSING, S.PACKED) or (
        order.status == S.ON_HOLD and order.held_from_status in (S.PROCESSING, S.PACKED)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_ledger_sums_to_every_stock_level_after_random_operations(seed):
    rng = random.Random(seed)
    actor = manager_user()
    warehouses = [WarehouseFactory(code=f"R{n}", priority=n) for n in (1, 2)]
    products = [ProductFactory() for _ in range(4)]
    model = Model()
    orders_made = []
    refusals = defaultdict(int)

    def receive():
        product, warehouse, quantity = rng.choice(products), rng.choice(warehouses), rng.randint(1, 6)
        stock.stock_receive(product=product, warehouse=warehouse, quantity=quantity, actor=actor)
        model.on_hand[product.pk, warehouse.pk] += quantity

    def count():
        product, warehouse = rng.choice(products), rng.choice(warehouses)
        key = (product.pk, warehouse.pk)
        counted = rng.randint(max(0, model.reserved[key] - 2), model.reserved[key] + 6)
        try:
            stock.stock_count(product=product, warehouse=warehouse, on_hand=counted, actor=actor)
        except InventoryError:
            assert counted < model.reserved[key]
            refusals["count"] += 1
            return
        assert counted >= model.reserved[key]
        model.on_hand[key] = counted

    def create_and_start():
        chosen = rng.sample(products, rng.randint(1, 3))
        order = orders.order_create(
            number=f"RND-{seed}-{len(orders_made)}",
            customer=CustomerFactory(),
            lines=[{"product": p, "quantity": rng.randint(1, 3), "unit_price": Decimal("10")} for p in chosen],
            payment_status=PaymentStatus.PAID,
            ship_name="Random",
            ship_address1="1 Road",
            ship_city="Taipei",
        )
        orders_made.append(order)
        tick_manual_steps(order, actor=actor)
        try:
            order = orders.order_advance(order=order, actor=actor)
        except (WorkflowError, InsufficientStock):
            refusals["advance"] += 1
            return
        for line in order.lines.all():
            model.reserved[line.product_id, order.warehouse_id] += line.quantity

    def pick(*statuses):
        candidates = [o for o in Order.objects.filter(pk__in=[o.pk for o in orders_made], status__in=statuses)]
        return rng.choice(candidates) if candidates else None

    def hold():
        order = pick(S.NEW, S.PROCESSING, S.PACKED)
        if order:
            orders.order_hold(order=order, actor=actor, reason="Random hold")

    def cancel():
        order = pick(S.NEW, S.PROCESSING, S.PACKED, S.ON_HOLD)
        if order is None:
            return
        if _reserving(order):
            for line in order.lines.all():
                model.reserved[line.product_id, order.warehouse_id] -= line.quantity
        orders.order_cancel(order=order, actor=actor, reason="Random cancel")

    def ship():
        order = pick(S.PROCESSING, S.PACKED)
        if order is None:
            return
        order_to(order, S.SHIPPED, actor=actor)
        for line in order.lines.all():
            model.reserved[line.product_id, order.warehouse_id] -= line.quantity
            model.on_hand[line.product_id, order.warehouse_id] -= line.quantity

    def give_back():
        order = pick(S.SHIPPED, S.DELIVERED, S.COMPLETED)
        if order is None:
            return
        # A return of part of what is left to return, each line back to stock or damaged.
        already = returned_quantities(order)
        wanted = {line.pk: rng.randint(0, line.quantity - already.get(line.pk, 0)) for line in order.lines.all()}
        wanted = {pk: quantity for pk, quantity in wanted.items() if quantity}
        if not wanted:
            return
        record = return_open(order=order, actor=actor, reason="Random return", lines=wanted)
        outcomes = {line.pk: rng.choice(["restocked", "damaged"]) for line in record.lines.all()}
        return_receive(return_record=record, actor=actor, outcomes=outcomes)
        for line in record.lines.select_related("order_line"):
            if outcomes[line.pk] == "restocked":
                model.on_hand[line.order_line.product_id, order.warehouse_id] += line.quantity

    def scan_some():
        order = pick(S.PROCESSING)
        if order:
            order.lines.update(quantity_scanned=F("quantity"))

    operations = [receive] * 4 + [count] * 2 + [create_and_start] * 4
    operations += [hold, cancel, cancel, ship, ship, give_back, give_back, scan_some]
    for step in range(100):
        operation = rng.choice(operations)
        operation()
        assert ledger_mismatches() == {}, f"seed {seed}, step {step}: {operation.__name__}"
        levels = {
            (lv.product_id, lv.warehouse_id): (lv.on_hand, lv.reserved)
            for lv in StockLevel.objects.all()
            if lv.on_hand or lv.reserved
        }
        assert levels == model.levels(), f"seed {seed}, step {step}: {operation.__name__}"

    # The sequence did exercise every kind of movement.
    kinds = set(StockMovement.objects.values_list("kind", flat=True))
    assert kinds == set(StockMovement.Kind.values)

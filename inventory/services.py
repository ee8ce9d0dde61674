"""Every change to stock. Each writes a StockMovement in the same transaction.

Rows are locked with select_for_update in primary-key order, so two staff (or two
orders) touching the same products never deadlock, and a reservation re-checks
availability after taking the lock: two people reserving the last unit get one
success and one InsufficientStock.

Stock levels are the last step of the lock order written down in orders/services.py
("Lock order"). The functions that take an `order` (reserve, release, consume,
restock) are called by the order services with that order already locked, and their
ledger rows reference it; nothing here locks an order.
"""

from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from .exceptions import InsufficientStock, InventoryError
from django.core.exceptions import ValidationError

from .models import Product, StockLevel, StockMovement, Warehouse, clean_location
from common.cleaning import parse_whole_number, shortened
from common.permissions import require_permission


def _lock_levels(*, warehouse, product_ids, create=False):
    """Lock the stock rows of these products in this warehouse, in pk order.

    With create=True missing rows are created first (at zero), so that a receipt
    for a product never stocked there still locks a row.
    """
    product_ids = sorted(set(product_ids))
    if create:
        existing = set(
            StockLevel.objects.filter(warehouse=warehouse, product_id__in=product_ids).values_list(
                "product_id", flat=True
            )
        )
        for product_id in product_ids:
            if product_id in existing:
                continue
            try:
                with transaction.atomic():
                    StockLevel.objects.create(warehouse=warehouse, product_id=product_id)
            except IntegrityError:
                pass  # created by someone else meanwhile: we lock theirs below
    levels = (
        StockLevel.objects.select_for_update()
        .filter(warehouse=warehouse, product_id__in=product_ids)
        .order_by("pk")
    )
    return {level.product_id: level for level in levels}


def _apply(level, *, kind, on_hand_delta=0, reserved_delta=0, order=None, actor=None, note=""):
    level.on_hand += on_hand_delta
    level.reserved += reserved_delta
    level.save(update_fields=["on_hand", "reserved"])
    return StockMovement.objects.create(
        product_id=level.product_id,
        warehouse_id=level.warehouse_id,
        kind=kind,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        order=order,
        actor=actor,
        note=note,
    )


NOTE_MAX_LENGTH = StockMovement._meta.get_field("note").max_length


def _typed_note(note):
    """A note staff typed (or an import wrote) for the movement: refused, never cut
    short, when longer than the ledger keeps."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InventoryError(
            _("A note can be at most %(max)s characters; this one has %(length)s.")
            % {"max": NOTE_MAX_LENGTH, "length": len(note)}
        )
    return note


def _copied_note(note):
    """A text recorded in full elsewhere and copied into the ledger as its note (a
    return's reason is on the order's timeline): a longer one keeps its beginning and
    ends in "…", so the ledger shows that it was shortened."""
    return shortened((note or "").strip(), NOTE_MAX_LENGTH)


def _whole_number(value, field):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # ASCII digits only ("²" and "١" are digits to str.isdigit), within an integer column.
    number = parse_whole_number(value, negative=True)
    if number is None:
        raise InventoryError(_("%(field)s must be a whole number.") % {"field": field})
    return number


@transaction.atomic
def stock_receive(*, product, warehouse, quantity, actor, note=""):
    """Goods arrived: on_hand grows by `quantity`."""
    require_permission(actor, "inventory.receive_stock", _("receive stock"))
    quantity = _whole_number(quantity, _("Quantity"))
    if quantity <= 0:
        raise InventoryError(_("Quantity received must be at least 1."))
    note = _typed_note(note)
    level = _lock_levels(warehouse=warehouse, product_ids=[product.pk], create=True)[product.pk]
    _apply(level, kind=StockMovement.Kind.RECEIPT, on_hand_delta=quantity, actor=actor, note=note)
    return level


@transaction.atomic
def stock_count(*, product, warehouse, on_hand, actor, note=""):
    """A cycle count: sets on_hand to what was counted, recording the difference.
    The level returned carries `on_hand_before`, what was on hand until the count."""
    require_permission(actor, "inventory.count_stock", _("adjust stock"))
    on_hand = _whole_number(on_hand, _("Counted quantity"))
    if on_hand < 0:
        raise InventoryError(_("A counted quantity cannot be negative."))
    note = _typed_note(note)
    level = _lock_levels(warehouse=warehouse, product_ids=[product.pk], create=True)[product.pk]
    if on_hand < level.reserved:
        raise InventoryError(
            _(
                "%(sku)s has %(reserved)s reserved for orders in %(warehouse)s; a count below that "
                "needs those orders cancelled or moved first."
            )
            % {"sku": product.sku, "reserved": level.reserved, "warehouse": warehouse.code}
        )
    level.on_hand_before = level.on_hand
    _apply(
        level,
        kind=StockMovement.Kind.COUNT,
        on_hand_delta=on_hand - level.on_hand,
        actor=actor,
        note=note,
    )
    return level


@transaction.atomic
def stock_location_set(*, product, warehouse, location, actor):
    """Where the product sits in the warehouse (its bin, e.g. A-03-2), trimmed; an
    empty one clears it. Not a stock change, so no ledger movement. Managers only."""
    require_permission(actor, "inventory.change_stocklevel", _("change stock locations"))
    try:
        location = clean_location(location)
    except ValidationError as error:
        raise InventoryError(" ".join(error.messages)) from None
    level = _lock_levels(warehouse=warehouse, product_ids=[product.pk], create=True)[product.pk]
    if level.location != location:
        level.location = location
        level.save(update_fields=["location"])
    return level


def _quantities_by_product(lines):
    wanted = defaultdict(int)
    products = {}
    for product, quantity in lines:
        wanted[product.pk] += quantity
        products[product.pk] = product
    return wanted, products


@transaction.atomic
def stock_reserve(*, order, warehouse, lines, actor):
    """Reserve every (product, quantity) in `lines` in one warehouse, all or nothing.

    Called by the order workflow, which has checked the actor's permission.
    """
    wanted, products = _quantities_by_product(lines)
    levels = _lock_levels(warehouse=warehouse, product_ids=wanted)
    short = [
        products[pid].sku
        for pid, quantity in wanted.items()
        if pid not in levels or levels[pid].available < quantity
    ]
    if short:
        raise InsufficientStock(short, warehouse=warehouse)
    for pid in sorted(wanted):
        _apply(
            levels[pid],
            kind=StockMovement.Kind.RESERVE,
            reserved_delta=wanted[pid],
            order=order,
            actor=actor,
        )


def reserved_for_order(order):
    """What is still reserved for the order: {(product_id, warehouse_id): quantity}.

    Derived from the ledger, so it is right whatever path the order took.
    """
    rows = (
        StockMovement.objects.filter(order=order)
        .values("product_id", "warehouse_id")
        .annotate(outstanding=Sum("reserved_delta"))
        .order_by()
    )
    return {
        (row["product_id"], row["warehouse_id"]): row["outstanding"]
        for row in rows
        if row["outstanding"]
    }


def _settle_reservation(*, order, actor, kind, consume):
    outstanding = reserved_for_order(order)
    by_warehouse = defaultdict(dict)
    for (product_id, warehouse_id), quantity in outstanding.items():
        by_warehouse[warehouse_id][product_id] = quantity
    movements = []
    for warehouse_id in sorted(by_warehouse):
        quantities = by_warehouse[warehouse_id]
        levels = _lock_levels(warehouse=warehouse_id, product_ids=quantities)
        for product_id in sorted(quantities):
            quantity = quantities[product_id]
            movements.append(
                _apply(
                    levels[product_id],
                    kind=kind,
                    on_hand_delta=-quantity if consume else 0,
                    reserved_delta=-quantity,
                    order=order,
                    actor=actor,
                )
            )
    return movements


@transaction.atomic
def stock_release(*, order, actor, lines=None):
    """Give back what is still reserved for the order: everything (cancellation), or,
    with `lines` ((product, quantity) pairs), that many units of each product (units
    moved out of the order by a split, orders.services.order_split). A part release
    takes from the order's outstanding reservation (reserved_for_order), warehouse by
    warehouse in primary-key order; more than is reserved is refused and nothing
    changes. Returns the movements written."""
    if lines is None:
        return _settle_reservation(order=order, actor=actor, kind=StockMovement.Kind.RELEASE, consume=False)
    wanted, products = _quantities_by_product(lines)
    outstanding = reserved_for_order(order)
    plan = defaultdict(dict)  # warehouse id: {product id: units to release}
    for product_id in sorted(wanted):
        left = wanted[product_id]
        if left <= 0:
            continue
        for (reserved_product, warehouse_id), quantity in sorted(outstanding.items(), key=lambda item: item[0][1]):
            if reserved_product != product_id or quantity <= 0 or left == 0:
                continue
            take = min(left, quantity)
            plan[warehouse_id][product_id] = take
            left -= take
        if left:
            raise InventoryError(
                _("Only %(reserved)s of %(sku)s are reserved for order %(number)s; %(wanted)s cannot be released.")
                % {
                    "reserved": wanted[product_id] - left,
                    "sku": products[product_id].sku,
                    "number": order.number,
                    "wanted": wanted[product_id],
                }
            )
    movements = []
    for warehouse_id in sorted(plan):
        quantities = plan[warehouse_id]
        levels = _lock_levels(warehouse=warehouse_id, product_ids=quantities)
        for product_id in sorted(quantities):
            movements.append(
                _apply(
                    levels[product_id],
                    kind=StockMovement.Kind.RELEASE,
                    reserved_delta=-quantities[product_id],
                    order=order,
                    actor=actor,
                )
            )
    return movements


@transaction.atomic
def stock_consume(*, order, actor):
    """The goods left the building: reserved stock leaves on_hand too."""
    return _settle_reservation(order=order, actor=actor, kind=StockMovement.Kind.SHIP, consume=True)


@transaction.atomic
def stock_restock(*, order, warehouse, lines, actor, note=""):
    """Returned goods go back on the shelf: on_hand grows for each (product, quantity)."""
    wanted, _products = _quantities_by_product(lines)
    note = _copied_note(note)  # the return's reason, on the order's timeline in full
    levels = _lock_levels(warehouse=warehouse, product_ids=wanted, create=True)
    return [
        _apply(
            levels[pid],
            kind=StockMovement.Kind.RETURN,
            on_hand_delta=wanted[pid],
            order=order,
            actor=actor,
            note=note,
        )
        for pid in sorted(wanted)
        if wanted[pid] > 0
    ]


# --- creating warehouses and products (imports) ---------------------------------------


def _first_taken(values, taken):
    return next(value for value in values if value in taken)


def _stored(model, field, values, other=None):
    """{value: other field} of the stored rows whose `field` is one of `values`,
    asked in chunks that stay under every database's limit on query parameters."""
    values = list(values)
    found = {}
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        found.update(model.objects.filter(**{f"{field}__in": chunk}).values_list(field, other or field))
    return found


def _first_repeated(values):
    seen = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


@transaction.atomic
def warehouses_create(*, warehouses, actor):
    """Create the new (unsaved) Warehouse objects, all or none. A code that exists
    already, or was taken meanwhile by someone else, is refused."""
    require_permission(actor, "inventory.add_warehouse", _("add warehouses"))
    for warehouse in warehouses:
        warehouse.full_clean(validate_unique=False)
    codes = [warehouse.code for warehouse in warehouses]
    taken = _stored(Warehouse, "code", codes)
    code = _first_taken(codes, taken) if taken else _first_repeated(codes)
    if code is not None:
        raise InventoryError(_("Warehouse %(code)s already exists.") % {"code": code})
    try:
        with transaction.atomic():
            return Warehouse.objects.bulk_create(warehouses)
    except IntegrityError:
        taken = _stored(Warehouse, "code", codes)
        if not taken:
            raise
        raise InventoryError(_("Warehouse %(code)s already exists.") % {"code": _first_taken(codes, taken)}) from None


def _products_taken(products):
    """The first refusal for `products` against those stored: a SKU or barcode in use."""
    skus = [product.sku for product in products]
    taken = _stored(Product, "sku", skus)
    if taken:
        return _("Product %(sku)s already exists.") % {"sku": _first_taken(skus, taken)}
    barcodes = [product.barcode for product in products if product.barcode]
    owners = _stored(Product, "barcode", barcodes, "sku")
    if owners:
        barcode = _first_taken(barcodes, owners)
        return _("Barcode %(barcode)s already belongs to %(sku)s.") % {"barcode": barcode, "sku": owners[barcode]}
    return None


@transaction.atomic
def products_create(*, products, actor):
    """Create the new (unsaved) Product objects, all or none. A SKU or barcode that
    is in use already, or was taken meanwhile by someone else, is refused."""
    require_permission(actor, "inventory.add_product", _("add products"))
    for product in products:
        product.full_clean(validate_unique=False)  # clean() stores a blank barcode as NULL
    skus = [product.sku for product in products]
    barcodes = [product.barcode for product in products if product.barcode]
    if _first_repeated(skus) is not None:
        raise InventoryError(_("Product %(sku)s already exists.") % {"sku": _first_repeated(skus)})
    if _first_repeated(barcodes) is not None:
        raise InventoryError(_("Barcode %(barcode)s is given to two products.") % {"barcode": _first_repeated(barcodes)})
    refusal = _products_taken(products)
    if refusal:
        raise InventoryError(refusal)
    try:
        with transaction.atomic():
            return Product.objects.bulk_create(products)
    except IntegrityError:
        refusal = _products_taken(products)
        if refusal is None:
            raise
        raise InventoryError(refusal) from None

"""Reads for the printables: pick lists and packing slips, each in a fixed number of
queries however many orders and lines are printed."""

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q

from orders.models import Order, OrderEvent, OrderLine, OrderStatus

from .models import Shipment

# A pick list is for orders about to be picked; others still print, flagged.
PICKABLE = {OrderStatus.NEW, OrderStatus.PROCESSING}
# A packing slip for one of these orders must not go into a parcel.
DO_NOT_SHIP = {OrderStatus.ON_HOLD, OrderStatus.CANCELLED, OrderStatus.RETURNED}


@dataclass
class PickRow:
    """One product to pick: the total over the batch and which orders need it."""

    product: object
    quantity: int = 0
    orders: list = field(default_factory=list)  # [(order number, quantity)]

    @property
    def sku(self):
        return self.product.sku


@dataclass
class PickList:
    orders: list
    rows: list
    missing_ids: list

    @property
    def total_units(self):
        return sum(row.quantity for row in self.rows)

    @property
    def flagged(self):
        return [order for order in self.orders if order.status not in PICKABLE]

    @property
    def warehouses(self):
        return sorted({order.warehouse.code for order in self.orders if order.warehouse})


def _lines():
    return Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("sku", "id"))


def pick_list(order_ids):
    """The orders with the given ids (sorted by number) and one row per product, sorted
    by SKU, with the total quantity and the orders that need it. Two queries."""
    order_ids = list(order_ids)
    orders = list(
        Order.objects.filter(pk__in=order_ids).select_related("warehouse").prefetch_related(_lines()).order_by("number")
    )
    rows = {}
    for order in orders:
        order.pickable = order.status in PICKABLE
        for line in order.lines.all():
            row = rows.setdefault(line.product_id, PickRow(product=line.product))
            row.quantity += line.quantity
            row.orders.append((order.number, line.quantity))
    found = {order.pk for order in orders}
    return PickList(
        orders=orders,
        rows=sorted(rows.values(), key=lambda row: (row.sku, row.product.pk)),
        missing_ids=[pk for pk in order_ids if pk not in found],
    )


def packing_slips(order_ids):
    """The orders with the given ids, sorted by number, each with `lines` (product
    joined, for the barcode), `shipment` (the latest one not cancelled, carrier joined,
    or None), `packer_notes` (its notes, oldest first) and `do_not_ship`. Four queries."""
    orders = list(
        Order.objects.filter(pk__in=list(order_ids))
        .select_related("warehouse")
        .prefetch_related(
            _lines(),
            Prefetch(
                "shipments",
                queryset=Shipment.objects.exclude(status=Shipment.Status.CANCELLED).select_related("carrier"),
                to_attr="active_shipments",
            ),
            Prefetch(
                "events",
                queryset=OrderEvent.objects.filter(kind=OrderEvent.Kind.NOTE)
                .select_related("actor")
                .order_by("created_at", "id"),
                to_attr="packer_notes",
            ),
        )
        .order_by("number")
    )
    for order in orders:
        order.shipment = order.active_shipments[0] if order.active_shipments else None
        order.do_not_ship = order.status in DO_NOT_SHIP
        order.total_units = sum(line.quantity for line in order.lines.all())
    return orders


SEARCH_MAX_LENGTH = 64


class SearchTooLong(ValueError):
    pass


def shipment_search(queryset, term):
    """Exact tracking number (as typed or as stored: upper case, no spaces) or order
    number; both are indexed. Shared by the shipment list and its export."""
    term = (term or "").strip()
    if not term:
        return queryset
    if len(term) > SEARCH_MAX_LENGTH:
        raise SearchTooLong(term)
    normalised = term.upper().replace(" ", "")
    return queryset.filter(Q(tracking_number=normalised) | Q(order__number=term) | Q(order__number=term.upper()))

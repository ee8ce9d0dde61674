"""Exports of orders and order lines (registered in reports.registry when the app
is ready): the columns (django-import-export Resources) and which rows (the order
report FilterSet and the order list's search)."""

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from reports.expressions import JoinedText
from reports.registry import ExportKind, register_export
from reports.resources import (
    CopyJoin,
    ReportResource,
    datetime_column,
    decimal_column,
    integer_column,
    text_column,
)

from .filters import OrderReportFilter
from .models import Order, OrderLine
from .selectors import order_search_filter
from .services import ADDRESS_FIELDS

# Contact and address columns: the customer's, and the ship-to but its country.
ORDER_PERSONAL = ("customer_email", "customer_phone", *(name for name in ADDRESS_FIELDS if name != "ship_country"))


def _shipments():
    # Shipments belong to the shipping app, which depends on this one: reach the
    # model through the reverse relation instead of importing it.
    return Order._meta.get_field("shipments").related_model.objects.exclude(status="cancelled")


def _per_order(queryset, aggregate):
    return Subquery(
        queryset.filter(order=OuterRef("pk")).order_by().values("order").annotate(value=aggregate).values("value")[:1]
    )


class OrderResource(ReportResource):
    """One row per order."""

    personal_fields = ORDER_PERSONAL

    number = text_column("number")
    status = text_column("status")
    placed_at = datetime_column("placed_at")
    customer_name = text_column("customer__name", "customer_name")
    customer_email = text_column("customer__email", "customer_email")
    customer_phone = text_column("customer__phone", "customer_phone")
    ship_name = text_column("ship_name")
    ship_phone = text_column("ship_phone")
    ship_address1 = text_column("ship_address1")
    ship_address2 = text_column("ship_address2")
    ship_city = text_column("ship_city")
    ship_postcode = text_column("ship_postcode")
    ship_country = text_column("ship_country")
    delivery_method = text_column("delivery_method")
    warehouse = text_column("warehouse__code", "warehouse")
    payment_status = text_column("payment_status")
    currency = text_column("currency")
    total = decimal_column("total")
    line_count = integer_column("export_line_count", "lines")
    shipped_at = datetime_column("export_shipped_at", "shipped_at")
    delivered_at = datetime_column("export_delivered_at", "delivered_at")
    carriers = text_column("export_carriers", "carriers")
    tracking_numbers = text_column("export_tracking_numbers", "tracking_numbers")
    # Added at the end (issue 10), so files and sheets built on the columns above still read.
    payment_method = text_column("payment_method")
    payment_reference = text_column("payment_reference")
    paid_at = datetime_column("paid_at")

    class Meta:
        model = Order
        fields = (
            "number", "status", "placed_at", "customer_name", "customer_email", "customer_phone",
            "ship_name", "ship_phone", "ship_address1", "ship_address2", "ship_city", "ship_postcode",
            "ship_country", "delivery_method", "warehouse", "payment_status", "currency", "total",
            "line_count", "shipped_at", "delivered_at", "carriers", "tracking_numbers",
            "payment_method", "payment_reference", "paid_at",
        )  # fmt: skip
        export_order = fields

    def get_queryset(self):
        lines = OrderLine.objects.all()
        return Order.objects.annotate(
            export_line_count=Coalesce(_per_order(lines, Count("pk")), Value(0), output_field=IntegerField()),
            export_shipped_at=_per_order(_shipments(), Min("shipped_at")),
            export_delivered_at=_per_order(_shipments(), Max("delivered_at")),
            # One carrier per parcel, in the order of the tracking numbers beside them.
            export_carriers=_per_order(_shipments(), JoinedText("carrier__code", ordering=F("tracking_number"))),
            export_tracking_numbers=_per_order(_shipments(), JoinedText("tracking_number")),
        )

    def copy_joins(self):
        lines = OrderLine._meta.db_table
        shipment = _shipments().model
        carrier = shipment._meta.get_field("carrier").related_model._meta.db_table
        return [
            CopyJoin(
                f"SELECT order_id AS row_pk, count(*) AS lines FROM {lines} WHERE {{where}} GROUP BY order_id",
                {"export_line_count": "COALESCE({join}.lines, 0)"},
                key="order_id",
            ),
            # string_agg without ORDER BY takes the rows as the sorted subquery gives
            # them (tracking number order, as the per-row subquery sorts), without a
            # sort per order; the COPY and plain paths are compared byte for byte.
            CopyJoin(
                "SELECT order_id AS row_pk, min(shipped_at) AS shipped_at, max(delivered_at) AS delivered_at,"
                " string_agg(code::text, ' ') AS carriers, string_agg(tracking_number::text, ' ') AS tracking"
                f" FROM (SELECT s.order_id, s.shipped_at, s.delivered_at, c.code, s.tracking_number"
                f" FROM {shipment._meta.db_table} s JOIN {carrier} c ON c.id = s.carrier_id"
                " WHERE s.status <> 'cancelled' AND {where} ORDER BY s.order_id, s.tracking_number::text) AS live"
                " GROUP BY order_id",
                {
                    "export_shipped_at": "{join}.shipped_at",
                    "export_delivered_at": "{join}.delivered_at",
                    "export_carriers": "{join}.carriers",
                    "export_tracking_numbers": "{join}.tracking",
                },
                key="s.order_id",
            ),
        ]


class OrderLineResource(ReportResource):
    """One row per order line, with the order's number, status and dates."""

    order_number = text_column("order__number", "order_number")
    order_status = text_column("order__status", "order_status")
    placed_at = datetime_column("order__placed_at", "placed_at")
    warehouse = text_column("order__warehouse__code", "warehouse")
    sku = text_column("sku")
    product_name = text_column("product_name")
    quantity = integer_column("quantity")
    unit_price = decimal_column("unit_price")
    line_total = decimal_column("export_line_total", "line_total")
    currency = text_column("order__currency", "currency")
    quantity_scanned = integer_column("quantity_scanned", "scanned")

    class Meta:
        model = OrderLine
        fields = (
            "order_number", "order_status", "placed_at", "warehouse", "sku", "product_name",
            "quantity", "unit_price", "line_total", "currency", "quantity_scanned",
        )  # fmt: skip
        export_order = fields

    def get_queryset(self):
        return OrderLine.objects.annotate(
            export_line_total=ExpressionWrapper(
                F("quantity") * F("unit_price"), output_field=DecimalField(max_digits=14, decimal_places=2)
            )
        )


def search_orders(queryset, term):
    """The order list's search box (order number, e-mail, phone, tracking number, name)."""
    return queryset.filter(order_search_filter(term))


register_export(
    ExportKind(
        name="orders",
        label=_("orders (one row per order)"),
        resource=OrderResource,
        filterset=OrderReportFilter,
        search=search_orders,
        siblings=("order-lines",),
    )
)
register_export(
    ExportKind(
        name="order-lines",
        label=_("order lines (one row per line)"),
        resource=OrderLineResource,
        filterset=OrderReportFilter,
        search=search_orders,
        rows_from=lambda orders, lines: lines.filter(order__in=orders.values("pk")),
        siblings=("orders",),
    )
)

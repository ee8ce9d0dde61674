"""Exports of orders and order lines (registered in reports.registry when the app
is ready): the columns (django-import-export Resources) and which rows (the order
report FilterSet and the order list's search)."""

from django.db.models import Count, DecimalField, ExpressionWrapper, F, IntegerField, Max, Min, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from import_export import fields, widgets

from reports.expressions import JoinedText
from reports.registry import ExportKind, register_export
from reports.resources import CopyJoin, ReportResource

from .filters import OrderReportFilter
from .models import Order, OrderLine
from .selectors import order_search_filter

ORDER_PERSONAL = (
    "customer_email",
    "customer_phone",
    "ship_name",
    "ship_phone",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_postcode",
)


def text(attribute, column=None):
    return fields.Field(attribute=attribute, column_name=column or attribute, widget=widgets.CharWidget())


def integer(attribute, column=None):
    return fields.Field(attribute=attribute, column_name=column or attribute, widget=widgets.IntegerWidget())


def decimal(attribute, column=None):
    return fields.Field(attribute=attribute, column_name=column or attribute, widget=widgets.DecimalWidget())


def moment(attribute, column=None):
    return fields.Field(attribute=attribute, column_name=column or attribute, widget=widgets.DateTimeWidget())


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

    number = text("number")
    status = text("status")
    placed_at = moment("placed_at")
    customer_name = text("customer__name", "customer_name")
    customer_email = text("customer__email", "customer_email")
    customer_phone = text("customer__phone", "customer_phone")
    ship_name = text("ship_name")
    ship_phone = text("ship_phone")
    ship_address1 = text("ship_address1")
    ship_address2 = text("ship_address2")
    ship_city = text("ship_city")
    ship_postcode = text("ship_postcode")
    ship_country = text("ship_country")
    delivery_method = text("delivery_method")
    warehouse = text("warehouse__code", "warehouse")
    payment_status = text("payment_status")
    currency = text("currency")
    total = decimal("total")
    line_count = integer("export_line_count", "lines")
    shipped_at = moment("export_shipped_at", "shipped_at")
    delivered_at = moment("export_delivered_at", "delivered_at")
    carriers = text("export_carriers", "carriers")
    tracking_numbers = text("export_tracking_numbers", "tracking_numbers")

    class Meta:
        model = Order
        fields = (
            "number", "status", "placed_at", "customer_name", "customer_email", "customer_phone",
            "ship_name", "ship_phone", "ship_address1", "ship_address2", "ship_city", "ship_postcode",
            "ship_country", "delivery_method", "warehouse", "payment_status", "currency", "total",
            "line_count", "shipped_at", "delivered_at", "carriers", "tracking_numbers",
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
                f"SELECT order_id AS row_pk, count(*) AS lines FROM {lines} GROUP BY order_id",
                {"export_line_count": "COALESCE({join}.lines, 0)"},
            ),
            # string_agg without ORDER BY takes the rows as the sorted subquery gives
            # them (tracking number order, as the per-row subquery sorts), without a
            # sort per order; the COPY and plain paths are compared byte for byte.
            CopyJoin(
                "SELECT order_id AS row_pk, min(shipped_at) AS shipped_at, max(delivered_at) AS delivered_at,"
                " string_agg(code::text, ' ') AS carriers, string_agg(tracking_number::text, ' ') AS tracking"
                f" FROM (SELECT s.order_id, s.shipped_at, s.delivered_at, c.code, s.tracking_number"
                f" FROM {shipment._meta.db_table} s JOIN {carrier} c ON c.id = s.carrier_id"
                " WHERE s.status <> 'cancelled' ORDER BY s.order_id, s.tracking_number::text) AS live"
                " GROUP BY order_id",
                {
                    "export_shipped_at": "{join}.shipped_at",
                    "export_delivered_at": "{join}.delivered_at",
                    "export_carriers": "{join}.carriers",
                    "export_tracking_numbers": "{join}.tracking",
                },
            ),
        ]


class OrderLineResource(ReportResource):
    """One row per order line, with the order's number, status and dates."""

    order_number = text("order__number", "order_number")
    order_status = text("order__status", "order_status")
    placed_at = moment("order__placed_at", "placed_at")
    warehouse = text("order__warehouse__code", "warehouse")
    sku = text("sku")
    product_name = text("product_name")
    quantity = integer("quantity")
    unit_price = decimal("unit_price")
    line_total = decimal("export_line_total", "line_total")
    currency = text("order__currency", "currency")
    quantity_scanned = integer("quantity_scanned", "scanned")

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

"""Exports of stock levels, the stock ledger, products and warehouses (registered
in reports.registry when the app is ready)."""

from django.db.models import Case, F, IntegerField, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from reports.registry import ExportKind, register_export
from reports.resources import (
    ReportResource,
    boolean_column,
    datetime_column,
    integer_column,
    text_column,
)

from .filters import (
    MovementReportFilter,
    ProductReportFilter,
    StockLevelReportFilter,
    WarehouseReportFilter,
    low_stock_q,
)
from .models import Product, StockLevel, StockMovement, Warehouse
from .selectors import (
    movement_search,
    product_search,
    stock_level_search,
    warehouse_search,
)


class StockLevelResource(ReportResource):
    sku = text_column("product__sku", "sku")
    product_name = text_column("product__name", "product_name")
    warehouse = text_column("warehouse__code", "warehouse")
    on_hand = integer_column("on_hand")
    reserved = integer_column("reserved")
    available = integer_column("export_available", "available")
    low_stock_threshold = integer_column("product__low_stock_threshold", "low_stock_threshold")
    low_stock = boolean_column("export_low", "low_stock")
    location = text_column("location")

    class Meta:
        model = StockLevel
        # location last: the columns before it keep their places for existing readers.
        fields = ("sku", "product_name", "warehouse", "on_hand", "reserved", "available", "low_stock_threshold", "low_stock", "location")
        export_order = fields

    def get_queryset(self):
        return StockLevel.objects.annotate(
            export_available=F("on_hand") - F("reserved"),
            export_low=Case(When(low_stock_q(), then=Value(True)), default=Value(False)),
        )


class StockMovementResource(ReportResource):
    created_at = datetime_column("created_at")
    kind = text_column("kind")
    sku = text_column("product__sku", "sku")
    warehouse = text_column("warehouse__code", "warehouse")
    on_hand_delta = integer_column("on_hand_delta")
    reserved_delta = integer_column("reserved_delta")
    order_number = text_column("order__number", "order_number")
    actor = text_column("actor__username", "by")
    note = text_column("note")

    class Meta:
        model = StockMovement
        fields = ("created_at", "kind", "sku", "warehouse", "on_hand_delta", "reserved_delta", "order_number", "actor", "note")
        export_order = fields


def _product_total(column):
    return Coalesce(
        Subquery(
            StockLevel.objects.filter(product=OuterRef("pk"))
            .order_by()
            .values("product")
            .annotate(total=Sum(column))
            .values("total")[:1]
        ),
        Value(0),
        output_field=IntegerField(),
    )


class ProductResource(ReportResource):
    """The import columns (sku, name, barcode, weight_grams) first."""

    sku = text_column("sku")
    name = text_column("name")
    barcode = text_column("barcode")
    weight_grams = integer_column("weight_grams")
    low_stock_threshold = integer_column("low_stock_threshold")
    is_active = boolean_column("is_active")
    on_hand = integer_column("export_on_hand", "on_hand")
    reserved = integer_column("export_reserved", "reserved")

    class Meta:
        model = Product
        fields = ("sku", "name", "barcode", "weight_grams", "low_stock_threshold", "is_active", "on_hand", "reserved")
        export_order = fields

    def get_queryset(self):
        return Product.objects.annotate(
            export_on_hand=_product_total("on_hand"), export_reserved=_product_total("reserved")
        )


class WarehouseResource(ReportResource):
    """The import columns (code, name, priority) first."""

    code = text_column("code")
    name = text_column("name")
    priority = integer_column("priority")
    is_active = boolean_column("is_active")

    class Meta:
        model = Warehouse
        fields = ("code", "name", "priority", "is_active")
        export_order = fields


register_export(
    ExportKind(
        name="stock",
        label=_("stock levels"),
        resource=StockLevelResource,
        filterset=StockLevelReportFilter,
        search=stock_level_search,
        status_filter=None,
    )
)
register_export(
    ExportKind(
        name="movements",
        label=_("stock movements (the ledger)"),
        resource=StockMovementResource,
        filterset=MovementReportFilter,
        search=movement_search,
        status_filter="kind",
    )
)
register_export(
    ExportKind(
        name="products",
        label=_("products"),
        resource=ProductResource,
        filterset=ProductReportFilter,
        search=product_search,
        status_filter=None,
    )
)
register_export(
    ExportKind(
        name="warehouses",
        label=_("warehouses"),
        resource=WarehouseResource,
        filterset=WarehouseReportFilter,
        search=warehouse_search,
        status_filter=None,
    )
)

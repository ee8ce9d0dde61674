"""Exports of shipments (registered in reports.registry when the app is ready)."""

from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from orders.services import ADDRESS_FIELDS
from reports.registry import ExportKind, register_export
from reports.resources import (
    ReportResource,
    datetime_column,
    integer_column,
    text_column,
)

from .filters import ShipmentReportFilter
from .models import Shipment, ShipmentLine
from .selectors import shipment_search


class ShipmentResource(ReportResource):
    """One row per shipment: what a carrier's invoice is checked against."""

    personal_fields = tuple(name for name in ADDRESS_FIELDS if name != "ship_country")

    order_number = text_column("order__number", "order_number")
    carrier = text_column("carrier__code", "carrier")
    tracking_number = text_column("tracking_number")
    status = text_column("status")
    created_at = datetime_column("created_at")
    shipped_at = datetime_column("shipped_at")
    delivered_at = datetime_column("delivered_at")
    items = integer_column("export_items", "items")
    delivery_method = text_column("order__delivery_method", "delivery_method")
    warehouse = text_column("order__warehouse__code", "warehouse")
    ship_name = text_column("order__ship_name", "ship_name")
    ship_phone = text_column("order__ship_phone", "ship_phone")
    ship_address1 = text_column("order__ship_address1", "ship_address1")
    ship_address2 = text_column("order__ship_address2", "ship_address2")
    ship_city = text_column("order__ship_city", "ship_city")
    ship_postcode = text_column("order__ship_postcode", "ship_postcode")
    ship_country = text_column("order__ship_country", "ship_country")

    class Meta:
        model = Shipment
        fields = (
            "order_number", "carrier", "tracking_number", "status", "created_at", "shipped_at", "delivered_at",
            "items", "delivery_method", "warehouse", "ship_name", "ship_phone", "ship_address1", "ship_address2",
            "ship_city", "ship_postcode", "ship_country",
        )  # fmt: skip
        export_order = fields

    def get_queryset(self):
        items = (
            ShipmentLine.objects.filter(shipment=OuterRef("pk"))
            .order_by()
            .values("shipment")
            .annotate(total=Sum("quantity"))
            .values("total")[:1]
        )
        return Shipment.objects.annotate(
            export_items=Coalesce(Subquery(items), Value(0), output_field=IntegerField())
        )


register_export(
    ExportKind(
        name="shipments",
        label=_("shipments"),
        resource=ShipmentResource,
        filterset=ShipmentReportFilter,
        search=shipment_search,
    )
)

"""Exports of shipments (registered in reports.registry when the app is ready)."""

from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from import_export import fields, widgets

from reports.registry import ExportKind, register_export
from reports.resources import ReportResource

from .filters import ShipmentReportFilter
from .models import Shipment, ShipmentLine
from .selectors import shipment_search


def text(attribute, column=None):
    return fields.Field(attribute=attribute, column_name=column or attribute, widget=widgets.CharWidget())


def moment(attribute, column=None):
    return fields.Field(attribute=attribute, column_name=column or attribute, widget=widgets.DateTimeWidget())


class ShipmentResource(ReportResource):
    """One row per shipment: what a carrier's invoice is checked against."""

    personal_fields = ("ship_name", "ship_phone", "ship_address1", "ship_address2", "ship_city", "ship_postcode")

    order_number = text("order__number", "order_number")
    carrier = text("carrier__code", "carrier")
    tracking_number = text("tracking_number")
    status = text("status")
    created_at = moment("created_at")
    shipped_at = moment("shipped_at")
    delivered_at = moment("delivered_at")
    items = fields.Field(attribute="export_items", column_name="items", widget=widgets.IntegerWidget())
    delivery_method = text("order__delivery_method", "delivery_method")
    warehouse = text("order__warehouse__code", "warehouse")
    ship_name = text("order__ship_name", "ship_name")
    ship_phone = text("order__ship_phone", "ship_phone")
    ship_address1 = text("order__ship_address1", "ship_address1")
    ship_address2 = text("order__ship_address2", "ship_address2")
    ship_city = text("order__ship_city", "ship_city")
    ship_postcode = text("order__ship_postcode", "ship_postcode")
    ship_country = text("order__ship_country", "ship_country")

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

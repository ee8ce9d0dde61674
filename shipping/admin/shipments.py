"""The shipment list (read-only: shipments are created and moved on by the services,
from the order page and the workflow)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import NoReverseMatch
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from common.admin import ReadOnlyAdminMixin
from common.messages import named_line, report_bulk
from inventory.admin import GuardedListAdminMixin, object_url
from reports.admin.exports import ExportAdminMixin
from reports.admin.imports import ImportAdminMixin

from ..exceptions import ShippingError
from ..models import Shipment, ShipmentLine
from ..selectors import SEARCH_MAX_LENGTH, SearchTooLong, shipment_search
from ..services import shipment_mark_delivered

class OrderLineRowsInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Read-only rows that each point at an order line (a parcel's, a return's),
    shown by the line's SKU and product."""

    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line")

    @admin.display(description=gettext_lazy("SKU"))
    def sku(self, line):
        return line.order_line.sku

    @admin.display(description=gettext_lazy("product"))
    def product_name(self, line):
        return line.order_line.product_name


class ShipmentLineInline(OrderLineRowsInline):
    model = ShipmentLine
    fields = ["sku", "product_name", "quantity"]
    readonly_fields = fields


@admin.register(Shipment)
class ShipmentAdmin(ImportAdminMixin, ExportAdminMixin, GuardedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """1.5 million shipments and growing: every way of listing them is served by an
    index (Shipment.Meta.indexes): newest first, by status, by carrier, by order, by
    tracking number. The count is capped and deep pages are read by key
    (GuardedListAdminMixin).

    "Import delivery report" (managers: orders.import_data and orders.advance_order)
    reads a carrier's report of delivered parcels (shipping/imports.py, kind
    `deliveries`): previewed, then confirmed, then its outcome shown."""

    export_kind = "shipments"
    import_kind = "deliveries"
    import_button_label = gettext_lazy("Import delivery report")
    export_filter_params = {"status__exact": "status", "carrier__id__exact": "carrier"}
    list_display = ["tracking_number", "carrier", "status", "order_link", "created_at", "shipped_at", "delivered_at", "track"]
    list_select_related = ["carrier", "order"]
    list_filter = ["status", "carrier"]
    # The list's filters and an order's shipments (order_id index); any other
    # parameter is refused with a message.
    list_filter_params = {"status__exact", "carrier__id__exact", "order__id__exact"}
    list_id_params = {"carrier__id__exact": gettext_lazy("carrier"), "order__id__exact": gettext_lazy("order")}
    sortable_by = ["tracking_number", "created_at"]  # the others would sort every shipment
    list_per_page = 50  # as the order list: rendering the rows is most of a page's time
    search_fields = ["tracking_number", "order__number"]  # exact, see get_search_results
    search_help_text = gettext_lazy("Exact tracking number or order number.")
    fields = [
        "order_link", "carrier", "tracking_number", "track", "status", "created_at", "shipped_at", "delivered_at",
        "voided_at", "voided_by", "void_reason",
    ]  # fmt: skip
    readonly_fields = fields
    inlines = [ShipmentLineInline]
    actions = ["mark_delivered"]

    def has_deliver_permission(self, request):
        return request.user.has_perm("orders.advance_order")

    def get_search_results(self, request, queryset, search_term):
        # Tracking and order numbers are indexed; match them exactly (shared with the export).
        try:
            return shipment_search(queryset, search_term), False
        except SearchTooLong:
            messages.warning(
                request, _("The search is too long (at most %(max)s characters).") % {"max": SEARCH_MAX_LENGTH}
            )
            return queryset.none(), False

    @admin.display(description=gettext_lazy("order"), ordering="order__number")
    def order_link(self, shipment):
        try:
            url = object_url("admin:orders_order_change", shipment.order_id)
        except NoReverseMatch:
            return shipment.order.number
        return format_html('<a href="{}">{}</a>', url, shipment.order.number)

    @admin.display(description=gettext_lazy("track"))
    def track(self, shipment):
        url = shipment.tracking_url
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, _("Track")) if url else "—"

    @admin.action(permissions=["deliver"], description=gettext_lazy("Mark delivered (the carrier confirmed delivery)"))
    def mark_delivered(self, request, queryset):
        done, refused = 0, []
        for shipment in queryset.select_related("carrier", "order").order_by("order__number", "pk"):
            try:
                shipment_mark_delivered(shipment=shipment, actor=request.user)
            except (ShippingError, PermissionDenied) as error:
                refused.append(named_line(shipment.order.number, str(error)))
            else:
                done += 1
        summary = ngettext(
            "%(count)s shipment marked delivered", "%(count)s shipments marked delivered", done
        ) % {"count": done}
        report_bulk(self, request, done=done, done_summary=summary, refused=refused)

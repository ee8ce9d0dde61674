"""The return list and a return's page (read-only: returns are opened and received
on the order page, through shipping.returns)."""

from django.contrib import admin, messages
from django.urls import NoReverseMatch
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.admin import ReadOnlyAdminMixin
from common.text import person_name
from inventory.admin import GuardedListAdminMixin, object_url
from orders.models import Order

from ..models import Return, ReturnLine
from .shipments import OrderLineRowsInline

SEARCH_MAX_LENGTH = 64


class ReturnLineInline(OrderLineRowsInline):
    model = ReturnLine
    fields = ["sku", "product_name", "quantity", "outcome"]
    readonly_fields = fields


@admin.register(Return)
class ReturnAdmin(GuardedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Open returns first (the warehouse's work), newest first within each status:
    the (status, -opened_at, -id) index's order."""

    list_display = ["number", "order_link", "status", "lines_display", "opened_at", "opened_by_name", "received_at"]
    list_select_related = ["order", "opened_by"]
    list_filter = ["status"]
    list_filter_params = {"status__exact", "order__id__exact"}
    list_id_params = {"order__id__exact": gettext_lazy("order")}
    ordering = ["status", "-opened_at", "-id"]
    sortable_by = []  # the index's order only
    list_per_page = 50
    search_fields = ["order__number"]  # exact, see get_search_results
    search_help_text = gettext_lazy("Exact order number.")
    fields = [
        "order_link", "status", "reason", "opened_at", "opened_by_name", "received_at", "received_by_name", "refund_display",
    ]  # fmt: skip
    readonly_fields = fields
    inlines = [ReturnLineInline]

    def get_queryset(self, request):
        # The lines of a page's returns in one more query, whatever the rows.
        return super().get_queryset(request).prefetch_related("lines__order_line")

    def get_search_results(self, request, queryset, search_term):
        """By the order's number, as typed or upper case, through the orders' unique
        index; the returns of that order through their (order, opened_at) index."""
        term = (search_term or "").strip()
        if not term:
            return queryset, False
        if len(term) > SEARCH_MAX_LENGTH:
            messages.warning(
                request, _("The search is too long (at most %(max)s characters).") % {"max": SEARCH_MAX_LENGTH}
            )
            return queryset.none(), False
        order_ids = list(Order.objects.filter(number__in=sorted({term, term.upper()})).values_list("pk", flat=True))
        return queryset.filter(order_id__in=order_ids), False

    @admin.display(description=gettext_lazy("return"))
    def number(self, record):
        return _("Return #%(number)s") % {"number": record.pk}

    @admin.display(description=gettext_lazy("order"))
    def order_link(self, record):
        try:
            url = object_url("admin:orders_order_change", record.order_id)
        except NoReverseMatch:
            return record.order.number
        return format_html('<a href="{}#return-{}">{}</a>', url, record.pk, record.order.number)

    @admin.display(description=gettext_lazy("lines"))
    def lines_display(self, record):
        lines = record.lines.all()
        if not lines:
            return "—"
        return format_html_join(
            ", ",
            "{} × {}{}",
            (
                (line.quantity, line.order_line.sku, f" ({line.get_outcome_display()})" if line.outcome else "")
                for line in lines
            ),
        )

    @admin.display(description=gettext_lazy("opened by"))
    def opened_by_name(self, record):
        return person_name(record.opened_by) or _("system")

    @admin.display(description=gettext_lazy("received by"))
    def received_by_name(self, record):
        if record.received_at is None:
            return "—"
        return person_name(record.received_by) or _("system")

    @admin.display(description=gettext_lazy("refund"))
    def refund_display(self, record):
        refund = record.refund
        if refund is None:
            return "—"
        amount = number_format(refund.amount, 2, force_grouping=True)
        return f"{record.order.currency} {amount} ({refund.get_status_display()})"

"""The refund list and page: money owed back to customers (orders.models.Refund),
opened by cancelling a paid order, by receiving a return, or by a manager by hand,
and marked refunded by finance (managers, orders.record_refund) with the reference
of the transfer.

Read-only like the other history: a refund changes only through
`refund_mark_refunded`, from this page or the order page (one POST-only view,
admin:orders_refund_mark_refunded, that goes back where the form was).
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from common.admin import ReadOnlyAdminMixin
from common.pagination import CappedListAdminMixin
from common.text import datetime_text, person_name
from inventory.admin import object_url

from .. import services
from ..exceptions import StaleAction, WorkflowError
from ..models import Refund
from ..selectors import SearchTooLong, classify_search
from ..text import money
from .actions import TYPED_MAX_LENGTH, TYPED_SESSION_KEY


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, CappedListAdminMixin, admin.ModelAdmin):
    """Refunds due first, then those made, newest first within each (the order the
    refund_status_created index gives, so a page is the first rows of one index)."""

    list_display = [
        "order_link",
        "amount_display",
        "reason",
        "status_display",
        "created_at",
        "created_by_display",
        "refunded_display",
        "reference",
    ]
    list_display_links = ["amount_display"]  # the refund's page ("mark refunded"); the order has its own link
    list_select_related = ["order", "created_by", "refunded_by"]
    list_filter = ["status", "reason"]
    list_filter_params = frozenset({"status__exact", "reason__exact", "order__id__exact"})
    list_id_params = {"order__id__exact": gettext_lazy("order")}
    ordering = ["status", "-created_at", "-id"]  # "due" before "refunded": refund_status_created
    sortable_by = []
    list_per_page = 50
    search_fields = ["order__number"]  # shows the box; get_search_results matches exactly
    search_help_text = gettext_lazy("Order number, with or without SO-.")
    fields = [
        "order_link",
        "amount_display",
        "reason",
        "note",
        "status_display",
        "created_at",
        "created_by_display",
        "refunded_display",
        "reference",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["orders/admin.css"]}

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/mark-refunded/",
                self.admin_site.admin_view(require_POST(self.mark_refunded_view)),
                name="%s_%s_mark_refunded" % info,
            ),
            *super().get_urls(),
        ]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        try:
            numbers = classify_search(search_term).get("numbers", set())
        except SearchTooLong as error:
            messages.warning(request, str(error))
            return queryset.none(), False
        return queryset.filter(order__number__in=sorted(numbers)), False

    # --- columns ---------------------------------------------------------------------

    @admin.display(description=gettext_lazy("order"))
    def order_link(self, refund):
        try:
            url = object_url("admin:orders_order_change", refund.order_id)
        except NoReverseMatch:
            return refund.order.number
        return format_html('<a href="{}">{}</a>', url, refund.order.number)

    @admin.display(description=gettext_lazy("amount"))
    def amount_display(self, refund):
        return format_html('<span class="order-total">{}</span>', money(refund.amount, refund.order.currency))

    @admin.display(description=gettext_lazy("status"))
    def status_display(self, refund):
        return format_html(
            '<span class="order-badge order-badge--refund-{}">{}</span>', refund.status, refund.get_status_display()
        )

    @admin.display(description=gettext_lazy("created by"))
    def created_by_display(self, refund):
        return person_name(refund.created_by) or _("system")

    @admin.display(description=gettext_lazy("refunded"))
    def refunded_display(self, refund):
        if refund.refunded_at is None:
            return "—"
        return _("%(who)s, %(when)s") % {
            "who": person_name(refund.refunded_by) or _("system"),
            "when": datetime_text(refund.refunded_at),
        }

    # --- the refund page and "mark refunded" -------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            typed = request.session.pop(TYPED_SESSION_KEY, None) or {}
            fields = typed.get("fields", {}) if typed.get("action") == "mark_refunded" else {}
            context.update(
                {
                    "refund": obj,
                    "can_mark_refunded": obj.status == Refund.Status.DUE
                    and request.user.has_perm("orders.record_refund"),
                    "reference_typed": fields.get("reference", "") if fields.get("refund") == str(obj.pk) else "",
                    "reference_max_length": services.REFERENCE_MAX_LENGTH,
                }
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def mark_refunded_view(self, request, object_id):
        if not request.user.has_perm("orders.record_refund"):
            raise PermissionDenied
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            raise Http404(_("There is no refund with that ID."))
        try:
            services.refund_mark_refunded(refund=refund, actor=request.user, reference=request.POST.get("reference", ""))
        except StaleAction as error:
            messages.warning(request, str(error))
        except (WorkflowError, ValidationError) as error:
            messages.error(request, " ".join(error.messages) if isinstance(error, ValidationError) else str(error))
            # What was typed, for the page the form was on (the order page reads it too).
            request.session[TYPED_SESSION_KEY] = {
                "order": refund.order_id,
                "action": "mark_refunded",
                "fields": {"refund": str(refund.pk), "reference": request.POST.get("reference", "")[:TYPED_MAX_LENGTH]},
            }
        else:
            messages.success(
                request,
                _("The refund of %(amount)s on order %(number)s is marked refunded.")
                % {"amount": money(refund.amount, refund.order.currency), "number": refund.order.number},
            )
        next_url = request.POST.get("next")
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return HttpResponseRedirect(next_url)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:orders_refund_change", args=[refund.pk]))

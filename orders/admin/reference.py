"""Admin for the reference data around orders: customers (with their orders), the
checklist templates and the target time per status. The Order admin is in admin.py."""

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce, Upper
from django.urls import NoReverseMatch, reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.admin import KeepHistoryAdminMixin, LabelledListEditableMixin
from common.pagination import CappedListAdminMixin
from common.text import datetime_text

from ..models import (
    ChecklistStep,
    Customer,
    Order,
    Predicate,
    StatusTarget,
    workflow_order,
)
from ..selectors import SearchTooLong, classify_search, customer_match_q
from ..text import quoted_list

CUSTOMER_ORDERS_SHOWN = 50



def _admin_url(name, *args, query=None):
    try:
        url = reverse(f"admin:{name}", args=args)
    except NoReverseMatch:  # that admin is not installed
        return ""
    return f"{url}?{urlencode(query)}" if query else url


@admin.register(Customer)
class CustomerAdmin(KeepHistoryAdminMixin, CappedListAdminMixin, admin.ModelAdmin):
    list_display = ["name", "email", "phone", "language", "order_count", "created_at"]
    list_filter = ["language"]
    search_fields = ["name", "email"]
    search_help_text = gettext_lazy("Name, e-mail, or a phone number written any way (0912-345-678, +886 912 345 678).")
    fields = ["name", "email", "phone", "phone_digits", "language", "created_at", "order_list"]
    readonly_fields = ["phone_digits", "created_at", "order_list"]

    def get_ordering(self, request):
        # With a search, by UPPER(name), which no index orders: the matches are found
        # through the trigram (or e-mail, phone) index and sorted, instead of PostgreSQL
        # walking the (name, id) index and testing every customer's name.
        if request.GET.get("q", "").strip():
            return [Upper("name"), "id"]
        return super().get_ordering(request)

    def get_sortable_by(self, request):
        """Columns an index sorts over every customer (name: the list's own order,
        (name, id); e-mail); with a search, the few matches sort by any column."""
        if request.GET.get("q", "").strip():
            return self.get_list_display(request)
        return ["name", "email"]

    list_filter_params = frozenset({"language__exact", "language__isnull"})

    def get_queryset(self, request):
        # A correlated count, evaluated for the rows of the page only (a JOIN and
        # GROUP BY would aggregate every order of every customer first).
        orders = Order.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
        return super().get_queryset(request).annotate(
            order_count=Coalesce(Subquery(orders.annotate(n=Count("pk")).values("n")), 0)
        )

    def get_search_results(self, request, queryset, search_term):
        # The same indexed matching as the order search and the lookup: exact e-mail
        # (any case), phone (any format), or part of the name.
        try:
            lookups = classify_search(search_term)
        except SearchTooLong as too_long:
            messages.warning(request, str(too_long))
            return queryset.none(), False
        if not lookups:
            return queryset, False
        _exact, matching = customer_match_q(lookups)
        return (queryset.filter(matching) if matching else queryset.none()), False

    @admin.display(description=gettext_lazy("orders"), ordering="order_count")
    def order_count(self, customer):
        return customer.order_count

    @admin.display(description=gettext_lazy("orders"))
    def order_list(self, customer):
        """The customer's latest orders (one query however many there are)."""
        if customer.pk is None:
            return "—"
        orders = list(
            customer.orders.only("pk", "customer", "number", "status", "placed_at", "total", "currency").order_by(
                "-placed_at", "-id"
            )[:CUSTOMER_ORDERS_SHOWN]
        )
        if not orders:
            return _("No orders yet.")

        def number(order):
            url = _admin_url("orders_order_change", order.pk)
            return format_html('<a href="{}">{}</a>', url, order.number) if url else order.number

        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
            (
                (
                    number(order),
                    order.get_status_display(),
                    datetime_text(order.placed_at),
                    order.currency,
                    number_format(order.total, decimal_pos=2, force_grouping=True),
                )
                for order in orders
            ),
        )
        more = ""
        total = getattr(customer, "order_count", len(orders))
        if total > len(orders):
            url = _admin_url("orders_order_changelist", query={"customer__id__exact": customer.pk})
            text = _("All %(count)s orders") % {"count": total}
            more = format_html('<p><a href="{}">{}</a></p>', url, text) if url else text
        return format_html(
            '<table class="customer-orders"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>{}",
            _("order number"),
            _("status"),
            _("placed"),
            _("total"),
            rows,
            more,
        )


def delete_selected_manual_steps(modeladmin, request, queryset):
    """The list's "Delete selected" for manual steps; a selection with an automatic
    step is refused whole, naming them (the change page has no delete for them)."""
    automatic = [step.display_label for step in queryset.exclude(predicate="").order_by("state", "position", "pk")]
    if automatic:
        modeladmin.message_user(
            request,
            _("Nothing was deleted: automatic steps cannot be deleted (%(steps)s); only manual steps can.")
            % {"steps": quoted_list(automatic)},
            messages.ERROR,
        )
        return None
    return delete_selected(modeladmin, request, queryset)


@admin.register(ChecklistStep)
class ChecklistStepAdmin(LabelledListEditableMixin, admin.ModelAdmin):
    """The steps each state starts with. Orders keep the copy they were given, so
    editing a step here changes orders that enter the state from now on."""

    list_display = ["step", "state", "position", "required", "automatic_check", "is_active"]
    list_display_links = ["step"]
    list_editable = ["position", "required", "is_active"]
    list_filter = ["state", "is_active", "required"]
    search_fields = ["label"]
    fields = ["state", "label", "position", "required", "predicate", "is_active"]

    # Manual steps are the managers' to add, reword, make optional, deactivate or
    # delete. Automatic steps are invariants (ChecklistStep.invariant_errors): always
    # required and active, in a state where their check can pass. The list's and the
    # form's validation is the model's, and the database holds the rule too.

    def get_ordering(self, request):
        return [workflow_order("state").asc(), "position", "id"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_automatic:
            # Always required and active; and its check stays (turning it into a manual
            # step would let it be made optional). Its state can move where the check can pass.
            return ["predicate", "required", "is_active"]
        return []

    def has_delete_permission(self, request, obj=None):
        # An automatic step is not deleted (the state's checks would still be made,
        # orders/checklist.py REQUIRED_CHECKS, but the template would no longer show them).
        if obj is not None and obj.is_automatic:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (delete_selected_manual_steps, name, description)
        return actions

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        formset = getattr(cl, "formset", None)
        if request.method == "POST" and formset is not None and formset.is_bound and not formset.is_valid():
            # The rows say what is wrong beside the boxes; the message says that nothing was saved.
            refusals = []
            for form in formset.forms:
                for error in dict.fromkeys(message for errors in form.errors.values() for message in errors):
                    refusals.append(_("%(step)s: %(error)s") % {"step": form.instance.display_label, "error": error})
            messages.error(
                request, _("Nothing was saved. %(refusals)s") % {"refusals": " ".join(refusals) or _("Correct the errors below.")}
            )
        return response

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "predicate":
            kwargs["choices"] = [("", _("None: staff tick this step by hand"))] + list(Predicate.choices)
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description=gettext_lazy("step"), ordering="label")
    def step(self, step):
        return step.display_label

    @admin.display(description=gettext_lazy("automatic check"), ordering="predicate")
    def automatic_check(self, step):
        return step.get_predicate_display() if step.predicate else _("Manual")


@admin.register(StatusTarget)
class StatusTargetAdmin(LabelledListEditableMixin, admin.ModelAdmin):
    """How long an order may stay in a state before the order list flags it overdue."""

    list_display = ["status", "target_hours"]
    list_display_links = ["status"]
    list_editable = ["target_hours"]

    def get_ordering(self, request):
        return [workflow_order("status").asc()]

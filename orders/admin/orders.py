

import datetime
from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_list import result_headers
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field, display_for_value, quote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.admin import ReadOnlyAdminMixin
from common.pagination import CappedChangeList, CappedListAdminMixin, action_checkbox_html
from common.text import date_text, datetime_text
from reports.admin.exports import ExportAdminMixin
from reports.admin.imports import ImportAdminMixin

from .. import checklist, workflow
from .actions import OrderActionViewsMixin, OrderBulkActionsMixin
from .dashboard import DashboardAdminMixin
from .filters import OverdueFilter, StrictDateRangeFilter, WarehouseFilter, human_duration, status_targets
from .lookup import CustomerLookupAdminMixin
from .printables import PrintablesAdminMixin
from .packing import PackingStationAdminMixin
from ..models import COLLECTED_BY_CARRIER, Order, OrderEvent, OrderStatus, PaymentMethod, Refund, ReturnState
from ..selectors import (
    SEARCH_MAX_LENGTH,
    SearchTooLong,
    available_actions,
    checklist_progress,
    checklist_rows,
    list_checklist_progress,
    AT_LEAST,
    UNCOUNTED,
    ESTIMATE,
    EXACT,
    FINISHED_COUNT_CAP,
    order_for_page,
    order_search_filter,
    order_status_counts,
    split_limits,
)
from ..services import ADDRESS_FIELDS, PICKUP_FIELDS, REASON_MAX_LENGTH, REFERENCE_MAX_LENGTH, refundable_amount
from ..text import money


STATUS_LABELS = dict(OrderStatus.choices)


def status_badge(status, label):
    return format_html('<span class="order-badge order-badge--{}">{}</span>', status, label)


RETURN_STATE_LABELS = dict(ReturnState.choices)


def return_state_badge(order):
    """"Partly returned" beside the status of an order some of whose goods came back
    (received returns); "" otherwise. A fully returned order is Returned already."""
    if not order.return_state or order.status == OrderStatus.RETURNED:
        return SafeString("")
    return format_html(
        ' <span class="order-badge order-badge--return-{}">{}</span>',
        order.return_state,
        RETURN_STATE_LABELS.get(order.return_state, order.return_state),
    )


def time_in_status(order, targets, now):
    """(human duration, target timedelta or None, overdue?)"""
    age = now - order.status_changed_at
    target = targets.get(order.status)
    return human_duration(age), target, target is not None and age > target


class OrderChangeList(CappedChangeList):
    """Loads, for the rows of one page, what the progress and time columns show:
    the current state's required checklist steps, and lines, shipments and stock for
    the orders with an automatic step to check (selectors.list_checklist_progress: a
    fixed number of queries however many rows). Counted and paginated by
    common.pagination: at most OrderAdmin.list_max_pages pages, the count stops
    there ("2,000+")."""

    search_keys_first = True  # a name's matches: ordered from order_customer_recent

    def get_results(self, request):
        super().get_results(request)
        orders = list(self.result_list)
        progress = list_checklist_progress(orders)
        targets, now = status_targets(request), timezone.now()
        for order in orders:
            order.admin_progress = progress[order.pk]
            order.admin_time = time_in_status(order, targets, now)

    # --- the rows, rendered without the admin's per-cell machinery ----------------------
    # Django's result_list tag renders each cell through lookup_field(),
    # items_for_result(), a reverse() per row and the template engine once per cell;
    # on a 50-row page that is most of the page's time. `lean_results` gives the same
    # HTML (the same <th>/<td>, classes, links with the preserved filters, checkbox
    # and its label) as Django's change_list_results.html expects it: one row a list
    # holding the row's cells. None when the list is one it does not render (a popup,
    # an editable list, a column that is not a method of the admin or a plain model
    # field): the template then uses Django's tag.

    def _lean_columns(self):
        opts, model_admin = self.lookup_opts, self.model_admin
        if self.formset or self.is_popup or self.to_field or self.list_display_links is None:
            return None
        if not isinstance(opts.pk, (models.AutoField, models.BigAutoField, models.IntegerField)):
            return None
        default_empty = model_admin.get_empty_value_display()
        columns, first = [], True
        for name in self.list_display:
            if not isinstance(name, str):
                return None
            # As items_for_result: the first linked column is a <th>, any other a <td>.
            link = (first and not self.list_display_links) or name in self.list_display_links
            tag = ("th" if first else "td") if link else "td"
            try:
                field = opts.get_field(name)
            except FieldDoesNotExist:
                field = None
            if field is not None:
                if field.is_relation or field.auto_created or getattr(field, "flatchoices", None):
                    return None
                if isinstance(field, (models.DateField, models.TimeField, models.BooleanField)):
                    return None
                columns.append(("field", field, f' class="field-{name}"', default_empty, link, tag))
            else:
                attr = getattr(model_admin, name, None) if name != "__str__" else None
                if not callable(attr) or getattr(attr, "boolean", False):
                    return None
                css = ' class="action-checkbox"' if name == "action_checkbox" else f' class="field-{name}"'
                columns.append(("method", attr, css, getattr(attr, "empty_value_display", default_empty), link, tag))
            first = first and not link
        return columns

    @cached_property
    def lean_results(self):
        columns = self._lean_columns()
        if columns is None:
            return None
        url_pattern = None
        if any(column[4] for column in columns):
            marker = "0123456789876543210"
            url = add_preserved_filters(
                {"preserved_filters": self.preserved_filters, "opts": self.opts},
                reverse(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=(marker,),
                    current_app=self.model_admin.admin_site.name,
                ),
            )
            head, _sep, tail = url.partition(marker)
            url_pattern = (escape(head), escape(tail))
        pk_attname = self.lookup_opts.pk.attname
        # The action checkbox is the same markup on every row but the key and label:
        # its label's translation is looked up once (ModelAdmin.action_checkbox's).
        checkbox = getattr(self.model_admin, "action_checkbox", None)
        select_label = _("Select this object for an action - {}")
        rows = []
        for result in self.result_list:
            cells = []
            for kind, source, css, empty, link, tag in columns:
                if kind == "method" and source == checkbox:
                    shown = action_checkbox_html(result.pk, select_label.format(result))
                elif kind == "method":
                    value = source(result)
                    if type(value) is SafeString and value.strip():
                        shown = value  # what display_for_value and conditional_escape give it
                    else:
                        if isinstance(value, str) and value.strip() == "":
                            value = ""
                        shown = display_for_value(value, empty)
                        if isinstance(value, (datetime.date, datetime.time)):
                            css = css[:-1] + ' nowrap"'
                else:
                    shown = display_for_field(getattr(result, source.attname), source, empty, avoid_link=link)
                shown = conditional_escape(shown)
                if link:
                    pk = escape(quote(getattr(result, pk_attname)))
                    shown = f'<a href="{url_pattern[0]}{pk}{url_pattern[1]}">{shown}</a>'
                cells.append(f"<{tag}{css}>{shown}</{tag}>")
            rows.append([mark_safe("".join(cells))])
        return rows

    @cached_property
    def lean_headers(self):
        return list(result_headers(self))

    @property
    def lean_num_sorted_fields(self):
        return sum(1 for header in self.lean_headers if header["sortable"] and header["sorted"])


@admin.register(Order)
class OrderAdmin(ImportAdminMixin, DashboardAdminMixin, ExportAdminMixin, CustomerLookupAdminMixin, PackingStationAdminMixin, PrintablesAdminMixin, OrderActionViewsMixin, OrderBulkActionsMixin, ReadOnlyAdminMixin, CappedListAdminMixin, admin.ModelAdmin):
    # Orders come from imports and the shop; they change only through the workflow
    # views, never through this form (ReadOnlyAdminMixin).
    import_kind = "orders"
    list_display = [
        "number",
        "customer_name",
        "status_display",
        "progress_display",
        "time_display",
        "warehouse_display",
        "total_display",
        "placed_display",
    ]
    list_display_links = ["number"]
    list_select_related = ["customer", "warehouse"]
    list_filter = [
        "status",
        OverdueFilter,
        ("warehouse", WarehouseFilter),
        "payment_status",
        "payment_method",
        "delivery_method",
        ("placed_at", StrictDateRangeFilter),
    ]
    export_kind = "orders"
    export_filter_params = {
        "status__exact": "status",
        "overdue": "overdue",
        "warehouse__id__exact": "warehouse",
        "carrier": "carrier",
        "payment_status__exact": "payment_status",
        "payment_method__exact": "payment_method",
        "delivery_method__exact": "delivery_method",
        "placed_at__range__gte": "since",
        "placed_at__range__lte": "until",
    }
    search_fields = ["number"]  # shows the box; get_search_results() does the matching
    search_help_text = gettext_lazy("Order number, e-mail, phone, tracking number or part of a name.")
    # At most 40 pages of 50 (common.pagination.CappedListAdminMixin): the count stops
    # at 2,000 ("2,000+"), so with a filter no index answers alone (a carrier: each
    # order's live shipment is looked up) it reads at most 2,001 orders; past that,
    # staff narrow the list by date, status or search. No facet counts.
    list_per_page = 50
    list_max_pages = 40
    actions = ["advance_selected", "hold_selected", "mark_paid_selected"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "customer",
                    "placed_at",
                    "payment_status",
                    "payment_method",
                    "payment_reference",
                    "paid_at",
                    "currency",
                    "total_display",  # grouped: 3,879.00
                    "delivery_method",
                    "warehouse",
                ]
            },
        ),
        (gettext_lazy("Ship to"), {"fields": ADDRESS_FIELDS}),
    ]
    readonly_fields = [*(field for _name, options in fieldsets for field in options["fields"]), *PICKUP_FIELDS]

    class Media:
        css = {"all": ["orders/admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "warehouse")

    def get_fieldsets(self, request, obj=None):
        """The ship-to block of a convenience-store pickup order leads with the store
        (chain, code, name) after the recipient's name and phone: that is where the
        parcel goes."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not (obj.is_store_pickup or any(getattr(obj, name) for name in PICKUP_FIELDS)):
            return fieldsets
        shown = []
        for name, options in fieldsets:
            fields = list(options["fields"])
            if fields == list(ADDRESS_FIELDS):
                fields = [*fields[:2], *PICKUP_FIELDS, *fields[2:]]
            shown.append((name, {**options, "fields": fields}))
        return shown

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    # --- list columns ---------------------------------------------------------------

    @admin.display(description=gettext_lazy("customer"), ordering="customer__name")
    def customer_name(self, order):
        return order.customer.name

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_display(self, order):
        # The label by value, not get_status_display(): that builds a dict of every
        # choice (each label translated to be hashed) for every row.
        badge = status_badge(order.status, STATUS_LABELS.get(order.status, order.status))
        return badge + return_state_badge(order)

    @admin.display(description=gettext_lazy("checklist"))
    def progress_display(self, order):
        progress = getattr(order, "admin_progress", None)
        if progress is None or progress[0] == "0/0":
            return "—"
        text, ready = progress
        return format_html('<span class="order-progress{}">{}</span>', " order-progress--ready" if ready else "", text)

    @admin.display(description=gettext_lazy("in state for"), ordering="status_changed_at")
    def time_display(self, order):
        if not hasattr(order, "admin_time"):
            return "—"
        text, target, overdue = order.admin_time
        if overdue:
            return format_html(
                '<span class="order-overdue" title="{}">{}</span>',
                _("Target: %(hours)s h") % {"hours": int(target.total_seconds() // 3600)},
                text,
            )
        return text

    @admin.display(description=gettext_lazy("warehouse"), ordering="warehouse__code")
    def warehouse_display(self, order):
        return order.warehouse.code if order.warehouse else "—"

    @admin.display(description=gettext_lazy("total"), ordering="total")
    def total_display(self, order):
        return format_html(
            '<span class="order-total">{} {}</span>',
            order.currency,
            number_format(order.total, 2, force_grouping=True),
        )

    @admin.display(description=gettext_lazy("placed"), ordering="placed_at")
    def placed_display(self, order):
        return format_html('<span title="{}">{}</span>', datetime_text(order.placed_at), date_text(order.placed_at))

    # --- list page ------------------------------------------------------------------

    # Query parameters the list answers (its filters, and the customer link from the
    # customer page); any other lookup is refused with a message (common.pagination).
    list_filter_params = frozenset(
        {
            "status__exact",
            "status__isnull",
            "overdue",
            "warehouse__id__exact",
            "warehouse__isnull",
            "carrier",
            "payment_status__exact",
            "payment_status__isnull",
            "payment_method__exact",
            "payment_method__isnull",
            "delivery_method__exact",
            "delivery_method__isnull",
            "placed_at__range__gte",
            "placed_at__range__lte",
            "customer__id__exact",
        }
    )
    list_id_params = {
        "warehouse__id__exact": gettext_lazy("warehouse"),
        "customer__id__exact": gettext_lazy("customer"),
        # "carrier" is read by shipping's CarrierFilter, which says so itself.
    }

    def get_sortable_by(self, request):
        """The columns the list sorts by: those an index can answer over the whole table
        (the number; the placed date, the default order; the time in state once a status
        is chosen, through (status, status_changed_at)). With a search every column: the
        matches are few."""
        if request.GET.get(SEARCH_VAR, "").strip():
            return self.get_list_display(request)
        sortable = ["number", "placed_display"]
        if request.GET.get("status__exact") in OrderStatus.values:
            sortable.append("time_display")
        return sortable

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        try:
            return queryset.filter(order_search_filter(search_term)), False
        except SearchTooLong as error:
            if not getattr(request, "_order_search_refused", False):  # the chips search again
                request._order_search_refused = True
                messages.warning(request, str(error))
            return queryset.none(), False

    def _exact_number(self, request):
        """The order whose number is exactly what was searched for, if any."""
        term = request.GET.get("q", "").strip()
        if not term or len(term) > SEARCH_MAX_LENGTH:
            return None
        matches = dict(Order.objects.filter(number__in={term, term.upper()}).values_list("number", "pk"))
        return matches.get(term) or matches.get(term.upper())

    def status_counts(self, request, cl):
        """Orders per status under the list's other filters and its search (what each
        chip would list), each chip linking to the status filter. See
        selectors.order_status_counts for what is exact and what is "at least"."""
        status_params = ["status__exact", "status__isnull"]
        if any(name in request.GET for name in status_params):
            base = cl.get_queryset(request, exclude_parameters=status_params)
        else:
            base = cl.queryset  # the list's own filters and search, already built
        counts = order_status_counts(base, exact=bool(cl.query.strip()))
        params = request.GET.copy()
        params.pop("p", None)
        params.pop("status__exact", None)
        params.pop("status__isnull", None)
        current = request.GET.get("status__exact", "")

        def chip(status, label, count, kind, **extra):
            text = number_format(count, force_grouping=True)
            titles = {
                AT_LEAST: _("At least %(count)s: counted up to %(count)s, there are more.") % {"count": text},
                ESTIMATE: _("About %(count)s: the database's estimate, not a count.") % {"count": text},
                UNCOUNTED: _("Not counted: too many of these orders to check against the filters quickly."),
            }
            return {
                "status": status,
                "label": label,
                "count": count,
                "text": {AT_LEAST: f"{text}+", ESTIMATE: f"≈ {text}", UNCOUNTED: "–"}.get(kind, text),
                "kind": kind,
                "title": titles.get(kind, ""),
                **extra,
            }

        kinds = {kind for _count, kind in counts.values()}
        rows = [
            chip(
                "",
                _("All"),
                sum(count for count, _kind in counts.values()),
                # Not counted orders are some more: the sum is at least what was counted.
                ESTIMATE if ESTIMATE in kinds else AT_LEAST if kinds & {AT_LEAST, UNCOUNTED} else EXACT,
                url="?" + params.urlencode(),
                active=not current,
            )
        ]
        for status in OrderStatus:
            count, kind = counts[status.value]
            rows.append(
                chip(
                    status.value,
                    status.label,
                    count,
                    kind,
                    url="?" + urlencode({**params.dict(), "status__exact": status.value}),
                    active=current == status.value,
                )
            )
        return rows

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            refused = self.refused_list_params(request)
            if refused is not None:
                return refused
            pk = self._exact_number(request)
            if pk is not None:
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:orders_order_change", args=[pk])
                )
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None and not getattr(response, "is_rendered", True):
            response.context_data["status_counts"] = self.status_counts(request, cl)
            response.context_data["status_count_cap"] = number_format(FINISHED_COUNT_CAP, force_grouping=True)
        return response

    # --- order page -----------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self.order_page_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def payment_context(self, order, user, typed):
        """The order page's payment and refunds: the mark-paid form's reference field,
        the refunds (prefetched by order_for_page), what is due, and the forms a
        manager has (mark a refund refunded, grant one by hand)."""
        refunds = list(order.refunds.all())
        due = sum((refund.amount for refund in refunds if refund.status == Refund.Status.DUE), Decimal("0"))
        can_record = user.has_perm("orders.record_refund")
        refundable = refundable_amount(order)
        return {
            "payment_reference_required": order.payment_method == PaymentMethod.ATM,
            "payment_by_carrier": order.payment_method in COLLECTED_BY_CARRIER,
            "payment_reference_max_length": REFERENCE_MAX_LENGTH,
            "refunds": refunds,
            "refund_due": due,
            "refund_due_text": money(due, order.currency) if due else "",
            "can_record_refund": can_record,
            "can_refund_by_hand": can_record and refundable > 0,
            "refundable_text": money(refundable, order.currency),
            "refund_typed": typed.get("refund_open", {}),
            "refund_mark_typed": typed.get("mark_refunded", {}),
        }

    def order_page_context(self, request, obj):
        user = request.user
        order = order_for_page(obj.pk)
        rows = checklist_rows(order)
        progress, ready = checklist_progress(rows)
        events = list(order.events.all())
        hold_reason = ""
        if order.status == OrderStatus.ON_HOLD:
            hold_reason = next(
                (
                    event.message
                    for event in events
                    if event.kind == OrderEvent.Kind.TRANSITION and (event.data or {}).get("to") == OrderStatus.ON_HOLD
                ),
                "",
            )
        age, target, overdue = time_in_status(order, status_targets(request), timezone.now())
        able = workflow.abilities(order, workflow.user_permissions(user))
        typed = self.typed_on_page(request, order)
        lines = list(order.lines.all())
        if able["split"]:
            split_typed, limits = typed.get("split", {}), split_limits(order, lines)
            for line in lines:
                line.split_typed = split_typed.get(f"move-{line.pk}", "0")
                line.split_max = limits[line.pk]
        return {
            "title": _("Order %(number)s") % {"number": order.number},
            "subtitle": None,
            "order": order,
            "status_badge": status_badge(order.status, order.get_status_display()) + return_state_badge(order),
            "time_in_status": age,
            "target_hours": int(target.total_seconds() // 3600) if target else None,
            "overdue": overdue,
            "hold_reason": hold_reason,
            "checklist": [
                {
                    "item": item,
                    "done": done,
                    "hint": hint,
                    "tickable": able["tick"]
                    and (not item.predicate or item.predicate in checklist.TICKABLE_BY_HAND),
                }
                for item, done, hint in rows
            ],
            "progress": progress,
            "ready": ready,
            "actions": available_actions(order, user, rows),
            "lines": lines,
            "shipments": list(order.shipments.all()),
            # What a refused form held, by action, to fill the form again.
            "typed": typed,
            "events": events,
            "can_mark_paid": able["mark_paid"],
            **self.payment_context(order, user, typed),
            "can_note": able["note"],
            "can_correct_address": able["address"],
            "can_split": able["split"],
            "split_from": order.split_from,
            "split_orders": list(order.split_orders.all()),
            "reason_max_length": REASON_MAX_LENGTH,
        }

"""The actions of the order page and the bulk actions of the order list.

Page actions: one admin view per action, named admin:orders_order_<action>. Each
checks the permission (the service checks it again), calls one service, turns a
refusal into a message and goes back to the order page. Only `address` answers GET
(its form); the rest are POST-only. Returns are records of the shipping app: its
admin adds the "return" and "receive_return" views (shipping/admin/order_returns.py).

Bulk actions: each order goes through its service on its own; the ones that may
proceed do, the others are refused. One message says how many of each, then lists
the refused orders one a line with the reason (common.messages)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import escape, format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from common.cleaning import parse_id, parse_whole_number
from common.messages import named_line, report_bulk
from inventory.exceptions import InventoryError

from .. import services, workflow
from ..exceptions import ChecklistIncomplete, StaleAction, WorkflowError
from ..models import Order, PaymentMethod, PaymentStatus
from ..text import money, quoted_list

AddressForm = type(
    "AddressForm", (forms.Form,), forms.fields_for_model(Order, fields=services.ADDRESS_FIELDS)
)
# A convenience-store pickup's form: the address and the pickup store.
PickupAddressForm = type(
    "PickupAddressForm", (forms.Form,), forms.fields_for_model(Order, fields=services.CORRECTABLE_FIELDS)
)


def address_fieldsets(names):
    fieldsets = [(None, {"fields": services.ADDRESS_FIELDS})]
    if len(names) > len(services.ADDRESS_FIELDS):
        fieldsets.append((gettext_lazy("Pickup store"), {"fields": services.PICKUP_FIELDS}))
    return fieldsets


def address_form_fields(order):
    """The fields the address page corrects for `order`: the pickup store too for a
    convenience-store pickup (or an order that has one to clear)."""
    if order.is_store_pickup or any(getattr(order, name) for name in services.PICKUP_FIELDS):
        return PickupAddressForm, services.CORRECTABLE_FIELDS
    return AddressForm, services.ADDRESS_FIELDS


# Where a refused form's input waits for the order page (a redirect drops POST data).
TYPED_SESSION_KEY = "orders_order_typed"
# What is kept of each field: more than any of the page's fields accepts.
TYPED_MAX_LENGTH = 4000


def _error_text(error):
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


class OrderActionViewsMixin:
    """get_urls() and views for the buttons and forms of the order page."""

    # (action, answers GET too)
    order_actions = [
        ("advance", False),
        ("hold", False),
        ("resume", False),
        ("cancel", False),
        ("tick", False),
        ("untick", False),
        ("note", False),
        ("mark_paid", False),
        ("refund_open", False),
        ("address", True),
        ("split", False),
    ]

    def get_urls(self):
        urls = []
        for action, allows_get in self.order_actions:
            view = getattr(self, f"{action}_view")
            if not allows_get:
                view = require_POST(view)
            urls.append(
                path(
                    f"<path:object_id>/{action.replace('_', '-')}/",
                    self.admin_site.admin_view(view),
                    name=f"{self.opts.app_label}_{self.opts.model_name}_{action}",
                )
            )
        return urls + super().get_urls()

    # --- plumbing -------------------------------------------------------------------

    def _order_or_404(self, request, object_id, perm):
        if not request.user.has_perm(perm):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404(_("There is no order with that ID."))
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        return order

    def _order_page(self, request, order):
        """Back to the order page, or to where the form came from (a safe `next`
        field or parameter: the customer lookup sends its search)."""
        next_url = request.POST.get("next") or request.GET.get("next")
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return HttpResponseRedirect(next_url)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.pk])
        )

    def _keep_typed(self, request, order):
        """Keep what the refused form held (a reason, a note, a carrier and tracking
        number) for the page the form came from to show again, the order page or the
        customer lookup (a `next`): staff correct it instead of typing it all over."""
        if request.resolver_match is None:
            return
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_"
        request.session[TYPED_SESSION_KEY] = {
            "order": order.pk,
            "action": request.resolver_match.url_name.removeprefix(prefix),
            "fields": {
                name: value[:TYPED_MAX_LENGTH]
                for name, value in request.POST.items()
                if name not in ("csrfmiddlewaretoken", "next")
            },
        }

    def typed_on_page(self, request, order):
        """{action: {field: value}} of the form refused just before this order page
        (read once), or {}."""
        return self.typed_for_orders(request).get(order.pk, {})

    def typed_for_orders(self, request):
        """{order pk: {action: {field: value}}} of the form refused just before this
        page (read once, whichever page reads it), or {}."""
        kept = request.session.pop(TYPED_SESSION_KEY, None)
        if not kept or "order" not in kept:
            return {}
        return {kept["order"]: {kept["action"]: kept["fields"]}}

    def _run(self, request, order, call, success):
        """Call a service; a refusal becomes a message (a stale one only a warning),
        and the form's input is kept for the page. PermissionDenied from the service
        is left to become a 403."""
        try:
            result = call()
        except StaleAction as error:
            messages.warning(request, str(error))
            self._keep_typed(request, order)
        except (WorkflowError, InventoryError, ValidationError) as error:
            messages.error(request, _error_text(error))
            self._keep_typed(request, order)
        else:
            messages.success(request, success(result) if callable(success) else success)
        return self._order_page(request, order)

    # --- transitions ----------------------------------------------------------------

    def advance_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.advance_order")
        expected = request.POST.get("expected_status") or order.status
        return self._run(
            request,
            order,
            lambda: services.order_advance(order=order, actor=request.user, expected_status=expected),
            lambda o: _("Order %(number)s is now %(status)s.")
            % {"number": o.number, "status": o.get_status_display()},
        )

    def hold_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.hold_order")
        return self._run(
            request,
            order,
            lambda: services.order_hold(order=order, actor=request.user, reason=request.POST.get("reason", "")),
            _("Order %(number)s is on hold.") % {"number": order.number},
        )

    def resume_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.resume_order")
        return self._run(
            request,
            order,
            lambda: services.order_resume(order=order, actor=request.user),
            lambda o: _("Order %(number)s resumed; it is %(status)s again.")
            % {"number": o.number, "status": o.get_status_display()},
        )

    def cancel_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.cancel_order")
        return self._run(
            request,
            order,
            lambda: services.order_cancel(order=order, actor=request.user, reason=request.POST.get("reason", "")),
            _("Order %(number)s is cancelled.") % {"number": order.number},
        )

    def split_view(self, request, object_id):
        """Move the units typed per line ("move-<line id>", 0 or empty for none) to a
        new order (services.order_split); the message links the new order."""
        order = self._order_or_404(request, object_id, "orders.split_order")
        moves = {}
        for line in order.lines.order_by("pk"):
            quantity = parse_whole_number(request.POST.get(f"move-{line.pk}", "").strip() or "0")
            if quantity is None:
                messages.error(
                    request,
                    _("Enter how many of %(sku)s move to the new order as a whole number (0 for none).")
                    % {"sku": line.sku},
                )
                self._keep_typed(request, order)
                return self._order_page(request, order)
            if quantity:
                moves[line.pk] = quantity

        def moved(backorder):
            url = reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change", args=[backorder.pk]
            )
            link = format_html('<a href="{}">{}</a>', url, backorder.number)
            return mark_safe(
                escape(_("Order %(number)s is split: the moved lines are in the new order %(backorder)s, which starts as New."))
                % {"number": escape(order.number), "backorder": link}
            )

        return self._run(
            request,
            order,
            lambda: services.order_split(
                order=order, actor=request.user, lines=moves, reason=request.POST.get("reason", "")
            ),
            moved,
        )

    # --- checklist ------------------------------------------------------------------

    def _item(self, request, order):
        item_id = parse_id(request.POST.get("item"))
        item = order.checklist_items.filter(pk=item_id).first() if item_id else None
        if item is None:
            messages.error(request, _("That step is not on order %(number)s.") % {"number": order.number})
        return item

    def tick_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.tick_checklist")
        item = self._item(request, order)
        if item is None:
            return self._order_page(request, order)
        return self._run(
            request,
            order,
            lambda: services.checklist_tick(item=item, actor=request.user),
            _("“%(step)s” ticked.") % {"step": item.display_label},
        )

    def untick_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.tick_checklist")
        item = self._item(request, order)
        if item is None:
            return self._order_page(request, order)
        return self._run(
            request,
            order,
            lambda: services.checklist_untick(item=item, actor=request.user),
            _("“%(step)s” unticked.") % {"step": item.display_label},
        )

    # --- corrections ----------------------------------------------------------------

    def note_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.add_note")
        return self._run(
            request,
            order,
            lambda: services.order_add_note(order=order, actor=request.user, text=request.POST.get("text", "")),
            _("Note added to order %(number)s.") % {"number": order.number},
        )

    def mark_paid_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.mark_paid")
        return self._run(
            request,
            order,
            lambda: services.order_mark_paid(
                order=order, actor=request.user, reference=request.POST.get("reference", "")
            ),
            _("Order %(number)s is marked paid.") % {"number": order.number},
        )

    def refund_open_view(self, request, object_id):
        """A refund a manager grants by hand (amount and why), due until finance pays it."""
        order = self._order_or_404(request, object_id, "orders.record_refund")
        return self._run(
            request,
            order,
            lambda: services.refund_open_by_hand(
                order=order,
                actor=request.user,
                amount=request.POST.get("amount", "").strip(),
                note=request.POST.get("note", ""),
            ),
            lambda refund: _("A refund of %(amount)s is due on order %(number)s.")
            % {"amount": money(refund.amount, order.currency), "number": order.number},
        )

    def address_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.correct_address")
        if order.status not in workflow.BEFORE_SHIPPING:
            messages.error(
                request,
                _("Order %(number)s is %(status)s; its address can no longer be changed.")
                % {"number": order.number, "status": order.get_status_display()},
            )
            return self._order_page(request, order)
        form_class, names = address_form_fields(order)
        initial = {name: getattr(order, name) for name in names}
        form = form_class(request.POST if request.method == "POST" else None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.order_correct_address(order=order, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                for field, errors in getattr(error, "message_dict", {None: error.messages}).items():
                    form.add_error(field if field in form.fields else None, errors)
            except WorkflowError as error:
                messages.error(request, str(error))
                return self._order_page(request, order)
            else:
                if form.has_changed():
                    messages.success(
                        request, _("Shipping address of order %(number)s corrected.") % {"number": order.number}
                    )
                else:
                    messages.info(request, _("The address was not changed."))
                return self._order_page(request, order)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Correct the shipping address of order %(number)s") % {"number": order.number},
            "subtitle": None,
            "opts": self.opts,
            "original": order,
            "form": form,
            "adminform": helpers.AdminForm(form, address_fieldsets(names), {}),
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/orders/order/address_form.html", context)


# --- bulk actions of the order list ----------------------------------------------


def _refusal(order, error):
    """One line of the result list, naming the order once."""
    if isinstance(error, ChecklistIncomplete):
        text = _("missing %(steps)s") % {"steps": quoted_list(error.missing)}
    else:
        text = _error_text(error)
    return named_line(order.number, text)


class OrderBulkActionsMixin:
    def has_advance_permission(self, request):
        return request.user.has_perm("orders.advance_order")

    def has_hold_permission(self, request):
        return request.user.has_perm("orders.hold_order")

    def _each_order(self, request, queryset, call, done_message):
        done, refused = 0, []
        for order in queryset.order_by("number"):
            try:
                call(order)
            except (WorkflowError, InventoryError, ValidationError, PermissionDenied) as error:
                refused.append(_refusal(order, error))
            else:
                done += 1
        report_bulk(self, request, done=done, done_summary=done_message % {"count": done}, refused=refused)

    def has_mark_paid_permission(self, request):
        return request.user.has_perm("orders.mark_paid")

    @admin.action(permissions=["mark_paid"], description=gettext_lazy("Mark selected orders paid"))
    def mark_paid_selected(self, request, queryset):
        """Card payments (whose reference is optional) in bulk. An ATM transfer needs the
        last five digits of its account, one per order, so such orders are refused
        here with a pointer to their page; cash on delivery is never marked by hand."""

        def mark(order):
            if order.payment_method == PaymentMethod.ATM and order.payment_status == PaymentStatus.PENDING:
                raise WorkflowError(
                    _("paid by ATM transfer: mark it paid on its page, with the last five digits of the transfer account.")
                )
            services.order_mark_paid(order=order, actor=request.user)

        self._each_order(request, queryset, mark, _("%(count)s marked paid"))

    @admin.action(permissions=["advance"], description=gettext_lazy("Advance selected orders"))
    def advance_selected(self, request, queryset):
        self._each_order(
            request,
            queryset,
            lambda order: services.order_advance(order=order, actor=request.user, expected_status=order.status),
            _("%(count)s advanced"),
        )

    @admin.action(permissions=["hold"], description=gettext_lazy("Put selected orders on hold"))
    def hold_selected(self, request, queryset):
        """Two steps, like delete_selected: ask for the reason, then hold on the confirming POST."""
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("post") == "yes" and reason:
            try:
                services.reason_check(reason)  # refused once, not once per order
            except WorkflowError as refusal:
                self.message_user(request, str(refusal), messages.ERROR)
                return None
            self._each_order(
                request,
                queryset,
                lambda order: services.order_hold(order=order, actor=request.user, reason=reason),
                _("%(count)s put on hold"),
            )
            return None
        orders = list(queryset.order_by("number"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Put orders on hold"),
            "subtitle": None,
            "opts": self.opts,
            "orders": [(order, workflow.allowed_from("hold", order.status)) for order in orders],
            "reason": reason,
            "reason_missing": request.POST.get("post") == "yes",
            "reason_max_length": services.REASON_MAX_LENGTH,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/orders/order/hold_selected_confirmation.html", context)

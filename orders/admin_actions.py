"""Bulk actions of the order list. Each order goes through its service on its own:
the ones that may proceed do, the others are refused and named in one message."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inventory.exceptions import InventoryError

from . import services, workflow
from .exceptions import ChecklistIncomplete, WorkflowError
from .text import quoted_list


def _refusal(order, error):
    """One refusal for the summary, naming the order once."""
    if isinstance(error, ChecklistIncomplete):
        return _("%(number)s missing %(steps)s") % {
            "number": order.number,
            "steps": quoted_list(error.missing),
        }
    text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    return text if order.number in text else f"{order.number}: {text}"


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
        if not refused:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)
            return
        self.message_user(
            request,
            _("%(done)s, %(refused)s refused: %(details)s")
            % {"done": done_message % {"count": done}, "refused": len(refused), "details": "; ".join(refused)},
            messages.WARNING if done else messages.ERROR,
        )

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
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/orders/order/hold_selected_confirmation.html", context)

"""The returns parts of the order page: "Start a return" (a form per line: shipped,
already in returns, how many come back; a reason) and, per open return, the
warehouse's receiving form (each line back to stock or damaged).

Mixed into the Order admin by shipping/admin/orders.py, as the shipment forms are;
the URL names are the orders app's: admin:orders_order_return and
admin:orders_order_receive_return, both POST-only.
"""

from django.contrib import messages
from django.db.models import Prefetch
from django.urls import path
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from common.cleaning import parse_id, parse_whole_number
from common.permissions import has_permission

from ..models import Return, ReturnLine
from ..returns import return_open, return_receive, returned_quantities
from ..selectors import shipped_quantities


def order_returns(order):
    """The order's returns, newest first, with their lines and who opened and
    received them: three queries however many there are."""
    return list(
        Return.objects.filter(order=order)
        .select_related("opened_by", "received_by", "refund")
        .prefetch_related(Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line").order_by("pk")))
        .order_by("-opened_at", "-pk")
    )


class OrderReturnsAdminMixin:
    """The order page's return forms (list it before OrderAdmin)."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        urls = [
            path(
                f"<path:object_id>/{action.replace('_', '-')}/",
                self.admin_site.admin_view(require_POST(getattr(self, f"{action}_view"))),
                name=f"{info[0]}_{info[1]}_{action}",
            )
            for action in ("return", "receive_return")
        ]
        return urls + super().get_urls()

    def order_page_context(self, request, obj):
        context = super().order_page_context(request, obj)
        order = context["order"]
        typed = context.get("typed", {})
        records = order_returns(order)
        context["order_returns"] = records
        context["can_receive_return"] = has_permission(request.user, "shipping.receive_return")
        received = typed.get("receive_return", {})
        for record in records:
            kept = received if parse_id(received.get("return")) == record.pk else {}
            for line in record.lines.all():
                line.outcome_typed = kept.get(f"outcome-{line.pk}", "")
        action = next((action for action in context.get("actions", []) if action["code"] == "return"), None)
        if action is None or not action["enabled"]:
            return context
        shipped = shipped_quantities(order)
        already = returned_quantities(order)
        opened = typed.get("return", {})
        rows = []
        for line in context["lines"]:
            left = max(shipped.get(line.pk, 0) - already.get(line.pk, 0), 0)
            rows.append(
                {
                    "line": line,
                    "shipped": shipped.get(line.pk, 0),
                    "returned": already.get(line.pk, 0),
                    "left": left,
                    "typed": opened.get(f"quantity-{line.pk}", "0"),
                }
            )
        context["return_lines"] = rows
        if not any(row["left"] for row in rows):
            action["enabled"] = False
            action["reason"] = _("Everything that shipped is already in a return.")
        return context

    def return_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.return_order")
        lines = {}
        for line in order.lines.order_by("pk"):
            quantity = parse_whole_number(request.POST.get(f"quantity-{line.pk}", "").strip() or "0")
            if quantity is None:
                messages.error(
                    request,
                    _("Enter how many of %(sku)s come back as a whole number (0 for none).") % {"sku": line.sku},
                )
                self._keep_typed(request, order)
                return self._order_page(request, order)
            if quantity:
                lines[line.pk] = quantity
        return self._run(
            request,
            order,
            lambda: return_open(order=order, actor=request.user, lines=lines, reason=request.POST.get("reason", "")),
            lambda record: _("Return #%(return)s of order %(number)s opened; the warehouse receives it when it arrives.")
            % {"return": record.pk, "number": order.number},
        )

    def receive_return_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "shipping.receive_return")
        return_id = parse_id(request.POST.get("return"))
        record = order.returns.filter(pk=return_id).first() if return_id else None
        if record is None:
            messages.error(request, _("That return is not on order %(number)s.") % {"number": order.number})
            return self._order_page(request, order)
        outcomes = {line.pk: request.POST.get(f"outcome-{line.pk}", "") for line in record.lines.all()}
        return self._run(
            request,
            order,
            lambda: return_receive(return_record=record, actor=request.user, outcomes=outcomes),
            self._received_message,
        )

    @staticmethod
    def _received_message(record):
        text = _("Return #%(return)s received.") % {"return": record.pk}
        if record.refund is not None:
            text = "%s %s" % (
                text,
                _("A refund of %(currency)s %(amount)s is due.")
                % {
                    "currency": record.order.currency,
                    "amount": number_format(record.refund.amount, 2, force_grouping=True),
                },
            )
        return text

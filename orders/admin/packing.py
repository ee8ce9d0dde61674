"""The packing station: warehouse staff open an order by scanning its number, scan
every item, tick the manual steps and mark the order packed, by keyboard and scanner
alone.

Thin admin views over the services (order_scan, order_scan_undo, checklist_tick,
order_advance). Every change is a POST that redirects back to the station (GET), so
the counts live on the server: a reload or a second PC sees them.

What the one input does with a code while an order is open (also shown on the page):
a product barcode or SKU is scanned into the open order; otherwise, a code that is an
order number opens that order; anything else is refused as an unknown code. "+", "-"
and a step number are keyboard shortcuts handled by packing.js (advance, undo, tick).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from common.cleaning import parse_id
from inventory.exceptions import InventoryError
from inventory.selectors import product_for_code
from common.permissions import has_permission

from .. import services, workflow
from ..exceptions import WorkflowError
from ..models import Order, OrderChecklistItem, OrderLine, OrderStatus, shipment_model
from ..selectors import available_actions, checklist_progress, checklist_rows
from ..text import quoted_list

# Longer input is no order number, barcode or SKU (the columns hold at most 64).
CODE_MAX_LENGTH = 64


def _order_numbers(code):
    """Order numbers are stored upper-case ("SO-1001"); people type them any way."""
    return {code, code.upper()}


def _is_product_code(code):
    return product_for_code(code) is not None


def _station_order_queryset():
    """An order with everything the station shows, in a fixed number of queries."""
    Shipment = shipment_model()

    return Order.objects.select_related("customer", "warehouse").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("pk")),
        Prefetch("checklist_items", queryset=OrderChecklistItem.objects.select_related("done_by")),
        # Automatic steps a manager may add to Processing read the shipments.
        Prefetch("shipments", queryset=Shipment.objects.select_related("carrier")),
    )


class PackingStationAdminMixin:
    """Adds the packing station to the Order admin (list it before ModelAdmin)."""

    packing_station_template = "admin/orders/order/packing_station.html"
    packing_station_permission = "orders.scan_items"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        urls = [
            path("packing-station/", wrap(self.packing_station_view), name="%s_%s_packing_station" % info),
            path("packing-station/scan/", wrap(require_POST(self.packing_scan_view)), name="%s_%s_scan" % info),
            path(
                "packing-station/undo/",
                wrap(require_POST(self.packing_undo_view)),
                name="%s_%s_scan_undo" % info,
            ),
            path(
                "packing-station/tick/",
                wrap(require_POST(self.packing_tick_view)),
                name="%s_%s_packing_tick" % info,
            ),
            path(
                "packing-station/advance/",
                wrap(require_POST(self.packing_advance_view)),
                name="%s_%s_packing_advance" % info,
            ),
        ]
        return urls + super().get_urls()

    # --- helpers ----------------------------------------------------------------

    def has_packing_station_permission(self, request):
        return has_permission(request.user, self.packing_station_permission)

    def _require_station(self, request):
        if not self.has_packing_station_permission(request):
            raise PermissionDenied(_("You do not have permission to scan items."))

    def _station_url(self, order=None, **params):
        url = reverse("admin:%s_%s_packing_station" % (self.opts.app_label, self.opts.model_name))
        if order is not None:
            params = {"number": order.number, **params}
        return f"{url}?{urlencode(params)}" if params else url

    def _posted_order(self, request):
        pk = parse_id(request.POST.get("order"))
        return Order.objects.filter(pk=pk).first() if pk else None

    def _back_after_refusal(self, order):
        """Stay on the order while it can still be packed; otherwise wait for the next one."""
        if Order.objects.filter(pk=order.pk, status=OrderStatus.PROCESSING).exists():
            return HttpResponseRedirect(self._station_url(order))
        return HttpResponseRedirect(self._station_url())

    def _no_order(self, request):
        messages.error(request, _("That order no longer exists. Scan an order number."))
        return HttpResponseRedirect(self._station_url())

    # --- the station ------------------------------------------------------------

    def packing_station_view(self, request):
        self._require_station(request)
        number = (request.GET.get("number") or "").strip()
        order, refusal = None, ""
        if len(number) > CODE_MAX_LENGTH:
            refusal = _("That is not an order number. Scan the order number on the packing slip.")
        elif number:
            order = _station_order_queryset().filter(number__in=_order_numbers(number)).first()
            if order is None and _is_product_code(number):
                refusal = _(
                    "“%(code)s” is a product, not an order. Scan the order number on the packing slip first."
                ) % {"code": number}
            elif order is None:
                refusal = _("No order has the number “%(number)s”. Nothing was opened.") % {"number": number}
            elif order.status != OrderStatus.PROCESSING:
                refusal = _(
                    "Order %(number)s is %(status)s; only orders in Processing can be packed here. Nothing was changed."
                ) % {"number": order.number, "status": workflow.status_label(order.status)}
                order = None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Packing station"),
            "order": order,
            "refusal": refusal,
            "code_max_length": CODE_MAX_LENGTH,
            "scan_url": reverse("admin:%s_%s_scan" % (self.opts.app_label, self.opts.model_name)),
        }
        if order is not None:
            context.update(self._open_order_context(request, order))
        return TemplateResponse(request, self.packing_station_template, context)

    def _open_order_context(self, request, order):
        lines = list(order.lines.all())
        rows = checklist_rows(order)
        progress, ready = checklist_progress(rows)
        advance = next(action for action in available_actions(order, request.user, rows) if action["code"] == "advance")
        highlighted = parse_id(request.GET.get("line"))
        scanned = sum(line.quantity_scanned for line in lines)
        ordered = sum(line.quantity for line in lines)
        missing_manual = [
            item.display_label for item, done, _hint in rows if item.required and not done and not item.predicate
        ]
        if scanned < ordered:
            status_line = _("Scanned %(scanned)s of %(ordered)s items.") % {"scanned": scanned, "ordered": ordered}
            status_kind = "scanning"
        elif ready:
            status_line = _("All %(ordered)s items scanned and every step done: mark it packed (+).") % {
                "ordered": ordered
            }
            status_kind = "ready"
        else:
            status_line = _("All %(ordered)s items scanned. Still to do: %(steps)s.") % {
                "ordered": ordered,
                "steps": quoted_list(missing_manual) or _("the remaining steps"),
            }
            status_kind = "steps"
        return {
            "lines": lines,
            "highlighted_line": highlighted,
            "steps": [
                {"number": index, "item": item, "done": done, "hint": hint, "manual": not item.predicate}
                for index, (item, done, hint) in enumerate(rows, start=1)
            ],
            "progress": progress,
            "status_line": status_line,
            "status_kind": status_kind,
            "advance": advance,
            "can_tick": has_permission(request.user, "orders.tick_checklist"),
            "undo_url": reverse("admin:%s_%s_scan_undo" % (self.opts.app_label, self.opts.model_name)),
            "tick_url": reverse("admin:%s_%s_packing_tick" % (self.opts.app_label, self.opts.model_name)),
            "advance_url": reverse("admin:%s_%s_packing_advance" % (self.opts.app_label, self.opts.model_name)),
        }

    # --- actions (POST → redirect) --------------------------------------------------

    def _other_order_for(self, code, order):
        """The order a code opens instead of being scanned: it is an order number and
        no product's barcode or SKU."""
        if not code or len(code) > CODE_MAX_LENGTH:
            return None
        other = Order.objects.filter(number__in=_order_numbers(code)).only("pk", "number").first()
        if other is None or _is_product_code(code):
            return None
        return other

    def packing_scan_view(self, request):
        self._require_station(request)
        order = self._posted_order(request)
        if order is None:
            return self._no_order(request)
        code = (request.POST.get("code") or "").strip()
        other = self._other_order_for(code, order)
        if other is not None:
            if other.pk == order.pk:
                messages.info(request, _("Order %(number)s is open.") % {"number": order.number})
            return HttpResponseRedirect(self._station_url(other))
        try:
            line = services.order_scan(order=order, code=code, actor=request.user)
        except WorkflowError as refusal:
            if code:  # an empty Enter is no scan
                services.order_scan_refusal_record(order=order, code=code, reason=str(refusal), actor=request.user)
            messages.error(request, str(refusal))
            return self._back_after_refusal(order)
        messages.success(
            request,
            _("%(sku)s counted: %(scanned)s of %(quantity)s.")
            % {"sku": line.sku, "scanned": line.quantity_scanned, "quantity": line.quantity},
        )
        return HttpResponseRedirect(self._station_url(order, line=line.pk))

    def packing_undo_view(self, request):
        self._require_station(request)
        order = self._posted_order(request)
        if order is None:
            return self._no_order(request)
        try:
            line = services.order_scan_undo(order=order, actor=request.user)
        except WorkflowError as refusal:
            messages.error(request, str(refusal))
            return self._back_after_refusal(order)
        messages.warning(
            request,
            _("Last scan undone: %(sku)s is now %(scanned)s of %(quantity)s.")
            % {"sku": line.sku, "scanned": line.quantity_scanned, "quantity": line.quantity},
        )
        return HttpResponseRedirect(self._station_url(order, line=line.pk))

    def packing_tick_view(self, request):
        self._require_station(request)
        order = self._posted_order(request)
        if order is None:
            return self._no_order(request)
        item_id = parse_id(request.POST.get("item"))
        item = OrderChecklistItem.objects.filter(order=order, pk=item_id).first() if item_id else None
        if item is None:
            messages.error(request, _("That step is not on order %(number)s.") % {"number": order.number})
            return self._back_after_refusal(order)
        try:
            item = services.checklist_tick(item=item, actor=request.user)
        except WorkflowError as refusal:
            messages.error(request, str(refusal))
            return self._back_after_refusal(order)
        messages.success(request, _("“%(step)s” ticked.") % {"step": item.display_label})
        return HttpResponseRedirect(self._station_url(order))

    def packing_advance_view(self, request):
        self._require_station(request)
        order = self._posted_order(request)
        if order is None:
            return self._no_order(request)
        try:
            order = services.order_advance(order=order, actor=request.user, expected_status=OrderStatus.PROCESSING)
        except (WorkflowError, InventoryError) as refusal:
            messages.error(request, str(refusal))
            return self._back_after_refusal(order)
        messages.success(request, _("%(number)s packed. Scan the next order.") % {"number": order.number})
        return HttpResponseRedirect(self._station_url())

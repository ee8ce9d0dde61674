"""The packing station: warehouse staff open an order by scanning its number, scan
every item, tick the manual steps and mark the order packed, by keyboard and scanner
alone.

Thin admin views over the services (order_scan, order_scan_undo, checklist_tick,
order_advance). Every change is a POST, and the counts live on the server: a reload
or a second PC sees them. Without JavaScript each POST redirects back to the station
(GET) with a message. packing.js sends the same POSTs with fetch and asks for JSON
(Accept: application/json, or X-Requested-With: fetch): the answer is the message
and the new state of the order (its lines, the checklist, whether it can be marked
packed), read in a fixed number of queries without rendering the page, or the
address to go to when the station moves to another order (the message then waits
there, as after a redirect). A refusal is a JSON message too, never an error page.

What the one input does with a code while an order is open (also shown on the page):
a product barcode or SKU is scanned into the open order; otherwise, a code that is an
order number opens that order; anything else is refused as an unknown code. "+", "-"
and a step number are keyboard shortcuts handled by packing.js (advance, undo, tick).
"""

import time
from functools import wraps

from django.contrib import messages
from django.contrib.messages.utils import get_level_tags
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from common.cleaning import parse_id
from inventory.exceptions import InventoryError
from inventory.selectors import product_for_code
from common.permissions import has_permission
from common.text import labelled, person_name

from .. import services, workflow
from ..exceptions import WorkflowError
from ..models import Order, OrderChecklistItem, OrderLine, OrderStatus, shipment_model
from ..selectors import available_actions, checklist_progress, checklist_rows
from ..start_pages import station_queue
from ..text import quoted_list

# Longer input is no order number, barcode or SKU (the columns hold at most 64).
CODE_MAX_LENGTH = 64


def _order_numbers(code):
    """Order numbers are stored upper-case ("SO-1001"); people type them any way."""
    return {code, code.upper()}


def _is_product_code(code):
    return product_for_code(code) is not None


def _wants_json(request):
    """packing.js asks for JSON; a plain form (no JavaScript) gets a redirect."""
    if request.headers.get("X-Requested-With") == "fetch":
        return True
    return request.accepts("application/json") and not request.accepts("text/html")


def _station_order_queryset():
    """An order with everything the station shows, in a fixed number of queries."""
    Shipment = shipment_model()

    return Order.objects.select_related("customer", "warehouse").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("pk")),
        Prefetch("checklist_items", queryset=OrderChecklistItem.objects.select_related("done_by")),
        # Automatic steps a manager may add to Processing read the shipments.
        Prefetch("shipments", queryset=Shipment.objects.select_related("carrier").prefetch_related("lines")),
    )


def _state_order_queryset():
    """What the JSON answer reads of an order (no product or customer: the page
    already shows them), in a fixed number of queries: the order, its lines, its
    checklist items (with who ticked them) and its shipments (for the automatic
    steps)."""
    Shipment = shipment_model()

    return Order.objects.select_related("warehouse").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
        Prefetch("checklist_items", queryset=OrderChecklistItem.objects.select_related("done_by")),
        Prefetch("shipments", queryset=Shipment.objects.select_related("carrier").prefetch_related("lines")),
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
            path(
                "packing-station/scan/",
                wrap(require_POST(self._answering(self.packing_scan_view))),
                name="%s_%s_scan" % info,
            ),
            path(
                "packing-station/undo/",
                wrap(require_POST(self._answering(self.packing_undo_view))),
                name="%s_%s_scan_undo" % info,
            ),
            path(
                "packing-station/tick/",
                wrap(require_POST(self._answering(self.packing_tick_view))),
                name="%s_%s_packing_tick" % info,
            ),
            path(
                "packing-station/advance/",
                wrap(require_POST(self._answering(self.packing_advance_view))),
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
        else:  # waiting for an order: the first ones of the queue, under the scan box
            context.update(station_queue(request.user, timezone.now()))
        return TemplateResponse(request, self.packing_station_template, context)

    def _open_order_context(self, request, order):
        context = self._order_summary(request, order)
        context.update(
            {
                "highlighted_line": parse_id(request.GET.get("line")),
                "undo_url": reverse("admin:%s_%s_scan_undo" % (self.opts.app_label, self.opts.model_name)),
                "tick_url": reverse("admin:%s_%s_packing_tick" % (self.opts.app_label, self.opts.model_name)),
                "advance_url": reverse("admin:%s_%s_packing_advance" % (self.opts.app_label, self.opts.model_name)),
            }
        )
        return context

    def _order_summary(self, request, order):
        """What the station shows of an open order: the page's context, and (through
        _order_state) the JSON answer. Reads only what _station_order_queryset()
        prefetched, so its queries do not grow with the lines or steps."""
        lines = list(order.lines.all())
        rows = checklist_rows(order)
        progress, ready = checklist_progress(rows)
        # None for a role that may scan but never advance: the station then has no advance button.
        advance = next(
            (action for action in available_actions(order, request.user, rows) if action["code"] == "advance"), None
        )
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
            "scanned": scanned,
            "ordered": ordered,
            "steps": [
                {
                    "number": index,
                    "item": item,
                    "done": done,
                    "hint": hint,
                    "manual": not item.predicate,
                    "state_text": _step_state(item, done, hint),
                }
                for index, (item, done, hint) in enumerate(rows, start=1)
            ],
            "progress": progress,
            "ready": ready,
            "status_line": status_line,
            "status_kind": status_kind,
            "advance": advance,
            "can_tick": has_permission(request.user, "orders.tick_checklist"),
        }

    def _order_state(self, request, order, *, highlighted=None):
        """The open order as JSON: what packing.js needs to update the page in place."""
        summary = self._order_summary(request, order)
        advance = summary["advance"]
        return {
            "order": {"id": order.pk, "number": order.number, "status": order.status},
            "lines": [
                {
                    "id": line.pk,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "quantity_scanned": line.quantity_scanned,
                    "fully_scanned": line.fully_scanned,
                }
                for line in summary["lines"]
            ],
            "highlighted_line": highlighted,
            "scanned": summary["scanned"],
            "ordered": summary["ordered"],
            "fully_scanned": summary["scanned"] >= summary["ordered"],
            "status_line": summary["status_line"],
            "status_kind": summary["status_kind"],
            "progress": summary["progress"],
            "ready": summary["ready"],
            "can_advance": bool(advance and advance["enabled"]),
            "advance": advance
            and {"label": advance["label"], "enabled": advance["enabled"], "reason": advance["reason"]},
            "steps": [
                {
                    "id": step["item"].pk,
                    "number": step["number"],
                    "label": step["item"].display_label,
                    "required": step["item"].required,
                    "manual": step["manual"],
                    "done": step["done"],
                    "state_text": step["state_text"],
                    "can_tick": step["manual"] and not step["done"] and summary["can_tick"],
                }
                for step in summary["steps"]
            ],
        }

    # --- answers: a redirect with a message, or JSON for packing.js ------------------

    def _answering(self, view):
        """Wraps a station POST view: for a JSON caller, a refused permission is a JSON
        403 instead of the error page, and the answer says its server time."""

        @wraps(view)
        def answer(request, *args, **kwargs):
            if not _wants_json(request):
                return view(request, *args, **kwargs)
            started = time.perf_counter()
            try:
                response = view(request, *args, **kwargs)
            except PermissionDenied as refusal:
                response = JsonResponse(
                    {
                        "ok": False,
                        "message": {"text": str(refusal) or _("You do not have permission."), "level": "error"},
                        "state": None,
                        "redirect": None,
                    },
                    status=403,
                )
            response["Server-Timing"] = "app;dur=%.1f" % ((time.perf_counter() - started) * 1000)
            return response

        return answer

    def _reply(self, request, level, message, *, order=None, line=None, refused=False, go=None):
        """Answer a station POST.

        Stay on `order` (highlighting `line`), unless `go` names the station address
        to go to instead. After a refusal (`refused`), stay only while the order can
        still be packed. Without JavaScript: the message, then a redirect. For
        packing.js: JSON with the message and the order's new state, or the address
        to go to (where the message then waits, as after a redirect).
        """
        if not _wants_json(request):
            if message:
                messages.add_message(request, level, message)
            if go is not None:
                return HttpResponseRedirect(go)
            if refused:
                return self._back_after_refusal(order)
            return HttpResponseRedirect(self._station_url(order, **({"line": line.pk} if line else {})))
        state = None
        if go is None:
            fresh = _state_order_queryset().filter(pk=order.pk).first() if order is not None else None
            if fresh is not None and fresh.status == OrderStatus.PROCESSING:
                state = self._order_state(request, fresh, highlighted=line.pk if line else None)
            else:
                go = self._station_url()
        if go is not None and message:
            messages.add_message(request, level, message)
        return JsonResponse(
            {
                "ok": level < messages.ERROR,
                "message": {"text": message, "level": get_level_tags().get(level, "info")} if message else None,
                "state": state,
                "redirect": go,
            }
        )

    def _no_order(self, request):
        return self._reply(
            request, messages.ERROR, _("That order no longer exists. Scan an order number."), go=self._station_url()
        )

    # --- actions (POST → redirect, or JSON) -------------------------------------------

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
                opened = _("Order %(number)s is open.") % {"number": order.number}
                return self._reply(request, messages.INFO, opened, order=order)
            return self._reply(request, messages.INFO, "", go=self._station_url(other))
        try:
            line = services.order_scan(order=order, code=code, actor=request.user)
        except WorkflowError as refusal:
            if code:  # an empty Enter is no scan
                services.order_scan_refusal_record(order=order, code=code, reason=str(refusal), actor=request.user)
            return self._reply(request, messages.ERROR, str(refusal), order=order, refused=True)
        return self._reply(
            request,
            messages.SUCCESS,
            _("%(sku)s counted: %(scanned)s of %(quantity)s.")
            % {"sku": line.sku, "scanned": line.quantity_scanned, "quantity": line.quantity},
            order=order,
            line=line,
        )

    def packing_undo_view(self, request):
        self._require_station(request)
        order = self._posted_order(request)
        if order is None:
            return self._no_order(request)
        try:
            line = services.order_scan_undo(order=order, actor=request.user)
        except WorkflowError as refusal:
            return self._reply(request, messages.ERROR, str(refusal), order=order, refused=True)
        return self._reply(
            request,
            messages.WARNING,
            _("Last scan undone: %(sku)s is now %(scanned)s of %(quantity)s.")
            % {"sku": line.sku, "scanned": line.quantity_scanned, "quantity": line.quantity},
            order=order,
            line=line,
        )

    def packing_tick_view(self, request):
        self._require_station(request)
        order = self._posted_order(request)
        if order is None:
            return self._no_order(request)
        item_id = parse_id(request.POST.get("item"))
        item = OrderChecklistItem.objects.filter(order=order, pk=item_id).first() if item_id else None
        if item is None:
            return self._reply(
                request,
                messages.ERROR,
                _("That step is not on order %(number)s.") % {"number": order.number},
                order=order,
                refused=True,
            )
        try:
            item = services.checklist_tick(item=item, actor=request.user)
        except WorkflowError as refusal:
            return self._reply(request, messages.ERROR, str(refusal), order=order, refused=True)
        ticked = _("“%(step)s” ticked.") % {"step": item.display_label}
        return self._reply(request, messages.SUCCESS, ticked, order=order)

    def packing_advance_view(self, request):
        self._require_station(request)
        order = self._posted_order(request)
        if order is None:
            return self._no_order(request)
        try:
            order = services.order_advance(order=order, actor=request.user, expected_status=OrderStatus.PROCESSING)
        except (WorkflowError, InventoryError) as refusal:
            return self._reply(request, messages.ERROR, str(refusal), order=order, refused=True)
        return self._reply(
            request,
            messages.SUCCESS,
            _("%(number)s packed. Scan the next order.") % {"number": order.number},
            go=self._station_url(),
        )


def _step_state(item, done, hint):
    """The small text under a step: who ticked it, or what the automatic check says."""
    if done:
        if item.predicate:
            return "✓ " + _("passed automatically")
        if item.done_by:
            return "✓ " + _("ticked by %(user)s") % {"user": person_name(item.done_by)}
        return "✓ " + _("ticked")
    if item.predicate:
        return labelled(_("automatic"), hint) if hint else _("automatic")
    return ""

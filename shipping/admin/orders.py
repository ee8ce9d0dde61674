"""The shipping parts of the order admin: the shipment forms of the order page
(create a parcel with the quantity of each line it holds, mark one delivered, void
one), its return forms (order_returns.py) and the carrier filter of the order list.

The orders app never imports shipping (docs/architecture.md), so this app extends
the order admin instead: the Order admin is registered again with these parts mixed
in. The URL names stay the orders app's (admin:orders_order_create_shipment, ...).
"""

from django.contrib import admin, messages
from django.utils.translation import gettext as _

from common.cleaning import parse_id, parse_whole_number
from common.permissions import has_permission
from orders.admin import OrderAdmin
from orders.models import Order

from ..models import VOID_REASON_MAX_LENGTH, Carrier, Shipment
from ..services import (
    FINISHED,
    SHIPPABLE,
    carriers_serving,
    no_carrier_text,
    shipment_create,
    shipment_mark_delivered,
    shipment_void,
)
from .order_returns import OrderReturnsAdminMixin


class CarrierFilter(admin.SimpleListFilter):
    """Orders with a (not cancelled) shipment with the carrier."""

    title = _("carrier")
    parameter_name = "carrier"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Carrier.objects.order_by("name").values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        carrier_id = parse_id(value)
        if carrier_id is None:
            if not getattr(request, "_carrier_refused", False):  # the status chips filter again
                request._carrier_refused = True
                messages.warning(
                    request, _("“%(value)s” is not a carrier id; no order has that carrier.") % {"value": value[:20]}
                )
            return queryset.none()
        shipments = Shipment.objects.filter(carrier_id=carrier_id).exclude(status=Shipment.Status.CANCELLED)
        return queryset.filter(pk__in=shipments.values("order_id"))


class OrderShipmentsAdminMixin:
    """The order page's shipment forms (list it before OrderAdmin)."""

    order_actions = [
        *OrderAdmin.order_actions,
        ("create_shipment", False),
        ("shipment_delivered", False),
        ("void_shipment", False),
    ]
    _after = next(i for i, f in enumerate(OrderAdmin.list_filter) if isinstance(f, tuple) and f[0] == "warehouse") + 1
    list_filter = [*OrderAdmin.list_filter[:_after], CarrierFilter, *OrderAdmin.list_filter[_after:]]
    del _after

    def order_page_context(self, request, obj):
        context = super().order_page_context(request, obj)
        order = context["order"]
        may_ship = has_permission(request.user, "shipping.add_shipment")
        # The order page's lines and shipments are prefetched (order_for_page), each
        # shipment with its parcel lines: no query per parcel or line here.
        lines = list(order.lines.all())
        by_id = {line.pk: line for line in lines}
        in_parcels = {}
        for shipment in context["shipments"]:
            items = sorted(shipment.lines.all(), key=lambda item: item.order_line_id)
            shipment.parcel_lines = [{"line": by_id.get(item.order_line_id), "quantity": item.quantity} for item in items]
            if shipment.status != Shipment.Status.CANCELLED:
                for item in items:
                    in_parcels[item.order_line_id] = in_parcels.get(item.order_line_id, 0) + item.quantity
        # A refused shipment form comes back with its carrier chosen, its number and
        # its quantities typed.
        typed = context.get("typed", {}).get("create_shipment", {})
        parcel_form = []
        for line in lines:
            left = max(line.quantity - in_parcels.get(line.pk, 0), 0)
            parcel_form.append(
                {
                    "line": line,
                    "in_parcels": in_parcels.get(line.pk, 0),
                    "left": left,
                    "typed": typed.get(f"quantity-{line.pk}", str(left)),
                }
            )
        # Several parcels per order: the form shows while anything is left to put in one.
        can_ship = may_ship and order.status in SHIPPABLE and any(row["left"] for row in parcel_form)
        # Only the carriers that deliver this order (its method, and a store pickup's
        # chain), as shipment_create accepts them; none is said in words.
        carriers = carriers_serving(order) if can_ship else []
        no_carrier = no_carrier_text(order) if can_ship and not carriers else ""
        can_ship = can_ship and bool(carriers)
        typed_carrier_id = parse_id(typed.get("carrier"))
        context.update(
            {
                "carriers": carriers,
                "shipment_typed": {
                    "carrier": next((carrier for carrier in carriers if carrier.pk == typed_carrier_id), None),
                    "tracking_number": typed.get("tracking_number", ""),
                },
                "parcel_form": parcel_form,
                "void_typed": context.get("typed", {}).get("void_shipment", {}),
                "can_ship": can_ship,
                "no_carrier": no_carrier,
                "can_void_shipment": may_ship,
                "can_confirm_delivery": has_permission(request.user, "orders.advance_order")
                and order.status not in FINISHED,
                "void_reason_max_length": VOID_REASON_MAX_LENGTH,
            }
        )
        return context

    def _posted_parcel(self, request, order):
        """{order line id: quantity as typed} of the shipment form: a line left blank
        or at 0 is not in this parcel; anything else goes to shipment_create, which
        refuses what is not a whole number of at least 1, or more than is left. A post
        with no quantity field at all (a form without them) means everything left."""
        if not any(name.startswith("quantity-") for name in request.POST):
            return None
        parcel = {}
        for line in order.lines.all():
            typed = request.POST.get(f"quantity-{line.pk}", "").strip()
            if typed and parse_whole_number(typed, negative=True) != 0:
                parcel[line.pk] = typed
        return parcel

    def create_shipment_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "shipping.add_shipment")
        carrier_id = parse_id(request.POST.get("carrier"))
        carrier = Carrier.objects.filter(pk=carrier_id, is_active=True).first() if carrier_id else None
        if carrier is None:
            messages.error(request, _("Choose a carrier."))
            self._keep_typed(request, order)
            return self._order_page(request, order)
        return self._run(
            request,
            order,
            lambda: shipment_create(
                order=order,
                carrier=carrier,
                tracking_number=request.POST.get("tracking_number", ""),
                actor=request.user,
                lines=self._posted_parcel(request, order),
            ),
            lambda shipment: _("Shipment %(carrier)s %(number)s created.")
            % {"carrier": carrier.name, "number": shipment.tracking_number},
        )

    def _posted_shipment(self, request, order):
        """The order's shipment the form names, or None with a message saying so."""
        shipment_id = parse_id(request.POST.get("shipment"))
        shipment = order.shipments.filter(pk=shipment_id).first() if shipment_id else None
        if shipment is None:
            messages.error(request, _("That shipment is not on order %(number)s.") % {"number": order.number})
        return shipment

    def shipment_delivered_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "orders.advance_order")
        shipment = self._posted_shipment(request, order)
        if shipment is None:
            return self._order_page(request, order)
        return self._run(
            request,
            order,
            lambda: shipment_mark_delivered(shipment=shipment, actor=request.user),
            lambda s: _("Shipment %(number)s is marked delivered.") % {"number": s.tracking_number},
        )

    def void_shipment_view(self, request, object_id):
        order = self._order_or_404(request, object_id, "shipping.add_shipment")
        shipment = self._posted_shipment(request, order)
        if shipment is None:
            return self._order_page(request, order)
        return self._run(
            request,
            order,
            lambda: shipment_void(shipment=shipment, actor=request.user, reason=request.POST.get("reason", "")),
            lambda s: _("Shipment %(number)s is voided; the order can have a new one.") % {"number": s.tracking_number},
        )


class ShippingOrderAdmin(OrderShipmentsAdminMixin, OrderReturnsAdminMixin, OrderAdmin):
    pass


admin.site.unregister(Order)
admin.site.register(Order, ShippingOrderAdmin)

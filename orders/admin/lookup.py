"""The customer-service lookup: one search box for an order number, an e-mail, a
phone number written any way, a tracking number or part of a name, answered with
the matching customers and all their orders on one screen.

Read-only itself: each order's hold, resume, cancel, address, mark-paid and note
controls post to the order page's existing action views (admin_views.py) with a
`next` field, so the person comes back here, to the same search, afterwards.
"""

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from common.permissions import has_permission

from .. import workflow
from ..selectors import (
    LOOKUP_CUSTOMER_LIMIT,
    LOOKUP_ORDER_LIMIT,
    SEARCH_MAX_LENGTH,
    SearchTooLong,
    customer_lookup,
)
from ..services import REASON_MAX_LENGTH


def order_controls(order, perms):
    """What the lookup offers for one order, given the user's `perms` (a set of
    permission names): workflow.abilities(), as on the order page and in the services."""
    able = workflow.abilities(order, perms)
    return {key: able[key] for key in ("hold", "resume", "cancel", "already_shipped", "address", "mark_paid", "note")}


def control_labels():
    """The summary line of an order's actions, in the order they are shown."""
    return [
        ("hold", _("Put on hold")),
        ("resume", _("Resume")),
        ("cancel", _("Cancel")),
        ("address", _("Correct address")),
        ("mark_paid", _("Mark paid")),
        ("note", _("Add a note")),
    ]




class CustomerLookupAdminMixin:
    """Adds admin:orders_order_lookup to the Order admin (list it before ModelAdmin)."""

    lookup_template = "admin/orders/order/lookup.html"
    lookup_permission = "orders.view_order"
    lookup_customer_limit = LOOKUP_CUSTOMER_LIMIT
    lookup_order_limit = LOOKUP_ORDER_LIMIT

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        urls = [path("lookup/", self.admin_site.admin_view(self.lookup_view), name="%s_%s_lookup" % info)]
        return urls + super().get_urls()

    def has_lookup_permission(self, request):
        return has_permission(request.user, self.lookup_permission)

    def lookup_view(self, request):
        if not self.has_lookup_permission(request):
            raise PermissionDenied
        info = self.opts.app_label, self.opts.model_name
        term = request.GET.get("q", "").strip()
        too_long = ""
        result = None
        if term:
            try:
                result = customer_lookup(
                    term, customer_limit=self.lookup_customer_limit, order_limit=self.lookup_order_limit
                )
            except SearchTooLong as error:
                too_long = str(error)
        lookup_url = reverse("%s:%s_%s_lookup" % ((self.admin_site.name,) + info))
        perms = workflow.user_permissions(request.user)
        customers = []
        if result is not None:
            changelist = reverse("%s:%s_%s_changelist" % ((self.admin_site.name,) + info))
            labels = control_labels()
            # With one order on the screen, or the one the search named, its actions start open.
            single = len(result.customers) == 1 and len(result.customers[0].lookup_orders) == 1
            for customer in result.customers:
                customers.append(
                    {
                        "customer": customer,
                        "orders_url": f"{changelist}?{urlencode({'customer__id__exact': customer.pk})}",
                        "orders": [
                            self._lookup_row(order, perms, labels, result.matched_order_ids, single)
                            for order in customer.lookup_orders
                        ],
                    }
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Find a customer or order"),
            "subtitle": None,
            "opts": self.opts,
            "term": term[:SEARCH_MAX_LENGTH],
            "searched": bool(term) and not too_long,
            "too_long": too_long,
            "customers": customers,
            "more_customers": result.more_customers if result else False,
            "customer_limit": self.lookup_customer_limit,
            "max_length": SEARCH_MAX_LENGTH,
            "reason_max_length": REASON_MAX_LENGTH,
            # Where the action views send the person back to: this search, from the
            # top, so that the message about the action is in view.
            "back_url": f"{lookup_url}?{urlencode({'q': term})}",
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.lookup_template, context)

    def _lookup_row(self, order, perms, labels, matched_order_ids, single):
        controls = order_controls(order, perms)
        return {
            "order": order,
            "matched": order.pk in matched_order_ids,
            "open": single or order.pk in matched_order_ids,
            "latest_event": order.latest_events[0] if order.latest_events else None,
            "shipments": list(order.shipments.all()),
            "controls": controls,
            "has_controls": any(controls.values()),
            "control_labels": [label for code, label in labels if controls[code]],
        }

"""Pick lists and packing slips on the order admin: two GET views (printing changes
nothing) and the changelist actions that open them for the selected orders.

    class OrderAdmin(PrintablesAdminMixin, ..., admin.ModelAdmin): ...

Permission: shipping.print_documents (warehouse staff and managers).
"""

import re

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext
from django.utils.translation import npgettext

from .. import selectors

_ID = re.compile(r"\d{1,18}", re.ASCII)  # 18 digits stay inside a bigint

LAYOUTS = {
    # layout: (label, CSS @page size, @page margin)
    "a4": (gettext_lazy("A4"), "A4", "12mm"),
    "label": (gettext_lazy("Label 100 × 150 mm"), "100mm 150mm", "4mm"),
}
DEFAULT_LAYOUT = "a4"


class PrintRequestError(ValueError):
    pass


class PrintablesAdminMixin:
    print_permission = "shipping.print_documents"
    print_batch_limit = 500

    # --- hooks -------------------------------------------------------------------

    def has_print_documents_permission(self, request):
        return request.user.has_perm(self.print_permission)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "print/pick-list/",
                self.admin_site.admin_view(self.pick_list_view),
                name="%s_%s_pick_list" % info,
            ),
            path(
                "print/packing-slips/",
                self.admin_site.admin_view(self.packing_slips_view),
                name="%s_%s_packing_slips" % info,
            ),
        ] + super().get_urls()

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET or not self.has_print_documents_permission(request):
            return actions
        for name in ("print_pick_list", "print_packing_slips"):
            func, name, description = self.get_action(name)
            actions[name] = (func, name, description)
        return actions

    # --- actions -----------------------------------------------------------------

    @admin.action(permissions=["print_documents"], description=gettext_lazy("Print pick list"))
    def print_pick_list(self, request, queryset):
        return self._print_redirect(request, queryset, "pick_list")

    @admin.action(permissions=["print_documents"], description=gettext_lazy("Print packing slips"))
    def print_packing_slips(self, request, queryset):
        return self._print_redirect(request, queryset, "packing_slips")

    def _print_redirect(self, request, queryset, view):
        ids = list(queryset.order_by("number").values_list("pk", flat=True)[: self.print_batch_limit + 1])
        if len(ids) > self.print_batch_limit:
            self.message_user(request, self._too_many_message(), messages.ERROR)
            return None
        return HttpResponseRedirect(self._print_url(view, ids))

    # --- views -------------------------------------------------------------------

    def pick_list_view(self, request):
        order_ids, error = self._print_ids(request)
        if error:
            return error
        pick_list = selectors.pick_list(order_ids)
        if not pick_list.orders:
            return self._print_error(request, _("None of the selected orders exist."))
        self._warn_missing(request, pick_list.missing_ids)
        return TemplateResponse(
            request,
            "shipping/pick_list.html",
            self._print_context(
                request,
                title=_("Pick list"),
                pick_list=pick_list,
                packing_slips_url=self._print_url("packing_slips", [order.pk for order in pick_list.orders]),
            ),
        )

    def packing_slips_view(self, request):
        order_ids, error = self._print_ids(request)
        if error:
            return error
        layout = request.GET.get("layout") or DEFAULT_LAYOUT
        if layout not in LAYOUTS:
            messages.warning(
                request, _("There is no “%(layout)s” layout; showing A4.") % {"layout": layout[:20]}
            )
            layout = DEFAULT_LAYOUT
        orders = selectors.packing_slips(order_ids)
        found = {order.pk for order in orders}
        if not found:
            return self._print_error(request, _("None of the selected orders exist."))
        self._warn_missing(request, [pk for pk in order_ids if pk not in found])
        ids = [order.pk for order in orders]
        return TemplateResponse(
            request,
            "shipping/packing_slip.html",
            self._print_context(
                request,
                # A context keeps this plural apart from the template's singular "Packing slip".
                title=npgettext("page title", "Packing slip", "Packing slips", len(orders)),
                orders=orders,
                layout=layout,
                layouts=[
                    {"code": code, "label": label, "url": self._print_url("packing_slips", ids, layout=code)}
                    for code, (label, _size, _margin) in LAYOUTS.items()
                ],
                pick_list_url=self._print_url("pick_list", ids),
            ),
        )

    # --- helpers -----------------------------------------------------------------

    def _print_context(self, request, *, layout=DEFAULT_LAYOUT, **context):
        _label, page_size, page_margin = LAYOUTS[layout]
        return {
            **self.admin_site.each_context(request),
            # A printed document needs the whole width; the sidebar only gets in the way.
            "is_nav_sidebar_enabled": False,
            "opts": self.opts,
            "layout": layout,
            "page_size": page_size,
            "page_margin": page_margin,
            "printed_at": timezone.now(),
            "changelist_url": reverse("admin:%s_%s_changelist" % (self.opts.app_label, self.opts.model_name)),
            **context,
        }

    def _print_ids(self, request):
        """(order ids, None) from ?ids=1,2,3, or (None, a redirect with the reason)."""
        if not self.has_print_documents_permission(request):
            raise PermissionDenied
        try:
            return self._parse_ids(request.GET.get("ids", "")), None
        except PrintRequestError as error:
            return None, self._print_error(request, str(error))

    def _parse_ids(self, raw):
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not parts:
            raise PrintRequestError(_("Select the orders to print first."))
        bad = [part for part in parts if not _ID.fullmatch(part)]
        if bad:
            raise PrintRequestError(
                _("These are not order ids: %(ids)s.") % {"ids": ", ".join(part[:20] for part in bad[:5])}
            )
        ids = list(dict.fromkeys(int(part) for part in parts))
        if len(ids) > self.print_batch_limit:
            raise PrintRequestError(self._too_many_message())
        return ids

    def _too_many_message(self):
        return ngettext(
            "At most %(limit)s order can be printed at once; select fewer.",
            "At most %(limit)s orders can be printed at once; select fewer.",
            self.print_batch_limit,
        ) % {"limit": self.print_batch_limit}

    def _print_error(self, request, message):
        messages.error(request, message)
        return HttpResponseRedirect(reverse("admin:%s_%s_changelist" % (self.opts.app_label, self.opts.model_name)))

    def _warn_missing(self, request, missing_ids):
        if missing_ids:
            messages.warning(
                request,
                _("Not printed, no such order: %(ids)s.") % {"ids": ", ".join(str(pk) for pk in missing_ids[:20])},
            )

    def _print_url(self, view, ids, **params):
        url = reverse("admin:%s_%s_%s" % (self.opts.app_label, self.opts.model_name, view))
        query = "ids=" + ",".join(str(pk) for pk in ids)
        for key, value in params.items():
            query += f"&{key}={value}"
        return f"{url}?{query}"

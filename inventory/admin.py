"""Admin pages for stock. On-hand and reserved quantities are never edited here:
receipts and cycle counts have their own pages, which call the services."""

import functools

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, path, reverse
from django.utils.decorators import method_decorator
from django.utils.encoding import iri_to_uri
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from rangefilter.filters import DateRangeFilter

from common.admin import KeepHistoryAdminMixin, LabelledListEditableMixin, ReadOnlyAdminMixin
from common.cleaning import parse_id
from common.pagination import CappedChangeList, CappedListAdminMixin
from common.text import on_hand_change, person_name, signed_difference
from reports.admin.exports import ExportAdminMixin
from reports.admin.imports import ImportAdminMixin

from . import services
from .exceptions import InventoryError
from .filters import low_stock_q
from .forms import StockCountForm, StockLevelLocationForm, StockReceiveForm
from .models import Product, StaffWarehouse, StockLevel, StockMovement, Warehouse
from .selectors import SEARCH_MAX_LENGTH, SearchTooLong, movement_search

class GuardedChangeList(CappedChangeList):
    """CappedChangeList (count capped, page kept in range, deep pages by key, a
    message for a sort it leaves out) with the change page's URL resolved once."""

    def url_for_result(self, result):
        # Django's, with the change page's URL resolved once per list (object_url).
        return object_url(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            getattr(result, self.pk_attname),
            current_app=self.model_admin.admin_site.name,
        )


class GuardedListAdminMixin(CappedListAdminMixin):
    """For the stock and shipment lists: CappedListAdminMixin (common/pagination.py:
    capped count, pages kept in range, deep pages by key, no facets, only the filter
    parameters in `list_filter_params`, ids checked) with GuardedChangeList's message
    for a sort it leaves out. Declare `sortable_by` (the columns an index can sort by)."""

    def get_changelist(self, request, **kwargs):
        return GuardedChangeList


class StrictDateRangeFilter(DateRangeFilter):
    """A date range (from, to: both days included) that refuses a date it cannot read
    with a message and no rows, instead of silently listing everything. Instead of the
    admin's date hierarchy, whose year/month/day links are a DISTINCT over the dates of
    every row of the table."""

    def queryset(self, request, queryset):
        typed = any(self.used_parameters.get(name) for name in self.expected_parameters())
        if typed and not self.form.is_valid():
            messages.error(
                request,
                _("The date filter could not be read: enter dates as YYYY-MM-DD, for example 2026-11-01."),
            )
            return queryset.none()
        return super().queryset(request, queryset)


_PK = "__pk__"


@functools.lru_cache(maxsize=256)
def _object_url_template(viewname, current_app, script_prefix, urlconf):
    return reverse(viewname, args=[_PK], current_app=current_app, urlconf=urlconf)


def object_url(viewname, pk, *, current_app=None):
    """reverse(viewname, args=[pk]) for an admin object page (`<path:object_id>/…`),
    resolving the URL once per view, script prefix and urlconf rather than once per
    row: a list of 50 rows with two links each otherwise spends a fifth of its time
    in reverse()."""
    template = _object_url_template(viewname, current_app, get_script_prefix(), get_urlconf())
    return template.replace(_PK, iri_to_uri(quote(str(pk))), 1)


def order_admin_link(order):
    if order is None:
        return "—"
    try:
        url = object_url("admin:orders_order_change", order.pk)
    except NoReverseMatch:
        return order.number
    return format_html('<a href="{}">{}</a>', url, order.number)


class StockFormViewsMixin:
    """Receive stock and cycle count: a form page each (GET shows it, POST calls
    the service). Named admin:inventory_stocklevel_receive / _count."""

    stock_form_template = "admin/inventory/stocklevel/stock_form.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("receive/", wrap(self.receive_view), name="%s_%s_receive" % info),
            path("count/", wrap(self.count_view), name="%s_%s_count" % info),
        ] + super().get_urls()

    def stock_actions(self, request, **prefill):
        """The stock pages this user may open, as (label, url), prefilled with e.g. product=."""
        query = f"?{urlencode({k: v.pk for k, v in prefill.items() if v is not None})}" if prefill else ""
        actions = []
        if request.user.has_perm("inventory.receive_stock"):
            actions.append((_("Receive stock"), reverse("admin:inventory_stocklevel_receive") + query))
        if request.user.has_perm("inventory.count_stock"):
            actions.append((_("Cycle count"), reverse("admin:inventory_stocklevel_count") + query))
        return actions

    @staticmethod
    def _initial(request):
        """The prefill from a product or stock row's link (?product=&warehouse=, ids).
        A value that names no product or active warehouse is left out, with a warning,
        and the form opens without it."""
        initial = {}
        if request.GET.get("product"):
            product_id = parse_id(request.GET["product"])
            product = Product.objects.filter(pk=product_id).first() if product_id else None
            if product is None:
                messages.warning(request, _("The product in the link does not exist: type or scan it below."))
            else:
                initial["product"] = product.sku
        if request.GET.get("warehouse"):
            warehouse_id = parse_id(request.GET["warehouse"])
            if warehouse_id and Warehouse.objects.filter(pk=warehouse_id, is_active=True).exists():
                initial["warehouse"] = warehouse_id
            else:
                messages.warning(request, _("The warehouse in the link is not an active one: choose it below."))
        return initial

    def _stock_form_view(self, request, *, form_class, permission, service, title, done):
        if not request.user.has_perm(permission):
            raise PermissionDenied
        if request.method == "POST":
            form = form_class(request.POST)
            if form.is_valid():
                try:
                    level = service(**form.service_kwargs(), actor=request.user)
                except InventoryError as error:
                    messages.error(request, str(error))
                else:
                    messages.success(request, done(form.cleaned_data, level))
                    changelist = reverse("admin:inventory_stocklevel_changelist")
                    return HttpResponseRedirect(
                        f"{changelist}?{urlencode({'product__id__exact': level.product_id})}"
                    )
            else:
                messages.error(request, _("Nothing was changed: correct the errors below."))
        else:
            form = form_class(initial=self._initial(request))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.stock_form_template, context)

    @method_decorator(require_http_methods(["GET", "POST"]))
    def receive_view(self, request):
        return self._stock_form_view(
            request,
            form_class=StockReceiveForm,
            permission="inventory.receive_stock",
            service=services.stock_receive,
            title=_("Receive stock"),
            done=lambda data, level: _(
                "Received %(quantity)s × %(sku)s in %(warehouse)s; on hand is now %(on_hand)s."
            )
            % {
                "quantity": data["quantity"],
                "sku": data["product"].sku,
                "warehouse": data["warehouse"].code,
                "on_hand": level.on_hand,
            },
        )

    @method_decorator(require_http_methods(["GET", "POST"]))
    def count_view(self, request):
        return self._stock_form_view(
            request,
            form_class=StockCountForm,
            permission="inventory.count_stock",
            service=services.stock_count,
            title=_("Cycle count"),
            done=lambda data, level: _("Counted %(sku)s in %(warehouse)s: %(change)s.")
            % {
                "sku": data["product"].sku,
                "warehouse": data["warehouse"].code,
                "change": on_hand_change(level.on_hand_before, level.on_hand),
            },
        )


@admin.register(Warehouse)
class WarehouseAdmin(KeepHistoryAdminMixin, LabelledListEditableMixin, ImportAdminMixin, ExportAdminMixin, admin.ModelAdmin):
    export_kind = "warehouses"
    import_kind = "warehouses"
    export_filter_params = {"is_active__exact": "is_active"}
    list_display = ["code", "name", "priority", "is_active"]
    list_editable = ["priority", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(StaffWarehouse)
class StaffWarehouseAdmin(admin.ModelAdmin):
    """Which warehouse each member of staff packs for (their start page's queue)."""

    list_display = ["user", "user_full_name", "warehouse"]
    list_filter = ["warehouse"]
    list_select_related = ["user", "warehouse"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]

    @admin.display(description=gettext_lazy("name"), ordering="user__last_name")
    def user_full_name(self, obj):
        return person_name(obj.user)  # as everywhere else a person is shown

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(is_staff=True, is_active=True).order_by(
                "username"
            )
        elif db_field.name == "warehouse":
            kwargs["queryset"] = Warehouse.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class LowStockFilter(admin.SimpleListFilter):
    title = gettext_lazy("stock")
    parameter_name = "low"

    def lookups(self, request, model_admin):
        return [("yes", gettext_lazy("Low stock")), ("no", gettext_lazy("Enough stock"))]

    def queryset(self, request, queryset):
        low = low_stock_q()  # the rule the exports and the managers' dashboard use too
        if self.value() == "yes":
            return queryset.filter(low)
        if self.value() == "no":
            return queryset.exclude(low)
        return queryset


@admin.register(StockLevel)
class StockLevelAdmin(
    ImportAdminMixin, ExportAdminMixin, StockFormViewsMixin, GuardedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    export_kind = "stock"
    import_kind = "stock"
    export_filter_params = {"warehouse__id__exact": "warehouse", "low": "low"}
    # The list's filters, and the product's rows (where the receive and count pages
    # send staff back to); any other parameter is refused with a message.
    list_filter_params = {"warehouse__id__exact", "low", "product__id__exact"}
    list_id_params = {"warehouse__id__exact": gettext_lazy("warehouse"), "product__id__exact": gettext_lazy("product")}
    list_per_page = 50  # as the order list: rendering the rows is most of a page's time
    list_display = ["product_sku", "product_name", "warehouse", "location", "on_hand", "reserved", "available", "low_stock"]
    list_select_related = ["product", "warehouse"]
    list_filter = ["warehouse", LowStockFilter]
    search_fields = ["product__sku", "product__name", "=product__barcode"]
    search_help_text = gettext_lazy("SKU, product name or barcode.")
    # Only the bin location is edited here (by managers); the quantities change
    # through receipts and counts.
    form = StockLevelLocationForm
    fields = ["product", "warehouse", "location", "on_hand", "reserved"]

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("inventory.change_stocklevel")

    def get_readonly_fields(self, request, obj=None):
        readonly = ["product", "warehouse", "on_hand", "reserved"]
        return readonly if self.has_change_permission(request, obj) else [*readonly, "location"]

    def save_model(self, request, obj, form, change):
        # The form has checked the location already; the service saves it (and would
        # refuse an actor without the permission).
        services.stock_location_set(
            product=obj.product, warehouse=obj.warehouse, location=form.cleaned_data["location"], actor=request.user
        )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(available_quantity=F("on_hand") - F("reserved"))

    def get_list_display(self, request):
        if not (request.user.has_perm("inventory.receive_stock") or request.user.has_perm("inventory.count_stock")):
            return self.list_display

        # Per-row links prefilled with the row's product and warehouse.
        @admin.display(description=_("Stock"))
        def stock_links(level):
            return format_html_join(
                " · ",
                '<a href="{}">{}</a>',
                (
                    (url, label)
                    for label, url in self.stock_actions(request, product=level.product, warehouse=level.warehouse)
                ),
            )

        return [*self.list_display, stock_links]

    @admin.display(description=gettext_lazy("SKU"), ordering="product__sku")
    def product_sku(self, level):
        return level.product.sku

    @admin.display(description=gettext_lazy("product"), ordering="product__name")
    def product_name(self, level):
        return level.product.name

    @admin.display(description=gettext_lazy("available"), ordering="available_quantity")
    def available(self, level):
        return level.available

    @admin.display(description=gettext_lazy("low stock"))
    def low_stock(self, level):
        # Only the rows that need attention are marked; a column of red crosses
        # for "not low" would shout at every healthy row.
        if level.available > level.product.low_stock_threshold:
            return ""
        return format_html(
            '<strong class="low-stock" style="color: var(--error-fg, #ba2121)">{}</strong>',
            _("Low (≤ %(threshold)s)") % {"threshold": level.product.low_stock_threshold},
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "stock_actions": self.stock_actions(request)}
        return super().changelist_view(request, extra_context)


def _stock_total(expression):
    """The sum of `expression` over a product's stock levels (0 when it has none), as
    a subquery correlated with the product row."""
    levels = StockLevel.objects.filter(product=OuterRef("pk")).order_by().values("product")
    return Coalesce(Subquery(levels.annotate(total=Sum(expression)).values("total")[:1]), 0)


@admin.register(Product)
class ProductAdmin(KeepHistoryAdminMixin, ImportAdminMixin, ExportAdminMixin, GuardedListAdminMixin, admin.ModelAdmin):
    export_kind = "products"
    import_kind = "products"
    export_filter_params = {"is_active__exact": "is_active"}
    list_display = ["sku", "name", "barcode", "weight_grams", "low_stock_threshold", "on_hand", "available", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["sku", "name", "=barcode"]
    search_help_text = gettext_lazy("SKU, name or barcode.")
    list_filter_params = {"is_active__exact"}
    list_per_page = 50  # as the order list: rendering the rows is most of a page's time
    fields = ["sku", "name", "barcode", "weight_grams", "low_stock_threshold", "is_active", "stock"]
    readonly_fields = ["stock"]

    def get_queryset(self, request):
        # The totals are one subquery each per row (through the product/warehouse
        # unique index), which PostgreSQL evaluates for the page's rows only: a
        # GROUP BY over the join would add up the stock of every product first.
        return super().get_queryset(request).annotate(
            on_hand_total=_stock_total(F("on_hand")),
            reserved_total=_stock_total(F("reserved")),
            available_total=_stock_total(F("on_hand") - F("reserved")),
        )

    @admin.display(description=gettext_lazy("on hand"), ordering="on_hand_total")
    def on_hand(self, product):
        return product.on_hand_total

    @admin.display(description=gettext_lazy("available"), ordering="available_total")
    def available(self, product):
        return product.available_total

    @admin.display(description=gettext_lazy("stock per warehouse"))
    def stock(self, product):
        if product.pk is None:
            return "—"
        levels = product.stock_levels.select_related("warehouse").order_by("warehouse__priority", "warehouse__code")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((level.warehouse.code, level.on_hand, level.reserved, level.available) for level in levels),
        )
        if not rows:
            return _("No stock anywhere yet.")
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("warehouse"),
            _("on hand"),
            _("reserved"),
            _("available"),
            rows,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        stock_admin = self.admin_site._registry.get(StockLevel)
        product_id = parse_id(object_id)
        product = Product(pk=product_id) if product_id else None
        actions = stock_admin.stock_actions(request, product=product) if stock_admin and product else []
        if product is not None and stock_admin.has_view_permission(request):
            changelist = reverse("admin:inventory_stocklevel_changelist")
            actions.append((_("Stock levels"), f"{changelist}?{urlencode({'product__id__exact': product.pk})}"))
        extra_context = {**(extra_context or {}), "stock_actions": actions}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(StockMovement)
class StockMovementAdmin(ExportAdminMixin, GuardedListAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The stock ledger: append-only, written by the services. It grows without end,
    so every way of listing it is served by an index (StockMovement.Meta.indexes):
    newest first, by kind, by warehouse, by date range, by product and by order."""

    export_kind = "movements"
    export_filter_params = {
        "kind__exact": "kind",
        "warehouse__id__exact": "warehouse",
        "created_at__range__gte": "since",
        "created_at__range__lte": "until",
    }

    list_display = ["created_at", "kind", "product_sku", "warehouse_code", "on_hand_change", "reserved_change", "order_link", "actor", "note"]
    list_select_related = ["product", "warehouse", "order", "actor"]
    # A date range rather than a date hierarchy: the hierarchy's links are a DISTINCT
    # over the dates of the whole ledger.
    list_filter = ["kind", "warehouse", ("created_at", StrictDateRangeFilter)]
    # The list's filters, and links from a product or an order (the ledger's product
    # and order indexes); any other parameter is refused with a message.
    list_filter_params = {
        "kind__exact", "warehouse__id__exact", "created_at__range__gte", "created_at__range__lte",
        "product__id__exact", "order__id__exact",
    }  # fmt: skip
    list_id_params = {
        "warehouse__id__exact": gettext_lazy("warehouse"),
        "product__id__exact": gettext_lazy("product"),
        "order__id__exact": gettext_lazy("order"),
    }
    sortable_by = ["created_at"]  # any other column would sort the whole ledger
    list_per_page = 50  # as the order list: rendering the rows is most of a page's time
    search_fields = ["product__sku", "order__number"]  # see get_search_results
    search_help_text = gettext_lazy("Exact SKU, barcode or order number.")
    fields = ["created_at", "kind", "product", "warehouse", "on_hand_delta", "reserved_delta", "order", "actor", "note"]

    def get_search_results(self, request, queryset, search_term):
        # Exact identifiers only: the ledger grows without end, and these are indexed.
        try:
            return movement_search(queryset, search_term), False
        except SearchTooLong:
            messages.warning(
                request, _("The search is too long (at most %(max)s characters).") % {"max": SEARCH_MAX_LENGTH}
            )
            return queryset.none(), False

    @admin.display(description=gettext_lazy("SKU"), ordering="product__sku")
    def product_sku(self, movement):
        return movement.product.sku

    @admin.display(description=gettext_lazy("warehouse"), ordering="warehouse__code")
    def warehouse_code(self, movement):
        return movement.warehouse.code

    @admin.display(description=gettext_lazy("on-hand change"))
    def on_hand_change(self, movement):
        # "±0" says a count found what was on hand; other kinds leave on hand as it was.
        if movement.on_hand_delta or movement.kind == StockMovement.Kind.COUNT:
            return signed_difference(movement.on_hand_delta)
        return "0"

    @admin.display(description=gettext_lazy("reserved change"))
    def reserved_change(self, movement):
        return signed_difference(movement.reserved_delta) if movement.reserved_delta else "0"

    @admin.display(description=gettext_lazy("order"))
    def order_link(self, movement):
        return order_admin_link(movement.order)

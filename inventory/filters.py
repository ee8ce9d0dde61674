"""Which stock rows a report covers (the admin export and `export_csv`)."""

import django_filters
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from reports.filters import PeriodFilterSet, ReportForm

from .models import Product, StockLevel, StockMovement, Warehouse

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def low_stock_q(prefix=""):
    """Stock levels whose available quantity (on hand − reserved) is at or below
    the product's low-stock threshold: the one rule for "low stock"."""
    return Q(**{f"{prefix}on_hand__lte": F(f"{prefix}reserved") + F(f"{prefix}product__low_stock_threshold")})


class StockLevelReportFilter(django_filters.FilterSet):
    warehouse = django_filters.ModelChoiceFilter(label=_("warehouse"), queryset=Warehouse.objects.all())
    low = django_filters.ChoiceFilter(label=_("low stock"), choices=YES_NO, method="filter_low")

    class Meta:
        model = StockLevel
        fields = []
        form = ReportForm

    def filter_low(self, queryset, name, value):
        return queryset.filter(low_stock_q()) if value == "yes" else queryset.exclude(low_stock_q())


class MovementReportFilter(PeriodFilterSet):
    """Ledger rows by kind (receipt, count, reserve, …), date and warehouse."""

    date_field = "created_at"

    kind = django_filters.ChoiceFilter(label=_("kind"), choices=StockMovement.Kind.choices)
    warehouse = django_filters.ModelChoiceFilter(label=_("warehouse"), queryset=Warehouse.objects.all())

    class Meta(PeriodFilterSet.Meta):
        model = StockMovement
        fields = []


class ActiveReportFilter(django_filters.FilterSet):
    """Rows by whether they are active (products, warehouses)."""

    is_active = django_filters.ChoiceFilter(label=_("active"), choices=YES_NO, method="filter_active")

    class Meta:
        fields = []
        form = ReportForm

    def filter_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "yes")


class ProductReportFilter(ActiveReportFilter):
    class Meta(ActiveReportFilter.Meta):
        model = Product


class WarehouseReportFilter(ActiveReportFilter):
    class Meta(ActiveReportFilter.Meta):
        model = Warehouse

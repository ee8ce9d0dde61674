"""List filters and per-request helpers of the order list."""

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rangefilter.filters import DateRangeFilter

from ..filters import overdue_q  # noqa: F401  (the one definition, shared with reports)
from ..models import StatusTarget
from ..text import human_duration  # noqa: F401  (the list and the dashboard import it from here)


def status_targets(request):
    """{status: timedelta} from StatusTarget, loaded once per request."""
    targets = getattr(request, "_order_status_targets", None)
    if targets is None:
        targets = {
            status: timedelta(hours=hours)
            for status, hours in StatusTarget.objects.values_list("status", "target_hours")
        }
        request._order_status_targets = targets
    return targets


class WarehouseFilter(admin.RelatedFieldListFilter):
    """The warehouse filter, whose empty choice says what it means: an order gets
    its warehouse when processing starts (the admin's own label is "-")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty_value_display = _("No warehouse yet")


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Past the target time")), ("no", _("Within the target time"))]

    def queryset(self, request, queryset):
        if self.value() not in {"yes", "no"}:
            return queryset
        q = overdue_q(status_targets(request), timezone.now())
        if q is None:
            return queryset.none() if self.value() == "yes" else queryset
        return queryset.filter(q) if self.value() == "yes" else queryset.exclude(q)


class StrictDateRangeFilter(DateRangeFilter):
    """The placed-date range, refusing a date it cannot read (2026/11/01 in
    English) with a message and no rows, instead of silently listing every order."""

    def queryset(self, request, queryset):
        typed = any(self.used_parameters.get(name) for name in self.expected_parameters())
        if typed and not self.form.is_valid():
            if not getattr(request, "_order_date_refused", False):  # the status chips filter again
                request._order_date_refused = True
                messages.error(
                    request,
                    gettext("The date filter could not be read: enter dates as YYYY-MM-DD, for example 2026-11-01."),
                )
            return queryset.none()
        return super().queryset(request, queryset)

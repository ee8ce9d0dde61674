"""The managers' dashboard (admin:orders_order_dashboard): where orders get stuck,
for a period and a warehouse, with each table downloadable as CSV
(admin:orders_order_dashboard_download).

Thin: the figures are read by orders.dashboard; this module turns them into the
page and the CSV files. Only users with orders.view_dashboard see either.
"""

import csv

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from common.permissions import has_permission
from reports.neutralise import neutralise

from .. import charts, dashboard
from .filters import human_duration
from ..models import status_label


def _hours(delta):
    """Hours as a number a spreadsheet can sum (blank when there is none)."""
    return "" if delta is None else round(delta.total_seconds() / 3600, 2)


def _percent(share):
    return "" if share is None else round(share * 100, 1)


def _local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _or_blank(value):
    return "" if value is None else value


# --- the tables, as CSV ----------------------------------------------------------------
# Each builds (header, rows) for one table of the page, reading only that table.


def _states_csv(scope, now):
    header = [_("status"), _("orders"), _("past the target time"), _("target (hours)")]
    rows = [
        [str(row["label"]), row["orders"], _or_blank(row["overdue"]), _hours(row["target"])]
        for row in dashboard.state_counts(scope, now)
    ]
    return header, rows


def _stays_csv(scope, now):
    header = [_("status"), _("stays ended in the period"), _("median (hours)"), _("90th percentile (hours)")]
    rows = [
        [str(row["label"]), row["stays"], _hours(row["median"]), _hours(row["p90"])]
        for row in dashboard.stay_times(scope)
    ]
    return header, rows


def _daily_csv(scope, now):
    header = [_("date"), _("orders placed"), _("orders shipped")]
    rows = [[row["day"].isoformat(), row["placed"], row["shipped"]] for row in dashboard.daily_orders(scope)]
    return header, rows


def rate_rows(rates):
    """The three rates with what each counts, out of what (shared by page and CSV)."""
    return [
        {
            "label": _("Cancellation rate"),
            "count": rates["cancelled"],
            "base": rates["placed"],
            "share": rates["cancellation_rate"],
            "detail": _("%(count)s of %(base)s orders placed") % {"count": rates["cancelled"], "base": rates["placed"]},
            "definition": _(
                "Orders placed in the period that are now cancelled, out of every order placed in the period."
            ),
        },
        {
            "label": _("Return rate"),
            "count": rates["returned"],
            "base": rates["left_warehouse"],
            "share": rates["return_rate"],
            "detail": _("%(count)s of %(base)s orders that left the warehouse")
            % {"count": rates["returned"], "base": rates["left_warehouse"]},
            "definition": _(
                "Orders placed in the period that are now returned, out of those placed in the period that have "
                "left the warehouse (shipped, delivered, completed or returned): only those can come back."
            ),
        },
        {
            "label": _("Refused scans"),
            "count": rates["refused"],
            "base": rates["scans"],
            "share": rates["refused_share"],
            "detail": _("%(count)s of %(base)s scans") % {"count": rates["refused"], "base": rates["scans"]},
            "definition": _(
                "Codes the packing station refused in the period (unknown, not in the order, or one too many), "
                "out of every code scanned there."
            ),
        },
    ]


def _rates_csv(scope, now):
    rates = dashboard.rates(dashboard.daily_orders(scope), dashboard.scan_counts(scope))
    header = [_("measure"), _("count"), _("out of"), _("rate (%)"), _("definition")]
    rows = [
        [row["label"], row["count"], row["base"], _percent(row["share"]), row["definition"]]
        for row in rate_rows(rates)
    ]
    return header, rows


def _oldest_csv(scope, now):
    header = [
        _("order number"),
        _("status"),
        _("placed"),
        _("in status since"),
        _("time in state (hours)"),
        _("warehouse"),
    ]
    rows = [
        [
            row["number"],
            str(status_label(row["status"])),
            _local(row["placed_at"]),
            _local(row["status_changed_at"]),
            _hours(now - row["status_changed_at"]),
            row["warehouse__code"] or "",
        ]
        for row in dashboard.oldest_open(scope)
    ]
    return header, rows


def _low_stock_csv(scope, now):
    header = [
        _("SKU"),
        _("product"),
        _("warehouse"),
        _("on hand"),
        _("reserved"),
        _("available"),
        _("low-stock threshold"),
    ]
    rows = [
        [
            row["product__sku"],
            row["product__name"],
            row["warehouse__code"],
            row["on_hand"],
            row["reserved"],
            row["available"],
            row["product__low_stock_threshold"],
        ]
        for row in dashboard.low_stock(scope, limit=None)
    ]
    return header, rows


DOWNLOADS = {
    "states": _states_csv,
    "stays": _stays_csv,
    "daily": _daily_csv,
    "rates": _rates_csv,
    "oldest": _oldest_csv,
    "low_stock": _low_stock_csv,
}


def csv_response(filename, header, rows):
    """UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; every
    cell neutralised, so a product name typed as a formula stays text."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([neutralise(str(cell)) for cell in header])
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return response


class DashboardAdminMixin:
    """Adds the managers' dashboard to the Order admin (list it before ModelAdmin)."""

    dashboard_template = "admin/orders/order/dashboard.html"
    dashboard_permission = "orders.view_dashboard"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        urls = [
            path("dashboard/", wrap(self.dashboard_view), name="%s_%s_dashboard" % info),
            path(
                "dashboard/download/<slug:table>/",
                wrap(self.dashboard_download_view),
                name="%s_%s_dashboard_download" % info,
            ),
        ]
        return urls + super().get_urls()

    def _require_dashboard(self, request):
        if not has_permission(request.user, self.dashboard_permission):
            raise PermissionDenied(_("You do not have permission to see the managers' dashboard."))

    def _dashboard_url(self, name, **kwargs):
        return reverse("admin:%s_%s_%s" % (self.opts.app_label, self.opts.model_name, name), kwargs=kwargs)

    def dashboard_download_view(self, request, table):
        self._require_dashboard(request)
        build = DOWNLOADS.get(table)
        if build is None:
            raise Http404(_("There is no such table on the dashboard."))
        _filterset, scope = dashboard.dashboard_scope(request.GET)
        if scope is None:  # the page shows what is wrong with the filters
            return HttpResponseRedirect(f"{self._dashboard_url('dashboard')}?{request.GET.urlencode()}")
        header, rows = build(scope, timezone.now())
        return csv_response(f"dashboard-{table}-{scope.since}-{scope.until}.csv", header, rows)

    def dashboard_view(self, request):
        self._require_dashboard(request)
        filterset, scope = dashboard.dashboard_scope(request.GET)
        query = urlencode({name: request.GET[name] for name in dashboard.FILTER_FIELDS if request.GET.get(name)})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Managers' dashboard"),
            "fields": [filterset.form[name] for name in dashboard.FILTER_FIELDS],
            "form_errors": scope is None,
            "downloads": {
                table: f"{self._dashboard_url('dashboard_download', table=table)}?{query}" for table in DOWNLOADS
            },
        }
        if scope is not None:
            context.update(self._figures_context(scope, timezone.now()))
        return TemplateResponse(request, self.dashboard_template, context)

    def _figures_context(self, scope, now):
        figures = dashboard.dashboard(scope, now)
        orders_url = reverse("admin:orders_order_changelist")
        stock_url = reverse("admin:inventory_stocklevel_changelist")
        narrow = {"warehouse__id__exact": scope.warehouse.pk} if scope.warehouse else {}
        for row in figures.states:
            in_state = {"status__exact": row["status"], **narrow}
            row["url"] = f"{orders_url}?{urlencode(in_state)}"
            row["overdue_url"] = f"{orders_url}?{urlencode({**in_state, 'overdue': 'yes'})}"
        for row in figures.stays or ():
            row["median_text"] = human_duration(row["median"]) if row["stays"] else "—"
            row["p90_text"] = human_duration(row["p90"]) if row["stays"] else "—"
        targets = {row["status"]: row["target"] for row in figures.states}
        for row in figures.oldest:
            age = now - row["status_changed_at"]
            target = targets.get(row["status"])
            row.update(
                url=reverse("admin:orders_order_change", args=[row["pk"]]),
                label=status_label(row["status"]),
                age=human_duration(age),
                overdue=target is not None and age > target,
            )
        low_stock = figures.low_stock[: dashboard.LOW_STOCK_LIMIT]
        rates = None if figures.rates is None else rate_rows(figures.rates)
        for row in rates or ():
            row["value"] = "—" if row["share"] is None else f"{number_format(row['share'] * 100, 1)}%"
        return {
            "scope": scope,
            "figures": figures,
            "period_max_age": int(dashboard.PERIOD_MAX_AGE.total_seconds() // 60),
            "rates": rates,
            "chart": None if figures.daily is None else self._daily_chart(scope, figures.daily),
            "low_stock": low_stock,
            "more_low_stock": len(figures.low_stock) > len(low_stock),
            "low_stock_url": f"{stock_url}?{urlencode({'low': 'yes', **narrow})}",
        }

    def _daily_chart(self, scope, daily):
        placed = [row["placed"] for row in daily]
        shipped = [row["shipped"] for row in daily]
        description = _(
            "From %(since)s to %(until)s. Orders placed: %(placed)s (at most %(placed_max)s in a day). "
            "Orders shipped: %(shipped)s (at most %(shipped_max)s in a day)."
        ) % {
            "since": scope.since.isoformat(),
            "until": scope.until.isoformat(),
            "placed": sum(placed),
            "placed_max": max(placed, default=0),
            "shipped": sum(shipped),
            "shipped_max": max(shipped, default=0),
        }
        return charts.bar_chart(
            chart_id="dashboard-daily-chart",
            title=_("Orders placed and shipped per day"),
            description=description,
            categories=[row["day"].isoformat() for row in daily],
            axis_labels=[date_format(row["day"], "MONTH_DAY_FORMAT") for row in daily],
            series=[
                charts.Series(_("Orders placed"), placed, "chart__bar chart__bar--placed"),
                charts.Series(_("Orders shipped"), shipped, "chart__bar chart__bar--shipped"),
            ],
        )

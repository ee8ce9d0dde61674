"""Reads for the managers' dashboard: where orders get stuck.

Every figure is answered by the database in one aggregate query (GROUP BY,
conditional counts, window functions), so the page runs the same number of queries
for ten orders or a million, and only the small result tables reach Python. The
queries read a period of the timeline through the (kind, created_at) index and a
period of orders through the placed_at index, never the whole history.

The figures about the period (time in each state, orders per day, the rates) are
the exception to "on every visit": they read the whole period (seconds at 1.5
million orders), so the page shows them as last worked out in the background, at
most PERIOD_MAX_AGE old (cached_period_figures); the downloads read them exactly.

Which orders a figure covers is parsed by the report FilterSet (since, until, period,
warehouse), so the dashboard and the exports agree on "the orders of this period".
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Count, F, Func, IntegerField, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from inventory.filters import low_stock_q
from inventory.models import StockLevel, Warehouse
from reports.filters import ReportFilterError, ReportForm, day_start, filtered

from . import workflow
from .filters import OrderReportFilter, overdue_q, status_target_deltas
from .models import Order, OrderEvent, OrderStatus

S = OrderStatus

DEFAULT_DAYS = 30
# A quarter. The timeline queries read every state change of the period, so their
# time grows with its length (about 0.5 s per 30 days at a million orders); longer
# reports are what the exports are for.
MAX_DAYS = 92
FILTER_FIELDS = ("since", "until", "period", "warehouse")
OLDEST_OPEN_LIMIT = 10
LOW_STOCK_LIMIT = 50
# Still being worked on, in the workflow's order.
OPEN_STATES = [status for status in S if status in workflow.OPEN_STATES]
# Open and still in the warehouse's hands (the order_unshipped_placed index).
NOT_SHIPPED = [S.NEW, S.PROCESSING, S.PACKED, S.ON_HOLD]
# Orders that left the warehouse: the ones a return rate is about.
LEFT_THE_WAREHOUSE = sorted(workflow.RETURNABLE | {S.RETURNED})
# States an order can leave (a stay in them can end), in the workflow's order.
STATES_WITH_STAYS = [
    status for status in S if any(workflow.allowed_from(action, status) for action in workflow.ACTIONS)
]


def resolve_range(since, until):
    """(since, until) with the defaults filled in: the DEFAULT_DAYS days up to today
    (or up to `until`); a start date alone runs to today (or is one day, if later)."""
    today = timezone.localdate()
    if until is None:
        until = max(today, since) if since else today
    if since is None:
        since = until - timedelta(days=DEFAULT_DAYS - 1)
    return since, until


class DashboardForm(ReportForm):
    """The report form, plus the dashboard's limit on the length of the period."""

    def clean(self):
        data = super().clean()
        if data.get("since") and not self.has_error("until"):
            since, until = resolve_range(data["since"], data.get("until"))
            if (until - since).days + 1 > MAX_DAYS:
                self.add_error(
                    "since",
                    gettext(
                        "The dashboard covers at most %(days)s days: choose a later start date "
                        "(or use the exports for longer periods)."
                    )
                    % {"days": MAX_DAYS},
                )
        return data


class DashboardFilter(OrderReportFilter):
    """OrderReportFilter whose period, when not given, is the last DEFAULT_DAYS days:
    its rows are the orders placed in the period the page names, never all orders."""

    class Meta(OrderReportFilter.Meta):
        form = DashboardForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What leaving each choice empty means here, instead of a row of dashes.
        fields = self.form.fields
        fields["warehouse"].empty_label = gettext("Every warehouse")
        fields["period"].empty_label = gettext("The dates above")
        # django-filter's widget keeps the choices of the field it was copied from.
        fields["period"].widget.choices = fields["period"].choices

    def date_range(self):
        return resolve_range(*super().date_range())


@dataclass(frozen=True)
class Scope:
    """The period (local days, `until` included) and warehouse (None: all) of the figures."""

    since: date
    until: date
    warehouse: Warehouse | None
    placed: QuerySet  # the orders placed in the period, from the FilterSet

    @property
    def start(self) -> datetime:
        return day_start(self.since)

    @property
    def end(self) -> datetime:
        return day_start(self.until + timedelta(days=1))

    def days(self):
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]

    def orders(self):
        """Orders of the warehouse, whenever placed (for figures about now)."""
        orders = Order.objects.order_by()
        return orders.filter(warehouse=self.warehouse) if self.warehouse else orders

    def events(self, kind):
        """Events of one kind in the period, on the warehouse's orders."""
        events = OrderEvent.objects.order_by().filter(kind=kind, created_at__gte=self.start, created_at__lt=self.end)
        return events.filter(order__warehouse=self.warehouse) if self.warehouse else events


def dashboard_scope(data):
    """(filterset, scope) for the query-string values `data`. The scope is None when
    a value did not parse: the filterset's form then carries the errors, and no
    figure may be shown (rather than figures for some other period)."""
    values = {name: data.get(name, "") for name in FILTER_FIELDS}
    filterset = DashboardFilter(values, queryset=Order.objects.order_by())
    try:
        placed = filtered(filterset)
    except ReportFilterError:
        return filterset, None
    since, until = filterset.date_range()
    return filterset, Scope(since, until, filterset.form.cleaned_data.get("warehouse"), placed)


# --- the figures ------------------------------------------------------------------


def state_counts(scope, now):
    """Orders in each open state now, and how many are past their state's target
    time (None where the state has no target). One GROUP BY, read from the (status,
    status_changed_at) index.

    Completed, cancelled and returned orders are left out: they cannot be stuck, and
    counting them would read almost every order ever placed.
    """
    targets = status_target_deltas()
    overdue = overdue_q(targets, now)
    # COUNT(status), not COUNT(id): status is never null, and the columns counted and
    # tested are all in the (status, status_changed_at) index, so it is read alone.
    counts = {"orders": Count("status")}
    if overdue is not None:
        counts["overdue"] = Count("status", filter=overdue)
    open_orders = scope.orders().filter(status__in=OPEN_STATES)
    found = {row["status"]: row for row in open_orders.values("status").annotate(**counts)}
    rows = []
    for status in OPEN_STATES:
        row = found.get(status.value, {})
        rows.append(
            {
                "status": status.value,
                "label": status.label,
                "orders": row.get("orders", 0),
                "overdue": row.get("overdue", 0) if status.value in targets else None,
                "target": targets.get(status.value),
            }
        )
    return rows


# The two spellings the stay query needs: a text value from the JSON data, and the
# seconds between two timestamps.
_VENDOR_SQL = {
    "postgresql": {
        "from_state": "s.data ->> 'from'",
        "seconds": "date_part('epoch', ended_at - started_at)",
    },
    "sqlite": {
        "from_state": "json_extract(s.data, '$.from')",
        "seconds": "(julianday(ended_at) - julianday(started_at)) * 86400.0",
    },
}


def _percentile_sql(tenths):
    """The `tenths`/10 percentile of `seconds` over `ranked`, interpolated between the
    two stays around position p·(n − 1) like PostgreSQL's percentile_cont (which
    SQLite lacks). Integer arithmetic, so both databases pick the same two rows."""
    position = f"{tenths} * (n - 1)"
    lower = f"({position}) / 10"
    fraction = f"(({position}) %% 10) / 10.0"
    return (
        f"SUM(CASE WHEN i = {lower} THEN seconds * (1 - {fraction}) "
        f"WHEN i = {lower} + 1 THEN seconds * {fraction} ELSE 0 END)"
    )


# `entered`: the events of the period that put an order in a state, each with the
# previous one of its order (LAG). A transition's previous event is where the stay it
# ends began; when that was before the period (LAG finds nothing), the order's last
# such event before the period is looked up by index: only the stays that cross the
# start of the period need it.
_STAYS_SQL = """
WITH entered AS (
    SELECT s.order_id, s.kind, s.created_at, {from_state} AS state,
           LAG(s.created_at) OVER (PARTITION BY s.order_id ORDER BY s.created_at, s.id) AS started_at
    FROM {event_table} s{warehouse_join}
    WHERE s.kind IN (%s, %s) AND s.created_at >= %s AND s.created_at < %s
),
stays AS (
    SELECT state, created_at AS ended_at, started_at
    FROM entered
    WHERE kind = %s AND started_at IS NOT NULL
    UNION ALL
    SELECT e.state, e.created_at, MAX(p.created_at)
    FROM entered e
    JOIN {event_table} p ON p.order_id = e.order_id AND p.kind IN (%s, %s) AND p.created_at < %s
    WHERE e.kind = %s AND e.started_at IS NULL
    GROUP BY e.order_id, e.state, e.created_at
),
ranked AS (
    SELECT state, seconds,
           ROW_NUMBER() OVER (PARTITION BY state ORDER BY seconds) - 1 AS i,
           COUNT(*) OVER (PARTITION BY state) AS n
    FROM (SELECT state, {seconds} AS seconds FROM stays) AS timed
)
SELECT state, MAX(n), {median}, {p90} FROM ranked GROUP BY state
"""


def stay_times(scope):
    """Median and 90th percentile of the time orders spent in each state, over the
    stays that ended in the period.

    A stay starts with the event that put the order in the state ("created" for new,
    a transition for the others) and ends with the transition out of it, whose
    data["from"] names the state. One query: LAG pairs each transition with the
    order's previous state-entering event, ROW_NUMBER ranks the stays of each state.
    """
    vendor = _VENDOR_SQL[connection.vendor]
    event_table = connection.ops.quote_name(OrderEvent._meta.db_table)
    entering = [OrderEvent.Kind.CREATED, OrderEvent.Kind.TRANSITION]
    params = []
    warehouse_join = ""
    if scope.warehouse:
        order_table = connection.ops.quote_name(Order._meta.db_table)
        warehouse_join = f" JOIN {order_table} o ON o.id = s.order_id AND o.warehouse_id = %s"
        params.append(scope.warehouse.pk)
    # As the ORM would pass them (SQLite keeps UTC text), since this is raw SQL.
    start, end = (connection.ops.adapt_datetimefield_value(moment) for moment in (scope.start, scope.end))
    params += [*entering, start, end, OrderEvent.Kind.TRANSITION]
    params += [*entering, start, OrderEvent.Kind.TRANSITION]
    sql = _STAYS_SQL.format(
        event_table=event_table,
        warehouse_join=warehouse_join,
        median=_percentile_sql(5),
        p90=_percentile_sql(9),
        **vendor,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _stay_rows({state: (count, median, p90) for state, count, median, p90 in cursor.fetchall()})


def _stay_rows(found):
    """stay_times()'s rows, one per state a stay can end in, in the workflow's order,
    from {state: (stays, median seconds, 90th percentile seconds)}."""
    rows = []
    for status in STATES_WITH_STAYS:
        count, median, p90 = found.get(status.value, (0, None, None))
        rows.append(
            {
                "status": status.value,
                "label": status.label,
                "stays": count,
                "median": timedelta(seconds=float(median)) if count else None,
                "p90": timedelta(seconds=float(p90)) if count else None,
            }
        )
    return rows


def daily_orders(scope):
    """Per local day of the period: orders placed (with how many of them are now
    cancelled, returned, or have left the warehouse, for the rates) and orders
    shipped (transitions to shipped that day). Two GROUP BY queries."""
    zone = timezone.get_default_timezone()
    placed = {
        row.pop("day"): row
        for row in scope.placed.order_by()
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values("day")
        .annotate(
            placed=Count("pk"),
            cancelled=Count("pk", filter=Q(status=S.CANCELLED)),
            returned=Count("pk", filter=Q(status=S.RETURNED)),
            left_warehouse=Count("pk", filter=Q(status__in=LEFT_THE_WAREHOUSE)),
        )
    }
    shipped = dict(
        scope.events(OrderEvent.Kind.TRANSITION)
        .filter(data__to=S.SHIPPED)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        # created_at (never null) rather than the id: the partial index of the shipped
        # transitions holds it, so the count reads that index alone.
        .annotate(shipped=Count("created_at"))
        .values_list("day", "shipped")
    )
    empty = {"placed": 0, "cancelled": 0, "returned": 0, "left_warehouse": 0}
    return [{"day": day, **placed.get(day, empty), "shipped": shipped.get(day, 0)} for day in scope.days()]


def _count_sql(queryset):
    """(sql, params) of SELECT COUNT(*) over `queryset`'s rows, for use as a subquery."""
    counted = queryset.order_by().annotate(n=Func(template="COUNT(*)", output_field=IntegerField())).values("n")
    return counted.query.sql_with_params()


def scan_counts(scope):
    """Packing-station scans in the period: counted, and refused (see
    services.order_scan_refusal_record). Undoing a scan is not a scan.

    For every warehouse: one query of two counts, each read from its own partial
    index alone (event_scanned_created, event_refused_created) rather than from
    every scan event of the period. For one warehouse each event's order is read
    anyway, so once, for both counts."""
    events = scope.events(OrderEvent.Kind.SCAN)
    if scope.warehouse:
        return events.aggregate(
            scans=Count("pk", filter=Q(data__action="scan")),
            refused=Count("pk", filter=Q(data__action="refused")),
        )
    (scans_sql, scans_params), (refused_sql, refused_params) = (
        _count_sql(events.filter(data__action=action)) for action in ("scan", "refused")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({scans_sql}), ({refused_sql})", [*scans_params, *refused_params])
        scans, refused = cursor.fetchone()
    return {"scans": scans, "refused": refused}


def _share(part, whole):
    return part / whole if whole else None


def rates(daily, scans):
    """The rates from daily_orders() and scan_counts() (each None when its base is 0).

    - cancellation rate: orders placed in the period that are now cancelled, out of
      all orders placed in the period;
    - return rate: orders placed in the period that are now returned, out of those
      placed in the period that have left the warehouse (shipped, delivered,
      completed or returned), since only those can come back;
    - refused scans: refused codes out of every code scanned at the packing station
      in the period (counted and refused).
    """
    totals = {key: sum(day[key] for day in daily) for key in ("placed", "cancelled", "returned", "left_warehouse")}
    attempts = scans["scans"] + scans["refused"]
    return {
        **totals,
        "cancellation_rate": _share(totals["cancelled"], totals["placed"]),
        "return_rate": _share(totals["returned"], totals["left_warehouse"]),
        "scans": attempts,
        "refused": scans["refused"],
        "refused_share": _share(scans["refused"], attempts),
    }


def oldest_open(scope, limit=OLDEST_OPEN_LIMIT):
    """The orders placed longest ago that have not shipped yet (whenever placed)."""
    return list(
        scope.orders()
        .filter(status__in=NOT_SHIPPED)
        .order_by("placed_at", "pk")
        .values("pk", "number", "status", "placed_at", "status_changed_at", "warehouse__code")[:limit]
    )


def low_stock(scope, limit):
    """Stock levels at or below their product's low-stock threshold (the stock list's
    rule), emptiest first: `limit` + 1 rows at most, so the page can say there are
    more (None: all of them, for the download)."""
    levels = StockLevel.objects.filter(low_stock_q())
    if scope.warehouse:
        levels = levels.filter(warehouse=scope.warehouse)
    levels = levels.annotate(available=F("on_hand") - F("reserved")).order_by(
        "available", "product__sku", "warehouse__priority"
    )
    rows = levels.values(
        "product__sku",
        "product__name",
        "warehouse__code",
        "on_hand",
        "reserved",
        "available",
        "product__low_stock_threshold",
    )
    return list(rows if limit is None else rows[: limit + 1])


# --- the period's figures, worked out in the background ---------------------------------
# The figures about the period read every order placed and every state change and
# scan in it: at 1.5 million orders, 30 days are 100,000 orders and 470,000 state
# changes, two seconds for the time in each state alone, too slow for a page that
# should answer in 50 ms. The page shows them as last worked out instead (one
# DashboardSnapshot per period and warehouse) and asks for them again when they are
# older than PERIOD_MAX_AGE: the task (orders.tasks.refresh_period_figures) runs in
# the worker, or within the request on the immediate backend. Figures asked for and
# not ready after PERIOD_RETRY_AFTER (a worker that died) are asked for again. What
# is about now (orders in each state, the oldest open, low stock) is read on every
# visit, and the CSV downloads work everything out on the spot.
PERIOD_MAX_AGE = timedelta(minutes=10)
PERIOD_RETRY_AFTER = timedelta(minutes=5)
# A snapshot not worked out for a day is of a scope nobody looks at any more.
PERIOD_FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class PeriodFigures:
    stays: list | None  # as stay_times(); all None while the first working-out is under way
    daily: list | None  # as daily_orders()
    scans: dict | None  # as scan_counts()
    as_of: datetime | None = None
    fresh: bool = False


def _period_key(scope):
    warehouse = scope.warehouse.pk if scope.warehouse else "-"
    return f"period:{scope.since.isoformat()}:{scope.until.isoformat()}:{warehouse}"


def _period_values(scope):
    """The filter values that give `scope` again (for the task)."""
    values = {"since": scope.since.isoformat(), "until": scope.until.isoformat()}
    if scope.warehouse:
        values["warehouse"] = scope.warehouse.code
    return values


def _period_data(scope):
    """stay_times(), daily_orders() and scan_counts() as JSON."""
    stays = [
        {
            "status": row["status"],
            "stays": row["stays"],
            "median": row["median"].total_seconds() if row["stays"] else None,
            "p90": row["p90"].total_seconds() if row["stays"] else None,
        }
        for row in stay_times(scope)
    ]
    daily = [{**row, "day": row["day"].isoformat()} for row in daily_orders(scope)]
    return {"stays": stays, "daily": daily, "scans": scan_counts(scope)}


def _period_figures(data, as_of, fresh):
    stays = _stay_rows({row["status"]: (row["stays"], row["median"], row["p90"]) for row in data["stays"]})
    daily = [{**row, "day": date.fromisoformat(row["day"])} for row in data["daily"]]
    return PeriodFigures(stays=stays, daily=daily, scans=dict(data["scans"]), as_of=as_of, fresh=fresh)


def refresh_period_figures(values):
    """Work out the period's figures for the filter `values` and keep them (the
    task's body). Values that no longer parse (a warehouse since deleted) keep nothing."""
    _filterset, scope = dashboard_scope(values)
    if scope is None:
        return
    from . import services

    started = timezone.now()
    services.dashboard_snapshot_save(
        key=_period_key(scope),
        data=_period_data(scope),
        computed_at=started,
        forget_before=started - PERIOD_FORGET_AFTER,
    )


def cached_period_figures(scope, now):
    """The period's figures for `scope` as last worked out (PeriodFigures), asking
    for them to be worked out again when older than PERIOD_MAX_AGE. One query when
    they are fresh."""
    from . import services, tasks
    from .models import DashboardSnapshot

    key = _period_key(scope)

    def kept():
        return DashboardSnapshot.objects.filter(key=key).values_list("data", "computed_at").first()

    def is_fresh(found):
        return found is not None and found[1] is not None and found[1] >= now - PERIOD_MAX_AGE

    found = kept()
    if not is_fresh(found) and services.dashboard_snapshot_request(key=key, now=now, retry_after=PERIOD_RETRY_AFTER):
        tasks.refresh_period_figures.enqueue(values=_period_values(scope))
        found = kept()  # the immediate backend has worked them out by now
    if found is None or found[1] is None:
        return PeriodFigures(stays=None, daily=None, scans=None)
    return _period_figures(found[0], found[1], is_fresh(found))


@dataclass(frozen=True)
class Figures:
    states: list
    stays: list | None  # the period's figures are None while first worked out (see period)
    daily: list | None
    rates: dict | None
    oldest: list
    low_stock: list
    period: PeriodFigures | None = None  # when stays, daily and rates were worked out


def dashboard(scope, now):
    """Every figure of the page, in a fixed number of queries: what is about now read
    on the spot, the period's figures as last worked out (cached_period_figures)."""
    period = cached_period_figures(scope, now)
    return Figures(
        states=state_counts(scope, now),
        stays=period.stays,
        daily=period.daily,
        rates=rates(period.daily, period.scans) if period.daily is not None else None,
        oldest=oldest_open(scope),
        low_stock=low_stock(scope, LOW_STOCK_LIMIT),
        period=period,
    )

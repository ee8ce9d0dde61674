"""The managers' dashboard: figures on known data, filters, permissions, CSV
downloads and a query count that does not grow with the data."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory.models import StockLevel
from orders import dashboard, services
from orders.models import OrderEvent, OrderStatus
from reports.filters import day_start
from tests.factories import OrderFactory, ProductFactory, StockLevelFactory, WarehouseFactory, return_everything

pytestmark = pytest.mark.django_db

S = OrderStatus
HOUR = timedelta(hours=1)
URL = "/admin/orders/order/dashboard/"
TABLES = ["states", "stays", "daily", "rates", "oldest", "low_stock"]


@pytest.fixture
def boss(client, manager):
    client.force_login(manager)
    return client


def today():
    return timezone.localdate()


def scope_for(**data):
    filterset, scope = dashboard.dashboard_scope(data)
    assert scope is not None, filterset.form.errors
    return scope


def timeline(order, start, *steps):
    """Replace the order's state history: "created" at `start`, then a transition
    for each (hours after start, from, to)."""
    order.events.filter(kind__in=[OrderEvent.Kind.CREATED, OrderEvent.Kind.TRANSITION]).delete()
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.CREATED, created_at=start, data={"lines": 1})
    for hours, old, new in steps:
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.TRANSITION,
            created_at=start + hours * HOUR,
            data={"from": old, "to": new},
        )


def hours(delta):
    return round(delta.total_seconds() / 3600, 6)


def stays_by_state(scope):
    return {row["status"]: row for row in dashboard.stay_times(scope)}


def download(client, table, **params):
    response = client.get(reverse("admin:orders_order_dashboard_download", args=[table]), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="dashboard-{table}-')
    return csv_rows(response)


def csv_rows(response):
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")  # so that Excel reads the Chinese as UTF-8
    return list(csv.reader(io.StringIO(body[1:])))


# --- the page ------------------------------------------------------------------------


def test_the_admin_index_links_managers_to_the_dashboard(boss):
    page = boss.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("admin:orders_order_dashboard")}"' in page
    assert "Find an order" in page  # the lookup box stays


def test_others_see_no_link(client, warehouse_user):
    client.force_login(warehouse_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:orders_order_dashboard") not in page


def test_an_empty_database_renders(boss):
    response = boss.get(reverse("admin:orders_order_dashboard"))
    assert response.status_code == 200
    figures = response.context["figures"]
    assert all(row["orders"] == 0 for row in figures.states)
    assert all(row["stays"] == 0 and row["median"] is None for row in figures.stays)
    assert figures.rates["cancellation_rate"] is None and figures.rates["refused_share"] is None
    assert figures.oldest == [] and figures.low_stock == []
    page = response.content.decode()
    assert "No order is waiting to be shipped." in page
    assert 'role="img"' in page


def test_the_default_period_is_the_last_30_days_with_today(boss):
    scope = boss.get(URL).context["scope"]
    assert (scope.since, scope.until, scope.warehouse) == (today() - timedelta(days=29), today(), None)
    assert len(scope.days()) == 30
    page = boss.get(URL).content.decode()
    assert '<option value="" selected>Every warehouse</option>' in page
    assert '<option value="" selected>The dates above</option>' in page


def test_a_start_or_an_end_alone_and_the_month_presets():
    assert scope_for(until="2026-03-31").since.isoformat() == "2026-03-02"
    start = today() - timedelta(days=5)
    assert (scope_for(since=start.isoformat()).since, scope_for(since=start.isoformat()).until) == (start, today())
    first = today().replace(day=1)
    assert scope_for(period="this_month").since == first
    last_month = scope_for(period="last_month")
    assert last_month.until == first - timedelta(days=1) and last_month.since.day == 1


def test_the_chart_is_an_accessible_inline_svg(boss):
    OrderFactory(placed_at=timezone.now())
    page = boss.get(URL).content.decode()
    assert '<svg class="chart" id="dashboard-daily-chart" role="img"' in page
    assert 'aria-labelledby="dashboard-daily-chart-title dashboard-daily-chart-desc"' in page
    assert '<title id="dashboard-daily-chart-title">Orders placed and shipped per day</title>' in page
    assert "Orders placed: 1 (at most 1 in a day). Orders shipped: 0 (at most 0 in a day).</desc>" in page
    assert "<script" not in page.split('id="content-main"')[1]  # no chart library
    assert "The figures per day as a table" in page  # the same figures as a table


# --- figures on known data -------------------------------------------------------------


def test_orders_in_each_state_now_and_past_their_target(boss):
    fresh = OrderFactory()
    late = OrderFactory()
    late.__class__.objects.filter(pk=late.pk).update(status_changed_at=timezone.now() - 30 * HOUR)  # target 24 h
    OrderFactory(processing=True)
    OrderFactory(packed=True)
    OrderFactory(shipped=True)
    held = OrderFactory(processing=True)
    services.order_hold(order=held, actor=None, reason="Address unclear")
    services.order_cancel(order=OrderFactory(), actor=None, reason="Customer asked")
    OrderFactory(delivered=True)

    rows = {row["status"]: row for row in boss.get(URL).context["figures"].states}
    assert {status: row["orders"] for status, row in rows.items()} == {
        "new": 2,
        "processing": 1,
        "packed": 1,
        "shipped": 1,
        "delivered": 1,
        "on_hold": 1,
    }  # cancelled, completed and returned orders cannot be stuck
    assert rows["new"]["overdue"] == 1 and rows["processing"]["overdue"] == 0
    assert rows["new"]["url"] == "/admin/orders/order/?status__exact=new"
    assert rows["new"]["overdue_url"] == "/admin/orders/order/?status__exact=new&overdue=yes"
    assert fresh.status == S.NEW


def test_median_and_90th_percentile_of_each_state(db):
    start = day_start(today() - timedelta(days=5))
    a, b, c = OrderFactory(), OrderFactory(), OrderFactory()
    timeline(a, start, (2, "new", "processing"), (5, "processing", "packed"), (6, "packed", "shipped"))
    timeline(b, start, (4, "new", "processing"), (10, "processing", "packed"))
    timeline(
        c,
        start,
        (6, "new", "processing"),
        (7, "processing", "on_hold"),
        (9, "on_hold", "processing"),
        (12, "processing", "packed"),
    )
    stays = stays_by_state(scope_for())
    # new: 2, 4 and 6 h. The 90th percentile is interpolated: 4 + 0.8 × (6 − 4).
    assert (stays["new"]["stays"], hours(stays["new"]["median"]), hours(stays["new"]["p90"])) == (3, 4, 5.6)
    # processing: 1, 3, 3 and 6 h (order c was in it twice).
    processing = stays["processing"]
    assert (processing["stays"], hours(processing["median"]), hours(processing["p90"])) == (4, 3, 5.1)
    assert (stays["packed"]["stays"], hours(stays["packed"]["median"])) == (1, 1)
    assert (stays["on_hold"]["stays"], hours(stays["on_hold"]["median"])) == (1, 2)
    assert stays["shipped"]["stays"] == 0 and stays["shipped"]["median"] is None


def test_a_stay_counts_in_the_period_it_ended_with_its_whole_length(db):
    since = today() - timedelta(days=3)
    across = OrderFactory()
    timeline(across, day_start(since) - 47 * HOUR, (48, "new", "processing"))  # began before the period
    before = OrderFactory()
    timeline(before, day_start(since) - 10 * HOUR, (2, "new", "processing"))  # ended before it
    after = OrderFactory()
    timeline(after, day_start(today()) + 20 * HOUR, (5, "new", "processing"))  # ends tomorrow
    new = stays_by_state(scope_for(since=since.isoformat(), until=today().isoformat()))["new"]
    assert (new["stays"], hours(new["median"])) == (1, 48)


# --- the time in each state, worked out in the background --------------------------------


def stays_queries(captured):
    return [q for q in captured.captured_queries if "LAG(" in q["sql"]]


def test_the_page_shows_the_time_in_state_as_last_worked_out(boss, monkeypatch):
    start = day_start(today() - timedelta(days=2))
    first = OrderFactory()
    timeline(first, start, (2, "new", "processing"))
    with CaptureQueriesContext(connection) as captured:
        page = boss.get(URL)
    # Nothing kept yet: the immediate backend works it out within the request.
    assert len(stays_queries(captured)) == 1
    assert stays_by_state_of(page)["new"]["stays"] == 1 and page.context["figures"].period.fresh
    assert "are as of " in page.content.decode()

    second = OrderFactory()
    timeline(second, start, (4, "new", "processing"))
    with CaptureQueriesContext(connection) as captured:
        again = boss.get(URL)
    assert stays_queries(captured) == []  # fresh enough: the figures kept are shown
    assert stays_by_state_of(again)["new"]["stays"] == 1
    assert again.context["figures"].rates["placed"] == page.context["figures"].rates["placed"] == 1
    assert sum(row["orders"] for row in again.context["figures"].states) == 2  # now: read on every visit
    # The download is worked out on the spot, exactly.
    assert download(boss, "stays")[1][1] == "2"

    later = timezone.now() + dashboard.PERIOD_MAX_AGE + timedelta(seconds=1)
    monkeypatch.setattr(dashboard.timezone, "now", lambda: later)
    monkeypatch.setattr("orders.admin.dashboard.timezone.now", lambda: later)
    with CaptureQueriesContext(connection) as captured:
        old = boss.get(URL)
    assert len(stays_queries(captured)) == 1  # too old: worked out again
    assert stays_by_state_of(old)["new"]["stays"] == 2 and old.context["figures"].rates["placed"] == 2


def stays_by_state_of(response):
    return {row["status"]: row for row in response.context["figures"].stays}


def test_each_period_and_warehouse_has_its_own_figure(boss):
    warehouse = WarehouseFactory(code="TPE")
    start = day_start(today() - timedelta(days=2))
    timeline(OrderFactory(warehouse=warehouse), start, (2, "new", "processing"))
    timeline(OrderFactory(), start, (3, "new", "processing"))
    assert stays_by_state_of(boss.get(URL))["new"]["stays"] == 2
    assert stays_by_state_of(boss.get(URL, {"warehouse": "TPE"}))["new"]["stays"] == 1
    since = (today() - timedelta(days=1)).isoformat()
    assert stays_by_state_of(boss.get(URL, {"since": since}))["new"]["stays"] == 0


@pytest.fixture
def deferring_backend(settings):
    from django_tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    default_task_backend.clear()
    yield default_task_backend
    default_task_backend.clear()


def test_with_a_worker_the_page_says_it_is_being_worked_out_and_asks_once(boss, deferring_backend, monkeypatch):
    timeline(OrderFactory(), day_start(today() - timedelta(days=2)), (2, "new", "processing"))
    page = boss.get(URL)
    figures = page.context["figures"]
    assert page.status_code == 200 and figures.stays is figures.daily is figures.rates is None
    assert "are being worked out" in page.content.decode()
    assert figures.states and figures.oldest is not None  # what is about now is shown anyway
    assert len(deferring_backend.results) == 1
    boss.get(URL)  # asked already: not asked again while the worker has it
    assert len(deferring_backend.results) == 1
    # A worker that never answered: asked again after STAYS_RETRY_AFTER.
    later = timezone.now() + dashboard.PERIOD_RETRY_AFTER + timedelta(seconds=1)
    monkeypatch.setattr(dashboard.timezone, "now", lambda: later)
    monkeypatch.setattr("orders.admin.dashboard.timezone.now", lambda: later)
    boss.get(URL)
    assert len(deferring_backend.results) == 2
    # The worker runs the task: the page shows the figure.
    task = deferring_backend.results[0].task
    task.func(**deferring_backend.results[0].kwargs)
    shown = boss.get(URL)
    assert stays_by_state_of(shown)["new"]["stays"] == 1


def test_only_one_of_two_visits_at_once_asks_for_the_figure(db):
    now = timezone.now()
    ask = dict(key="stays:test", now=now, retry_after=dashboard.PERIOD_RETRY_AFTER)
    assert services.dashboard_snapshot_request(**ask) is True
    assert services.dashboard_snapshot_request(**ask) is False
    assert services.dashboard_snapshot_request(**{**ask, "now": now + timedelta(minutes=6)}) is True


def test_an_older_working_out_never_replaces_a_newer_one(db):
    now = timezone.now()
    services.dashboard_snapshot_save(key="stays:k", data=[{"status": "new", "stays": 2}], computed_at=now)
    services.dashboard_snapshot_save(key="stays:k", data=[{"status": "new", "stays": 1}], computed_at=now - HOUR)
    from orders.models import DashboardSnapshot

    assert DashboardSnapshot.objects.get(key="stays:k").data == [{"status": "new", "stays": 2}]
    # Scopes not worked out for a day are forgotten when another is kept.
    services.dashboard_snapshot_save(
        key="stays:other", data=[], computed_at=now + 25 * HOUR, forget_before=now + HOUR
    )
    assert list(DashboardSnapshot.objects.values_list("key", flat=True)) == ["stays:other"]


def test_orders_placed_and_shipped_per_local_day(db):
    day = today() - timedelta(days=2)
    midnight = day_start(day)  # midnight in Taipei is 16:00 UTC the day before
    OrderFactory(placed_at=midnight + timedelta(minutes=30))
    OrderFactory(placed_at=midnight + 23 * HOUR)
    OrderFactory(placed_at=midnight - timedelta(minutes=30))  # the evening before
    shipped = OrderFactory(shipped=True, placed_at=midnight + 2 * HOUR)
    shipped.events.filter(kind=OrderEvent.Kind.TRANSITION, data__to="shipped").update(created_at=midnight + 30 * HOUR)
    daily = {row["day"]: row for row in dashboard.daily_orders(scope_for())}
    assert len(daily) == 30
    assert (daily[day]["placed"], daily[day]["shipped"]) == (3, 0)
    assert (daily[day - timedelta(days=1)]["placed"], daily[day + timedelta(days=1)]["shipped"]) == (1, 1)
    assert sum(row["placed"] for row in daily.values()) == 4


def test_cancellation_return_and_refused_scan_rates(boss):
    OrderFactory()
    services.order_cancel(order=OrderFactory(), actor=None, reason="Changed their mind")
    OrderFactory(shipped=True)
    returned = OrderFactory(delivered=True)
    return_everything(returned, reason="Wrong size")
    scanning = OrderFactory(processing=True, lines=1, quantity=3)
    line = scanning.lines.first()
    for _unit in range(3):
        services.order_scan(order=scanning, code=line.sku, actor=None)
    services.order_scan_undo(order=scanning, actor=None)  # an undo is not a scan
    services.order_scan_refusal_record(order=scanning, code="WRONG", reason="Not in the order", actor=None)

    rates = boss.get(URL).context["figures"].rates
    assert (rates["placed"], rates["cancelled"], rates["cancellation_rate"]) == (5, 1, 0.2)
    # Only orders that left the warehouse can come back: the shipped one and the returned one.
    assert (rates["left_warehouse"], rates["returned"], rates["return_rate"]) == (2, 1, 0.5)
    assert (rates["scans"], rates["refused"], rates["refused_share"]) == (4, 1, 0.25)
    page = boss.get(URL).content.decode()
    assert "20.0%" in page and "50.0%" in page and "25.0%" in page
    assert "out of every order placed in the period" in page  # the definitions are shown


def test_the_ten_oldest_open_orders(boss):
    now = timezone.now()
    OrderFactory(number="SO-SHIPPED", shipped=True, placed_at=now - timedelta(days=60))
    services.order_cancel(
        order=OrderFactory(number="SO-CANCELLED", placed_at=now - timedelta(days=50)), actor=None, reason="No"
    )
    for index in range(12):
        OrderFactory(number=f"SO-{index:02d}", placed_at=now - timedelta(days=index), processing=index % 2 == 1)
    oldest = boss.get(URL).context["figures"].oldest
    assert [row["number"] for row in oldest] == [f"SO-{index:02d}" for index in range(11, 1, -1)]
    first = oldest[0]
    assert first["label"] == "Processing" and first["url"] == reverse("admin:orders_order_change", args=[first["pk"]])
    assert first["warehouse__code"] == "MAIN"


def test_low_stock_uses_the_stock_lists_rule(boss):
    north, south = WarehouseFactory(code="TPE"), WarehouseFactory(code="KHH")
    tea = ProductFactory(sku="TEA", low_stock_threshold=5)
    StockLevelFactory(product=tea, warehouse=north, on_hand=20, reserved=15)  # 5 available: low
    StockLevelFactory(product=tea, warehouse=south, on_hand=6, reserved=0)  # 6: fine
    cup = ProductFactory(sku="CUP", low_stock_threshold=2)
    StockLevelFactory(product=cup, warehouse=south, on_hand=1, reserved=0)
    rows = boss.get(URL).context["low_stock"]
    assert [(row["product__sku"], row["warehouse__code"], row["available"]) for row in rows] == [
        ("CUP", "KHH", 1),
        ("TEA", "TPE", 5),
    ]
    listed = boss.get(reverse("admin:inventory_stocklevel_changelist"), {"low": "yes"}).context["cl"].result_list
    assert {(level.product.sku, level.warehouse.code) for level in listed} == {("CUP", "KHH"), ("TEA", "TPE")}
    only_north = boss.get(URL, {"warehouse": "TPE"}).context["low_stock"]
    assert [row["product__sku"] for row in only_north] == ["TEA"]


def test_the_page_shows_the_emptiest_low_stock_levels_and_says_there_are_more(boss, monkeypatch):
    monkeypatch.setattr(dashboard, "LOW_STOCK_LIMIT", 2)
    for on_hand in (3, 0, 1):
        StockLevelFactory(product=ProductFactory(sku=f"LOW-{on_hand}", low_stock_threshold=5), on_hand=on_hand)
    response = boss.get(URL)
    assert [row["product__sku"] for row in response.context["low_stock"]] == ["LOW-0", "LOW-1"]
    assert "Only the 2 emptiest are shown." in response.content.decode()
    assert len(download(boss, "low_stock")) == 4  # the download has them all


# --- filtering ----------------------------------------------------------------------


def test_the_warehouse_narrows_every_figure(boss):
    north, south = WarehouseFactory(code="TPE", priority=1), WarehouseFactory(code="KHH", priority=2)
    start = day_start(today() - timedelta(days=1))
    for warehouse, processing_hours in ((north, 2), (south, 8)):
        order = OrderFactory(warehouse=warehouse, packed=True)
        timeline(order, start, (1, "new", "processing"), (1 + processing_hours, "processing", "packed"))
    OrderFactory(warehouse=south, shipped=True)
    figures = boss.get(URL, {"warehouse": "TPE"}).context["figures"]
    assert {row["status"]: row["orders"] for row in figures.states}["packed"] == 1
    assert {row["status"]: row["orders"] for row in figures.states}["shipped"] == 0
    processing = {row["status"]: row for row in figures.stays}["processing"]
    assert (processing["stays"], hours(processing["median"])) == (1, 2)
    assert sum(row["placed"] for row in figures.daily) == 1
    everywhere = boss.get(URL).context["figures"]
    assert sum(row["placed"] for row in everywhere.daily) == 3
    # Both timelines above, and the shipped order's own (written as it went along).
    assert {row["status"]: row for row in everywhere.stays}["processing"]["stays"] == 3


def test_the_period_narrows_the_figures_about_it(boss):
    OrderFactory(placed_at=timezone.now() - timedelta(days=40))
    OrderFactory(placed_at=timezone.now())
    assert boss.get(URL).context["figures"].rates["placed"] == 1
    earlier = today() - timedelta(days=45)
    figures = boss.get(URL, {"since": earlier.isoformat(), "until": (earlier + timedelta(days=10)).isoformat()})
    assert figures.context["figures"].rates["placed"] == 1
    assert sum(row["orders"] for row in figures.context["figures"].states) == 2  # states are now, whatever the period


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"since": "2026/11/01"}, "since", "Enter the date as YYYY-MM-DD, for example 2026-11-01."),
        ({"since": "2026-11-02", "until": "2026-11-01"}, "until", "The end date is before the start date."),
        ({"warehouse": "NOPE"}, "warehouse", "Select a valid choice."),
        ({"period": "this_month", "since": "2026-11-01"}, "period", "Choose a period or dates, not both."),
        ({"since": "2026-01-01", "until": "2026-04-03"}, "since", "The dashboard covers at most 92 days"),
    ],
)
def test_bad_filter_values_show_an_error_by_the_field_and_no_figures(boss, params, field, message):
    OrderFactory()
    response = boss.get(URL, params)
    assert response.status_code == 200
    assert "figures" not in response.context
    errors = {bound.name: bound.errors for bound in response.context["fields"]}
    assert any(message in error for error in errors[field]), errors
    page = response.content.decode()
    assert "The figures are not shown until the filters are corrected below." in page
    assert f'id="id_{field}_error"' in page and 'aria-invalid="true"' in page
    assert "Orders in each state now" not in page


def test_a_quarter_is_the_longest_period():
    quarter = scope_for(since="2026-01-01", until="2026-04-02")
    assert len(quarter.days()) == dashboard.MAX_DAYS == 92


def test_a_download_with_bad_filters_goes_back_to_the_page(boss):
    response = boss.get(reverse("admin:orders_order_dashboard_download", args=["states"]), {"since": "2026/11/01"})
    assert response.status_code == 302
    assert response["Location"] == f"{URL}?since=2026%2F11%2F01"


# --- permissions --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["warehouse_user", "service_user"])
def test_only_managers_see_the_page_and_the_downloads(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(URL).status_code == 403
    for table in TABLES:
        assert client.get(reverse("admin:orders_order_dashboard_download", args=[table])).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_an_unknown_table_is_not_found(boss):
    assert boss.get(reverse("admin:orders_order_dashboard_download", args=["passwords"])).status_code == 404


# --- downloads ----------------------------------------------------------------------


def test_every_table_downloads_as_csv(boss):
    OrderFactory(shipped=True)
    StockLevelFactory(product=ProductFactory(sku="LOW-1", low_stock_threshold=5), on_hand=1)
    headers = {table: download(boss, table)[0] for table in TABLES}
    assert headers["states"] == ["status", "orders", "past the target time", "target (hours)"]
    assert headers["daily"] == ["date", "orders placed", "orders shipped"]
    assert headers["low_stock"][0] == "SKU"
    daily = download(boss, "daily")
    assert len(daily) == 31 and daily[-1][0] == today().isoformat() and daily[-1][1:] == ["1", "1"]
    states = {row[0]: row for row in download(boss, "states")[1:]}
    assert states["Shipped"][1:] == ["1", "0", "120.0"]


def test_downloads_follow_the_filters(boss):
    OrderFactory(warehouse=WarehouseFactory(code="TPE"), processing=True)
    OrderFactory(warehouse=WarehouseFactory(code="KHH"), processing=True)
    rows = download(boss, "oldest", warehouse="KHH")[1:]
    assert [row[-1] for row in rows] == ["KHH"]


def test_downloads_neutralise_formula_cells_and_keep_chinese(boss):
    product = ProductFactory(sku="=cmd|' /C calc'!A0", name="=HYPERLINK(\"http://x\")烏龍茶", low_stock_threshold=5)
    StockLevelFactory(product=product, on_hand=1)
    row = download(boss, "low_stock")[1]
    assert row[0] == "'=cmd|' /C calc'!A0"
    assert row[1] == "'=HYPERLINK(\"http://x\")烏龍茶"
    assert row[3:] == ["1", "0", "1", "5"]  # numbers untouched


def test_a_chinese_download(boss):
    OrderFactory()
    boss.cookies["django_language"] = "zh-hant"
    rows = download(boss, "states", HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert len(rows) == 7


# --- queries ------------------------------------------------------------------------


def make_data(count):
    """`count` orders of each kind the dashboard reads: open, overdue, shipped (with a
    timeline), cancelled, with counted and refused scans, and low stock."""
    warehouse = WarehouseFactory(code="TPE")
    for index in range(count):
        OrderFactory(warehouse=warehouse)
        OrderFactory(warehouse=warehouse, shipped=True)
        services.order_cancel(order=OrderFactory(warehouse=warehouse), actor=None, reason="No")
        scanning = OrderFactory(warehouse=warehouse, processing=True, lines=1, quantity=2)
        services.order_scan(order=scanning, code=scanning.lines.first().sku, actor=None)
        services.order_scan_refusal_record(order=scanning, code="X", reason="No", actor=None)
        StockLevelFactory(product=ProductFactory(low_stock_threshold=5), warehouse=warehouse, on_hand=index % 5)


def queries(client, params):
    client.get(URL, params)  # warm the per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as context:
        response = client.get(URL, params)
    assert response.status_code == 200 and "figures" in response.context
    return len(context), response.context["figures"]


@pytest.mark.parametrize("params", [{}, {"warehouse": "TPE"}])
def test_the_query_count_does_not_grow_with_the_data(boss, params):
    make_data(1)
    one, few = queries(boss, params)
    make_data(12)
    many, figures = queries(boss, params)
    assert one == many
    assert one <= 14, one  # session, user, permissions, filters, then one query per figure
    # Both pages list the rows their queries are counted over, the second more of them.
    assert 0 < len(few.oldest) < len(figures.oldest) == 10
    assert 0 < len(few.low_stock) < len(figures.low_stock) == 13
    assert StockLevel.objects.count() >= 13


def shown(table, rows):
    """How much of the data a downloaded table shows: its rows for the lists, and for
    the tables of one row per state, day or measure the sum of their first count."""
    if table in ("oldest", "low_stock"):
        return len(rows) - 1
    return sum(int(row[1]) for row in rows[1:])


@pytest.mark.parametrize("table", TABLES)
def test_each_download_runs_a_fixed_number_of_queries(boss, table):
    url = reverse("admin:orders_order_dashboard_download", args=[table])
    make_data(1)
    boss.get(url)
    with CaptureQueriesContext(connection) as one:
        few = boss.get(url)
    make_data(8)
    with CaptureQueriesContext(connection) as many:
        more = boss.get(url)
    # Both downloads show the data their queries are counted over, the second more of it.
    assert 0 < shown(table, csv_rows(few)) < shown(table, csv_rows(more))
    assert len(one) == len(many)


def test_the_oldest_open_list_asks_for_what_its_partial_index_holds():
    """PostgreSQL uses order_unshipped_placed only if the query's statuses are the index's."""
    from django.db.models import Q

    from orders.models import Order

    index = next(index for index in Order._meta.indexes if index.name == "order_unshipped_placed")
    assert index.condition == Q(status__in=list(dashboard.NOT_SHIPPED))

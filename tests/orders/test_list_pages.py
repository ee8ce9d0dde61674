"""The order and customer lists on large tables: the status chips follow the filter
and the search, the count stops at a cap, a page that does not exist and parameters
the list cannot use get a message (never an error page or a long query)."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.urls import reverse

from orders import selectors
from orders.models import Customer, Order
from tests.factories import CustomerFactory, OrderFactory, WarehouseFactory
from tests.utils import ON_POSTGRESQL, changelist_rows, page_queries

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:orders_order_changelist"


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def texts(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def page_html(response):
    """The page without its CSRF token (another each request)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def chips(response):
    return {row["status"]: row for row in response.context["status_counts"]}


@pytest.fixture
def small_pages(monkeypatch):
    """Two rows a page, at most two pages: the cap is met with five orders."""
    order_admin = admin.site._registry[Order]
    monkeypatch.setattr(order_admin, "list_per_page", 2)
    monkeypatch.setattr(order_admin, "list_max_pages", 2)
    return order_admin


def test_status_chips_follow_the_filter_and_the_search(as_user, manager):
    taipei = WarehouseFactory(code="TPE", priority=1)
    lin = CustomerFactory(name="Lin Mei", email="lin@example.com")
    OrderFactory(warehouse=taipei, customer=lin)
    OrderFactory(warehouse=taipei, processing=True)
    OrderFactory(processing=True)
    OrderFactory(shipped=True, customer=lin)
    client = as_user(manager)
    url = reverse(CHANGELIST)

    everything = chips(client.get(url))
    assert (everything[""]["count"], everything["new"]["count"], everything["processing"]["count"]) == (4, 1, 2)
    by_warehouse = chips(client.get(url, {"warehouse__id__exact": taipei.pk}))
    assert (by_warehouse[""]["count"], by_warehouse["new"]["count"], by_warehouse["processing"]["count"]) == (2, 1, 1)
    assert by_warehouse["shipped"]["count"] == 0
    searched = chips(client.get(url, {"q": "lin@example.com"}))
    assert (searched[""]["count"], searched["new"]["count"], searched["shipped"]["count"]) == (2, 1, 1)
    assert searched["processing"]["count"] == 0
    # A chip says what clicking it lists: the status filter itself is not applied to them.
    chosen = client.get(url, {"status__exact": "processing", "warehouse__id__exact": taipei.pk})
    assert chips(chosen)["new"]["count"] == 1 and chips(chosen)["processing"]["active"]
    assert len(changelist_rows(chosen)) == 1


def test_finished_chips_stop_at_the_cap_and_say_so(as_user, manager, monkeypatch):
    monkeypatch.setattr(selectors, "FINISHED_COUNT_CAP", 1)
    OrderFactory(delivered=True)
    OrderFactory(delivered=True)
    OrderFactory()
    response = as_user(manager).get(reverse(CHANGELIST))
    counts = chips(response)
    # PostgreSQL's planner may estimate instead (≈); either way it is marked as no exact count.
    assert counts["delivered"]["kind"] in (selectors.AT_LEAST, selectors.ESTIMATE)
    assert counts["delivered"]["text"] in ("1+", "≈ 2") or counts["delivered"]["text"].startswith("≈")
    assert counts["new"] == {**counts["new"], "count": 1, "kind": selectors.EXACT, "text": "1"}
    html = response.content.decode()
    assert "is the database’s estimate" in html and "means at least" in html


@pytest.mark.skipif(not ON_POSTGRESQL, reason="the read budget uses PostgreSQL's statistics; SQLite counts every chip")
def test_a_big_finished_state_under_a_filter_is_not_counted(as_user, manager, monkeypatch):
    # Counting delivered orders with a pending payment would read every delivered
    # order: above the read budget the chip says "not counted" rather than guess.
    monkeypatch.setattr(selectors, "FINISHED_READ_BUDGET", 0)
    OrderFactory(delivered=True)
    OrderFactory(payment_status="pending")
    response = as_user(manager).get(reverse(CHANGELIST), {"payment_status__exact": "pending"})
    counts = chips(response)
    assert counts["delivered"]["kind"] == selectors.UNCOUNTED and counts["delivered"]["text"] == "–"
    assert "Not counted" in counts["delivered"]["title"]
    assert counts["new"]["kind"] == selectors.EXACT and counts["new"]["count"] == 1
    assert counts[""]["kind"] == selectors.AT_LEAST and counts[""]["text"] == "1+"
    assert "“–” not counted" in response.content.decode()
    # Without a filter there is nothing to test row by row: every chip as before.
    unfiltered = chips(as_user(manager).get(reverse(CHANGELIST)))
    assert unfiltered["delivered"]["kind"] != selectors.UNCOUNTED


def test_under_a_filter_on_another_table_open_states_stop_at_the_joined_cap(as_user, manager, monkeypatch):
    # A carrier filter tests each order of a state against the shipments: a state where
    # most orders match stops at the cap ("1+") rather than reading all of them.
    from shipping.models import Shipment
    from tests.factories import CarrierFactory

    monkeypatch.setattr(selectors, "JOINED_COUNT_CAP", 1)
    OrderFactory(shipped=True), OrderFactory(shipped=True)  # each with a T-Cat shipment
    carrier = CarrierFactory()
    Shipment.objects.create(order=OrderFactory(packed=True), carrier=carrier, tracking_number="900000000001")
    Shipment.objects.filter(order=OrderFactory(shipped=True)).update(carrier=CarrierFactory(code="HCT"))
    url = reverse(CHANGELIST)
    counts = chips(as_user(manager).get(url, {"carrier": carrier.pk}))
    assert (counts["shipped"]["kind"], counts["shipped"]["text"]) == (selectors.AT_LEAST, "1+")
    assert (counts["packed"]["kind"], counts["packed"]["count"]) == (selectors.EXACT, 1)
    assert (counts["new"]["kind"], counts["new"]["count"]) == (selectors.EXACT, 0)
    assert counts[""]["kind"] == selectors.AT_LEAST
    # Without such a filter the open states are counted exactly as before.
    unfiltered = chips(as_user(manager).get(url))
    assert (unfiltered["shipped"]["kind"], unfiltered["shipped"]["count"]) == (selectors.EXACT, 3)


def test_under_the_read_budget_a_finished_state_is_counted(as_user, manager):
    pending = OrderFactory(delivered=True)
    Order.objects.filter(pk=pending.pk).update(payment_status="pending")  # a payment reversed afterwards
    OrderFactory(delivered=True)
    counts = chips(as_user(manager).get(reverse(CHANGELIST), {"payment_status__exact": "pending"}))
    assert (counts["delivered"]["count"], counts["delivered"]["kind"]) == (1, selectors.EXACT)


@pytest.mark.parametrize("odd", ["99", "abc", "3", "-2.x"])
def test_a_sort_the_list_cannot_make_is_left_out_and_said(as_user, manager, odd):
    # Column 3 is the status: sortable only with a status chosen (the index that serves
    # it is (status, …)); 99 and abc name no column at all.
    older, newer = OrderFactory(), OrderFactory()
    Order.objects.filter(pk=older.pk).update(placed_at=newer.placed_at - timedelta(days=1))
    response = as_user(manager).get(reverse(CHANGELIST), {"o": odd})
    assert response.status_code == 200
    assert [order.pk for order in changelist_rows(response)] == [newer.pk, older.pk]  # the usual order
    assert "This list cannot be sorted that way: it is shown in its usual order." in messages_of(response)


def test_a_sort_it_can_make_is_made_without_a_message(as_user, manager):
    first, second = OrderFactory(number="SO-1"), OrderFactory(number="SO-2")
    response = as_user(manager).get(reverse(CHANGELIST), {"o": "1"})  # the number, ascending
    assert [order.pk for order in changelist_rows(response)] == [first.pk, second.pk]
    assert messages_of(response) == []


def test_the_count_stops_at_the_cap(as_user, manager, small_pages):
    for _ in range(5):
        OrderFactory()
    response = as_user(manager).get(reverse(CHANGELIST))
    cl = response.context["cl"]
    assert cl.result_count == 4 and cl.capped and cl.result_count_text == "4+"
    assert "4+ orders: only the first 2 pages are shown" in response.content.decode()


@pytest.mark.parametrize(
    "page, message",
    [
        ("999999", "Only the first 2 pages of a list can be shown: filter or search to find the rest."),
        ("0", "There is no page 0; showing the first page."),
        ("-3", "There is no page -3; showing the first page."),
    ],
)
def test_a_page_past_the_cap_is_the_last_one_with_a_message(as_user, manager, small_pages, page, message):
    for _ in range(5):
        OrderFactory()
    response = as_user(manager).get(reverse(CHANGELIST), {"p": page})
    assert response.status_code == 200
    assert message in texts(response)
    assert len(changelist_rows(response)) == 2


def test_a_page_past_the_end_is_the_last_one_with_a_message(as_user, manager, small_pages):
    for _ in range(3):
        OrderFactory()
    response = as_user(manager).get(reverse(CHANGELIST), {"p": "7"})
    assert response.status_code == 200
    assert "There is no page 7; showing the last page (2)." in texts(response)
    assert response.context["cl"].page_num == 2 and len(changelist_rows(response)) == 1


def test_a_deep_page_lists_the_rows_of_its_place(as_user, manager, small_pages):
    orders = [OrderFactory() for _ in range(4)]
    response = as_user(manager).get(reverse(CHANGELIST), {"p": "2"})
    newest_first = sorted(orders, key=lambda o: (o.placed_at, o.pk), reverse=True)
    assert [o.pk for o in changelist_rows(response)] == [o.pk for o in newest_first[2:4]]


def test_not_a_page_number_is_the_first_page(as_user, manager):
    OrderFactory()
    response = as_user(manager).get(reverse(CHANGELIST), {"p": "abc"})
    assert response.status_code == 200 and len(changelist_rows(response)) == 1


@pytest.mark.parametrize("o", ["99", "7", "-6", "abc", "3.3.3.3", "2.-5", ""])
def test_an_unknown_or_unindexed_column_does_not_sort(as_user, manager, o):
    """?o= naming no column, or one that no index sorts over the whole table (the
    total, the customer's name), keeps the list's own order."""
    orders = [OrderFactory() for _ in range(3)]
    response = as_user(manager).get(reverse(CHANGELIST), {"o": o})
    assert response.status_code == 200
    assert [row.pk for row in changelist_rows(response)] == [o.pk for o in sorted(orders, key=lambda o: (o.placed_at, o.pk), reverse=True)]


def test_the_number_sorts(as_user, manager):
    first, second = OrderFactory(number="SO-2"), OrderFactory(number="SO-1")
    response = as_user(manager).get(reverse(CHANGELIST), {"o": "1"})
    assert [row.number for row in changelist_rows(response)] == ["SO-1", "SO-2"]
    assert first and second


@pytest.mark.parametrize(
    "params, message",
    [
        ({"ship_city": "Taipei"}, "The list cannot be filtered by “ship_city”"),
        ({"total__gte": "5", "status__exact": "new"}, "cannot be filtered by “total__gte”"),
        ({"warehouse__id__exact": "abc"}, "“abc” is not a warehouse id"),
        ({"customer__id__exact": "²"}, "“²” is not a customer id"),
    ],
)
def test_a_parameter_the_list_cannot_use_is_taken_out_with_a_message(as_user, manager, params, message):
    OrderFactory()
    client = as_user(manager)
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 302
    assert any(message.replace("The list", "This list") in text or message in text for text in texts(response))
    followed = client.get(response["Location"])
    assert followed.status_code == 200 and len(changelist_rows(followed)) == 1
    if "status__exact" in params:
        assert "status__exact=new" in response["Location"]


def test_a_carrier_that_is_no_id_lists_nothing_and_says_so(as_user, manager):
    OrderFactory(shipped=True)  # a carrier to choose from: the filter shows
    response = as_user(manager).get(reverse(CHANGELIST), {"carrier": "-1", "status__exact": "shipped"})
    assert response.status_code == 200 and changelist_rows(response) == []
    assert texts(response).count("“-1” is not a carrier id; no order has that carrier.") == 1


def test_facet_counts_are_off(as_user, manager):
    OrderFactory()
    response = as_user(manager).get(reverse(CHANGELIST), {"_facets": "True"})
    assert response.status_code == 200 and not response.context["cl"].add_facets


def test_a_bad_date_says_so_once(as_user, manager):
    OrderFactory()
    response = as_user(manager).get(reverse(CHANGELIST), {"placed_at__range__gte": "2026/11/01", "status__exact": "new"})
    assert response.status_code == 200
    assert texts(response).count(
        "The date filter could not be read: enter dates as YYYY-MM-DD, for example 2026-11-01."
    ) == 1


def test_customer_list_is_capped_and_refuses_unindexed_filters(as_user, manager, monkeypatch):
    customer_admin = admin.site._registry[Customer]
    monkeypatch.setattr(customer_admin, "list_per_page", 2)
    monkeypatch.setattr(customer_admin, "list_max_pages", 2)
    for index in range(5):
        CustomerFactory(name=f"Customer {index}")
    client = as_user(manager)
    url = reverse("admin:orders_customer_changelist")
    response = client.get(url)
    assert response.context["cl"].capped and response.context["cl"].result_count == 4
    assert len(changelist_rows(response)) == 2
    refused = client.get(url, {"phone": "0912"})
    assert refused.status_code == 302 and any("cannot be filtered by “phone”" in text for text in texts(refused))
    assert client.get(url, {"language__exact": "en"}).status_code == 200
    # The order count is a subquery per row: not a column the whole table is sorted by.
    assert "order_count" not in response.context["cl"].sortable_by


def test_customer_list_queries_do_not_grow_with_rows(as_user, manager):
    client = as_user(manager)
    url = reverse("admin:orders_customer_changelist")
    counts = []
    for rows in (1, 6):
        while Customer.objects.count() < rows:
            OrderFactory(customer=CustomerFactory(name=f"Customer {Customer.objects.count()}"))
        client.get(url)
        count, response = page_queries(client, url)
        assert len(changelist_rows(response)) == rows
        counts.append(count)
    assert counts[0] == counts[1]


@pytest.mark.parametrize("params", [{}, {"status__exact": "processing"}, {"p": "2"}, {"q": "Customer"}])
def test_order_list_queries_do_not_grow_with_rows(as_user, manager, small_pages, params):
    client = as_user(manager)
    url = reverse(CHANGELIST)
    counts = []
    for total in (3, 4):  # page 2 of two-row pages has 1, then 2 rows
        while Order.objects.count() < total:
            OrderFactory(processing=True, customer=CustomerFactory(name=f"Customer {total}"))
        client.get(url, params)
        count, response = page_queries(client, url + "?" + "&".join(f"{k}={v}" for k, v in params.items()))
        assert changelist_rows(response)
        counts.append(count)
    assert counts[0] == counts[1]


def test_a_search_runs_the_same_queries_for_one_match_as_for_pages_of_them(as_user, manager, small_pages):
    client = as_user(manager)
    url = f"{reverse(CHANGELIST)}?q=Chen"
    customer = CustomerFactory(name="Chen Wei")
    OrderFactory(customer=customer)
    client.get(url)
    one, response = page_queries(client, url)
    assert len(changelist_rows(response)) == 1
    for _ in range(4):
        OrderFactory(customer=customer)
    many, response = page_queries(client, url)
    assert len(changelist_rows(response)) == 2 and response.context["cl"].multi_page
    assert one == many


def test_lean_rows_are_djangos_rows(as_user, manager, monkeypatch):
    """OrderChangeList.lean_results renders the rows (checkboxes, the linked number
    with the preserved filters, every column) exactly as Django's result_list tag."""
    from orders.admin.orders import OrderChangeList

    OrderFactory(customer=CustomerFactory(name="Ann <b>&amp; Co</b>"))
    OrderFactory(processing=True)
    OrderFactory(stock=0)
    OrderFactory(packed=True)
    OrderFactory(shipped=True, warehouse=WarehouseFactory(code="SOUTH", priority=5))
    client = as_user(manager)
    url = reverse(CHANGELIST)
    for params in ({}, {"o": "-8.1"}, {"status__exact": "processing"}, {"q": "Ann"}):
        lean = client.get(url, params)
        assert lean.context["cl"].lean_results is not None
        monkeypatch.setattr(OrderChangeList, "_lean_columns", lambda self: None)
        stock = client.get(url, params)
        monkeypatch.undo()
        assert stock.context["cl"].lean_results is None
        assert changelist_rows(lean)
        html = page_html(lean)
        assert '<table id="result_list">' in html
        assert html.count('class="action-select"') == len(changelist_rows(lean))
        assert html == page_html(stock)


def test_list_progress_is_the_order_pages(as_user, manager):
    """The list's progress column (selectors.list_checklist_progress) says what the
    order's own checklist says (checklist_progress(checklist_rows(order)))."""
    orders = [
        OrderFactory(),
        OrderFactory(stock=0),
        OrderFactory(processing=True),
        OrderFactory(packed=True),
        OrderFactory(shipped=True),
        OrderFactory(delivered=True),
    ]
    response = as_user(manager).get(reverse(CHANGELIST))
    rows = {order.pk: order.admin_progress for order in changelist_rows(response)}
    for order in orders:
        page_order = selectors.order_for_page(order.pk)
        assert rows[order.pk] == selectors.checklist_progress(selectors.checklist_rows(page_order)), order.status


def test_list_progress_reads_only_what_the_pending_checks_need(db):
    """Each pending automatic check reads only what it needs (checklist.PREDICATE_READS):
    a new order's stock check its lines and the stock, a processing order's scan check
    its lines, a packed order's tracking check its shipments and its lines (every unit
    must be in a tracked parcel); and the progress is the order page's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def tables_read(order):
        with CaptureQueriesContext(connection) as captured:
            progress = selectors.list_checklist_progress(Order.objects.filter(pk=order.pk))
        page_order = selectors.order_for_page(order.pk)
        assert progress[order.pk] == selectors.checklist_progress(selectors.checklist_rows(page_order))
        sql = " ".join(query["sql"] for query in captured.captured_queries)
        return {name for name in ("orders_orderline", "shipping_shipment", "inventory_stocklevel") if name in sql}

    assert tables_read(OrderFactory(stock=0)) == {"orders_orderline", "inventory_stocklevel"}
    assert tables_read(OrderFactory(processing=True)) == {"orders_orderline"}
    assert tables_read(OrderFactory(packed=True)) == {"orders_orderline", "shipping_shipment"}


def test_the_warehouse_filter_names_its_empty_choice(as_user, manager):
    """Not the admin's bare "-": orders get a warehouse when processing starts."""
    waiting = OrderFactory()
    started = OrderFactory(processing=True)
    client = as_user(manager)
    response = client.get(reverse(CHANGELIST))
    [spec] = [f for f in response.context["cl"].filter_specs if getattr(f, "field_path", "") == "warehouse"]
    choices = {choice["display"]: choice["query_string"] for choice in spec.choices(response.context["cl"])}
    assert "No warehouse yet" in choices and "-" not in choices
    assert "No warehouse yet" in response.content.decode()
    assert changelist_rows(client.get(reverse(CHANGELIST), {"warehouse__isnull": "True"})) == [waiting]
    assert changelist_rows(client.get(reverse(CHANGELIST), {"warehouse__id__exact": started.warehouse_id})) == [started]

"""The packing station through the test client, as warehouse staff would use it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import services
from orders.models import OrderEvent, OrderStatus
from tests.factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def station_url():
    return reverse("admin:orders_order_packing_station")


@pytest.fixture
def station(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


@pytest.fixture
def order(db):
    return OrderFactory(processing=True, lines=2, quantity=2)


def texts(response):
    return [str(message) for message in response.context["messages"]]


def scan(client, order, code):
    return client.post(reverse("admin:orders_order_scan"), {"order": order.pk, "code": code}, follow=True)


def scanned(order):
    return {line.sku: line.quantity_scanned for line in order.lines.all()}


# --- opening an order -------------------------------------------------------------


def test_station_without_an_order_asks_for_an_order_number(station):
    response = station.get(station_url())
    assert response.status_code == 200
    assert response.context["order"] is None
    assert 'name="number"' in response.content.decode()
    assert "autofocus" in response.content.decode()


def test_opens_an_order_by_its_number_in_any_case(station, order):
    response = station.get(station_url(), {"number": f"  {order.number.lower()} "})
    assert response.context["order"] == order
    page = response.content.decode()
    for line in order.lines.select_related("product"):
        assert line.sku in page
        assert line.product.barcode in page
    assert response.context["status_line"] == "Scanned 0 of 4 items."
    # With an order open, the same input takes product codes and posts them.
    assert 'name="code"' in page
    assert reverse("admin:orders_order_scan") in page


def test_unknown_order_number_is_a_clear_message(station):
    response = station.get(station_url(), {"number": "SO-NOPE"})
    assert response.status_code == 200
    assert response.context["order"] is None
    assert response.context["refusal"] == "No order has the number “SO-NOPE”. Nothing was opened."
    assert "packing-banner--error" in response.content.decode()


def test_a_product_code_without_an_order_open_says_to_scan_the_order_first(station, order):
    line = order.lines.select_related("product").first()
    response = station.get(station_url(), {"number": line.product.barcode})
    assert response.context["order"] is None
    assert response.context["refusal"] == (
        f"“{line.product.barcode}” is a product, not an order. Scan the order number on the packing slip first."
    )
    line.refresh_from_db()
    assert line.quantity_scanned == 0


def test_a_product_code_wins_over_an_order_with_the_same_number(station, order):
    """The documented rule: a product's barcode or SKU is always scanned into the open order."""
    line = order.lines.first()
    OrderFactory(processing=True, number=line.sku)
    scan(station, order, line.sku)
    line.refresh_from_db()
    assert line.quantity_scanned == 1


def test_overlong_order_number_is_refused_without_a_lookup(station):
    response = station.get(station_url(), {"number": "9" * 10_000})
    assert response.status_code == 200
    assert response.context["order"] is None
    assert "not an order number" in response.context["refusal"]


@pytest.mark.parametrize("status", [OrderStatus.NEW, OrderStatus.PACKED])
def test_order_not_in_processing_is_not_opened_and_says_its_state(station, status):
    order = OrderFactory(status=status)
    response = station.get(station_url(), {"number": order.number})
    assert response.context["order"] is None
    assert response.context["refusal"].startswith(f"Order {order.number} is {OrderStatus(status).label};")


def test_order_on_hold_is_not_opened(station, order, warehouse_user):
    services.order_hold(order=order, actor=warehouse_user, reason="Customer asked to wait")
    response = station.get(station_url(), {"number": order.number})
    assert response.context["order"] is None
    assert f"Order {order.number} is On hold;" in response.context["refusal"]


# --- scanning ---------------------------------------------------------------------


def test_scanning_a_barcode_counts_one_and_highlights_the_line(station, order):
    line = order.lines.select_related("product").first()
    response = scan(station, order, line.product.barcode)
    assert response.redirect_chain[-1][0] == f"{station_url()}?number={order.number}&line={line.pk}"
    assert texts(response) == [f"{line.sku} counted: 1 of 2."]
    assert response.context["highlighted_line"] == line.pk
    assert f'id="line-{line.pk}" class="packing-line is-partial is-highlighted"' in response.content.decode()
    line.refresh_from_db()
    assert line.quantity_scanned == 1


def test_scanning_a_product_not_in_the_order_is_refused_loudly(station, order):
    stranger = ProductFactory()
    response = scan(station, order, stranger.barcode)
    assert texts(response) == [
        f"{stranger.sku} ({stranger.name}) is not in order {order.number}. Nothing was counted; put it aside."
    ]
    page = response.content.decode()
    assert 'class="packing-banner packing-banner--error"' in page
    assert 'data-sound="error"' in page
    assert response.context["order"] == order  # still open for the next scan
    assert set(scanned(order).values()) == {0}
    # Only the refusal is on the timeline (for the dashboard); nothing was counted.
    assert [event.data["action"] for event in order.events.filter(kind=OrderEvent.Kind.SCAN)] == ["refused"]


def test_scanning_an_unknown_code_is_refused(station, order):
    response = scan(station, order, "0000000000000")
    assert texts(response) == ["Unknown barcode or SKU “0000000000000”. Nothing was counted."]
    assert set(scanned(order).values()) == {0}


def test_one_more_than_ordered_is_refused(station, order):
    line = order.lines.first()
    scan(station, order, line.sku)
    scan(station, order, line.sku.lower())
    response = scan(station, order, line.sku)
    assert texts(response) == [f"Too many {line.sku}: all 2 already scanned. Nothing was counted; put it aside."]
    assert 'data-sound="error"' in response.content.decode()
    line.refresh_from_db()
    assert line.quantity_scanned == 2


def test_undo_takes_back_the_last_scan(station, order):
    first, second = order.lines.all()
    scan(station, order, first.sku)
    scan(station, order, second.sku)
    response = station.post(reverse("admin:orders_order_scan_undo"), {"order": order.pk}, follow=True)
    assert texts(response) == [f"Last scan undone: {second.sku} is now 0 of 2."]
    assert scanned(order) == {first.sku: 1, second.sku: 0}
    response = station.post(reverse("admin:orders_order_scan_undo"), {"order": order.pk}, follow=True)
    response = station.post(reverse("admin:orders_order_scan_undo"), {"order": order.pk}, follow=True)
    assert texts(response) == [f"There is no scan to undo on order {order.number}."]
    assert scanned(order) == {first.sku: 0, second.sku: 0}


def test_a_code_that_is_another_order_number_opens_that_order(station, order):
    other = OrderFactory(processing=True)
    response = scan(station, order, other.number.lower())
    assert response.context["order"] == other
    assert set(scanned(order).values()) == {0}


def test_scanning_the_open_orders_own_number_counts_nothing(station, order):
    response = scan(station, order, order.number)
    assert response.context["order"] == order
    assert texts(response) == [f"Order {order.number} is open."]
    assert set(scanned(order).values()) == {0}


def test_a_scan_after_the_order_was_packed_changes_nothing(station, order, warehouse_user):
    from tests.factories import order_to

    order = order_to(order, OrderStatus.PACKED)
    line = order.lines.first()
    response = scan(station, order, line.sku)
    assert texts(response) == [f"Order {order.number} is Packed; items are scanned while it is Processing."]
    assert response.context["order"] is None  # the station waits for the next order
    line.refresh_from_db()
    assert line.quantity_scanned == line.quantity


def test_scan_for_a_missing_order_is_a_message_not_an_error_page(station):
    response = station.post(reverse("admin:orders_order_scan"), {"order": "999999", "code": "X"}, follow=True)
    assert response.status_code == 200
    assert texts(response) == ["That order no longer exists. Scan an order number."]


# --- checklist and advancing ------------------------------------------------------


def test_all_items_scanned_passes_the_automatic_step(station, order):
    for line in order.lines.all():
        for _unit in range(line.quantity):
            scan(station, order, line.sku)
    response = station.get(station_url(), {"number": order.number})
    steps = {step["item"].predicate: step for step in response.context["steps"]}
    assert steps["all_items_scanned"]["done"] is True
    assert response.context["status_kind"] == "steps"
    assert "All 4 items scanned. Still to do:" in response.context["status_line"]


def test_ticking_a_manual_step(station, order, warehouse_user):
    item = order.checklist_items.get(state=OrderStatus.PROCESSING, label="Items picked")
    response = station.post(
        reverse("admin:orders_order_packing_tick"), {"order": order.pk, "item": item.pk}, follow=True
    )
    assert texts(response) == ["“Items picked” ticked."]
    item.refresh_from_db()
    assert item.done_by == warehouse_user
    # Ticking twice is a message, not a second tick.
    response = station.post(
        reverse("admin:orders_order_packing_tick"), {"order": order.pk, "item": item.pk}, follow=True
    )
    assert texts(response) == ["“Items picked” was already ticked by warehouse."]


def test_the_automatic_step_cannot_be_ticked_by_hand(station, order):
    item = order.checklist_items.get(state=OrderStatus.PROCESSING, predicate="all_items_scanned")
    response = station.post(
        reverse("admin:orders_order_packing_tick"), {"order": order.pk, "item": item.pk}, follow=True
    )
    assert "checked automatically" in texts(response)[0]
    item.refresh_from_db()
    assert item.done_at is None


def test_a_step_of_another_order_is_refused(station, order):
    other = OrderFactory(processing=True)
    item = other.checklist_items.filter(state=OrderStatus.PROCESSING, predicate="").first()
    response = station.post(
        reverse("admin:orders_order_packing_tick"), {"order": order.pk, "item": item.pk}, follow=True
    )
    assert texts(response) == [f"That step is not on order {order.number}."]
    item.refresh_from_db()
    assert item.done_at is None


def test_advance_refused_while_steps_are_missing(station, order):
    response = station.post(reverse("admin:orders_order_packing_advance"), {"order": order.pk}, follow=True)
    assert "missing" in texts(response)[0]
    assert "Every item scanned at the packing station" in texts(response)[0]
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING
    assert response.context["order"] == order


def test_advance_to_packed_then_ready_for_the_next_order(station, order):
    for line in order.lines.all():
        for _unit in range(line.quantity):
            scan(station, order, line.sku)
    for item in order.checklist_items.filter(state=OrderStatus.PROCESSING, predicate=""):
        station.post(reverse("admin:orders_order_packing_tick"), {"order": order.pk, "item": item.pk})
    page = station.get(station_url(), {"number": order.number})
    assert page.context["status_kind"] == "ready"
    assert page.context["advance"]["enabled"]
    response = station.post(reverse("admin:orders_order_packing_advance"), {"order": order.pk}, follow=True)
    assert response.redirect_chain[-1][0] == station_url()
    assert texts(response) == [f"{order.number} packed. Scan the next order."]
    assert response.context["order"] is None
    assert 'name="number"' in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED


# --- permissions and methods ------------------------------------------------------


@pytest.mark.parametrize("name", ["scan", "scan_undo", "packing_tick", "packing_advance"])
def test_changing_views_are_post_only(station, name):
    assert station.get(reverse(f"admin:orders_order_{name}")).status_code == 405


def test_customer_service_cannot_use_the_station(client, service_user, order):
    client.force_login(service_user)
    assert client.get(station_url()).status_code == 403
    line = order.lines.first()
    assert client.post(reverse("admin:orders_order_scan"), {"order": order.pk, "code": line.sku}).status_code == 403
    assert client.post(reverse("admin:orders_order_scan_undo"), {"order": order.pk}).status_code == 403
    line.refresh_from_db()
    assert line.quantity_scanned == 0


def test_manager_can_use_the_station(client, manager, order):
    client.force_login(manager)
    line = order.lines.first()
    client.post(reverse("admin:orders_order_scan"), {"order": order.pk, "code": line.sku})
    line.refresh_from_db()
    assert line.quantity_scanned == 1


def test_anonymous_is_sent_to_the_login(client):
    response = client.get(station_url())
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# --- queries ------------------------------------------------------------------------


def test_station_query_count_does_not_grow_with_lines(station):
    small = OrderFactory(processing=True, lines=1)
    large = OrderFactory(processing=True, lines=15, quantity=3)
    for order in (small, large):  # a scanned line and a ticked step on each
        services.order_scan(order=order, code=order.lines.first().sku, actor=None)
        item = order.checklist_items.filter(state=OrderStatus.PROCESSING, predicate="").first()
        services.checklist_tick(item=item, actor=None)
    station.get(station_url(), {"number": small.number})  # warm up the session and caches

    counts = []
    for order in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = station.get(station_url(), {"number": order.number})
        assert response.context["order"] == order
        # The page lists the lines whose queries are counted: one, then fifteen.
        page = response.content.decode()
        lines = list(order.lines.all())
        assert len(lines) == (1 if order == small else 15)
        assert page.count('<td class="packing-sku">') == len(lines) and all(line.sku in page for line in lines)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


# --- refused scans are recorded (for the managers' dashboard) --------------------------------


def refusals(order):
    return [
        (event.data["code"], event.data["reason"], event.actor)
        for event in order.events.filter(kind=OrderEvent.Kind.SCAN, data__action="refused").order_by("pk")
    ]


def test_each_refused_code_is_recorded_with_its_reason_and_who(station, order, warehouse_user):
    line = order.lines.first()
    stranger = ProductFactory()
    scan(station, order, "NO-SUCH-THING")
    scan(station, order, stranger.barcode)
    scan(station, order, line.sku)
    scan(station, order, line.sku)
    scan(station, order, line.sku)  # one too many
    assert refusals(order) == [
        ("NO-SUCH-THING", "Unknown barcode or SKU “NO-SUCH-THING”. Nothing was counted.", warehouse_user),
        (
            stranger.barcode,
            f"{stranger.sku} ({stranger.name}) is not in order {order.number}. Nothing was counted; put it aside.",
            warehouse_user,
        ),
        (line.sku, f"Too many {line.sku}: all 2 already scanned. Nothing was counted; put it aside.", warehouse_user),
    ]
    assert scanned(order)[line.sku] == 2


def test_an_empty_enter_is_not_a_refused_scan(station, order):
    response = scan(station, order, "   ")
    assert texts(response) == ["Nothing was scanned."]
    assert refusals(order) == []


def test_undo_after_a_refusal_takes_back_the_last_counted_scan(station, order):
    line = order.lines.first()
    scan(station, order, line.sku)
    scan(station, order, "NO-SUCH-THING")
    station.post(reverse("admin:orders_order_scan_undo"), {"order": order.pk})
    assert set(scanned(order).values()) == {0}


def test_the_timeline_shows_a_refused_scan(client, manager, order):
    client.force_login(manager)
    scan(client, order, "NO-SUCH-THING")
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Refused scan of NO-SUCH-THING: Unknown barcode or SKU" in page


# --- answers in JSON, for packing.js (scans without a page reload) ----------------------

JSON_HEADERS = {"HTTP_ACCEPT": "application/json", "HTTP_X_REQUESTED_WITH": "fetch"}


def post_json(client, name, data, **headers):
    response = client.post(reverse(f"admin:orders_order_{name}"), data, **{**JSON_HEADERS, **headers})
    assert response["Content-Type"] == "application/json", response.content[:200]
    return response


def scan_json(client, order, code):
    return post_json(client, "scan", {"order": order.pk, "code": code})


def lines_of(body):
    return {line["sku"]: line["quantity_scanned"] for line in body["state"]["lines"]}


def test_json_scan_answers_the_new_state_without_a_redirect(station, order):
    first, second = order.lines.order_by("pk")
    response = scan_json(station, order, first.sku.lower())
    assert response.status_code == 200
    assert response["Server-Timing"].startswith("app;dur=")
    body = response.json()
    assert body["ok"] is True
    assert body["redirect"] is None
    assert body["message"] == {"text": f"{first.sku} counted: 1 of 2.", "level": "success"}
    state = body["state"]
    assert state["order"] == {"id": order.pk, "number": order.number, "status": OrderStatus.PROCESSING}
    assert state["lines"] == [
        {"id": first.pk, "sku": first.sku, "quantity": 2, "quantity_scanned": 1, "fully_scanned": False},
        {"id": second.pk, "sku": second.sku, "quantity": 2, "quantity_scanned": 0, "fully_scanned": False},
    ]
    assert state["highlighted_line"] == first.pk
    assert (state["scanned"], state["ordered"], state["fully_scanned"]) == (1, 4, False)
    assert state["status_line"] == "Scanned 1 of 4 items."
    assert state["status_kind"] == "scanning"
    assert state["can_advance"] is False
    assert "Every item scanned at the packing station" in state["advance"]["reason"]
    auto = next(step for step in state["steps"] if not step["manual"])
    assert auto["done"] is False and auto["can_tick"] is False
    assert auto["state_text"].startswith("automatic")
    # The server counted, and no message waits for a page that will not be loaded.
    first.refresh_from_db()
    assert first.quantity_scanned == 1
    assert texts(station.get(station_url(), {"number": order.number})) == []


def test_accept_json_alone_is_enough_and_a_browser_form_still_redirects(station, order):
    line = order.lines.first()
    response = station.post(
        reverse("admin:orders_order_scan"), {"order": order.pk, "code": line.sku}, HTTP_ACCEPT="application/json"
    )
    assert response.json()["state"]["scanned"] == 1
    # What a browser sends for a plain form: a redirect, as before.
    response = station.post(
        reverse("admin:orders_order_scan"),
        {"order": order.pk, "code": line.sku},
        HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )
    assert response.status_code == 302
    assert response["Location"] == f"{station_url()}?number={order.number}&line={line.pk}"
    line.refresh_from_db()
    assert line.quantity_scanned == 2


def test_json_scans_until_every_item_is_scanned(station, order):
    for line in order.lines.all():
        for _unit in range(line.quantity):
            body = scan_json(station, order, line.sku).json()
    state = body["state"]
    assert state["fully_scanned"] is True
    assert all(line["fully_scanned"] for line in state["lines"])
    auto = next(step for step in state["steps"] if not step["manual"])
    assert auto["done"] is True and auto["state_text"] == "✓ passed automatically"
    assert state["status_kind"] == "steps"
    assert state["status_line"].startswith("All 4 items scanned. Still to do:")
    assert state["progress"] == f"1/{sum(step['required'] for step in state['steps'])}"


@pytest.mark.parametrize("kind", ["unknown", "stranger", "over"])
def test_json_refusals_are_messages_and_count_nothing(station, order, warehouse_user, kind):
    line = order.lines.first()
    if kind == "over":
        scan_json(station, order, line.sku)
        scan_json(station, order, line.sku)
        code, text = line.sku, f"Too many {line.sku}: all 2 already scanned. Nothing was counted; put it aside."
    elif kind == "stranger":
        stranger = ProductFactory()
        code = stranger.barcode
        text = f"{stranger.sku} ({stranger.name}) is not in order {order.number}. Nothing was counted; put it aside."
    else:
        code, text = "NO-SUCH-THING", "Unknown barcode or SKU “NO-SUCH-THING”. Nothing was counted."
    before = scanned(order)
    response = scan_json(station, order, code)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["message"] == {"text": text, "level": "error"}
    assert body["redirect"] is None
    assert lines_of(body) == before == scanned(order)
    assert refusals(order) == [(code, text, warehouse_user)]


def test_json_empty_enter_is_a_message_not_a_refused_scan(station, order):
    body = scan_json(station, order, "  ").json()
    assert body["message"] == {"text": "Nothing was scanned.", "level": "error"}
    assert refusals(order) == []


def test_json_scan_after_the_order_was_packed_goes_back_to_the_empty_station(station, order):
    from tests.factories import order_to

    order = order_to(order, OrderStatus.PACKED)
    line = order.lines.first()
    body = scan_json(station, order, line.sku).json()
    refusal = f"Order {order.number} is Packed; items are scanned while it is Processing."
    assert body["ok"] is False
    assert body["message"] == {"text": refusal, "level": "error"}
    assert body["state"] is None
    assert body["redirect"] == station_url()
    # The page the script goes to shows the refusal, as after a redirect.
    assert texts(station.get(body["redirect"])) == [refusal]
    line.refresh_from_db()
    assert line.quantity_scanned == line.quantity


def test_json_scan_for_a_missing_order(station):
    body = post_json(station, "scan", {"order": "999999", "code": "X"}).json()
    assert body["ok"] is False
    assert body["redirect"] == station_url()
    assert texts(station.get(station_url())) == ["That order no longer exists. Scan an order number."]


def test_json_scan_of_another_order_number_goes_to_that_order(station, order):
    other = OrderFactory(processing=True)
    body = scan_json(station, order, other.number.lower()).json()
    assert body["redirect"] == f"{station_url()}?number={other.number}"
    assert body["message"] is None
    body = scan_json(station, order, order.number).json()
    assert body["redirect"] is None
    assert body["message"] == {"text": f"Order {order.number} is open.", "level": "info"}
    assert set(scanned(order).values()) == {0}


def test_json_undo(station, order):
    first, second = order.lines.order_by("pk")
    scan_json(station, order, first.sku)
    scan_json(station, order, second.sku)
    body = post_json(station, "scan_undo", {"order": order.pk}).json()
    assert body["message"] == {"text": f"Last scan undone: {second.sku} is now 0 of 2.", "level": "warning"}
    assert lines_of(body) == {first.sku: 1, second.sku: 0}
    assert body["state"]["highlighted_line"] == second.pk
    post_json(station, "scan_undo", {"order": order.pk})
    body = post_json(station, "scan_undo", {"order": order.pk}).json()
    assert body["ok"] is False
    assert body["message"] == {"text": f"There is no scan to undo on order {order.number}.", "level": "error"}
    assert lines_of(body) == {first.sku: 0, second.sku: 0}


def test_json_tick(station, order):
    item = order.checklist_items.get(state=OrderStatus.PROCESSING, label="Items picked")
    body = post_json(station, "packing_tick", {"order": order.pk, "item": item.pk}).json()
    assert body["message"] == {"text": "“Items picked” ticked.", "level": "success"}
    step = next(step for step in body["state"]["steps"] if step["id"] == item.pk)
    assert step == {**step, "done": True, "can_tick": False, "manual": True, "state_text": "✓ ticked by warehouse"}
    assert body["state"]["progress"].startswith("1/")
    body = post_json(station, "packing_tick", {"order": order.pk, "item": item.pk}).json()
    assert body["ok"] is False
    assert body["message"]["text"] == "“Items picked” was already ticked by warehouse."
    auto = order.checklist_items.get(state=OrderStatus.PROCESSING, predicate="all_items_scanned")
    body = post_json(station, "packing_tick", {"order": order.pk, "item": auto.pk}).json()
    assert "checked automatically" in body["message"]["text"]
    body = post_json(station, "packing_tick", {"order": order.pk, "item": "²"}).json()
    assert body["message"]["text"] == f"That step is not on order {order.number}."


def test_json_advance_refused_in_place_then_packed(station, order):
    body = post_json(station, "packing_advance", {"order": order.pk}).json()
    assert body["ok"] is False and body["redirect"] is None
    assert "Every item scanned at the packing station" in body["message"]["text"]
    assert body["state"]["order"]["status"] == OrderStatus.PROCESSING
    for line in order.lines.all():
        for _unit in range(line.quantity):
            scan_json(station, order, line.sku)
    for item in order.checklist_items.filter(state=OrderStatus.PROCESSING, predicate=""):
        body = post_json(station, "packing_tick", {"order": order.pk, "item": item.pk}).json()
    assert body["state"]["status_kind"] == "ready"
    assert body["state"]["can_advance"] is True
    body = post_json(station, "packing_advance", {"order": order.pk}).json()
    assert body["ok"] is True
    assert body["redirect"] == station_url()
    assert texts(station.get(station_url())) == [f"{order.number} packed. Scan the next order."]
    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED


@pytest.mark.parametrize("name", ["scan", "scan_undo", "packing_tick", "packing_advance"])
def test_json_without_permission_is_a_json_403(client, service_user, order, name):
    client.force_login(service_user)
    response = post_json(client, name, {"order": order.pk, "code": order.lines.first().sku})
    assert response.status_code == 403
    body = response.json()
    assert body["ok"] is False
    assert body["message"] == {"text": "You do not have permission to scan items.", "level": "error"}
    assert set(scanned(order).values()) == {0}


def test_json_tick_without_the_tick_permission_is_a_json_403(client, order):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    scanner = UserFactory(username="scanner")
    scanner.user_permissions.add(Permission.objects.get(codename="scan_items", content_type__app_label="orders"))
    client.force_login(scanner)
    assert scan_json(client, order, order.lines.first().sku).json()["ok"] is True
    item = order.checklist_items.get(state=OrderStatus.PROCESSING, label="Items picked")
    response = post_json(client, "packing_tick", {"order": order.pk, "item": item.pk})
    assert response.status_code == 403
    assert response.json()["message"]["level"] == "error"
    assert "permission" in response.json()["message"]["text"]
    item.refresh_from_db()
    assert item.done_at is None


def test_json_scan_with_a_nul_is_the_middlewares_json_400(station, order):
    response = station.post(
        reverse("admin:orders_order_scan"), {"order": order.pk, "code": "AB\x00C"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]
    assert set(scanned(order).values()) == {0}
    assert refusals(order) == []


def test_the_page_loads_the_script_and_has_the_places_it_updates(station, order):
    page = station.get(station_url(), {"number": order.number}).content.decode()
    assert "orders/packing.js" in page
    for marker in ('id="packing-banners"', 'aria-live="assertive"', 'id="packing-log"', 'id="packing-status"'):
        assert marker in page
    for item in order.checklist_items.filter(state=OrderStatus.PROCESSING):
        assert f'id="step-{item.pk}"' in page


def test_json_scan_query_count_does_not_grow_with_lines(station):
    small = OrderFactory(processing=True, lines=1, quantity=3)
    large = OrderFactory(processing=True, lines=15, quantity=3)
    for order in (small, large):  # a ticked step on each, so "ticked by" is read too
        item = order.checklist_items.filter(state=OrderStatus.PROCESSING, predicate="").first()
        services.checklist_tick(item=item, actor=None)
    scan_json(station, small, small.lines.first().sku)  # warm up the session and caches

    counts = []
    for order in (small, large):
        # The last line: the scan has the most lines to pass over.
        line = order.lines.order_by("pk").last()
        with CaptureQueriesContext(connection) as queries:
            body = scan_json(station, order, line.sku).json()
        assert body["ok"] is True, body
        assert len(body["state"]["lines"]) == (1 if order == small else 15)
        assert {entry["id"]: entry["quantity_scanned"] for entry in body["state"]["lines"]}[line.pk] >= 1
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_a_role_that_scans_but_never_advances_sees_no_advance_button(client, order):
    """An action the role can never take is left out, not shown greyed out."""
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    scanner = UserFactory(username="scanner", is_staff=True)
    scanner.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "scan_items", "tick_checklist"])
    )
    client.force_login(scanner)
    response = client.get(station_url(), {"number": order.number})
    assert response.context["order"] == order
    assert response.context["advance"] is None
    page = response.content.decode()
    assert 'id="packing-advance"' not in page
    assert "You do not have permission" not in page
    state = scan_json(client, order, order.lines.first().product.barcode).json()["state"]
    assert state["advance"] is None and state["can_advance"] is False
    assert state["scanned"] == 1

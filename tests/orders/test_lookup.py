"""The customer-service lookup (admin:orders_order_lookup): each kind of search,
bad input, what each role may do from it, actions that come back to the search,
and a query count that does not grow with customers, orders, events or shipments."""

import json
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.admin import OrderAdmin
from orders.models import OrderLine, OrderStatus, PaymentStatus
from orders.selectors import customer_lookup
from shipping.models import Shipment
from tests.factories import CustomerFactory, OrderFactory, UserFactory
from tests.utils import ON_POSTGRESQL, full_scans

pytestmark = pytest.mark.django_db

LOOKUP = "admin:orders_order_lookup"


def lookup(client, term=None, **extra):
    params = {} if term is None else {"q": term}
    return client.get(reverse(LOOKUP), params, **extra)


def lookup_url(term):
    return f"{reverse(LOOKUP)}?{urlencode({'q': term})}"


def action_url(action, order):
    return reverse(f"admin:orders_order_{action}", args=[order.pk])


def found(response):
    """{customer: [order numbers]} as the page lists them."""
    return {
        entry["customer"]: [row["order"].number for row in entry["orders"]]
        for entry in response.context["customers"]
    }


def messages_of(response):
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)._queued_messages]


@pytest.fixture
def lin(db):
    return CustomerFactory(name="Lin Mei-hua", email="Mei.Lin@Example.com", phone="0912-345-678")


# --- each kind of search ----------------------------------------------------------


@pytest.mark.parametrize("typed", ["0912-345-678", "0912345678", "+886 912 345 678", "(0912) 345 678"])
def test_a_phone_number_written_any_way_finds_the_customer(client, service_user, lin, typed):
    order = OrderFactory(customer=lin)
    CustomerFactory(name="Someone Else", phone="0922-000-111")
    client.force_login(service_user)
    response = lookup(client, typed)
    assert response.status_code == 200
    assert found(response) == {lin: [order.number]}
    html = response.content.decode()
    assert "Lin Mei-hua" in html and "mei.lin@example.com" in html and "0912-345-678" in html
    assert "Traditional Chinese" in html  # the customer's language


@pytest.mark.parametrize("typed", ["mei.lin@example.com", "MEI.LIN@EXAMPLE.COM", "  Mei.Lin@example.com "])
def test_an_email_in_any_case_finds_the_customer(client, service_user, lin, typed):
    order = OrderFactory(customer=lin)
    client.force_login(service_user)
    assert found(lookup(client, typed)) == {lin: [order.number]}


def test_an_order_number_finds_its_customer_with_all_their_orders(client, service_user, lin):
    now = timezone.now()
    old = OrderFactory(customer=lin, placed_at=now - timedelta(days=30))
    new = OrderFactory(customer=lin, placed_at=now - timedelta(days=1))
    OrderFactory()  # another customer's
    client.force_login(service_user)
    response = lookup(client, old.number.lower())
    assert found(response) == {lin: [new.number, old.number]}  # newest first
    rows = {row["order"].number: row for row in response.context["customers"][0]["orders"]}
    assert rows[old.number]["matched"] and not rows[new.number]["matched"]
    assert "matches your search" in response.content.decode()


def test_a_tracking_number_finds_the_order_under_its_customer(client, service_user, lin):
    shipped = OrderFactory(customer=lin, shipped=True)
    tracking = shipped.shipments.get().tracking_number
    client.force_login(service_user)
    response = lookup(client, tracking)
    assert found(response) == {lin: [shipped.number]}
    html = response.content.decode()
    assert f'href="https://track.example.com/?no={tracking}"' in html
    assert "order-badge--shipment-shipped" in html


def test_part_of_a_name_finds_every_customer_with_it(client, warehouse_user, lin):
    chen = CustomerFactory(name="Chen Mei-ling")
    CustomerFactory(name="Wang Da-wei")
    OrderFactory(customer=lin)
    client.force_login(warehouse_user)
    response = lookup(client, "mei")
    assert set(found(response)) == {lin, chen}
    assert found(response)[chen] == []
    assert "This customer has no orders." in response.content.decode()


def test_a_customer_found_twice_is_shown_once(client, service_user, lin):
    """The order number and the name both point at Lin: one section, every order once."""
    order = OrderFactory(customer=lin, number="SO-LIN-1")
    OrderFactory(customer=lin)
    CustomerFactory(name="Lin SO-LIN-1 (imported twice)")
    client.force_login(service_user)
    response = lookup(client, "SO-LIN-1")
    customers = [entry["customer"] for entry in response.context["customers"]]
    assert customers[0] == lin and len(customers) == 2  # the order's customer first
    assert sorted(found(response)[lin]) == sorted(lin.orders.values_list("number", flat=True))
    assert order.number in found(response)[lin]


def test_each_order_shows_status_date_total_latest_event_and_shipments(client, service_user, lin):
    order = OrderFactory(customer=lin, shipped=True, lines=2)
    services.order_add_note(order=order, actor=service_user, text="Customer called about the parcel")
    client.force_login(service_user)
    response = lookup(client, lin.email)
    html = response.content.decode()
    row = response.context["customers"][0]["orders"][0]
    assert row["latest_event"].message == "Customer called about the parcel"
    assert "Customer called about the parcel" in html and "service," in html  # what, who
    assert 'class="order-badge order-badge--shipped"' in html
    assert f"TWD {order.total:,.2f}" in html
    assert timezone.localtime(order.placed_at).strftime("%Y-%m-%d %H:%M") in html
    assert reverse("admin:orders_order_change", args=[order.pk]) in html


def test_what_customers_and_staff_typed_is_shown_escaped(client, service_user):
    # The rows are written in Python (OrderRowRenderer), not by the template engine:
    # every value must still be escaped.
    bad = "<script>alert(1)</script>"
    customer = CustomerFactory(name=f"Wang {bad}", email="wang@example.com")
    order = OrderFactory(customer=customer, ship_city=f"Taipei {bad}")
    services.order_add_note(order=order, actor=service_user, text=f"Called {bad}")
    client.force_login(service_user)
    html = lookup(client, "wang@example.com").content.decode()
    assert "<script>" not in html
    for shown in (f"Wang {bad}", f"Taipei {bad}", f"Called {bad}"):  # name, city, latest note
        assert shown.replace("<", "&lt;").replace(">", "&gt;") in html


def test_the_forms_carry_the_csrf_token_and_the_way_back(service_user, lin):
    # With CSRF checks on, as in a browser: a form of the page, posted as it is, works.
    order = OrderFactory(customer=lin)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(service_user)
    html = lookup(browser, lin.email).content.decode()
    forms = dict(re.findall(r'<form method="post" action="([^"]+)" class="[^"]+">(.*?)</form>', html, re.S))
    assert set(forms) >= {action_url("hold", order), action_url("cancel", order), action_url("note", order)}
    hold = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', forms[action_url("hold", order)]))
    assert hold["next"] == lookup_url(lin.email).replace("&", "&amp;")
    response = browser.post(
        action_url("hold", order),
        {"csrfmiddlewaretoken": hold["csrfmiddlewaretoken"], "next": lookup_url(lin.email), "reason": "Caller asked"},
    )
    assert response.status_code == 302 and response["Location"] == lookup_url(lin.email)
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD


# --- bad input --------------------------------------------------------------------


def order_or_customer_queries(captured):
    return [
        q["sql"] for q in captured if "orders_order" in q["sql"] or "orders_customer" in q["sql"]
    ]


@pytest.mark.parametrize("term", [None, "", "   "])
def test_an_empty_search_prompts_and_runs_no_query(client, service_user, term):
    OrderFactory()
    client.force_login(service_user)
    with CaptureQueriesContext(connection) as captured:
        response = lookup(client, term)
    assert response.status_code == 200
    assert "type it above and press Enter" in response.content.decode()
    assert response.context["customers"] == []
    assert order_or_customer_queries(captured) == []


def test_a_search_that_matches_nothing_says_so(client, service_user):
    OrderFactory()
    client.force_login(service_user)
    response = lookup(client, "no such customer")
    assert response.status_code == 200
    assert "Nothing found for “no such customer”." in response.content.decode()


def test_ten_thousand_characters_are_too_long_and_never_query_the_orders(client, service_user):
    OrderFactory()
    client.force_login(service_user)
    with CaptureQueriesContext(connection) as captured:
        response = lookup(client, "9" * 10_000)
    assert response.status_code == 200
    html = response.content.decode()
    assert "The search is too long (at most 200 characters)." in html
    assert "9" * 201 not in html
    assert order_or_customer_queries(captured) == []


def test_a_single_letter_is_no_name_search(client, service_user, lin):
    OrderFactory(customer=lin)
    client.force_login(service_user)
    assert "Nothing found for “L”." in lookup(client, "L").content.decode()


def test_at_most_20_customers_are_shown_with_a_hint_to_refine(client, service_user):
    for index in range(21):
        CustomerFactory(name=f"Huang {index:02d}")
    client.force_login(service_user)
    response = lookup(client, "huang")
    assert len(response.context["customers"]) == 20
    assert response.context["more_customers"]
    assert "More customers match: refine your search" in response.content.decode()

    CustomerFactory(name="Huang exact", email="huang@example.com")
    first = lookup(client, "huang@example.com").context["customers"][0]["customer"]
    assert first.email == "huang@example.com"


def test_a_customer_with_many_orders_shows_the_newest_and_links_to_all(client, service_user, lin, monkeypatch):
    monkeypatch.setattr(OrderAdmin, "lookup_order_limit", 2)
    now = timezone.now()
    orders = [OrderFactory(customer=lin, placed_at=now - timedelta(days=days)) for days in (3, 2, 1)]
    OrderFactory()
    client.force_login(service_user)

    response = lookup(client, lin.phone)
    assert found(response) == {lin: [orders[2].number, orders[1].number]}
    html = response.content.decode()
    assert "Showing 2 of 3 orders" in html
    all_orders = response.context["customers"][0]["orders_url"]
    assert all_orders in html.replace("&amp;", "&")
    listed = client.get(all_orders)
    assert listed.status_code == 200
    assert {order.number for order in listed.context["cl"].result_list} == {o.number for o in orders}

    # The order the search names is shown even when it is not among the newest.
    assert found(lookup(client, orders[0].number)) == {lin: [orders[2].number, orders[0].number]}


def test_several_customers_show_their_newest_orders_each_and_one_customer_shows_more(
    client, service_user, lin, monkeypatch
):
    monkeypatch.setattr(OrderAdmin, "lookup_several_order_limit", 2)
    now = timezone.now()
    lins = [OrderFactory(customer=lin, placed_at=now - timedelta(days=days)) for days in (4, 3, 2, 1)]
    linda = CustomerFactory(name="Lin Da")
    linda_order = OrderFactory(customer=linda)
    client.force_login(service_user)

    # "lin" names two customers: each shows its newest two, with the way to all of them.
    response = lookup(client, "lin")
    assert found(response) == {lin: [lins[3].number, lins[2].number], linda: [linda_order.number]}
    html = response.content.decode()
    assert "Showing 2 of 4 orders" in html
    assert "See all 4 orders in the order list" in html
    # The order a search names is among them even when it is older.
    by_number = found(lookup(client, lins[0].number))
    assert by_number == {lin: [lins[3].number, lins[2].number, lins[1].number, lins[0].number]}
    # One customer found: all four (up to lookup_order_limit).
    assert found(lookup(client, lin.phone)) == {lin: [order.number for order in reversed(lins)]}


def test_name_matches_are_listed_by_name(client, service_user):
    for name in ("Wu Zhen", "wu an", "Wu Bo", "Li Wu", "Awu Li"):
        CustomerFactory(name=name)
    client.force_login(service_user)
    # Two letters are a whole word of the name (no index answers "wu" inside "Awu")...
    names = [customer.name for customer in found(lookup(client, "wu"))]
    assert names == ["Li Wu", "wu an", "Wu Bo", "Wu Zhen"]
    # ...three are also any piece of it.
    names = [customer.name for customer in found(lookup(client, "WU "))]
    assert names == ["Li Wu", "wu an", "Wu Bo", "Wu Zhen"]
    assert [customer.name for customer in found(lookup(client, "awu"))] == ["Awu Li"]


# --- what callers say --------------------------------------------------------------


@pytest.fixture
def callers(db):
    return {
        name: CustomerFactory(name=name)
        for name in ("林美華", "林志明", "王美華", "歐陽娜娜", "Wang Da-wei", "WANG Xiao", "Lindsay Park")
    }


@pytest.mark.parametrize(
    "term, names",
    [
        ("林", {"林美華", "林志明"}),  # a surname of one character
        ("美華", {"林美華", "王美華"}),  # a given name alone
        ("林美華", {"林美華"}),
        ("林 美華", {"林美華"}),
        ("歐陽", {"歐陽娜娜"}),  # a compound surname
        ("娜娜", {"歐陽娜娜"}),
        ("wang", {"Wang Da-wei", "WANG Xiao"}),  # any case
        ("WANG", {"Wang Da-wei", "WANG Xiao"}),
        ("Da-wei", {"Wang Da-wei"}),
        ("dawei", {"Wang Da-wei"}),
        ("xiao", {"WANG Xiao"}),
    ],
)
def test_a_surname_or_given_name_alone_finds_every_customer_with_it(client, service_user, callers, term, names):
    client.force_login(service_user)
    response = lookup(client, term)
    assert {customer.name for customer in found(response)} == names
    assert "Check the spelling" not in response.content.decode()


def test_the_last_six_or_more_digits_of_a_phone_find_the_customer(client, service_user):
    caller = CustomerFactory(name="林美華", phone="0962-477-523")
    CustomerFactory(name="Someone Else", phone="0962-477-524")
    order = OrderFactory(customer=caller)
    client.force_login(service_user)
    for typed in ("477523", "477-523", "477 523", "2477523", "0962477523", "+886 962 477 523"):
        assert found(lookup(client, typed)) == {caller: [order.number]}, typed
    # Five digits are too few to be a phone: a name, an order number, nothing here.
    assert found(lookup(client, "77523")) == {}


def test_an_order_number_without_its_prefix_finds_that_order_only(client, service_user, lin):
    order = OrderFactory(customer=lin, number="SO-1052")
    OrderFactory(number="SO-11052")
    OrderFactory(number="SO-10520")
    client.force_login(service_user)
    for typed in ("1052", "#1052", "so-1052"):
        response = lookup(client, typed)
        assert found(response) == {lin: [order.number]}, typed
        assert response.context["customers"][0]["orders"][0]["matched"]


@pytest.mark.parametrize(
    "term, names",
    [("林", {"林美華", "林志明"}), ("美華", {"林美華", "王美華"}), ("wang", {"Wang Da-wei", "WANG Xiao"}), ("477523", {"林美華"})],
)
def test_the_order_list_search_finds_the_same_customers_orders(client, service_user, callers, term, names):
    from tests.utils import changelist_rows

    callers["林美華"].phone = "0962-477-523"
    callers["林美華"].save()
    orders = {customer.name: OrderFactory(customer=customer).number for customer in callers.values()}
    bare = OrderFactory(customer=callers["林志明"], number="SO-1052")
    client.force_login(service_user)
    listed = client.get(reverse("admin:orders_order_changelist"), {"q": term})
    expected = {orders[name] for name in names} | ({bare.number} if "林志明" in names else set())
    assert {order.number for order in changelist_rows(listed)} == expected
    assert {customer.name for customer in found(lookup(client, term))} == names
    # A number without its prefix: that order alone.
    listed = client.get(reverse("admin:orders_order_changelist"), {"q": "1052"})
    assert [order.number for order in changelist_rows(listed)] == ["SO-1052"]


def test_a_surname_shared_by_many_lists_the_first_20_and_asks_to_refine(client, service_user):
    for index in range(22):
        CustomerFactory(name=f"林{'美志家宗俊'[index % 5]}{index:02d}")
    client.force_login(service_user)
    response = lookup(client, "林")
    html = response.content.decode()
    assert len(response.context["customers"]) == 20 and response.context["more_customers"]
    assert "More customers match: refine your search" in html
    assert "Check the spelling" not in html


@pytest.mark.parametrize("term", ["!!!", "-", "。。", "L"])
def test_punctuation_or_one_latin_letter_finds_nobody_and_says_so(client, service_user, callers, term):
    client.force_login(service_user)
    response = lookup(client, term)
    assert response.status_code == 200 and response.context["customers"] == []
    assert "Nothing found for" in response.content.decode()


def test_each_order_card_lists_its_items(client, service_user, lin):
    from inventory.models import Product

    order = OrderFactory(customer=lin, lines=7, quantity=2)
    client.force_login(service_user)
    response = lookup(client, lin.email)
    html = response.content.decode()
    lines = list(order.lines.order_by("pk"))
    for line in lines[:5]:
        assert f'{line.quantity} ×</span> {line.product_name} <span class="lookup-item__sku">{line.sku}</span>' in html
    for line in lines[5:]:
        assert line.sku not in html
    assert "and 2 more lines" in html
    assert Product.objects.count() == 7


# --- roles and actions ------------------------------------------------------------


def controls_in(html, order):
    return {
        action
        for action in ("hold", "resume", "cancel", "address", "mark_paid", "note")
        if action_url(action, order) in html
    }


def test_customer_service_sees_hold_cancel_address_mark_paid_and_note(client, service_user, lin):
    unpaid = OrderFactory(customer=lin, payment_status=PaymentStatus.PENDING)
    client.force_login(service_user)
    assert controls_in(lookup(client, lin.email).content.decode(), unpaid) == {
        "hold",
        "cancel",
        "address",
        "mark_paid",
        "note",
    }


def test_warehouse_sees_only_hold(client, warehouse_user, lin):
    unpaid = OrderFactory(customer=lin, payment_status=PaymentStatus.PENDING)
    client.force_login(warehouse_user)
    html = lookup(client, lin.email).content.decode()
    assert controls_in(html, unpaid) == {"hold"}
    assert "Reason for cancelling" not in html


def test_controls_follow_the_state(client, service_user, lin):
    held = OrderFactory(customer=lin)
    services.order_hold(order=held, actor=service_user, reason="Customer asked to wait")
    shipped = OrderFactory(customer=lin, shipped=True)
    client.force_login(service_user)
    response = lookup(client, lin.email)
    html = response.content.decode()
    assert controls_in(html, held) == {"resume", "cancel", "address", "note"}
    assert controls_in(html, shipped) == {"note"}
    assert "Already shipped — request a return instead." in html
    assert "Customer asked to wait" in html  # the hold is the latest event


def test_a_user_without_view_order_is_refused(client, lin):
    client.force_login(UserFactory())
    assert lookup(client, lin.email).status_code == 403


def post_from_lookup(client, action, order, term, **data):
    return client.post(action_url(action, order), {"next": lookup_url(term), **data})


def test_cancel_from_the_lookup_cancels_and_returns_to_the_search(client, service_user, lin):
    order = OrderFactory(customer=lin, processing=True)
    client.force_login(service_user)
    term = "0912-345-678"
    response = post_from_lookup(client, "cancel", order, term, reason="Customer changed their mind")
    assert response.status_code == 302
    assert response["Location"] == lookup_url(term)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED

    page = client.get(response["Location"])
    html = page.content.decode()
    assert f"Order {order.number} is cancelled." in html
    assert 'class="order-badge order-badge--cancelled"' in html
    assert "Customer changed their mind" in html


def test_hold_resume_note_and_mark_paid_from_the_lookup(client, service_user, lin):
    order = OrderFactory(customer=lin, payment_status=PaymentStatus.PENDING)
    client.force_login(service_user)
    term = lin.email

    for action, data in [
        ("hold", {"reason": "Address to be confirmed"}),
        ("resume", {}),
        ("note", {"text": "Called back at 15:00"}),
        ("mark_paid", {}),
    ]:
        response = post_from_lookup(client, action, order, term, **data)
        assert response["Location"] == lookup_url(term), action
        assert [level for level, _text in messages_of(response)] == ["success"], action
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW
    assert order.payment_status == PaymentStatus.PAID
    assert order.events.filter(kind="note", message="Called back at 15:00").exists()


def test_a_refused_action_returns_to_the_search_with_the_reason(client, service_user, lin):
    order = OrderFactory(customer=lin)
    client.force_login(service_user)
    response = post_from_lookup(client, "hold", order, lin.email, reason="")
    assert response["Location"] == lookup_url(lin.email)
    assert messages_of(response) == [("error", "Give a reason to put the order on hold.")]
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW


def test_warehouse_cannot_cancel_from_the_lookup(client, warehouse_user, lin):
    order = OrderFactory(customer=lin)
    client.force_login(warehouse_user)
    assert post_from_lookup(client, "cancel", order, lin.email, reason="x").status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW


def test_correcting_the_address_from_the_lookup_returns_to_the_search(client, service_user, lin):
    order = OrderFactory(customer=lin)
    client.force_login(service_user)
    next_url = lookup_url(lin.email)
    html = lookup(client, lin.email).content.decode()
    form_url = f"{action_url('address', order)}?{urlencode({'next': next_url})}"
    assert form_url.replace("&", "&amp;") in html or form_url in html

    page = client.get(form_url)
    assert page.status_code == 200
    fields = {name: getattr(order, name) for name in services.ADDRESS_FIELDS}
    response = client.post(form_url, {**fields, "ship_address1": "No. 1, Zhongxiao East Road"})
    assert response.status_code == 302
    assert response["Location"] == next_url
    order.refresh_from_db()
    assert order.ship_address1 == "No. 1, Zhongxiao East Road"


@pytest.mark.parametrize(
    "unsafe",
    [
        "https://evil.example.com/admin/",
        "//evil.example.com/",
        "javascript:alert(1)",
        "http://testserver.evil.example.com/",
        "///evil.example.com",
    ],
)
def test_an_unsafe_next_goes_to_the_order_page(client, service_user, lin, unsafe):
    order = OrderFactory(customer=lin)
    client.force_login(service_user)
    response = client.post(action_url("note", order), {"text": "hello", "next": unsafe})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:orders_order_change", args=[order.pk])


def test_a_safe_next_may_be_absolute_on_this_host_and_defaults_to_the_order_page(client, service_user, lin):
    order = OrderFactory(customer=lin)
    client.force_login(service_user)
    own = f"http://testserver{lookup_url('x')}"
    assert client.post(action_url("note", order), {"text": "a", "next": own})["Location"] == own
    response = client.post(action_url("note", order), {"text": "b"})
    assert response["Location"] == reverse("admin:orders_order_change", args=[order.pk])


# --- where staff find it ----------------------------------------------------------


@pytest.mark.parametrize("role", ["warehouse_user", "service_user", "manager"])
def test_the_admin_index_and_the_order_list_link_to_the_lookup(client, request, role):
    client.force_login(request.getfixturevalue(role))
    index = client.get(reverse("admin:index")).content.decode()
    assert "Find an order" in index and f'action="{reverse(LOOKUP)}"' in index
    order_list = client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert f'href="{reverse(LOOKUP)}"' in order_list


# --- query counts and indexes -----------------------------------------------------


def customers_with_orders(customers, orders_each, prefix):
    states = ["new", "processing", "shipped", "packed", "delivered"]
    made = []
    for index in range(customers):
        customer = CustomerFactory(name=f"{prefix} {index}")
        for number in range(orders_each):
            order = OrderFactory(customer=customer, status=states[number % len(states)], lines=1 + number % 3)
            services.order_add_note(order=order, actor=None, text=f"note {number}")
        made.append(customer)
    return made


def queries_for(client, term):
    lookup(client, term)  # warm the per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as captured:
        response = lookup(client, term)
    assert response.status_code == 200
    return len(captured.captured_queries), response


def test_query_count_is_the_same_for_1_customer_with_1_order_and_5_with_10_each(client, service_user, monkeypatch):
    monkeypatch.setattr(OrderAdmin, "lookup_several_order_limit", 10)  # all ten of each on the page
    client.force_login(service_user)
    customers_with_orders(1, 1, "Kao")
    few, response = queries_for(client, "kao")
    assert sum(len(orders) for orders in found(response).values()) == 1

    customers_with_orders(5, 10, "Tsai")
    many, response = queries_for(client, "tsai")
    assert len(found(response)) == 5 and all(len(orders) == 10 for orders in found(response).values())
    assert Shipment.objects.count() >= 20
    assert "and 1 more line" not in response.content.decode()  # three lines at most: all shown
    assert response.content.decode().count('class="lookup-item__sku"') == OrderLine.objects.filter(
        order__customer__name__startswith="Tsai"
    ).count()
    assert few == many


def test_the_selector_alone_runs_eleven_queries(django_assert_num_queries):
    customers = customers_with_orders(3, 3, "Hsu")
    order = customers[0].orders.first()
    with django_assert_num_queries(11):
        result = customer_lookup("hsu")
        for customer in result.customers:
            for order_ in customer.lookup_orders:
                order_.latest_events, list(order_.shipments.all()), order_.lookup_items
    assert len(result.customers) == 3
    # An order number has no run of letters to look for in names: one query fewer.
    with django_assert_num_queries(10):
        assert customer_lookup(order.number).matched_order_ids == {order.pk}




@pytest.mark.skipif(not ON_POSTGRESQL, reason="query plans (EXPLAIN, enable_seqscan) are PostgreSQL's")
def test_every_lookup_query_uses_an_index(lin):
    order = OrderFactory(customer=lin, shipped=True, number="SO-20001")
    tracking = order.shipments.get().tracking_number
    for term in ["SO-20001", "MEI.LIN@example.com", "+886 912 345 678", tracking, "Mei-hua"]:
        with CaptureQueriesContext(connection) as captured:
            customer_lookup(term)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            for query in captured.captured_queries:
                cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
                raw = cursor.fetchone()[0]
                plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
                assert full_scans(plan) == [], (term, query["sql"])


def test_a_refused_form_on_the_lookup_comes_back_with_what_was_typed(client, service_user, lin, monkeypatch):
    from orders.exceptions import WorkflowError

    order = OrderFactory(customer=lin, processing=True)
    other = OrderFactory(customer=lin, processing=True)
    client.force_login(service_user)
    back = lookup_url(lin.phone)

    def refuse(**kwargs):
        raise WorkflowError("Refused for the test.")  # a colleague moved the order meanwhile

    monkeypatch.setattr(services, "order_cancel", refuse)
    reason = "Customer asked <twice> to cancel"
    response = client.post(action_url("cancel", order), {"reason": reason, "next": back}, follow=True)
    assert response.redirect_chain[-1][0] == back
    html = response.content.decode()
    assert "Refused for the test." in html
    section = html[html.index(f'id="order-{order.pk}"'):]
    section = section[: section.index("</tbody>")]
    assert 'value="Customer asked &lt;twice&gt; to cancel"' in section and "<details open>" in section
    other_section = html[html.index(f'id="order-{other.pk}"'):]
    assert "Customer asked" not in other_section[: other_section.index("</tbody>")]
    # Read once: the next visit shows the forms empty again.
    assert "Customer asked" not in lookup(client, lin.phone).content.decode()

    # A note too long for the service comes back too, cut at nothing the person typed.
    long_note = "n" * 2001
    html = client.post(action_url("note", order), {"text": long_note, "next": back}, follow=True).content.decode()
    assert f'value="{long_note}"' in html
    assert not order.events.filter(kind="note").exists()


# --- open returns (issue 10, item 6) ---------------------------------------------------------


def test_the_lookup_shows_each_orders_open_returns_and_not_the_received_ones(client, service_user):
    from shipping.returns import return_open, return_receive

    customer = CustomerFactory(name="Chiu Ya-ting")
    waiting = OrderFactory(customer=customer, delivered=True, lines=2, quantity=2)
    first, second = waiting.lines.order_by("pk")
    record = return_open(order=waiting, actor=None, lines={first.pk: 2, second.pk: 1}, reason="Too small")
    done = OrderFactory(customer=customer, delivered=True)
    received = return_open(order=done, actor=None, lines={done.lines.get().pk: 1}, reason="Broken")
    return_receive(return_record=received, actor=None, outcomes={received.lines.get().pk: "damaged"})
    client.force_login(service_user)

    html = lookup(client, "Chiu").content.decode()

    assert html.count('class="lookup-return"') == 1
    assert f"Return #{record.pk} waiting to be received" in html
    assert f"2 × {first.sku}, 1 × {second.sku}" in html
    assert f"Return #{received.pk} waiting" not in html


def test_open_returns_cost_the_same_queries_for_one_order_and_ten(client, service_user, monkeypatch):
    from shipping.returns import return_open

    monkeypatch.setattr(OrderAdmin, "lookup_several_order_limit", 10)
    client.force_login(service_user)

    def with_returns(name, count):
        customer = CustomerFactory(name=name)
        for _index in range(count):
            order = OrderFactory(customer=customer, delivered=True, lines=2)
            return_open(order=order, actor=None, lines={line.pk: 1 for line in order.lines.all()}, reason="Broken")

    with_returns("Kuo One", 1)
    few, response = queries_for(client, "kuo")
    assert response.content.decode().count('class="lookup-return"') == 1
    with_returns("Hung Many", 10)
    many, response = queries_for(client, "hung")
    assert response.content.decode().count('class="lookup-return"') == 10
    assert few == many

"""The shipment list stays fast with millions of shipments (issue #8): every query
it runs is served by an index (the check is tests/inventory/test_list_plans.py's,
with sequential scans priced out), its queries do not grow with its rows, and odd
query strings get a page with a message, never a slow query or an error."""

from urllib.parse import urlencode

import pytest
from django.db.models import Q
from django.urls import reverse

from shipping.admin.shipments import ShipmentAdmin
from shipping.models import Shipment
from shipping.services import shipment_create
from tests.factories import CarrierFactory, OrderFactory, UserFactory
from tests.inventory.test_list_plans import assert_no_full_read, full_reads, messages_of, page_plans
from tests.utils import changelist_rows, page_queries, requires_postgresql_plans

pytestmark = pytest.mark.django_db

SHIPMENTS = reverse("admin:shipping_shipment_changelist")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def shipments(db):
    """Six shipments of two carriers, in two states; the first has a Post number."""
    post = CarrierFactory(code="POST", name="Post", tracking_number_pattern=r"[A-Z]{2}\d{9}TW")
    tcat = CarrierFactory(code="TCAT", name="T-Cat")
    made = []
    for n in range(6):
        order = OrderFactory(packed=True, number=f"SO-88{n}")
        carrier = post if n % 2 == 0 else tcat
        number = f"RR{123456780 + n}TW" if carrier is post else f"{900000000000 + n}"
        made.append(shipment_create(order=order, carrier=carrier, tracking_number=number, actor=None))
    return {"all": made, "post": post, "tcat": tcat}


def shipment_pages(shipments):
    first = shipments["all"][0]
    return {
        "all": {},
        "search tracking number as typed": {"q": "rr 123 456 780 tw"},
        "search order number": {"q": "so-880"},
        "status": {"status__exact": "pending"},
        "carrier": {"carrier__id__exact": shipments["tcat"].pk},
        "status and carrier": {"status__exact": "pending", "carrier__id__exact": shipments["post"].pk},
        "an order's shipments": {"order__id__exact": first.order_id},
        "by tracking number": {"o": "1"},
        "oldest first": {"o": "5"},
        "page 2": {"p": "2"},
        "page 999999": {"p": "999999"},
        "a sort it refuses": {"o": "6"},
        "a filter it refuses": {"shipped_at__isnull": "True"},
    }


@requires_postgresql_plans
@pytest.mark.parametrize(
    "page",
    [
        "all", "search tracking number as typed", "search order number", "status", "carrier", "status and carrier",
        "an order's shipments", "by tracking number", "oldest first", "page 2", "page 999999", "a sort it refuses",
        "a filter it refuses",
    ],
)  # fmt: skip
def test_every_shipment_list_query_uses_an_index(client, superuser, shipments, page, monkeypatch):
    # A page 2, and a count cap below the table's size, as with real data.
    monkeypatch.setattr(ShipmentAdmin, "list_per_page", 2)
    monkeypatch.setattr(ShipmentAdmin, "list_max_pages", 2)
    client.force_login(superuser)
    response = assert_no_full_read(client, SHIPMENTS, shipment_pages(shipments)[page])
    assert changelist_rows(response)


@requires_postgresql_plans
def test_the_check_catches_a_sort_and_a_search_no_index_serves(client, superuser, shipments, monkeypatch):
    import shipping.admin.shipments as shipment_admin

    client.force_login(superuser)
    monkeypatch.setattr(ShipmentAdmin, "sortable_by", None)  # every column, "shipped at" too
    plans, response = page_plans(client, SHIPMENTS, {"o": "6"})
    assert not messages_of(response)
    assert any(full_reads(plan) for _sql, plan in plans)
    monkeypatch.setattr(ShipmentAdmin, "sortable_by", ["created_at"])
    # The search as it was: an OR with a condition on the joined orders table.
    monkeypatch.setattr(
        shipment_admin,
        "shipment_search",
        lambda queryset, term: queryset.filter(Q(tracking_number=term.upper()) | Q(order__number=term)),
    )
    plans, _response = page_plans(client, SHIPMENTS, {"q": "SO-880"})
    assert any(full_reads(plan) for _sql, plan in plans)
    # And a substring match, which no b-tree index can answer.
    monkeypatch.setattr(
        shipment_admin, "shipment_search", lambda queryset, term: queryset.filter(tracking_number__icontains=term)
    )
    plans, _response = page_plans(client, SHIPMENTS, {"q": "4567"})
    assert any(full_reads(plan) for _sql, plan in plans)


# --- queries per page ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{"q": "RR123456780TW"}, {"q": "SO-880"}, {"status__exact": "pending"}, {"p": "2"}]
)
def test_shipment_list_query_count_does_not_grow_with_rows(client, warehouse_user, shipments, params, monkeypatch):
    monkeypatch.setattr(ShipmentAdmin, "list_per_page", 2)
    client.force_login(warehouse_user)
    url = f"{SHIPMENTS}?{urlencode(params)}"
    page_queries(client, url)  # warm the caches
    one, one_page = page_queries(client, url)
    # More shipments: for the search, the order's second (a voided one stays listed).
    first = shipments["all"][0]
    Shipment.objects.filter(pk=first.pk).update(status=Shipment.Status.CANCELLED)
    shipment_create(order=first.order, carrier=shipments["tcat"], tracking_number="777000000001", actor=None)
    for n in range(4):
        order = OrderFactory(packed=True, lines=2)
        shipment_create(order=order, carrier=shipments["tcat"], tracking_number=f"{800000000000 + n}", actor=None)
    many, many_page = page_queries(client, url)
    assert changelist_rows(one_page) and changelist_rows(many_page)
    assert many == one


# --- searching -------------------------------------------------------------------------


def test_a_whole_tracking_number_is_found_however_it_is_typed(client, service_user, shipments):
    client.force_login(service_user)
    first = shipments["all"][0]
    for typed in ("RR123456780TW", "rr123456780tw", " rr 123 456 780 tw ", "Rr 1234 5678 0Tw"):
        assert changelist_rows(client.get(SHIPMENTS, {"q": typed})) == [first], typed
    # A part of a number is not a search (see shipping.selectors.shipment_search).
    assert changelist_rows(client.get(SHIPMENTS, {"q": "RR1234"})) == []
    assert changelist_rows(client.get(SHIPMENTS, {"q": "so-880"})) == [first]
    assert changelist_rows(client.get(SHIPMENTS, {"q": "SO-999999"})) == []


# --- odd query strings -----------------------------------------------------------------


def test_a_page_past_the_end_shows_the_last_page_with_a_message(client, warehouse_user, shipments, monkeypatch):
    monkeypatch.setattr(ShipmentAdmin, "list_per_page", 2)
    client.force_login(warehouse_user)
    response = client.get(SHIPMENTS, {"p": "999999"})
    assert response.status_code == 200
    assert response.context["cl"].page_num == 3
    assert len(changelist_rows(response)) == 2
    assert messages_of(response)
    monkeypatch.setattr(ShipmentAdmin, "list_max_pages", 2)
    response = client.get(SHIPMENTS, {"p": "3"})
    assert response.context["cl"].page_num == 2
    assert any("first 2 pages" in text for text in messages_of(response)), messages_of(response)
    assert "4+ shipments" in response.content.decode()


def test_an_unindexed_sort_or_filter_is_left_out_with_a_message(client, warehouse_user, shipments):
    client.force_login(warehouse_user)
    default = [s.pk for s in changelist_rows(client.get(SHIPMENTS))]
    for odd in ("6", "4", "99", "abc"):  # shipped at, order, no such column, no column
        response = client.get(SHIPMENTS, {"o": odd})
        assert response.status_code == 200, odd
        assert [s.pk for s in changelist_rows(response)] == default, odd
        assert "cannot be sorted" in " ".join(messages_of(response)), odd
    by_number = changelist_rows(client.get(SHIPMENTS, {"o": "1"}))
    assert [s.tracking_number for s in by_number] == sorted(s.tracking_number for s in by_number)
    for param, value in (("shipped_at__gte", "2026-01-01"), ("tracking_number__icontains", "456"), ("void_reason", "x")):
        response = client.get(SHIPMENTS, {param: value}, follow=True)
        assert response.redirect_chain and response.status_code == 200, param
        assert [s.pk for s in changelist_rows(response)] == default, param
        assert any(param in text and "cannot be filtered" in text for text in messages_of(response)), param


def test_a_bad_filter_value_is_a_page_not_an_error(client, warehouse_user, shipments):
    client.force_login(warehouse_user)
    assert changelist_rows(client.get(SHIPMENTS, {"status__exact": "lost"})) == []
    default = [s.pk for s in changelist_rows(client.get(SHIPMENTS))]
    for value in ("abc", "²", "99999999999999999999"):
        response = client.get(SHIPMENTS, {"carrier__id__exact": value}, follow=True)
        assert response.status_code == 200, value
        assert [s.pk for s in changelist_rows(response)] == default, value
        assert any("is not a carrier id" in text for text in messages_of(response)), value
    response = client.get(SHIPMENTS, {"q": "x" * 500})
    assert response.status_code == 200 and changelist_rows(response) == []


def test_facet_counts_are_never_shown(client, warehouse_user, shipments):
    client.force_login(warehouse_user)
    response = client.get(SHIPMENTS, {"_facets": "1"})
    assert response.status_code == 200
    assert response.context["cl"].add_facets is False

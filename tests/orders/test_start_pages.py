"""The start page of each role on the admin index (orders.start_pages): what each role
sees, the ship-by time, the warehouse of a member of staff, the empty packing
station's queue, the sections' order, and query counts that do not grow with rows."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone, translation

from inventory.models import StaffWarehouse
from orders import services, start_pages
from orders.models import Order, StatusTarget
from shipping.services import shipment_create
from tests.factories import (
    CarrierFactory,
    OrderFactory,
    ProductFactory,
    StockLevelFactory,
    UserFactory,
    WarehouseFactory,
    manager_user,
    service_user,
    warehouse_user,
)
from tests.utils import page_queries

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
STATION = "/admin/orders/order/packing-station/"
HOUR = timedelta(hours=1)


def placed(hours_ago):
    return timezone.now() - hours_ago * HOUR


def index_for(client, user):
    client.force_login(user)
    response = client.get(INDEX)
    assert response.status_code == 200
    return response


def numbers(rows):
    return [row["number"] for row in rows]


@pytest.fixture
def warehouses(db):
    return WarehouseFactory(code="TPE", priority=1), WarehouseFactory(code="TXG", priority=2)


# --- the ship-by time -----------------------------------------------------------------


def test_ship_by_is_the_placed_time_plus_the_targets_of_new_processing_and_packed():
    # The defaults: New 24 h, Processing 24 h, Packed 12 h.
    at = timezone.now()
    assert start_pages.ship_by(at, start_pages.status_target_deltas()) == at + 60 * HOUR
    StatusTarget.objects.filter(status="packed").update(target_hours=2)
    StatusTarget.objects.filter(status="new").delete()  # a state without a target adds nothing
    assert start_pages.ship_by(at, start_pages.status_target_deltas()) == at + 26 * HOUR


# --- which page ---------------------------------------------------------------------------


def test_each_role_gets_its_page_and_a_superuser_keeps_the_plain_index(client):
    assert start_pages.start_page_role(warehouse_user(username="w")) == "warehouse"
    assert start_pages.start_page_role(service_user(username="s")) == "service"
    assert start_pages.start_page_role(manager_user(username="m")) == "manager"
    superuser = UserFactory(username="root", is_superuser=True)
    assert start_pages.start_page_role(superuser) is None

    response = index_for(client, superuser)
    assert response.context["start_role"] is None
    page = response.content.decode()
    assert "Find an order" in page and "Where orders get stuck" in page
    assert 'id="start-' not in page


# --- warehouse staff --------------------------------------------------------------------


def test_warehouse_staff_see_their_warehouses_queue_earliest_ship_by_first(client, warehouses):
    taipei, taichung = warehouses
    late = OrderFactory(number="SO-1", warehouse=taipei, processing=True, placed_at=placed(70))
    OrderFactory(number="SO-2", warehouse=taipei, processing=True, placed_at=placed(3))
    OrderFactory(number="SO-3", warehouse=taipei, processing=True, placed_at=placed(30), delivery_method="store_pickup")
    OrderFactory(number="SO-9", warehouse=taichung, processing=True, placed_at=placed(100))  # another warehouse
    OrderFactory(number="SO-10", warehouse=taipei, placed_at=placed(200))  # still New
    packed = OrderFactory(number="SO-20", warehouse=taipei, packed=True, placed_at=placed(20))
    OrderFactory(number="SO-21", warehouse=taipei, packed=True, placed_at=placed(10))  # no shipment yet
    shipment = shipment_create(order=packed, carrier=CarrierFactory(), tracking_number="123456789012", actor=None)
    packer = warehouse_user(username="packer")
    StaffWarehouse.objects.create(user=packer, warehouse=taipei)

    response = index_for(client, packer)
    context = response.context
    assert context["start_role"] == "warehouse" and context["warehouse"] == taipei
    queue = context["queue"]
    assert numbers(queue.orders) == ["SO-1", "SO-3", "SO-2"]
    assert queue.total == 3 and queue.packed == 2
    first = queue.orders[0]
    assert first["ship_by"] == late.placed_at + 60 * HOUR and first["late"] is True
    assert queue.orders[1]["late"] is False
    assert context["by_delivery_method"] == [("Home delivery", 2), ("Convenience-store pickup", 1)]
    assert context["by_carrier"] == [] and context["without_carrier"] == 3
    assert numbers(context["pickup"]) == ["SO-20", "SO-21"]
    assert context["pickup"][0]["shipments"] == [{"carrier": "T-Cat", "tracking_number": "123456789012"}]
    assert context["pickup"][1]["shipments"] == []
    assert context["pickup_by_carrier"] == [("T-Cat", 1)] and context["pickup_without_carrier"] == 1
    assert shipment.order_id == packed.pk

    page = response.content.decode()
    pick_list = reverse("admin:orders_order_pick_list") + "?ids=" + ",".join(str(row["pk"]) for row in queue.orders)
    assert pick_list in page and "Print pick list for these 3 orders" in page
    assert "SO-9" not in page and "SO-10" not in page
    assert f'action="{STATION}"' in page  # the packing-station box
    assert "You have no warehouse yet" not in page


def test_the_pick_list_button_takes_the_first_five_orders_of_the_queue(client, warehouses):
    taipei, _taichung = warehouses
    orders = [OrderFactory(warehouse=taipei, processing=True, placed_at=placed(50 - n)) for n in range(7)]
    packer = warehouse_user(username="packer")
    StaffWarehouse.objects.create(user=packer, warehouse=taipei)
    page = index_for(client, packer).content.decode()
    ids = ",".join(str(order.pk) for order in orders[:5])
    assert f'{reverse("admin:orders_order_pick_list")}?ids={ids}"' in page
    assert "Print pick list for these 5 orders" in page


def test_warehouse_staff_without_a_warehouse_see_every_warehouse_and_how_to_get_one(client, warehouses):
    taipei, taichung = warehouses
    OrderFactory(number="SO-1", warehouse=taipei, processing=True, placed_at=placed(5))
    OrderFactory(number="SO-2", warehouse=taichung, processing=True, placed_at=placed(9))
    response = index_for(client, warehouse_user(username="new-packer"))
    assert response.context["warehouse"] is None
    assert numbers(response.context["queue"].orders) == ["SO-2", "SO-1"]
    page = response.content.decode()
    assert "You have no warehouse yet" in page and "Ask a manager to set yours" in page


def test_an_empty_queue_says_so(client):
    page = index_for(client, warehouse_user(username="packer")).content.decode()
    assert "No order is waiting to be packed." in page
    assert "No packed order is waiting for a pickup." in page
    assert "Print pick list" not in page


def test_the_empty_packing_station_shows_the_queue_under_the_scan_box(client, warehouses):
    taipei, _taichung = warehouses
    for n in range(start_pages.STATION_QUEUE_LIMIT + 2):
        OrderFactory(number=f"SO-{100 + n}", warehouse=taipei, processing=True, placed_at=placed(40 - n))
    packer = warehouse_user(username="packer")
    StaffWarehouse.objects.create(user=packer, warehouse=taipei)
    client.force_login(packer)
    response = client.get(STATION)
    shown = numbers(response.context["queue"].orders)
    assert shown == [f"SO-{100 + n}" for n in range(start_pages.STATION_QUEUE_LIMIT)]
    page = response.content.decode()
    assert page.index('id="packing-code"') < page.index("SO-100") < page.index("SO-107")
    assert "Next to pack in TPE" in page and "And 2 more orders in Processing." in page
    # An open order shows no queue.
    opened = client.get(STATION, {"number": "SO-100"})
    assert "queue" not in opened.context and "Next to pack" not in opened.content.decode()


# --- customer service -----------------------------------------------------------------------


def test_customer_service_see_the_lookup_orders_on_hold_and_orders_past_their_target(client):
    held = OrderFactory(number="SO-1")
    services.order_hold(order=held, actor=None, reason="Customer asked to wait")
    OrderFactory(number="SO-2", processing=True)  # within its target
    late = OrderFactory(number="SO-3", processing=True)
    Order.objects.filter(pk=late.pk).update(status_changed_at=placed(30))  # Processing's target is 24 h

    response = index_for(client, service_user(username="cs"))
    context = response.context
    assert numbers(context["on_hold"]) == ["SO-1"] and context["on_hold_total"] == 1
    assert context["on_hold"][0]["held_from_label"] == "New"
    assert numbers(context["past_target"]) == ["SO-3"] and context["past_target_total"] == 1
    assert context["past_target"][0]["late_by_text"] == "6 h"
    page = response.content.decode()
    assert reverse("admin:orders_order_lookup") in page and 'id="lookup-q"' in page
    assert "On hold: 1 order" in page and "Past the target time: 1 order" in page
    assert "Print pick list" not in page


# --- managers -----------------------------------------------------------------------------


def test_managers_see_todays_counts_overdue_orders_low_stock_and_the_reports(client, warehouses):
    taipei, _taichung = warehouses
    OrderFactory(warehouse=taipei)
    late = OrderFactory(number="SO-LATE", warehouse=taipei, processing=True)
    Order.objects.filter(pk=late.pk).update(status_changed_at=placed(48))
    tea = ProductFactory(sku="TEA-LOW", low_stock_threshold=5)
    StockLevelFactory(product=tea, warehouse=taipei, on_hand=2)

    response = index_for(client, manager_user(username="boss"))
    context = response.context
    states = {row["status"]: row for row in context["states"]}
    assert states["new"]["orders"] == 1 and states["processing"] == {**states["processing"], "orders": 1, "overdue": 1}
    assert numbers(context["past_target"]) == ["SO-LATE"]
    assert [row["product__sku"] for row in context["low_stock"]] == ["TEA-LOW"]
    page = response.content.decode()
    for name in [
        "admin:orders_order_dashboard",
        "admin:orders_order_export",
        "admin:inventory_stocklevel_export",
        "admin:orders_order_import",
        "admin:inventory_stocklevel_import",
    ]:
        assert f'href="{reverse(name)}"' in page, name


# --- each page's queries do not grow with its rows ---------------------------------------------


def fill(warehouse, count):
    """`count` orders of each kind a start page lists."""
    for n in range(count):
        OrderFactory(warehouse=warehouse, processing=True, placed_at=placed(n + 1))
        OrderFactory(warehouse=warehouse, packed=True, placed_at=placed(n + 1))
        held = OrderFactory(warehouse=warehouse)
        services.order_hold(order=held, actor=None, reason="Wait")
        late = OrderFactory(warehouse=warehouse, processing=True)
        Order.objects.filter(pk=late.pk).update(status_changed_at=placed(40 + n))
        product = ProductFactory(low_stock_threshold=5)
        StockLevelFactory(product=product, warehouse=warehouse, on_hand=1)
        services.order_cancel(order=OrderFactory(warehouse=warehouse), actor=None, reason="Changed their mind")


@pytest.mark.parametrize("role", ["warehouse", "service", "manager"])
def test_a_start_page_runs_the_same_queries_for_two_rows_or_more_than_it_shows(client, warehouses, role):
    taipei, _taichung = warehouses
    user = {"warehouse": warehouse_user, "service": service_user, "manager": manager_user}[role](username=role)
    StaffWarehouse.objects.create(user=user, warehouse=taipei)
    client.force_login(user)
    fill(taipei, 2)
    few, response = page_queries(client, INDEX)
    listed = rows_listed(response.context)
    fill(taipei, start_pages.QUEUE_LIMIT + 2)
    many, response = page_queries(client, INDEX)
    assert 0 < listed < rows_listed(response.context)
    assert few == many


def rows_listed(context):
    lists = ["pickup", "on_hold", "past_target", "low_stock", "states", "refunds_due"]
    queue = context.get("queue")
    return sum(len(context.get(name) or []) for name in lists) + (len(queue.orders) if queue else 0)


def test_the_empty_packing_station_runs_the_same_queries_for_two_orders_or_more_than_it_shows(client, warehouses):
    taipei, _taichung = warehouses
    client.force_login(warehouse_user(username="packer"))
    fill(taipei, 2)
    few, response = page_queries(client, STATION)
    assert len(response.context["queue"].orders) == 4  # 2 + the 2 past their target
    fill(taipei, start_pages.STATION_QUEUE_LIMIT)
    many, response = page_queries(client, STATION)
    assert len(response.context["queue"].orders) == start_pages.STATION_QUEUE_LIMIT
    assert few == many


# --- the staff warehouse, set by managers -------------------------------------------------------


def test_managers_set_a_members_warehouse_in_the_admin_and_warehouse_staff_cannot(client, warehouses):
    taipei, _taichung = warehouses
    packer = warehouse_user(username="packer")
    add = reverse("admin:inventory_staffwarehouse_add")
    client.force_login(packer)
    assert client.get(add).status_code == 403
    client.force_login(manager_user(username="boss"))
    response = client.post(add, {"user": packer.pk, "warehouse": taipei.pk})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert StaffWarehouse.objects.get(user=packer).warehouse == taipei
    # One warehouse per member of staff: a second one is refused with a message.
    again = client.post(add, {"user": packer.pk, "warehouse": taipei.pk})
    assert again.status_code == 200 and "already exists" in again.content.decode()
    assert StaffWarehouse.objects.count() == 1


# --- the sections' order ---------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_the_sections_are_in_the_same_order_in_every_language(rf, language):
    request = rf.get(INDEX)
    request.user = UserFactory(username="root", is_superuser=True)
    with translation.override(language):
        apps = admin.site.get_app_list(request)
        labels = [app["app_label"] for app in apps]
        assert labels[:4] == ["orders", "shipping", "inventory", "reports"]
        rest = [str(app["name"]) for app in apps[4:]]
        assert rest and rest == sorted(rest)  # then the others by name


def test_the_nav_sidebar_lists_the_sections_in_the_same_order(client):
    client.force_login(manager_user(username="boss"))
    with translation.override("zh-hant"):
        page = client.get(reverse("admin:orders_order_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert '<html lang="zh-hant"' in page
    sidebar = page[page.index('id="nav-sidebar"') :]
    positions = [sidebar.index(f'class="app-{label} module') for label in ["orders", "shipping", "inventory", "reports"]]
    assert positions == sorted(positions)

"""The start pages and the empty packing station read their tables through indexes,
so they stay fast with millions of orders (the method of test_list_plans.py: every
query of the page EXPLAINed with sequential scans priced out, on 30,000 old orders)."""

import pytest

from inventory.models import StaffWarehouse
from orders import services
from orders.models import Order
from tests.factories import OrderFactory, manager_user, service_user, warehouse_user
from tests.orders.test_list_plans import assert_no_full_scans, data  # noqa: F401  (a fixture)
from tests.utils import requires_postgresql_plans

pytestmark = [requires_postgresql_plans, pytest.mark.django_db]


@pytest.fixture
def open_orders(data):  # noqa: F811
    """Orders each page lists: held, past their target, and more to pack and to pick up."""
    taipei = data["warehouse"]
    for _ in range(2):
        late = OrderFactory(warehouse=taipei, processing=True)
        Order.objects.filter(pk=late.pk).update(status_changed_at=late.status_changed_at.replace(year=2025))
        OrderFactory(warehouse=taipei, packed=True)
    services.order_hold(order=OrderFactory(warehouse=taipei), actor=None, reason="Wait")
    return data


@pytest.mark.parametrize("role", ["warehouse", "warehouse without a warehouse", "service", "manager"])
def test_each_start_page_reads_through_indexes(client, open_orders, role):
    make = {"warehouse": warehouse_user, "service": service_user, "manager": manager_user}[role.split()[0]]
    user = make(username="someone")
    if role == "warehouse":
        StaffWarehouse.objects.create(user=user, warehouse=open_orders["warehouse"])
    client.force_login(user)
    response = assert_no_full_scans(client, "/admin/")
    assert response.context["start_role"] == role.split()[0]
    listed = response.context.get("queue").orders if role.startswith("warehouse") else response.context["past_target"]
    assert listed  # the plans are of queries that found rows


def test_the_empty_packing_station_reads_through_indexes(client, open_orders):
    packer = warehouse_user(username="packer")
    StaffWarehouse.objects.create(user=packer, warehouse=open_orders["warehouse"])
    client.force_login(packer)
    response = assert_no_full_scans(client, "/admin/orders/order/packing-station/")
    assert response.context["queue"].orders

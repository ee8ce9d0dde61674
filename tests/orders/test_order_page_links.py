from django.urls import reverse

from tests.factories import OrderFactory


def test_order_page_links_to_packing_slip_and_station_for_warehouse_staff(client, warehouse_user):
    order = OrderFactory(processing=True)
    client.force_login(warehouse_user)
    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert f'{reverse("admin:orders_order_packing_slips")}?ids={order.pk}' in html
    assert f'{reverse("admin:orders_order_packing_station")}?number={order.number}' in html


def test_customer_service_gets_neither_link(client, service_user):
    order = OrderFactory(processing=True)
    client.force_login(service_user)
    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert reverse("admin:orders_order_packing_slips") not in html
    assert reverse("admin:orders_order_packing_station") not in html

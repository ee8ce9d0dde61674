"""A convenience-store pickup in a browser: the order page (which passes axe) offers
only the chain's carrier, the parcel is booked with it, and the packing slip's label
layout prints the store (chain, name, code) large in place of the street address."""

from orders.models import OrderStatus
from shipping.models import Carrier
from tests.e2e.axe import assert_accessible
from tests.factories import OrderFactory, ProductFactory, warehouse_user


def test_a_7_eleven_pickup_ships_with_its_carrier_and_prints_the_store(db, login, page, screenshot):
    tea = ProductFactory(sku="TEA-OOL-300", name="烏龍茶 Oolong tea 300g")
    order = OrderFactory(
        number="SO-7110",
        lines=[tea],
        packed=True,
        delivery_method="store_pickup",
        pickup_chain="7-eleven",
        pickup_store_code="131386",
        pickup_store_name="府城門市",
        ship_name="林美華",
        ship_phone="0912-345-678",
    )
    login(warehouse_user(username="packer"))

    page.goto(f"/admin/orders/order/{order.pk}/change/")
    ship_to = page.locator("fieldset", has_text="Ship to").inner_text()
    assert "府城門市" in ship_to and "131386" in ship_to
    assert_accessible(page)
    options = page.locator('.order-shipment-form select[name="carrier"] option').all_inner_texts()
    assert options == ["Carrier…", "7-ELEVEN 交貨便"]  # not DHL, not T-Cat
    page.select_option('select[name="carrier"]', label="7-ELEVEN 交貨便")
    page.fill('input[name="tracking_number"]', "F12345678901")
    with page.expect_navigation():
        page.get_by_role("button", name="Create shipment").click()
    assert "Shipment 7-ELEVEN 交貨便 F12345678901 created." in page.locator(".messagelist").inner_text()
    assert order.shipments.get().carrier == Carrier.objects.get(code="SEVEN")

    page.goto(f"/admin/orders/order/print/packing-slips/?ids={order.pk}&layout=label")
    store = page.locator(".slip-store")
    assert store.locator(".slip-store-chain").inner_text() == "7-ELEVEN"
    assert store.locator(".slip-store-name").inner_text() == "府城門市"
    assert "131386" in store.locator(".slip-store-code").inner_text()
    # Printed large: the store's name and code are bigger than the recipient's name.
    size = "el => parseFloat(getComputedStyle(el).fontSize)"
    name_size = page.locator(".ship-name").evaluate(size)
    assert store.locator(".slip-store-name").evaluate(size) > name_size
    assert store.locator(".slip-store-code strong").evaluate(size) > name_size
    assert page.locator(".ship-name").inner_text() == "林美華"
    assert "0912-345-678" in page.locator(".slip-ship-to").inner_text()
    assert page.locator(".slip-ship-to address").count() == 0  # no street address on a pickup label
    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED
    screenshot()

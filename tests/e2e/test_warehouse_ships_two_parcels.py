"""Issue 10's "an order ships as two parcels with two carriers", in a browser: warehouse
staff put part of the order in a T-Cat parcel, the rest in a Chunghwa Post parcel, and
mark the order shipped; the page lists both parcels with what each holds, and passes
axe's rules with the parcel form and with the parcels."""

from decimal import Decimal

from inventory.models import StockLevel
from orders import services
from orders.models import OrderStatus, PaymentStatus
from shipping.models import Shipment
from tests.e2e.axe import assert_accessible
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    ProductFactory,
    WarehouseFactory,
    order_to,
    receive_stock,
    warehouse_user,
)


def click(page, locator):
    with page.expect_navigation():
        locator.click()


def tick_all(page):
    while page.get_by_role("button", name="Tick", exact=True).count():
        click(page, page.get_by_role("button", name="Tick", exact=True).first)


def test_an_order_ships_as_two_parcels_with_two_carriers(db, login, page, screenshot):
    CarrierFactory(code="TESTCAT", name="T-Cat", tracking_number_pattern=r"\d{12}")
    CarrierFactory(code="TESTPOST", name="Chunghwa Post", tracking_number_pattern=r"[A-Z]{2}\d{9}TW")
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    tea = ProductFactory(sku="TEA-OB-100", name="Oolong tea 100 g")
    cup = ProductFactory(sku="CUP-WH-200", name="Cup")
    for product in (tea, cup):
        receive_stock(product, warehouse, 10)
    customer = CustomerFactory()
    order = services.order_create(
        number="SO-7001",
        customer=customer,
        lines=[
            {"product": tea, "quantity": 3, "unit_price": Decimal("120")},
            {"product": cup, "quantity": 2, "unit_price": Decimal("80")},
        ],
        payment_status=PaymentStatus.PAID,
        ship_name=customer.name,
        ship_address1="No. 7, Section 5, Xinyi Road",
        ship_city="Taipei",
    )
    order = order_to(order, OrderStatus.PACKED)
    login(warehouse_user(username="packer"))
    order_page = f"/admin/orders/order/{order.pk}/change/"

    # The first parcel: 2 of the 3 teas, no cups, with T-Cat.
    page.goto(order_page)
    assert_accessible(page)
    tea_box = page.get_by_label("Quantity of TEA-OB-100 in this parcel")
    cup_box = page.get_by_label("Quantity of CUP-WH-200 in this parcel")
    assert (tea_box.input_value(), cup_box.input_value()) == ("3", "2")
    tea_box.fill("2")
    cup_box.fill("0")
    page.select_option('select[name="carrier"]', label="T-Cat")
    page.fill('input[name="tracking_number"]', "123456789012")
    click(page, page.get_by_role("button", name="Create shipment"))
    assert "Shipment T-Cat 123456789012 created." in page.locator(".messagelist").inner_text()

    # The rest, with Chunghwa Post: the form offers what is left.
    assert page.get_by_label("Quantity of TEA-OB-100 in this parcel").input_value() == "1"
    assert page.get_by_label("Quantity of CUP-WH-200 in this parcel").input_value() == "2"
    screenshot("test_an_order_ships_as_two_parcels_with_two_carriers-another-parcel")
    page.select_option('select[name="carrier"]', label="Chunghwa Post")
    page.fill('input[name="tracking_number"]', "RR123456789TW")
    click(page, page.get_by_role("button", name="Create shipment"))
    assert page.get_by_role("button", name="Create shipment").count() == 0  # nothing left

    shipments = page.locator(".order-shipments").inner_text()
    assert "2 × TEA-OB-100" in shipments
    assert "1 × TEA-OB-100" in shipments and "2 × CUP-WH-200" in shipments
    assert_accessible(page)
    tick_all(page)
    click(page, page.get_by_role("button", name="Mark shipped"))

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert sorted(order.shipments.values_list("carrier__code", "status")) == [
        ("TESTCAT", Shipment.Status.SHIPPED),
        ("TESTPOST", Shipment.Status.SHIPPED),
    ]
    assert StockLevel.objects.get(product=tea).on_hand == 7 and StockLevel.objects.get(product=cup).on_hand == 8
    timeline = page.locator("body").inner_text()
    assert "Shipment created: TESTCAT 123456789012 (2 × TEA-OB-100)" in timeline
    assert "Shipment created: TESTPOST RR123456789TW (1 × TEA-OB-100, 2 × CUP-WH-200)" in timeline
    screenshot()

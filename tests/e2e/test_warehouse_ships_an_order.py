"""Issue 2's walk-through in a browser: a warehouse user takes an order from new to
shipped through its checklists, with the order page and the packing station."""

from inventory.models import StockLevel
from orders.models import OrderStatus
from tests.factories import CarrierFactory, OrderFactory, ProductFactory, warehouse_user


def click(page, locator):
    with page.expect_navigation():
        locator.click()


def tick_all(page):
    while page.get_by_role("button", name="Tick", exact=True).count():
        click(page, page.get_by_role("button", name="Tick", exact=True).first)


def test_new_to_shipped_through_the_checklists(db, login, page, screenshot):
    CarrierFactory()  # "T-Cat", twelve digits
    tea = ProductFactory(sku="TEA-GREEN-100", barcode="4710000000100")
    order = OrderFactory(number="SO-6001", lines=[tea], quantity=2)
    login(warehouse_user(username="packer"))
    order_page = f"/admin/orders/order/{order.pk}/change/"

    # New: the advance button is refused until the manual step is ticked.
    page.goto(order_page)
    start = page.get_by_role("button", name="Start processing")
    assert start.is_disabled()
    tick_all(page)
    click(page, page.get_by_role("button", name="Start processing"))
    assert "Processing" in page.locator(".messagelist").inner_text()
    assert StockLevel.objects.get(product=tea).reserved == 2

    # Processing: pick and scan at the packing station, tick, mark packed.
    click(page, page.get_by_role("link", name="Open at packing station"))
    # Scans and ticks are answered in place (no page load); "+" moves to the next order.
    for _ in range(2):
        page.keyboard.type(tea.barcode)
        page.keyboard.press("Enter")
    for number in page.locator(".packing-tick:has(button)").evaluate_all("f => f.map(x => x.dataset.step)"):
        page.keyboard.type(number)
        page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('packing-station').dataset.pending === '0'")
    page.keyboard.type("+")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED

    # Packed: book the shipment, hand it over, mark shipped.
    page.goto(order_page)
    page.select_option('select[name="carrier"]', label="T-Cat")
    page.fill('input[name="tracking_number"]', "123456789012")
    click(page, page.get_by_role("button", name="Create shipment"))
    tick_all(page)
    click(page, page.get_by_role("button", name="Mark shipped"))

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    level = StockLevel.objects.get(product=tea)
    assert (level.on_hand, level.reserved) == (8, 0)
    timeline = page.locator("body").inner_text()
    assert "Packed → Shipped" in timeline and "packer" in timeline
    screenshot()

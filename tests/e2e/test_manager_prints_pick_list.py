"""A manager selects orders on the order list and prints their pick list: one per
warehouse the orders pick from, sorted by bin location, passing axe-core's WCAG 2 A/AA rules."""

from tests.e2e.axe import assert_accessible

from inventory.services import stock_location_set
from tests.factories import OrderFactory, ProductFactory, WarehouseFactory, manager_user



def print_pick_list(page, *orders):
    """As a manager would: tick the orders on the processing list, choose the action, Go."""
    page.goto("/admin/orders/order/?status__exact=processing")
    for order in orders:
        page.locator(f'input[name="_selected_action"][value="{order.pk}"]').check()
    page.select_option('select[name="action"]', "print_pick_list")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector(".pick-table")


def test_manager_prints_a_pick_list_for_selected_orders(db, login, page, screenshot):
    tea = ProductFactory(sku="TEA-OOLONG-300", name="烏龍茶 Oolong tea 300g")
    cups = ProductFactory(sku="CUP-CERAMIC", name="Ceramic cup")
    first = OrderFactory(number="SO-3001", lines=[tea, cups], quantity=2, processing=True)
    second = OrderFactory(number="SO-3002", lines=[tea], quantity=1, processing=True)
    OrderFactory(number="SO-3003", lines=[cups], quantity=5, processing=True)  # not selected

    login(manager_user(username="boss"))
    print_pick_list(page, first, second)
    tea_row = page.locator(".pick-table tbody tr", has_text="TEA-OOLONG-300")
    assert tea_row.locator(".col-qty").inner_text().strip() == "3"  # 2 + 1 across the two orders
    assert "SO-3001" in tea_row.inner_text() and "SO-3002" in tea_row.inner_text()
    cups_row = page.locator(".pick-table tbody tr", has_text="CUP-CERAMIC")
    assert cups_row.locator(".col-qty").inner_text().strip() == "2"  # SO-3003 was not selected
    assert "SO-3003" not in page.content()
    assert page.locator(".pick-table svg").count() == 2  # a Code128 barcode per SKU
    screenshot()


def test_manager_prints_one_list_per_warehouse_sorted_by_location(db, login, page, screenshot):
    taipei = WarehouseFactory(code="TPE", name="台北倉 Taipei", priority=1)
    taichung = WarehouseFactory(code="TXG", name="台中倉 Taichung", priority=2)
    tea = ProductFactory(sku="TEA-OOLONG-300", name="烏龍茶 Oolong tea 300g")
    cups = ProductFactory(sku="CUP-CERAMIC", name="Ceramic cup")
    pot = ProductFactory(sku="POT-IRON", name="Iron teapot")
    north = OrderFactory(number="SO-3101", lines=[tea, cups, pot], quantity=1, warehouse=taipei, processing=True)
    south = OrderFactory(number="SO-3102", lines=[tea, cups], quantity=2, warehouse=taichung, processing=True)
    for product, warehouse, location in [
        (tea, taipei, "C-01-1"), (cups, taipei, "A-10-2"), (pot, taipei, "A-2-1"), (cups, taichung, "B-4"),
    ]:
        stock_location_set(product=product, warehouse=warehouse, location=location, actor=None)

    login(manager_user(username="boss"))
    print_pick_list(page, north, south)
    sheets = page.locator("article.pick-list")
    assert sheets.count() == 2
    assert "TPE" in sheets.nth(0).locator("h1").inner_text()
    assert "TXG" in sheets.nth(1).locator("h1").inner_text()

    def walk(sheet):
        rows = sheet.locator(".pick-table tbody tr")
        return [
            (rows.nth(i).locator(".col-location").inner_text().strip(), rows.nth(i).locator(".col-sku").inner_text().strip())
            for i in range(rows.count())
        ]

    assert walk(sheets.nth(0)) == [("A-2-1", "POT-IRON"), ("A-10-2", "CUP-CERAMIC"), ("C-01-1", "TEA-OOLONG-300")]
    assert walk(sheets.nth(1)) == [("B-4", "CUP-CERAMIC"), ("—", "TEA-OOLONG-300")]
    assert "SO-3102" not in sheets.nth(0).inner_text() and "SO-3101" not in sheets.nth(1).inner_text()
    assert_accessible(page)
    screenshot()

"""A manager selects orders on the order list and prints their pick list."""

from tests.factories import OrderFactory, ProductFactory, manager_user


def test_manager_prints_a_pick_list_for_selected_orders(db, login, page, screenshot):
    tea = ProductFactory(sku="TEA-OOLONG-300", name="烏龍茶 Oolong tea 300g")
    cups = ProductFactory(sku="CUP-CERAMIC", name="Ceramic cup")
    first = OrderFactory(number="SO-3001", lines=[tea, cups], quantity=2, processing=True)
    second = OrderFactory(number="SO-3002", lines=[tea], quantity=1, processing=True)
    OrderFactory(number="SO-3003", lines=[cups], quantity=5, processing=True)  # not selected

    login(manager_user(username="boss"))
    page.goto("/admin/orders/order/?status__exact=processing")
    for order in (first, second):
        page.locator(f'input[name="_selected_action"][value="{order.pk}"]').check()
    page.select_option('select[name="action"]', "print_pick_list")
    page.get_by_role("button", name="Go").click()

    page.wait_for_selector(".pick-table")
    tea_row = page.locator(".pick-table tbody tr", has_text="TEA-OOLONG-300")
    assert tea_row.locator(".col-qty").inner_text().strip() == "3"  # 2 + 1 across the two orders
    assert "SO-3001" in tea_row.inner_text() and "SO-3002" in tea_row.inner_text()
    cups_row = page.locator(".pick-table tbody tr", has_text="CUP-CERAMIC")
    assert cups_row.locator(".col-qty").inner_text().strip() == "2"  # SO-3003 was not selected
    assert "SO-3003" not in page.content()
    assert page.locator(".pick-table svg").count() == 2  # a Code128 barcode per SKU
    screenshot()

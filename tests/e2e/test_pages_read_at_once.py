"""The order list at a 1366 px laptop screen: every column, Placed included, fits
without scrolling sideways, for managers (the most columns, filters beside the list)
and warehouse staff, in both languages; and the pages people read at once look right:
a bulk result as a summary and a list, a 403 inside the admin's layout."""

from datetime import timedelta

import pytest
from tests.e2e.axe import assert_accessible
from django.utils import timezone

from tests.factories import CustomerFactory, OrderFactory, WarehouseFactory, manager_user, warehouse_user


LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def orders(db):
    taipei = WarehouseFactory(code="TPE", name="台北倉 Taipei", priority=1)
    now = timezone.now()
    long_name = CustomerFactory(name="歐陽·Christopher Alexander Montgomery-Smythe")
    made = [
        OrderFactory(customer=long_name, number="SO-1052", placed_at=now - timedelta(days=3)),
        OrderFactory(warehouse=taipei, processing=True, placed_at=now - timedelta(days=2)),
        OrderFactory(warehouse=taipei, shipped=True, placed_at=now - timedelta(days=9)),
    ]
    for order in made:
        order.__class__.objects.filter(pk=order.pk).update(total=123456)
    return made


def measure(page):
    return page.evaluate(
        """() => {
            const table = document.querySelector('#result_list');
            const results = table.closest('.results');
            const placed = document.querySelector('#result_list th.column-placed_display');
            const rect = placed.getBoundingClientRect();
            return {
                viewport: document.documentElement.clientWidth,
                page: document.documentElement.scrollWidth,
                table: table.getBoundingClientRect().width,
                results: results.clientWidth,
                resultsScroll: results.scrollWidth,
                resultsRight: results.getBoundingClientRect().right,
                placedRight: rect.right,
                placedWidth: rect.width,
            };
        }"""
    )


@pytest.mark.parametrize("role", ["manager", "warehouse"])
@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_the_order_list_fits_1366_px(login, page, orders, screenshot, role, language):
    page.set_viewport_size(LAPTOP)
    user = manager_user(username="boss") if role == "manager" else warehouse_user(username="wh")
    login(user)
    if language != "en":
        with page.expect_navigation():
            page.select_option("#site-language", language)
    page.goto("/admin/orders/order/")
    sizes = measure(page)
    screenshot(f"order_list_1366_{role}_{language}")
    assert sizes["page"] <= sizes["viewport"], sizes  # no sideways scrolling
    assert sizes["resultsScroll"] <= sizes["results"], sizes  # nor inside the list's own box
    assert sizes["table"] <= sizes["viewport"], sizes
    assert 0 < sizes["placedRight"] <= min(sizes["viewport"], sizes["resultsRight"]), sizes
    assert page.locator("#result_list th.column-placed_display").is_visible()


def test_a_bulk_advance_reads_as_a_summary_and_a_list(login, page, orders, screenshot):
    page.set_viewport_size(LAPTOP)
    login(warehouse_user(username="wh"))
    page.goto("/admin/orders/order/")
    page.locator("#action-toggle").check()  # all three: one new (not ticked), one processing, one shipped
    page.select_option("select[name=action]", "advance_selected")
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()
    message = page.locator("ul.messagelist > li").first
    assert message.inner_text().splitlines()[0] == "0 advanced, 3 refused"
    lines = message.locator("ul.message-list > li")
    assert lines.count() == 3
    texts = lines.all_inner_texts()
    for order in orders:  # one line per order, each naming its order
        assert sum(order.number in text.replace(":", " ").split() for text in texts) == 1, (order.number, texts)
    assert any(text.startswith("SO-1052: missing “") for text in texts)
    screenshot("bulk_advance_result")


def test_a_manager_page_is_an_admin_403_with_a_way_back(login, page, screenshot):
    page.set_viewport_size(LAPTOP)
    login(warehouse_user(username="wh"))
    response = page.goto("/admin/orders/order/dashboard/")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "No access to this page"
    assert page.locator("#site-name").inner_text() == "Fulfilment back-office"
    assert page.locator(".breadcrumbs").is_visible()
    assert_accessible(page)
    screenshot("forbidden_en")
    with page.expect_navigation():
        page.select_option("#site-language", "zh-hant")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    assert page.locator("#site-name").inner_text() != "Fulfilment back-office"
    screenshot("forbidden_zh_hant")
    with page.expect_navigation():
        page.locator(".http-error__ways-back a").last.click()
    assert page.url.endswith("/admin/")


def test_a_managers_cycle_count_says_the_difference(login, page, screenshot):
    from tests.factories import StockLevelFactory

    level = StockLevelFactory(on_hand=56)
    page.set_viewport_size(LAPTOP)
    login(manager_user(username="boss"))
    page.goto(f"/admin/inventory/stocklevel/count/?product={level.product_id}&warehouse={level.warehouse_id}")
    page.fill("input[name=on_hand]", "55")
    with page.expect_navigation():
        page.locator("input[type=submit], button[type=submit]").last.click()
    message = page.locator("ul.messagelist > li").first.inner_text()
    assert message == f"Counted {level.product.sku} in {level.warehouse.code}: on hand 56 → 55 (\N{MINUS SIGN}1)."
    screenshot("cycle_count_difference")

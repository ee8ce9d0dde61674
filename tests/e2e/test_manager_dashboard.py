"""A manager opens the dashboard from the admin index, reads the chart, downloads a
table, and the page passes axe-core's WCAG 2 A and AA rules in both languages."""

from datetime import timedelta

from tests.e2e.axe import assert_accessible
from django.utils import timezone

from orders import services
from tests.factories import OrderFactory, ProductFactory, StockLevelFactory, WarehouseFactory, manager_user



def test_manager_reads_the_dashboard_and_downloads_a_table(db, login, page, screenshot):
    taipei = WarehouseFactory(code="TPE", name="台北倉 Taipei", priority=1)
    now = timezone.now()
    for days in range(6):
        OrderFactory(warehouse=taipei, placed_at=now - timedelta(days=days, hours=2))
    OrderFactory(warehouse=taipei, shipped=True, placed_at=now - timedelta(days=3))
    OrderFactory(warehouse=taipei, processing=True, placed_at=now - timedelta(days=8))
    services.order_cancel(order=OrderFactory(warehouse=taipei), actor=None, reason="客戶取消")
    scanning = OrderFactory(warehouse=taipei, processing=True, quantity=2)
    services.order_scan(order=scanning, code=scanning.lines.first().sku, actor=None)
    services.order_scan_refusal_record(order=scanning, code="4710000999999", reason="Not in the order", actor=None)
    tea = ProductFactory(sku="TEA-OOLONG-300", name="烏龍茶 Oolong tea 300g", low_stock_threshold=5)
    StockLevelFactory(product=tea, warehouse=taipei, on_hand=2)

    login(manager_user(username="boss"))
    with page.expect_navigation():
        page.get_by_role("link", name="Where orders get stuck").click()
    assert page.locator("h1").inner_text() == "Managers' dashboard"

    chart = page.get_by_role("img", name="Orders placed and shipped per day")
    assert chart.is_visible()
    assert chart.locator("rect").count() >= 6  # a bar for each day with orders
    states = page.locator("section", has=page.get_by_role("heading", name="Orders in each state now"))
    assert "Processing" in states.inner_text()
    low_stock = page.locator("section", has=page.get_by_role("heading", name="Low stock"))
    assert "TEA-OOLONG-300" in low_stock.inner_text()
    rates = page.locator(".dashboard-rates").inner_text()
    assert "10.0%" in rates and "50.0%" in rates  # 1 of 10 orders cancelled, 1 of 2 scans refused

    with page.expect_download() as download_info:
        low_stock.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("dashboard-low_stock-")
    content = open(download.path(), encoding="utf-8").read()
    assert content.startswith("\ufeffSKU,product,warehouse")
    assert "烏龍茶 Oolong tea 300g" in content

    assert_accessible(page)
    screenshot("manager_dashboard_en")

    with page.expect_navigation():
        page.select_option("#site-language", "zh-hant")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    assert page.get_by_role("img").first.is_visible()
    assert_accessible(page)
    screenshot("manager_dashboard_zh_hant")

"""Each role logs in and lands on its start page (the admin index): warehouse staff
on their warehouse's packing queue, from which they print the pick list of the first
five orders; customer service on the lookup, the orders on hold and those past their
target; managers on today's counts, the overdue orders, low stock and the reports.
Each page passes axe-core's WCAG 2 A and AA rules, in English and in 繁體中文."""

from datetime import timedelta

from tests.e2e.axe import assert_accessible
from django.utils import timezone

from inventory.models import StaffWarehouse
from orders import services
from orders.models import Order
from tests.factories import (
    OrderFactory,
    ProductFactory,
    StockLevelFactory,
    WarehouseFactory,
    manager_user,
    service_user,
    warehouse_user,
)



def hours_ago(hours):
    return timezone.now() - timedelta(hours=hours)


def in_chinese(page):
    with page.expect_navigation():
        page.select_option("#site-language", "zh-hant")
    assert page.locator("html").get_attribute("lang") == "zh-hant"


def test_warehouse_staff_land_on_their_queue_and_print_the_first_five(db, login, page, screenshot):
    taipei = WarehouseFactory(code="TPE", name="台北倉 Taipei", priority=1)
    taichung = WarehouseFactory(code="TXG", name="台中倉 Taichung", priority=2)
    tea = ProductFactory(sku="TEA-OOLONG-300", name="烏龍茶 Oolong tea 300g")
    queue = [
        OrderFactory(number=f"SO-70{n:02d}", warehouse=taipei, lines=[tea], processing=True, placed_at=hours_ago(75 - 10 * n))
        for n in range(7)
    ]
    OrderFactory(number="SO-7900", warehouse=taichung, processing=True, placed_at=hours_ago(90))  # not theirs
    OrderFactory(number="SO-7100", warehouse=taipei, packed=True, placed_at=hours_ago(20))
    packer = warehouse_user(username="packer", first_name="Wei", last_name="Huang")
    StaffWarehouse.objects.create(user=packer, warehouse=taipei)

    login(packer)
    start = page.locator("#start-warehouse")
    assert "To pack now in TPE – 台北倉 Taipei" in start.inner_text()
    rows = start.locator(".packing-queue-table tbody tr")
    assert rows.count() == 7
    assert rows.first.locator("th").inner_text() == "SO-7000"  # placed first, so to ship first
    # Ship by: placed + 60 h of targets (New 24, Processing 24, Packed 12).
    assert "late" in rows.first.inner_text() and "late" not in rows.last.inner_text()
    assert "SO-7900" not in start.inner_text()
    assert "Packed, waiting for a carrier pickup" in start.inner_text() and "SO-7100" in start.inner_text()
    assert page.locator("#start-station-code").is_visible()
    assert_accessible(page)
    screenshot("start_page_warehouse_en")

    with page.expect_navigation():
        page.get_by_role("link", name="Print pick list for these 5 orders").click()
    page.wait_for_selector(".pick-table")
    printed = page.content()
    for order in queue[:5]:
        assert order.number in printed
    for order in queue[5:]:
        assert order.number not in printed
    assert "SO-7900" not in printed
    tea_row = page.locator(".pick-table tbody tr", has_text="TEA-OOLONG-300")
    assert tea_row.locator(".col-qty").inner_text().strip() == "5"
    screenshot("start_page_warehouse_pick_list")

    page.goto("/admin/")
    in_chinese(page)
    assert page.locator(".packing-queue-table tbody tr").count() == 7
    assert_accessible(page)
    screenshot("start_page_warehouse_zh_hant")


def test_customer_service_land_on_the_lookup_held_and_late_orders(db, login, page, screenshot):
    held = OrderFactory(number="SO-7201")
    services.order_hold(order=held, actor=None, reason="客戶要求延後出貨")
    late = OrderFactory(number="SO-7202", processing=True)
    Order.objects.filter(pk=late.pk).update(status_changed_at=hours_ago(30))
    OrderFactory(number="SO-7203", processing=True)  # in time

    login(service_user(username="cs"))
    start = page.locator("#start-service")
    assert page.locator("#lookup-q").is_visible()
    held_section = start.locator("section", has=page.get_by_role("heading", name="On hold: 1 order"))
    assert "SO-7201" in held_section.inner_text()
    late_section = start.locator("section", has=page.get_by_role("heading", name="Past the target time: 1 order"))
    assert "SO-7202" in late_section.inner_text() and "6 h" in late_section.inner_text()
    assert "SO-7203" not in start.inner_text()
    assert_accessible(page)
    screenshot("start_page_service_en")

    with page.expect_navigation():
        late_section.get_by_role("link", name="SO-7202").click()
    assert "SO-7202" in page.locator("h1, h2").first.inner_text() or "SO-7202" in page.title()

    page.goto("/admin/")
    in_chinese(page)
    assert "SO-7201" in page.locator("#start-service").inner_text()
    assert_accessible(page)
    screenshot("start_page_service_zh_hant")


def test_managers_land_on_todays_counts_overdue_low_stock_and_the_reports(db, login, page, screenshot):
    taipei = WarehouseFactory(code="TPE", name="台北倉 Taipei", priority=1)
    OrderFactory(warehouse=taipei)
    late = OrderFactory(number="SO-7301", warehouse=taipei, processing=True)
    Order.objects.filter(pk=late.pk).update(status_changed_at=hours_ago(48))
    tea = ProductFactory(sku="TEA-LOW-01", name="包種茶 Pouchong tea", low_stock_threshold=5)
    StockLevelFactory(product=tea, warehouse=taipei, on_hand=2)

    login(manager_user(username="boss"))
    start = page.locator("#start-manager")
    states = start.locator("section", has=page.get_by_role("heading", name="Today: orders in each state"))
    processing = states.locator("tr", has=page.get_by_role("link", name="Processing", exact=True))
    assert processing.locator("td").all_inner_texts() == ["1", "1"]
    late_section = start.locator("section", has=page.get_by_role("heading", name="Past the target time: 1 order"))
    assert "SO-7301" in late_section.inner_text()
    assert "TEA-LOW-01" in start.locator("section", has=page.get_by_role("heading", name="Low stock")).inner_text()
    reports = start.locator("section", has=page.get_by_role("heading", name="Reports"))
    assert reports.get_by_role("link").count() == 6
    assert_accessible(page)
    screenshot("start_page_manager_en")

    in_chinese(page)
    assert "TEA-LOW-01" in page.locator("#start-manager").inner_text()
    assert_accessible(page)
    screenshot("start_page_manager_zh_hant")

    with page.expect_navigation():
        page.locator("#start-manager .start-links a").first.click()
    assert "/admin/orders/order/dashboard/" in page.url

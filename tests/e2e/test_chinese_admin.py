"""A warehouse user switches to 繁體中文 and reads the order list as Taiwan's software
words it: the filter sidebar, the selection counter that the admin's script updates,
the amounts with a thousands separator, their own name in the welcome line; those parts
pass axe-core's WCAG 2 A and AA rules."""

from tests.e2e.axe import assert_accessible

from tests.factories import OrderFactory, warehouse_user



def test_order_list_in_chinese_counts_the_selection_in_taiwan_usage(db, login, page, screenshot):
    OrderFactory(processing=True, quantity=33, stock=40)  # 33 × 120.00 = 3,960.00
    OrderFactory(processing=True)
    OrderFactory()
    login(warehouse_user(username="wei", first_name="小明", last_name="王"))
    with page.expect_navigation():
        page.select_option("#site-language", "zh-hant")
    page.goto("/admin/orders/order/")

    assert page.locator("#user-tools strong").inner_text() == "王小明"
    assert "歡迎，王小明。" in page.locator("#user-tools").inner_text().replace("\n", "")
    assert page.locator("#changelist-filter-header").inner_text() == "篩選"
    assert "依狀態" in page.locator("#changelist-filter").inner_text()
    assert "TWD 3,960.00" in page.locator("#result_list").inner_text()

    counter = page.locator(".action-counter")
    assert counter.inner_text() == "已選取 0 筆，共 3 筆"
    page.locator("input.action-select").first.check()
    assert counter.inner_text() == "已選取 1 筆，共 3 筆"  # set by the admin's actions.js
    page.locator("#action-toggle").check()
    assert counter.inner_text() == "已選取 3 筆，共 3 筆"

    text = page.locator("body").inner_text()
    for awkward in ("過濾器", "以 狀態", "個被選", " 結果 ("):
        assert awkward not in text, awkward
    # The parts this wording changed. (The whole list page has contrast findings of its
    # own, in the dimmed status chips and Django's breadcrumbs, outside this test.)
    changed = {"include": [["#user-tools"], ["#changelist-filter"], [".actions"], ["#toolbar"]]}
    assert_accessible(page, context=changed)
    screenshot("order_list_zh_hant")

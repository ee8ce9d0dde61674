"""Customer service on a phone (390 × 844): finds a caller by their surname alone and
by the last digits of their phone, reads each order as a card with what was ordered,
never scrolls sideways, and the lookup passes axe-core's WCAG 2 A and AA rules.

axe runs in English only: the lookup's new strings (the items, the phone-ending hint)
are not yet in the zh-Hant catalogue, which is merged separately."""

from tests.e2e.axe import assert_accessible

from tests.e2e.conftest import ARTIFACTS
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, service_user

PHONE = {"width": 390, "height": 844}
TOUCH_TARGET = 44


def assert_fits_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"
    box = page.locator("#lookup-q").bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def small_targets(page):
    """Visible links, buttons, fields and summaries of the page (the admin's header
    and breadcrumbs included) smaller than TOUCH_TARGET px either way."""
    return page.evaluate(
        """(min) => Array.from(document.querySelectorAll('input:not([type=hidden]), select, button, a, summary'))
            .filter(el => el.offsetParent !== null)
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([el, r]) => r.height < min || r.width < min)
            .map(([el, r]) => `${el.tagName} ${el.textContent.trim().slice(0, 30)} ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        TOUCH_TARGET,
    )


def test_service_finds_a_caller_by_surname_and_phone_ending_on_a_phone(db, browser, live_server):
    lin = CustomerFactory(name="林美華", email="meihua.lin@example.com", phone="0962-477-523")
    CustomerFactory(name="林志明", email="chihming.lin@example.com", phone="0912-000-111")
    tea = ProductFactory(sku="TEA-OOLONG-300", name="烏龍茶 Oolong tea 300g")
    cup = ProductFactory(sku="CUP-CELADON-01", name="青瓷杯 Celadon cup")
    shipped = OrderFactory(number="SO-1052", customer=lin, lines=[tea, cup], quantity=2, shipped=True)
    open_order = OrderFactory(number="SO-1053", customer=lin, lines=[tea], processing=True)

    context = browser.new_context(viewport=PHONE, base_url=live_server.url, has_touch=True, is_mobile=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/admin/login/")
        page.fill("#id_username", service_user(username="agent").username)
        page.fill("#id_password", "pass-1234")
        with page.expect_navigation():
            page.keyboard.press("Enter")

        page.goto("/admin/orders/order/lookup/")
        assert_fits_the_phone(page)
        page.fill("#lookup-q", "林")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        results = page.locator("#content-main").inner_text()
        assert "林美華" in results and "林志明" in results
        assert "Check the spelling" not in results
        assert_fits_the_phone(page)

        page.fill("#lookup-q", "477523")
        with page.expect_navigation():
            page.get_by_role("button", name="Search").click()
        assert_fits_the_phone(page)
        card = page.locator(f"#order-{shipped.pk}")
        assert card.is_visible()
        text = card.inner_text()
        assert "TEA-OOLONG-300" in text and "烏龍茶 Oolong tea 300g" in text and "2 ×" in text
        assert "CUP-CELADON-01" in text
        # A card, not a table row: the total and the shipment are on the screen's width.
        for cell in (card.locator(".order-total"), card.locator(".lookup-shipment")):
            box = cell.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        page.locator(f"#order-{open_order.pk} summary").click()
        assert small_targets(page) == []
        assert_accessible(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "service_lookup_phone.png"), full_page=True)
    finally:
        context.close()

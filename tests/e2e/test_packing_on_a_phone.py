"""The packing station on a phone or handheld scanner (390×844): the page is no wider
than the screen, the scan box and the last answer stay on screen while the packer
scrolls the lines, and every button is at least 44 px high."""

from tests.e2e.axe import assert_accessible
from playwright.sync_api import expect

from tests.factories import OrderFactory, ProductFactory, warehouse_user

IDLE = "document.getElementById('packing-station').dataset.pending === '0'"
PHONE = {"width": 390, "height": 844}


def inside_viewport(page, selector):
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["y"] + box["height"] <= PHONE["height"]


def assert_fits(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"


def test_a_packer_scans_an_order_on_a_phone_without_scrolling_sideways(db, login, page, screenshot):
    products = [
        ProductFactory(sku=f"TEA-OOLONG-GIFTBOX-{n:03d}", barcode=f"4710000001{n:03d}", name=f"烏龍茶禮盒 Oolong tea gift box no. {n}")
        for n in range(8)
    ]
    OrderFactory(number="SO-6001", lines=products, quantity=2, processing=True)

    page.set_viewport_size(PHONE)
    login(warehouse_user(username="packer"))
    page.goto("/admin/orders/order/packing-station/")
    assert_fits(page)
    assert inside_viewport(page, "#packing-code")
    page.keyboard.type("SO-6001")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".packing-order-number")).to_have_text("SO-6001")
    assert_fits(page)

    # The last line is far below: scanning it scrolls the page to it, and the box and
    # the answer stay on screen above it.
    page.keyboard.type(products[-1].barcode)
    page.keyboard.press("Enter")
    page.wait_for_function(IDLE)
    expect(page.locator(".packing-banner--success")).to_contain_text("TEA-OOLONG-GIFTBOX-007 counted: 1 of 2.")
    page.locator(".packing-lines tbody tr").last.scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 0  # the page did scroll
    assert_fits(page)
    assert inside_viewport(page, "#packing-code")
    assert inside_viewport(page, ".packing-banner--success")
    assert inside_viewport(page, ".packing-lines tbody tr:last-child .packing-count")

    # A refusal replaces the answer on screen, in place.
    page.keyboard.type("4710000999999")
    page.keyboard.press("Enter")
    page.wait_for_function(IDLE)
    assert inside_viewport(page, ".packing-banner--error")
    assert inside_viewport(page, "#packing-code")

    # Large touch targets: every button and the close link.
    heights = page.locator(".packing-button:visible, .packing-close").evaluate_all(
        "elements => elements.map(element => element.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 44, heights
    page.wait_for_timeout(1200)  # the refusal's flashing
    assert_accessible(page)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("packing_station_phone_390")

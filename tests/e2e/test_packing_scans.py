"""Scans without a page reload (issue #8): at the packing station a scanner's burst of
codes, typed as fast as it types them, is counted exactly once each by the server and
shown in place; a refusal shows in place too; the page never reloads and passes
axe-core's WCAG 2 A/AA rules."""

import re
import statistics

from tests.e2e.axe import assert_accessible
from playwright.sync_api import expect

from orders.models import OrderEvent, OrderStatus
from tests.factories import OrderFactory, ProductFactory, warehouse_user

IDLE = "document.getElementById('packing-station').dataset.pending === '0'"


def banner(page):
    return " ".join(page.locator(".packing-banner").all_inner_texts())


def counted(line):
    line.refresh_from_db()
    return line.quantity_scanned


def scan_events(order, action):
    return order.events.filter(kind=OrderEvent.Kind.SCAN, data__action=action).count()


def watch(page):
    """Every page load, and the server time of every JSON answer."""
    seen = {"loads": 0, "server_ms": []}
    page.on("load", lambda _page: seen.__setitem__("loads", seen["loads"] + 1))

    def answered(response):
        timing = response.headers.get("server-timing", "")
        if timing.startswith("app;dur="):
            seen["server_ms"].append(float(timing.split("=", 1)[1]))

    page.on("response", answered)
    return seen


def test_ten_fast_scans_count_exactly_ten_without_a_reload(db, login, page, screenshot):
    tea = ProductFactory(sku="TEA-OOLONG-300", barcode="4710000000300", name="Oolong tea 300g")
    cup = ProductFactory(sku="CUP-CERAMIC", barcode="4710000000400", name="Ceramic cup")
    stranger = ProductFactory(sku="MUG-STEEL", barcode="4710000000500", name="Steel mug")
    order = OrderFactory(number="SO-5001", lines=[tea, cup], quantity=10, processing=True)
    tea_line, cup_line = order.lines.order_by("pk")

    # As a new user would: log in, open the station, scan the order number.
    login(warehouse_user(username="packer"))
    page.goto("/admin/orders/order/packing-station/")
    page.keyboard.type("SO-5001")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".packing-order-number")).to_have_text("SO-5001")
    page.evaluate("window.__marker = 1")
    seen = watch(page)

    # Ten codes, each typed then Enter, with no wait at all in between.
    for _unit in range(10):
        page.keyboard.type(tea.barcode)
        page.keyboard.press("Enter")
    expect(page.locator(f"#line-{tea_line.pk} .packing-scanned")).to_have_text("10")
    page.wait_for_function(IDLE)
    assert counted(tea_line) == 10  # none lost, none counted twice
    assert scan_events(order, "scan") == 10
    assert page.evaluate("window.__marker") == 1 and seen["loads"] == 0  # no reload
    assert page.locator("#packing-status").inner_text() == "Scanned 10 of 20 items."
    assert page.evaluate("document.activeElement.id") == "packing-code"
    assert page.locator("#packing-code").input_value() == ""
    expect(page.locator(f"#line-{tea_line.pk}")).to_have_class(re.compile(r"\bis-full\b.*|.*\bis-full\b"))
    expect(page.locator(f"#line-{tea_line.pk}")).to_have_class(re.compile(r"\bis-highlighted\b"))
    assert page.locator(".packing-log-entry").count() == 6  # the last six, newest first

    # A wrong code and one too many: each refused in place, nothing counted.
    page.keyboard.type(stranger.barcode)
    page.keyboard.press("Enter")
    page.keyboard.type(tea.barcode)
    page.keyboard.press("Enter")
    page.wait_for_function(IDLE)
    expect(page.locator(".packing-banner--error")).to_have_count(2)
    assert "MUG-STEEL (Steel mug) is not in order SO-5001. Nothing was counted; put it aside." in banner(page)
    assert "Too many TEA-OOLONG-300: all 10 already scanned." in banner(page)
    newest = page.locator(".packing-log-entry").first
    expect(newest).to_have_class(re.compile(r"\bis-error\b"))
    assert tea.barcode in newest.inner_text() and "Too many" in newest.inner_text()
    assert counted(tea_line) == 10 and scan_events(order, "refused") == 2
    assert page.locator(".packing-banner--error").first.get_attribute("role") == "alert"
    assert page.evaluate("document.getElementById('packing-station').dataset.beep") == "error"

    # The page passes axe with the refusals on screen (after their flashing).
    page.wait_for_timeout(1200)
    assert_accessible(page)
    screenshot("test_packing_scans_refusals")

    # Ten more, sent from one task (faster than any keyboard), and an undo.
    page.evaluate(
        """code => {
            const form = document.getElementById('packing-form');
            const input = document.getElementById('packing-code');
            for (let i = 0; i < 10; i++) { input.value = code; form.requestSubmit(); }
        }""",
        cup.barcode,
    )
    expect(page.locator(f"#line-{cup_line.pk} .packing-scanned")).to_have_text("10")
    page.wait_for_function(IDLE)
    assert counted(cup_line) == 10 and scan_events(order, "scan") == 20
    assert "All 20 items scanned" in page.locator("#packing-status").inner_text()
    expect(page.locator(".packing-step.is-done")).to_have_count(1)  # the automatic step passed
    page.keyboard.type("-")
    page.keyboard.press("Enter")
    expect(page.locator(f"#line-{cup_line.pk} .packing-scanned")).to_have_text("9")
    assert "Last scan undone: CUP-CERAMIC is now 9 of 10." in banner(page)
    page.keyboard.type(cup.barcode)
    page.keyboard.press("Enter")
    expect(page.locator(f"#line-{cup_line.pk} .packing-scanned")).to_have_text("10")
    page.wait_for_function(IDLE)
    assert counted(cup_line) == 10

    # Tick the manual steps by their numbers, all typed at once; the ticks are in place too.
    numbers = page.locator(".packing-tick:has(button)").evaluate_all("forms => forms.map(form => form.dataset.step)")
    assert numbers
    for number in numbers:
        page.keyboard.type(number)
        page.keyboard.press("Enter")
    expect(page.locator(".packing-tick button")).to_have_count(0)
    page.wait_for_function(IDLE)
    assert "mark it packed (+)" in page.locator("#packing-status").inner_text()
    expect(page.locator(".packing-button--advance")).not_to_have_class("is-not-ready")
    assert page.evaluate("window.__marker") == 1 and seen["loads"] == 0
    assert_accessible(page)
    screenshot()

    # "+" marks it packed and the station moves on to the next order (a new page).
    with page.expect_navigation():
        page.keyboard.type("+")
        page.keyboard.press("Enter")
    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED
    assert "SO-5001 packed" in banner(page)
    assert page.evaluate("document.activeElement.id") == "packing-code"

    # Every JSON answer says its server time (Server-Timing; the budget is 30 ms). It is
    # printed, not asserted: on a shared machine it measures the neighbours too.
    assert len(seen["server_ms"]) >= 25, seen["server_ms"]
    print(
        f"server time of {len(seen['server_ms'])} JSON answers: "
        f"median {statistics.median(seen['server_ms']):.1f} ms, max {max(seen['server_ms']):.1f} ms"
    )



def test_a_scan_the_server_never_answered_is_named_and_the_next_one_counts(db, login, page):
    tea = ProductFactory(sku="TEA-GREEN", barcode="4710000000600", name="Green tea")
    order = OrderFactory(number="SO-5002", lines=[tea], quantity=3, processing=True)
    line = order.lines.get()
    login(warehouse_user(username="packer"))
    page.goto(f"/admin/orders/order/packing-station/?number={order.number}")

    page.route("**/packing-station/scan/", lambda route: route.abort())
    page.keyboard.type(tea.barcode)
    page.keyboard.press("Enter")
    page.wait_for_function(IDLE)
    assert f"“{tea.barcode}”: the server did not answer" in banner(page)
    page.unroute("**/packing-station/scan/")

    page.keyboard.type(tea.barcode)
    page.keyboard.press("Enter")
    expect(page.locator(f"#line-{line.pk} .packing-scanned")).to_have_text("1")
    assert counted(line) == 1


def test_without_javascript_the_plain_form_still_counts(db, browser, live_server):
    tea = ProductFactory(sku="TEA-GREEN", barcode="4710000000600", name="Green tea")
    order = OrderFactory(number="SO-5003", lines=[tea], quantity=2, processing=True)
    line = order.lines.get()
    user = warehouse_user(username="packer")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "pass-1234")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.goto(f"/admin/orders/order/packing-station/?number={order.number}")
        page.fill("#packing-code", tea.barcode)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "TEA-GREEN counted: 1 of 2." in banner(page)
        assert page.locator(f"#line-{line.pk} .packing-scanned").inner_text() == "1"
        assert counted(line) == 1
    finally:
        context.close()

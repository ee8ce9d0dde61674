"""A warehouse user packs an order at the packing station with the keyboard alone,
including a wrong scan and an over-scan, and marks it packed."""

from orders.models import OrderStatus
from tests.factories import OrderFactory, ProductFactory, warehouse_user


def enter(page, text, *, navigates=False):
    """Type like a scanner does (the code, then Enter) and wait for the station: a new
    page (an order number, "+"), or the answer applied in place (a scan, a tick)."""
    page.keyboard.type(text)
    if navigates:
        with page.expect_navigation():
            page.keyboard.press("Enter")
        return
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('packing-station').dataset.pending === '0'")


def banner(page):
    return " ".join(page.locator(".packing-banner").all_inner_texts())


def test_packing_by_keyboard_alone(db, login, page, screenshot):
    tea = ProductFactory(sku="TEA-OOLONG-300", barcode="4710000000300", name="Oolong tea 300g")
    cup = ProductFactory(sku="CUP-CERAMIC", barcode="4710000000400", name="Ceramic cup")
    stranger = ProductFactory(sku="MUG-STEEL", barcode="4710000000500", name="Steel mug")
    order = OrderFactory(number="SO-4001", lines=[tea, cup], quantity=2, processing=True)
    tea_line, cup_line = order.lines.order_by("pk")

    login(warehouse_user(username="packer"))
    page.goto("/admin/orders/order/packing-station/")
    assert page.evaluate("document.activeElement.id") == "packing-code"

    enter(page, "so-4001", navigates=True)  # order numbers are accepted in any case
    assert "SO-4001" in page.locator(".packing-order-number").inner_text()

    enter(page, tea.barcode)
    enter(page, stranger.barcode)  # not in this order
    assert "not in order SO-4001" in banner(page)
    assert page.locator(".packing-banner--error").count() == 1
    enter(page, tea.barcode)
    enter(page, tea.barcode)  # a third tea: one more than ordered
    assert "Too many TEA-OOLONG-300" in banner(page)
    enter(page, "cup-ceramic")  # an SKU typed by hand
    enter(page, cup.barcode)

    tea_line.refresh_from_db()
    cup_line.refresh_from_db()
    assert (tea_line.quantity_scanned, cup_line.quantity_scanned) == (2, 2)
    assert page.evaluate("document.activeElement.id") == "packing-code"

    # Tick the manual steps by their numbers, then "+" to mark the order packed.
    for number in page.locator(".packing-tick:has(button)").evaluate_all(
        "forms => forms.map(form => form.dataset.step)"
    ):
        enter(page, number)
    assert page.locator(".packing-tick button").count() == 0
    enter(page, "+", navigates=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.PACKED
    assert "SO-4001 packed" in banner(page)
    assert page.evaluate("document.activeElement.id") == "packing-code"  # ready for the next order
    screenshot()

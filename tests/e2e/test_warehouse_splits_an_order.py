"""Warehouse staff split an order with a short line: the short units move into a
backorder, the message links it, each order's page links to the other, and the pages
(the split form open) pass axe in both languages and the dark theme."""

import pytest

from inventory.models import StockLevel
from orders.models import Order, OrderStatus
from tests.e2e.test_pages_pass_axe import LOOKS, log_in, violations
from tests.factories import OrderFactory, ProductFactory, WarehouseFactory, warehouse_user


@pytest.mark.parametrize(("language", "scheme"), LOOKS)
def test_split_a_short_line_and_follow_the_links(db, login, page, screenshot, language, scheme):
    taipei = WarehouseFactory(code="TPE", name="台北倉 Taipei", priority=1)
    tea, cup = ProductFactory(sku="TEA-OOLONG", name="烏龍茶 Oolong tea"), ProductFactory(sku="CUP-CELADON", name="青瓷杯")
    order = OrderFactory(number="SO-6001", lines=[tea, cup], quantity=3, warehouse=taipei, processing=True)
    cup_line = order.lines.get(sku="CUP-CELADON")
    assert StockLevel.objects.get(product=cup).reserved == 3

    page.emulate_media(color_scheme=scheme)
    log_in(login, page, warehouse_user(username="packer", first_name="Wei", last_name="Huang"), language)
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    page.locator(".order-split summary").click()
    field = page.locator(f"input[name='move-{cup_line.pk}']")
    assert field.is_visible() and field.get_attribute("max") == "3"
    found = violations(page)
    assert not found, "\n".join(found)

    field.fill("2")
    page.locator(".order-split-form input[name=reason]").fill("供應商延遲 Supplier late")
    screenshot(f"split-form-{language}-{scheme}")
    with page.expect_navigation():
        page.locator(".order-split-form button[type=submit]").click()

    backorder = Order.objects.get(split_from=order)
    assert backorder.number == "SO-6001-B1" and backorder.status == OrderStatus.NEW
    assert StockLevel.objects.get(product=cup).reserved == 1
    message = page.locator("ul.messagelist .success")
    assert "SO-6001-B1" in message.inner_text()
    found = violations(page)
    assert not found, "\n".join(found)

    with page.expect_navigation():
        message.get_by_role("link", name="SO-6001-B1").click()
    assert page.url.endswith(f"/admin/orders/order/{backorder.pk}/change/")
    links = page.locator(".order-split-links")
    assert "SO-6001" in links.inner_text()
    assert "Supplier late" in page.locator(".order-timeline").inner_text()
    found = violations(page)
    assert not found, "\n".join(found)
    with page.expect_navigation():
        links.get_by_role("link", name="SO-6001", exact=True).click()
    assert page.url.endswith(f"/admin/orders/order/{order.pk}/change/")
    assert "SO-6001-B1" in page.locator(".order-split-links").inner_text()
    screenshot()

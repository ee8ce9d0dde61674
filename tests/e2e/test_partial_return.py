"""A partial return (issue 10, item 6): customer service opens a return of part of a
delivered order; warehouse staff receive it, one line back to stock and one
damaged; the order shows "Partly returned", the stock of the restocked line is back,
and the order page passes axe."""

from inventory.models import StockLevel, StockMovement
from orders.models import OrderStatus, ReturnState
from shipping.models import Return
from tests.e2e.axe import assert_accessible
from tests.factories import OrderFactory, service_user, warehouse_user


def test_customer_service_opens_a_partial_return_and_the_warehouse_receives_it(db, login, page, screenshot):
    order = OrderFactory(number="SO-6001", delivered=True, lines=3, quantity=2)
    back, broken, kept = order.lines.order_by("pk")
    levels = {line.pk: StockLevel.objects.get(product_id=line.product_id) for line in (back, broken, kept)}
    before = {pk: level.on_hand for pk, level in levels.items()}

    login(service_user(username="agent"))
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    form = page.locator("form.order-action", has=page.locator(".order-return-form"))
    form.get_by_label(f"{back.sku} coming back").fill("2")
    form.get_by_label(f"{broken.sku} coming back").fill("1")
    form.get_by_placeholder("Reason").fill("Wrong size and one arrived broken")
    with page.expect_navigation():
        form.get_by_role("button", name="Start a return").click()
    record = Return.objects.get(order=order)
    assert f"Return #{record.pk} of order SO-6001 opened" in page.locator(".messagelist").inner_text()
    assert record.status == Return.Status.OPEN
    assert "Waiting to be received" in page.locator(".order-returns").inner_text()

    page.context.clear_cookies()
    login(warehouse_user(username="packer"))
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    receiving = page.locator(f"#return-{record.pk} form.order-receive-form")
    back_line, broken_line = record.lines.order_by("pk")
    receiving.locator(f'input[name="outcome-{back_line.pk}"][value="restocked"]').check()
    receiving.locator(f'input[name="outcome-{broken_line.pk}"][value="damaged"]').check()
    with page.expect_navigation():
        receiving.get_by_role("button", name="Receive return").click()

    assert f"Return #{record.pk} received." in page.locator(".messagelist").inner_text()
    head = page.locator(".order-panel__head")
    assert "Delivered" in head.inner_text() and "Partly returned" in head.inner_text()
    returns = page.locator(".order-returns").inner_text()
    assert "Back to stock" in returns and "Damaged" in returns
    order.refresh_from_db()
    assert (order.status, order.return_state) == (OrderStatus.DELIVERED, ReturnState.PARTLY)
    for level in levels.values():
        level.refresh_from_db()
    assert levels[back.pk].on_hand == before[back.pk] + 2
    assert levels[broken.pk].on_hand == before[broken.pk]  # damaged: no stock change
    assert levels[kept.pk].on_hand == before[kept.pk]
    assert StockMovement.objects.filter(order=order, kind=StockMovement.Kind.RETURN).count() == 1
    timeline = page.locator("body").inner_text()
    assert "damaged (no stock change)" in timeline
    assert_accessible(page)
    screenshot()

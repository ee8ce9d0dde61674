"""A customer-service user on the phone finds a customer from a phone number typed
with dashes and cancels one of their orders; the reserved stock is back."""

from inventory.models import StockLevel
from orders.models import OrderStatus
from tests.factories import CustomerFactory, OrderFactory, service_user


def test_find_by_phone_with_dashes_and_cancel(db, login, page, screenshot):
    customer = CustomerFactory(name="林美華", email="mei@example.com", phone="+886 912 345 678")
    other = CustomerFactory(name="Chen Wei", phone="0987654321")
    order = OrderFactory(number="SO-5001", customer=customer, quantity=3, processing=True)
    shipped_order = OrderFactory(number="SO-5002", customer=customer, shipped=True)
    OrderFactory(number="SO-5003", customer=other)
    level = StockLevel.objects.get(product=order.lines.get().product)
    assert level.reserved == 3

    login(service_user(username="agent"))  # lands on the admin index, with its "Find an order" box
    page.fill("#lookup-q", "0912-345-678")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    results = page.locator("#content-main")
    assert "林美華" in results.inner_text()
    assert "Chen Wei" not in results.inner_text()
    assert page.locator("#order-%d" % order.pk).is_visible()

    row = page.locator(f"#order-{order.pk}")
    row.locator("summary").click()
    row.get_by_placeholder("Reason for cancelling").fill("Customer changed their mind")
    with page.expect_navigation():
        row.get_by_role("button", name="Cancel order").click()

    assert page.input_value("#lookup-q") == "0912-345-678"  # back at the same search
    order.refresh_from_db()
    level.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert (level.reserved, level.on_hand) == (0, 10)
    assert "SO-5001" in page.locator(".messagelist").inner_text()
    shipped = page.locator(f"#order-{shipped_order.pk}")
    assert "request a return" in shipped.inner_text()  # the shipped order cannot be cancelled
    screenshot()

from orders.models import OrderStatus
from tests.factories import OrderFactory


def test_factory_drives_an_order_to_shipped(db):
    order = OrderFactory(shipped=True, lines=2, quantity=3)
    assert order.status == OrderStatus.SHIPPED
    assert order.stock_movements.filter(kind="ship").count() == 2

"""The database itself refuses writes that would break an invariant, whatever code
path makes them (DESIGN.md sections 2 and 4). Each bad write runs in its own atomic
block so that the test database stays usable after the IntegrityError."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from inventory.models import Product, StockLevel, Warehouse
from orders.models import Order, OrderLine
from shipping.models import Shipment, ShipmentLine
from tests.factories import CarrierFactory, OrderFactory, ProductFactory, StockLevelFactory, WarehouseFactory


def refused(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


@pytest.mark.django_db
@pytest.mark.ledger_unbalanced  # writes the stock row directly, as no service would, to reach the boundary
def test_stock_never_goes_negative_nor_reserved_above_on_hand():
    level = StockLevelFactory(on_hand=2, reserved=1)
    rows = StockLevel.objects.filter(pk=level.pk)

    refused(lambda: rows.update(on_hand=-1, reserved=0))
    refused(lambda: rows.update(reserved=-1))
    refused(lambda: rows.update(reserved=3))
    refused(lambda: rows.update(on_hand=F("on_hand") - 2))  # would leave on_hand 0 < reserved 1
    refused(lambda: StockLevel.objects.create(product=ProductFactory(), warehouse=level.warehouse, on_hand=-5))

    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (2, 1)
    # The boundary itself is allowed.
    rows.update(reserved=2)
    assert rows.get().available == 0


@pytest.mark.django_db
def test_one_stock_row_per_product_and_warehouse():
    level = StockLevelFactory()
    refused(lambda: StockLevel.objects.create(product=level.product, warehouse=level.warehouse))


@pytest.mark.django_db
def test_line_quantities_are_positive_and_scans_stay_within_them():
    order = OrderFactory(quantity=2)
    lines = OrderLine.objects.filter(order=order)

    refused(lambda: lines.update(quantity=0))
    refused(lambda: lines.update(quantity_scanned=3))
    refused(lambda: lines.update(unit_price=-1))
    refused(
        lambda: OrderLine.objects.create(
            order=order, product=ProductFactory(), sku="X", product_name="X", quantity=0, unit_price=1
        )
    )

    assert list(lines.values_list("quantity", "quantity_scanned")) == [(2, 0)]
    lines.update(quantity_scanned=2)  # fully scanned is fine


@pytest.mark.django_db
def test_skus_barcodes_and_codes_are_unique():
    product = ProductFactory(sku="TEA-1", barcode="4710000000001")
    refused(lambda: Product.objects.create(sku="TEA-1", name="Copy"))
    refused(lambda: Product.objects.create(sku="TEA-2", name="Copy", barcode="4710000000001"))
    refused(lambda: Warehouse.objects.create(code=WarehouseFactory().code, name="Copy"))
    # Many products may have no barcode at all.
    Product.objects.create(sku="NB-1", name="No barcode", barcode=None)
    Product.objects.create(sku="NB-2", name="No barcode either", barcode=None)
    assert Product.objects.filter(barcode__isnull=True).count() == 2
    assert Product.objects.get(pk=product.pk).sku == "TEA-1"


@pytest.mark.django_db
def test_order_numbers_are_unique():
    order = OrderFactory(number="SO-1")
    refused(lambda: Order.objects.filter(pk=OrderFactory().pk).update(number="SO-1"))
    refused(
        lambda: Order.objects.create(
            number="SO-1", customer=order.customer, ship_name="X", ship_address1="X", ship_city="X"
        )
    )
    assert Order.objects.filter(number="SO-1").count() == 1


@pytest.mark.django_db
def test_order_total_is_never_negative():
    order = OrderFactory()
    refused(lambda: Order.objects.filter(pk=order.pk).update(total=-1))


@pytest.mark.django_db
def test_a_live_tracking_number_belongs_to_one_shipment_per_carrier():
    carrier = CarrierFactory()
    first, second = OrderFactory(packed=True), OrderFactory(packed=True)
    shipment = Shipment.objects.create(order=first, carrier=carrier, tracking_number="123456789012")
    refused(lambda: Shipment.objects.create(order=second, carrier=carrier, tracking_number="123456789012"))
    refused(lambda: ShipmentLine.objects.create(shipment=shipment, order_line=first.lines.get(), quantity=0))

    Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.CANCELLED)
    Shipment.objects.create(order=second, carrier=carrier, tracking_number="123456789012")  # reusable once cancelled

"""One factory per model. Orders are built through order_create (as everything else
creates them); the traits put an order into a workflow state through the services.

Stock goes through the stock services too: StockLevelFactory and OrderFactory
receive it with stock_receive, and a reserved quantity is reserved for an order by
the order workflow, so that every StockLevel equals the sum of its StockMovements
(tests/conftest.py checks it after every test that uses the database)."""

from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.db.models import F

from inventory import services as stock_services
from inventory.models import Product, StockLevel, Warehouse
from orders import services
from orders.defaults import CUSTOMER_SERVICE, MANAGER, WAREHOUSE
from orders.models import Customer, DeliveryMethod, OrderStatus, PaymentStatus, StoreChain
from shipping.models import Carrier


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("pass-1234")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))


def warehouse_user(**kwargs):
    return UserFactory(role=WAREHOUSE, **kwargs)


def service_user(**kwargs):
    return UserFactory(role=CUSTOMER_SERVICE, **kwargs)


def manager_user(**kwargs):
    return UserFactory(role=MANAGER, **kwargs)


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"WH{n}")
    name = factory.LazyAttribute(lambda w: f"Warehouse {w.code}")
    priority = factory.Sequence(lambda n: n + 1)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    barcode = factory.Sequence(lambda n: f"4710000{n:06d}")
    weight_grams = 250


FACTORY_STOCK_NOTE = "Test stock (tests/factories.py)"


def receive_stock(product, warehouse, quantity, *, note=FACTORY_STOCK_NOTE):
    """Receive `quantity` units through stock_receive (a receipt in the ledger)."""
    return stock_services.stock_receive(product=product, warehouse=warehouse, quantity=quantity, actor=None, note=note)


def count_stock(product, warehouse, on_hand, *, note="Test count (tests/factories.py)"):
    """Set on_hand through stock_count (the difference recorded in the ledger)."""
    return stock_services.stock_count(product=product, warehouse=warehouse, on_hand=on_hand, actor=None, note=note)


class StockLevelFactory(factory.django.DjangoModelFactory):
    """A new stock row holding `on_hand`, received through stock_receive. `reserved`
    units are reserved the way they always are: by an order (made here, in
    processing, with its own warehouse) that the order workflow reserved them for."""

    class Meta:
        model = StockLevel

    product = factory.SubFactory("tests.factories.ProductFactory")
    warehouse = factory.SubFactory("tests.factories.WarehouseFactory")
    on_hand = 10
    reserved = 0

    @classmethod
    def _create(cls, model_class, *, product, warehouse, on_hand, reserved):
        if StockLevel.objects.filter(product=product, warehouse=warehouse).exists():
            raise ValueError(f"{product.sku} already has a stock row in {warehouse.code}; receive stock instead")
        if not 0 <= reserved <= on_hand:
            raise ValueError(f"reserved ({reserved}) must be between 0 and on_hand ({on_hand})")
        if on_hand:
            receive_stock(product, warehouse, on_hand)
        else:
            StockLevel.objects.create(product=product, warehouse=warehouse)  # zero: no movement to record
        if reserved:
            OrderFactory(lines=[product], quantity=reserved, warehouse=warehouse, stock=0, processing=True)
        return StockLevel.objects.get(product=product, warehouse=warehouse)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"0912-{n // 1000 % 1000:03d}-{n % 1000:03d}")


class CarrierFactory(factory.django.DjangoModelFactory):
    """A home-delivery courier of the tests' own, "T-Cat" with twelve-digit numbers.

    Its code is not one of the carriers migration 0006 loads (TCAT, POST, DHL, …:
    shipping/defaults.py), so a test's carrier is exactly what the test says, never a
    migrated one found by its code. Found again by code (get_or_create): two calls
    give the same carrier. `store_pickup=True` makes a 7-ELEVEN pickup carrier,
    `express=True` an express one."""

    class Meta:
        model = Carrier
        django_get_or_create = ("code",)

    code = "TESTCAT"
    name = "T-Cat"
    tracking_number_pattern = r"\d{12}"
    tracking_url_template = "https://track.example.com/?no={tracking_number}"
    serves_home = True

    class Params:
        store_pickup = factory.Trait(
            code="TESTSEVEN", name="7-ELEVEN pickup", serves_home=False, serves_store_pickup=True, store_chain="7-eleven"
        )
        express = factory.Trait(code="TESTEXPRESS", name="Express courier", serves_home=False, serves_express=True)


def carrier_for(order):
    """The tests' carrier that serves `order` (its delivery method and chain)."""
    if order.delivery_method == DeliveryMethod.STORE_PICKUP:
        chain = order.pickup_chain or StoreChain.SEVEN_ELEVEN
        return CarrierFactory(
            code=f"TEST-{chain.upper()}",
            name=f"{StoreChain(chain).label} pickup",
            serves_home=False,
            serves_store_pickup=True,
            store_chain=chain,
        )
    if order.delivery_method == DeliveryMethod.EXPRESS:
        return CarrierFactory(express=True)
    return CarrierFactory()


def tick_manual_steps(order, *, actor=None):
    for item in order.checklist_items.filter(state=order.status, done_at__isnull=True):
        if not item.predicate:
            services.checklist_tick(item=item, actor=actor)


def order_to(order, status, *, actor=None):
    """Drive an order along the main path to `status` through the services."""
    from shipping.services import shipment_create, shipment_mark_delivered

    path = [OrderStatus.NEW, OrderStatus.PROCESSING, OrderStatus.PACKED, OrderStatus.SHIPPED,
            OrderStatus.DELIVERED, OrderStatus.COMPLETED]
    while path.index(order.status) < path.index(status):
        tick_manual_steps(order, actor=actor)
        if order.status == OrderStatus.PROCESSING:
            order.lines.update(quantity_scanned=F("quantity"))
        if order.status == OrderStatus.PACKED and not order.shipments.exists():
            shipment_create(
                order=order,
                carrier=carrier_for(order),
                tracking_number=f"{order.pk:012d}",
                actor=actor,
            )
        if order.status == OrderStatus.SHIPPED:
            # "Delivery confirmed" passes when the carrier reports delivery.
            for shipment in order.shipments.filter(status="shipped"):
                shipment_mark_delivered(shipment=shipment, actor=actor)
        order = services.order_advance(order=order, actor=actor)
    return order


class OrderFactory(factory.Factory):
    """OrderFactory(lines=2, status="packed") creates stock, the order and drives it.

    `stock` units of each line's product are received (stock_receive) into
    `warehouse`, which also becomes the order's own warehouse. Without one they go
    into MAIN and the order has no warehouse of its own: its stock is reserved in
    the first active warehouse by priority that holds every line.
    """

    class Meta:
        model = dict  # built by order_create below

    number = factory.Sequence(lambda n: f"SO-{10000 + n}")
    customer = factory.SubFactory(CustomerFactory)
    lines = 1
    quantity = 1
    warehouse = None
    stock = 10
    payment_status = PaymentStatus.PAID
    status = OrderStatus.NEW
    ship_name = factory.LazyAttribute(lambda o: o.customer.name)
    ship_phone = factory.LazyAttribute(lambda o: o.customer.phone)
    ship_address1 = "No. 7, Section 5, Xinyi Road"
    ship_city = "Taipei"
    ship_postcode = "110"
    delivery_method = DeliveryMethod.HOME
    # A convenience-store pickup has its store (7-ELEVEN 府城門市 unless told otherwise).
    pickup_chain = factory.LazyAttribute(
        lambda o: StoreChain.SEVEN_ELEVEN.value if o.delivery_method == DeliveryMethod.STORE_PICKUP else ""
    )
    pickup_store_code = factory.LazyAttribute(
        lambda o: {"7-eleven": "131386", "familymart": "013579", "hilife": "2468", "okmart": "1357"}.get(o.pickup_chain, "")
    )
    pickup_store_name = factory.LazyAttribute(lambda o: "府城門市" if o.pickup_chain else "")

    class Params:
        processing = factory.Trait(status=OrderStatus.PROCESSING)
        packed = factory.Trait(status=OrderStatus.PACKED)
        shipped = factory.Trait(status=OrderStatus.SHIPPED)
        delivered = factory.Trait(status=OrderStatus.DELIVERED)

    @classmethod
    def _create(cls, model_class, *, number, customer, lines, quantity, warehouse, stock, status, **fields):
        if warehouse is not None:
            fields["warehouse"] = warehouse  # the order's own
        stocked = warehouse or WarehouseFactory(code="MAIN", priority=1)
        products = lines if isinstance(lines, list) else [ProductFactory() for _ in range(lines)]
        for product in products:
            if stock:
                receive_stock(product, stocked, stock)
        order = services.order_create(
            number=number,
            customer=customer,
            lines=[{"product": p, "quantity": quantity, "unit_price": Decimal("120.00")} for p in products],
            **fields,
        )
        return order_to(order, status)

    _build = _create


def return_everything(order, *, actor=None, receiver=None, outcome="restocked", reason="Sent back"):
    """Open a return (by `actor`) of every unit the order shipped and receive it (by
    `receiver`, each line `outcome`), through shipping.returns: the order ends
    Returned. Returns the order."""
    from shipping.returns import return_open, return_receive
    from shipping.selectors import shipped_quantities

    record = return_open(order=order, actor=actor, lines=shipped_quantities(order), reason=reason)
    return_receive(
        return_record=record, actor=receiver, outcomes={line.pk: outcome for line in record.lines.all()}
    )
    return type(order).objects.get(pk=order.pk)

"""seed_demo: demo data in every state, idempotent, reproducible, with working logins."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from inventory.models import Product, StaffWarehouse, StockLevel, StockMovement, Warehouse
from orders.defaults import CUSTOMER_SERVICE, MANAGER, WAREHOUSE
from orders.models import Customer, Order, OrderChecklistItem, OrderEvent, OrderLine, OrderStatus, StatusTarget
from demo.management.commands.seed_demo import DEMO_PASSWORD, ean13
from shipping.models import Carrier, Shipment

pytestmark = pytest.mark.django_db

MODELS = [User, Warehouse, Product, StockLevel, StockMovement, Carrier, Customer, Order, OrderLine,
          OrderChecklistItem, OrderEvent, Shipment]


def seed(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def snapshot():
    return sorted(
        (order.number, order.status, order.total, order.customer.email, order.warehouse_id is not None,
         tuple(order.lines.values_list("sku", "quantity", "quantity_scanned")))
        for order in Order.objects.select_related("customer")
    )


def test_demo_data_covers_every_state_and_prints_the_logins():
    output = seed("--orders", "9")
    assert Order.objects.count() == 9
    assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus.values)
    # The carriers are the ten every install starts with (migration 0006): the demo adds none.
    assert Warehouse.objects.count() == 3 and Carrier.objects.count() == 10
    assert Product.objects.count() == 30
    assert "demo-pass-2026" in output
    for username in ("warehouse", "service", "manager", "admin"):
        assert username in output


def test_second_run_duplicates_nothing_and_resets_passwords():
    seed("--orders", "9")
    before = counts()
    warehouse = User.objects.get(username="warehouse")
    warehouse.set_password("changed-by-someone")
    warehouse.save()
    seed("--orders", "9")
    assert counts() == before
    assert User.objects.get(username="warehouse").check_password(DEMO_PASSWORD)


def test_more_orders_later_adds_only_the_missing_ones():
    seed("--orders", "9")
    seed("--orders", "12")
    assert Order.objects.count() == 12
    assert Order.objects.values("number").distinct().count() == 12


def test_the_same_seed_gives_the_same_orders():
    def orders_from(seed_value):
        with transaction.atomic():
            seed("--orders", "10", "--seed", seed_value)
            orders = snapshot()
            transaction.set_rollback(True)
        return orders

    first = orders_from("7")
    assert first and not Order.objects.exists()
    assert orders_from("7") == first
    assert orders_from("8") != first


@pytest.mark.parametrize(
    "username, group", [("warehouse", WAREHOUSE), ("service", CUSTOMER_SERVICE), ("manager", MANAGER), ("admin", None)]
)
def test_each_demo_user_logs_in_to_the_admin(client, username, group):
    seed("--orders", "0")
    user = User.objects.get(username=username)
    assert user.is_staff and user.is_active
    assert list(user.groups.values_list("name", flat=True)) == ([group] if group else [])
    assert user.is_superuser == (username == "admin")
    assert client.login(username=username, password=DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_stock_matches_the_ledger_and_nothing_is_negative():
    seed("--orders", "12")
    for level in StockLevel.objects.all():
        ledger = StockMovement.objects.filter(product=level.product, warehouse=level.warehouse).aggregate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
        )
        assert (ledger["on_hand"], ledger["reserved"]) == (level.on_hand, level.reserved)
        assert 0 <= level.reserved <= level.on_hand
    # Orders holding stock are exactly the ones in processing or packed (or held from there).
    holding = {
        movement.order_id
        for movement in StockMovement.objects.exclude(order=None).filter(kind__in=["reserve", "release", "ship"])
    }
    reserving = set(Order.objects.filter(status__in=["processing", "packed"]).values_list("pk", flat=True))
    assert reserving <= holding


def test_some_orders_are_overdue_and_history_is_in_the_past():
    seed("--orders", "12")
    now = timezone.now()
    targets = dict(StatusTarget.objects.values_list("status", "target_hours"))
    overdue = [
        order
        for order in Order.objects.filter(status__in=targets)
        if now - order.status_changed_at > timedelta(hours=targets[order.status])
    ]
    assert len(overdue) >= 3
    for order in Order.objects.all():
        assert order.placed_at <= order.status_changed_at <= now
        events = list(order.events.order_by("id"))
        assert events[0].kind == OrderEvent.Kind.CREATED
        assert events[0].created_at == order.placed_at
        times = [event.created_at for event in events]
        assert times == sorted(times), order.number
    assert Order.objects.filter(placed_at__lt=now - timedelta(days=3)).exists()


def test_orders_went_through_the_workflow():
    seed("--orders", "12")
    for order in Order.objects.filter(status__in=["shipped", "delivered", "completed"]):
        assert order.shipments.filter(status__in=["shipped", "delivered"]).exists()
        assert not order.lines.exclude(quantity_scanned=F("quantity")).exists()
        assert order.events.filter(kind="transition", data__to="shipped").exists()
    for order in Order.objects.filter(status="on_hold"):
        assert order.held_from_status
    for order in Order.objects.filter(status="cancelled"):
        assert not StockMovement.objects.filter(order=order).aggregate(r=Sum("reserved_delta"))["r"]


@pytest.mark.parametrize("seed_value", ["2026", "7"])
def test_some_home_delivery_ships_as_two_parcels_with_t_cat_and_chunghwa_post(seed_value):
    seed("--orders", "30", "--seed", seed_value)
    two_parcels = [
        order
        for order in Order.objects.filter(status__in=["shipped", "delivered", "completed", "returned"])
        if order.shipments.exclude(status="cancelled").count() == 2
    ]
    assert two_parcels
    for order in two_parcels:
        assert order.delivery_method == "home"
        assert sorted(order.shipments.values_list("carrier__code", flat=True)) == ["POST", "TCAT"]
        # Between them the parcels hold every unit, each line once over.
        for line in order.lines.all():
            assert sum(line.shipment_lines.values_list("quantity", flat=True)) == line.quantity
        created = order.events.filter(kind="shipment", data__action="created")
        assert created.count() == 2 and all(event.data["lines"] for event in created)


def test_reference_data_is_realistic():
    seed("--orders", "6")
    for product in Product.objects.all():
        assert len(product.barcode) == 13 and ean13(product.barcode[:12]) == product.barcode
    assert Product.objects.filter(name__contains="烏龍茶").exists()
    phones = list(Customer.objects.values_list("phone", flat=True))
    assert any("-" in phone for phone in phones) and any(phone.startswith("+886") for phone in phones)
    for carrier in Carrier.objects.all():
        assert "{tracking_number}" in carrier.tracking_url_template and carrier.tracking_number_pattern
        assert ", like " in carrier.tracking_number_format  # every demo pattern reads in words
    # Every stock level has a bin, so a demo pick list walks an aisle.
    assert not StockLevel.objects.filter(location="").exists()
    assert StockLevel.objects.filter(location__regex=r"^[ABC]-\d{2}-[1-4]$").count() == StockLevel.objects.count()
    assert ean13("400638133393") == "4006381333931"  # a published example


def test_store_pickup_orders_carry_their_store_and_ship_with_its_chain():
    seed("--orders", "40")
    pickups = list(Order.objects.filter(delivery_method="store_pickup").prefetch_related("shipments__carrier"))
    assert pickups
    for order in pickups:
        assert order.pickup_chain and order.pickup_store_code and order.pickup_store_name
        order.full_clean()  # the chain's code format, as order_create checked it
        assert "店號" not in order.ship_address1  # the store is data, not text in the address
        for shipment in order.shipments.all():
            assert shipment.carrier.serves(order) and shipment.carrier.store_chain == order.pickup_chain
    for order in Order.objects.exclude(delivery_method="store_pickup"):
        assert not (order.pickup_chain or order.pickup_store_code or order.pickup_store_name)
        for shipment in order.shipments.select_related("carrier"):
            assert shipment.carrier.serves(order)


def test_the_demo_uses_the_migrated_carriers_and_keeps_a_managers_edits():
    Carrier.objects.filter(code="TCAT").update(name="T-Cat (edited)")
    seed("--orders", "3")
    assert Carrier.objects.get(code="TCAT").name == "T-Cat (edited)"
    assert Carrier.objects.count() == 10


def test_negative_order_count_is_refused():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        seed("--orders", "-1")


def test_the_demo_warehouse_user_packs_for_taipei_and_lands_on_its_queue(client):
    seed("--orders", "20")
    seed("--orders", "20")  # idempotent: still one link
    link = StaffWarehouse.objects.get()
    assert (link.user.username, link.warehouse.code) == ("warehouse", "TPE")
    client.force_login(link.user)
    response = client.get("/admin/")
    assert response.context["start_role"] == "warehouse" and response.context["warehouse"].code == "TPE"
    queue = response.context["queue"].orders
    assert queue and all(row["warehouse__code"] == "TPE" for row in queue)


def test_demo_staff_have_chinese_full_names_also_when_they_already_existed():
    from common.text import person_name

    User.objects.create(username="warehouse", first_name="", last_name="")  # from an older seed
    seed("--orders", "0")
    names = {user.username: person_name(user) for user in User.objects.all()}
    assert names == {"warehouse": "黃志偉", "service": "林美玲", "manager": "吳家豪", "admin": "admin"}


def test_the_demo_shows_payment_methods_references_and_refunds():
    """A new user finds ATM orders with their references, orders the carrier collects
    for, a cancelled paid order with its refund due, one refunded, and one granted by
    hand; a second run adds no refund."""
    from orders.models import COLLECTED_BY_CARRIER, PaymentStatus, Refund

    seed()
    atm = Order.objects.filter(payment_method="atm", payment_status="paid")
    assert atm.count() >= 3
    assert all(len(reference) == 5 and reference.isdigit() for reference in atm.values_list("payment_reference", flat=True))
    collected = Order.objects.filter(payment_method__in=COLLECTED_BY_CARRIER)
    assert {"cod", "store_pickup"} <= set(collected.values_list("payment_method", flat=True))
    assert not collected.filter(payment_status=PaymentStatus.PAID).exists()  # until the carrier's report
    assert Refund.objects.filter(reason="cancelled", status="due", order__status="cancelled").exists()
    refunded = Refund.objects.get(status="refunded")
    assert refunded.reference.startswith("TRF-") and refunded.order.payment_status == PaymentStatus.REFUNDED
    assert Refund.objects.filter(reason="goodwill", status="due").count() == 1
    before = Refund.objects.count()
    seed()
    assert Refund.objects.count() == before

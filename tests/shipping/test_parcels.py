"""Parcels (issue 10, item 3): an order ships in one or more shipments, each with its
carrier, tracking number and the quantity of each line it holds; quantities never
exceed what is ordered; a pending parcel can be voided; the checklist steps and the
"shipped" e-mail look at every parcel. The race of two staff booking the same line
is in tests/test_concurrency.py."""

import itertools
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from orders import services as orders
from orders.exceptions import ChecklistIncomplete
from orders.models import OrderEvent, OrderStatus, PaymentStatus
from orders.selectors import order_for_page
from shipping import checks
from shipping.exceptions import ShippingError
from shipping.models import Shipment, ShipmentLine
from shipping.selectors import parcel_quantities, shipped_quantities
from shipping.services import shipment_create, shipment_mark_delivered, shipment_void
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    WarehouseFactory,
    order_to,
    receive_stock,
    tick_manual_steps,
)
from tests.utils import changelist_rows, page_queries

pytestmark = pytest.mark.django_db

S = OrderStatus
NUMBERS = itertools.count(1)


def tcat():
    return CarrierFactory()


def post():
    return CarrierFactory(
        code="TESTPOST",
        name="Chunghwa Post",
        tracking_number_pattern=r"[A-Z]{2}\d{9}TW",
        tracking_url_template="https://post.example.com/track?no={tracking_number}",
    )


def two_line_order(customer=None, number=None):
    """A packed order of 3 × TEA-OB-100 and 2 × CUP-WH-200, with its stock reserved."""
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    tea = ProductFactory(sku="TEA-OB-100", name="Oolong tea 100 g")
    cup = ProductFactory(sku="CUP-WH-200", name="Cup")
    for product in (tea, cup):
        receive_stock(product, warehouse, 10)
    customer = customer or CustomerFactory()
    order = orders.order_create(
        number=number or f"SO-P{next(NUMBERS):04d}",
        customer=customer,
        lines=[
            {"product": tea, "quantity": 3, "unit_price": Decimal("120.00")},
            {"product": cup, "quantity": 2, "unit_price": Decimal("80.00")},
        ],
        payment_status=PaymentStatus.PAID,
        ship_name=customer.name,
        ship_address1="No. 7, Section 5, Xinyi Road",
        ship_city="Taipei",
    )
    order = order_to(order, S.PACKED)
    return order, order.lines.get(sku="TEA-OB-100"), order.lines.get(sku="CUP-WH-200")


def contents(shipment):
    return sorted(shipment.lines.values_list("order_line__sku", "quantity"))


def shipment_events(order):
    return list(order.events.filter(kind=OrderEvent.Kind.SHIPMENT).order_by("id"))


# --- booking parcels ----------------------------------------------------------------------------


def test_an_order_ships_as_two_parcels_with_two_carriers(warehouse_user):
    order, tea, cup = two_line_order()

    first = shipment_create(
        order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea.pk: 2, cup: 2}
    )
    assert parcel_quantities(order) == {tea.pk: 2, cup.pk: 2}
    second = shipment_create(
        order=order, carrier=post(), tracking_number="rr123456789tw", actor=warehouse_user, lines={str(tea.pk): "1"}
    )

    assert contents(first) == [("CUP-WH-200", 2), ("TEA-OB-100", 2)]
    assert contents(second) == [("TEA-OB-100", 1)]
    assert (second.carrier.code, second.tracking_number, second.status) == ("TESTPOST", "RR123456789TW", "pending")
    assert parcel_quantities(order) == {tea.pk: 3, cup.pk: 2}
    created = shipment_events(order)
    assert [event.data for event in created] == [
        {
            "action": "created",
            "carrier": "TESTCAT",
            "tracking_number": "123456789012",
            "lines": [["TEA-OB-100", 2], ["CUP-WH-200", 2]],
        },
        {"action": "created", "carrier": "TESTPOST", "tracking_number": "RR123456789TW", "lines": [["TEA-OB-100", 1]]},
    ]
    assert created[0].describe() == "Shipment created: TESTCAT 123456789012 (2 × TEA-OB-100, 2 × CUP-WH-200)"
    assert checks.shipment_tracked(order) == (True, "")


def test_without_lines_a_parcel_takes_everything_not_yet_in_one(warehouse_user):
    order, tea, cup = two_line_order()
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 1})

    rest = shipment_create(order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user)

    assert contents(rest) == [("CUP-WH-200", 2), ("TEA-OB-100", 2)]
    assert parcel_quantities(order) == {tea.pk: 3, cup.pk: 2}


def test_once_every_item_is_in_a_parcel_another_is_refused(warehouse_user):
    order, tea, cup = two_line_order()
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user)
    for lines in (None, {tea.pk: 1}):
        with pytest.raises(ShippingError) as refused:
            shipment_create(
                order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user, lines=lines
            )
        assert str(refused.value) == (
            f"Every item of order {order.number} is already in a parcel; void a parcel waiting for pickup to change one."
        )
    assert order.shipments.count() == 1 and len(shipment_events(order)) == 1


@pytest.mark.parametrize(
    "quantity, message",
    [
        (0, "The quantity of TEA-OB-100 must be at least 1, not 0; leave a line out of the parcel instead."),
        (-2, "The quantity of TEA-OB-100 must be at least 1, not -2; leave a line out of the parcel instead."),
        ("-1", "The quantity of TEA-OB-100 must be at least 1, not -1; leave a line out of the parcel instead."),
        (1.5, "The quantity of TEA-OB-100 must be a whole number, not “1.5”."),
        ("1.5", "The quantity of TEA-OB-100 must be a whole number, not “1.5”."),
        ("2.0", "The quantity of TEA-OB-100 must be a whole number, not “2.0”."),
        (Decimal("1"), "The quantity of TEA-OB-100 must be a whole number, not “1”."),
        ("abc", "The quantity of TEA-OB-100 must be a whole number, not “abc”."),
        ("²", "The quantity of TEA-OB-100 must be a whole number, not “²”."),
        (True, "The quantity of TEA-OB-100 must be a whole number, not “True”."),
        (None, "The quantity of TEA-OB-100 must be a whole number, not “None”."),
        (4, "TEA-OB-100: 3 of 3 left to put in a parcel; 4 is more than that."),
    ],
)
def test_a_quantity_that_is_not_a_whole_number_from_1_to_what_is_left_is_refused(warehouse_user, quantity, message):
    order, tea, _cup = two_line_order()
    with pytest.raises(ShippingError) as refused:
        shipment_create(
            order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea.pk: quantity}
        )
    assert str(refused.value) == message
    assert not Shipment.objects.exists() and not ShipmentLine.objects.exists()
    assert shipment_events(order) == []


def test_more_than_is_left_after_a_first_parcel_is_refused_naming_the_sku_and_what_is_left(warehouse_user):
    order, tea, cup = two_line_order()
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 2})
    with pytest.raises(ShippingError) as refused:
        shipment_create(
            order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user, lines={tea: 2, cup: 2}
        )
    assert str(refused.value) == "TEA-OB-100: 1 of 3 left to put in a parcel; 2 is more than that."
    assert order.shipments.count() == 1
    assert parcel_quantities(order) == {tea.pk: 2}


def test_lines_of_another_order_or_no_order_are_refused(warehouse_user):
    order, tea, _cup = two_line_order()
    other = OrderFactory(packed=True, number="SO-OTHER")
    theirs = other.lines.get()
    cases = [
        ({theirs: 1}, f"Order {order.number} has no line {theirs.sku}."),
        ({theirs.pk: 1}, f"Order {order.number} has no line {theirs.pk}."),
        ({999999: 1}, f"Order {order.number} has no line 999999."),
        ({"abc": 1}, f"Order {order.number} has no line abc."),
        ({None: 1}, f"Order {order.number} has no line None."),
    ]
    for lines, message in cases:
        with pytest.raises(ShippingError) as refused:
            shipment_create(
                order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines=lines
            )
        assert str(refused.value) == message
    assert not Shipment.objects.exists()


def test_a_parcel_with_nothing_in_it_is_refused(warehouse_user):
    order, _tea, _cup = two_line_order()
    with pytest.raises(ShippingError) as refused:
        shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={})
    assert str(refused.value) == "The parcel holds nothing: give a quantity for at least one line."
    assert not Shipment.objects.exists()


def test_a_line_named_twice_is_refused(warehouse_user):
    order, tea, _cup = two_line_order()
    with pytest.raises(ShippingError) as refused:
        shipment_create(
            order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 1, tea.pk: 1}
        )
    assert str(refused.value) == "TEA-OB-100 is given twice for the parcel."
    assert not Shipment.objects.exists()


def test_the_tracking_number_rules_still_hold_for_a_second_parcel(warehouse_user):
    order, tea, cup = two_line_order(number="SO-2P")
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 3})
    with pytest.raises(ShippingError) as refused:
        shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={cup: 2})
    assert str(refused.value) == "Tracking number 123456789012 is already used by order SO-2P."
    with pytest.raises(ShippingError) as refused:
        shipment_create(order=order, carrier=post(), tracking_number="12345", actor=warehouse_user, lines={cup: 2})
    assert str(refused.value) == (
        "“12345” is not a valid Chunghwa Post tracking number: expected 2 letters, 9 digits, “TW”, like AB123456789TW."
    )
    assert order.shipments.count() == 1


# --- voiding a parcel ---------------------------------------------------------------------------


def test_voiding_a_pending_parcel_frees_its_units_and_leaves_the_other(warehouse_user):
    order, tea, cup = two_line_order()
    kept = shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 2})
    wrong = shipment_create(order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user)
    assert parcel_quantities(order) == {tea.pk: 3, cup.pk: 2}

    shipment_void(shipment=wrong, actor=warehouse_user, reason="Wrong items in it")

    kept.refresh_from_db()
    assert kept.status == Shipment.Status.PENDING
    assert parcel_quantities(order) == {tea.pk: 2}
    assert checks.shipment_tracked(order) == (False, "1 × TEA-OB-100, 2 × CUP-WH-200 not in a parcel yet")
    again = shipment_create(
        order=order, carrier=post(), tracking_number="RR123456780TW", actor=warehouse_user, lines={tea: 1, cup: 2}
    )
    assert contents(again) == [("CUP-WH-200", 2), ("TEA-OB-100", 1)]
    assert checks.shipment_tracked(order) == (True, "")


# --- the workflow -------------------------------------------------------------------------------


def test_an_order_with_units_not_in_a_parcel_cannot_ship(warehouse_user):
    order, tea, _cup = two_line_order()
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 1})
    tick_manual_steps(order)
    with pytest.raises(ChecklistIncomplete) as refused:
        orders.order_advance(order=order, actor=warehouse_user)
    assert "2 × TEA-OB-100, 2 × CUP-WH-200 not in a parcel yet" in str(refused.value)
    order.refresh_from_db()
    assert order.status == S.PACKED


def test_shipping_the_order_ships_every_pending_parcel_and_consumes_all_of_its_stock(warehouse_user):
    order, tea, cup = two_line_order()
    first = shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 3})
    voided = shipment_create(order=order, carrier=post(), tracking_number="RR000000000TW", actor=warehouse_user)
    shipment_void(shipment=voided, actor=warehouse_user, reason="Mistyped")
    second = shipment_create(order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user)
    tick_manual_steps(order)

    order = orders.order_advance(order=order, actor=warehouse_user)

    assert order.status == S.SHIPPED
    statuses = {s.tracking_number: s.status for s in order.shipments.all()}
    assert statuses == {"123456789012": "shipped", "RR123456789TW": "shipped", "RR000000000TW": "cancelled"}
    assert shipped_quantities(order) == {tea.pk: 3, cup.pk: 2}
    for line, quantity in ((tea, 3), (cup, 2)):
        level = line.product.stock_levels.get()
        assert (level.on_hand, level.reserved) == (10 - quantity, 0)
    del first, second


def test_delivery_is_confirmed_when_every_parcel_is_delivered(warehouse_user):
    order, tea, _cup = two_line_order()
    first = shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 3})
    second = shipment_create(order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user)
    tick_manual_steps(order)
    order = orders.order_advance(order=order, actor=warehouse_user)
    assert checks.shipment_delivered(order) == (
        False,
        "0 of 2 parcels delivered; tick it when the customer confirms delivery of all of them.",
    )

    shipment_mark_delivered(shipment=first, actor=warehouse_user)

    assert checks.shipment_delivered(order) == (
        False,
        "1 of 2 parcels delivered; tick it when the customer confirms delivery of all of them.",
    )
    with pytest.raises(ChecklistIncomplete):
        orders.order_advance(order=order, actor=warehouse_user)
    second.refresh_from_db()
    assert second.status == Shipment.Status.SHIPPED  # marking one delivered left the other as it was

    shipment_mark_delivered(shipment=second, actor=warehouse_user)

    assert checks.shipment_delivered(order) == (True, "")
    order = orders.order_advance(order=order, actor=warehouse_user)
    assert order.status == S.DELIVERED


def test_a_cancelled_parcel_does_not_count_for_delivery(warehouse_user):
    order = OrderFactory(shipped=True)
    Shipment.objects.create(order=order, carrier=post(), tracking_number="RR000000000TW", status="cancelled")
    shipment_mark_delivered(shipment=order.shipments.get(status="shipped"), actor=warehouse_user)
    assert checks.shipment_delivered(order) == (True, "")


# --- the tracked step ---------------------------------------------------------------------------


def test_the_tracked_step_names_units_in_a_parcel_without_a_valid_number(warehouse_user, django_assert_num_queries):
    order, tea, cup = two_line_order()
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 3})
    # Booked before the carrier's pattern changed: its number no longer matches.
    carrier = post()
    odd = Shipment.objects.create(order=order, carrier=carrier, tracking_number="12345")
    ShipmentLine.objects.create(shipment=odd, order_line=cup, quantity=1)
    assert checks.shipment_tracked(order) == (
        False,
        "1 × CUP-WH-200 not in a parcel yet; 1 × CUP-WH-200 in a parcel without a valid tracking number",
    )
    # The order page's prefetched parcels give the same answer, without a query.
    page_order = order_for_page(order.pk)
    with django_assert_num_queries(0):
        answer = checks.shipment_tracked(page_order)
    assert answer == (
        False,
        "1 × CUP-WH-200 not in a parcel yet; 1 × CUP-WH-200 in a parcel without a valid tracking number",
    )


def test_the_tracked_step_with_no_valid_number_at_all(warehouse_user):
    order, _tea, _cup = two_line_order()
    odd = Shipment.objects.create(order=order, carrier=tcat(), tracking_number="ABC")
    ShipmentLine.objects.bulk_create(ShipmentLine(shipment=odd, order_line=line, quantity=line.quantity) for line in order.lines.all())
    assert checks.shipment_tracked(order) == (False, "No shipment has a valid tracking number.")


# --- the shipped e-mail -------------------------------------------------------------------------


def ship_with_two_parcels(actor, django_capture_on_commit_callbacks):
    order, tea, cup = two_line_order(customer=CustomerFactory(name="Lin Mei", email="mei@example.com", language="en"))
    order.lines.filter(pk=cup.pk).update(product_name="Cup & saucer")
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=actor, lines={tea: 2, cup: 2})
    voided = shipment_create(order=order, carrier=post(), tracking_number="RR000000000TW", actor=actor)
    shipment_void(shipment=voided, actor=actor, reason="Mistyped")
    shipment_create(order=order, carrier=post(), tracking_number="RR123456789TW", actor=actor)
    tick_manual_steps(order)
    with django_capture_on_commit_callbacks(execute=True):
        return orders.order_advance(order=order, actor=actor)


def test_the_shipped_email_lists_every_parcel_with_its_items(warehouse_user, mailoutbox, django_capture_on_commit_callbacks):
    order = ship_with_two_parcels(warehouse_user, django_capture_on_commit_callbacks)

    [mail] = mailoutbox
    assert mail.subject == f"Your order {order.number} has shipped"
    assert mail.body == (
        "Dear Lin Mei,\n"
        "\n"
        f"Your order {order.number} is on its way. It comes in 2 parcels.\n"
        "\n"
        "Parcel 1 of 2\n"
        "T-Cat: 123456789012\n"
        "https://track.example.com/?no=123456789012\n"
        "- 2 × Oolong tea 100 g\n"
        "- 2 × Cup & saucer\n"
        "\n"
        "Parcel 2 of 2\n"
        "Chunghwa Post: RR123456789TW\n"
        "https://post.example.com/track?no=RR123456789TW\n"
        "- 1 × Oolong tea 100 g\n"
        "\n"
        "Thank you for your order.\n"
    )
    assert "RR000000000TW" not in mail.body  # the voided parcel


def test_the_shipped_email_of_one_parcel_names_no_parcel_count(warehouse_user, mailoutbox, django_capture_on_commit_callbacks):
    order = OrderFactory(packed=True, customer=CustomerFactory(name="Lin Mei", email="mei@example.com", language="en"))
    line = order.lines.get()
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user)
    tick_manual_steps(order)
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_advance(order=order, actor=warehouse_user)
    [mail] = mailoutbox
    assert "parcel" not in mail.body.lower()
    assert "T-Cat: 123456789012\nhttps://track.example.com/?no=123456789012\n" in mail.body
    assert f"- 1 × {line.product_name}\n" in mail.body


def test_the_shipped_email_in_chinese(warehouse_user, mailoutbox, django_capture_on_commit_callbacks):
    customer = CustomerFactory(name="林美玲", email="mei@example.com", language="zh-hant")
    order, tea, _cup = two_line_order(customer=customer)
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 3})
    shipment_create(order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user)
    tick_manual_steps(order)
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_advance(order=order, actor=warehouse_user)
    [mail] = mailoutbox
    # In the customer's language (the parcel sentences are translated at merge; the
    # sentences around them are already), every parcel with what it holds.
    assert f"您的訂單 {order.number} 已出貨" in mail.body and "感謝您的訂購。" in mail.body
    assert "T-Cat: 123456789012\nhttps://track.example.com/?no=123456789012\n- 3 × Oolong tea 100 g\n" in mail.body
    assert "Chunghwa Post: RR123456789TW\nhttps://post.example.com/track?no=RR123456789TW\n- 2 × Cup\n" in mail.body


# --- the order page -----------------------------------------------------------------------------


def change_url(order):
    return reverse("admin:orders_order_change", args=[order.pk])


def create_url(order):
    return reverse("admin:orders_order_create_shipment", args=[order.pk])


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)._queued_messages]


def test_the_shipment_form_lists_every_line_with_what_is_left(client, warehouse_user):
    order, tea, cup = two_line_order()
    client.force_login(warehouse_user)
    html = client.get(change_url(order)).content.decode()
    assert create_url(order) in html
    assert f'name="quantity-{tea.pk}" min="0" max="3" step="1" inputmode="numeric" value="3"' in html
    assert f'name="quantity-{cup.pk}" min="0" max="2" step="1" inputmode="numeric" value="2"' in html
    assert "New parcel" in html

    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 1, cup: 2})

    html = client.get(change_url(order)).content.decode()
    assert "Another parcel" in html
    assert f'name="quantity-{tea.pk}" min="0" max="2" step="1" inputmode="numeric" value="2"' in html
    assert f'name="quantity-{cup.pk}"' not in html and "All in parcels" in html
    # The parcel is listed with what it holds.
    assert "1 × TEA-OB-100" in html and "2 × CUP-WH-200" in html


def test_the_form_is_gone_once_everything_is_in_parcels_and_for_customer_service(client, warehouse_user, service_user):
    order, _tea, _cup = two_line_order()
    client.force_login(service_user)
    assert create_url(order) not in client.get(change_url(order)).content.decode()
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user)
    client.force_login(warehouse_user)
    assert create_url(order) not in client.get(change_url(order)).content.decode()


def test_create_a_parcel_from_the_order_page_with_the_typed_quantities(client, warehouse_user):
    order, tea, cup = two_line_order()
    client.force_login(warehouse_user)
    carrier = post()

    response = client.post(
        create_url(order),
        {"carrier": carrier.pk, "tracking_number": "rr 123456789 tw", f"quantity-{tea.pk}": "2", f"quantity-{cup.pk}": "0"},
    )

    assert response.status_code == 302
    assert messages_of(response) == [("success", "Shipment Chunghwa Post RR123456789TW created.")]
    [shipment] = order.shipments.all()
    assert contents(shipment) == [("TEA-OB-100", 2)]

    response = client.post(
        create_url(order),
        {"carrier": tcat().pk, "tracking_number": "123456789012", f"quantity-{tea.pk}": "1", f"quantity-{cup.pk}": " 2 "},
    )
    assert messages_of(response) == [("success", "Shipment T-Cat 123456789012 created.")]
    assert parcel_quantities(order) == {tea.pk: 3, cup.pk: 2}


@pytest.mark.parametrize(
    "quantities, message",
    [
        ({"tea": "5", "cup": "0"}, "TEA-OB-100: 3 of 3 left to put in a parcel; 5 is more than that."),
        ({"tea": "-1", "cup": "0"}, "The quantity of TEA-OB-100 must be at least 1, not -1; leave a line out of the parcel instead."),
        ({"tea": "1.5", "cup": "0"}, "The quantity of TEA-OB-100 must be a whole number, not “1.5”."),
        ({"tea": "two", "cup": "2"}, "The quantity of TEA-OB-100 must be a whole number, not “two”."),
        ({"tea": "0", "cup": ""}, "The parcel holds nothing: give a quantity for at least one line."),
    ],
)
def test_a_refused_parcel_is_a_message_and_keeps_what_was_typed(client, warehouse_user, quantities, message):
    order, tea, cup = two_line_order()
    carrier = post()
    client.force_login(warehouse_user)
    typed = {f"quantity-{tea.pk}": quantities["tea"], f"quantity-{cup.pk}": quantities["cup"]}

    response = client.post(create_url(order), {"carrier": carrier.pk, "tracking_number": "RR123456789TW", **typed})

    assert response.status_code == 302
    assert messages_of(response) == [("error", message)]
    assert not order.shipments.exists()
    html = client.get(change_url(order)).content.decode()
    assert f'<option value="{carrier.pk}" selected>Chunghwa Post</option>' in html
    assert 'value="RR123456789TW"' in html
    assert f'name="quantity-{tea.pk}" min="0" max="3" step="1" inputmode="numeric" value="{quantities["tea"]}"' in html
    assert f'name="quantity-{cup.pk}" min="0" max="2" step="1" inputmode="numeric" value="{quantities["cup"]}"' in html
    # Read once: the next visit shows what is left again.
    html = client.get(change_url(order)).content.decode()
    assert f'name="quantity-{tea.pk}" min="0" max="3" step="1" inputmode="numeric" value="3"' in html


def test_a_parcel_booked_meanwhile_makes_the_stale_form_a_message(client, warehouse_user):
    """The page was loaded with 3 left; a colleague put 2 in a parcel since."""
    order, tea, cup = two_line_order()
    client.force_login(warehouse_user)
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 2})
    response = client.post(
        create_url(order),
        {"carrier": post().pk, "tracking_number": "RR123456789TW", f"quantity-{tea.pk}": "3", f"quantity-{cup.pk}": "2"},
    )
    assert messages_of(response) == [("error", "TEA-OB-100: 1 of 3 left to put in a parcel; 3 is more than that.")]
    assert order.shipments.count() == 1


def test_each_pending_parcel_has_its_void_form_and_voiding_one_brings_the_form_back(client, warehouse_user):
    order, tea, _cup = two_line_order()
    first = shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 3})
    second = shipment_create(order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user)
    client.force_login(warehouse_user)
    html = client.get(change_url(order)).content.decode()
    void_url = reverse("admin:orders_order_void_shipment", args=[order.pk])
    assert html.count(f'action="{void_url}"') == 2
    for shipment in (first, second):
        assert f'name="shipment" value="{shipment.pk}"' in html
    assert create_url(order) not in html

    response = client.post(void_url, {"shipment": second.pk, "reason": "Wrong box"})

    assert messages_of(response) == [("success", "Shipment RR123456789TW is voided; the order can have a new one.")]
    html = client.get(change_url(order)).content.decode()
    assert html.count(f'action="{void_url}"') == 1
    assert "Voided: Wrong box" in html
    assert create_url(order) in html
    first.refresh_from_db()
    assert first.status == Shipment.Status.PENDING


def test_the_order_page_lists_parcels_with_their_links_and_timeline(client, warehouse_user):
    order, tea, _cup = two_line_order()
    shipment_create(order=order, carrier=tcat(), tracking_number="123456789012", actor=warehouse_user, lines={tea: 3})
    shipment_create(order=order, carrier=post(), tracking_number="RR123456789TW", actor=warehouse_user)
    client.force_login(warehouse_user)
    html = client.get(change_url(order)).content.decode()
    assert 'href="https://track.example.com/?no=123456789012"' in html
    assert 'href="https://post.example.com/track?no=RR123456789TW"' in html
    assert "Shipment created: TESTCAT 123456789012 (3 × TEA-OB-100)" in html
    assert "Shipment created: TESTPOST RR123456789TW (2 × CUP-WH-200)" in html


# --- query counts -------------------------------------------------------------------------------


def order_with_parcels(parcels, lines):
    """A packed order of `lines` lines of `parcels` units each, in `parcels` parcels."""
    order = OrderFactory(packed=True, lines=lines, quantity=parcels)
    carriers = [tcat(), post()]
    for n in range(parcels):
        carrier = carriers[n % 2]
        # The order's id cut to fit the patterns (12 digits; 2 letters, 9 digits, TW):
        # ids run past 99,999 on a PostgreSQL test database that has seen many tests.
        number = f"{order.pk % 10**6:06d}{n:06d}" if carrier.code == "TESTCAT" else f"RR{order.pk % 10**5:05d}{n:04d}TW"
        shipment_create(
            order=order,
            carrier=carrier,
            tracking_number=number,
            actor=None,
            lines={line: 1 for line in order.lines.all()},
        )
    return order


def test_the_order_page_runs_the_same_queries_for_one_parcel_as_for_many(client, warehouse_user):
    client.force_login(warehouse_user)
    small = order_with_parcels(1, 1)
    big = order_with_parcels(4, 3)
    page_queries(client, change_url(small))  # warm up (sessions, content types)
    one, small_page = page_queries(client, change_url(small))
    many, big_page = page_queries(client, change_url(big))
    # Each page lists the parcels and lines its queries are counted over.
    assert small_page.content.decode().count('class="order-parcel order-parcel--pending"') == 1
    assert big_page.content.decode().count('class="order-parcel order-parcel--pending"') == 4
    assert big_page.content.decode().count("<li>1 × SKU-") == 12
    assert one == many


def test_the_order_list_runs_the_same_queries_for_orders_with_more_parcels(client, warehouse_user):
    client.force_login(warehouse_user)
    url = reverse("admin:orders_order_changelist")
    order_with_parcels(1, 1)
    page_queries(client, url)
    one, one_page = page_queries(client, url)
    for _ in range(3):
        order_with_parcels(3, 2)
    many, many_page = page_queries(client, url)
    assert (len(changelist_rows(one_page)), len(changelist_rows(many_page))) == (1, 4)
    assert one == many

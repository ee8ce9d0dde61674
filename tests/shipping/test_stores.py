"""Carriers from the start and convenience-store pickup on the shipping side: the
carriers migration 0006 loads, the methods a carrier serves (the carrier form's
rules and the database's), shipment_create refusing a carrier that does not serve
the order, the order page offering only the carriers that do, and the store on the
pick list and the packing slip."""

import importlib
import re

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from orders import services as orders_services
from orders.exceptions import WorkflowError
from orders.models import Order, StoreChain
from shipping.admin.carriers import CarrierForm
from shipping.defaults import DEFAULT_CARRIERS, carriers_load
from shipping.exceptions import ShippingError
from shipping.models import Carrier, Shipment
from shipping.services import shipment_create
from shipping.tracking import describe_pattern, tracking_number_valid
from tests.factories import OrderFactory
from tests.orders.test_admin import action_url, change_url, messages_of
from tests.utils import count_queries, page_queries

pytestmark = pytest.mark.django_db

PACKING_SLIPS = reverse("admin:orders_order_packing_slips")
PICK_LIST = reverse("admin:orders_order_pick_list")

# code: (a real-looking number, what it serves, its chain)
EXPECTED = {
    "TCAT": ("123456789012", "home", ""),
    "HCT": ("1234567890", "home", ""),
    "POST": ("12345678901234", "home express", ""),
    "SEVEN": ("F12345678901", "store_pickup", "7-eleven"),
    "FAMILY": ("12345678901", "store_pickup", "familymart"),
    "HILIFE": ("1234567890123", "store_pickup", "hilife"),
    "OKMART": ("12345678901", "store_pickup", "okmart"),
    "DHL": ("1234567890", "express", ""),
    "FEDEX": ("123456789012", "express", ""),
    "UPS": ("1Z999AA10123456784", "express", ""),
}


def served(carrier):
    return " ".join(
        method for method, flag in (("home", carrier.serves_home), ("store_pickup", carrier.serves_store_pickup),
                                    ("express", carrier.serves_express)) if flag
    )


# --- the carriers a fresh install starts with ---------------------------------------------------


def test_the_migration_loads_ten_carriers_with_formats_links_and_methods():
    carriers = {carrier.code: carrier for carrier in Carrier.objects.all()}
    assert set(carriers) == set(EXPECTED)
    for code, (sample, methods, chain) in EXPECTED.items():
        carrier = carriers[code]
        assert carrier.is_active
        assert tracking_number_valid(carrier, sample), code
        assert not tracking_number_valid(carrier, sample + "9"), code  # the whole number must match
        assert ", like " in describe_pattern(carrier.tracking_number_pattern), code  # staff read it in words
        assert carrier.tracking_url_template.startswith("https://") and "{tracking_number}" in carrier.tracking_url_template
        assert carrier.tracking_url(sample).endswith(sample)
        assert (served(carrier), carrier.store_chain) == (methods, chain), code
        carrier.full_clean()  # as the carrier form would accept it


def test_the_demo_patterns_are_kept():
    patterns = {code: pattern for code, _name, pattern, *_rest in DEFAULT_CARRIERS}
    assert patterns["TCAT"] == r"\d{12}" and patterns["SEVEN"] == r"[A-Z]\d{11}" and patterns["FAMILY"] == r"\d{11}"
    assert patterns["POST"] == r"\d{14}|[A-Z]{2}\d{9}TW" and patterns["DHL"] == r"\d{10}"


def test_every_chain_has_a_carrier():
    assert {carrier.store_chain for carrier in Carrier.objects.filter(serves_store_pickup=True)} == set(StoreChain.values)


def test_loading_again_creates_nothing_and_keeps_a_managers_edits():
    Carrier.objects.filter(code="TCAT").update(name="T-Cat 黑貓 (ours)", tracking_number_pattern=r"\d{12}|\d{10}")
    Carrier.objects.filter(code="UPS").delete()
    migration = importlib.import_module("shipping.migrations.0006_stores_carriers")
    from django.apps import apps

    migration.load_carriers(apps, None)
    assert Carrier.objects.count() == 10
    tcat = Carrier.objects.get(code="TCAT")
    assert (tcat.name, tcat.tracking_number_pattern) == ("T-Cat 黑貓 (ours)", r"\d{12}|\d{10}")
    assert Carrier.objects.get(code="UPS").serves_express  # absent: created again
    assert carriers_load(Carrier) == []


def test_a_carrier_from_before_methods_gets_its_methods_and_nothing_else():
    Carrier.objects.filter(code="SEVEN").update(
        name="7-11 (old demo)", serves_store_pickup=False, store_chain="", serves_home=False
    )
    carriers_load(Carrier)
    seven = Carrier.objects.get(code="SEVEN")
    assert (seven.name, seven.serves_store_pickup, seven.store_chain) == ("7-11 (old demo)", True, "7-eleven")


# --- what a carrier serves ------------------------------------------------------------------------


def carrier_form(**overrides):
    return CarrierForm(
        data={
            "code": "SF",
            "name": "SF Express",
            "tracking_url_template": "https://www.sf-express.com/track?id={tracking_number}",
            "tracking_number_pattern": r"SF\d{10}",
            "is_active": "on",
            **overrides,
        }
    )


def test_the_carrier_form_has_the_methods_and_their_rules():
    assert carrier_form(serves_express="on").is_valid()
    form = carrier_form(serves_store_pickup="on")
    assert not form.is_valid()
    assert form.errors["store_chain"] == [
        "A convenience-store pickup carrier needs the chain whose stores it delivers to."
    ]
    form = carrier_form(serves_home="on", store_chain="hilife")
    assert form.errors["store_chain"] == [
        "A store chain goes only with convenience-store pickup: tick it, or leave the chain blank."
    ]
    form = carrier_form()
    assert form.errors["serves_home"] == [
        "Tick at least one delivery method this carrier serves (an active carrier serving none could ship no order)."
    ]
    assert carrier_form(is_active="").is_valid()  # an inactive one may serve nothing
    saved = carrier_form(serves_store_pickup="on", store_chain="okmart").save()
    assert saved.serves(Order(delivery_method="store_pickup", pickup_chain="okmart"))
    assert not saved.serves(Order(delivery_method="store_pickup", pickup_chain="hilife"))


def test_the_database_refuses_a_chain_without_store_pickup_and_the_reverse():
    for fields in ({"serves_store_pickup": True, "store_chain": ""}, {"serves_home": True, "store_chain": "hilife"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Carrier.objects.create(code="BAD", name="Bad", **fields)


def test_the_carrier_list_says_what_each_serves(client, manager):
    client.force_login(manager)
    html = client.get(reverse("admin:shipping_carrier_changelist")).content.decode()
    assert "Convenience-store pickup (Hi-Life)" in html
    assert "Home delivery, Express (international)" in html  # Chunghwa Post (EMS)
    page = client.get(reverse("admin:shipping_carrier_change", args=[Carrier.objects.get(code="SEVEN").pk]))
    assert 'name="store_chain"' in page.content.decode() and 'name="serves_express"' in page.content.decode()


# --- shipment_create: the carrier must serve the order ------------------------------------------------


def test_dhl_is_refused_for_a_7_eleven_pickup_naming_the_carrier_that_serves_it(warehouse_user):
    order = OrderFactory(packed=True, delivery_method="store_pickup", number="SO-711")
    dhl = Carrier.objects.get(code="DHL")
    with pytest.raises(ShippingError) as refused:
        shipment_create(order=order, carrier=dhl, tracking_number="1234567890", actor=warehouse_user)
    assert str(refused.value) == (
        "Order SO-711 goes by Convenience-store pickup (7-ELEVEN), which DHL Express does not deliver. "
        "Choose 7-ELEVEN 交貨便."
    )
    assert not order.shipments.exists()
    shipment = shipment_create(
        order=order, carrier=Carrier.objects.get(code="SEVEN"), tracking_number="F12345678901", actor=warehouse_user
    )
    assert shipment.status == Shipment.Status.PENDING


def test_another_chains_carrier_is_refused(warehouse_user):
    order = OrderFactory(packed=True, delivery_method="store_pickup", pickup_chain="hilife", number="SO-HL")
    with pytest.raises(ShippingError, match=r"goes by Convenience-store pickup \(Hi-Life\), which 全家店到店 FamilyMart does not deliver\. Choose 萊爾富 Hi-Life\."):
        shipment_create(order=order, carrier=Carrier.objects.get(code="FAMILY"), tracking_number="12345678901",
                        actor=warehouse_user)


def test_a_home_courier_is_refused_for_an_express_order_and_an_express_one_for_a_home_order(warehouse_user):
    express = OrderFactory(packed=True, delivery_method="express", number="SO-EX")
    with pytest.raises(ShippingError) as refused:
        shipment_create(order=express, carrier=Carrier.objects.get(code="TCAT"), tracking_number="123456789012",
                        actor=warehouse_user)
    assert str(refused.value) == (
        "Order SO-EX goes by Express (international), which 黑貓宅急便 T-Cat does not deliver. "
        "Choose DHL Express, FedEx, UPS, 中華郵政 Chunghwa Post."
    )
    home = OrderFactory(packed=True, number="SO-HOME")
    with pytest.raises(ShippingError, match="Order SO-HOME goes by Home delivery, which UPS does not deliver."):
        shipment_create(order=home, carrier=Carrier.objects.get(code="UPS"), tracking_number="1Z999AA10123456784",
                        actor=warehouse_user)


def test_when_no_active_carrier_serves_the_order_the_refusal_says_so(warehouse_user):
    order = OrderFactory(packed=True, delivery_method="store_pickup", pickup_chain="okmart", number="SO-OK")
    Carrier.objects.filter(code="OKMART").update(is_active=False)
    with pytest.raises(ShippingError) as refused:
        shipment_create(order=order, carrier=Carrier.objects.get(code="SEVEN"), tracking_number="F12345678901",
                        actor=warehouse_user)
    assert str(refused.value) == (
        "Order SO-OK goes by Convenience-store pickup (OK mart), which 7-ELEVEN 交貨便 does not deliver. "
        "No active carrier delivers Convenience-store pickup (OK mart); a manager can add one, or tick the method "
        "on a carrier's page (Shipping › Carriers)."
    )


def test_a_store_pickup_order_without_its_store_is_refused_until_it_has_one(warehouse_user):
    order = OrderFactory(packed=True, number="SO-OLD")
    # Placed before stores were data: the store was text in the address line.
    type(order).objects.filter(pk=order.pk).update(delivery_method="store_pickup")
    order.refresh_from_db()
    with pytest.raises(ShippingError, match="Order SO-OLD has no pickup store yet"):
        shipment_create(order=order, carrier=Carrier.objects.get(code="SEVEN"), tracking_number="F12345678901",
                        actor=warehouse_user)


# --- the order page's carrier choice --------------------------------------------------------------------


def carrier_options(html):
    form = re.search(r'<form[^>]*order-shipment-form.*?</form>', html, re.S).group()
    return re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', form)


def test_the_order_page_offers_only_the_carriers_that_serve_the_order(client, warehouse_user):
    client.force_login(warehouse_user)
    pickup = OrderFactory(packed=True, delivery_method="store_pickup", pickup_chain="familymart")
    assert carrier_options(client.get(change_url(pickup)).content.decode()) == ["全家店到店 FamilyMart"]
    express = OrderFactory(packed=True, delivery_method="express")
    assert carrier_options(client.get(change_url(express)).content.decode()) == [
        "DHL Express", "FedEx", "UPS", "中華郵政 Chunghwa Post"
    ]


def test_the_order_page_says_when_no_active_carrier_serves_the_order(client, warehouse_user):
    client.force_login(warehouse_user)
    Carrier.objects.filter(code="HILIFE").update(is_active=False)
    order = OrderFactory(packed=True, delivery_method="store_pickup", pickup_chain="hilife")
    html = client.get(change_url(order)).content.decode()
    assert "order-shipment-form" not in html
    assert "No active carrier delivers Convenience-store pickup (Hi-Life)" in html


def test_posting_a_carrier_that_does_not_serve_the_order_is_refused_with_a_message(client, warehouse_user):
    client.force_login(warehouse_user)
    order = OrderFactory(packed=True, delivery_method="store_pickup")
    response = client.post(
        action_url("create_shipment", order), {"carrier": Carrier.objects.get(code="DHL").pk, "tracking_number": "1234567890"}
    )
    assert response.status_code == 302
    [(level, text)] = messages_of(response)
    assert level == "error" and text.startswith("Order " + order.number + " goes by Convenience-store pickup (7-ELEVEN), which DHL Express")
    assert not order.shipments.exists()


# --- printables -------------------------------------------------------------------------------


def test_the_label_prints_the_store_in_place_of_the_street_address(client, warehouse_user):
    order = OrderFactory(packed=True, delivery_method="store_pickup", ship_name="林美華", ship_phone="0912-345-678")
    client.force_login(warehouse_user)
    html = client.get(PACKING_SLIPS, {"ids": str(order.pk), "layout": "label"}).content.decode()
    ship_to = re.search(r'<section class="slip-box slip-ship-to">.*?</section>', html, re.S).group()
    assert "林美華" in ship_to and "0912-345-678" in ship_to
    assert '<div class="slip-store-chain">7-ELEVEN</div>' in ship_to
    assert '<div class="slip-store-name">府城門市</div>' in ship_to
    assert "<strong>131386</strong>" in ship_to
    assert "<address>" not in ship_to and order.ship_address1 not in ship_to
    a4 = client.get(PACKING_SLIPS, {"ids": str(order.pk)}).content.decode()
    assert '<div class="slip-store-name">府城門市</div>' in a4


def test_a_home_orders_slip_keeps_the_address(client, warehouse_user):
    order = OrderFactory(packed=True)
    client.force_login(warehouse_user)
    html = client.get(PACKING_SLIPS, {"ids": str(order.pk), "layout": "label"}).content.decode()
    assert "<address>" in html and 'class="slip-store"' not in html


def test_the_pick_list_names_the_store(client, warehouse_user):
    order = OrderFactory(processing=True, delivery_method="store_pickup", pickup_chain="okmart", pickup_store_name="新竹光復店")
    client.force_login(warehouse_user)
    html = client.get(PICK_LIST, {"ids": str(order.pk)}).content.decode()
    assert '<span class="pick-order-store">OK mart 新竹光復店 (store 1357)</span>' in html


@pytest.mark.parametrize("url, layout", [(PACKING_SLIPS, "label"), (PACKING_SLIPS, "a4"), (PICK_LIST, "")])
def test_printables_queries_do_not_grow_with_store_pickup_orders(client, warehouse_user, url, layout):
    client.force_login(warehouse_user)
    first = OrderFactory(processing=True, delivery_method="store_pickup")
    params = f"&layout={layout}" if layout else ""
    count_queries(client, f"{url}?ids={first.pk}{params}")
    one, _page = page_queries(client, f"{url}?ids={first.pk}{params}")
    others = [
        OrderFactory(processing=True, delivery_method="store_pickup", pickup_chain=chain)
        for chain in ("familymart", "hilife", "okmart")
    ]
    ids = ",".join(str(order.pk) for order in [first, *others])
    many, page = page_queries(client, f"{url}?ids={ids}{params}")
    assert page.content.decode().count("府城門市") >= 4
    assert many == one


# --- the store's chain and a booked parcel ---------------------------------------------------------


def test_the_chain_cannot_change_under_a_parcel_booked_with_the_old_chains_carrier(warehouse_user, service_user):
    order = OrderFactory(packed=True, delivery_method="store_pickup", number="SO-CH")
    shipment_create(order=order, carrier=Carrier.objects.get(code="SEVEN"), tracking_number="F12345678901",
                    actor=warehouse_user)
    with pytest.raises(WorkflowError) as refused:
        orders_services.order_correct_address(
            order=order, actor=service_user, pickup_chain="familymart", pickup_store_code="013579",
            pickup_store_name="台中公益店",
        )
    assert str(refused.value) == (
        "Order SO-CH is booked with 7-ELEVEN 交貨便 F12345678901, which does not deliver to FamilyMart stores; "
        "void that shipment before changing the store's chain."
    )
    order.refresh_from_db()
    assert order.pickup_chain == "7-eleven"
    # Another store of the same chain is fine: the carrier still delivers there.
    orders_services.order_correct_address(order=order, actor=service_user, pickup_store_code="111111",
                                          pickup_store_name="鑫台北門市")
    order.refresh_from_db()
    assert order.pickup_store_code == "111111"

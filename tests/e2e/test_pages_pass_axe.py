"""The pages people use pass axe-core's WCAG 2 A and AA rules, in English and in
繁體中文, and in the admin's dark theme: the order list (plain, filtered, searched),
an order in processing (checklist, lines, timeline, action forms), a shipped order
(shipment, return form), unpaid, held and packed orders, a refused tracking number,
the customers, the products, the stock levels (and low stock), the stock movements,
the shipments, the checklist steps, the target times, the warehouses and the
carriers, the refunds and an order's payment and refunds, each opened by the role
that uses it, on seeded data. (The start pages,
packing station, lookup, dashboard, exports and pick list have their own tests.)"""

import pytest
from tests.e2e.axe import WCAG_21_A_AA, axe_results

from inventory.models import StaffWarehouse
from orders import services
from orders.models import Order
from shipping.models import Shipment
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    StockLevelFactory,
    WarehouseFactory,
    manager_user,
    service_user,
    warehouse_user,
)

# Both languages in the admin's light theme, and English in its dark one (Django
# follows the system's colour scheme unless the theme toggle chose one).
LOOKS = [("en", "light"), ("zh-hant", "light"), ("en", "dark")]


def violations(page):
    """axe's violations on the page, one line per element: rule id, target, help."""
    results = axe_results(page, tags=WCAG_21_A_AA)
    return [
        f"{violation['id']} at {' '.join(map(str, node['target']))}: {violation['help']}"
        f" ({node['failureSummary'].splitlines()[-1].strip()})"
        for violation in results.response["violations"]
        for node in violation["nodes"]
    ]


def assert_accessible(page, *paths):
    """Open each page in turn; fail naming every violation on every page."""
    found = []
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        found += [f"{path}: {violation}" for violation in violations(page)]
    assert not found, "\n".join(found)


@pytest.fixture
def seeded(db):
    """Orders in several states with lines, events, shipments and checklists."""
    taipei = WarehouseFactory(code="TPE", name="台北倉 Taipei", priority=1)
    tea = ProductFactory(sku="TEA-OOLONG-300", name="烏龍茶 Oolong tea 300g", low_stock_threshold=5)
    cups = ProductFactory(sku="CUP-CELADON", name="青瓷杯 Celadon cup")
    StockLevelFactory(product=ProductFactory(sku="KETTLE-1L", name="Kettle 1 l", low_stock_threshold=8),
                      warehouse=taipei, on_hand=3)
    lin = CustomerFactory(name="林怡君", email="lin@example.com", phone="0912-477-523")
    CarrierFactory(code="TCAT", name="黑貓宅急便 T-Cat")
    CarrierFactory(code="711", name="7-ELEVEN 取貨", tracking_number_pattern=r"[A-Z]\d{10}")

    processing = OrderFactory(number="SO-1052", customer=lin, lines=[tea, cups], quantity=2, warehouse=taipei,
                              stock=20, processing=True)
    item = processing.checklist_items.filter(state="processing", predicate="").first()
    services.checklist_tick(item=item, actor=None)
    services.order_scan(order=processing, code=tea.barcode, actor=None)
    services.order_add_note(order=processing, actor=None, text="客戶要求週五前送達")
    shipped = OrderFactory(number="SO-1053", customer=lin, lines=[tea], warehouse=taipei, shipped=True)
    OrderFactory(number="SO-1054", customer=lin, warehouse=taipei)
    OrderFactory(number="SO-1055", warehouse=taipei, packed=True)
    services.order_hold(order=OrderFactory(number="SO-1056", warehouse=taipei, processing=True), actor=None,
                        reason="地址待確認")
    services.order_cancel(order=OrderFactory(number="SO-1057", warehouse=taipei), actor=None, reason="客戶取消")
    OrderFactory(number="SO-1058", warehouse=taipei, delivered=True)
    OrderFactory(number="SO-1059", customer=lin, warehouse=taipei, payment_status="pending")
    return {"warehouse": taipei, "processing": processing, "shipped": shipped, "customer": lin}


def log_in(login, page, user, language):
    login(user)
    if language != "en":
        with page.expect_navigation():
            page.select_option("#site-language", language)
        assert page.locator("html").get_attribute("lang") == language


def the_warehouse_user(seeded):
    user = warehouse_user(username="packer", first_name="Wei", last_name="Huang")
    StaffWarehouse.objects.create(user=user, warehouse=seeded["warehouse"])
    return user


USERS = {
    "warehouse": the_warehouse_user,
    "service": lambda seeded: service_user(username="cs", first_name="Mei", last_name="Chen"),
    "manager": lambda seeded: manager_user(username="boss", first_name="Ming", last_name="Lee"),
}


def order_page(number):
    return f"/admin/orders/order/{Order.objects.get(number=number).pk}/change/"


def unpaid_atm_order(seeded):
    return OrderFactory(number="SO-1060", customer=seeded["customer"], warehouse=seeded["warehouse"],
                        payment_status="pending", payment_method="atm")


def refuse_a_tracking_number(page):
    """A manager types a tracking number the carrier's format refuses: the page
    says so, keeps what was typed, and still passes."""
    page.select_option(".order-shipment-form select[name=carrier]", label="黑貓宅急便 T-Cat")
    page.fill(".order-shipment-form input[name=tracking_number]", "12345")
    with page.expect_navigation():
        page.locator(".order-shipment-form button").click()
    assert page.locator("ul.messagelist .error").count() == 1
    assert page.locator(".order-shipment-form input[name=tracking_number]").input_value() == "12345"
    found = violations(page)
    assert not found, "\n".join(found)


# (who, the pages they open in turn, what the last page shows): each in both languages.
PAGES = {
    "order list, plain, filtered and searched": (
        "warehouse",
        lambda seeded: [
            "/admin/orders/order/?q=no-such-order",
            "/admin/orders/order/?overdue=yes",
            "/admin/orders/order/?status__exact=processing",
            f"/admin/orders/order/?warehouse__id__exact={seeded['warehouse'].pk}&payment_status__exact=paid",
            "/admin/orders/order/?q=SO-1052",  # the one match: its order page
            "/admin/orders/order/",
        ],
        lambda page: page.locator("#result_list tbody tr").count() == 8,
    ),
    "order in processing, for warehouse staff": (
        "warehouse",
        lambda seeded: [order_page("SO-1052")],
        lambda page: page.locator(".order-checklist form").count() >= 1 and page.locator(".order-actions form").count() >= 1,
    ),
    "orders in processing and shipped, for customer service": (
        "service",
        lambda seeded: [order_page("SO-1052"), order_page("SO-1053")],
        lambda page: page.locator(".order-restock input[type=number]").count() == 1
        and Shipment.objects.get(order__number="SO-1053").tracking_number in page.content(),
    ),
    "unpaid, held and packed orders and a refused tracking number, for a manager": (
        "manager",
        lambda seeded: [order_page("SO-1059"), order_page("SO-1056"), order_page("SO-1055")],
        refuse_a_tracking_number,
    ),
    "payments and refunds, for a manager": (
        "manager",
        lambda seeded: [
            "/admin/orders/refund/",
            "/admin/orders/refund/?status__exact=due",
            f"/admin/orders/refund/{Order.objects.get(number='SO-1057').refunds.get().pk}/change/",
            order_page("SO-1057"),  # cancelled paid: its refund due, "mark refunded"
            order_page("SO-1058"),  # delivered: "Grant a refund"
            order_page(unpaid_atm_order(seeded).number),  # the five-digit reference field
        ],
        lambda page: page.locator("input[name=reference][pattern]").count() == 1,
    ),
    "customer list and a customer": (
        "service",
        lambda seeded: [
            "/admin/orders/customer/?q=lin",
            "/admin/orders/customer/",
            f"/admin/orders/customer/{seeded['customer'].pk}/change/",
        ],
        lambda page: "SO-1052" in page.content(),
    ),
    "stock and shipment lists, for warehouse staff": (
        "warehouse",
        lambda seeded: [
            "/admin/inventory/product/",
            "/admin/inventory/stocklevel/",
            "/admin/inventory/stockmovement/",
            "/admin/shipping/shipment/",
            "/admin/inventory/stocklevel/?low=yes",
        ],
        lambda page: page.locator("#result_list tbody tr").count() == 1,  # the kettle: 3 against 8
    ),
    "the managers' lists": (
        "manager",
        lambda seeded: [
            "/admin/inventory/product/",
            "/admin/inventory/stocklevel/?low=yes",
            f"/admin/inventory/stockmovement/?warehouse__id__exact={seeded['warehouse'].pk}",
            "/admin/shipping/shipment/",
            "/admin/orders/checkliststep/",
            "/admin/orders/statustarget/",
            "/admin/inventory/warehouse/",
            "/admin/shipping/carrier/",
        ],
        # The ten carriers every install starts with, the seeded 7-ELEVEN 取貨 and the
        # factory's T-Cat (TESTCAT) that the shipped orders went with.
        lambda page: page.locator("#result_list tbody tr").count() == 12,
    ),
}


@pytest.mark.parametrize(("language", "scheme"), LOOKS)
@pytest.mark.parametrize("pages", PAGES)
def test_the_pages_pass_axe(seeded, login, page, pages, language, scheme):
    role, paths, then = PAGES[pages]
    page.emulate_media(color_scheme=scheme)
    log_in(login, page, USERS[role](seeded), language)
    assert_accessible(page, *paths(seeded))
    assert then(page) is not False, pages

"""Demo data for trying the back-office: `manage.py seed_demo [--orders N] [--seed S]`.

Idempotent: warehouses, products, carriers, customers and users are keyed on their
codes, SKUs, e-mails and usernames; stock is received only where none was ever
received; orders whose number already exists are left alone. Everything is written
through the services (order_create, order_advance, order_scan, shipment_create, …),
so every demo order has the timeline a real one would have. Only the timestamps are
moved afterwards, so that orders look placed over the last weeks and some are overdue.

For demonstrations only: it creates staff accounts with a known password.
"""

import bisect
import logging
import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from inventory.models import Product, StaffWarehouse, StockLevel, StockMovement, Warehouse
from inventory.services import stock_receive
from orders import services
from orders.defaults import CUSTOMER_SERVICE, MANAGER, WAREHOUSE
from orders.selectors import split_limits
from orders.models import (
    Customer,
    DeliveryMethod,
    Order,
    OrderChecklistItem,
    OrderEvent,
    OrderLine,
    OrderStatus,
    COLLECTED_BY_CARRIER,
    PaymentMethod,
    PaymentStatus,
    Predicate,
    Refund,
    StatusTarget,
)
from shipping.defaults import carriers_load
from shipping.models import Carrier, Return, Shipment
from shipping.returns import return_open, return_receive
from shipping.services import shipment_create, shipment_mark_delivered

S = OrderStatus
DEMO_PASSWORD = "demo-pass-2026"
ORDER_NUMBER_START = 1001

WAREHOUSES = [
    # code, name, priority
    ("TPE", "台北倉 Taipei", 10),
    ("TXG", "台中倉 Taichung", 20),
    ("KHH", "高雄倉 Kaohsiung", 30),
]

PRODUCTS = [
    # sku, name, weight (g), unit price (TWD)
    ("TEA-OOL-300", "烏龍茶 Oolong tea 300g", 320, 450),
    ("TEA-ALI-150", "阿里山高山茶 Alishan high-mountain tea 150g", 170, 880),
    ("TEA-RUBY-100", "日月潭紅玉紅茶 Sun Moon Lake ruby black tea 100g", 120, 520),
    ("TEA-BAOZ-150", "文山包種茶 Wenshan Baozhong tea 150g", 170, 600),
    ("TEA-OB-100", "東方美人茶 Oriental Beauty tea 100g", 120, 980),
    ("SNK-PINE-10", "鳳梨酥禮盒 Pineapple cake gift box (10 pcs)", 550, 420),
    ("SNK-SUN-6", "太陽餅 Sun cakes (6 pcs)", 400, 260),
    ("SNK-NOUG-200", "牛軋糖 Milk nougat 200g", 220, 180),
    ("SNK-MOCHI-12", "麻糬 Mochi assortment (12 pcs)", 480, 300),
    ("FD-NOOD-5", "紅燒牛肉麵 Braised beef noodles (5 packs)", 900, 399),
    ("FD-SHACHA-300", "沙茶醬 Shacha sauce 300g", 380, 160),
    ("FD-SOY-500", "黑豆醬油 Black bean soy sauce 500ml", 700, 230),
    ("FD-MANGO-200", "芒果乾 Dried mango 200g", 220, 250),
    ("FD-RICE-2K", "池上米 Chishang rice 2kg", 2050, 380),
    ("BEV-BUB-6", "珍珠奶茶 Bubble milk tea kit (6 cups)", 750, 350),
    ("BEV-COF-250", "阿里山咖啡豆 Alishan coffee beans 250g", 270, 650),
    ("BEV-PLUM-1L", "酸梅湯 Sour plum drink 1L", 1080, 120),
    ("HM-MUG-350", "陶瓷馬克杯 Ceramic mug 350ml", 380, 390),
    ("HM-TEAPOT-500", "鶯歌茶壺 Yingge teapot 500ml", 650, 1280),
    ("HM-CHOP-5", "竹筷組 Bamboo chopsticks (5 pairs)", 120, 150),
    ("HM-TOTE-01", "帆布托特包 Canvas tote bag", 300, 490),
    ("HM-UMB-01", "自動摺疊傘 Automatic folding umbrella", 420, 690),
    ("HM-TOWEL-2", "純棉毛巾 Cotton towel (2 pcs)", 260, 299),
    ("HM-SOAP-3", "手工皂 Handmade soap (3 bars)", 330, 360),
    ("HM-BOTTLE-500", "保溫瓶 Insulated bottle 500ml", 350, 790),
    ("ST-NOTE-A5", "筆記本 A5 notebook", 250, 120),
    ("ST-PEN-10", "中性筆 Gel pens (10 pcs)", 150, 99),
    ("EL-CABLE-1M", "USB-C 充電線 USB-C cable 1m", 60, 290),
    ("EL-PB-10K", "行動電源 Power bank 10000mAh", 230, 990),
    ("EL-EAR-01", "藍牙耳機 Bluetooth earbuds", 90, 1490),
]
# These run low in the south: the stock pages show them flagged.
LOW_STOCK_SKUS = {"TEA-OB-100", "HM-TEAPOT-500", "EL-EAR-01", "SNK-MOCHI-12"}

# The carriers are the ones every install starts with (shipping/defaults.py, loaded by
# a migration); the demo uses them as they are.
CARRIERS_FOR = {
    DeliveryMethod.HOME: ["TCAT", "TCAT", "HCT", "POST"],
    DeliveryMethod.STORE_PICKUP: ["SEVEN", "SEVEN", "FAMILY", "HILIFE", "OKMART"],
    DeliveryMethod.EXPRESS: ["DHL", "DHL", "FEDEX", "UPS"],
}

CUSTOMERS = [
    # name, e-mail, language, (city, postcode, address) or None for an international customer
    ("陳怡君", "yijun.chen@example.com", "zh-hant", ("台北市", "110", "信義區松仁路100號5樓")),
    ("林志明", "chihming.lin@example.net", "zh-hant", ("新北市", "220", "板橋區文化路一段188巷3號")),
    ("王小美", "xiaomei.wang@example.org", "zh-hant", ("台中市", "403", "西區公益路二段51號")),
    ("張家豪", "jiahao.chang@example.com", "zh-hant", ("高雄市", "802", "苓雅區四維三路6號12樓之3")),
    ("李淑芬", "shufen.li@example.net", "zh-hant", ("台南市", "700", "中西區民生路二段2號")),
    ("黃建宏", "chienhung.huang@example.com", "zh-hant", ("桃園市", "330", "桃園區中正路1071號")),
    ("吳佩珊", "peishan.wu@example.org", "zh-hant", ("新竹市", "300", "東區光復路二段101號")),
    ("劉俊傑", "chunchieh.liu@example.com", "zh-hant", ("台北市", "106", "大安區忠孝東路四段216巷27弄8號")),
    ("蔡宜蓁", "yichen.tsai@example.net", "zh-hant", ("彰化縣", "500", "彰化市中山路二段250號")),
    ("楊宗翰", "tsunghan.yang@example.com", "zh-hant", ("基隆市", "200", "仁愛區愛一路25號")),
    ("許雅婷", "yating.hsu@example.org", "zh-hant", ("宜蘭縣", "260", "宜蘭市神農路二段97號")),
    ("鄭凱文", "kevin.cheng@example.com", "zh-hant", ("花蓮縣", "970", "花蓮市中華路120號")),
    ("謝欣怡", "hsinyi.hsieh@example.net", "zh-hant", ("嘉義市", "600", "東區中山路617號")),
    ("郭子豪", "tzuhao.kuo@example.com", "zh-hant", ("屏東縣", "900", "屏東市自由路527號")),
    ("洪詩涵", "shihhan.hung@example.org", "zh-hant", ("台中市", "407", "西屯區台灣大道三段99號")),
    ("Emily Chen", "emily.chen@example.com", "en", ("Taipei City", "104", "No. 5, Lane 20, Section 2, Nanjing East Road")),
    ("David Lin", "david.lin@example.net", "en", ("New Taipei City", "231", "12F, No. 66, Beixin Road Section 3, Xindian")),
    ("Sarah Wang", "Sarah.Wang@Example.com", "en", ("Hsinchu City", "300", "No. 1, Section 4, Guangfu Road")),
    ("Michael Brown", "m.brown@example.org", "en", ("Kaohsiung City", "806", "No. 8, Zhongshan 2nd Road, Qianzhen")),
    ("Grace Ho", "grace.ho@example.com", "en", None),
    ("Kenji Tanaka", "kenji.tanaka@example.jp", "en", None),
    ("Priya Nair", "priya.nair@example.com", "en", None),
    # Callers who give only a surname (林: also 林志明) or a given name (美華: also
    # 王美華); last, so that the customers above keep their phone numbers.
    ("林美華", "meihua.lin@example.com", "zh-hant", ("台北市", "111", "士林區中正路235號7樓")),
    ("王美華", "meihua.wang@example.net", "zh-hant", ("新竹縣", "302", "竹北市光明六路10號")),
]
ABROAD = {
    "grace.ho@example.com": ("HK", "Hong Kong", "", "Flat 12B, 88 Queen's Road Central", "+852 9123 4567"),
    "kenji.tanaka@example.jp": ("JP", "Tokyo", "150-0002", "2-21-1 Shibuya, Shibuya-ku", "+81 90-1234-5678"),
    "priya.nair@example.com": ("SG", "Singapore", "018956", "10 Bayfront Avenue, #12-01", "+65 9123 4567"),
}
DEMO_CARRIER_CODES = sorted({code for codes in CARRIERS_FOR.values() for code in codes})
STORES = {  # pickup stores (chain, store code, store name), by the carrier that delivers to them
    "SEVEN": [("7-eleven", "111111", "鑫台北門市"), ("7-eleven", "131386", "府城門市")],
    "FAMILY": [("familymart", "013579", "台中公益店"), ("familymart", "024680", "高雄四維店")],
    "HILIFE": [("hilife", "3312", "台南永康店")],
    "OKMART": [("okmart", "0715", "新竹光復店")],
}

HOLD_REASONS = [
    "客人要求延後出貨 Customer asked us to ship next week",
    "地址不完整，等待客人回覆 Address incomplete, waiting for the customer",
    "付款金額不符 Payment amount does not match",
]
# With the default 60 orders (make run), one order in Processing has a short line moved
# into a backorder (orders.services.order_split); smaller seeds keep exactly --orders
# orders.
BACKORDER_MIN_ORDERS = 20
BACKORDER_REASON = "供應商延遲到貨，其餘先出 Supplier is late: the rest ships now"
CANCEL_REASONS = [
    "客人取消訂單 Customer cancelled",
    "重複下單 Duplicate order",
    "付款逾期未完成 Payment not received in time",
]
RETURN_REASONS = [
    "商品運送途中破損 Item damaged in transit",
    "客人不喜歡顏色 Customer changed their mind",
    "寄錯商品 Wrong item received",
]
NOTES = [
    "客人希望下午送達 Customer prefers afternoon delivery",
    "禮品包裝，不要放發票 Gift wrap, no invoice in the parcel",
    "請先電話聯絡 Call before delivery",
]

# How often each final state appears once every state has one order.
STATE_WEIGHTS = {
    S.NEW: 10,
    S.PROCESSING: 10,
    S.PACKED: 8,
    S.SHIPPED: 8,
    S.DELIVERED: 6,
    S.COMPLETED: 10,
    S.ON_HOLD: 4,
    S.CANCELLED: 4,
    S.RETURNED: 3,
}
MAIN_PATH = [S.NEW, S.PROCESSING, S.PACKED, S.SHIPPED, S.DELIVERED, S.COMPLETED]

DEMO_USERS = [
    # username, first (given) name, last (family) name, group, superuser. Pages show
    # the full name, family name first for a Chinese one: 黃志偉, not "warehouse".
    ("warehouse", "志偉", "黃", WAREHOUSE, False),
    ("service", "美玲", "林", CUSTOMER_SERVICE, False),
    ("manager", "家豪", "吳", MANAGER, False),
    ("admin", "", "", None, True),
]


def ean13(body12):
    """A 13-digit EAN with its check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def restamp(model, fields, rows):
    """Set timestamp columns row by row: [(pk, [value per field]), …].

    Demo data only (moving a history into the past); one executemany is much
    cheaper than bulk_update's CASE expressions for the ~1,500 rows of 60 orders.
    """
    if not rows:
        return
    ops, table = connection.ops, model._meta.db_table
    columns = ", ".join(f"{ops.quote_name(model._meta.get_field(name).column)} = %s" for name in fields)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {ops.quote_name(table)} SET {columns} WHERE {ops.quote_name('id')} = %s",
            [[ops.adapt_datetimefield_value(value) for value in values] + [pk] for pk, values in rows],
        )


def phone_in_some_format(rng, mobile=True):
    """The same kind of number written the ways customers write it."""
    if mobile:
        a, b, c = rng.randrange(900, 990), rng.randrange(1000), rng.randrange(1000)
        formats = [
            f"0{a}-{b:03d}-{c:03d}",
            f"0{a}{b:03d}{c:03d}",
            f"+886 {a} {b:03d} {c:03d}",
            f"0{a} {b:03d} {c:03d}",
            f"+886-{a}-{b:03d}{c:03d}",
        ]
    else:
        b, c = rng.randrange(2000, 2999), rng.randrange(10000)
        formats = [f"(02) {b}-{c:04d}", f"02-{b}-{c:04d}", f"+886 2 {b} {c:04d}"]
    return rng.choice(formats)


class Command(BaseCommand):
    help = (
        "Load demo data (warehouses, products with barcodes, stock, carriers, customers, orders in "
        "every state) and one demo user per role. Safe to run again: nothing is duplicated."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=60, help="How many demo orders (default 60).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed: the same seed gives the same data.")

    def handle(self, *args, orders, seed, **options):
        if orders < 0:
            raise CommandError("--orders cannot be negative.")
        self.rng = random.Random(seed)
        self.now = timezone.now()
        tasks_log = logging.getLogger("django_tasks")
        tasks_level = tasks_log.level
        tasks_log.setLevel(logging.WARNING)  # one line per demo e-mail is noise here
        try:
            self.seed_all(orders)
        finally:
            tasks_log.setLevel(tasks_level)

    def seed_all(self, orders):
        # The demo customers' addresses are made up: never e-mail them for real,
        # whatever EMAIL_* says. The timeline still records the notification.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            with transaction.atomic():
                self.users = self.seed_users()
                self.warehouses = self.seed_warehouses()
                self.seed_staff_warehouses()
                self.products = self.seed_products()
                received = self.seed_stock()
                self.carriers = self.seed_carriers()
                self.customers = self.seed_customers()
            created = self.seed_orders(orders)
            if orders >= BACKORDER_MIN_ORDERS:
                with transaction.atomic():
                    self.seed_backorder()
            with transaction.atomic():
                self.seed_refunds()
        report_path = self.write_delivery_report()
        self.report(received, created)
        if report_path:
            self.stdout.write(
                f"A carrier's delivery report to try (Shipping › Shipments › Import delivery report): {report_path}"
            )

    # --- reference data ---------------------------------------------------------

    def seed_users(self):
        users = {}
        # One hash for the four accounts: hashing is deliberately slow.
        password = make_password(DEMO_PASSWORD)
        for username, first, last, group_name, superuser in DEMO_USERS:
            user, _created = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.email = f"{username}@example.com"
            user.is_staff = user.is_active = True
            user.is_superuser = superuser
            user.password = password
            user.save()
            user.groups.set([Group.objects.get(name=group_name)] if group_name else [])
            users[username] = user
        return users

    def seed_warehouses(self):
        return {
            code: Warehouse.objects.update_or_create(
                code=code, defaults={"name": name, "priority": priority, "is_active": True}
            )[0]
            for code, name, priority in WAREHOUSES
        }

    def seed_staff_warehouses(self):
        # The demo warehouse user packs for Taipei: their start page lists its queue.
        StaffWarehouse.objects.update_or_create(
            user=self.users["warehouse"], defaults={"warehouse": self.warehouses["TPE"]}
        )

    def seed_products(self):
        products = {}
        for index, (sku, name, weight, price) in enumerate(PRODUCTS, start=1):
            product, _created = Product.objects.update_or_create(
                sku=sku,
                defaults={
                    "name": name,
                    "barcode": ean13(f"4710088{index:05d}"),
                    "weight_grams": weight,
                    "low_stock_threshold": 10 if sku in LOW_STOCK_SKUS else 5,
                    "is_active": True,
                },
            )
            product.demo_price = Decimal(price)
            products[sku] = product
        return products

    def seed_stock(self):
        """Receive opening stock where none was ever received (so a re-run adds nothing)."""
        stocked = set(
            StockMovement.objects.filter(kind=StockMovement.Kind.RECEIPT, product__in=self.products.values())
            .values_list("product_id", "warehouse_id")
            .distinct()
        )
        ranges = {"TPE": (80, 160), "TXG": (30, 90), "KHH": (12, 40)}
        receipts = []
        for product in self.products.values():
            for code, warehouse in self.warehouses.items():
                low, high = ranges[code]
                quantity = self.rng.randint(low, high)
                if code == "KHH" and product.sku in LOW_STOCK_SKUS:
                    quantity = self.rng.randint(2, 6)
                if (product.pk, warehouse.pk) in stocked:
                    continue
                stock_receive(
                    product=product, warehouse=warehouse, quantity=quantity, actor=None, note="Opening stock 期初庫存"
                )
                receipts.append(warehouse.pk)
        # Each product has a bin in each warehouse (aisle, shelf, bin), so demo pick
        # lists walk an aisle; a location someone changed by hand is left as it is.
        for index, product in enumerate(self.products.values()):
            for warehouse in self.warehouses.values():
                location = f"{'ABC'[index % 3]}-{index // 3 + 1:02d}-{index % 4 + 1}"
                StockLevel.objects.filter(product=product, warehouse=warehouse, location="").update(location=location)
        # Opening stock arrived before the first demo order was placed.
        StockMovement.objects.filter(kind=StockMovement.Kind.RECEIPT, note="Opening stock 期初庫存").update(
            created_at=self.now - timedelta(days=30)
        )
        return len(receipts)

    def seed_carriers(self):
        # On a migrated database this creates nothing; it brings back a default
        # carrier someone deleted, and never changes one a manager edited.
        carriers_load(Carrier)
        return {carrier.code: carrier for carrier in Carrier.objects.filter(code__in=DEMO_CARRIER_CODES)}

    def seed_customers(self):
        customers = []
        for name, email, language, address in CUSTOMERS:
            if address is None:
                phone = ABROAD[email.lower()][4]
            else:
                phone = phone_in_some_format(self.rng, mobile=self.rng.random() < 0.85)
            customer, _created = Customer.objects.update_or_create(
                email=email.lower(), defaults={"name": name, "phone": phone, "language": language}
            )
            customer.demo_address = address
            customers.append(customer)
        # Customers signed up before their first demo order.
        Customer.objects.filter(pk__in=[c.pk for c in customers]).update(created_at=self.now - timedelta(days=60))
        return customers

    # --- orders ------------------------------------------------------------------

    def plan_orders(self, count):
        """Decide every order first, so the same seed gives the same orders."""
        rng = self.rng
        states = list(STATE_WEIGHTS)
        finals = states[:count] + rng.choices(states, weights=list(STATE_WEIGHTS.values()), k=max(0, count - len(states)))
        rng.shuffle(finals)
        targets = dict(StatusTarget.objects.values_list("status", "target_hours"))
        plans = []
        for final in finals:
            customer = rng.choice(self.customers)
            abroad = customer.demo_address is None
            if abroad:
                method = DeliveryMethod.EXPRESS
            else:
                method = DeliveryMethod.STORE_PICKUP if rng.random() < 0.35 else DeliveryMethod.HOME
            carrier = rng.choice(CARRIERS_FOR[method])
            via = None
            if final == S.ON_HOLD:
                via = rng.choice([S.NEW, S.NEW, S.PROCESSING, S.PACKED])
            elif final == S.CANCELLED:
                via = rng.choice([S.NEW, S.PROCESSING, S.ON_HOLD])
            elif final == S.RETURNED:
                via = rng.choice([S.SHIPPED, S.DELIVERED, S.COMPLETED])
            target = targets.get(final)
            overdue = bool(target) and rng.random() < 0.25
            if target:
                in_state = target * (rng.uniform(1.2, 3.0) if overdue else rng.uniform(0.05, 0.8))
            else:
                in_state = rng.uniform(12, 240)
            # Status changes before the final one, each of which took a while.
            steps = (MAIN_PATH.index(via) if via in MAIN_PATH else 1) + 1 if via else MAIN_PATH.index(final)
            plans.append(
                {
                    "final": final,
                    "via": via,
                    "customer": customer,
                    "method": method,
                    "carrier": carrier,
                    "warehouse": rng.choice([None, None, None, "TXG"]),
                    "paid": final != S.NEW or rng.random() < 0.6,
                    "lines": [
                        (sku, rng.choice([1, 1, 1, 2, 2, 3]))
                        for sku, *_rest in rng.sample(PRODUCTS, rng.choice([1, 1, 2, 2, 3, 4]))
                    ],
                    "overdue": overdue,
                    "in_state_hours": in_state,
                    "age_hours": in_state + sum(rng.uniform(2, 30) for _ in range(steps)),
                    "progress": rng.random(),
                    "note": rng.choice(NOTES) if rng.random() < 0.15 else "",
                    "tracking": rng.randrange(10**6, 10**7),
                    "store": rng.choice(STORES.get(carrier, [("", "", "")])),
                    # Each order's own generator: reasons, restocks and timings do not
                    # depend on which other orders already exist.
                    "rng": random.Random(rng.getrandbits(64)),
                }
            )
        # At least a few orders are past their target time, whatever the seed.
        eligible = [plan for plan in plans if targets.get(plan["final"])]
        for plan in eligible[: max(0, 3 - sum(p["overdue"] for p in plans))]:
            if not plan["overdue"]:
                longer = targets[plan["final"]] * 1.5
                plan["age_hours"] += longer - plan["in_state_hours"]
                plan["overdue"], plan["in_state_hours"] = True, longer
        # Order numbers follow the order in which orders were placed.
        plans.sort(key=lambda plan: -plan["age_hours"])
        for index, plan in enumerate(plans):
            plan["number"] = f"SO-{ORDER_NUMBER_START + index}"
            self.plan_payment(plan)
        self.plan_parcels(plans)
        return plans

    def plan_parcels(self, plans):
        """Some home deliveries of two or more items leave as two parcels, one with
        T-Cat and one with Chunghwa Post (both deliver to homes): every fourth such
        order, and at least one that got as far as shipping, whatever the seed. Draws
        nothing from the generator, so the rest of the data stays the same."""
        shipping = {S.SHIPPED, S.DELIVERED, S.COMPLETED, S.RETURNED}
        candidates = [
            plan
            for plan in plans
            if plan["method"] == DeliveryMethod.HOME and sum(quantity for _sku, quantity in plan["lines"]) >= 2
        ]
        for plan in candidates[::4]:
            plan["parcels"] = 2
        shipped = [plan for plan in candidates if plan["final"] in shipping]
        if shipped and not any(plan.get("parcels") for plan in shipped):
            shipped[0]["parcels"] = 2

    @staticmethod
    def plan_payment(plan):
        """How the customer pays: by card, by ATM transfer (marked paid with the last
        five digits of the account), cash on delivery (home) or at the store on pickup
        (paid to the carrier: such orders stay awaiting payment until the carrier's
        report). Drawn from a generator of the order's own, so that the orders drawn
        before this was added stay as they were."""
        rng = random.Random(f"payment {plan['tracking']} {plan['number']}")
        roll = rng.random()
        if plan["method"] == DeliveryMethod.EXPRESS:
            method = PaymentMethod.CARD
        elif plan["method"] == DeliveryMethod.STORE_PICKUP:
            method = PaymentMethod.STORE_PICKUP if roll < 0.4 else PaymentMethod.ATM if roll < 0.6 else PaymentMethod.CARD
        else:
            method = PaymentMethod.CASH_ON_DELIVERY if roll < 0.15 else PaymentMethod.ATM if roll < 0.4 else PaymentMethod.CARD
        plan["payment"] = method
        plan["atm_reference"] = f"{rng.randrange(100000):05d}"

    def seed_orders(self, count):
        plans = self.plan_orders(count)
        existing = set(Order.objects.filter(number__in=[p["number"] for p in plans]).values_list("number", flat=True))
        created = 0
        # The demo's partial and open returns (show_a_return), once.
        self.returns_shown = set()
        if Return.objects.filter(status=Return.Status.RECEIVED, order__status__in=[S.DELIVERED, S.COMPLETED]).exists():
            self.returns_shown.add("partial")
        if Return.objects.filter(status=Return.Status.OPEN).exists():
            self.returns_shown.add("open")
        for plan in plans:
            if plan["number"] in existing:
                continue
            # One transaction per order: its shipping e-mail (after commit) is on
            # the timeline before the history is backdated.
            with transaction.atomic():
                order = self.drive(self.create_order(plan), plan)
            with transaction.atomic():
                self.backdate(order, plan)
            created += 1
        return created

    def create_order(self, plan):
        customer = plan["customer"]
        fields = {"ship_name": customer.name, "ship_phone": customer.phone, "ship_country": "TW"}
        if plan["method"] == DeliveryMethod.EXPRESS:
            country, city, postcode, address, _phone = ABROAD[customer.email]
            fields.update(ship_country=country, ship_city=city, ship_postcode=postcode, ship_address1=address)
        else:
            city, postcode, address = customer.demo_address
            fields.update(ship_city=city, ship_postcode=postcode, ship_address1=address)
            if plan["method"] == DeliveryMethod.STORE_PICKUP:
                chain, code, name = plan["store"]
                fields.update(pickup_chain=chain, pickup_store_code=code, pickup_store_name=name)
        return services.order_create(
            number=plan["number"],
            customer=customer,
            lines=[
                {"product": self.products[sku], "quantity": quantity, "unit_price": self.products[sku].demo_price}
                for sku, quantity in plan["lines"]
            ],
            # Card payments arrive with the order; an ATM transfer is marked paid when it
            # shows on the statement (drive), and the carrier collects the others.
            payment_status=PaymentStatus.PAID if plan["paid"] and plan["payment"] == PaymentMethod.CARD else PaymentStatus.PENDING,
            payment_method=plan["payment"],
            delivery_method=plan["method"],
            warehouse=self.warehouses[plan["warehouse"]] if plan["warehouse"] else None,
            **fields,
        )

    def drive(self, order, plan):
        """Take the order to its planned state the way staff would, through the services."""
        warehouse, service = self.users["warehouse"], self.users["service"]
        final, via, rng = plan["final"], plan["via"], plan["rng"]
        stop = via or final
        if stop == S.ON_HOLD:  # cancelled after a hold: held while new first
            stop = S.NEW
        if plan["note"]:
            services.order_add_note(order=order, actor=service, text=plan["note"])
        if plan["paid"] and plan["payment"] == PaymentMethod.ATM:
            order = services.order_mark_paid(order=order, actor=service, reference=plan["atm_reference"])
        while MAIN_PATH.index(order.status) < MAIN_PATH.index(stop):
            order = self.advance(order, plan)
        if final == S.ON_HOLD or via == S.ON_HOLD:
            self.partly_done(order, plan)
            order = services.order_hold(order=order, actor=warehouse, reason=rng.choice(HOLD_REASONS))
        if final == S.CANCELLED:
            order = services.order_cancel(order=order, actor=service, reason=rng.choice(CANCEL_REASONS))
        elif final == S.RETURNED:
            # Everything came back: opened by customer service, received by the
            # warehouse, some lines back to stock and some damaged.
            lines = list(order.lines.all())
            restocked = {line.pk for line in lines[: rng.randint(0, len(lines))]}
            record = return_open(
                order=order,
                actor=service,
                lines={line.pk: line.quantity for line in lines},
                reason=rng.choice(RETURN_REASONS),
            )
            return_receive(
                return_record=record,
                actor=warehouse,
                outcomes={
                    line.pk: "restocked" if line.order_line_id in restocked else "damaged"
                    for line in record.lines.all()
                },
            )
            order = Order.objects.get(pk=order.pk)
        elif final in MAIN_PATH:
            self.partly_done(order, plan)
            order = self.show_a_return(order, plan)
        return order

    def show_a_return(self, order, plan):
        """One completed order with part of it returned and received (one line back to
        stock, one damaged: "Partly returned"), and one delivered order with a return
        waiting for the warehouse, so that both are there to be found."""
        lines = list(order.lines.order_by("pk"))
        service, warehouse = self.users["service"], self.users["warehouse"]
        if plan["final"] == S.COMPLETED and len(lines) >= 2 and "partial" not in self.returns_shown:
            self.returns_shown.add("partial")
            record = return_open(
                order=order,
                actor=service,
                lines={lines[0].pk: 1, lines[1].pk: 1},
                reason=RETURN_REASONS[0],
            )
            first, second = record.lines.order_by("pk")
            return_receive(
                return_record=record, actor=warehouse, outcomes={first.pk: "restocked", second.pk: "damaged"}
            )
        elif plan["final"] == S.DELIVERED and "open" not in self.returns_shown:
            self.returns_shown.add("open")
            return_open(order=order, actor=service, lines={lines[0].pk: 1}, reason=RETURN_REASONS[1])
        else:
            return order
        return Order.objects.get(pk=order.pk)

    def advance(self, order, plan):
        """Do what the current state's checklist asks, then advance."""
        warehouse, service = self.users["warehouse"], self.users["service"]
        if order.status == S.NEW:
            if order.payment_status != PaymentStatus.PAID and order.payment_method not in COLLECTED_BY_CARRIER:
                order = services.order_mark_paid(order=order, actor=service, reference=plan["atm_reference"])
            self.ensure_stock(order)
        elif order.status == S.PROCESSING:
            self.scan(order)
        elif order.status == S.PACKED:
            self.ship(order, plan)
        elif order.status == S.SHIPPED and plan["progress"] < 0.7:
            # The carrier reports every parcel delivered.
            for shipment in order.shipments.filter(status=Shipment.Status.SHIPPED).order_by("pk"):
                shipment_mark_delivered(shipment=shipment, actor=warehouse)
        self.tick(order, everything=True)
        return services.order_advance(order=order, actor=warehouse)

    def partly_done(self, order, plan):
        """Orders resting in a state have some of its steps done, as in real life."""
        progress = plan["progress"]
        if order.status == S.PROCESSING and progress > 0.3:
            self.tick(order, count=1)  # items picked
            self.scan(order, partly=progress < 0.6)
        elif order.status == S.PACKED and progress > 0.4:
            self.ship(order, plan)
        elif order.status == S.NEW and plan["paid"] and progress > 0.5:
            self.tick(order, count=1)
        elif order.status == S.DELIVERED and progress > 0.5:
            self.tick(order, count=1)

    def tick(self, order, *, everything=False, count=0):
        items = order.checklist_items.filter(state=order.status, done_at__isnull=True).order_by("position", "pk")
        by_hand = [item for item in items if not item.predicate]
        if order.status == S.SHIPPED and order.shipments.filter(status=Shipment.Status.SHIPPED).exists():
            # No delivery report from the carrier: the customer confirmed it on the phone.
            by_hand += [item for item in items if item.predicate == Predicate.SHIPMENT_DELIVERED]
        for item in by_hand if everything else by_hand[:count]:
            services.checklist_tick(item=item, actor=self.users["warehouse"])

    def scan(self, order, *, partly=False):
        # As the test factories do: the packing station's counts, set in one go.
        line_ids = list(order.lines.values_list("pk", flat=True))
        if partly:
            line_ids = line_ids[: len(line_ids) // 2]
        OrderLine.objects.filter(pk__in=line_ids).update(quantity_scanned=F("quantity"))

    def ship(self, order, plan):
        if order.shipments.exclude(status=Shipment.Status.CANCELLED).exists():
            return
        carrier = self.carriers[plan["carrier"]]
        warehouse = self.users["warehouse"]
        if plan.get("parcels") == 2:
            # The first line(s) go with the planned carrier, the rest with the other
            # home-delivery carrier (one line of several units: one unit first).
            lines = list(order.lines.order_by("pk"))
            first = {line: line.quantity for line in lines[: len(lines) // 2]} or {lines[0]: 1}
            shipment_create(
                order=order, carrier=carrier, tracking_number=self.tracking_number(carrier, plan), actor=warehouse,
                lines=first,
            )
            carrier = self.carriers["POST" if carrier.code == "TCAT" else "TCAT"]
        shipment_create(order=order, carrier=carrier, tracking_number=self.tracking_number(carrier, plan), actor=warehouse)

    def tracking_number(self, carrier, plan):
        """A number matching the carrier's pattern; the order number keeps it unique."""
        serial = int(plan["number"].split("-")[1])
        base = plan["tracking"]
        return {
            "TCAT": f"{base:07d}{serial:05d}",
            "HCT": f"{base % 100000:05d}{serial:05d}",
            "SEVEN": f"F{base:07d}{serial % 10000:04d}",
            "FAMILY": f"{base:07d}{serial % 10000:04d}",
            "HILIFE": f"{base:07d}{serial:06d}",
            "OKMART": f"{base:07d}{serial % 10000:04d}",
            "POST": f"{base:07d}{serial:07d}",
            "DHL": f"{base % 100000:05d}{serial:05d}",
            "FEDEX": f"{base:07d}{serial:05d}",
            "UPS": f"1Z{base:07d}{serial:09d}",
        }[carrier.code]

    def ensure_stock(self, order):
        """Later demo orders may need more than the opening stock: receive what is short."""
        warehouse = order.warehouse or self.warehouses["TPE"]
        lines = list(order.lines.select_related("product"))
        levels = {
            level.product_id: level
            for level in StockLevel.objects.filter(warehouse=warehouse, product__in=[line.product_id for line in lines])
        }
        for line in lines:
            level = levels.get(line.product_id)
            if level is None or level.available < line.quantity:
                stock_receive(
                    product=line.product, warehouse=warehouse, quantity=line.quantity + 50, actor=None, note="Restock 補貨"
                )

    def seed_backorder(self):
        """Split the first order in Processing (by number) that has a unit to spare into
        a backorder, as warehouse staff do when a line is short: its last line if it has
        several, else one unit of a line of two or more. Once: a second run finds it."""
        if Order.objects.filter(split_from__isnull=False).exists():
            return
        for order in Order.objects.filter(status=S.PROCESSING).order_by("number"):
            lines = list(order.lines.order_by("pk"))
            limits = split_limits(order, lines)
            if len(lines) > 1 and limits[lines[-1].pk] == lines[-1].quantity:
                moves = {lines[-1].pk: lines[-1].quantity}
            else:
                line = next((line for line in lines if line.quantity > 1 and limits[line.pk]), None)
                if line is None:
                    continue
                moves = {line.pk: 1}
            services.order_split(order=order, actor=self.users["warehouse"], lines=moves, reason=BACKORDER_REASON)
            return

    def seed_refunds(self):
        """Cancelling a paid order opened its refund (order_cancel); finance has paid
        the oldest one back, and a manager granted part of a price back on the first
        completed order, still due. Once: a second run finds them done."""
        manager = self.users["manager"]
        due = Refund.objects.filter(reason=Refund.Reason.CANCELLED).order_by("order__number")
        if not Refund.objects.filter(status=Refund.Status.REFUNDED).exists():
            first = due.filter(status=Refund.Status.DUE).first()
            if first is not None:
                reference = f"TRF-{first.order.number.removeprefix('SO-')}"
                services.refund_mark_refunded(refund=first, actor=manager, reference=reference)
        if not Refund.objects.filter(reason=Refund.Reason.GOODWILL).exists():
            completed = (
                Order.objects.filter(status=S.COMPLETED, payment_status=PaymentStatus.PAID).order_by("number").first()
            )
            if completed is not None:
                amount = (completed.total / 10).quantize(Decimal("1")) or Decimal("1")
                services.refund_open_by_hand(
                    order=completed, actor=manager, amount=amount, note="外盒壓損，退一成 Box arrived dented: 10% back"
                )

    # --- timestamps --------------------------------------------------------------

    def backdate(self, order, plan):
        """Spread the order's history over the planned days, keeping its sequence.

        The services stamped everything with the current time. Status changes are
        placed between placed_at and status_changed_at (the last one exactly there),
        the other events between them, what followed the last change in the time
        since; every other stamp of the order moves with the event written after it.
        """
        rng = plan["rng"]
        in_state = timedelta(hours=plan["in_state_hours"])
        changed_at = self.now - in_state
        placed_at = min(self.now - timedelta(hours=plan["age_hours"]), changed_at)
        events = list(order.events.order_by("created_at", "id"))
        changes = [i for i, event in enumerate(events) if event.kind == OrderEvent.Kind.TRANSITION]
        # Anchors: creation, then each status change after a while of its own.
        weights = [rng.uniform(0.5, 1.5) for _ in changes]
        anchors, elapsed = {0: placed_at}, 0.0
        for i, weight in zip(changes, weights):
            elapsed += weight
            anchors[i] = placed_at + (changed_at - placed_at) * (elapsed / sum(weights))
        if not changes:  # still new: placed when it entered its state
            anchors[0] = placed_at = changed_at
        anchors[len(events)] = changed_at + in_state * 0.6  # a virtual end for what came after
        new_times = [None] * len(events)
        points = sorted(anchors)
        for start, end in zip(points, points[1:]):
            new_times[start] = anchors[start]
            between = range(start + 1, end)
            for n, i in enumerate(between, start=1):
                if events[i].kind == OrderEvent.Kind.STOCK and i + 1 == end and end != len(events):
                    # The stock moved as part of the status change that follows.
                    new_times[i] = anchors[end] - timedelta(seconds=1)
                else:
                    new_times[i] = anchors[start] + (anchors[end] - anchors[start]) * (n / (len(between) + 1))
        # The shipping e-mail went out when the order shipped (it ran after commit).
        shipped = [new_times[i] for i in changes if events[i].data.get("to") == S.SHIPPED]
        for i, event in enumerate(events):
            if event.kind == OrderEvent.Kind.NOTIFICATION and shipped:
                new_times[i] = shipped[0] + timedelta(minutes=1)
        real_times = [event.created_at for event in events]

        def move(moment):
            if moment is None:
                return None
            return new_times[min(bisect.bisect_left(real_times, moment), len(events) - 1)]

        restamp(OrderEvent, ["created_at"], [(event.pk, [moment]) for event, moment in zip(events, new_times)])
        restamp(
            OrderChecklistItem,
            ["done_at"],
            [(pk, [move(done_at)]) for pk, done_at in order.checklist_items.exclude(done_at=None).values_list("pk", "done_at")],
        )
        restamp(
            StockMovement,
            ["created_at"],
            [(pk, [move(created_at)]) for pk, created_at in order.stock_movements.values_list("pk", "created_at")],
        )
        restamp(
            Refund,
            ["created_at"],
            [(pk, [move(created_at)]) for pk, created_at in order.refunds.values_list("pk", "created_at")],
        )
        paid_at = Order.objects.filter(pk=order.pk).values_list("paid_at", flat=True).first()
        if paid_at is not None:
            Order.objects.filter(pk=order.pk).update(paid_at=move(paid_at))
        restamp(
            Shipment,
            ["created_at", "shipped_at", "delivered_at"],
            [
                (pk, [move(moment) for moment in moments])
                for pk, *moments in order.shipments.values_list("pk", "created_at", "shipped_at", "delivered_at")
            ],
        )
        restamp(
            Return,
            ["opened_at", "received_at"],
            [
                (pk, [move(moment) for moment in moments])
                for pk, *moments in Return.objects.filter(order=order).values_list("pk", "opened_at", "received_at")
            ],
        )
        restamp(
            Refund,
            ["created_at"],
            [(pk, [move(created_at)]) for pk, created_at in Refund.objects.filter(order=order).values_list("pk", "created_at")],
        )
        Order.objects.filter(pk=order.pk).update(placed_at=placed_at, status_changed_at=changed_at)

    def write_delivery_report(self):
        """A carrier's delivery report (import kind `deliveries`) for the parcels of
        every other shipped demo order, with the cash collected for an order paid on delivery,
        and one number nobody entered (to be listed as unknown), written to
        MEDIA_ROOT/demo/delivery-report.csv; it is written again on each run from
        the orders as they are then. None when no order is shipped."""
        shipped = list(
            Shipment.objects.filter(status=Shipment.Status.SHIPPED, order__status=S.SHIPPED)
            .select_related("order")
            .order_by("order__number", "pk")
        )
        # Every parcel of every other order: an order leaves Shipped once all its
        # parcels are delivered, so a report with one of two would complete nothing.
        numbers = sorted({parcel.order.number for parcel in shipped})[::2]
        parcels = [parcel for parcel in shipped if parcel.order.number in numbers]
        if not parcels:
            return None
        # Now, to the minute: after every demo parcel left, and past by the time it is imported.
        delivered_at = timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")
        lines = ["tracking_number,delivered_at,collected"]
        for parcel in parcels:
            order = parcel.order
            collected = order.total if order.payment_method in COLLECTED_BY_CARRIER and order.payment_status == PaymentStatus.PENDING else ""
            lines.append(f"{parcel.tracking_number},{delivered_at},{collected}")
        lines.append(f"9999999999999,{delivered_at},")  # no parcel has it: listed as unknown
        directory = Path(settings.MEDIA_ROOT) / "demo"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "delivery-report.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    # --- output ------------------------------------------------------------------

    def report(self, received, created):
        by_status = {}
        for status in Order.objects.values_list("status", flat=True):
            by_status[status] = by_status.get(status, 0) + 1
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                f"Demo data ready: {len(self.warehouses)} warehouses, {len(self.products)} products, "
                f"{len(self.carriers)} carriers, {len(self.customers)} customers; "
                f"{created} new orders ({Order.objects.count()} in all), {received} opening stock receipts."
            )
        )
        write("Orders by status: " + ", ".join(f"{S(s).label} {n}" for s, n in sorted(by_status.items())))
        write("")
        write(self.style.MIGRATE_HEADING("Demo logins (password for all: %s)" % DEMO_PASSWORD))
        for username, _first, _last, group_name, _superuser in DEMO_USERS:
            write(f"  {username:<10} {group_name or 'superuser (every permission)'}")
        write("")

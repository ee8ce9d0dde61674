"""Imports into the orders app's data (registered in reports.registry when the app is ready).

`orders`: one row per order line (DESIGN.md section 6). Rows with the same
order_number form one order, wherever they are in the file, and must agree on the
order-level columns. An order number that exists already is skipped with all its
rows and reported, never duplicated or changed, so the same file can be imported
twice. Customers are matched by e-mail in any case and created when new (a matched
customer's name and phone are left as stored). Orders are created in `new` through
`orders_create_many`, each with its checklist and "created" event; no stock moves
until an order starts processing.
"""

import operator

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from inventory.models import Product, Warehouse
from reports.imports import Cells, Importer, ImportRefused, chunked, shown
from reports.registry import register_import

from . import services
from .exceptions import WorkflowError
from .models import (
    Customer,
    DeliveryMethod,
    Order,
    OrderLine,
    PaymentMethod,
    PaymentStatus,
    StoreChain,
    country_code,
    normalise_store_code,
    pickup_store_errors,
)

# The order-level columns: the same on every row of an order.
ORDER_COLUMNS = (
    "placed_at",
    "customer_email",
    "customer_name",
    "customer_phone",
    "ship_name",
    "ship_phone",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_postcode",
    "ship_country",
    "delivery_method",
    "warehouse",
    "payment_status",
    "currency",
)
# Order-level columns a file may leave out (older files have none of them): the
# pickup store of a convenience-store pickup, and how the order is paid (card when
# blank or absent).
OPTIONAL_ORDER_COLUMNS = ("pickup_chain", "pickup_store_code", "pickup_store_name", "payment_method")
LINE_COLUMNS = ("sku", "quantity", "unit_price")
ADDRESS_COLUMNS = ("ship_name", "ship_phone", "ship_address1", "ship_address2", "ship_city", "ship_postcode")
# An imported order is awaiting payment or paid; refunds are recorded afterwards.
PAYMENT_CHOICES = (PaymentStatus.PENDING.value, PaymentStatus.PAID.value)
DEFAULT_CURRENCY = "TWD"

DELIVERY_CHOICES = tuple(DeliveryMethod.values)
STORE_CHAIN_CHOICES = tuple(StoreChain.values)
PAYMENT_METHOD_CHOICES = tuple(PaymentMethod.values)

AGREEING_COLUMNS = (*ORDER_COLUMNS, *OPTIONAL_ORDER_COLUMNS)
_order_values = operator.itemgetter(*AGREEING_COLUMNS)
_order_field = Order._meta.get_field
_customer_field = Customer._meta.get_field
ORDER_FIELD = {column: _order_field(column) for column in ADDRESS_COLUMNS}
ORDER_PICKUP_FIELD = {column: _order_field(column) for column in ("pickup_store_code", "pickup_store_name")}
UNIT_PRICE = OrderLine._meta.get_field("unit_price")


def _is_code(value, length):
    return len(value) == length and value.isascii() and value.isalpha() and value.isupper()


class OrderImporter(Importer):
    name = "orders"
    verbose_name = gettext_lazy("orders")
    columns = ("order_number", *ORDER_COLUMNS, *LINE_COLUMNS)
    optional_columns = OPTIONAL_ORDER_COLUMNS
    permission = "orders.add_order"
    existing = gettext_lazy(
        "An order whose number exists already is skipped with all its rows: never duplicated or changed."
    )

    def plan(self, rows, report):
        groups = {}
        for row in rows:
            number = row.cells["order_number"]
            if number:
                groups.setdefault(number, []).append(row)
            else:
                report.error(row.number, "order_number", _("A value is required."))
        existing = set()
        for chunk in chunked(groups):
            existing.update(Order.objects.filter(number__in=chunk).values_list("number", flat=True))
        new_groups = [(number, group) for number, group in groups.items() if number not in existing]
        lookups = _Lookups(new_groups)
        specs = []
        created_label = _CountedText(lambda count: ngettext("%(number)s (%(count)s line)", "%(number)s (%(count)s lines)", count))
        for number, group in groups.items():
            if number in existing:
                report.skip(
                    group[0].number,
                    number,
                    ngettext(
                        "exists; its %(count)s row is left as it is",
                        "exists; its %(count)s rows are left as they are",
                        len(group),
                    )
                    % {"count": len(group)},
                )
                continue
            spec = self._spec(number, group, lookups, report)
            if spec is not None:
                specs.append(spec)
                count = len(spec["lines"])
                report.create(created_label(count) % {"number": number, "count": count})
        return specs

    def _spec(self, number, group, lookups, report):
        """The orders_create_many spec of one order's rows, or None (errors reported)."""
        first = Cells(group[0], report)
        if len(number) > _order_field("number").max_length:
            first.error(
                "order_number",
                _("Too long: at most %(max)s characters, this has %(length)s.")
                % {"max": _order_field("number").max_length, "length": len(number)},
            )
        fields = self._order_fields(first, lookups)
        customer = self._customer(first, lookups)
        ok = first.ok
        first_values = _order_values(group[0].cells)
        for row in group[1:]:
            if _order_values(row.cells) == first_values:
                continue
            for column in AGREEING_COLUMNS:
                if row.cells[column] != group[0].cells[column]:
                    ok = False
                    report.error(
                        row.number,
                        column,
                        _("“%(value)s” differs from row %(row)s of order %(number)s (“%(first)s”); every row of an order must agree.")
                        % {
                            "value": shown(row.cells[column]),
                            "row": group[0].number,
                            "number": number,
                            "first": shown(group[0].cells[column]),
                        },
                    )
        lines = []
        for index, row in enumerate(group):
            cells = first if index == 0 else Cells(row, report)
            sku = cells["sku"]
            product = lookups.products.get(sku)
            if not sku:
                cells.error("sku", _("A value is required."))
            elif product is None:
                cells.error("sku", _("Unknown SKU “%(sku)s”.") % {"sku": shown(sku)})
            quantity = cells.whole_number("quantity", minimum=1)
            # Checked as the line's field holds it, reported at the row and column.
            unit_price = cells.money("unit_price", max_digits=UNIT_PRICE.max_digits, places=UNIT_PRICE.decimal_places)
            ok = ok and cells.ok
            lines.append({"product": product, "quantity": quantity, "unit_price": unit_price})
        if not ok:
            return None
        return {"number": number, "customer": customer, "lines": lines, **fields}

    def _order_fields(self, cells, lookups):
        fields = {column: cells.text(column, ORDER_FIELD[column]) for column in ADDRESS_COLUMNS}
        fields["placed_at"] = cells.moment("placed_at")
        country = cells["ship_country"].upper()
        if not country:
            cells.error("ship_country", _("A value is required."))
        elif not lookups.valid_country(country):
            # Only codes of the ISO 3166-1 list: not "ZZ", not a name such as "Taiwan".
            cells.error(
                "ship_country",
                _("“%(value)s” is not a two-letter country code (ISO 3166-1), such as TW or JP.")
                % {"value": shown(cells["ship_country"])},
            )
        fields["ship_country"] = country
        fields["delivery_method"] = cells.choice("delivery_method", DELIVERY_CHOICES)
        fields["payment_status"] = cells.choice("payment_status", PAYMENT_CHOICES)
        currency = cells["currency"].upper() or DEFAULT_CURRENCY
        if not _is_code(currency, 3):
            cells.error(
                "currency",
                _("“%(value)s” is not a three-letter currency code (ISO 4217), such as TWD or USD.")
                % {"value": shown(cells["currency"])},
            )
        fields["currency"] = currency
        fields["payment_method"] = cells.choice("payment_method", PAYMENT_METHOD_CHOICES, default=PaymentMethod.CARD.value)
        self._pickup_store(cells, fields)
        code = cells["warehouse"]
        fields["warehouse"] = None
        if code:
            warehouse = lookups.warehouses.get(code)
            if warehouse is None:
                cells.error("warehouse", _("Unknown warehouse “%(code)s”.") % {"code": shown(code)})
            elif not warehouse.is_active:
                cells.error("warehouse", _("Warehouse %(code)s is not active.") % {"code": code})
            fields["warehouse"] = warehouse
        return fields

    def _pickup_store(self, cells, fields):
        """The pickup store columns, checked as the order checks them
        (orders.models.pickup_store_errors): required for a store_pickup row, blank for
        any other; the code in its chain's format."""
        chain = cells["pickup_chain"].lower()
        if chain and chain not in STORE_CHAIN_CHOICES:
            cells.error(
                "pickup_chain",
                _("“%(value)s” is not one of: %(choices)s.")
                % {"value": shown(cells["pickup_chain"]), "choices": ", ".join(STORE_CHAIN_CHOICES)},
            )
            chain = None
        code = cells.text("pickup_store_code", ORDER_PICKUP_FIELD["pickup_store_code"])
        if code is not None:
            code = normalise_store_code(code)
        name = cells.text("pickup_store_name", ORDER_PICKUP_FIELD["pickup_store_name"])
        method = fields.get("delivery_method")
        if None not in (method, chain, code, name):
            for field, message in pickup_store_errors(method, chain, code, name).items():
                cells.error(field, message)
        fields["pickup_chain"], fields["pickup_store_code"], fields["pickup_store_name"] = chain or "", code or "", name or ""

    def _customer(self, cells, lookups):
        """The customer with this e-mail: stored, or new (one per e-mail in the file)."""
        email = cells.text("customer_email", _customer_field("email"), required=True)
        if email and not lookups.valid_email(email):
            email = cells.error("customer_email", _("“%(value)s” is not an e-mail address.") % {"value": shown(email)})
        name = cells.text("customer_name", _customer_field("name"))
        phone = cells.text("customer_phone", _customer_field("phone"))
        if not email:
            return None
        email = email.lower()
        customer = lookups.customers.get(email)
        if customer is None and name is not None and phone is not None:
            customer = lookups.customers[email] = Customer(name=name, email=email, phone=phone)
        return customer

    def write(self, plan, *, actor):
        try:
            services.orders_create_many(specs=plan, actor=actor)
        except WorkflowError as refusal:
            raise ImportRefused(str(refusal)) from None
        except ValidationError as refusal:
            raise ImportRefused(" ".join(refusal.messages)) from None


class _CountedText:
    """A plural message per count, translated once per count rather than once per
    order (25,000 look-ups in the catalogue are a noticeable part of an import)."""

    def __init__(self, translate):
        self.translate = translate
        self.texts = {}

    def __call__(self, count):
        if count not in self.texts:
            self.texts[count] = self.translate(count)
        return self.texts[count]


class _Lookups:
    """What the rows refer to, loaded in a few queries for the whole file: products
    by SKU, warehouses by code, customers by (lower-case) e-mail."""

    def __init__(self, groups):
        skus = {row.cells["sku"] for _number, group in groups for row in group}
        emails = {group[0].cells["customer_email"].lower() for _number, group in groups}
        self.products = {}
        for chunk in chunked(skus):
            self.products.update((product.sku, product) for product in Product.objects.filter(sku__in=chunk))
        self.warehouses = {warehouse.code: warehouse for warehouse in Warehouse.objects.all()}
        self.checked_emails = {}
        self.checked_countries = {}
        self.customers = {}
        for chunk in chunked(emails):
            # Several customers may share an e-mail: the first one created is the match.
            for customer in Customer.objects.filter(email__in=chunk).order_by("pk"):
                self.customers.setdefault(customer.email, customer)

    def valid_country(self, code):
        """Whether `code` (upper case) is an ISO 3166-1 alpha-2 code, as the order
        services check it (asked once per code)."""
        return self._valid(self.checked_countries, code, country_code)

    def valid_email(self, email):
        """Whether `email` is an address (asked once per address: customers repeat)."""
        return self._valid(self.checked_emails, email, validate_email)

    @staticmethod
    def _valid(checked, value, validator):
        if value not in checked:
            try:
                validator(value)
            except ValidationError:
                checked[value] = False
            else:
                checked[value] = True
        return checked[value]


register_import(OrderImporter.name, OrderImporter())

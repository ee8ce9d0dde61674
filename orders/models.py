import re
import unicodedata
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from django_countries.fields import CountryField

from common.text import amount_text, bracketed, datetime_text, joined_clauses, labelled

from .names import PART_MAX_LENGTH, name_parts
from .text import money
from .phones import normalize_phone

# Hold, cancel, return (and shipment void) reasons: as long as a note may be.
REASON_MAX_LENGTH = 2000

COUNTRY_CODE_MESSAGE = _("Enter a two-letter country code (ISO 3166-1), such as TW or JP.")


def country_code(value):
    """The ISO 3166-1 alpha-2 code `value` means, typed in any case with spaces
    around it; anything else (a name such as "Taiwan", "ZZ", a three-letter code)
    is refused rather than guessed at or cut to fit."""
    code = str(value or "").strip().upper()
    if not code:
        raise ValidationError(COUNTRY_CODE_MESSAGE, code="invalid_country")
    if not (len(code) == 2 and code.isascii() and code.isalpha() and countries.alpha2(code) == code):
        raise ValidationError(
            gettext("“%(value)s” is not a country code. %(hint)s")
            % {"value": str(value or "").strip(), "hint": COUNTRY_CODE_MESSAGE},
            code="invalid_country",
        )
    return code


def status_label(status):
    member = _STATUSES.get(status)
    return member.label if member is not None else (status or "")


class OrderStatus(models.TextChoices):
    NEW = "new", _("New")
    PROCESSING = "processing", _("Processing")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    ON_HOLD = "on_hold", _("On hold")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


def workflow_order(field):
    """An expression ordering rows by the state in `field` the way staff think of
    the states (the order of OrderStatus), not alphabetically."""
    return models.Case(
        *(models.When(**{field: status}, then=models.Value(index)) for index, status in enumerate(OrderStatus.values)),
        output_field=models.IntegerField(),
    )


_STATUSES = {member.value: member for member in OrderStatus}


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")
    REFUNDED = "refunded", _("Refunded")


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Credit card")
    ATM = "atm", _("ATM transfer")
    CASH_ON_DELIVERY = "cod", _("Cash on delivery")
    STORE_PICKUP = "store_pickup", _("Pay at store pickup")


# Paid to the carrier when the parcel is handed over (貨到付款 / 取貨付款): such an order
# counts as paid only when the carrier's delivery report says the money was collected.
COLLECTED_BY_CARRIER = {PaymentMethod.CASH_ON_DELIVERY, PaymentMethod.STORE_PICKUP}


class DeliveryMethod(models.TextChoices):
    HOME = "home", _("Home delivery")
    STORE_PICKUP = "store_pickup", _("Convenience-store pickup")
    EXPRESS = "express", _("Express (international)")


class StoreChain(models.TextChoices):
    """The convenience-store chains an order can be picked up at."""

    SEVEN_ELEVEN = "7-eleven", _("7-ELEVEN")
    FAMILYMART = "familymart", _("FamilyMart")
    HILIFE = "hilife", _("Hi-Life")
    OKMART = "okmart", _("OK mart")


# Each chain's store codes (店號): the whole code must match. The one definition the
# order's validation, the import and the admin read.
STORE_CODE_PATTERNS = {
    StoreChain.SEVEN_ELEVEN: r"\d{6}",
    StoreChain.FAMILYMART: r"\d{6}",
    StoreChain.HILIFE: r"\d{4}",
    StoreChain.OKMART: r"\d{4}",
}


_DIGITS_PATTERN = re.compile(r"\\d\{(\d+)\}")


def store_code_format(chain):
    """A chain's store codes in words, with an example ("6 digits, like 123456"), as
    staff are told tracking numbers (shipping/tracking.py describe_pattern, whose
    messages these are)."""
    pattern = STORE_CODE_PATTERNS.get(chain, "")
    match = _DIGITS_PATTERN.fullmatch(pattern)
    if match is None:
        return gettext("matching the pattern %(pattern)s") % {"pattern": pattern}
    count = int(match.group(1))
    words = ngettext("%(count)s digit", "%(count)s digits", count) % {"count": count}
    return gettext("%(format)s, like %(example)s") % {"format": words, "example": ("1234567890" * 2)[:count]}


def normalise_store_code(value):
    """A store code as stored: full-width digits (１３１３８６, as a Chinese input method
    types them) read as the ASCII ones, spaces around and inside taken out."""
    return unicodedata.normalize("NFKC", str(value or "")).strip().replace(" ", "").upper()


def store_code_valid(chain, code):
    """Whether the whole `code` (normalised) is one of `chain`'s store codes. ASCII
    digits only: `\\d` alone would take other scripts' digits (١٢٣٤)."""
    pattern = STORE_CODE_PATTERNS.get(chain)
    return pattern is not None and re.fullmatch(pattern, code, flags=re.ASCII) is not None


PICKUP_FIELDS = ("pickup_chain", "pickup_store_code", "pickup_store_name")


def pickup_store_errors(delivery_method, chain, code, name):
    """{field: message} of what is wrong with an order's pickup store (the values
    already stripped, the code normalised): for a convenience-store pickup the chain,
    the store code in that chain's format and the store's name are required; for any
    other delivery method all three stay blank. The one rule Order.clean(), the
    order services and the orders import apply."""
    errors = {}
    if delivery_method == DeliveryMethod.STORE_PICKUP:
        if not chain:
            errors["pickup_chain"] = gettext("Choose the store chain for a convenience-store pickup.")
        if not code:
            errors["pickup_store_code"] = gettext("Enter the store code for a convenience-store pickup.")
        elif chain in StoreChain.values and not store_code_valid(chain, code):
            errors["pickup_store_code"] = gettext(
                "“%(code)s” is not a %(chain)s store code: expected %(format)s."
            ) % {"code": code, "chain": StoreChain(chain).label, "format": store_code_format(chain)}
        if not name:
            errors["pickup_store_name"] = gettext("Enter the name of the pickup store.")
        return errors
    method = DeliveryMethod(delivery_method).label if delivery_method in DeliveryMethod.values else delivery_method
    for field, value in zip(PICKUP_FIELDS, (chain, code, name)):
        if value:
            errors[field] = gettext(
                "Only a convenience-store pickup order has a pickup store; this order is sent by %(method)s. "
                "Leave it blank."
            ) % {"method": method}
    return errors


class ReturnState(models.TextChoices):
    """How much of what an order shipped has come back (received returns)."""

    NONE = "", _("Nothing returned")
    PARTLY = "partly", _("Partly returned")
    FULLY = "fully", _("Returned")


class Customer(models.Model):
    class Language(models.TextChoices):
        ZH_HANT = "zh-hant", _("Traditional Chinese")
        EN = "en", _("English")

    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    phone_digits = models.CharField(
        _("phone (digits)"), max_length=40, blank=True, editable=False, db_index=True
    )
    # The digits backwards, so that the last digits of a phone (what a caller reads
    # out: "the number ending 477523") are the start of this column, which a B-tree
    # answers as a range (on PostgreSQL through the varchar_pattern_ops index Django
    # adds for a LIKE 'x%'); an index cannot answer "ends with" on phone_digits.
    phone_reversed = models.CharField(
        _("phone (digits, reversed)"), max_length=40, blank=True, editable=False, db_index=True, db_default=""
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANT)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # The customer list's order (a page is the first entries of this index).
        indexes = [models.Index(fields=["name", "id"], name="customer_name_id")]

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.email else self.name

    def save(self, *args, **kwargs):
        self.normalise_contact()
        adding = self._state.adding
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "name" in update_fields:
            sync_name_parts([self], created=adding)

    def normalise_contact(self):
        """Normalised copies make exact look-ups indexable: any case of an email,
        any way of writing a phone number (and its digits backwards, for its last
        digits). Called by save(), and by bulk creation, which does not call save()
        (and then writes the name parts itself: name_part_rows)."""
        self.email = (self.email or "").strip().lower()
        self.phone_digits = normalize_phone(self.phone)
        self.phone_reversed = self.phone_digits[::-1]


class CustomerNamePart(models.Model):
    """One word a customer's name is found by (orders/names.py: a surname, a given
    name, a word of a Latin name, the whole name), kept by Customer.save(), by bulk
    creation and by migration 0014 for the customers before it.

    Why a table of parts rather than the trigram index on the name alone: a trigram
    index needs three characters of the term, and callers say one (林) or two (美華,
    "wu"); a LIKE '%林%' on the name reads every customer. An exact match on (part,
    customer) is a B-tree range of only the customers with that word, on SQLite as
    on PostgreSQL (an array column with a GIN index would be PostgreSQL's only), and
    gives the customers' ids from the index alone. Substrings of three characters or
    more are still matched through the trigram index (selectors.customer_match_q)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="name_parts")
    part = models.CharField(max_length=PART_MAX_LENGTH)

    class Meta:
        verbose_name = _("customer name part")
        verbose_name_plural = _("customer name parts")
        constraints = [models.UniqueConstraint(fields=["part", "customer"], name="customer_name_part_unique")]

    def __str__(self):
        return self.part


def name_part_rows(customers):
    """(customer id, part) rows for saved `customers`, as bulk creation inserts them."""
    return [(customer.pk, part) for customer in customers for part in sorted(name_parts(customer.name))]


def sync_name_parts(customers, *, created=False):
    """Make the stored name parts of `customers` (saved) match their names: for
    customers already stored, a read and, when the name changed, a delete of the old
    parts and an insert of the new; for new ones (`created`), the insert alone."""
    wanted = set(name_part_rows(customers))
    if not created:
        ids = [customer.pk for customer in customers]
        stored = set(CustomerNamePart.objects.filter(customer_id__in=ids).values_list("customer_id", "part"))
        stale = stored - wanted
        if stale:
            CustomerNamePart.objects.filter(
                Q(*[Q(customer_id=pk, part=part) for pk, part in stale], _connector=Q.OR)
            ).delete()
        wanted -= stored
    if wanted:
        CustomerNamePart.objects.bulk_create(
            [CustomerNamePart(customer_id=pk, part=part) for pk, part in sorted(wanted)], ignore_conflicts=True
        )


class StatusTarget(models.Model):
    """How long an order may stay in a state before it counts as overdue."""

    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, unique=True)
    target_hours = models.PositiveIntegerField(_("target (hours)"))

    class Meta:
        ordering = ["status"]
        verbose_name = _("target time per status")
        verbose_name_plural = _("target times per status")

    def __str__(self):
        return labelled(self.get_status_display(), f"{self.target_hours} h")


class Order(models.Model):
    number = models.CharField(_("order number"), max_length=32, unique=True)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("customer"),
        db_index=False,  # order_customer_recent leads with it
    )
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW, editable=False
    )
    held_from_status = models.CharField(
        _("held from"), max_length=16, choices=OrderStatus.choices, blank=True, editable=False
    )
    placed_at = models.DateTimeField(_("placed"), default=timezone.now)
    status_changed_at = models.DateTimeField(_("in status since"), default=timezone.now, editable=False)
    payment_status = models.CharField(
        _("payment"), max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    payment_method = models.CharField(
        _("payment method"),
        max_length=16,
        choices=PaymentMethod.choices,
        default=PaymentMethod.CARD,
        db_default=PaymentMethod.CARD,
    )
    # What identifies the payment: the last five digits of an ATM transfer, a card
    # authorisation code, the carrier's collection reference for cash on delivery.
    payment_reference = models.CharField(
        _("payment reference"), max_length=64, blank=True, default="", db_default="", editable=False
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True, editable=False)
    currency = models.CharField(_("currency"), max_length=3, default="TWD")
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0"), editable=False)
    delivery_method = models.CharField(
        _("delivery method"), max_length=16, choices=DeliveryMethod.choices, default=DeliveryMethod.HOME
    )
    ship_name = models.CharField(_("ship to: name"), max_length=200)
    ship_phone = models.CharField(_("ship to: phone"), max_length=40, blank=True)
    ship_address1 = models.CharField(_("ship to: address"), max_length=255)
    ship_address2 = models.CharField(_("ship to: address line 2"), max_length=255, blank=True)
    ship_city = models.CharField(_("ship to: city"), max_length=100)
    ship_postcode = models.CharField(_("ship to: postcode"), max_length=20, blank=True)
    # A code of the ISO 3166-1 list (django-countries), chosen from a list of names in
    # the reader's language; stored and exported as the two-letter code.
    ship_country = CountryField(
        _("ship to: country"),
        default="TW",
        error_messages={"invalid_choice": COUNTRY_CODE_MESSAGE},
    )
    # Convenience-store pickup (DeliveryMethod.STORE_PICKUP): the chain, its store code
    # (STORE_CODE_PATTERNS) and the store's name; blank for the other methods.
    pickup_chain = models.CharField(
        _("pickup store: chain"), max_length=16, choices=StoreChain.choices, blank=True, default="", db_default=""
    )
    pickup_store_code = models.CharField(
        _("pickup store: code"), max_length=16, blank=True, default="", db_default=""
    )
    pickup_store_name = models.CharField(
        _("pickup store: name"), max_length=100, blank=True, default="", db_default=""
    )
    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("warehouse"),
    )
    # A backorder: the lines (or part quantities) moved out of `split_from` so that
    # the rest of it could ship (orders.services.order_split).
    split_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="split_orders",
        verbose_name=_("split from"),
        editable=False,
    )
    return_state = models.CharField(
        _("returns"),
        max_length=8,
        choices=ReturnState.choices,
        blank=True,
        default=ReturnState.NONE,
        db_default=ReturnState.NONE,
        editable=False,
    )

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["status", "status_changed_at"], name="order_status_changed"),
            # The order list: its default order (newest first, Meta.ordering, with the id
            # deciding ties) alone and after each filter it offers, so a page is the first
            # 50 entries of one index and its count an index-only count (see
            # tests/orders/test_list_plans.py). Placed-date ranges (the list, the
            # dashboard, the exports) read the same indexes.
            models.Index(fields=["-placed_at", "-id"], name="order_recent"),
            # With the columns of the other filters: the status chips under a warehouse,
            # payment or delivery filter count each status's slice from this index alone.
            models.Index(
                fields=["status", "-placed_at", "-id"],
                include=["warehouse", "payment_status", "delivery_method"],
                name="order_status_recent",
            ),
            models.Index(fields=["warehouse", "-placed_at", "-id"], name="order_warehouse_recent"),
            models.Index(fields=["payment_status", "-placed_at", "-id"], name="order_payment_recent"),
            models.Index(fields=["delivery_method", "-placed_at", "-id"], name="order_delivery_recent"),
            models.Index(fields=["payment_method", "-placed_at", "-id"], name="order_method_recent"),
            # A customer's orders, newest first, with their status: a search's matches
            # (up to 500 customers' orders) are ordered, counted and counted per status
            # from this index alone, and a customer's orders found through it.
            models.Index(
                fields=["customer", "-placed_at", "-id"], include=["status"], name="order_customer_recent"
            ),
            # The oldest orders not shipped yet (the dashboard) without walking past
            # every finished order: only the few unshipped ones are in this index.
            models.Index(
                fields=["placed_at"],
                name="order_unshipped_placed",
                condition=Q(status__in=["new", "processing", "packed", "on_hold"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]
        permissions = [
            ("advance_order", _("Can advance orders through the workflow")),
            ("tick_checklist", _("Can tick checklist steps")),
            ("scan_items", _("Can scan items at the packing station")),
            ("hold_order", _("Can put orders on hold")),
            ("resume_order", _("Can resume held orders")),
            ("cancel_order", _("Can cancel orders")),
            ("correct_address", _("Can correct the shipping address")),
            ("add_note", _("Can add notes to orders")),
            ("return_order", _("Can start a return")),
            ("mark_paid", _("Can mark orders paid")),
            ("export_reports", _("Can export reports")),
            ("import_data", _("Can import data")),
            ("export_personal_data", _("Can export personal data (contact and address columns)")),
            ("view_dashboard", _("Can see the managers' dashboard")),
            ("record_refund", _("Can record refunds")),
            ("split_order", _("Can split orders")),
        ]

    def __str__(self):
        return self.number

    def clean(self):
        """The pickup store: required for a convenience-store pickup, in the chain's
        code format, and blank for any other delivery method (pickup_store_errors).
        Run by full_clean, so by the order services (creation, imports, address
        corrections) and any admin form alike. Not a database constraint: orders
        placed before stores were data hold the store in the address line."""
        super().clean()
        self.pickup_chain = (self.pickup_chain or "").strip()
        self.pickup_store_code = normalise_store_code(self.pickup_store_code)
        self.pickup_store_name = (self.pickup_store_name or "").strip()
        errors = pickup_store_errors(
            self.delivery_method, self.pickup_chain, self.pickup_store_code, self.pickup_store_name
        )
        if errors:
            raise ValidationError(errors)

    @property
    def is_store_pickup(self):
        return self.delivery_method == DeliveryMethod.STORE_PICKUP

    @property
    def pickup_chain_label(self):
        if self.pickup_chain in StoreChain.values:
            return StoreChain(self.pickup_chain).label
        return self.pickup_chain

    @property
    def pickup_store_text(self):
        """The pickup store in one line ("7-ELEVEN 府城門市 (store 131386)"), or ""
        when the order has none."""
        if not (self.pickup_chain or self.pickup_store_code or self.pickup_store_name):
            return ""
        text = " ".join(str(part) for part in (self.pickup_chain_label, self.pickup_store_name) if part)
        if not self.pickup_store_code:
            return text
        return bracketed(text, gettext("store %(code)s") % {"code": self.pickup_store_code})

    @property
    def delivery_text(self):
        """The delivery method, with the chain for a store pickup
        ("Convenience-store pickup (7-ELEVEN)")."""
        label = self.get_delivery_method_display()
        if self.is_store_pickup and self.pickup_chain:
            return bracketed(label, self.pickup_chain_label)
        return str(label)

    @property
    def ship_address_lines(self):
        return [
            line
            for line in (
                self.ship_address1,
                self.ship_address2,
                " ".join(filter(None, [self.ship_postcode, self.ship_city])),
                self.ship_country,
            )
            if line
        ]


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    product = models.ForeignKey(
        "inventory.Product", on_delete=models.PROTECT, related_name="order_lines", verbose_name=_("product")
    )
    sku = models.CharField(_("SKU"), max_length=64)
    product_name = models.CharField(_("product name"), max_length=255)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    quantity_scanned = models.PositiveIntegerField(_("scanned"), default=0)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderline_price_not_negative"),
            models.CheckConstraint(
                condition=Q(quantity_scanned__gte=0) & Q(quantity_scanned__lte=F("quantity")),
                name="orderline_scanned_within_quantity",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.sku}"

    @property
    def line_total(self):
        return self.quantity * self.unit_price

    @property
    def fully_scanned(self):
        return self.quantity_scanned >= self.quantity


class Predicate(models.TextChoices):
    PAYMENT_CONFIRMED = "payment_confirmed", _("Payment status is paid")
    STOCK_AVAILABLE = "stock_available", _("Stock available for every line")
    ALL_ITEMS_SCANNED = "all_items_scanned", _("Every item scanned")
    SHIPMENT_TRACKED = "shipment_tracked", _("Shipment with a valid tracking number")
    SHIPMENT_DELIVERED = "shipment_delivered", _("Shipment delivered (or ticked by hand)")


# The states in which each automatic check can pass: the one definition the model's
# validation, the database constraint, the admin and the checklist (orders/checklist.py)
# read. Payment and stock are settled before processing starts; items are scanned only
# while processing; shipments are created while processing or packed
# (shipping/services.py SHIPPABLE); delivery is reported once the order has shipped.
PREDICATE_STATES = {
    Predicate.PAYMENT_CONFIRMED: (OrderStatus.NEW,),
    Predicate.STOCK_AVAILABLE: (OrderStatus.NEW,),
    Predicate.ALL_ITEMS_SCANNED: (OrderStatus.PROCESSING,),
    Predicate.SHIPMENT_TRACKED: (OrderStatus.PROCESSING, OrderStatus.PACKED),
    Predicate.SHIPMENT_DELIVERED: (OrderStatus.SHIPPED,),
}


def predicate_in_its_states():
    """Q: a manual step, or an automatic one in a state where its check can pass."""
    condition = Q(predicate="")
    for predicate, states in PREDICATE_STATES.items():
        condition |= Q(predicate=predicate.value, state__in=[state.value for state in states])
    return condition


class ChecklistStepBase(models.Model):
    state = models.CharField(_("state"), max_length=16, choices=OrderStatus.choices)
    label = models.CharField(_("label"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    required = models.BooleanField(_("required"), default=True)
    predicate = models.CharField(
        _("automatic check"),
        max_length=32,
        choices=Predicate.choices,
        blank=True,
        help_text=_("Blank for a step that staff tick by hand."),
    )

    class Meta:
        abstract = True

    @property
    def is_automatic(self):
        return bool(self.predicate)

    @property
    def display_label(self):
        # The default steps' labels are in the message catalogue; labels managers
        # type themselves are shown as typed.
        return gettext(self.label)


class ChecklistStep(ChecklistStepBase):
    """The template: the steps each state starts with."""

    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["state", "position", "id"]
        verbose_name = _("checklist step")
        verbose_name_plural = _("checklist steps")
        constraints = [
            # Automatic steps are invariants, not settings (see invariant_errors()).
            models.CheckConstraint(
                condition=Q(predicate="") | Q(required=True, is_active=True),
                name="checkliststep_automatic_required_active",
            ),
            models.CheckConstraint(condition=predicate_in_its_states(), name="checkliststep_automatic_in_its_state"),
        ]

    def __str__(self):
        return labelled(self.get_state_display(), self.display_label)

    def invariant_errors(self):
        """{field: message} of what an automatic step may not be: optional,
        inactive, or in a state where its check can never pass (every order would
        wait there forever). Manual steps are the managers' to shape freely."""
        if not self.predicate or self.predicate not in Predicate.values:
            return {}
        errors = {}
        if not self.required:
            errors["required"] = gettext("An automatic check is always required; only manual steps can be optional.")
        if not self.is_active:
            errors["is_active"] = gettext("An automatic check is always active; only manual steps can be deactivated.")
        states = PREDICATE_STATES[Predicate(self.predicate)]
        if self.state in OrderStatus.values and self.state not in states:
            errors["predicate"] = gettext(
                "The check “%(check)s” can only pass while an order is %(states)s; an order in %(state)s would wait for it forever."
            ) % {
                "check": Predicate(self.predicate).label,
                "states": gettext(" or ").join(str(state.label) for state in states),
                "state": OrderStatus(self.state).label,
            }
        return errors

    def clean_fields(self, exclude=None):
        # Checked here rather than in clean(), which is not told which fields a form
        # left out: an error about a field the form does not show (the list's form has
        # no "automatic check") is reported about the whole step instead.
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.error_dict
        else:
            errors = {}
        exclude = set(exclude or ())
        for field, message in self.invariant_errors().items():
            if field in errors:
                continue
            # The state error is about the pair: beside the check if the form shows it,
            # else beside the state (an automatic step's form does not change its check).
            candidates = (field, "state") if field == "predicate" else (field,)
            key = next((name for name in candidates if name not in exclude), NON_FIELD_ERRORS)
            errors.setdefault(key, []).append(ValidationError(message, code="automatic_step"))
        if errors:
            raise ValidationError(errors)


class OrderChecklistItem(ChecklistStepBase):
    """A step copied onto an order when it entered the state."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="checklist_items", verbose_name=_("order")
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )

    class Meta:
        ordering = ["order", "position", "id"]
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        indexes = [models.Index(fields=["order", "state"], name="checklistitem_order_state")]
        constraints = [
            # An automatic check copied onto an order is required like its template,
            # and in a state where it can pass.
            models.CheckConstraint(
                condition=Q(predicate="") | Q(required=True), name="orderchecklistitem_automatic_required"
            ),
            models.CheckConstraint(condition=predicate_in_its_states(), name="orderchecklistitem_automatic_in_its_state"),
        ]

    def __str__(self):
        return self.display_label

    @property
    def is_done(self):
        return self.done_at is not None


class OrderEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        TRANSITION = "transition", _("Status changed")
        TICK = "tick", _("Step ticked")
        UNTICK = "untick", _("Step unticked")
        NOTE = "note", _("Note")
        STOCK = "stock", _("Stock")
        NOTIFICATION = "notification", _("Customer notified")
        SHIPMENT = "shipment", _("Shipment")
        SCAN = "scan", _("Scan")
        ADDRESS = "address", _("Address corrected")
        PAYMENT = "payment", _("Payment")
        SPLIT = "split", _("Split")
        RETURN = "return", _("Return")
        REFUND = "refund", _("Refund")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    message = models.TextField(_("message"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        indexes = [
            models.Index(fields=["order", "created_at"], name="event_order_created"),
            # The dashboard reads one kind of event over a period (transitions that
            # end a stay, shipments, scans) without reading the whole timeline.
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
            # Orders shipped per day: the few transitions to shipped, not all of them.
            models.Index(
                fields=["created_at"],
                name="event_shipped_created",
                condition=Q(kind="transition", data__to="shipped"),
            ),
            # The dashboard's scan counts: the scans and the refusals of a period, each
            # counted from its own small index alone (never the events' rows).
            models.Index(
                fields=["created_at"],
                name="event_scanned_created",
                condition=Q(kind="scan", data__action="scan"),
            ),
            models.Index(
                fields=["created_at"],
                name="event_refused_created",
                condition=Q(kind="scan", data__action="refused"),
            ),
        ]

    def __str__(self):
        return labelled(self.get_kind_display(), self.message)

    def describe(self):
        """The timeline text of an event, in the reader's language."""
        data = self.data or {}
        if self.kind == OrderEvent.Kind.TRANSITION:
            text = "%s → %s" % (status_label(data.get("from")), status_label(data.get("to")))
            return labelled(text, self.message) if self.message else text
        if self.kind in (OrderEvent.Kind.TICK, OrderEvent.Kind.UNTICK):
            return gettext(data.get("step", ""))
        if self.kind == OrderEvent.Kind.STOCK:
            verbs = {
                "reserve": gettext("Reserved in %(warehouse)s"),
                "release": gettext("Released in %(warehouse)s"),
                "ship": gettext("Shipped from %(warehouse)s"),
                "return": gettext("Restocked in %(warehouse)s"),
            }
            head = verbs.get(data.get("action"), "%(warehouse)s") % {"warehouse": data.get("warehouse", "")}
            text = labelled(head, ", ".join(f"{qty} × {sku}" for sku, qty in data.get("lines", [])))
            if data.get("inactive_warehouse"):
                # Reserved elsewhere because the order's own warehouse was deactivated.
                text = "%s — %s" % (
                    text,
                    gettext("Warehouse %(code)s of the order is not active.") % {"code": data["inactive_warehouse"]},
                )
            return text
        if self.kind == OrderEvent.Kind.SHIPMENT:
            verbs = {
                "created": gettext("Shipment created"),
                "delivered": gettext("Delivered"),
                "voided": gettext("Shipment voided"),
            }
            text = labelled(
                verbs.get(data.get("action"), data.get("action", "")),
                f"{data.get('carrier', '')} {data.get('tracking_number', '')}",
            )
            if data.get("source") == "carrier_report":
                # Marked delivered by an imported delivery report (shipping.services.deliveries_record).
                text = "%s — %s" % (
                    text,
                    gettext("from the carrier's report, delivered %(delivered_at)s")
                    % {"delivered_at": _event_moment(data.get("delivered_at"))},
                )
            if data.get("lines"):  # what a created parcel holds (events before parcels had none)
                text = bracketed(text, ", ".join(f"{qty} × {sku}" for sku, qty in data["lines"]))
            # A voided shipment's reason is the event's message.
            return f"{text} — {self.message}" if self.message else text
        if self.kind == OrderEvent.Kind.SCAN:
            if data.get("action") == "refused":
                return gettext("Refused scan of %(code)s: %(reason)s") % {
                    "code": data.get("code", ""),
                    "reason": data.get("reason", ""),
                }
            verb = gettext("Undid a scan of") if data.get("action") == "undo" else gettext("Scanned")
            return bracketed(f"{verb} {data.get('sku', '')}", data.get("scanned", ""))
        if self.kind == OrderEvent.Kind.NOTIFICATION:
            values = {"to": data.get("to", ""), "attempt": data.get("attempt", 1), "error": data.get("error", "")}
            if data.get("action") == "failed":
                if data.get("gave_up"):
                    return gettext("E-mail to %(to)s failed (attempt %(attempt)s), gave up: %(error)s") % values
                return gettext("E-mail to %(to)s failed (attempt %(attempt)s), will try again: %(error)s") % values
            return gettext("E-mail sent to %(to)s") % values
        if self.kind == OrderEvent.Kind.ADDRESS:
            return joined_clauses(f"{old or '—'} → {new or '—'}" for old, new in data.get("changed", {}).values())
        if self.kind == OrderEvent.Kind.PAYMENT and data.get("action") == "collected":
            # orders.services.order_payment_collect: the carrier's delivery report.
            return gettext("Paid: %(amount)s collected by the carrier (%(reference)s)") % {
                "amount": amount_text(data.get("amount", "0"), data.get("currency", "")),
                "reference": data.get("reference", ""),
            }
        if self.kind == OrderEvent.Kind.PAYMENT:
            text = PaymentStatus(data["payment_status"]).label if data.get("payment_status") in PaymentStatus.values else ""
            method = PaymentMethod(data["method"]).label if data.get("method") in PaymentMethod.values else ""
            if method and data.get("reference"):
                return labelled(text, gettext("%(method)s, reference %(reference)s") % {"method": method, "reference": data["reference"]})
            return labelled(text, method) if method else text
        if self.kind == OrderEvent.Kind.REFUND:
            amount = data.get("amount", "")
            try:
                amount = money(Decimal(amount), data.get("currency") or self.order.currency)
            except (ArithmeticError, TypeError, ValueError):
                pass
            if data.get("action") == "refunded":
                return gettext("Refunded %(amount)s, reference %(reference)s") % {
                    "amount": amount,
                    "reference": data.get("reference", ""),
                }
            reason = data.get("reason")
            reason = Refund.Reason(reason).label if reason in Refund.Reason.values else reason or ""
            text = bracketed(gettext("Refund due: %(amount)s") % {"amount": amount}, reason) if reason else (
                gettext("Refund due: %(amount)s") % {"amount": amount}
            )
            return labelled(text, self.message) if self.message else text
        if self.kind == OrderEvent.Kind.RETURN:
            # shipping.returns: a return opened (its lines) or received (each line's outcome).
            number = {"number": data.get("return", "")}
            if data.get("action") == "received":
                outcomes = {
                    "restocked": gettext("%(quantity)s × %(sku)s back to stock"),
                    "damaged": gettext("%(quantity)s × %(sku)s damaged (no stock change)"),
                }
                parts = [
                    outcomes.get(outcome, "%(quantity)s × %(sku)s") % {"quantity": quantity, "sku": sku}
                    for sku, quantity, outcome in data.get("lines", [])
                ]
                return labelled(gettext("Return #%(number)s received") % number, joined_clauses(parts))
            text = labelled(
                gettext("Return #%(number)s opened") % number,
                ", ".join(f"{quantity} × {sku}" for sku, quantity in data.get("lines", [])),
            )
            return labelled(text, self.message) if self.message else text
        if self.kind == OrderEvent.Kind.SPLIT:
            # Both directions of a split (orders.services.order_split), with the lines moved.
            head = (
                gettext("Split from %(number)s") if data.get("action") == "split_from" else gettext("Split into %(number)s")
            ) % {"number": data.get("order", "")}
            text = labelled(head, ", ".join(f"{qty} × {sku}" for sku, qty in data.get("lines", [])))
            if data.get("unscanned"):
                text = "%s — %s" % (
                    text,
                    gettext("taken out of the scanned count: %(lines)s")
                    % {"lines": ", ".join(f"{qty} × {sku}" for sku, qty in data["unscanned"])},
                )
            return f"{text} — {self.message}" if self.message else text
        if self.kind == OrderEvent.Kind.CREATED:
            return gettext("%(count)s line(s)") % {"count": data.get("lines", 0)}
        return self.message



def _event_moment(value):
    """An ISO date-time kept in an event's data, as pages show moments."""
    try:
        return datetime_text(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return value or ""


class Refund(models.Model):
    """Money owed back to the customer: created when a paid order is cancelled or a
    return is received (orders.services), marked refunded by finance with the
    reference of the transfer."""

    class Status(models.TextChoices):
        DUE = "due", _("Refund due")
        REFUNDED = "refunded", _("Refunded")

    class Reason(models.TextChoices):
        CANCELLED = "cancelled", _("Order cancelled")
        RETURNED = "returned", _("Goods returned")
        # Opened by a manager on a paid order (a partial refund, a gesture), with a note.
        GOODWILL = "goodwill", _("Granted by hand")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DUE)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    note = models.TextField(_("note"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    refunded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("refunded by"),
    )
    reference = models.CharField(_("refund reference"), max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        indexes = [
            models.Index(fields=["status", "-created_at", "-id"], name="refund_status_created"),
            # The list under its reason filter, in the same order.
            models.Index(fields=["reason", "status", "-created_at", "-id"], name="refund_reason_created"),
            models.Index(fields=["order", "created_at"], name="refund_order_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="due") | (Q(refunded_at__isnull=False) & ~Q(reference="")),
                name="refund_refunded_has_reference",
            ),
        ]

    def __str__(self):
        return f"{self.order.number} {self.amount}"


def shipment_model():
    """The shipping app's Shipment, reached through the relation it declares on Order.

    The apps import in one direction only (inventory ← orders ← shipping, see
    docs/architecture.md): orders reads shipments through `Order.shipments` and this
    model, and never imports the shipping app."""
    return Order._meta.get_field("shipments").related_model


class DashboardSnapshot(models.Model):
    """A dashboard figure worked out in the background and kept for the page: the
    time orders spent in each state reads every state change of the period (about
    470,000 for 30 days at 1.5 million orders, two seconds), too slow to work out
    on every visit. `key` names the figure and its scope (period, warehouse);
    `data` is the figure (plain JSON), as of `computed_at` (None until the first
    one is ready); `requested_at` is when it was last asked for, so that visits
    while it is being worked out do not ask again. See orders.dashboard."""

    key = models.CharField(max_length=100, unique=True)
    data = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("dashboard snapshot")
        verbose_name_plural = _("dashboard snapshots")

    def __str__(self):
        return self.key

from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from common.text import bracketed

from orders.models import REASON_MAX_LENGTH, DeliveryMethod, StoreChain

from .tracking import TRACKING_NUMBER_MAX_LENGTH, tracking_number_hint, validate_tracking_number_pattern

# A shipment's reason for being voided, like the reasons of the order workflow.
VOID_REASON_MAX_LENGTH = REASON_MAX_LENGTH


class Carrier(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    tracking_url_template = models.CharField(
        _("tracking URL template"),
        max_length=500,
        blank=True,
        help_text=_("Use {tracking_number} where the number goes, e.g. https://example.com/track?no={tracking_number}"),
    )
    tracking_number_pattern = models.CharField(
        _("tracking number pattern"),
        max_length=200,
        blank=True,
        help_text=_("A regular expression the whole tracking number must match; blank accepts any."),
        # Every path that saves a carrier (the form, imports, full_clean) checks that RE2 can run it.
        validators=[validate_tracking_number_pattern],
    )
    # The delivery methods the carrier serves; a store-pickup carrier delivers to the
    # stores of one chain (store_chain). shipment_create refuses a carrier that does not
    # serve the order's method (and chain).
    serves_home = models.BooleanField(_("home delivery"), default=False, db_default=False)
    serves_store_pickup = models.BooleanField(_("convenience-store pickup"), default=False, db_default=False)
    serves_express = models.BooleanField(_("express (international)"), default=False, db_default=False)
    store_chain = models.CharField(
        _("store chain"),
        max_length=16,
        choices=StoreChain.choices,
        blank=True,
        default="",
        db_default="",
        help_text=_("For convenience-store pickup: the chain whose stores this carrier delivers to."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")
        permissions = [("print_documents", _("Can print pick lists and packing slips"))]
        constraints = [
            # A store-pickup carrier delivers to the stores of one chain; any other has none.
            models.CheckConstraint(
                condition=(Q(serves_store_pickup=True) & ~Q(store_chain="")) | Q(serves_store_pickup=False, store_chain=""),
                name="carrier_store_chain_with_store_pickup",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        """The served methods make sense together: a store-pickup carrier names its
        chain, a chain goes only with store pickup, and an active carrier serves at
        least one method (else no order could ever ship with it)."""
        super().clean()
        errors = {}
        if self.serves_store_pickup and not self.store_chain:
            errors["store_chain"] = _("A convenience-store pickup carrier needs the chain whose stores it delivers to.")
        elif self.store_chain and not self.serves_store_pickup:
            errors["store_chain"] = _(
                "A store chain goes only with convenience-store pickup: tick it, or leave the chain blank."
            )
        if self.is_active and not (self.serves_home or self.serves_store_pickup or self.serves_express):
            errors.setdefault(
                "serves_home",
                _("Tick at least one delivery method this carrier serves (an active carrier serving none could ship no order)."),
            )
        if errors:
            raise ValidationError(errors)

    @property
    def served_methods_text(self):
        """What the carrier serves, in words: "Home delivery, Express (international)",
        "Convenience-store pickup (7-ELEVEN)"."""
        parts = []
        if self.serves_home:
            parts.append(str(DeliveryMethod.HOME.label))
        if self.serves_store_pickup:
            chain = StoreChain(self.store_chain).label if self.store_chain in StoreChain.values else self.store_chain
            parts.append(bracketed(DeliveryMethod.STORE_PICKUP.label, chain) if chain else str(DeliveryMethod.STORE_PICKUP.label))
        if self.serves_express:
            parts.append(str(DeliveryMethod.EXPRESS.label))
        return pgettext("between the items of a list", ", ").join(parts)

    @property
    def tracking_number_format(self):
        """The pattern in words with an example ("12 digits, like 123456789012"); ""
        when any number is accepted (shipping/tracking.py)."""
        return tracking_number_hint(self)

    def serves_method(self, delivery_method, chain=""):
        """Whether the carrier delivers orders sent by `delivery_method` (and, for a
        store pickup, to stores of `chain`)."""
        if delivery_method == DeliveryMethod.HOME:
            return self.serves_home
        if delivery_method == DeliveryMethod.EXPRESS:
            return self.serves_express
        if delivery_method == DeliveryMethod.STORE_PICKUP:
            return self.serves_store_pickup and bool(chain) and self.store_chain == chain
        return False

    def serves(self, order):
        return self.serves_method(order.delivery_method, order.pickup_chain)

    def tracking_url(self, tracking_number):
        if not self.tracking_url_template or not tracking_number:
            return ""
        # Encoded whole ("&", "=", "/", "#" too), so a number can only ever be the one value.
        return self.tracking_url_template.replace("{tracking_number}", quote(tracking_number, safe=""))


class Shipment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for pickup")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="shipments", verbose_name=_("order")
    )
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="shipments", verbose_name=_("carrier"))
    tracking_number = models.CharField(_("tracking number"), max_length=TRACKING_NUMBER_MAX_LENGTH, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # Set by shipment_void: a shipment cancelled before pickup (a mistyped number), not with its order.
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("voided by"),
    )
    # db_default too: rows written in SQL without this column (bench/reports_bench.py) get "".
    void_reason = models.TextField(
        _("reason for voiding"), max_length=VOID_REASON_MAX_LENGTH, blank=True, default="", db_default=""
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        # The shipment list's orderings (newest first; alone, by status, by carrier),
        # so that a page reads its rows in index order instead of sorting them all.
        indexes = [
            models.Index(fields=["created_at", "id"], name="shipment_created"),
            models.Index(fields=["status", "created_at", "id"], name="shipment_status_created"),
            models.Index(fields=["carrier", "created_at", "id"], name="shipment_carrier_created"),
            # The order list's carrier filter (shipping.admin.orders.CarrierFilter): is
            # there a live shipment of this carrier for this order, answered from the
            # index alone.
            models.Index(
                fields=["carrier", "order"], condition=~Q(status="cancelled"), name="shipment_live_carrier_order"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(status="cancelled"),
                name="shipment_tracking_unique_per_carrier",
            ),
        ]

    def __str__(self):
        return f"{self.carrier.code} {self.tracking_number}"

    @property
    def tracking_url(self):
        return self.carrier.tracking_url(self.tracking_number)


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines", verbose_name=_("shipment"))
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines", verbose_name=_("order line")
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("shipment line")
        verbose_name_plural = _("shipment lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentline_quantity_positive"),
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipmentline_unique_line"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.order_line.sku}"


class Return(models.Model):
    """Goods a customer sends back: opened by customer service on a shipped order
    (which lines, how many, why), received by the warehouse, where each line goes
    back to stock or is recorded as damaged (shipping.returns)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting to be received")
        RECEIVED = "received", _("Received")

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns", verbose_name=_("order"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    reason = models.TextField(_("reason"), max_length=REASON_MAX_LENGTH)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("opened by"),
    )
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("received by"),
    )
    # The refund due that receiving it created (a paid order), if any.
    refund = models.OneToOneField(
        "orders.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="return_record",
        verbose_name=_("refund"),
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        permissions = [("receive_return", _("Can receive returns"))]
        indexes = [
            models.Index(fields=["status", "-opened_at", "-id"], name="return_status_opened"),
            models.Index(fields=["order", "opened_at"], name="return_order_opened"),
        ]

    def __str__(self):
        return f"{self.order.number} #{self.pk}"


class ReturnLine(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "", _("Not received yet")
        RESTOCKED = "restocked", _("Back to stock")
        DAMAGED = "damaged", _("Damaged")

    return_record = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines", verbose_name=_("return"))
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="return_lines", verbose_name=_("order line")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returnline_quantity_positive"),
            models.UniqueConstraint(fields=["return_record", "order_line"], name="returnline_unique_line"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.order_line.sku}"

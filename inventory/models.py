from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Warehouse(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower is tried first when choosing a warehouse.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "code"]
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        permissions = [
            ("receive_stock", _("Can receive stock")),
            ("count_stock", _("Can adjust stock by a cycle count")),
        ]

    def __str__(self):
        return f"{self.code} – {self.name}"


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=255)
    barcode = models.CharField(_("barcode"), max_length=64, unique=True, null=True, blank=True)
    weight_grams = models.PositiveIntegerField(_("weight (g)"), default=0)
    low_stock_threshold = models.PositiveIntegerField(_("low-stock threshold"), default=5)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sku"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return f"{self.sku} – {self.name}"

    def clean(self):
        # An empty barcode is stored as NULL so that many products may lack one.
        if not self.barcode:
            self.barcode = None


# A bin location such as "A-03-2" (aisle, shelf, bin): short enough to print in a
# pick list's column and to read off a shelf label.
LOCATION_MAX_LENGTH = 20


def clean_location(value):
    """A bin location as typed or imported: trimmed; refused when longer than
    LOCATION_MAX_LENGTH, never cut short (a cut location points at the wrong shelf)."""
    location = " ".join((value or "").split())
    if len(location) > LOCATION_MAX_LENGTH:
        raise ValidationError(
            _("A location can be at most %(max)s characters, like A-03-2; this one has %(length)s."),
            code="location_too_long",
            params={"max": LOCATION_MAX_LENGTH, "length": len(location)},
        )
    return location


class StockLevel(models.Model):
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="stock_levels", verbose_name=_("product")
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="stock_levels", verbose_name=_("warehouse")
    )
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    location = models.CharField(
        _("location"),
        max_length=LOCATION_MAX_LENGTH,
        blank=True,
        default="",
        db_default="",
        help_text=_("Where the product sits in this warehouse, e.g. A-03-2 (aisle, shelf, bin). Pick lists are sorted by it."),
    )

    class Meta:
        ordering = ["product__sku", "warehouse__priority"]
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="stocklevel_product_warehouse_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stocklevel_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stocklevel_reserved_within_on_hand"),
        ]

    def __str__(self):
        return f"{self.product.sku} @ {self.warehouse.code}"

    @property
    def available(self):
        return self.on_hand - self.reserved

    def clean(self):
        self.location = clean_location(self.location)


class StockMovement(models.Model):
    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        COUNT = "count", _("Cycle count")
        RESERVE = "reserve", _("Reservation")
        RELEASE = "release", _("Release")
        SHIP = "ship", _("Shipped")
        RETURN = "return", _("Return")

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="movements", verbose_name=_("product")
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="movements", verbose_name=_("warehouse")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    on_hand_delta = models.IntegerField(_("on-hand change"), default=0)
    reserved_delta = models.IntegerField(_("reserved change"), default=0)
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stock_movements",
        verbose_name=_("order"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    # Indexed with the id (Meta.indexes), which serves ranges of dates too.
    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        # The ledger list's orderings, newest first: alone (and by date range), by
        # kind and by warehouse. By product (and warehouse) the index below; by order
        # the order foreign key's.
        indexes = [
            models.Index(fields=["product", "warehouse", "created_at"], name="movement_product_wh_at"),
            models.Index(fields=["created_at", "id"], name="movement_created"),
            models.Index(fields=["kind", "created_at", "id"], name="movement_kind_created"),
            models.Index(fields=["warehouse", "created_at", "id"], name="movement_wh_created"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.product_id}@{self.warehouse_id}"


class StaffWarehouse(models.Model):
    """The warehouse a member of staff works in: their start page and the empty
    packing station list that warehouse's packing queue. Managers set it in the admin;
    staff without one see every warehouse."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_warehouse",
        verbose_name=_("member of staff"),
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="staff", verbose_name=_("warehouse")
    )

    class Meta:
        ordering = ["warehouse__priority", "user__username"]
        verbose_name = _("staff warehouse")
        verbose_name_plural = _("staff warehouses")

    def __str__(self):
        return f"{self.user} @ {self.warehouse.code}"

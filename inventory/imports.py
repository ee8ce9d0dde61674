"""Imports into the inventory app's data (registered in reports.registry when the app is ready).

- `warehouses` (`code,name,priority`) and `products` (`sku,name,barcode,weight_grams`)
  create new records. A code or SKU that exists already is skipped and reported
  ("exists"), never changed: an import is for adding, and a file lying around from
  last month must not quietly rename a warehouse or re-assign a barcode. Changes to
  existing records are made on their admin pages.
- `stock` (`sku,warehouse,on_hand`, and optionally `location`) is a counted quantity
  per product and warehouse: each row goes through `stock_count`, so the difference
  from what was on hand is a ledger movement (kind "count"), as when a manager counts
  a shelf by hand. A `location` (the bin, e.g. A-03-2) is set through
  `stock_location_set`; a file without the column, or an empty cell, leaves the
  location as it is. A row that changes neither is skipped ("unchanged").
"""

from django.core.exceptions import ValidationError

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.text import on_hand_change
from reports.imports import Cells, Importer, ImportRefused, chunked, shown
from reports.registry import register_import

from . import services
from .exceptions import InventoryError
from .models import Product, StockLevel, Warehouse, clean_location


def _field(model, name):
    return model._meta.get_field(name)


def _repeated(cells, column, value, first_rows):
    """Refuse a value given on an earlier row of the same file (naming that row)."""
    if value in first_rows:
        cells.error(column, _("“%(value)s” is given on row %(row)s already.") % {"value": shown(value), "row": first_rows[value]})
        return True
    first_rows[value] = cells.row.number
    return False


def _by(model, field, values):
    found = {}
    for chunk in chunked(set(values)):
        found.update((getattr(obj, field), obj) for obj in model.objects.filter(**{f"{field}__in": chunk}))
    return found


class WarehouseImporter(Importer):
    name = "warehouses"
    verbose_name = gettext_lazy("warehouses")
    columns = ("code", "name", "priority")
    permission = "inventory.add_warehouse"
    existing = gettext_lazy("A warehouse whose code exists already is skipped, not changed.")

    def plan(self, rows, report):
        existing = _by(Warehouse, "code", (row.cells["code"] for row in rows))
        first_rows, new = {}, []
        for row in rows:
            cells = Cells(row, report)
            code = cells.text("code", _field(Warehouse, "code"))
            if code and _repeated(cells, "code", code, first_rows):
                continue
            if code in existing:
                report.skip(row.number, code, _("exists; left as it is"))
                continue
            name = cells.text("name", _field(Warehouse, "name"))
            priority = cells.whole_number("priority", default=_field(Warehouse, "priority").default)
            if cells.ok:
                new.append(Warehouse(code=code, name=name, priority=priority))
                report.create(f"{code} – {name}")
        return new

    def write(self, plan, *, actor):
        try:
            services.warehouses_create(warehouses=plan, actor=actor)
        except InventoryError as refusal:
            raise ImportRefused(str(refusal)) from None


class ProductImporter(Importer):
    name = "products"
    verbose_name = gettext_lazy("products")
    columns = ("sku", "name", "barcode", "weight_grams")
    permission = "inventory.add_product"
    existing = gettext_lazy("A product whose SKU exists already is skipped, not changed.")

    def plan(self, rows, report):
        existing = _by(Product, "sku", (row.cells["sku"] for row in rows))
        barcode_owners = {
            product.barcode: product.sku
            for product in _by(Product, "barcode", (row.cells["barcode"] for row in rows if row.cells["barcode"])).values()
        }
        first_skus, first_barcodes, new = {}, {}, []
        for row in rows:
            cells = Cells(row, report)
            sku = cells.text("sku", _field(Product, "sku"))
            if sku and _repeated(cells, "sku", sku, first_skus):
                continue
            if sku in existing:
                report.skip(row.number, sku, _("exists; left as it is"))
                continue
            name = cells.text("name", _field(Product, "name"))
            barcode = cells.text("barcode", _field(Product, "barcode"))
            if barcode:
                if barcode in barcode_owners:
                    cells.error("barcode", _("%(barcode)s belongs to %(sku)s already.") % {"barcode": barcode, "sku": barcode_owners[barcode]})
                else:
                    _repeated(cells, "barcode", barcode, first_barcodes)
            weight = cells.whole_number("weight_grams", default=0)
            if cells.ok:
                new.append(Product(sku=sku, name=name, barcode=barcode or None, weight_grams=weight))
                report.create(f"{sku} – {name}")
        return new

    def write(self, plan, *, actor):
        try:
            services.products_create(products=plan, actor=actor)
        except InventoryError as refusal:
            raise ImportRefused(str(refusal)) from None


class StockImporter(Importer):
    name = "stock"
    verbose_name = gettext_lazy("stock counts")
    columns = ("sku", "warehouse", "on_hand")
    optional_columns = ("location",)
    permission = "inventory.count_stock"
    existing = gettext_lazy(
        "Each row is a count: on hand is set to it and the difference is recorded in the stock ledger. "
        "A location (the bin, e.g. A-03-2) is set when given; an empty one leaves the location as it is. "
        "A row equal to what is stored already is skipped."
    )

    def plan(self, rows, report):
        products = _by(Product, "sku", (row.cells["sku"] for row in rows))
        warehouses = {warehouse.code: warehouse for warehouse in Warehouse.objects.all()}
        levels = {}
        for chunk in chunked(product.pk for product in products.values()):
            for level in StockLevel.objects.filter(product_id__in=chunk):
                levels[level.product_id, level.warehouse_id] = level
        first_rows, counts = {}, []
        for row in rows:
            cells = Cells(row, report)
            sku, code = cells["sku"], cells["warehouse"]
            product = products.get(sku)
            warehouse = warehouses.get(code)
            if not sku:
                cells.error("sku", _("A value is required."))
            elif product is None:
                cells.error("sku", _("Unknown SKU “%(sku)s”.") % {"sku": shown(sku)})
            if not code:
                cells.error("warehouse", _("A value is required."))
            elif warehouse is None:
                cells.error("warehouse", _("Unknown warehouse “%(code)s”.") % {"code": shown(code)})
            on_hand = cells.whole_number("on_hand")
            try:
                location = clean_location(cells["location"])
            except ValidationError as error:
                cells.error("location", " ".join(error.messages))
            if not cells.ok:
                continue
            if (sku, code) in first_rows:
                cells.error(
                    "sku",
                    _("%(sku)s in %(warehouse)s is counted on row %(row)s already.")
                    % {"sku": sku, "warehouse": code, "row": first_rows[sku, code]},
                )
                continue
            first_rows[sku, code] = row.number
            level = levels.get((product.pk, warehouse.pk))
            before, reserved, located = (level.on_hand, level.reserved, level.location) if level else (0, 0, "")
            label = f"{sku} @ {code}"
            # An empty cell (or no column) keeps the stored location.
            new_location = location if location and location != located else None
            if on_hand < reserved:
                cells.error(
                    "on_hand",
                    _("%(reserved)s are reserved for orders; a count below that needs those orders cancelled or moved first.")
                    % {"reserved": reserved},
                )
            elif on_hand == before and new_location is None:
                report.skip(row.number, label, _("unchanged (%(on_hand)s on hand)") % {"on_hand": on_hand})
            else:
                counted = on_hand if on_hand != before else None
                counts.append((row.number, product, warehouse, counted, new_location))
                changes = [on_hand_change(before, on_hand)] if counted is not None else []
                if new_location is not None:
                    changes.append(
                        _("location %(before)s → %(after)s") % {"before": located or "—", "after": new_location}
                    )
                report.create(f"{label}: {'; '.join(changes)}")
        return counts

    def write(self, plan, *, actor):
        note = _("Imported count")
        for row_number, product, warehouse, on_hand, location in plan:
            try:
                if on_hand is not None:
                    services.stock_count(product=product, warehouse=warehouse, on_hand=on_hand, actor=actor, note=note)
                if location is not None:
                    services.stock_location_set(product=product, warehouse=warehouse, location=location, actor=actor)
            except InventoryError as refusal:
                raise ImportRefused(_("Row %(row)s: %(reason)s") % {"row": row_number, "reason": refusal}) from None


register_import(WarehouseImporter.name, WarehouseImporter())
register_import(ProductImporter.name, ProductImporter())
register_import(StockImporter.name, StockImporter())

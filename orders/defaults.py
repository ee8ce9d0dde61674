"""What every installation starts with: the three roles, the default checklist and
the target times. Data migrations load these; labels are marked for translation
so the zh-Hant catalogue holds them (ChecklistStep.display_label looks them up)."""

from django.utils.translation import gettext_noop

WAREHOUSE = "Warehouse staff"
CUSTOMER_SERVICE = "Customer service"
MANAGER = "Manager"

APPS = ("inventory", "orders", "shipping", "reports")

_VIEW = [
    "inventory.view_warehouse",
    "inventory.view_product",
    "inventory.view_stocklevel",
    "inventory.view_stockmovement",
    "orders.view_customer",
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    "orders.view_orderchecklistitem",
    "orders.view_checkliststep",
    "orders.view_statustarget",
    "shipping.view_carrier",
    "shipping.view_shipment",
    "shipping.view_shipmentline",
    "shipping.view_return",
    "shipping.view_returnline",
    "orders.view_refund",
]

ROLE_PERMISSIONS = {
    WAREHOUSE: _VIEW
    + [
        "orders.advance_order",
        "orders.tick_checklist",
        "orders.scan_items",
        "orders.hold_order",
        "orders.split_order",
        "shipping.add_shipment",
        "shipping.print_documents",
        "inventory.receive_stock",
        "shipping.receive_return",
    ],
    CUSTOMER_SERVICE: _VIEW
    + [
        "orders.hold_order",
        "orders.resume_order",
        "orders.cancel_order",
        "orders.correct_address",
        "orders.add_note",
        "orders.return_order",
        "orders.mark_paid",
        "orders.split_order",
    ],
    # Managers get every permission of the three apps (see roles_sync) except deleting
    # records that are history: orders, their lines and events, the stock ledger.
    MANAGER: [],
}

MANAGER_EXCLUDED = {
    "orders.delete_order",
    "orders.delete_orderline",
    "orders.delete_orderevent",
    "orders.delete_orderchecklistitem",
    "orders.delete_customer",
    "inventory.delete_stockmovement",
    "inventory.delete_stocklevel",
    "shipping.delete_shipment",
    "shipping.delete_shipmentline",
    "shipping.delete_return",
    "shipping.delete_returnline",
    "orders.delete_refund",
}

DEFAULT_STEPS = [
    # (state, label, required, predicate)
    ("new", gettext_noop("Payment confirmed"), True, "payment_confirmed"),
    ("new", gettext_noop("Order details verified: name, phone and address complete"), True, ""),
    ("new", gettext_noop("Stock available for every line"), True, "stock_available"),
    ("processing", gettext_noop("Items picked"), True, ""),
    ("processing", gettext_noop("Every item scanned at the packing station"), True, "all_items_scanned"),
    ("processing", gettext_noop("Packed and sealed"), True, ""),
    ("processing", gettext_noop("Packing slip inserted"), True, ""),
    ("packed", gettext_noop("Shipment created with a valid tracking number"), True, "shipment_tracked"),
    ("packed", gettext_noop("Handed to the carrier"), True, ""),
    ("shipped", gettext_noop("Delivery confirmed"), True, "shipment_delivered"),
    ("delivered", gettext_noop("After-sales follow-up done"), False, ""),
]

DEFAULT_TARGET_HOURS = {
    "new": 24,
    "processing": 24,
    "packed": 12,
    "shipped": 120,
    "delivered": 168,
    "on_hold": 48,
}


def roles_sync(apps):
    """Create or update the three groups with their permissions (idempotent)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # A migration's historical app configs have no models module, and
        # create_permissions skips such apps; lend one for the call.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.filter(content_type__app_label__in=APPS).select_related("content_type")
    }
    for name, codes in ROLE_PERMISSIONS.items():
        if name == MANAGER:
            codes = [code for code in permissions if code not in MANAGER_EXCLUDED]
        group, _created = Group.objects.get_or_create(name=name)
        # An early migration runs before later models (and their permissions) exist;
        # the migration that adds them syncs the roles again.
        group.permissions.set([permissions[code] for code in codes if code in permissions])

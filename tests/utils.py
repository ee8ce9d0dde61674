import pytest
from django.conf import settings

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

requires_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="row locks (select_for_update) only mean something on PostgreSQL; SQLite serialises all writers",
)


def ledger_mismatches():
    """Stock levels whose on_hand/reserved differ from the sum of their StockMovements
    (with levels that have movements but no row counted against zero). Empty when the
    ledger is consistent."""
    from django.db.models import Sum

    from inventory.models import StockLevel, StockMovement

    ledger = {
        (row["product_id"], row["warehouse_id"]): (row["on_hand"], row["reserved"])
        for row in StockMovement.objects.values("product_id", "warehouse_id")
        .annotate(on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
        .order_by()
    }
    levels = {
        (level.product_id, level.warehouse_id): (level.on_hand, level.reserved) for level in StockLevel.objects.all()
    }
    return {
        key: {"level": levels.get(key, (0, 0)), "ledger": ledger.get(key, (0, 0))}
        for key in set(ledger) | set(levels)
        if levels.get(key, (0, 0)) != ledger.get(key, (0, 0))
    }

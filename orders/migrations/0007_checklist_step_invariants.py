"""Automatic checklist steps are invariants, not settings (issue #7): always required
and active, and only in a state where their check can pass. The rows a manager had
made otherwise are put right first, then the database holds the rule."""

from django.conf import settings
from django.db import migrations, models

# As in orders.models.PREDICATE_STATES when this migration was written (a migration
# does not follow later changes of the code).
PREDICATE_STATES = {
    "payment_confirmed": ("new",),
    "stock_available": ("new",),
    "all_items_scanned": ("processing",),
    "shipment_tracked": ("processing", "packed"),
    "shipment_delivered": ("shipped",),
}
# Where the default checklist (orders.defaults.DEFAULT_STEPS) puts each check.
DEFAULT_STATE = {
    "payment_confirmed": "new",
    "stock_available": "new",
    "all_items_scanned": "processing",
    "shipment_tracked": "packed",
    "shipment_delivered": "shipped",
}

# A manual step, or an automatic one in a state where its check can pass.
IN_ITS_STATE = models.Q(
    ("predicate", ""),
    models.Q(("predicate", "payment_confirmed"), ("state__in", ["new"])),
    models.Q(("predicate", "stock_available"), ("state__in", ["new"])),
    models.Q(("predicate", "all_items_scanned"), ("state__in", ["processing"])),
    models.Q(("predicate", "shipment_tracked"), ("state__in", ["processing", "packed"])),
    models.Q(("predicate", "shipment_delivered"), ("state__in", ["shipped"])),
    _connector="OR",
)


def automatic_steps_as_invariants(apps, schema_editor):
    ChecklistStep = apps.get_model("orders", "ChecklistStep")
    OrderChecklistItem = apps.get_model("orders", "OrderChecklistItem")
    # A check no longer known (none today) has nothing to pass it: a manual step, so
    # that the constraints below, which know only these checks, can be added.
    ChecklistStep.objects.exclude(predicate="").exclude(predicate__in=list(PREDICATE_STATES)).update(predicate="")
    automatic = ChecklistStep.objects.exclude(predicate="")
    automatic.filter(models.Q(required=False) | models.Q(is_active=False)).update(required=True, is_active=True)
    for step in automatic.order_by("pk"):
        if step.state in PREDICATE_STATES[step.predicate]:
            continue
        placed = automatic.filter(predicate=step.predicate, state__in=PREDICATE_STATES[step.predicate])
        if placed.exists():
            step.delete()  # the same check is already where it can pass
        else:
            step.state = DEFAULT_STATE[step.predicate]
            step.save(update_fields=["state"])
    # Orders keep the steps they were given, but an automatic one is required. One
    # copied into a state where its check cannot pass held the order there for good: it
    # stays on the order as an optional manual step (the checks the state requires are
    # made whatever the order's steps say: orders/checklist.py REQUIRED_CHECKS).
    items = OrderChecklistItem.objects.exclude(predicate="")
    misplaced = ~models.Q(predicate__in=list(PREDICATE_STATES))
    for predicate, states in PREDICATE_STATES.items():
        misplaced |= models.Q(predicate=predicate) & ~models.Q(state__in=states)
    items.filter(misplaced).update(predicate="", required=False)
    items.filter(required=False).update(required=True)


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0006_dashboard_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(automatic_steps_as_invariants, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="checkliststep",
            constraint=models.CheckConstraint(
                condition=models.Q(("predicate", ""), models.Q(("is_active", True), ("required", True)), _connector="OR"),
                name="checkliststep_automatic_required_active",
            ),
        ),
        migrations.AddConstraint(
            model_name="checkliststep",
            constraint=models.CheckConstraint(condition=IN_ITS_STATE, name="checkliststep_automatic_in_its_state"),
        ),
        migrations.AddConstraint(
            model_name="orderchecklistitem",
            constraint=models.CheckConstraint(
                condition=models.Q(("predicate", ""), ("required", True), _connector="OR"),
                name="orderchecklistitem_automatic_required",
            ),
        ),
        migrations.AddConstraint(
            model_name="orderchecklistitem",
            constraint=models.CheckConstraint(condition=IN_ITS_STATE, name="orderchecklistitem_automatic_in_its_state"),
        ),
    ]

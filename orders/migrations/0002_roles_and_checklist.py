from django.db import migrations


def load_defaults(apps, schema_editor):
    from orders.defaults import DEFAULT_STEPS, DEFAULT_TARGET_HOURS, roles_sync

    roles_sync(apps)
    ChecklistStep = apps.get_model("orders", "ChecklistStep")
    if not ChecklistStep.objects.exists():
        positions = {}
        for state, label, required, predicate in DEFAULT_STEPS:
            positions[state] = positions.get(state, 0) + 10
            ChecklistStep.objects.create(
                state=state, label=label, position=positions[state], required=required, predicate=predicate
            )
    StatusTarget = apps.get_model("orders", "StatusTarget")
    for status, hours in DEFAULT_TARGET_HOURS.items():
        StatusTarget.objects.get_or_create(status=status, defaults={"target_hours": hours})


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("inventory", "0001_initial"),
        ("shipping", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(load_defaults, migrations.RunPython.noop)]

from django.db import migrations, models


def load_carriers(apps, schema_editor):
    from shipping.defaults import carriers_load

    carriers_load(apps.get_model("shipping", "Carrier"))


class Migration(migrations.Migration):
    dependencies = [
        ("shipping", "0005_parcels_returns_carrier_methods"),
    ]

    operations = [
        # A store-pickup carrier delivers to the stores of one chain; any other has none.
        migrations.AddConstraint(
            model_name="carrier",
            constraint=models.CheckConstraint(
                condition=(models.Q(serves_store_pickup=True) & ~models.Q(store_chain=""))
                | models.Q(serves_store_pickup=False, store_chain=""),
                name="carrier_store_chain_with_store_pickup",
            ),
        ),
        # Idempotent by code; the reverse leaves the carriers (shipments may refer to them).
        migrations.RunPython(load_carriers, migrations.RunPython.noop),
    ]

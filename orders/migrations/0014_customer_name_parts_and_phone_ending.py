"""Surnames, given names and phone endings found through indexes: each customer's
name parts (orders/names.py) in their own table, and the phone's digits reversed.
Both are filled here for the customers already stored, in batches."""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 2000


def fill(apps, schema_editor):
    from orders.names import name_parts

    Customer = apps.get_model("orders", "Customer")
    NamePart = apps.get_model("orders", "CustomerNamePart")
    db = schema_editor.connection.alias
    customers = Customer.objects.using(db)
    if schema_editor.connection.vendor == "postgresql":
        customers.update(phone_reversed=models.Func(models.F("phone_digits"), function="reverse"))
    last = 0
    while True:
        batch = list(customers.filter(pk__gt=last).order_by("pk").only("pk", "name", "phone_digits")[:BATCH])
        if not batch:
            break
        last = batch[-1].pk
        if schema_editor.connection.vendor != "postgresql":
            for customer in batch:
                customer.phone_reversed = customer.phone_digits[::-1]
            customers.bulk_update(batch, ["phone_reversed"])
        NamePart.objects.using(db).bulk_create(
            [NamePart(customer_id=c.pk, part=part) for c in batch for part in sorted(name_parts(c.name))],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0013_status_recent_covering'),
    ]

    operations = [
        migrations.AddField(
            model_name='customer',
            name='phone_reversed',
            field=models.CharField(blank=True, db_default='', db_index=True, editable=False, max_length=40, verbose_name='phone (digits, reversed)'),
        ),
        migrations.CreateModel(
            name='CustomerNamePart',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('part', models.CharField(max_length=100)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='name_parts', to='orders.customer')),
            ],
            options={
                'verbose_name': 'customer name part',
                'verbose_name_plural': 'customer name parts',
                'constraints': [models.UniqueConstraint(fields=('part', 'customer'), name='customer_name_part_unique')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]

"""The ship-to country is a code of the ISO 3166-1 list (django-countries), chosen
from a list in the address form (issue #7). The column stays two characters."""

import django_countries.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0007_checklist_step_invariants"),
    ]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="ship_country",
            field=django_countries.fields.CountryField(
                default="TW",
                error_messages={"invalid_choice": "Enter a two-letter country code (ISO 3166-1), such as TW or JP."},
                max_length=2,
                verbose_name="ship to: country",
            ),
        ),
    ]

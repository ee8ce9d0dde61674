"""Partial-name search on customers, fast on PostgreSQL: a trigram index on
UPPER(name), the expression Django's icontains compares. SQLite has no such index
type and needs none for a demo-sized table, so the operation is PostgreSQL-only."""

from django.db import migrations

CREATE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS customer_name_upper_trgm ON orders_customer USING gin (UPPER(name::text) gin_trgm_ops)",
)
DROP = ("DROP INDEX IF EXISTS customer_name_upper_trgm",)


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_roles_and_checklist")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]

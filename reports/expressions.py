"""A string aggregate both databases understand (Django 5.2 has one only for
PostgreSQL): the tracking numbers or carriers of an order's shipments in one cell."""

from django.db.models import Aggregate, CharField


class JoinedText(Aggregate):
    """Values joined by single spaces; sorted on PostgreSQL (SQLite keeps row order)."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(distinct)s%(expressions)s, ' ')"
    allow_distinct = True
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        if self.distinct:
            # SQLite takes no separator with DISTINCT; its own is a comma.
            return self.as_sql(
                compiler,
                connection,
                template="REPLACE(%(function)s(%(distinct)s%(expressions)s), ',', ' ')",
                **extra_context,
            )
        return self.as_sql(compiler, connection, **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(%(distinct)s(%(expressions)s)::text, ' ' ORDER BY (%(expressions)s)::text)",
            **extra_context,
        )

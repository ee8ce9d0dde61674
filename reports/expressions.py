"""A string aggregate both databases understand (Django 5.2 has one only for
PostgreSQL): the tracking numbers or carriers of an order's shipments in one cell."""

from django.db.models import Aggregate, CharField


class JoinedText(Aggregate):
    """Values joined by single spaces. On PostgreSQL sorted by `ordering` (an
    expression over the same rows; default the values themselves); SQLite keeps
    the order of the rows."""

    function = "GROUP_CONCAT"
    allow_distinct = True
    output_field = CharField()

    def __init__(self, expression, ordering=None, **extra):
        expressions = [expression] if ordering is None else [expression, ordering]
        super().__init__(*expressions, **extra)

    def _compiled(self, compiler, index):
        return compiler.compile(self.source_expressions[index])

    def as_sql(self, compiler, connection, **extra_context):
        value, params = self._compiled(compiler, 0)
        if self.distinct:
            # SQLite takes no separator with DISTINCT; its own is a comma.
            return f"REPLACE(GROUP_CONCAT(DISTINCT {value}), ',', ' ')", params
        return f"GROUP_CONCAT({value}, ' ')", params

    def as_postgresql(self, compiler, connection, **extra_context):
        value, params = self._compiled(compiler, 0)
        order, order_params = self._compiled(compiler, -1)
        distinct = "DISTINCT " if self.distinct else ""
        return f"STRING_AGG({distinct}({value})::text, ' ' ORDER BY ({order})::text)", (*params, *order_params)

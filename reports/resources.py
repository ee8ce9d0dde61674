"""The column definitions every export shares: a django-import-export Resource per
kind (in the app that owns the model), with the personal-data columns marked.

Each column is a Resource field whose `attribute` is an ORM path or an annotation of
the Resource's queryset, and whose widget says what the cells are (text, number,
date). `reports.exporting` reads rows with one `values_list()` over those paths and
writes them as CSV, XLSX or JSON; the PostgreSQL COPY path renders the same columns
in SQL. The library's own `Resource.export()` gives the same values.
"""

from import_export import fields, resources, widgets

TEXT, INTEGER, DECIMAL, DATETIME, DATE, BOOLEAN = "text", "integer", "decimal", "datetime", "date", "boolean"

_WIDGET_TYPES = [
    (widgets.DateTimeWidget, DATETIME),
    (widgets.DateWidget, DATE),
    (widgets.DecimalWidget, DECIMAL),
    (widgets.IntegerWidget, INTEGER),
    (widgets.BooleanWidget, BOOLEAN),
]


class Column:
    __slots__ = ("name", "path", "type")

    def __init__(self, name, path, type_):
        self.name, self.path, self.type = name, path, type_

    def __repr__(self):
        return f"Column({self.name!r}, {self.path!r}, {self.type!r})"


class CopyJoin:
    """For the PostgreSQL COPY path of a large export: one pre-aggregated table
    joined on the exported row's primary key, instead of a subquery per row.

    `sql` selects `row_pk` and the aggregates, one row per exported row (GROUP BY),
    with `{where}` where a condition on `key` (the column holding the exported
    row's key) goes, so a slice of keys can be read; `columns` maps Resource
    attributes to SQL over the join's alias, written `{join}`.
    """

    def __init__(self, sql, columns, key):
        self.sql, self.columns, self.key = sql, columns, key


class ReportResource(resources.ModelResource):
    """A Resource that can leave out personal data.

    `personal_fields`: the contact and address columns (e-mail, phone, ship-to name
    and address), exported only for users with `orders.export_personal_data`.
    """

    personal_fields = ()

    def __init__(self, include_personal=True, **kwargs):
        super().__init__(**kwargs)
        self.include_personal = include_personal

    def get_export_fields(self, selected_fields=None):
        export_fields = super().get_export_fields(selected_fields)
        if self.include_personal:
            return export_fields
        return [field for field in export_fields if self.get_field_name(field) not in self.personal_fields]

    def copy_joins(self):
        """CopyJoins for the columns that are per-row subqueries (none by default)."""
        return []

    def columns(self):
        """The exported columns, in order."""
        found = []
        for field in self.get_export_fields():
            column_type = next((t for widget, t in _WIDGET_TYPES if isinstance(field.widget, widget)), TEXT)
            found.append(Column(field.column_name, field.attribute, column_type))
        return found


# Column builders for the Resources of every app: `attribute` is the ORM path or
# annotation, `column` the header (default: the attribute).


def _column(attribute, column, widget):
    return fields.Field(attribute=attribute, column_name=column or attribute, widget=widget)


def text_column(attribute, column=None):
    return _column(attribute, column, widgets.CharWidget())


def integer_column(attribute, column=None):
    return _column(attribute, column, widgets.IntegerWidget())


def decimal_column(attribute, column=None):
    return _column(attribute, column, widgets.DecimalWidget())


def datetime_column(attribute, column=None):
    return _column(attribute, column, widgets.DateTimeWidget())


def boolean_column(attribute, column=None):
    return _column(attribute, column, widgets.BooleanWidget())

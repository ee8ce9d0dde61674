"""The kinds of data that can be exported and imported, registered by the apps
that own them (see ReportsConfig). Looked up by the name used on the command line:
`orders`, `order-lines`, `shipments`, `stock`, `movements`, `products`, `warehouses`."""

from dataclasses import dataclass, field
from typing import Any, Callable

_EXPORTS = {}
_IMPORTS = {}


@dataclass(frozen=True)
class ExportKind:
    """One export: which rows (a queryset, narrowed by a FilterSet and a search
    box), and which columns (a django-import-export Resource)."""

    name: str
    label: Any
    resource: type
    filterset: type | None = None
    # (queryset, term) -> queryset: the admin list's search box, shared with the export.
    search: Callable | None = None
    # Turns a validated FilterSet into rows of this kind, when the FilterSet is over
    # another model (order lines are chosen by the orders they belong to).
    rows_from: Callable | None = None
    # Kinds whose rows are chosen by the same FilterSet (the order list offers
    # "one row per order" and "one row per order line").
    siblings: tuple = field(default_factory=tuple)
    # The FilterSet field that `export_csv --status` sets (None: the kind has none).
    status_filter: str | None = "status"

    def resource_for(self, *, include_personal):
        return self.resource(include_personal=include_personal)


def register_export(kind):
    _EXPORTS[kind.name] = kind
    return kind


def register_import(name, importer):
    _IMPORTS[name] = importer
    return importer


def export_kind(name):
    try:
        return _EXPORTS[name]
    except KeyError:
        raise LookupError(name) from None


def export_kinds():
    return dict(_EXPORTS)


def importer(name):
    try:
        return _IMPORTS[name]
    except KeyError:
        raise LookupError(name) from None


def import_kinds():
    return dict(_IMPORTS)

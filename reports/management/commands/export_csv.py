"""export_csv KIND [--status S] [--since DATE] [--until DATE] [--output PATH]

Streams a report as CSV (UTF-8, header row) to a file or standard output; memory
stays flat at any size. On PostgreSQL the rows come from COPY … TO STDOUT (the
fast path); elsewhere, or with --plain, from a server-side cursor. Both write the
same cells, neutralised for spreadsheets.
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from reports.exporting import Selection, copy_csv, export_queryset, write_csv, value_rows
from reports.filters import ReportFilterError
from reports.registry import export_kind

KINDS = ["orders", "order-lines", "shipments", "stock", "movements"]


class Command(BaseCommand):
    help = "Export orders, order lines, shipments, stock levels or stock movements as CSV."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS + ["products", "warehouses"], help="what to export")
        parser.add_argument("--status", help="order or shipment status (for movements: the kind of movement)")
        parser.add_argument("--since", help="first day included, YYYY-MM-DD (orders: placed; others: created)")
        parser.add_argument("--until", help="last day included, YYYY-MM-DD")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument(
            "--no-personal-data",
            action="store_true",
            help="leave out e-mail, phone and address columns",
        )
        parser.add_argument("--plain", action="store_true", help="skip the PostgreSQL COPY fast path")

    def handle(self, *args, kind, status, since, until, output, no_personal_data, plain, **options):
        report = export_kind(kind)
        fields = report.filterset.base_filters if report.filterset else {}
        data = {}
        options_to_fields = {"--status": (status, report.status_filter), "--since": (since, "since"), "--until": (until, "until")}
        for option, (value, field_name) in options_to_fields.items():
            if value is None:
                continue
            if not field_name or field_name not in fields:
                raise CommandError(f"{option} does not apply to {kind}.")
            data[field_name] = value
        resource = report.resource_for(include_personal=not no_personal_data)
        columns = resource.columns()
        try:
            queryset = export_queryset(report, resource, Selection(data))
        except ReportFilterError as error:
            field_options = {field: option for option, (_value, field) in options_to_fields.items()}
            raise CommandError(
                "; ".join(
                    f"{field_options.get(name, name)}: {' '.join(messages)}" for name, messages in error.errors.items()
                )
            ) from None
        out = open(output, "wb") if output else sys.stdout.buffer
        try:
            if connection.vendor == "postgresql" and not plain:
                count = copy_csv(out, columns, queryset, joins=resource.copy_joins())
            else:
                count = write_csv(out, columns, value_rows(columns, queryset))
        finally:
            if output:
                out.close()
            else:
                out.flush()
        if output:
            self.stderr.write(f"{count} rows written to {output}")

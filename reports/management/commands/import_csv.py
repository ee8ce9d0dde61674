"""`import_csv KIND PATH [--dry-run]`: import a CSV (or XLSX) file, all or nothing.

Thin: reports.imports.run_import checks and writes, as the system (actor=None).
Prints what was (or, with --dry-run, would be) created and skipped, what else the
importer reports (the delivery report: unknown tracking numbers, orders that could
not advance, with counts), and every bad row as `row N, column C: reason`; with any
bad row nothing is written and the command fails, so a script calling it stops
there. Listed rows (an unknown tracking number) are not bad rows: the command
succeeds.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from reports.imports import ImportFileError, run_import
from reports.registry import import_kinds


class Command(BaseCommand):
    help = "Import warehouses, products, stock counts, orders or a carrier's delivery report from a CSV or XLSX file, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("kind", help="What the file holds: " + ", ".join(sorted(import_kinds())))
        parser.add_argument("path", help="The .csv (UTF-8) or .xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="Check every row and report; write nothing.")

    def handle(self, *args, kind, path, dry_run, **options):
        kinds = import_kinds()
        if kind not in kinds:
            raise CommandError(
                _("Unknown kind “%(kind)s”; choose one of: %(kinds)s.") % {"kind": kind, "kinds": ", ".join(sorted(kinds))}
            )
        file_path = Path(path)
        if not file_path.is_file():
            raise CommandError(_("There is no file at %(path)s.") % {"path": path})
        with file_path.open("rb") as file:
            try:
                report = run_import(kind, file, actor=None, dry_run=dry_run)
            except ImportFileError as refusal:
                raise CommandError(_("Nothing was imported: %(reason)s") % {"reason": refusal}) from None

        verbose_name = kinds[kind].verbose_name
        for error in report.sorted_errors():
            self.stderr.write(str(error))
        if report.errors:
            raise CommandError(
                ngettext(
                    "Nothing was imported: %(count)s error in the file (listed above).",
                    "Nothing was imported: %(count)s errors in the file (listed above).",
                    len(report.errors),
                )
                % {"count": len(report.errors)}
            )
        if report.refusal:
            raise CommandError(_("Nothing was imported: %(reason)s") % {"reason": report.refusal})

        if options["verbosity"] >= 1:
            action = _("would import") if dry_run else _("imported")
            for label in report.created:
                self.stdout.write(f"{action}: {label}")
            for skipped in report.skipped:
                self.stdout.write(_("skipped %(skipped)s") % {"skipped": skipped})
            # What the importer has to say beyond those (the delivery report's unknown
            # tracking numbers, orders that could not advance), one heading each.
            for section in report.sections:
                self.stdout.write(f"{section.title}:")
                for line in section.lines:
                    self.stdout.write(f"  {line}")
        for line in report.summary:
            self.stdout.write(line)
        summary = {"created": len(report.created), "skipped": len(report.skipped), "kind": verbose_name}
        if dry_run:
            self.stdout.write(_("Dry run, nothing written: %(created)s %(kind)s would be imported, %(skipped)s skipped.") % summary)
        else:
            self.stdout.write(self.style.SUCCESS(_("Imported %(kind)s: %(created)s imported, %(skipped)s skipped.") % summary))

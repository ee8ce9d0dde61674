"""purge_exports: remove the files of exports kept longer than EXPORT_KEEP_DAYS (for cron)."""

from django.core.management.base import BaseCommand

from reports.services import export_jobs_purge


class Command(BaseCommand):
    help = "Delete the files of expired exports."

    def handle(self, *args, **options):
        self.stdout.write(f"{export_jobs_purge()} expired export(s) removed.")

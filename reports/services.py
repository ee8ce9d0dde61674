"""Every write of an export: starting one, running it (the task), and removing the
files of expired ones. The permission is checked here as well as in the admin.

The permissions are the orders app's (`orders.export_reports`,
`orders.export_personal_data`; DESIGN section 5): named here as strings, so this
app stays below the others.
"""

import logging
import tempfile
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.cleaning import shortened

from .exporting import FORMATS, Selection, copy_csv, export_queryset, write_export
from .models import ExportJob
from .registry import export_kind

EXPORT_PERMISSION = "orders.export_reports"
PERSONAL_DATA_PERMISSION = "orders.export_personal_data"
DOWNLOAD_ANY_PERMISSION = "reports.download_any_export"

logger = logging.getLogger(__name__)


def require_export_permission(actor):
    if actor is not None and not (actor.is_active and actor.has_perm(EXPORT_PERMISSION)):
        raise PermissionDenied(_("You do not have permission to export reports."))


def may_export_personal_data(actor):
    return actor is None or (actor.is_active and actor.has_perm(PERSONAL_DATA_PERMISSION))


def export_resource(kind, actor):
    """The kind's Resource for this user: without the contact and address columns
    unless the user may export personal data."""
    return kind.resource_for(include_personal=may_export_personal_data(actor))


def may_download(job, actor):
    """Its owner (while they may still export) and managers may fetch an export."""
    if not actor.is_active:
        return False
    if actor.has_perm(DOWNLOAD_ANY_PERMISSION):
        return True
    return job.owner_id == actor.pk and actor.has_perm(EXPORT_PERMISSION)


@transaction.atomic
def export_job_start(*, kind, file_format, selection, rows_total, actor):
    """Queue a large export; the task runs after commit."""
    require_export_permission(actor)
    export_kind(kind)  # LookupError for an unknown kind
    if file_format not in FORMATS:
        raise ValueError(file_format)
    export_jobs_purge()
    job = ExportJob.objects.create(
        owner=actor,
        kind=kind,
        file_format=file_format,
        params=selection.as_json(),
        # The list's label of the job; the search itself is in params, whole.
        search=shortened(selection.search, ExportJob._meta.get_field("search").max_length),
        include_personal=may_export_personal_data(actor),
        rows_total=rows_total,
    )
    from .tasks import run_export

    transaction.on_commit(lambda: run_export.enqueue(job_id=str(job.pk)))
    return job


def export_job_run(*, job_id):
    """Write the export's file through the storage API, counting rows as it goes."""
    job = ExportJob.objects.select_related("owner").get(pk=job_id)
    if job.status != ExportJob.Status.QUEUED:
        return job  # run twice by a retrying worker: the first run did it
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING)
    try:
        kind = export_kind(job.kind)
        resource = kind.resource_for(include_personal=job.include_personal)
        queryset = export_queryset(kind, resource, Selection.from_json(job.params))

        def progress(rows):
            ExportJob.objects.filter(pk=job.pk).update(rows_done=rows)

        with tempfile.TemporaryFile() as out:
            if job.file_format == "csv" and connection.vendor == "postgresql":
                rows = copy_csv(out, resource.columns(), queryset, joins=resource.copy_joins(), progress=progress, bom=True)
            else:
                rows = write_export(
                    out, job.file_format, resource.columns(), queryset, progress=progress, bom=True, title=job.kind
                )
            out.seek(0)
            name = default_storage.save(f"exports/{job.kind}-{job.pk}.{FORMATS[job.file_format][1]}", File(out))
    except Exception as error:  # the page shows the failure instead of spinning forever
        logger.exception("export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        file=name,
        rows_done=rows,
        rows_total=rows,
        finished_at=now,
        expires_at=now + timedelta(days=settings.EXPORT_KEEP_DAYS),
    )
    job.refresh_from_db()
    return job


def export_jobs_purge(now=None):
    """Delete the files of exports past their keeping time; returns how many."""
    now = now or timezone.now()
    expired = list(ExportJob.objects.filter(status=ExportJob.Status.DONE, expires_at__lte=now))
    for job in expired:
        if job.file:
            job.file.delete(save=False)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.EXPIRED, file="")
    return len(expired)

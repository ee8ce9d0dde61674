"""Background work of the reports app (django-tasks)."""

from django_tasks import task

from . import services


@task()
def run_export(*, job_id):
    services.export_job_run(job_id=job_id)

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportJob(models.Model):
    """A large export running in the background: who asked, for what, how far it
    has got, and the file when it is done (kept EXPORT_KEEP_DAYS days)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"
        JSON = "json", "JSON"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs", verbose_name=_("owner")
    )
    kind = models.CharField(_("kind"), max_length=32)
    file_format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    params = models.JSONField(_("filters"), default=dict, blank=True)
    search = models.CharField(_("search"), max_length=200, blank=True)
    include_personal = models.BooleanField(_("with personal data"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    file = models.FileField(_("file"), upload_to="exports/", blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("kept until"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        indexes = [models.Index(fields=["owner", "created_at"], name="exportjob_owner_created")]
        permissions = [("download_any_export", _("Can download exports made by others"))]

    def __str__(self):
        return f"{self.kind} ({self.get_file_format_display()}, {self.created_at:%Y-%m-%d %H:%M})"

    @property
    def percent(self):
        if not self.rows_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, int(self.rows_done * 100 / self.rows_total))

    @property
    def is_finished(self):
        return self.status in {self.Status.DONE, self.Status.FAILED, self.Status.EXPIRED}

    @property
    def is_expired(self):
        return self.status == self.Status.EXPIRED or (
            self.expires_at is not None and self.expires_at <= timezone.now()
        )

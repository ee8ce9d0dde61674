"""Import pages in the admin: upload, preview, confirm.

`ImportAdminMixin` (list it before ModelAdmin, set `import_kind`) adds
`admin:<app>_<model>_import` (the upload form) and `admin:<app>_<model>_import_confirm`
(POST only). The upload is first checked as a dry run and shown as a preview: what
would be created, what skipped and why, and every refused row. Only a clean file
offers "Confirm import": the upload is kept in default storage under `imports/` and
the confirming POST carries a signed token naming it, bound to the uploader and the
kind and valid for an hour; the file is imported for real, then deleted. Thin: the
checking and writing are reports.imports.run_import's, which checks the permission
again.
"""

import os
import uuid
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from .. import registry
from ..imports import EXTENSIONS, ImportFileError, may_import, run_import

UPLOAD_DIRECTORY = "imports"
TOKEN_SALT = "reports.admin.imports.upload"


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("A .csv file (UTF-8) or an .xlsx workbook (its first sheet) with the columns above."),
    )
    preview_only = forms.BooleanField(
        label=gettext_lazy("Preview only"),
        required=False,
        initial=True,
        help_text=gettext_lazy(
            "Check every row and show what would be imported; nothing is written until you confirm. "
            "Untick to import at once when the file has no errors."
        ),
    )


class ImportAdminMixin:
    """Upload, preview and confirm an import of `import_kind` (a kind registered in
    reports.registry) from the model's list. Needs orders.import_data and the
    importer's own permission (has_import_permission)."""

    import_kind = None
    import_form_template = "admin/reports/import_form.html"
    import_preview_template = "admin/reports/import_preview.html"
    # Rows listed under "would be imported" on the preview; the rest are counted.
    import_preview_limit = 200
    import_upload_max_age = timedelta(hours=1)
    # The list's button ("Import" when None).
    import_button_label = None

    def get_import_kind(self, request):
        return self.import_kind

    def get_importer(self, request):
        return registry.importer(self.get_import_kind(request))

    def has_import_permission(self, request):
        return may_import(request.user, self.get_importer(request))

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="%s_%s_import" % info),
            path("import/confirm/", wrap(self.import_confirm_view), name="%s_%s_import_confirm" % info),
        ] + super().get_urls()

    def _import_url(self, action=""):
        info = self.admin_site.name, self.opts.app_label, self.opts.model_name
        return reverse("%s:%s_%s_import" % info + (f"_{action}" if action else ""))

    def changelist_view(self, request, extra_context=None):
        if self.has_import_permission(request):
            extra_context = {
                **(extra_context or {}),
                "report_import_url": self._import_url(),
                "report_import_label": self.import_button_label,
            }
        return super().changelist_view(request, extra_context)

    # --- views ---------------------------------------------------------------------

    @method_decorator(require_http_methods(["GET", "POST"]))
    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ImportUploadForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                preview_only = form.cleaned_data["preview_only"]
                try:
                    report = run_import(
                        self.get_import_kind(request), upload, actor=request.user, dry_run=preview_only
                    )
                except ImportFileError as refusal:
                    form.add_error("file", str(refusal))
                else:
                    if not preview_only:
                        return self._import_finished(request, report)
                    token = self._keep_upload(request, upload) if report.ok and report.changes_anything else None
                    return self._preview_page(request, report, token=token)
            messages.error(request, _("Nothing was imported: correct the errors below."))
        else:
            form = ImportUploadForm()
        return self._form_page(request, form)

    @method_decorator(require_POST)
    def import_confirm_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        name = self._kept_upload(request, request.POST.get("token", ""))
        if name is None:
            messages.error(request, _("This upload was imported already or has expired: upload the file again."))
            return HttpResponseRedirect(self._import_url())
        try:
            with default_storage.open(name, "rb") as file:
                report = run_import(self.get_import_kind(request), file, actor=request.user, dry_run=False)
        except ImportFileError as refusal:
            messages.error(request, _("Nothing was imported: %(reason)s") % {"reason": refusal})
            return HttpResponseRedirect(self._import_url())
        finally:
            default_storage.delete(name)
        return self._import_finished(request, report)

    # --- pages ---------------------------------------------------------------------

    def _page_context(self, request, **context):
        importer = self.get_importer(request)
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import %(kind)s") % {"kind": importer.verbose_name},
            "importer": importer,
            "columns": ",".join(importer.columns),
            "optional_columns": ",".join(importer.optional_columns),
            "import_url": self._import_url(),
            **context,
        }

    def _form_page(self, request, form):
        context = self._page_context(
            request,
            form=form,
            max_size=filesizeformat(settings.IMPORT_MAX_BYTES),
            extensions=", ".join(EXTENSIONS),
            media=self.media + form.media,
        )
        return TemplateResponse(request, self.import_form_template, context)

    def _preview_page(self, request, report, *, token=None):
        limit = self.import_preview_limit
        context = self._page_context(
            request,
            report=report,
            created=report.created[:limit],
            created_more=max(0, len(report.created) - limit),
            errors=report.sorted_errors(),
            token=token,
            confirm_url=self._import_url("confirm"),
        )
        return TemplateResponse(request, self.import_preview_template, context)

    def _import_finished(self, request, report):
        if not report.written:
            messages.error(request, _("Nothing was imported."))
            return self._preview_page(request, report)
        importer = self.get_importer(request)
        self.message_user(
            request,
            _("Imported %(kind)s: %(created)s imported, %(skipped)s skipped.")
            % {"kind": importer.verbose_name, "created": len(report.created), "skipped": len(report.skipped)},
            messages.SUCCESS,
        )
        if importer.result_page:
            # What it did, with what it listed (the preview page, saying "imported").
            return self._preview_page(request, report)
        info = self.admin_site.name, self.opts.app_label, self.opts.model_name
        return HttpResponseRedirect(reverse("%s:%s_%s_changelist" % info))

    # --- the kept upload -------------------------------------------------------------

    def _keep_upload(self, request, upload):
        """Store the previewed file until it is confirmed; return the token naming it."""
        self._forget_stale_uploads()
        extension = os.path.splitext(upload.name)[1].lower()
        upload.seek(0)
        name = default_storage.save(f"{UPLOAD_DIRECTORY}/{uuid.uuid4().hex}{extension}", upload)
        return signing.dumps(
            {"name": name, "user": request.user.pk, "kind": self.get_import_kind(request)}, salt=TOKEN_SALT
        )

    def _kept_upload(self, request, token):
        """The stored name of the upload `token` names, or None when it is unknown,
        expired or used. Someone else's upload is refused (403)."""
        try:
            kept = signing.loads(token, salt=TOKEN_SALT, max_age=self.import_upload_max_age)
        except signing.BadSignature:
            return None
        if kept.get("user") != request.user.pk or kept.get("kind") != self.get_import_kind(request):
            raise PermissionDenied
        name = kept.get("name", "")
        if not name.startswith(f"{UPLOAD_DIRECTORY}/") or not default_storage.exists(name):
            return None
        return name

    def _forget_stale_uploads(self):
        """Delete previews nobody confirmed (their tokens have expired)."""
        try:
            _directories, files = default_storage.listdir(UPLOAD_DIRECTORY)
        except (FileNotFoundError, NotImplementedError):
            return
        oldest = timezone.now() - self.import_upload_max_age
        for file_name in files:
            name = f"{UPLOAD_DIRECTORY}/{file_name}"
            try:
                if default_storage.get_modified_time(name) < oldest:
                    default_storage.delete(name)
            except (FileNotFoundError, NotImplementedError):
                continue

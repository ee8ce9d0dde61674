"""Admin: the export page of each list (ExportAdminMixin) and the exports a user
started (progress, download)."""

import tempfile
from datetime import date

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.cleaning import parse_id, parse_whole_number

from .. import services
from ..exporting import FORMATS, Selection, export_queryset, write_export
from ..filters import ReportFilterError
from ..models import ExportJob
from ..registry import export_kind

FORMAT_CHOICES = [("csv", "CSV"), ("xlsx", gettext_lazy("Excel (XLSX)")), ("json", "JSON")]


class ExportForm(forms.Form):
    # Not "kind": the ledger's FilterSet has a field of that name.
    export_kind = forms.ChoiceField(label=gettext_lazy("rows"), widget=forms.RadioSelect)
    file_format = forms.ChoiceField(
        label=gettext_lazy("format"), choices=FORMAT_CHOICES, initial="csv", widget=forms.RadioSelect
    )

    def __init__(self, *args, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["export_kind"].choices = [(kind.name, kind.label) for kind in kinds]
        self.fields["export_kind"].initial = kinds[0].name
        if len(kinds) == 1:
            self.fields["export_kind"].widget = forms.HiddenInput()


def _search_refusal(error):
    return _("The search is too long.") if not str(error) or len(str(error)) > 80 else str(error)


class ExportAdminMixin:
    """An "Export" page for a list, at admin:<app>_<model>_export, and an "Export
    selected" action. The page starts from the list's current filters and search
    (`export_filter_params` maps the list's query parameters to the FilterSet's),
    and refuses filter values that do not parse rather than export everything.
    Exports of up to EXPORT_ASYNC_THRESHOLD rows download at once; larger ones run
    as a task with a progress page."""

    export_kind = None
    export_filter_params = {}
    export_template = "admin/reports/export.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "export_selected" not in (self.actions or ()):
            self.actions = [*(self.actions or ()), "export_selected"]

    def has_export_permission(self, request):
        return request.user.is_active and request.user.has_perm(services.EXPORT_PERMISSION)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="%s_%s_export" % info),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        if self.has_export_permission(request):
            url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_export")
            params = request.GET.urlencode()
            extra_context = {**(extra_context or {}), "report_export_url": f"{url}?{params}" if params else url}
        return super().changelist_view(request, extra_context)

    # --- from the list's parameters to the FilterSet's ------------------------------

    def export_filter_data(self, params):
        """FilterSet data from the list's query parameters: renamed per
        `export_filter_params`, yes/no for the admin's 1/0, dates as YYYY-MM-DD
        (the list's date inputs follow the user's language)."""
        data = {}
        for param, name in self.export_filter_params.items():
            value = params.get(param)
            if value in (None, ""):
                continue
            if value in ("1", "0") and name in ("is_active",):
                value = "yes" if value == "1" else "no"
            if name in ("since", "until"):
                value = self._iso_date(value)
            data[name] = value
        hierarchy = getattr(self, "date_hierarchy", None)
        if hierarchy and parse_whole_number(params.get(f"{hierarchy}__year")) is not None:
            data.update(self._hierarchy_range(params, hierarchy))
        return data

    @staticmethod
    def _iso_date(value):
        try:
            return forms.DateField().clean(value).isoformat()
        except ValidationError:
            return value  # left as typed: the FilterSet names the field

    @staticmethod
    def _hierarchy_range(params, field):
        from reports.filters import month_range

        # ASCII digits only: "²" passes str.isdigit() but not int().
        year = parse_whole_number(params[f"{field}__year"])
        month = parse_whole_number(params.get(f"{field}__month"))
        day = parse_whole_number(params.get(f"{field}__day"))
        try:
            if month is not None and day is not None:
                first = last = date(year, month, day)
            elif month is not None:
                first, last = month_range("this_month", today=date(year, month, 1))
            else:
                first, last = date(year, 1, 1), date(year, 12, 31)
        except (ValueError, OverflowError):  # out of range (month 13, year 0, ...)
            return {}
        return {"since": first.isoformat(), "until": last.isoformat()}

    # --- the page --------------------------------------------------------------------

    def _export_kinds(self):
        kind = export_kind(self.export_kind)
        return [kind, *(export_kind(name) for name in kind.siblings)]

    def export_view(self, request, ids=None, filter_data=None):
        if not self.has_export_permission(request):
            raise PermissionDenied
        kinds = self._export_kinds()
        primary = kinds[0]
        if request.method == "POST" and "_export" in request.POST:
            source = request.POST
            filter_data = {name: source.get(name, "") for name in primary.filterset.base_filters} if primary.filterset else {}
            search = source.get("q", "")
            ids = [str(pk) for pk in map(parse_id, source.getlist("ids")) if pk]
            form = ExportForm(source, kinds=kinds)
        else:
            if filter_data is None:
                filter_data = self.export_filter_data(request.GET)
            search = request.GET.get("q", "")
            form = ExportForm(kinds=kinds)
        filterset = primary.filterset(filter_data, queryset=primary.filterset._meta.model._default_manager.none()) if primary.filterset else None
        filter_errors = filterset is not None and not filterset.is_valid()
        if request.method == "POST" and "_export" in request.POST and form.is_valid() and not filter_errors:
            response = self._export(request, form.cleaned_data, Selection(filter_data, search, ids))
            if response is not None:
                return response
        elif filter_errors:
            messages.error(request, _("Nothing was exported: correct the filters below."))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Export %(things)s") % {"things": self.opts.verbose_name_plural},
            "subtitle": None,
            "form": form,
            "filter_form": filterset.form if filterset is not None else None,
            "search": search,
            "ids": ids or [],
            "personal_data": services.may_export_personal_data(request.user),
            "threshold": settings.EXPORT_ASYNC_THRESHOLD,
            "changelist_url": reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist"),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.export_template, context)

    def _export(self, request, cleaned, selection):
        kind = export_kind(cleaned["export_kind"])
        file_format = cleaned["file_format"]
        resource = services.export_resource(kind, request.user)
        try:
            queryset = export_queryset(kind, resource, selection)
            rows = queryset.count()
        except ReportFilterError as error:
            messages.error(request, _("Nothing was exported: %(error)s") % {"error": error})
            return None
        except ValueError as error:  # a search the list refuses (too long)
            messages.error(request, _("Nothing was exported: %(error)s") % {"error": _search_refusal(error)})
            return None
        if rows > settings.EXPORT_ASYNC_THRESHOLD:
            job = services.export_job_start(
                kind=kind.name, file_format=file_format, selection=selection, rows_total=rows, actor=request.user
            )
            messages.info(
                request,
                _("%(rows)s rows is a large export: it is being prepared, and this page shows how far it has got.")
                % {"rows": f"{rows:,}"},
            )
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:reports_exportjob_progress", args=[job.pk]))
        out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        write_export(out, file_format, resource.columns(), queryset, bom=True, title=kind.name)
        out.seek(0)
        content_type, extension = FORMATS[file_format]
        filename = f"{kind.name}-{timezone.localdate():%Y-%m-%d}.{extension}"
        return FileResponse(out, as_attachment=True, filename=filename, content_type=content_type)

    @admin.action(permissions=["export"], description=gettext_lazy("Export selected %(verbose_name_plural)s"))
    def export_selected(self, request, queryset):
        """The export page for the ticked rows (or, with "select all", the list's filters)."""
        if request.POST.get("select_across") == "1":
            return self.export_view(request, filter_data=self.export_filter_data(request.GET))
        ids = [str(pk) for pk in map(parse_id, request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)) if pk]
        return self.export_view(request, ids=ids, filter_data={})


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Exports that ran in the background: each user sees their own, managers all."""

    list_display = ["created_at", "kind", "file_format", "owner", "status", "progress", "expires_at", "download"]
    list_filter = ["status", "kind"]
    list_select_related = ["owner"]
    fields = ["kind", "file_format", "owner", "status", "rows_done", "rows_total", "created_at", "finished_at", "expires_at", "error"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        user = request.user
        return user.is_active and (user.has_perm(services.EXPORT_PERMISSION) or user.has_perm(services.DOWNLOAD_ANY_PERMISSION))

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.has_perm(services.DOWNLOAD_ANY_PERMISSION):
            return queryset
        return queryset.filter(owner=request.user)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:job_id>/progress/", wrap(self.progress_view), name="reports_exportjob_progress"),
            path("<uuid:job_id>/download/", wrap(self.download_view), name="reports_exportjob_download"),
        ] + super().get_urls()

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, job):
        return format_html(
            '<a href="{}">{} / {}</a>',
            reverse(f"{self.admin_site.name}:reports_exportjob_progress", args=[job.pk]),
            f"{job.rows_done:,}",
            f"{job.rows_total:,}",
        )

    @admin.display(description=gettext_lazy("file"))
    def download(self, job):
        if job.status != ExportJob.Status.DONE or job.is_expired:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse(f"{self.admin_site.name}:reports_exportjob_download", args=[job.pk]), _("Download")
        )

    def _job_for(self, request, job_id):
        job = get_object_or_404(ExportJob.objects.select_related("owner"), pk=job_id)
        if not services.may_download(job, request.user):
            raise PermissionDenied
        return job

    def progress_view(self, request, job_id):
        job = self._job_for(request, job_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Export of %(kind)s") % {"kind": export_kind(job.kind).label},
            "subtitle": None,
            "job": job,
            "expired": job.is_expired,
            "download_url": reverse(f"{self.admin_site.name}:reports_exportjob_download", args=[job.pk]),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/reports/export_progress.html", context)

    def download_view(self, request, job_id):
        job = self._job_for(request, job_id)
        if job.status != ExportJob.Status.DONE or not job.file:
            raise Http404(_("This export has no file yet."))
        if job.is_expired:
            messages.warning(
                request,
                _("This export was kept for %(days)s days and has been removed; export again.")
                % {"days": settings.EXPORT_KEEP_DAYS},
            )
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:reports_exportjob_progress", args=[job.pk]))
        content_type, extension = FORMATS[job.file_format]
        filename = f"{job.kind}-{timezone.localtime(job.created_at):%Y-%m-%d}.{extension}"
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=filename, content_type=content_type)

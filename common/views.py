"""The 403 and 404 pages (fulfilment_site.urls handler403 / handler404). The whole
site is the admin, so they are admin pages: its header, the user's links and the
language switch, breadcrumbs, and a way back to the start page or the page the user
came from, in the user's language. Django's own are a bare "403 Forbidden"."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _


def _explanation(exception):
    """The message a view gave its PermissionDenied or Http404 ("You do not have
    permission to see the managers' dashboard."), as Django's own handlers read it:
    only a plain string (a URL that matched nothing carries a dict)."""
    message = exception.args[0] if exception is not None and exception.args else ""
    return message if isinstance(message, str) else ""


def _error_page(request, exception, *, status, title, text):
    referer = request.META.get("HTTP_REFERER", "")
    safe_referer = referer if url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) and referer != request.build_absolute_uri() else ""
    context = {
        **(admin.site.each_context(request) if hasattr(request, "user") else {}),
        "title": title,
        "subtitle": None,
        "text": text,
        "explanation": _explanation(exception),
        "previous_url": safe_referer,
    }
    return TemplateResponse(request, "admin/http_error.html", context, status=status)


def permission_denied(request, exception=None):
    return _error_page(
        request,
        exception,
        status=403,
        title=_("No access to this page"),
        text=_("Your role does not include this page. Ask a manager if you need it for your work."),
    ).render()


def page_not_found(request, exception=None):
    return _error_page(
        request,
        exception,
        status=404,
        title=_("Page not found"),
        text=_("We’re sorry, but the requested page could not be found."),
    ).render()

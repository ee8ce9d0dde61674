"""The 403 and 404 pages (fulfilment_site.urls handler403 / handler404). The whole
site is the admin, so they are admin pages: its header, the user's links and the
language switch, breadcrumbs, and a way back to the start page or the page the user
came from, in the user's language. Django's own are a bare "403 Forbidden"."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy


def _explanation(exception):
    """The message a view gave its PermissionDenied or Http404 ("You do not have
    permission to see the managers' dashboard."), as Django's own handlers read it:
    only a plain string (a URL that matched nothing carries a dict)."""
    message = exception.args[0] if exception is not None and exception.args else ""
    return message if isinstance(message, str) else ""


# status: (title, what it means for the reader)
PAGES = {
    403: (
        gettext_lazy("No access to this page"),
        gettext_lazy("Your role does not include this page. Ask a manager if you need it for your work."),
    ),
    404: (gettext_lazy("Page not found"), gettext_lazy("We’re sorry, but the requested page could not be found.")),
}


def _error_page(request, exception, status):
    referer = request.META.get("HTTP_REFERER", "")
    came_from_here = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    title, text = PAGES[status]
    context = {
        **(admin.site.each_context(request) if hasattr(request, "user") else {}),
        "title": title,
        "subtitle": None,
        "text": text,
        "explanation": _explanation(exception),
        "previous_url": referer if came_from_here and referer != request.build_absolute_uri() else "",
    }
    return TemplateResponse(request, "admin/http_error.html", context, status=status).render()


def permission_denied(request, exception=None):
    return _error_page(request, exception, 403)


def page_not_found(request, exception=None):
    return _error_page(request, exception, 404)

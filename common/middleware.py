"""Input that no page can use, answered once for the whole site before a view sees it.

A NUL character ("\\x00") cannot be stored or searched for (common/cleaning.py):
PostgreSQL refuses every query that carries one, and the person would see an error
page. Browsers do not type it, but pasted text, scanners and hand-made links can
carry it anywhere: a note, a reason, a search box, a tracking number, an admin form.
So, in every request:

- in the address's path: there is no such page (404);
- in the query string of a GET (or HEAD), a search box or a link: the same page
  again with the NUL characters taken out, and a warning saying so;
- anywhere in any other request (a form's POST: a field, a field's name, an
  uploaded file's name, its address's query string): nothing is changed; back to
  the page the form was on (its Referer, else the same address) with an error
  message, or, for a caller that asked for JSON only, a JSON error with status 400.

And one id that every admin list posts: the rows ticked for an action
(`_selected_action`). Django's admin filters with them as they come, so a value
that is no id of the list's model ("²") failed the query on every list; such a
selection is refused in the same way.

It runs in process_view, after CsrfViewMiddleware's check, so a forged POST is still
refused as forged.
"""

from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpResponseRedirect, JsonResponse, QueryDict
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from .cleaning import has_nul, parse_id, without_nul


class HttpResponseSeeOther(HttpResponseRedirect):
    """After a refused POST: the browser asks for the page with a GET."""

    status_code = 303


def _query_has_nul(query):
    return any(has_nul(key) or any(has_nul(value) for value in values) for key, values in query.lists())


def _query_without_nul(query):
    cleaned = QueryDict(mutable=True)
    for key, values in query.lists():
        cleaned.setlist(without_nul(key), [without_nul(value) for value in values])
    return cleaned.urlencode()


def _address_without_nul(request):
    query = _query_without_nul(request.GET)
    return f"{request.path}?{query}" if query else request.path


def _posted_nul(request):
    if _query_has_nul(request.GET) or _query_has_nul(request.POST):
        return True
    return any(has_nul(key) or has_nul(upload.name or "") for key, upload in request.FILES.items())


def _is_id(pk_field, value):
    if isinstance(pk_field, models.IntegerField):  # AutoField and BigAutoField too
        return parse_id(value) is not None  # ASCII digits, within a bigint
    try:
        pk_field.to_python(value)
    except ValidationError:
        return False
    return True


def _unreadable_selection(request, view_func):
    """Whether an admin list's action was posted with a ticked row that is no id of
    the list's model. ModelAdmin.get_urls marks its views with `model_admin`."""
    model_admin = getattr(view_func, "model_admin", None)
    if model_admin is None or "action" not in request.POST:
        return False
    pk_field = model_admin.model._meta.pk
    return not all(_is_id(pk_field, value) for value in request.POST.getlist(ACTION_CHECKBOX_NAME))


def _wants_json(request):
    """A script (fetch) that asked for JSON and not for a page."""
    return request.accepts("application/json") and not request.accepts("text/html")


def _back(request):
    """The page the refused form was on, if it is on this site; else the same address."""
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return _address_without_nul(request)


class OddInputMiddleware:
    """See the module docstring. Listed after MessageMiddleware (it leaves messages)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if has_nul(request.path):
            raise Http404(_("There is no page at this address."))
        if request.method in ("GET", "HEAD"):
            if not _query_has_nul(request.GET):
                return None
            messages.warning(
                request,
                _("The search or link contained an invisible NUL character, which cannot be searched for; it was taken out."),
            )
            return HttpResponseRedirect(_address_without_nul(request))
        if _posted_nul(request):
            refusal = _(
                "What you sent contained an invisible NUL character, which cannot be stored. "
                "Nothing was changed: type the text again and send it once more."
            )
        elif _unreadable_selection(request, view_func):
            refusal = _("The rows selected on the list were not understood. Nothing was changed: select them again.")
        else:
            return None
        if _wants_json(request):
            return JsonResponse({"error": refusal}, status=400)
        messages.error(request, refusal)
        return HttpResponseSeeOther(_back(request))

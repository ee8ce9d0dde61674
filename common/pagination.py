"""Admin lists over tables of millions of rows: a count that never reads the whole
table, and pages that never OFFSET through it.

    class ShipmentAdmin(CappedListAdminMixin, admin.ModelAdmin): ...

(or, with a ChangeList of one's own, subclass CappedChangeList and return it from
get_changelist). What it does:

- CappedPaginator.count is exact up to `max_pages` × `per_page` rows (10,000 for 200
  pages of 50): COUNT(*) over a LIMITed subquery, `SELECT COUNT(*) FROM (SELECT …
  LIMIT 10001)`, so the database stops after 10,001 rows. Beyond that `capped` is
  True and the list says "10,000+" (CappedChangeList.result_count_text).
- There are at most `max_pages` pages. A page past the end (?p=999999), before the
  first or not a number is answered with the nearest page that exists and a message
  saying why (never Django's redirect to ?e=1, never a 500).
- A page after the first finds its rows' primary keys first (one walk of the
  ordering's index, no joins, no row fetched) and then reads those rows by key, so a
  deep page does not join and fetch every row it skips. A list with
  `search_keys_first` (the order list) does so on every page of a search: its
  matches' keys are sorted from an index rather than found by walking the whole table
  newest first.
- An ?o= naming a column the list cannot be sorted by (not in sortable_by) is left
  out with a message rather than silently.
- The admin's facet counts (?_facets=1: one COUNT per filter choice over the whole
  table) are switched off, and so is the second COUNT of the unfiltered table.

The lists' ORDER BY and filters still need indexes that match them (see each app's
models); this only keeps the paginator from undoing them.
"""

from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin import ShowFacets
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ALL_VAR, ERROR_FLAG, IGNORED_PARAMS, ORDER_VAR, PAGE_VAR, ChangeList
from django.core.paginator import InvalidPage, Paginator
from django.http import HttpResponseRedirect
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .cleaning import parse_id

MAX_PAGES = 200


def action_checkbox_html(pk, label):
    """The admin's action checkbox of one row, for the key `pk`, with `label` (its
    translated text, escaped here) as its accessible name."""
    return mark_safe(
        f'<input type="checkbox" name="{ACTION_CHECKBOX_NAME}" value="{escape(pk)}" class="action-select" '
        f'aria-label="{escape(label)}">'
    )


class CappedPaginator(Paginator):
    """A Paginator whose count stops at max_pages × per_page (then `capped` is True)."""

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, max_pages=MAX_PAGES):
        super().__init__(object_list, per_page, orphans=orphans, allow_empty_first_page=allow_empty_first_page)
        self.max_pages = max_pages
        self.capped = False
        # Keys first on the first page too (a search, whose matches no one index
        # orders: their keys are sorted from an index alone, then 50 rows are read).
        self.keys_first = False

    @property
    def limit(self):
        """The most rows this paginator counts (and shows)."""
        return int(self.per_page) * self.max_pages

    @cached_property
    def count(self):
        rows = self.object_list
        if hasattr(rows, "query"):
            # No ORDER BY: the database counts through whichever index answers the filter.
            found = rows.order_by()[: self.limit + 1].count()
        else:
            found = len(rows)
        self.capped = found > self.limit
        return min(found, self.limit)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if (bottom or self.keys_first) and hasattr(rows, "values_list"):
            # Keys first (the ordering's index, no joins), then those rows by key.
            keys = list(rows.prefetch_related(None).values_list("pk", flat=True)[bottom:top])
            return self._get_page(rows.filter(pk__in=keys), number, self)
        return self._get_page(rows[bottom:top], number, self)


class CappedChangeList(ChangeList):
    """A ChangeList paginated by CappedPaginator, answering a page that does not
    exist with the nearest one and a message."""

    # With a search, find the page's keys first (CappedPaginator.keys_first), one page
    # or many, so that the list runs the same queries however many rows match.
    search_keys_first = False

    def _sortable_column(self, part):
        _none, _prefix, column = part.rpartition("-")
        if not (column.isascii() and column.isdigit()) or int(column) >= len(self.list_display):
            return False
        return bool(self.get_ordering_field(self.list_display[int(column)]))

    def get_ordering(self, request, queryset):
        # An ?o= naming a column the list cannot be sorted by (not in sortable_by,
        # which a big list limits to the orderings an index serves) or no column at
        # all: left out, as Django does, but saying so.
        asked = self.params.get(ORDER_VAR)
        if asked is not None:
            parts = asked.split(".")
            kept = [part for part in parts if self._sortable_column(part)]
            if kept:
                self.params[ORDER_VAR] = ".".join(kept)
                self.filter_params[ORDER_VAR] = [self.params[ORDER_VAR]]
            else:
                self.params.pop(ORDER_VAR, None)
                self.filter_params.pop(ORDER_VAR, None)
            if len(kept) < len(parts):
                messages.warning(request, _("This list cannot be sorted that way: it is shown in its usual order."))
        return super().get_ordering(request, queryset)

    def get_filters(self, request):
        # The same for every call within a request: get_queryset(exclude_parameters=…)
        # (the order list's status chips: its filters but the status) would build the
        # filters again, with their queries (a related field's choices, the carriers).
        if "_filters" not in self.__dict__:
            self._filters = super().get_filters(request)
        return self._filters

    def page_message(self, request, requested, paginator):
        if requested < 1:
            return _("There is no page %(page)s; showing the first page.") % {"page": requested}
        if paginator.capped and requested > paginator.max_pages:
            return ngettext(
                "Only the first %(pages)s page of a list can be shown: filter or search to find the rest.",
                "Only the first %(pages)s pages of a list can be shown: filter or search to find the rest.",
                paginator.max_pages,
            ) % {"pages": paginator.max_pages}
        return _("There is no page %(page)s; showing the last page (%(last)s).") % {
            "page": number_format(requested),
            "last": paginator.num_pages,
        }

    def get_results(self, request):
        # Django's ChangeList.get_results, with the capped count and the page clamped.
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        paginator.keys_first = self.search_keys_first and bool(self.query.strip())
        result_count = paginator.count
        last_page = max(paginator.num_pages, 1)
        if not 1 <= self.page_num <= last_page:
            messages.warning(request, self.page_message(request, self.page_num, paginator))
            self.page_num = min(max(self.page_num, 1), last_page)
        can_show_all = result_count <= self.list_max_show_all
        multi_page = result_count > self.list_per_page
        if self.show_all and can_show_all or not (multi_page or paginator.keys_first):
            result_list = self.queryset._clone()
        else:
            try:
                result_list = paginator.page(self.page_num).object_list
            except InvalidPage as error:  # pragma: no cover (clamped above)
                raise IncorrectLookupParameters from error
        self.result_count = result_count
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.full_result_count = None
        self.result_list = result_list
        self.can_show_all = can_show_all
        self.multi_page = multi_page
        self.paginator = paginator

    @property
    def capped(self):
        return getattr(self.paginator, "capped", False)

    @property
    def result_count_text(self):
        """"1,234" or, past the cap, "10,000+"."""
        text = number_format(self.result_count, force_grouping=True)
        return f"{text}+" if self.capped else text

    @property
    def page_range(self):
        return list(self.paginator.get_elided_page_range(self.page_num)) if self.multi_page else []

    @property
    def show_all_url(self):
        if self.can_show_all and not self.show_all and self.multi_page:
            return self.get_query_string({ALL_VAR: ""})
        return ""

    def get_ordering_field(self, field_name):
        # A column the admin does not offer for sorting (get_sortable_by) is not
        # sorted by when named in ?o= either: it would sort the whole table.
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)


class CappedListAdminMixin:
    """ModelAdmin settings for a list over a large table (list it before ModelAdmin).

    `list_filter_params`: the query parameters the list filters by (None: Django's
    rule, which lets a link filter by any column of the model, indexed or not). Any
    other is taken out of the address with a message saying so, and so is a value
    of one of `list_id_params` ({parameter: what it names}) that is no id."""

    list_max_pages = MAX_PAGES
    list_filter_params = None
    list_id_params = {}
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    paginator = CappedPaginator

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return CappedPaginator(
            queryset, per_page, orphans, allow_empty_first_page, max_pages=self.list_max_pages
        )

    def get_changelist(self, request, **kwargs):
        return CappedChangeList

    def lookup_allowed(self, lookup, value, request=None):
        if self.list_filter_params is not None and lookup not in self.list_filter_params:
            return False
        return super().lookup_allowed(lookup, value, request)

    def refused_list_params(self, request):
        """A redirect to the list without the parameters it cannot use, with a message
        naming them; None when there are none."""
        params = request.GET.copy()
        refusals = []
        if self.list_filter_params is not None:
            known = {*IGNORED_PARAMS, PAGE_VAR, ERROR_FLAG, *self.list_filter_params}
            unknown = [key for key in params if key not in known]
            if unknown:
                refusals.append(
                    _("This list cannot be filtered by %(names)s; it is shown without.")
                    % {"names": ", ".join(f"“{key[:40]}”" for key in unknown[:5])}
                )
                for key in unknown:
                    params.pop(key)
        for key, label in self.list_id_params.items():
            value = params.get(key)
            if value not in (None, "") and parse_id(value) is None:
                refusals.append(
                    _("“%(value)s” is not a %(field)s id; the list is shown without that filter.")
                    % {"value": value[:20], "field": label}
                )
                params.pop(key)
        if not refusals:
            return None
        for refusal in refusals:
            messages.warning(request, refusal)
        return HttpResponseRedirect(f"{request.path}?{params.urlencode()}" if params else request.path)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            refused = self.refused_list_params(request)
            if refused is not None:
                return refused
        return super().changelist_view(request, extra_context)

    def action_checkbox(self, obj):
        # Django's markup, without rendering a form widget through the template engine
        # for every row (a third of a 50-row page's rendering time).
        return action_checkbox_html(obj.pk, _("Select this object for an action - {}").format(obj))


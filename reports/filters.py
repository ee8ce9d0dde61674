"""What every report FilterSet shares: strict dates, presets, and one refusal for
values that do not parse.

django-filter leaves a field that fails validation out of `cleaned_data` and then
filters on the others, so a mistyped date would silently give an unfiltered report.
`filtered()` refuses instead, naming each field, and nothing is run.
"""

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

DATE_FORMAT_HELP = _("YYYY-MM-DD, for example 2026-11-01")


class ReportFilterError(ValueError):
    """The filter values did not parse. `errors`: {field name: [messages]};
    `labels`: {field name: the label the user sees}."""

    def __init__(self, errors, labels=None):
        self.errors = errors
        self.labels = labels or {}
        super().__init__(
            "; ".join(f"{self.labels.get(name, name)}: {' '.join(messages)}" for name, messages in errors.items())
        )


class StrictDateFilter(django_filters.DateFilter):
    """A date typed as YYYY-MM-DD only: 2026/11/01 or 11/01/2026 is an error,
    whatever the user's language, rather than a guess."""

    field_class = forms.DateField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        kwargs.setdefault(
            "error_messages", {"invalid": _("Enter the date as YYYY-MM-DD, for example 2026-11-01.")}
        )
        kwargs.setdefault("help_text", DATE_FORMAT_HELP)
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(*args, **kwargs)


def day_start(day):
    """The first moment of a local calendar day, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))


def month_range(preset, today=None):
    """(first day, last day) of "this_month" or "last_month", in local time."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    if preset == "last_month":
        last = first - timedelta(days=1)
        return last.replace(day=1), last
    next_first = (first + timedelta(days=32)).replace(day=1)
    return first, next_first - timedelta(days=1)


PERIOD_CHOICES = [("this_month", _("This month")), ("last_month", _("Last month"))]


class ReportForm(forms.Form):
    """Checks across fields: a preset and dates together, an end before the start."""

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if data.get("period") and (since or until):
            self.add_error("period", gettext("Choose a period or dates, not both."))
        if since and until and until < since:
            self.add_error("until", gettext("The end date is before the start date."))
        return data


class PeriodFilterSet(django_filters.FilterSet):
    """A date range over `date_field` (since and until are whole local days, until
    included) or a preset month. Subclasses set `date_field`."""

    date_field = None

    class Meta:
        form = ReportForm

    period = django_filters.ChoiceFilter(label=_("period"), choices=PERIOD_CHOICES, method="filter_nothing")
    since = StrictDateFilter(label=_("from"), method="filter_nothing")
    until = StrictDateFilter(label=_("until (included)"), method="filter_nothing")

    def filter_nothing(self, queryset, name, value):
        return queryset  # applied together in filter_queryset()

    def date_range(self):
        """(since, until) as dates, from the preset or the two fields (either may be None)."""
        data = self.form.cleaned_data
        if data.get("period"):
            return month_range(data["period"])
        return data.get("since"), data.get("until")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        since, until = self.date_range()
        if since:
            queryset = queryset.filter(**{f"{self.date_field}__gte": day_start(since)})
        if until:
            queryset = queryset.filter(**{f"{self.date_field}__lt": day_start(until + timedelta(days=1))})
        return queryset


def filtered(filterset):
    """The FilterSet's rows, or ReportFilterError naming every field that did not parse."""
    if filterset.is_bound and not filterset.is_valid():
        form = filterset.form
        errors = {name: [str(message) for message in messages] for name, messages in form.errors.items()}
        labels = {
            name: str(form.fields[name].label) if name in form.fields else gettext("filters") for name in errors
        }
        raise ReportFilterError(errors, labels)
    return filterset.qs

"""Quantities, dates and times as staff read them in a message, a list or a page."""

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

MINUS = "\N{MINUS SIGN}"


def signed_difference(difference):
    """A change with its sign, a real minus sign for a fall: "+3", "−1", and "±0"
    when nothing changed."""
    if difference > 0:
        return f"+{number_format(difference)}"
    if difference < 0:
        return f"{MINUS}{number_format(-difference)}"
    return "±0"


def on_hand_change(before, after):
    """ "on hand 56 → 55 (−1)": a count's result, with the difference."""
    return _("on hand %(before)s → %(after)s (%(difference)s)") % {
        "before": number_format(before),
        "after": number_format(after),
        "difference": signed_difference(after - before),
    }


def datetime_text(moment):
    """A moment as every page shows it (DATETIME_FORMAT, "2026-12-03 14:05"), in the
    current time zone: what the template filter |date:"DATETIME_FORMAT" shows."""
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def date_text(moment):
    """The day of a moment (DATE_FORMAT, "2026-12-03"), in the current time zone."""
    return date_format(timezone.localtime(moment), "DATE_FORMAT")

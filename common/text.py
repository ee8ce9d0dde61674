"""Quantities as staff read them in a message or a list."""

from django.utils.formats import number_format
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

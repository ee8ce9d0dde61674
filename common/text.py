"""Text as staff read it, in the reader's language: quantities, dates and times in a
message, a list or a page; how people are named on screen (one rule for every page,
message and printable); and the punctuation between pieces of a sentence."""

import re

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

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


def amount_text(amount, currency=""):
    """An amount of money as the order page shows it: "TWD 1,280.00" (two decimals,
    grouped in thousands, the currency first)."""
    text = number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{currency} {text}" if currency else text


# CJK ideographs (with extension A and the compatibility block): a name written in them
# is "family name, then given name" with no space between, as in 王小明.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def person_name(user):
    """The member of staff's full name, or their login when no name is set.

    A Chinese name reads family name first without a space (last 王, first 小明:
    "王小明"); any other name reads "first last" ("Wei Huang"). `None` (the system)
    gives "", so callers can fall back to their own word for it."""
    if user is None:
        return ""
    first, last = user.first_name.strip(), user.last_name.strip()
    if first and last:
        if _CJK.search(first) or _CJK.search(last):
            return f"{last}{first}"
        return f"{first} {last}"
    return first or last or user.get_username()


# Text put together from pieces: the punctuation between them is translated too, so
# Chinese gets full-width marks with no spaces ("已於 TXG 預留：2 × TEA-001"), not
# the English ones ("已於 TXG 預留: ").


def labelled(label, text):
    """ "Label: text" in English, "標籤：文字" in Chinese."""
    return pgettext("a label, then what it labels", "%(label)s: %(text)s") % {"label": label, "text": text}


def bracketed(text, aside):
    """ "text (aside)" in English, "文字（附註）" in Chinese."""
    return pgettext("a text, then an aside about it in brackets", "%(text)s (%(aside)s)") % {
        "text": text,
        "aside": aside,
    }


def joined_clauses(parts):
    """Clauses of one sentence: "a; b" in English, "甲；乙" in Chinese."""
    return pgettext("between the clauses of a sentence", "; ").join(str(part) for part in parts)

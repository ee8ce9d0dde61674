"""Text in the reader's language: how people are named on screen (one rule for every
page, message and printable), and the punctuation between pieces of a sentence."""

import re

from django.utils.translation import pgettext

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

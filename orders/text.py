"""Text in the reader's language: lists of names (“A”, “B” in English, 「A」、「B」 in
Chinese) and durations the way staff say them."""

from django.utils.translation import gettext, pgettext


def quoted_list(names):
    quote = pgettext("a quoted name, such as a checklist step", "“%s”")
    separator = pgettext("between the items of a list", ", ")
    return separator.join(quote % name for name in names)


def human_duration(delta):
    """Time in a state the way staff say it: "40 min", "5 h", "2 d"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return gettext("%(count)s min") % {"count": minutes}
    hours = minutes // 60
    if hours < 48:
        return gettext("%(count)s h") % {"count": hours}
    return gettext("%(count)s d") % {"count": hours // 24}


def money(amount, currency):
    """An amount as the pages show it: "TWD 3,879.00" (grouped, two decimals)."""
    from django.utils.formats import number_format

    return f"{currency} {number_format(amount, 2, force_grouping=True)}"

"""Lists of names in the reader's language: “A”, “B” in English, 「A」、「B」 in Chinese."""

from django.utils.translation import pgettext


def quoted_list(names):
    quote = pgettext("a quoted name, such as a checklist step", "“%s”")
    separator = pgettext("between the items of a list", ", ")
    return separator.join(quote % name for name in names)

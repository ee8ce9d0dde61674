"""Messages of third-party apps that ship no zh-Hant catalogue, marked here so that
makemessages keeps them in locale/ (the project's catalogue is looked up first for
every app). Nothing imports this module: only makemessages reads it."""

from django.utils.translation import gettext_noop

# django-admin-rangefilter: the order list's "placed" date-range filter.
RANGEFILTER = [
    gettext_noop("From date"),
    gettext_noop("To date"),
    gettext_noop("Reset"),
]

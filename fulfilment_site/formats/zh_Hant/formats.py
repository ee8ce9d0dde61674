from ..dates import *  # noqa: F403  (one format in every language: see dates.py)

# Numbers as Taiwan writes them: 3,879.00, grouped by thousands like English
# (Django's zh_Hant groups by ten thousands with no separator: 3879.00).
# Only what differs from Django's zh_Hant formats goes here (with the dates above); the
# rest is Django's.
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3

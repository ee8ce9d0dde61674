"""The date and time formats of every language (imported by <locale>/formats.py)."""

# Dates and times as staff read them on every page, list, printable and message
# (templates: |date:"DATETIME_FORMAT"; Python: common.text.datetime_text), in the
# configured time zone (TIME_ZONE, Asia/Taipei by default). One format in both
# languages: 2026-12-03 14:05, sortable and read the same way in Taiwan and abroad.
DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "m-d"

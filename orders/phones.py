"""Phone numbers as staff type them: 0912-345-678, 0912345678 and +886 912 345 678
are the same phone. We store and search the national form made of digits only."""

import re

_NON_DIGITS = re.compile(r"\D+")
TAIWAN_PREFIX = "886"


def normalize_phone(raw):
    """Return the digits a phone number is looked up by, or "" if there are none."""
    if not raw:
        return ""
    text = str(raw).strip()
    digits = _NON_DIGITS.sub("", text)
    if digits.startswith("00"):
        digits = digits[2:]
    elif not text.startswith("+"):
        return digits
    # International form: +886 912 345 678 (or +886 0912…) is Taiwan's 0912345678.
    if digits.startswith(TAIWAN_PREFIX):
        national = digits[len(TAIWAN_PREFIX):].lstrip("0")
        return "0" + national
    return digits

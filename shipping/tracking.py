"""Tracking numbers: how they are written down and whether one fits its carrier.

Carrier patterns are typed by managers, so they are compiled and matched with RE2
(google-re2), whose matching time grows linearly with the input: a pattern such as
`(A+)+B`, which makes Python's `re` backtrack for ever, cannot hang a request. RE2 has
no backreferences or look-around; a pattern using them is refused where it is saved
(the carrier form and the model's validator)."""

import functools
import re

import re2
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

# The length of the tracking_number column (Shipment.tracking_number).
TRACKING_NUMBER_MAX_LENGTH = 64

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the manager's message, not a log line


def normalise_tracking_number(value):
    """Stored upper case without spaces, however it was typed or scanned."""
    return (value or "").strip().upper().replace(" ", "")


def compile_pattern(pattern):
    """The compiled RE2 pattern; re2.error if RE2 cannot compile it (invalid syntax,
    a backreference, look-around, or too large)."""
    return re2.compile(pattern, options=_OPTIONS)


def pattern_error(pattern):
    """Why RE2 refuses `pattern`, or "" when it compiles (a blank pattern does)."""
    if not pattern:
        return ""
    try:
        compile_pattern(pattern)
    except re2.error as error:
        detail = error.args[0] if error.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return str(detail) or "?"
    return ""


def validate_tracking_number_pattern(pattern):
    """Validator of Carrier.tracking_number_pattern (and the carrier form)."""
    error = pattern_error(pattern)
    if error:
        raise ValidationError(
            _(
                "This is not a valid regular expression, or it uses what is not allowed here "
                "(backreferences such as \\1, look-ahead or look-behind): %(error)s"
            ),
            code="invalid_pattern",
            params={"error": error},
        )


def tracking_number_valid(carrier, tracking_number):
    """Whether the (normalised) number fits the carrier: at most 64 characters, and the
    whole of it matching the carrier's pattern if it has one. A stored pattern RE2
    cannot compile accepts nothing."""
    if not tracking_number or len(tracking_number) > TRACKING_NUMBER_MAX_LENGTH:
        return False
    pattern = carrier.tracking_number_pattern
    if not pattern:
        return True
    try:
        compiled = compile_pattern(pattern)
    except re2.error:
        return False
    return compiled.fullmatch(tracking_number) is not None


# --- the format in words -------------------------------------------------------------------
#
# The pattern stays the rule; staff are told what it asks for in words, with an example
# built from it, so the two can never disagree (no second field to keep in step). Only
# the shapes carriers' numbers have are read: fixed or ranged runs of digits, letters or
# both, literal characters, and alternatives with |. Anything else is shown as the
# pattern itself.

_CLASSES = {
    r"\d": "digit",
    "[0-9]": "digit",
    "[A-Z]": "letter",
    "[A-Za-z]": "letter",
    "[a-zA-Z]": "letter",
    "[A-Z0-9]": "alnum",
    "[0-9A-Z]": "alnum",
    "[A-Za-z0-9]": "alnum",
    r"[A-Z\d]": "alnum",
}
_TOKEN = re.compile(
    r"(?:(?P<cls>\\d|\[(?:0-9|A-Z|A-Za-z|a-zA-Z|A-Z0-9|0-9A-Z|A-Za-z0-9|A-Z\\d)\])"
    r"|(?P<lit>\\[-./ #]|[A-Za-z0-9-]))"
    r"(?P<count>\{(?P<low>\d{1,2})(?:,(?P<high>\d{1,2}))?\})?"
)
_SAMPLES = {"digit": "1234567890", "letter": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "alnum": "A1B2C3D4E5F6G7H8J9K0"}


def _runs(alternative):
    """[(kind, low, high, text)] for one alternative, or None when it is not a shape read here."""
    runs, position = [], 0
    while position < len(alternative):
        match = _TOKEN.match(alternative, position)
        if match is None:
            return None
        position = match.end()
        low = int(match.group("low")) if match.group("count") else 1
        high = int(match.group("high")) if match.group("high") else low
        if high < low or high == 0:
            return None
        if match.group("cls"):
            kind, text = _CLASSES[match.group("cls")], ""
        else:
            kind, text = "literal", match.group("lit").lstrip("\\") * low
            if low != high:
                return None
        if runs and runs[-1][0] == kind and (kind == "literal" or runs[-1][1] == runs[-1][2] and low == high):
            previous = runs.pop()
            low, high, text = previous[1] + low, previous[2] + high, previous[3] + text
        runs.append((kind, low, high, text))
    return runs or None


def _run_words(kind, low, high, text):
    if kind == "literal":
        return _("“%(text)s”") % {"text": text}
    if low == high:
        words = {
            "digit": ngettext("%(count)s digit", "%(count)s digits", low),
            "letter": ngettext("%(count)s letter", "%(count)s letters", low),
            "alnum": ngettext("%(count)s letter or digit", "%(count)s letters or digits", low),
        }[kind]
        return words % {"count": low}
    words = {
        "digit": _("%(low)s to %(high)s digits"),
        "letter": _("%(low)s to %(high)s letters"),
        "alnum": _("%(low)s to %(high)s letters or digits"),
    }[kind]
    return words % {"low": low, "high": high}


def _run_example(kind, low, _high, text):
    if kind == "literal":
        return text
    sample = _SAMPLES[kind]
    return (sample * (low // len(sample) + 1))[:low]


def describe_pattern(pattern):
    """What a tracking-number pattern asks for, in words with an example each
    ("12 digits, like 123456789012"), or "" when the pattern is not one of the shapes
    read here (or is blank: any number is accepted)."""
    return _describe(pattern or "", get_language() or "")


@functools.lru_cache(maxsize=256)
def _describe(pattern, _language):
    body = pattern.strip()
    if body.startswith("^"):
        body = body[1:]
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    if body.startswith(("(?:", "(")) and body.endswith(")") and body.count("(") == 1:
        body = body[3:-1] if body.startswith("(?:") else body[1:-1]
    if not body or "(" in body or ")" in body:
        return ""
    described = []
    for alternative in body.split("|"):
        runs = _runs(alternative)
        if runs is None:
            return ""
        example = "".join(_run_example(*run) for run in runs)
        try:
            if compile_pattern(pattern).fullmatch(example) is None:
                return ""
        except re2.error:
            return ""
        described.append(
            _("%(format)s, like %(example)s")
            % {"format": _(", ").join(_run_words(*run) for run in runs), "example": example}
        )
    return _("; or ").join(described)


def tracking_number_hint(carrier):
    """What staff are told about the carrier's numbers: the format in words with an
    example, the pattern itself when it cannot be put in words, or "" for any number."""
    pattern = carrier.tracking_number_pattern
    if not pattern:
        return ""
    return describe_pattern(pattern) or _("matching the pattern %(pattern)s") % {"pattern": pattern}

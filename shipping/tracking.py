"""Tracking numbers: how they are written down and whether one fits its carrier.

Carrier patterns are typed by managers, so they are compiled and matched with RE2
(google-re2), whose matching time grows linearly with the input: a pattern such as
`(A+)+B`, which makes Python's `re` backtrack for ever, cannot hang a request. RE2 has
no backreferences or look-around; a pattern using them is refused where it is saved
(the carrier form and the model's validator)."""

import re2
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

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

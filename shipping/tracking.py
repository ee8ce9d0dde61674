"""Tracking numbers: how they are written down and whether one fits its carrier."""

import re


def normalise_tracking_number(value):
    """Stored upper case without spaces, however it was typed or scanned."""
    return (value or "").strip().upper().replace(" ", "")


def tracking_number_valid(carrier, tracking_number):
    if not tracking_number:
        return False
    pattern = carrier.tracking_number_pattern
    return not pattern or re.fullmatch(pattern, tracking_number) is not None

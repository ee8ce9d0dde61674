"""Cells a spreadsheet would run as a formula are made inert.

Excel, LibreOffice and Google Sheets treat a cell that starts with one of these
characters as a formula (or, for tab and carriage return, shift it into one), so an
e-mail address or a name typed as `=HYPERLINK(...)` could run when a manager opens
an export. Such a text cell gets a leading apostrophe, which spreadsheets show as
plain text; numbers and dates are never touched. The PostgreSQL export does the same
in SQL (`neutralise_sql`), so both paths write the same cells.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
PREFIX = "'"


def neutralise(value):
    """A text cell made safe to open in a spreadsheet (other values unchanged)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return PREFIX + value
    return value


def neutralise_sql(expression_sql):
    """The SQL (PostgreSQL) of `neutralise()` around a text expression. `ascii()`
    reads the first character's code, half the cost of `left(…, 1)` over a million
    rows. PostgreSQL text cannot hold NUL, so the codes checked are the others."""
    codes = ", ".join(str(ord(character)) for character in FORMULA_STARTS if character != "\0")
    return f"CASE WHEN ascii({expression_sql}) IN ({codes}) THEN '{PREFIX}{PREFIX}' || {expression_sql} ELSE {expression_sql} END"

"""Reading what a request carries: the one place that turns typed or linked text into
ids and whole numbers, and that says which text cannot be stored at all.

Numbers: str.isdigit() is true for "²" and "١", and int() reads " 12", "+1", "1_000"
and "١٢" but raises on "²"; views that checked isdigit() and then called int() met
such input with an error page. Ids and quantities from a request are read here
instead: ASCII digits only, and no larger than the database's integer columns hold.

Text: PostgreSQL can neither store nor compare a NUL character ("\\x00"); a query
with one fails, on every text column and in JSON. common.middleware refuses it for
the whole site with these helpers. Other control characters (tab, escape, ...) are
stored as typed; the exports deal with the ones their formats cannot hold.
"""

# The largest values of the database's integer columns: IntegerField and
# PositiveIntegerField hold 32 bits on every database, BigAutoField ids 64.
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

NUL = "\x00"


def parse_whole_number(value, *, maximum=INTEGER_MAX, negative=False):
    """The int that `value` writes in ASCII digits (after a "-" too when `negative`),
    surrounding spaces ignored; None for anything else: other digits ("²", "١"), a
    "+", spaces or "_" inside, an empty value, or more than `maximum` either way."""
    if value is None:
        return None
    text = str(value).strip()
    sign = 1
    if negative and text.startswith("-"):
        sign, text = -1, text[1:]
    # The length check first: int() of a very long string is slow, and never fits.
    if not text or len(text) > len(str(maximum)) or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return sign * number if number <= maximum else None


def parse_id(value):
    """The primary key `value` names (a positive bigint in ASCII digits), or None."""
    number = parse_whole_number(value, maximum=BIGINT_MAX)
    return number or None  # 0 is no row's id


def has_nul(text):
    """Whether `text` holds a NUL character, which no database column can store."""
    return NUL in text


def without_nul(text):
    return text.replace(NUL, "")


def shortened(text, limit):
    """`text` as it is if it has at most `limit` characters, else its beginning ending
    in "…" (`limit` characters in all), so a reader sees it was cut. Only for copies of a
    text kept whole elsewhere, or of one already refused: what staff type is refused
    when too long, never cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"

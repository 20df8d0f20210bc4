"""What counts as a record's id wherever one arrives as text (a query string, a form, a JSON
body): a positive bigint written in decimal ASCII digits. Anything else ("1e309", "1.9", "²",
"-1") is refused before it reaches the database, where it would overflow, be truncated or
raise."""

import re

ID_PATTERN = re.compile(r"[0-9]{1,19}")
MAX_ID = 2**63 - 1
NOT_AN_ID = "Enter an id: a whole number."


def parse_id(value: object) -> int | None:
    """`value` as an id, or None if it is not one (a bool is not an id)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not ID_PATTERN.fullmatch(value):
            return None
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    return None

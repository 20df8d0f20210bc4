"""What text the CRM accepts, one rule for every form field and serializer field that stores text
(crm.web.TextField, crm.api.base.TextField) and for the services that check text themselves.

PostgreSQL cannot store a NUL character (SQLite can: the same input would be kept on one
database and fail with a 500 on the other), and a JSON body can carry half of a character (an
unpaired \\ud800-\\udfff escape), which is not Unicode text and which no database encoding can
hold. Both are refused with a field error.

Where a rule asks for "at least N characters" of human text (a reason, a justification), it
counts what a reader sees: zero-width and other invisible characters count for nothing, and a
run of spaces between words for one, so that twelve zero-width spaces are no reason.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

UNSTORABLE_TEXT = (
    "This text holds a character that cannot be stored: a NUL (\\u0000) or half of a "
    "character (an unpaired \\ud800-\\udfff)."
)
TOO_FEW_VISIBLE = (
    "Ensure this value has at least {limit} visible characters (it has {count}): invisible "
    "ones and runs of spaces do not count."
)
NOTHING_VISIBLE = "This field holds no visible characters."
NOT_A_TEXT = "Send a text."

# Characters no reader sees: format characters (zero-width space and joiners, the byte-order
# mark, bidirectional marks), controls, combining marks on their own count with their letter,
# and what is not a character at all.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})


def is_storable(text: str) -> bool:
    """Whether every database the CRM runs on can store `text`."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def validate_storable_text(value: object) -> None:
    """The one validator of stored text: no NUL, no half of a character."""
    if isinstance(value, str) and not is_storable(value):
        raise ValidationError(UNSTORABLE_TEXT, code="unstorable")


def visible_length(text: str) -> int:
    """How many characters of `text` a reader sees: invisible ones left out, each run of
    spaces between words counted as one, none before the first word or after the last."""
    words = (
        "".join(char for char in word if unicodedata.category(char) not in _INVISIBLE)
        for word in text.split()
    )
    return len(" ".join(word for word in words if word))


@deconstructible
class MinVisibleLengthValidator:
    """At least `limit` characters a reader sees (visible_length)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, value: object) -> None:
        if isinstance(value, str) and (count := visible_length(value)) < self.limit:
            message = TOO_FEW_VISIBLE.format(limit=self.limit, count=count)
            raise ValidationError(message, code="min_length")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MinVisibleLengthValidator) and other.limit == self.limit

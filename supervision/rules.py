"""The rules of a supervision line, one implementation for the page, the forms, the API and the
services, and the route-sales figures of a day's lines.

Quantities, planned and actual, are whole numbers: a negative one is set to 0 (with a notice
saying so), one above 999,999 is refused. A stop with a quantity was visited (it is marked so,
with a notice). A reason explains a missed stop or a visit that sold nothing; "other" needs a
note.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from crm.validators import is_storable
from supervision.models import MAX_QUANTITY, NOTE_LENGTH, ReasonCode
from supervision.text import counted

# Error messages and notices, one per rule; tests assert on these constants.
QUANTITY_TOO_LARGE = "Quantity cannot exceed 999,999"
QUANTITY_NOT_WHOLE = "Enter a whole number."
QUANTITY_RESET = "A quantity cannot be negative: it was set to 0."
MARKED_VISITED = "Marked visited: a stop with a quantity was visited."
REASON_FOR_MISSES = "A reason explains a missed stop or a visit that sold nothing."
REASON_UNKNOWN = "Choose one of the reasons."
NOTE_FOR_OTHER = "Say in the note what happened (reason: other)."
NOTE_TOO_LONG = f"Keep the note to {NOTE_LENGTH} characters."
NOTE_UNSTORABLE = "The note holds characters that cannot be stored (a NUL, half a character)."
SALE_WITHOUT_VISIT = "A stop with a quantity was visited."
NOT_A_STOP = "This customer is not a stop of route {route}."
SAME_CUSTOMER_TWICE = "This customer is in the list twice."

REASONS = frozenset(ReasonCode.values)  # (Django builds `values` anew on each use)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def clean_quantity(raw: object) -> tuple[int, str | None]:
    """A quantity as typed or sent ("12", 12, 12.0, "-5", ""): (whole number, notice or None).
    Empty is 0. Raises ValidationError for anything that is not a whole number, or is above
    999,999."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return 0, None
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        raise ValidationError(QUANTITY_NOT_WHOLE)
    try:
        number = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError(QUANTITY_NOT_WHOLE) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValidationError(QUANTITY_NOT_WHOLE)
    if number < 0:
        return 0, QUANTITY_RESET
    if number > MAX_QUANTITY:
        raise ValidationError(QUANTITY_TOO_LARGE)
    return int(number), None


def client_rules() -> dict[str, object]:
    """The line rules' numbers and messages as the day page hands them to its script (a JSON
    block), which applies them with no signal: read from the constants above, never written a
    second time in JavaScript, so that the two cannot drift apart."""
    return {
        "maxQuantity": MAX_QUANTITY,
        "noteLength": NOTE_LENGTH,
        "other": ReasonCode.OTHER.value,
        "tooLarge": QUANTITY_TOO_LARGE,
        "notWhole": QUANTITY_NOT_WHOLE,
        "reset": QUANTITY_RESET,
        "markedVisited": MARKED_VISITED,
        "reasonForMisses": REASON_FOR_MISSES,
        "noteForOther": NOTE_FOR_OTHER,
        "noteTooLong": NOTE_TOO_LONG,
    }


@dataclass(frozen=True)
class Line:
    """A line as the supervisor leaves it: its stop and what they recorded."""

    customer_id: int
    stop_order: int
    planned_quantity: int
    visited: bool = False
    actual_quantity: int = 0
    reason: str = ""
    note: str = ""
    customer_name: str = ""
    stop_id: int | None = None
    line_id: int | None = None  # its row, once the day is saved

    @property
    def productive(self) -> bool:
        return self.visited and self.actual_quantity > 0


@dataclass(frozen=True)
class Change:
    """What a write changes on one line (None: left as it is). `actual_quantity` is a whole
    number already (clean_quantity)."""

    customer_id: int
    visited: bool | None = None
    actual_quantity: int | None = None
    reason: str | None = None
    note: str | None = None


def apply_change(line: Line, change: Change) -> tuple[Line, list[str], dict[str, list[str]]]:
    """The line with the change applied and the line rules enforced: (line, notices, errors);
    refused, the line as it was and the errors by field."""
    fields = {
        name: value
        for name in ("visited", "actual_quantity", "reason", "note")
        if (value := getattr(change, name)) is not None
    }
    errors: dict[str, list[str]] = {}
    notices: list[str] = []
    quantity = fields.get("actual_quantity", line.actual_quantity)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        errors["actual_quantity"] = [QUANTITY_NOT_WHOLE]
    elif quantity > MAX_QUANTITY:
        errors["actual_quantity"] = [QUANTITY_TOO_LARGE]
    if "note" in fields:
        fields["note"] = fields["note"].strip()
        if len(fields["note"]) > NOTE_LENGTH:
            errors["note"] = [NOTE_TOO_LONG]
        elif not is_storable(fields["note"]):
            errors["note"] = [NOTE_UNSTORABLE]
    if fields.get("reason", "") and fields["reason"] not in REASONS:
        errors["reason"] = [REASON_UNKNOWN]
    if errors:
        return line, notices, errors
    result = replace(line, **fields)
    if result.actual_quantity > 0 and not result.visited:
        result = replace(result, visited=True)
        notices.append(MARKED_VISITED)
    if result.reason and result.productive:
        errors["reason"] = [REASON_FOR_MISSES]
    elif result.reason == ReasonCode.OTHER and not result.note:
        errors["note"] = [NOTE_FOR_OTHER]
    if errors:  # refused: the line stays as it was
        return line, [], errors
    return result, notices, errors


def line_errors(line: Line) -> dict[str, list[str]]:
    """What breaks the line rules in a whole line as it stands (one put together from two
    people's fields, say), by field; empty when nothing does."""
    errors: dict[str, list[str]] = {}
    if line.actual_quantity > 0 and not line.visited:
        errors["visited"] = [SALE_WITHOUT_VISIT]
    if line.reason and line.productive:
        errors["reason"] = [REASON_FOR_MISSES]
    elif line.reason == ReasonCode.OTHER and not line.note:
        errors["note"] = [NOTE_FOR_OTHER]
    return errors


class LineErrors(ValidationError):
    """Refused lines: {index of the change: {field: [messages]}}. A ValidationError (400) for
    any caller; the page and the API show each error on its line."""

    def __init__(self, by_line: dict[int, dict[str, list[str]]]):
        count = len(by_line)
        super().__init__({"lines": [f"{counted(count, 'line')} refused."]})
        self.by_line = by_line


def apply_changes(
    lines: list[Line], changes: list[Change], *, route_code: str, refuse_strangers: bool = True
) -> tuple[list[Line], dict[int, list[str]]]:
    """The lines with `changes` applied (each to its customer's line), and the notices; every
    refusal is collected, then raised together (LineErrors). A change to a customer who is not
    a line is refused, or, without `refuse_strangers`, left out (a stop that left the day while
    the writer had it open: the merge reports it as not kept)."""
    by_customer = {line.customer_id: index for index, line in enumerate(lines)}
    result = list(lines)
    notices: dict[int, list[str]] = {}
    errors: dict[int, dict[str, list[str]]] = {}
    seen: set[int] = set()
    for index, change in enumerate(changes):
        if change.customer_id in seen:
            errors[index] = {"customer": [SAME_CUSTOMER_TWICE]}
            continue
        seen.add(change.customer_id)
        position = by_customer.get(change.customer_id)
        if position is None:
            if refuse_strangers:
                errors[index] = {"customer": [NOT_A_STOP.format(route=route_code)]}
            continue
        line, said, refused = apply_change(result[position], change)
        if refused:
            errors[index] = refused
            continue
        result[position] = line
        if said:
            notices[change.customer_id] = said
    if errors:
        raise LineErrors(errors)
    return result, notices


# --- Figures ------------------------------------------------------------------------------------


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal:
    if not whole:
        return Decimal(0)
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    """A day's route-sales figures (the summary's, and what analyses read): counts and
    quantities in whole numbers, percents and the drop size (an average) in hundredths."""

    customers_planned: int
    customers_visited: int
    productive_stops: int
    zero_sale_visits: int
    unvisited_stops: int
    visit_compliance: Decimal
    strike_rate: Decimal
    planned_total: int
    actual_total: int
    gap: int
    achievement_percent: Decimal
    drop_size: Decimal

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def figures(lines: Iterable[Line]) -> Figures:
    """Visit compliance = visited ÷ planned stops, strike rate = stops with a sale ÷ planned,
    gap = planned - actual total, achievement = actual ÷ planned total, drop size = actual total
    ÷ stops with a sale (percents of 0 are 0)."""
    lines = list(lines)
    planned = len(lines)
    visited = sum(1 for line in lines if line.visited)
    productive = sum(1 for line in lines if line.productive)
    planned_total = sum(line.planned_quantity for line in lines)
    actual_total = sum(line.actual_quantity for line in lines)
    return Figures(
        customers_planned=planned,
        customers_visited=visited,
        productive_stops=productive,
        zero_sale_visits=visited - productive,
        unvisited_stops=planned - visited,
        visit_compliance=percent(visited, planned),
        strike_rate=percent(productive, planned),
        planned_total=planned_total,
        actual_total=actual_total,
        gap=planned_total - actual_total,
        achievement_percent=min(percent(actual_total, planned_total), Decimal("999999.99")),
        drop_size=(Decimal(actual_total) / productive).quantize(CENT, rounding=ROUND_HALF_UP)
        if productive
        else Decimal(0),
    )

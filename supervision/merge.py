"""Two people's changes to one route's day, put together field by field (a three-way merge).

A write names the version it was based on, and can carry, for each line, the values the line
held in that version (its *base*: the page keeps them in a hidden input per line). When someone
else wrote since, each field of each line is one of:

- unchanged by you (yours = base): theirs is kept, whatever they did;
- changed by you only (theirs = base): yours is taken;
- changed by both to the same value: that value, no question;
- changed by both to different values: a **conflict**, for the person to choose.

A line whose fields, so put together, break the line's rules (your reason for a miss, their
sale) is a conflict on every field where yours and theirs differ: a whole line is chosen field
by field, never guessed. Lines you did not send (a stop added to the route meanwhile) keep
theirs. Without a base (an API client that sends none), every field you send that differs from
theirs is a conflict.
"""

import json
from dataclasses import dataclass, field, fields, replace

from crm.validators import is_storable
from supervision import rules
from supervision.models import MAX_QUANTITY, NOTE_LENGTH, ReasonCode

FIELDS = ("visited", "actual_quantity", "reason", "note")
LABELS = {"visited": "Visited", "actual_quantity": "Actual", "reason": "Reason", "note": "Note"}


def describe(name: str, value: object) -> str:
    """A field's value as people read it ("yes", "12", "Closed", "none")."""
    if name == "visited":
        return "yes" if value else "no"
    if name == "reason":
        return dict(ReasonCode.choices).get(value, "none") if value else "none"
    if name == "note":
        return f"“{value}”" if value else "none"
    return str(value)


@dataclass(frozen=True)
class Recorded:
    """What a line held in a version: the base of a merge."""

    visited: bool
    actual_quantity: int
    reason: str
    note: str

    @classmethod
    def of(cls, line: rules.Line) -> "Recorded":
        return cls(**{name: getattr(line, name) for name in FIELDS})

    def as_dict(self) -> dict[str, object]:
        return {item.name: getattr(self, item.name) for item in fields(self)}

    def encode(self) -> str:
        """As the page keeps it in a hidden input: a short JSON list."""
        return json.dumps([self.visited, self.actual_quantity, self.reason, self.note])


@dataclass(frozen=True)
class Clash:
    """One field two people changed differently: yours, theirs, and the one chosen (None
    until someone chooses)."""

    mine: object
    theirs: object
    chosen: object = None


def decode(text: str) -> Recorded | None:
    """A base as the page sent it back; None for anything that is not one (the merge then
    treats every difference on the line as a conflict, never as a change of yours)."""
    try:
        visited, quantity, reason, note = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None
    return _checked(visited, quantity, reason, note)


def from_mapping(data: object) -> Recorded | None:
    """A base as an API client sends it ({"visited", "actual_quantity", "reason", "note"})."""
    if not isinstance(data, dict) or set(data) != set(FIELDS):
        return None
    return _checked(*(data[name] for name in FIELDS))


def _checked(visited, quantity, reason, note) -> Recorded | None:
    values = {"visited": visited, "actual_quantity": quantity, "reason": reason, "note": note}
    if not all(_valid(name, value) for name, value in values.items()):
        return None
    return Recorded(**values)


def _valid(name: str, value: object) -> bool:
    """Whether `value` is one a line's field `name` can hold."""
    if name == "visited":
        return isinstance(value, bool)
    if name == "actual_quantity":
        return type(value) is int and 0 <= value <= MAX_QUANTITY
    if name == "reason":
        return isinstance(value, str) and (not value or value in rules.REASONS)
    return isinstance(value, str) and len(value) <= NOTE_LENGTH and is_storable(value)


def encode_choices(clash: dict[str, Clash]) -> str:
    """Your side of a line's conflicts, as the page keeps it while you choose (theirs is the
    line's base): {field: yours}."""
    return json.dumps({name: item.mine for name, item in clash.items()})


def decode_choices(text: str) -> dict[str, object] | None:
    """Your side of a line's conflicts as the page sent it back; None if it is not one."""
    try:
        mine = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(mine, dict) or not mine or not set(mine) <= set(FIELDS):
        return None
    if not all(_valid(name, value) for name, value in mine.items()):
        return None
    return mine


def as_seen(lines: list[rules.Line], bases: dict[int, Recorded] | None) -> list[rules.Line]:
    """The lines as the writer saw them: each with its base, where the write carried one."""
    if not bases:
        return lines
    return [
        replace(line, **base.as_dict()) if (base := bases.get(line.customer_id)) else line
        for line in lines
    ]


@dataclass
class Merged:
    """The day with both people's changes: `lines` (a conflicting field holds theirs until
    chosen), `conflicts` by customer ({field: Clash}), `notices` of your lines,
    `mine` (your lines as you left them, by customer, those you changed) and `dropped` (the
    customers you changed that are no longer lines of the day)."""

    lines: list[rules.Line]
    conflicts: dict[int, dict[str, Clash]] = field(default_factory=dict)
    notices: dict[int, list[str]] = field(default_factory=dict)
    mine: dict[int, rules.Line] = field(default_factory=dict)
    dropped: list[int] = field(default_factory=list)

    def conflicting_fields(self) -> list[dict[str, object]]:
        """The conflicts as the API gives them: [{"customer", "fields"}] in line order."""
        order = {line.customer_id: index for index, line in enumerate(self.lines)}
        return [
            {"customer": customer, "fields": [name for name in FIELDS if name in clash]}
            for customer, clash in sorted(self.conflicts.items(), key=lambda c: order[c[0]])
        ]


def three_way(
    *,
    theirs: list[rules.Line],
    changes: list[rules.Change],
    bases: dict[int, Recorded] | None,
) -> Merged:
    """Your `changes` (each applied to its line's base) put together with `theirs` (the day
    as it is now), field by field (see the module)."""
    bases = bases or {}
    by_customer = {change.customer_id: change for change in changes}
    merged = Merged(lines=[])
    for line in theirs:
        change = by_customer.pop(line.customer_id, None)
        if change is None:
            merged.lines.append(line)
            continue
        base = bases.get(line.customer_id)
        seen = replace(line, **base.as_dict()) if base is not None else line
        mine, said, refused = rules.apply_change(seen, change)
        if refused:  # checked before the merge; a line sent broken is left as theirs
            merged.lines.append(line)
            continue
        if mine != seen:
            merged.mine[line.customer_id] = mine
            if said:
                merged.notices[line.customer_id] = said
        taken, clash = _fields(seen if base is not None else None, mine, line)
        result = replace(line, **taken)
        if rules.line_errors(result):
            clash |= {
                name: Clash(getattr(mine, name), getattr(line, name))
                for name in FIELDS
                if getattr(mine, name) != getattr(line, name)
            }
            result = line
        if clash:
            merged.conflicts[line.customer_id] = clash
        merged.lines.append(result)
    for customer, change in by_customer.items():
        if sent(change, bases.get(customer)):
            merged.dropped.append(customer)
    return merged


def sent(change: rules.Change, base: Recorded | None) -> dict[str, object]:
    """What a change sets that its line's base did not hold, by field (without a base,
    everything it sets)."""
    values = {name: getattr(change, name) for name in FIELDS if getattr(change, name) is not None}
    if base is None:
        return values
    held = base.as_dict()
    return {name: value for name, value in values.items() if held[name] != value}


def _fields(
    base: rules.Line | None, mine: rules.Line, theirs: rules.Line
) -> tuple[dict[str, object], dict[str, Clash]]:
    """(the values taken, the conflicts) of one line's fields."""
    taken, clash = {}, {}
    for name in FIELDS:
        yours, their = getattr(mine, name), getattr(theirs, name)
        if yours == their:
            continue
        if base is None:
            clash[name] = Clash(yours, their)
        elif yours == getattr(base, name):
            continue  # yours unchanged: theirs stays
        elif their == getattr(base, name):
            taken[name] = yours  # only you changed it
        else:
            clash[name] = Clash(yours, their)
    return taken, clash

"""The session page's form: one row of inputs per stop (`visited-<customer>`, `qty-<customer>`,
`reason-<customer>`, `note-<customer>`), with what the line held in the version the page shows
(`base-<customer>`, hidden) and, on a line two people changed differently, your side of each
field to choose (`conflict-<customer>`; the field's input is then a choice of two), read into
the line changes the services take. The quantity rule is supervision.rules' (the same in the
API); the rest of the line rules are the services'."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from crm.ids import parse_id
from crm.web import DateField, ServiceForm, TextField
from supervision import merge, rules
from supervision.models import AnalysisKind
from supervision.services import REOPEN_REASON_MIN

_LINE_FIELD = re.compile(r"(visited|qty|reason|note|base|conflict)-([0-9]{1,19})")
# The page's name of each field of a line.
INPUTS = {"visited": "visited", "actual_quantity": "qty", "reason": "reason", "note": "note"}
CHOOSE = "Choose the value to keep."
CHOICES_UNREADABLE = "This line's choices could not be read: open the day again."


class LinesForm:
    """The rows of the session page as posted: `changes` (one per row seen; a field not
    chosen yet, or a quantity that is not one, is None), `bases` and `clashes` by customer,
    `notices` and `errors` by customer id, and the quantities as typed. With
    `choices_required` (a save), a field still to choose is an error."""

    def __init__(self, data: QueryDict, *, choices_required: bool = True) -> None:
        self.changes: list[rules.Change] = []
        self.notices: dict[int, list[str]] = {}
        self.errors: dict[int, dict[str, list[str]]] = {}
        self.typed: dict[int, str] = {}
        self.bases: dict[int, merge.Recorded] = {}
        self.clashes: dict[int, dict[str, merge.Clash]] = {}
        rows: dict[int, dict[str, str]] = {}
        for name in data:
            match = _LINE_FIELD.fullmatch(name)
            customer = parse_id(match.group(2)) if match else None
            if customer is not None:
                rows.setdefault(customer, {})[match.group(1)] = data.get(name, "")
        for customer, row in rows.items():
            base = merge.decode(row["base"]) if "base" in row else None
            if base is not None:
                self.bases[customer] = base
            if "qty" not in row and "conflict" not in row:
                continue  # an unchecked box or a base alone: not a row being edited
            self._read(customer, row, base, choices_required)

    def _read(
        self, customer: int, row: dict[str, str], base: merge.Recorded | None, required: bool
    ) -> None:
        mine = merge.decode_choices(row["conflict"]) if "conflict" in row else {}
        if mine is None or (mine and base is None):
            self.errors[customer] = {"customer": [CHOICES_UNREADABLE]}
            return
        errors: dict[str, list[str]] = {}
        values: dict[str, object] = {}
        for name, key in INPUTS.items():
            if key not in row and name in mine:
                if required:
                    errors[name] = [CHOOSE]
                continue
            raw = row.get(key, "")
            if name == "visited":
                values[name] = raw not in ("", "off")
            elif name == "actual_quantity":
                self.typed[customer] = raw
                try:
                    values[name], notice = rules.clean_quantity(raw)
                except ValidationError as error:
                    errors[name] = error.messages
                    continue
                if notice:
                    self.notices[customer] = [notice]
            else:
                values[name] = raw
        if mine:
            self.clashes[customer] = {
                name: merge.Clash(mine=value, theirs=getattr(base, name), chosen=values.get(name))
                for name, value in mine.items()
            }
        if errors:
            self.errors[customer] = errors
        self.changes.append(rules.Change(customer_id=customer, **values))

    def is_valid(self) -> bool:
        return not self.errors


class SaveForm(ServiceForm):
    """What a write names besides its lines: the version it is based on, its token."""

    record_version = forms.IntegerField(min_value=0, max_value=2**31 - 1, widget=forms.HiddenInput)
    client_token = forms.UUIDField(required=False, widget=forms.HiddenInput)


class OpenDayForm(ServiceForm):
    """Choose a route and a day (the index page)."""

    route = forms.TypedChoiceField(label="Route", coerce=int)
    date = DateField(label="Day")

    def __init__(self, *args, routes, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["route"].choices = [(route.pk, str(route)) for route in routes]


class ReviewForm(ServiceForm):
    kind = forms.ChoiceField(choices=AnalysisKind.choices)
    customer = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class ReopenForm(ServiceForm):
    reason = TextField(label="Why reopen it", min_length=REOPEN_REASON_MIN, max_length=300)

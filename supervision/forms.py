"""The session page's form: one row of inputs per stop (`visited-<customer>`, `qty-<customer>`,
`reason-<customer>`, `note-<customer>`), read into the line changes the services take. The
quantity rule is supervision.rules' (the same in the API); the rest of the line rules are the
services'."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from crm.ids import parse_id
from crm.web import DateField, ServiceForm
from supervision import rules
from supervision.models import AnalysisKind

_LINE_FIELD = re.compile(r"(visited|qty|reason|note)-([0-9]{1,19})")


class LinesForm:
    """The rows of the session page as posted: `changes` (one per row seen), `notices` and
    `errors` by customer id."""

    def __init__(self, data: QueryDict) -> None:
        self.changes: list[rules.Change] = []
        self.notices: dict[int, list[str]] = {}
        self.errors: dict[int, dict[str, list[str]]] = {}
        self.typed: dict[int, str] = {}
        rows: dict[int, dict[str, str]] = {}
        for name in data:
            match = _LINE_FIELD.fullmatch(name)
            customer = parse_id(match.group(2)) if match else None
            if customer is not None:
                rows.setdefault(customer, {})[match.group(1)] = data.get(name, "")
        for customer, row in rows.items():
            if "qty" not in row:  # an unchecked box alone: not a row of the form
                continue
            self.typed[customer] = row["qty"]
            try:
                quantity, notice = rules.clean_quantity(row["qty"])
            except ValidationError as error:
                self.errors[customer] = {"actual_quantity": error.messages}
                continue
            if notice:
                self.notices[customer] = [notice]
            self.changes.append(
                rules.Change(
                    customer_id=customer,
                    visited="visited" in row,
                    actual_quantity=quantity,
                    reason=row.get("reason", ""),
                    note=row.get("note", ""),
                )
            )

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
    reason = forms.CharField(label="Why reopen it", min_length=10, max_length=300)

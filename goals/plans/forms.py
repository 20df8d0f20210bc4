"""Forms of the plan pages: the shape of the input; the rules (ranges, who, when) live in
goals.plans.services."""

from django import forms

from crm import selectors as crm_selectors
from crm.web import AmountField, LongChoiceField, MonthField, ScopedForm, ServiceForm, TextField
from goals.models import Pace
from goals.plans.selectors import DeadlineStatus, bonus_tier_choices
from goals.plans.services import MAX_REVENUE_GOAL, MAX_SIGNUP_GOAL


def team_options(user) -> list[tuple[int, str]]:
    """The teams `user` sees, as (id, name), for a page's team choices: read by the view once
    and handed to each form that offers them (the compliance page has two)."""
    return list(crm_selectors.team_list(user=user).values_list("pk", "name"))


class PlanForm(ServiceForm):
    """A month's targets; a manager also chooses the month (`managed`), a rep sets this one."""

    month = MonthField(label="Month", required=False, help_text="The month these goals are for.")
    signup_goal = forms.IntegerField(
        label="Signups", min_value=0, max_value=MAX_SIGNUP_GOAL,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )  # fmt: skip
    revenue_goal = AmountField(label="Revenue", max_digits=14, max_value=MAX_REVENUE_GOAL)
    bonus_tier_goal = forms.TypedChoiceField(label="Bonus tier", coerce=int)
    reason = TextField(
        label="Why the goals change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to change goals already set once the month has started (at least 10 "
        "characters); the goals first set are kept beside them.",
    )

    def __init__(self, *args, managed: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not managed:
            del self.fields["month"]
        # Each tier with the revenue it is reached from, as Django admin keeps them now.
        self.fields["bonus_tier_goal"].choices = bonus_tier_choices()

    def clean(self):
        cleaned = super().clean()
        month = cleaned.pop("month", None)
        if month is not None:
            cleaned["year"], cleaned["month"] = month.year, month.month
        return cleaned


class YearPlanForm(ServiceForm):
    revenue_goal = AmountField(label="Revenue this year", max_digits=14, max_value=MAX_REVENUE_GOAL)
    signup_goal = forms.IntegerField(
        label="Signups this year", min_value=0, max_value=MAX_SIGNUP_GOAL,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )  # fmt: skip
    reason = TextField(
        label="Why the goals change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to change goals already set once the year has started (at least 10 "
        "characters).",
    )


class DefaultsForm(PlanForm, ScopedForm):
    """An admin's default targets for a team's plans not set yet."""

    team_id = LongChoiceField(label="Team", coerce=int)
    month = MonthField(label="Month")
    reason = None  # defaults go to plans not set yet: nothing to explain

    field_order = ["team_id", "month", "signup_goal", "revenue_goal", "bonus_tier_goal"]

    def __init__(self, *args, user, teams: list[tuple[int, str]], **kwargs) -> None:
        """`teams`: the teams `user` sees (`team_options`)."""
        super().__init__(*args, user=user, managed=True, **kwargs)
        self.fields["team_id"].set_options(teams)


class ComplianceFilterForm(ScopedForm):
    """The filters above the compliance table (goals.plans.selectors.compliance's arguments)."""

    month = MonthField(label="Month", required=False)
    team = LongChoiceField(label="Team", coerce=int, required=False, empty_value=None)
    pace = forms.ChoiceField(
        label="Overall pace", choices=[("", "Any pace"), *Pace.choices], required=False
    )
    deadline = forms.ChoiceField(
        label="Goals",
        choices=[("", "Set or not"), ("not_set", "Not set yet"), *DeadlineStatus.LABELS.items()],
        required=False,
    )
    order = forms.ChoiceField(
        label="Sort by",
        choices=[
            ("rep", "Rep"), ("revenue", "Revenue %"), ("signups", "Signups %"),
            ("pace", "Least progress first"), ("deadline", "Deadline status"),
        ],
        required=False,
    )  # fmt: skip

    def __init__(self, *args, user, teams: list[tuple[int, str]], **kwargs) -> None:
        """`teams`: the teams `user` sees (`team_options`)."""
        super().__init__(*args, user=user, **kwargs)
        self.fields["team"].set_options([("", "Every team"), *teams])

"""Forms of the goals pages: the shape of the input only; the rules live in goals.services."""

from django import forms
from django.utils import timezone

from crm import selectors as crm_selectors
from crm.models import SalesRep, Team
from crm.roles import may_choose_rep, may_set_company_goals
from crm.web import AmountField, DateField, LongSelect, ScopedForm, ServiceForm, TextField
from goals import selectors
from goals.models import Goal, GoalStatus, Metric, OwnerType, PeriodKind, Source


class GoalFilterForm(forms.Form):
    """The filters above the goals list (goals.selectors.goal_list's arguments)."""

    search = TextField(
        label="Title",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Title"}),
    )
    owner_type = forms.ChoiceField(
        label="Owner", choices=[("", "Any owner"), *OwnerType.choices], required=False
    )
    metric = forms.ChoiceField(choices=[("", "Any metric"), *Metric.choices], required=False)
    status = forms.ChoiceField(
        choices=[("", "Any status"), *GoalStatus.choices], required=False, initial="active"
    )


class GoalForm(ScopedForm):
    title = TextField(max_length=200)
    owner_type = forms.ChoiceField(label="For", choices=OwnerType.choices)
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, widget=LongSelect)
    rep = forms.ModelChoiceField(
        queryset=SalesRep.objects.none(), required=False, label="Rep", widget=LongSelect
    )
    metric = forms.ChoiceField(choices=Metric.choices)
    period_kind = forms.ChoiceField(label="Period", choices=PeriodKind.choices)
    period_start = DateField(label="Starting", initial=timezone.localdate)
    period_end = DateField(label="Ending (custom dates)", required=False)
    target_value = AmountField(label="Target", max_digits=14)
    calculation_source = forms.ChoiceField(
        label="Value", choices=Source.choices, initial=Source.AUTO
    )
    description = TextField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["team"].queryset = crm_selectors.team_list(user=user, for_write=True)
        if not may_choose_rep(user):
            # A rep sets goals for themselves.
            self.fields["owner_type"].choices = [(OwnerType.INDIVIDUAL, "Me")]
            del self.fields["team"], self.fields["rep"]
        else:
            self.fields["rep"].queryset = crm_selectors.rep_list(user=user)
            if not may_set_company_goals(user):
                self.fields["owner_type"].choices = [
                    c for c in OwnerType.choices if c[0] != OwnerType.COMPANY
                ]


# A parent outside what the user sees, named as the goal's page names it.
HIDDEN_PARENT = "A goal you do not see"


def goal_choice(goal) -> str:
    """A goal as a parent to choose: its title and owner."""
    return f"{goal} ({goal.owner_name})"


class GoalChoiceField(forms.TypedChoiceField):
    """A choice among goals (`set_goals`), by id, that cleans to the goal chosen: the services
    take the goal, and read it again in the actor's scope."""

    def __init__(self, **kwargs) -> None:
        super().__init__(coerce=int, empty_value=None, **kwargs)
        self.goals: dict[int, Goal] = {}

    def set_goals(self, goals: list[Goal], *, blank: str = "", label=goal_choice) -> None:
        """Offer `goals` (and, with `blank`, no goal at all, named so)."""
        self.goals = {goal.pk: goal for goal in goals}
        self.choices = [*([("", blank)] if blank else []), *((g.pk, label(g)) for g in goals)]

    def clean(self, value) -> Goal | None:
        chosen = super().clean(value)  # an id among the choices, or None
        return None if chosen is None else self.goals[chosen]


TARGET_REASON_HELP = (
    "Needed to change the target once the period has started (at least 10 characters); the "
    "original target is kept beside it."
)


class GoalEditForm(ServiceForm):
    title = TextField(max_length=200)
    target_value = AmountField(label="Target", max_digits=14)
    reason = TextField(
        label="Why the target changes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=TARGET_REASON_HELP,
    )
    description = TextField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    parent = GoalChoiceField(
        label="Counts toward",
        required=False,
        help_text="Goals of the same metric whose period holds this goal's, that you may change.",
    )

    def __init__(self, *args, candidates: list, current=None, parent_id=None, **kwargs) -> None:
        """`candidates`: the goals it may go under; `current`: the one it is under now, if the
        user sees it; `parent_id`: the goal it is under now, seen or not."""
        super().__init__(*args, **kwargs)
        field = self.fields["parent"]
        if parent_id is not None and current is None:
            # Under a goal the user does not see (its rep moved teams): a select could not show
            # it chosen, and a browser would send "no goal above it". It stays, said as the
            # goal's page says it; unlinking is a step of its own there.
            field.disabled = True
            field.set_goals([Goal(pk=parent_id)], label=lambda goal: HIDDEN_PARENT)
            field.help_text = "It stays under that goal; unlink it on the goal's page."
            return
        others = [goal for goal in candidates if current is None or goal.pk != current.pk]
        if current is None and not others:  # nothing to choose: no control
            del self.fields["parent"]
            return
        offered = [current, *others] if current is not None else others
        field.set_goals(offered, blank="No goal above it")

    def clean(self):
        cleaned = super().clean()
        # The parent goes to the service only when the person chose another one: an edit of the
        # words or the target never links or unlinks by itself.
        if "parent" not in self.changed_data:
            cleaned.pop("parent", None)
        return cleaned


class AdjustForm(ServiceForm):
    value = AmountField(label="New value", max_digits=14)
    justification = TextField(
        label="Why", widget=forms.Textarea(attrs={"rows": 3}), help_text="At least 10 characters."
    )


class LinkForm(ServiceForm):
    parent = GoalChoiceField(label="Put under")

    def __init__(self, *args, candidates, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].set_goals(candidates)


class StatusForm(ServiceForm):
    status = forms.ChoiceField(choices=GoalStatus.choices)


class AnalyticsFilterForm(forms.Form):
    metric = forms.ChoiceField(choices=[("", "Any metric"), *Metric.choices], required=False)
    owner_type = forms.ChoiceField(
        label="Owner", choices=[("", "Any owner"), *OwnerType.choices], required=False
    )
    start_date = DateField(label="Periods from", required=False)
    attainment = forms.ChoiceField(
        label="Reached against", choices=selectors.Attainment.CHOICES, required=False
    )

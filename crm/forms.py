"""Forms of the core's pages. They check the shape of the input only; the rules that span records
(who may own what, which customer a user may pick) live in crm.services and crm.roles, and a
row's own rules (a phone number, a unique code) in the models, which the services check.

Choice fields take their querysets from the role-scoped selectors, so a user can neither see nor
submit a customer or rep outside their scope.
"""

from django import forms
from django.utils import timezone

from crm import selectors
from crm.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    ActivityStatus,
    Customer,
    CustomerStatus,
    Deal,
    DealOutcome,
    DealStage,
    SalesRep,
    Task,
    TaskStatus,
)
from crm.roles import may_choose_rep, sees_everything, user_zone
from crm.selectors import (
    ACTIVITY_ORDERINGS,
    ACTIVITY_SEARCH,
    CUSTOMER_ORDERINGS,
    CUSTOMER_SEARCH,
    DEAL_ORDERINGS,
    DEAL_SEARCH,
    OPEN_STAGES,
    SEARCH_MAX_LENGTH,
    TASK_ORDERINGS,
    TASK_SEARCH,
    Search,
)
from crm.validators import validate_storable_text
from crm.web import (
    AmountField,
    DateTimeField,
    LongChoiceField,
    OrderingField,
    ScopedForm,
    ServiceForm,
    TextField,
)


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: SalesRep) -> str:
        return f"{obj} ({obj.employee_code})"


def offer_reps(form: ScopedForm, field: str = "rep") -> None:
    """Reps always work on their own records, so the rep field is only offered to those who
    choose a rep (crm.roles.may_choose_rep), among the reps they see."""
    if may_choose_rep(form.user):
        form.fields[field].queryset = selectors.rep_list(user=form.user)
    else:
        del form.fields[field]


class SalesForm(ScopedForm):
    """A deal or activity form: the customer among those the user sees, the rep if they
    choose one."""

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["customer"].queryset = selectors.customer_list(user=user)
        offer_reps(self)


class DealForm(SalesForm):
    title = TextField(max_length=_max_length(Deal, "title"))
    customer = forms.ModelChoiceField(queryset=Customer.objects.none())
    amount = AmountField()
    stage = forms.ChoiceField(choices=DealStage.open_choices(), initial=DealStage.PROSPECTING)
    rep = RepChoiceField(queryset=SalesRep.objects.none(), label="Sales rep")


class DealEditForm(DealForm):
    # The version of the deal this form was opened on: a save after someone else's is refused.
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    @classmethod
    def initial_for(cls, deal: Deal) -> dict:
        return {
            "title": deal.title,
            "customer": deal.customer_id,
            "amount": deal.amount,
            "stage": deal.stage,
            "rep": deal.rep_id,
            "expected_version": deal.version,
        }


class DealCloseForm(ServiceForm):
    outcome = forms.ChoiceField(choices=DealOutcome.choices)


# --- Activities -------------------------------------------------------------------------------

# The activity form's "Status": still to do, or done already (then it may say how it went).
PLANNED, DONE = "planned", "done"


def say_zone(form: ScopedForm, field: str, help_text: str) -> None:
    """Dates are entered in the user's own zone (crm.periods): the field says which."""
    form.fields[field].help_text = f"{help_text} ({user_zone(form.user)} time)"


class ActivityForm(SalesForm):
    kind = forms.ChoiceField(choices=ActivityKind.choices)
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(), required=False, empty_label="No customer"
    )
    subject = TextField(max_length=_max_length(Activity, "subject"), required=False)
    due_at = DateTimeField(label="When")
    done = forms.TypedChoiceField(
        label="Status",
        choices=[(PLANNED, "To do (planned)"), (DONE, "Done already")],
        coerce=lambda value: value == DONE,
        initial=PLANNED,
        required=False,
        empty_value=False,
    )
    outcome = forms.ChoiceField(
        choices=[("", "—"), *ActivityOutcome.choices],
        required=False,
        help_text="How it went, for an activity done already.",
    )
    notes = TextField(
        max_length=_max_length(Activity, "notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    rep = RepChoiceField(queryset=SalesRep.objects.none(), label="Sales rep")

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        say_zone(self, "due_at", "When it is due, or when it happened")

    @staticmethod
    def initial_for_logging() -> dict:
        """ "Log a visit": a visit, done already, just now."""
        now = timezone.localtime().replace(second=0, microsecond=0)
        return {"kind": ActivityKind.VISIT, "done": DONE, "due_at": now}


class ActivityCompleteForm(ServiceForm):
    """Done, with how it went. Without a notes field (the row's quick "Done") the notes stay
    as they are."""

    outcome = forms.ChoiceField(choices=[("", "—"), *ActivityOutcome.choices], required=False)
    notes = TextField(
        max_length=_max_length(Activity, "notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        if "notes" not in self.data:
            cleaned.pop("notes", None)
        return cleaned


# --- Tasks ------------------------------------------------------------------------------------


class TaskForm(ScopedForm):
    title = TextField(max_length=_max_length(Task, "title"))
    due_at = DateTimeField(label="Due", required=False)
    rep = RepChoiceField(queryset=SalesRep.objects.none(), label="Sales rep")

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        offer_reps(self)
        say_zone(self, "due_at", "Optional")


class TaskStatusForm(ServiceForm):
    """A task's row action: done, or open again (undo)."""

    status = forms.ChoiceField(choices=TaskStatus.choices)


# --- Customers --------------------------------------------------------------------------------


class CustomerEditForm(ServiceForm):
    name = TextField(max_length=_max_length(Customer, "name"))
    contact_name = TextField(
        label="Contact name", max_length=_max_length(Customer, "contact_name"), required=False
    )
    phone = TextField(
        max_length=_max_length(Customer, "phone"),
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    email = forms.EmailField(
        max_length=_max_length(Customer, "email"),
        validators=[validate_storable_text],
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    address = TextField(
        max_length=_max_length(Customer, "address"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )

    @classmethod
    def initial_for(cls, customer: Customer) -> dict:
        return {name: getattr(customer, name) for name in cls.base_fields}


class CustomerForm(ScopedForm, CustomerEditForm):
    """A new customer (a prospect). Supervisors and admins name its owner."""

    code = TextField(
        max_length=_max_length(Customer, "code"),
        required=False,
        help_text="Leave it blank and a new code is made up.",
    )
    owner = RepChoiceField(
        queryset=SalesRep.objects.none(), label="Owner (sales rep)", required=False
    )

    field_order = ["name", "code", "contact_name", "phone", "email", "address", "owner"]

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        offer_reps(self, "owner")
        if "owner" in self.fields:
            # Only admins may leave a prospect unassigned (crm.roles.customer_owner_for).
            unassigned = "Unassigned" if sees_everything(user) else "Choose a rep"
            self.fields["owner"].empty_label = unassigned


class CustomerSignUpForm(ScopedForm):
    """Sign a prospect up. Only an unowned prospect (admins see those) needs its owner named."""

    owner = RepChoiceField(queryset=SalesRep.objects.none(), label="Owner (sales rep)")

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        offer_reps(self, "owner")
        if "owner" in self.fields:
            self.fields["owner"].required = False
            self.fields["owner"].empty_label = "Choose a rep"


# --- List filters -----------------------------------------------------------------------------


class SearchField(TextField):
    """Words to look for in a list, named by what its selector looks in (a Search)."""

    def __init__(self, search: Search) -> None:
        widget = forms.TextInput(attrs={"type": "search", "placeholder": search.label})
        super().__init__(
            label=search.label, max_length=SEARCH_MAX_LENGTH, required=False, widget=widget
        )


class ListFilterForm(ScopedForm):
    """The filters above a core list: its fields are the selector's keyword arguments (an
    invalid value filters nothing). Those who see several reps filter by rep, among the reps
    they see (options written in one pass: an admin sees every rep)."""

    rep = LongChoiceField(label="Rep", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        if may_choose_rep(user):
            reps = selectors.rep_list(user=user)
            options = [(rep.pk, f"{rep} ({rep.employee_code})") for rep in reps]
            self.fields["rep"].set_options([("", "All reps"), *options])
        else:
            del self.fields["rep"]


class DealFilterForm(ListFilterForm):
    search = SearchField(DEAL_SEARCH)
    stage = forms.ChoiceField(
        choices=[("", "All stages"), (OPEN_STAGES, "All open"), *DealStage.choices],
        required=False,
    )
    ordering = OrderingField(DEAL_ORDERINGS)

    field_order = ["search", "stage", "rep", "ordering"]


class ActivityFilterForm(ListFilterForm):
    search = SearchField(ACTIVITY_SEARCH)
    status = forms.ChoiceField(
        choices=[("", "All statuses"), *ActivityStatus.choices], required=False
    )
    ordering = OrderingField(ACTIVITY_ORDERINGS)

    field_order = ["search", "status", "rep", "ordering"]


class TaskFilterForm(ListFilterForm):
    search = SearchField(TASK_SEARCH)
    status = forms.ChoiceField(choices=[("", "All tasks"), *TaskStatus.choices], required=False)
    ordering = OrderingField(TASK_ORDERINGS)

    field_order = ["search", "status", "rep", "ordering"]


class CustomerSearchForm(ListFilterForm):
    search = SearchField(CUSTOMER_SEARCH)
    status = forms.ChoiceField(
        choices=[("", "All statuses"), *CustomerStatus.choices], required=False
    )
    ordering = OrderingField(CUSTOMER_ORDERINGS)

    field_order = ["search", "status", "rep", "ordering"]

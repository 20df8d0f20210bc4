"""Forms for the server-rendered pages. They check the shape of the input only; the rules that
span records (who may own what, which customer a user may pick) live in crm.services.

Choice fields take their querysets from the role-scoped selectors, so a user can neither see nor
submit a customer or rep outside their scope.
"""

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from crm import selectors
from crm.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Customer,
    Deal,
    DealOutcome,
    DealStage,
    SalesRep,
)
from crm.roles import Role, role_of
from crm.selectors import OPEN_STAGES


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: SalesRep) -> str:
        return f"{obj} ({obj.employee_code})"


class ServiceForm(forms.Form):
    """A form whose data goes to a crm.services function, which may refuse it."""

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the form: field errors next to their field, the
        rest (plain messages, fields the form does not have) at the top."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            target = field if field in self.fields and field != NON_FIELD_ERRORS else None
            self.add_error(target, errors)

    def all_errors(self) -> list[str]:
        return [message for errors in self.errors.values() for message in errors]


class ScopedForm(ServiceForm):
    """A form that knows the requesting user. Reps always work on their own records, so the rep
    field is only offered to supervisors and admins."""

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if "customer" in self.fields:
            self.fields["customer"].queryset = selectors.customer_list(user=user)
        if "rep" in self.fields:
            if role_of(user) == Role.REP:
                del self.fields["rep"]
            else:
                self.fields["rep"].queryset = selectors.rep_list(user=user)


class DealForm(ScopedForm):
    title = forms.CharField(max_length=Deal._meta.get_field("title").max_length)
    customer = forms.ModelChoiceField(queryset=Customer.objects.none())
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    stage = forms.ChoiceField(choices=DealStage.open_choices(), initial=DealStage.PROSPECTING)
    rep = RepChoiceField(queryset=SalesRep.objects.none(), label="Sales rep")

    @classmethod
    def initial_for(cls, deal: Deal) -> dict:
        return {
            "title": deal.title,
            "customer": deal.customer_id,
            "amount": deal.amount,
            "stage": deal.stage,
            "rep": deal.rep_id,
        }


class DealCloseForm(ServiceForm):
    outcome = forms.ChoiceField(choices=DealOutcome.choices)


class ActivityForm(ScopedForm):
    kind = forms.ChoiceField(choices=ActivityKind.choices)
    subject = forms.CharField(
        max_length=Activity._meta.get_field("subject").max_length, required=False
    )
    due_at = forms.DateTimeField(
        label="Due",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False)
    rep = RepChoiceField(queryset=SalesRep.objects.none(), label="Sales rep")


class DealFilterForm(forms.Form):
    """The stage filter above the deals list. An unknown value filters nothing."""

    stage = forms.ChoiceField(
        choices=[("", "All stages"), (OPEN_STAGES, "All open"), *DealStage.choices],
        required=False,
    )


class ActivityFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "All statuses"), *ActivityStatus.choices], required=False
    )


class CustomerSearchForm(forms.Form):
    q = forms.CharField(label="Search", max_length=100, required=False)

"""Forms of the core's pages. They check the shape of the input only; the rules that span records
(who may own what, which customer a user may pick) live in crm.services and crm.roles.

Choice fields take their querysets from the role-scoped selectors, so a user can neither see nor
submit a customer or rep outside their scope.
"""

from django import forms

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
from crm.web import AmountField, DateTimeField, ScopedForm, ServiceForm


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: SalesRep) -> str:
        return f"{obj} ({obj.employee_code})"


class SalesForm(ScopedForm):
    """A deal or activity form. Reps always work on their own records, so the rep field is only
    offered to supervisors and admins."""

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["customer"].queryset = selectors.customer_list(user=user)
        if role_of(user) == Role.REP:
            del self.fields["rep"]
        else:
            self.fields["rep"].queryset = selectors.rep_list(user=user)


class DealForm(SalesForm):
    title = forms.CharField(max_length=Deal._meta.get_field("title").max_length)
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


class ActivityForm(SalesForm):
    kind = forms.ChoiceField(choices=ActivityKind.choices)
    subject = forms.CharField(
        max_length=Activity._meta.get_field("subject").max_length, required=False
    )
    due_at = DateTimeField(label="Due")
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False)
    rep = RepChoiceField(queryset=SalesRep.objects.none(), label="Sales rep")


class DealFilterForm(forms.Form):
    """The stage filter above the deals list (its fields are deal_list's keyword arguments). An
    unknown value filters nothing."""

    stage = forms.ChoiceField(
        choices=[("", "All stages"), (OPEN_STAGES, "All open"), *DealStage.choices],
        required=False,
    )


class ActivityFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "All statuses"), *ActivityStatus.choices], required=False
    )


class CustomerSearchForm(forms.Form):
    search = forms.CharField(
        label="Name or code",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or code"}),
    )

"""API shapes. Output serializers describe what is read; input serializers describe what a write
accepts. Related records are looked up in the caller's role scope, so an id outside it is "not
found" (400), never a leak."""

from rest_framework import serializers

from crm import selectors
from crm.api.base import DateTimeField, ScopedPrimaryKeyRelatedField, TextField
from crm.models import (
    MAX_QUANTITY,
    Activity,
    ActivityKind,
    ActivityOutcome,
    ActivityStatus,
    Customer,
    Deal,
    DealOutcome,
    DealStage,
    Route,
    RouteStop,
    Task,
    TaskStatus,
)
from crm.validators import validate_storable_text


def _rep_field(**kwargs):
    return ScopedPrimaryKeyRelatedField(
        selector=selectors.rep_list,
        required=False,
        help_text="Defaults to the caller when they are a rep; supervisors and admins choose.",
        **kwargs,
    )


def _customer_field(**kwargs):
    return ScopedPrimaryKeyRelatedField(selector=selectors.customer_list, **kwargs)


class RepSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="__str__")
    employee_code = serializers.CharField()


# --- Customers --------------------------------------------------------------------------------


class CustomerOutputSerializer(serializers.ModelSerializer):
    owner = RepSummarySerializer(allow_null=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "code",
            "name",
            "contact_name",
            "phone",
            "email",
            "address",
            "status",
            "owner",
            "signed_up_at",
            "created_at",
        ]


def _blank_or_text(max_length: int, **kwargs) -> TextField:
    return TextField(max_length=max_length, required=False, allow_blank=True, **kwargs)


class CustomerUpdateInputSerializer(serializers.Serializer):
    """A customer's name and contact details (PATCH: send only what changes)."""

    name = TextField(max_length=200, required=False)
    contact_name = _blank_or_text(120, help_text="Who to ask for.")
    phone = _blank_or_text(40, help_text="Digits, spaces and + ( ) - . (at least 3 digits).")
    email = serializers.EmailField(
        max_length=254, required=False, allow_blank=True, validators=[validate_storable_text]
    )
    address = _blank_or_text(300)


class CustomerInputSerializer(CustomerUpdateInputSerializer):
    name = TextField(max_length=200)
    code = _blank_or_text(30, help_text="Left out or blank: a new unique code is made up.")
    owner = _rep_field(allow_null=True)


class CustomerSignUpInputSerializer(serializers.Serializer):
    owner = _rep_field(allow_null=True)


# --- Deals ------------------------------------------------------------------------------------


class DealOutputSerializer(serializers.ModelSerializer):
    rep = RepSummarySerializer()
    customer = serializers.SerializerMethodField()
    version = serializers.IntegerField(
        read_only=True, help_text="Send it back as expected_version to save only over this one."
    )

    class Meta:
        model = Deal
        fields = [
            "id",
            "title",
            "amount",
            "stage",
            "customer",
            "rep",
            "closed_at",
            "created_at",
            "updated_at",
            "version",
        ]

    def get_customer(self, deal: Deal) -> dict:
        return {"id": deal.customer_id, "code": deal.customer.code, "name": deal.customer.name}


class DealCreateInputSerializer(serializers.Serializer):
    customer = _customer_field()
    rep = _rep_field()
    title = TextField(max_length=200)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    stage = serializers.ChoiceField(choices=DealStage.open_choices(), required=False)


class DealUpdateInputSerializer(DealCreateInputSerializer):
    customer = _customer_field(required=False)
    title = TextField(max_length=200, required=False)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    expected_version = serializers.IntegerField(
        required=False,
        help_text="The deal's `version` as you read it: if someone saved it since, 409.",
    )


class DealCloseInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=DealOutcome.choices)


# --- Activities -------------------------------------------------------------------------------


class ActivityOutputSerializer(serializers.ModelSerializer):
    rep = RepSummarySerializer()

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "status",
            "subject",
            "customer",
            "rep",
            "due_at",
            "completed_at",
            "outcome",
            "notes",
            "created_at",
        ]


def _outcome_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=ActivityOutcome.choices,
        required=False,
        allow_blank=True,
        help_text="How it went; only for an activity that is done.",
    )


def _notes_field() -> TextField:
    return _blank_or_text(2000)


class ActivityInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    due_at = DateTimeField(help_text="When it is due; for one done already, when it happened.")
    status = serializers.ChoiceField(
        choices=[ActivityStatus.PLANNED, ActivityStatus.COMPLETED],
        default=ActivityStatus.PLANNED,
        help_text="`completed` logs an activity done already (at `due_at`, not in the future).",
    )
    subject = TextField(max_length=200, required=False, allow_blank=True)
    customer = _customer_field(required=False, allow_null=True)
    rep = _rep_field()
    outcome = _outcome_field()
    notes = _notes_field()

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        values["done"] = values.pop("status") == ActivityStatus.COMPLETED
        return values


class ActivityCompleteInputSerializer(serializers.Serializer):
    outcome = _outcome_field()
    notes = TextField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Left out: the notes stay as they are; given: they replace them.",
    )


# --- Tasks ------------------------------------------------------------------------------------


class TaskOutputSerializer(serializers.ModelSerializer):
    rep = RepSummarySerializer()

    class Meta:
        model = Task
        fields = ["id", "title", "status", "rep", "due_at", "completed_at", "created_at"]


class TaskInputSerializer(serializers.Serializer):
    title = TextField(max_length=200)
    due_at = DateTimeField(required=False, allow_null=True)
    rep = _rep_field()


class TaskStatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TaskStatus.choices)


# --- Routes -----------------------------------------------------------------------------------


class RouteStopOutputSerializer(serializers.ModelSerializer):
    customer = serializers.SerializerMethodField()

    class Meta:
        model = RouteStop
        fields = ["id", "sequence", "customer", "planned_quantity"]

    def get_customer(self, stop: RouteStop) -> dict:
        return {"id": stop.customer_id, "code": stop.customer.code, "name": stop.customer.name}


class RouteOutputSerializer(serializers.ModelSerializer):
    rep = RepSummarySerializer(allow_null=True)
    stop_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Route
        fields = ["id", "code", "name", "active", "rep", "stop_count"]


class RouteDetailOutputSerializer(RouteOutputSerializer):
    stops = RouteStopOutputSerializer(many=True)

    class Meta(RouteOutputSerializer.Meta):
        fields = [*RouteOutputSerializer.Meta.fields, "stops"]


class RouteStopInputSerializer(serializers.Serializer):
    customer = _customer_field()
    sequence = serializers.IntegerField(min_value=1, max_value=32767)
    planned_quantity = serializers.IntegerField(
        min_value=0,
        max_value=MAX_QUANTITY,
        required=False,
        help_text="A whole number of units.",
    )

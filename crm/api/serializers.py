"""API shapes. Output serializers describe what is read; input serializers describe what a write
accepts. Related records are looked up in the caller's role scope, so an id outside it is "not
found" (400), never a leak."""

from rest_framework import serializers

from crm import selectors
from crm.api.base import DateTimeField, ScopedPrimaryKeyRelatedField
from crm.models import (
    Activity,
    ActivityKind,
    Customer,
    Deal,
    DealOutcome,
    DealStage,
    Route,
    RouteStop,
    Task,
    TaskStatus,
)


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
        fields = ["id", "code", "name", "address", "status", "owner", "signed_up_at", "created_at"]


class CustomerInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=200)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
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
    title = serializers.CharField(max_length=200)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    stage = serializers.ChoiceField(choices=DealStage.open_choices(), required=False)


class DealUpdateInputSerializer(DealCreateInputSerializer):
    customer = _customer_field(required=False)
    title = serializers.CharField(max_length=200, required=False)
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
            "created_at",
        ]


class ActivityInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    due_at = DateTimeField()
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True)
    customer = _customer_field(required=False, allow_null=True)
    rep = _rep_field()


# --- Tasks ------------------------------------------------------------------------------------


class TaskOutputSerializer(serializers.ModelSerializer):
    rep = RepSummarySerializer()

    class Meta:
        model = Task
        fields = ["id", "title", "status", "rep", "due_at", "completed_at", "created_at"]


class TaskInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
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
    planned_quantity = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False
    )

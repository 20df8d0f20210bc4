"""The supervision API, under /api/supervision/ (supervisors: their teams' routes; admins: all):

    GET   days/{route}/{date}/            the day: its session, or the draft of the route's stops
    POST  days/{route}/{date}/save/       save it {"record_version", "client_token", "lines"}
    PATCH days/{route}/{date}/lines/      change lines and keep it a draft (same body)
    POST  days/{route}/{date}/analysis/   {"kind": "route"|"customer", "customer", "lines"}
    GET   sessions/                       saved and draft days (?route=, ?date_from=, ?date_to=)
    GET   sessions/{id}/                  one of them
    POST  sessions/{id}/reopen/           an administrator reopens a read-only day {"reason"}

A write names the `record_version` it was based on (0 for a day not saved yet): 409 when
someone wrote since, naming who and when, with the day's lines as they are now and the fields
of each line that you and they both changed (send each line's `base`, the values you read, for
a three-way answer; without it every field you send that differs is named), so that a client
can merge and send again (and the customers you changed that are no longer lines of the day,
`dropped`: not kept). Quantities, planned and actual, are whole numbers: a negative one is
stored as 0 (the answer's `notices` say so), one above 999,999 is a 400.
"""

import uuid
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from crm.api.base import IdField, ScopedModelChoiceFilter, ScopedViewSet, TextField
from crm.api.schema import ErrorSerializer
from crm.ids import NOT_AN_ID
from crm.models import Route
from crm.validators import NOT_A_TEXT
from supervision import analysis, merge, rules, selectors, services
from supervision.models import (
    MAX_QUANTITY,
    NOTE_LENGTH,
    AnalysisKind,
    ReasonCode,
    SessionStatus,
    SupervisionSession,
)

MAX_LINES = 2000
NOT_A_BOOLEAN = "Send true or false."
NOT_A_REASON = "Send one of the reasons, or an empty text."
NOT_A_LINE = "Send each line as an object."
BASE_UNREADABLE = (
    "Send the line as you read it: visited (true or false), actual_quantity (0 to 999,999), "
    "reason (one of the reasons, or empty) and note (text)."
)


# --- Shapes ---------------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.INT)
class QuantityField(serializers.Field):
    """A whole number (supervision.rules.clean_quantity): negative is stored as 0 with a
    notice, above 999,999 refused; 3.5, "ten", a list or an object refused; null or "" is 0.
    Read as (quantity, notice or None)."""

    def run_validation(self, data=serializers.empty):
        if data is None:
            return rules.clean_quantity(None)
        return super().run_validation(data)

    def to_internal_value(self, data) -> tuple[int, str | None]:
        try:
            return rules.clean_quantity(data)
        except DjangoValidationError as error:
            raise ValidationError(error.messages) from None

    def to_representation(self, value) -> int:
        return int(value)


class ReasonField(serializers.ChoiceField):
    """One of the reasons (ReasonCode), or "" for none: a text, never a number or a list
    whose spelling happens to be one."""

    default_error_messages = {"invalid_choice": NOT_A_REASON, "null": NOT_A_REASON}

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=[("", "None"), *ReasonCode.choices], allow_blank=True, **kwargs)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


def _boolean(**kwargs) -> serializers.BooleanField:
    messages = {"invalid": NOT_A_BOOLEAN, "null": NOT_A_BOOLEAN}
    return serializers.BooleanField(error_messages=messages, **kwargs)


def _note(**kwargs) -> TextField:
    return TextField(
        allow_blank=True, max_length=NOTE_LENGTH, error_messages={"null": NOT_A_TEXT}, **kwargs
    )


class BaseSerializer(serializers.Serializer):
    """A line's four values as read (documents BaseField)."""

    visited = serializers.BooleanField()
    actual_quantity = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY)
    reason = ReasonField()
    note = _note()


@extend_schema_field(BaseSerializer)
class BaseField(serializers.Field):
    """The line as the client read it (supervision.merge.from_mapping): the four values, each
    of its exact type, or one error naming them all."""

    default_error_messages = {"invalid": BASE_UNREADABLE, "null": BASE_UNREADABLE}

    def to_internal_value(self, data) -> merge.Recorded:
        base = merge.from_mapping(data)
        if base is None:
            self.fail("invalid")
        return base


class LineInputSerializer(serializers.Serializer):
    """One line of a write: every field's type is checked before its value is used, so that
    a list, an object, a number out of range or half a character is a 400 on its field."""

    default_error_messages = {"invalid": NOT_A_LINE, "null": NOT_A_LINE}

    customer = IdField(
        help_text="The customer of one of the route's stops.",
        error_messages={"null": NOT_AN_ID},
    )
    base = BaseField(
        required=False,
        help_text="The line as you read it (its four values at `record_version`): if someone "
        "wrote meanwhile, the 409 names only the fields you both changed.",
    )
    visited = _boolean(required=False)
    actual_quantity = QuantityField(required=False)
    reason = ReasonField(required=False)
    note = _note(required=False)

    def to_internal_value(self, data) -> dict:
        # DRF's own loop less what a line never has (form input, validate_<field> methods,
        # dotted sources): a route of 300 stops is read in a third of the time.
        if not isinstance(data, Mapping):
            raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [NOT_A_LINE]})
        line, errors = {}, {}
        for name, field in self.fields.items():
            if name not in data:
                if field.required:
                    errors[name] = [field.error_messages["required"]]
                continue
            try:
                line[name] = field.run_validation(data[name])
            except ValidationError as refused:
                errors[name] = refused.detail
        if errors:
            raise ValidationError(errors)
        return line


@extend_schema_field(LineInputSerializer(many=True))
class LinesField(serializers.Field):
    """A write's lines, each read by LineInputSerializer (one instance for every line: a new
    serializer per line costs about 30 ms for a route of 300 stops, the whole budget of a
    save). Errors come as DRF's own for a list: {index: {field: [messages]}}."""

    default_error_messages = {
        "not_a_list": "Send the lines as a list.",
        "too_many": f"Send at most {MAX_LINES} lines.",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.child = LineInputSerializer()
        self.child.bind(field_name="", parent=self)

    def to_internal_value(self, data) -> list[dict]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if len(data) > MAX_LINES:
            self.fail("too_many")
        lines, errors = [], {}
        for index, item in enumerate(data):
            try:
                lines.append(self.child.run_validation(item))
            except ValidationError as refused:
                errors[index] = refused.detail
        if errors:
            raise ValidationError(errors)
        return lines

    def to_representation(self, value):  # input only
        return value


class SaveInputSerializer(serializers.Serializer):
    record_version = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, help_text="The version you read (0: nothing saved yet)."
    )
    client_token = serializers.UUIDField(
        required=False, allow_null=True,
        help_text="Any UUID of yours: the same write sent twice is applied once.",
    )  # fmt: skip
    lines = LinesField()


class AnalysisInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AnalysisKind.choices)
    customer = IdField(required=False, help_text="For a customer review.")
    lines = LinesField(
        required=False, help_text="Changes not saved yet, to review the day as you hold it."
    )  # fmt: skip


class ReopenInputSerializer(serializers.Serializer):
    reason = TextField(min_length=services.REOPEN_REASON_MIN, max_length=300)


class RouteRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class LineSerializer(serializers.Serializer):
    customer = serializers.IntegerField(source="customer_id")
    customer_name = serializers.CharField()
    stop_order = serializers.IntegerField()
    planned_quantity = serializers.IntegerField(min_value=0)
    visited = serializers.BooleanField()
    actual_quantity = serializers.IntegerField()
    reason = serializers.CharField()
    note = serializers.CharField()


@extend_schema_field(LineSerializer(many=True))
class LinesOutField(serializers.Field):
    """A day's lines as LineSerializer documents them, written in one pass (300 lines through
    DRF's serializers: 15 ms)."""

    def to_representation(self, lines) -> list[dict]:
        return [
            {"customer": line.customer_id, "customer_name": line.customer_name,
             "stop_order": line.stop_order, "planned_quantity": line.planned_quantity,
             "visited": line.visited, "actual_quantity": line.actual_quantity,
             "reason": line.reason, "note": line.note}
            for line in lines
        ]  # fmt: skip


class SummarySerializer(serializers.Serializer):
    customers_planned = serializers.IntegerField()
    customers_visited = serializers.IntegerField()
    productive_stops = serializers.IntegerField()
    zero_sale_visits = serializers.IntegerField()
    unvisited_stops = serializers.IntegerField()
    visit_compliance = serializers.DecimalField(max_digits=6, decimal_places=2)
    strike_rate = serializers.DecimalField(max_digits=6, decimal_places=2)
    planned_total = serializers.IntegerField(min_value=0)
    actual_total = serializers.IntegerField(min_value=0)
    gap = serializers.IntegerField(help_text="Planned minus actual total (negative: above plan).")
    achievement_percent = serializers.DecimalField(max_digits=8, decimal_places=2)
    drop_size = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="The average actual of a stop that sold."
    )


class ConflictingLineSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    fields = serializers.ListField(child=serializers.ChoiceField(choices=merge.FIELDS))


class DayChangedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField())
    record_version = serializers.IntegerField(help_text="The day's version now: send it back.")
    read_only = serializers.BooleanField(help_text="Saved meanwhile: nothing more can be sent.")
    read_only_reason = serializers.CharField()
    written_by = serializers.CharField()
    written_at = serializers.DateTimeField(allow_null=True)
    lines = LinesOutField(help_text="The day's lines as they are now.")
    conflicts = ConflictingLineSerializer(
        many=True, help_text="The lines, and their fields, that you and they both changed."
    )
    dropped = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The customers you changed that are no longer lines of the day: not kept.",
    )


class NoticeSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    message = serializers.CharField()


class DaySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="session.pk", allow_null=True, default=None)
    route = RouteRefSerializer()
    date = serializers.DateField()
    status = serializers.ChoiceField(choices=["new", *SessionStatus.values])
    read_only = serializers.SerializerMethodField()
    read_only_reason = serializers.CharField(source="read_only")
    record_version = serializers.IntegerField()
    written_by = serializers.CharField()
    written_at = serializers.DateTimeField(allow_null=True)
    summary = SummarySerializer(source="figures")
    lines = LinesOutField()
    notices = serializers.SerializerMethodField()

    def get_notices(self, day) -> list[dict]:
        rows = [
            {"customer": customer, "message": message}
            for customer, said in day.notices.items()
            for message in said
        ]
        return NoticeSerializer(rows, many=True).data

    def get_read_only(self, day) -> bool:
        return bool(day.read_only)


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    route = RouteRefSerializer()
    date = serializers.DateField()
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    record_version = serializers.IntegerField(source="summary.record_version")
    saved_at = serializers.DateTimeField(allow_null=True)
    reopened_at = serializers.DateTimeField(allow_null=True)
    summary = SummarySerializer()


class AnalysisSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AnalysisKind.choices)
    route = serializers.CharField(source="route.code")
    date = serializers.DateField()
    customer = serializers.IntegerField(source="customer_id", allow_null=True)
    provider = serializers.CharField()
    fallback_reason = serializers.CharField(help_text="Why the rules answered, if they did.")
    findings = serializers.ListField(child=serializers.CharField())
    suggestions = serializers.ListField(child=serializers.CharField())
    figures = serializers.JSONField(help_text="The figures the review was written from.")
    from_cache = serializers.BooleanField()
    created_at = serializers.DateTimeField()


# --- Endpoints ------------------------------------------------------------------------------------


def _changes(lines: list[dict]) -> tuple[list[rules.Change], dict[int, list[str]]]:
    changes, notices = [], {}
    for line in lines:
        line = {name: value for name, value in line.items() if name != "base"}
        quantity, notice = line.get("actual_quantity", (None, None))
        if notice:
            notices.setdefault(line["customer"], []).append(notice)
        changes.append(
            rules.Change(
                customer_id=line["customer"],
                visited=line.get("visited"),
                actual_quantity=quantity,
                reason=line.get("reason"),
                note=line.get("note"),
            )
        )
    return changes, notices


def _line_errors(refused: rules.LineErrors) -> ValidationError:
    # The shape of DRF's own errors of a list: {"lines": {"<index>": {field: [messages]}}}.
    return ValidationError({"lines": dict(refused.by_line)})


def _day_changed(changed: services.DayChanged) -> dict:
    day = changed.day
    return DayChangedSerializer(
        {
            "detail": changed.message,
            "fields": changed.fields,
            "record_version": day.record_version,
            "read_only": bool(day.read_only),
            "read_only_reason": day.read_only,
            "written_by": day.written_by,
            "written_at": day.written_at,
            "lines": day.lines,
            "conflicts": changed.merged.conflicting_fields(),
            "dropped": changed.merged.dropped,
        }
    ).data


class SessionFilter(filters.FilterSet):
    route = ScopedModelChoiceFilter(selector=selectors.route_list, model=Route)
    date_from = filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = filters.DateFilter(field_name="date", lookup_expr="lte")
    status = filters.ChoiceFilter(choices=SessionStatus.choices)

    class Meta:
        model = SupervisionSession
        fields = ["route", "date_from", "date_to", "status"]


class SessionViewSet(ScopedViewSet):
    """Saved and draft days of the routes you review."""

    area = "supervision"
    selector = staticmethod(selectors.session_list)
    output_serializer_class = SessionSerializer
    filterset_class = SessionFilter
    ordering_fields = ["date"]
    inputs = {"reopen": ReopenInputSerializer}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SupervisionSession.objects.none()
        return super().get_queryset()

    def get_object(self):
        try:
            pk = uuid.UUID(str(self.kwargs["pk"]))
        except ValueError:
            raise Http404("No such session.") from None
        session = self.get_queryset().filter(pk=pk).first()
        if session is None:
            raise Http404("No such session.")
        return session

    @extend_schema(request=ReopenInputSerializer, responses=SessionSerializer)
    def reopen(self, request, pk=None):
        """Reopen a read-only day (administrators), saying why: a saved day, or a draft past
        its review window. It can be edited again; 400 when there is nothing to reopen."""
        session = self.get_object()
        services.session_reopen(
            actor=request.user, session_id=session.pk, reason=self.input()["reason"]
        )
        return self.answer(self.get_object())


class DayViewSet(ScopedViewSet):
    """A route's day: read it, save it, change lines, review it."""

    area = "supervision"
    output_serializer_class = DaySerializer
    inputs = {
        "save": SaveInputSerializer,
        "lines": SaveInputSerializer,
        "analysis": AnalysisInputSerializer,
    }

    def get_queryset(self):
        return SupervisionSession.objects.none()

    @extend_schema(responses=DaySerializer)
    def retrieve_day(self, request, route=None, date=None):
        """The day: its session, or (`status` "new", version 0) the route's stops as a draft."""
        day = selectors.day(user=request.user, route_id=int(route), date=selectors.parse_day(date))
        return Response(DaySerializer(day).data)

    def _write(self, request, route, date, *, finish: bool) -> Response:
        data = self.input()
        changes, notices = _changes(data["lines"])
        bases = {line["customer"]: line["base"] for line in data["lines"] if "base" in line}
        try:
            written = services.session_write(
                actor=request.user, route_id=int(route), date=selectors.parse_day(date),
                record_version=data["record_version"], changes=changes,
                client_token=data.get("client_token"), finish=finish, parse_notices=notices,
                bases=bases,
            )  # fmt: skip
        except rules.LineErrors as refused:
            raise _line_errors(refused) from None
        except services.DayChanged as changed:
            return Response(_day_changed(changed), status=status.HTTP_409_CONFLICT)
        return Response(DaySerializer(written.day).data)

    @extend_schema(
        request=SaveInputSerializer,
        responses={
            200: DaySerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: DayChangedSerializer,
        },
        description="Save the day (it becomes read-only). 409 when someone wrote since "
        "`record_version`, with the day as it is now and the fields you both changed; 403 "
        "when the day is read-only.",
    )
    def save(self, request, route=None, date=None):
        return self._write(request, route, date, finish=True)

    @extend_schema(
        request=SaveInputSerializer,
        responses={
            200: DaySerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: DayChangedSerializer,
        },
        description="Change lines and keep the day a draft; versioned like a save.",
    )
    def lines(self, request, route=None, date=None):
        return self._write(request, route, date, finish=False)

    @extend_schema(
        request=AnalysisInputSerializer,
        responses={
            200: AnalysisSerializer,
            404: ErrorSerializer,
            429: OpenApiResponse(ErrorSerializer, description="Too many new reviews: see the "
                                 "Retry-After header (seconds)."),
        },
    )  # fmt: skip
    def analysis(self, request, route=None, date=None):
        """A route or customer review: answered from the cache when nothing changed, else new
        (at most SUPERVISION_ANALYSIS_LIMIT per window per user and kind)."""
        data = self.input()
        changes, _ = _changes(data.get("lines", []))
        try:
            result = analysis.review(
                actor=request.user, route_id=int(route), date=selectors.parse_day(date),
                kind=data["kind"], customer_id=data.get("customer"), changes=changes or None,
            )  # fmt: skip
        except rules.LineErrors as refused:
            raise _line_errors(refused) from None
        except analysis.RateLimited as limited:
            return Response(
                {"detail": str(limited)},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(limited.retry_after)},
            )
        review = result.analysis
        review.from_cache = result.from_cache
        return Response(AnalysisSerializer(review).data)

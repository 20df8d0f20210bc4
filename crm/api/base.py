"""What every app's API is built from: a viewset over a role-scoped selector, related ids and
filter choices looked up in the caller's scope, and date fields that keep to the CRM's range.

    class DealViewSet(ScopedViewSet):
        area = "sales"
        selector = selectors.deal_list
        output_serializer_class = DealOutputSerializer
        inputs = {"create": DealCreateInputSerializer, "close": DealCloseInputSerializer}

        def create(self, request):
            deal = services.deal_create(actor=request.user, **self.input())
            return self.answer(deal, code=status.HTTP_201_CREATED)

The OpenAPI schema (crm.api.schema) reads `inputs` for each action's request body.
"""

import datetime as dt
from collections.abc import Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.utils import timezone
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from crm import periods
from crm.idempotency.guard import once_per_key
from crm.ids import ID_PATTERN, MAX_ID, NOT_AN_ID, parse_id
from crm.roles import user_zone
from crm.selectors import SEARCH_MAX_LENGTH, Ordering, Search
from crm.validators import (
    NOT_A_TEXT,
    NOTHING_VISIBLE,
    MinVisibleLengthValidator,
    validate_storable_text,
    visible_length,
)


class ScopedViewSet(viewsets.GenericViewSet):
    """list + retrieve over a role-scoped selector; writes parse with `inputs[action]` and answer
    with the output serializer and the row their service returned (no second read).

    A list whose selector searches and sorts (`search` and `ordering` arguments, as the core's
    do) follows the rules of its page: `?search=` and `?ordering=` go to the selector, checked
    first (400), documented in the schema (crm.api.schema). `search` is what it looks in (a
    crm.selectors.Search), `orderings` the selector's whitelist (the first its default). DRF's
    own search and ordering filters then stay out of that list."""

    # The area of the site the endpoints belong to (crm.areas): a caller whose role may not use
    # it is refused (crm.api.permissions.UsesArea). Every viewset names one.
    area: str | None = None
    selector: Callable | None = None
    output_serializer_class: type[serializers.Serializer] | None = None
    inputs: dict[str, type[serializers.Serializer] | None] = {}
    search: Search | None = None
    orderings: dict[str, Ordering] | None = None

    @property
    def filter_backends(self) -> list[type]:
        replaced = [SearchFilter] if self.search is not None else []
        replaced += [OrderingFilter] if self.orderings is not None else []
        return [
            backend
            for backend in api_settings.DEFAULT_FILTER_BACKENDS
            if not issubclass(backend, tuple(replaced))
        ]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # One rule for dates (crm.periods): the caller's zone, as on their pages. Session
        # callers have it from TimezoneMiddleware; token callers get it here.
        if request.auth is not None:
            timezone.activate(user_zone(request.user))
        once_per_key(self, request)  # a write sent with an Idempotency-Key runs once per key

    def get_queryset(self):
        return type(self).selector(user=self.request.user, **self.list_arguments())

    def list_arguments(self) -> dict:
        """The list's `search` and `ordering`, for its selector (nothing for other actions)."""
        if self.action != "list" or (self.search is None and self.orderings is None):
            return {}
        arguments = ListArgumentsSerializer(
            data=self.request.query_params, search=self.search, orderings=self.orderings
        )
        arguments.is_valid(raise_exception=True)
        return {name: value for name, value in arguments.validated_data.items() if value}

    def get_serializer_class(self):
        return self.output_serializer_class

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.output_serializer_class(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.output_serializer_class(self.get_object()).data)

    def input(self, *, partial: bool = False) -> dict:
        serializer = self.inputs[self.action](
            data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def answer(self, instance, *, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.output_serializer_class(instance).data, status=code)


# --- Text ---------------------------------------------------------------------------------------


class TextField(serializers.CharField):
    """Text, as every database of the CRM can store it (crm.validators): a JSON string (a
    number, a list or an object is refused, never turned into text), no NUL, no half of a
    character. Text that may not be blank needs a character a reader sees, and `min_length`
    counts those only. Every input serializer's text field is one (a test walks them all)."""

    default_error_messages = {"invalid": NOT_A_TEXT}

    def __init__(self, **kwargs) -> None:
        min_length = kwargs.pop("min_length", None)
        super().__init__(**kwargs)
        # DRF's own NUL and surrogate checks give way to the shared one (one message).
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(
                validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator
            )
        ]
        self.validators.append(validate_storable_text)
        self.min_length = min_length  # the schema's minLength too
        if min_length is not None:
            self.validators.append(MinVisibleLengthValidator(min_length))

    def run_validation(self, data=serializers.empty):
        if data is not serializers.empty and data is not None and not isinstance(data, str):
            self.fail("invalid")  # before CharField's blank check reads it as text
        value = super().run_validation(data)
        if value and not self.allow_blank and not visible_length(value):
            raise serializers.ValidationError(NOTHING_VISIBLE, code="blank")
        return value


class ListArgumentsSerializer(serializers.Serializer):
    """`?search=` (as long as the page's search box takes) and `?ordering=` (a key of the
    selector's whitelist; blank: its default), for the lists that have them."""

    search = TextField(
        required=False, allow_blank=True, max_length=SEARCH_MAX_LENGTH, trim_whitespace=True
    )
    ordering = serializers.ChoiceField(choices=[], required=False, allow_blank=True)

    def __init__(self, *args, search: Search | None, orderings: dict | None, **kwargs):
        super().__init__(*args, **kwargs)
        if search is None:
            del self.fields["search"]
        if orderings is None:
            del self.fields["ordering"]
        else:
            self.fields["ordering"].choices = list(orderings)


# --- Ids --------------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.INT)
class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related record's id, looked up through a selector with the requesting user: an id
    outside the caller's scope is "does not exist", exactly like an id that does not."""

    default_error_messages = {"incorrect_type": NOT_AN_ID}

    def __init__(self, selector: Callable, **kwargs):
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.selector(user=self.context["request"].user)

    def to_internal_value(self, data):
        if isinstance(data, str) and ID_PATTERN.fullmatch(data):
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.INT)
class IdField(serializers.Field):
    """A record's id, as a whole number (crm.ids), not looked up: for a service that finds the
    record in the caller's scope itself and answers 404 outside it (where "not yours" must look
    like "not there", not like a bad field)."""

    default_error_messages = {"invalid": NOT_AN_ID}

    def to_internal_value(self, data) -> int:
        pk = parse_id(data)
        if pk is None:
            self.fail("invalid")
        return pk

    def to_representation(self, value) -> int:
        return int(value)


def visible(selector: Callable, model: type[models.Model]) -> Callable:
    """A filter's choices, scoped like the list: an id outside the caller's scope is refused
    exactly like an id that does not exist, so a filter cannot probe for records."""

    def queryset(request):
        if request is None or not request.user.is_authenticated:
            return model.objects.none()
        return selector(user=request.user)

    return queryset


class ScopedModelChoiceFilter(filters.ModelChoiceFilter):
    def __init__(self, *, selector: Callable, model: type[models.Model], **kwargs):
        super().__init__(queryset=visible(selector, model), **kwargs)


# --- Dates ------------------------------------------------------------------------------------


def _check_moment(value: dt.datetime) -> None:
    try:
        periods.validate_in_range(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None


class DateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time in the CRM's range with a real UTC offset (crm.periods): the
    database refuses anything else too, so every stored date can be shown in every zone."""

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        _check_moment(value)
        return super().enforce_timezone(value)


class DateField(serializers.DateField):
    """A date in the CRM's range (crm.periods)."""

    def to_internal_value(self, value) -> dt.date:
        result = super().to_internal_value(value)
        _check_moment(result)
        return result


class SaneIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        result = super().to_python(value)
        if result is not None:
            periods.validate_in_range(result)
            # Compared in UTC: the database never sees the caller's offset.
            result = result.astimezone(dt.UTC)
        return result


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    """`?closed_after=2026-11-01T00:00:00+01:00`: in range, real offset, else 400."""

    field_class = SaneIsoDateTimeField

"""The OpenAPI schema's view of our viewsets: each action's request body comes from the viewset's
`inputs`, and every operation documents the errors it can answer, so that an integrator's client
(or a schema-based fuzzer) knows what to expect."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from crm.selectors import Ordering, Search

VALIDATION_ERRORS = {
    "type": "object",
    "description": "Field errors: each field (or non_field_errors) with its messages.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    fields = serializers.ListField(
        child=serializers.CharField(), help_text="The fields whose values collided, if any."
    )


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def search_parameter(search: Search) -> OpenApiParameter:
    return OpenApiParameter(
        "search",
        str,
        description=(
            f"Text to look for (as typed, case aside) in any of: {search.label.lower()}; as "
            "the list's page searches."
        ),
    )


def ordering_parameter(orderings: dict[str, Ordering]) -> OpenApiParameter:
    default, *_ = orderings
    choices = "; ".join(f"`{key}`: {ordering.label.lower()}" for key, ordering in orderings.items())
    return OpenApiParameter(
        "ordering",
        str,
        enum=list(orderings),
        description=(
            f"How the list is sorted, as its page sorts it; without it, `{default}`. {choices}. "
            "Rows that tie follow their ids, in the same direction."
        ),
    )


class CrmAutoSchema(AutoSchema):
    def get_override_parameters(self):
        # A list whose selector searches and sorts (crm.api.base.ScopedViewSet) says how.
        parameters = list(super().get_override_parameters())
        if self.method == "GET" and self._is_list_view():
            if getattr(self.view, "search", None) is not None:
                parameters.append(search_parameter(self.view.search))
            if getattr(self.view, "orderings", None) is not None:
                parameters.append(ordering_parameter(self.view.orderings))
        return parameters

    def get_request_serializer(self):
        inputs = getattr(self.view, "inputs", None)
        action = getattr(self.view, "action", None)
        if inputs is not None and action in inputs:
            return inputs[action]
        return super().get_request_serializer()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, body in self._error_bodies().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(body, code, direction=direction)
        return responses

    def _error_bodies(self) -> dict:
        errors = {
            "401": ErrorSerializer,  # no or bad credentials
            "403": ErrorSerializer,  # a role that may not do this
            "429": ErrorSerializer,  # throttled
            "503": ErrorSerializer,  # the database did not answer: send again (Retry-After)
        }
        has_filters = self.method == "GET" and self._is_list_view()
        if self.method in WRITE_METHODS or has_filters:
            errors["400"] = VALIDATION_ERRORS
        if "{" in self.path:
            errors["404"] = ErrorSerializer  # outside the caller's scope, or gone
        if self.method in WRITE_METHODS:
            errors["409"] = ConflictSerializer
            errors["413"] = ErrorSerializer
        return errors

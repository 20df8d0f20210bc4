"""The OpenAPI schema's view of our viewsets: each action's request body comes from the viewset's
`inputs`, and every operation documents the errors it can answer, so that an integrator's client
(or a schema-based fuzzer) knows what to expect. Every error body carries the request's id
(`request_id`, the `X-Request-ID` header and every log line of the request), for support.

crm/tests/test_schema_fuzz.py holds every operation to what is documented here."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from crm.idempotency.guard import KEY_HEADER, REPLAYED_HEADER
from crm.idempotency.models import KEY_MAX_LENGTH
from crm.selectors import Ordering, Search

REQUEST_ID_HELP = "The request's id (its X-Request-ID header): quote it to support."

# A field's errors: its messages, or, for a field holding objects or a list of them (a day's
# lines), the errors of each by its name or its index in the list.
_FIELD_ERRORS = {
    "oneOf": [
        {"type": "array", "items": {"type": "string"}},
        {"type": "object", "description": "Errors by the name or the index of what was sent."},
        {"type": "array", "items": {"type": "object"}},
    ]
}
VALIDATION_ERRORS = {
    "type": "object",
    "description": (
        "Field errors: each field (or non_field_errors) with its messages; or, for a body that "
        "could not be read at all (malformed JSON, not UTF-8, nested too deeply), `detail`."
    ),
    "properties": {
        "detail": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
        "request_id": {"type": "string", "description": REQUEST_ID_HELP},
    },
    "required": ["request_id"],
    "additionalProperties": _FIELD_ERRORS,
}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(
        required=False,
        help_text="What kind of refusal, where a client may act on it: `database_unavailable` "
        "and `offline` (503: send again after Retry-After).",
    )
    request_id = serializers.CharField(help_text=REQUEST_ID_HELP)


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    fields = serializers.ListField(
        child=serializers.CharField(), help_text="The fields whose values collided, if any."
    )
    request_id = serializers.CharField(help_text=REQUEST_ID_HELP)


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# --- Idempotency-Key (crm.idempotency), on every write ---------------------------------------

KEY_REUSED_ERROR = {
    "type": "object",
    "description": (
        f"The {KEY_HEADER} was sent within 24 hours with another request (method, path or "
        "body): nothing was done. Send each write with a key of its own."
    ),
    "properties": {
        KEY_HEADER: {"type": "array", "items": {"type": "string"}},
        "request_id": {"type": "string", "description": REQUEST_ID_HELP},
    },
    "required": [KEY_HEADER, "request_id"],
}


# The answers a write can give again: those its view gives (a refusal before it, 401, 429, 413,
# 503, or a key's own 400 and 422, is never stored).
REPLAYABLE_CODES = [200, 201, 202, 204, 400, 403, 404, 409]


def idempotency_parameters() -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            KEY_HEADER,
            str,
            location=OpenApiParameter.HEADER,
            required=False,
            description=(
                f"Optional: 1 to {KEY_MAX_LENGTH} visible ASCII characters naming this write, "
                "new for each write (a UUID does). Sent again by the same user within 24 hours "
                "with the same method, path and body, the write is not run again: the answer "
                f"is the first one's (same status and body, with `{REPLAYED_HEADER}: true`); "
                "with another request, 422. A request sent while the first is running waits "
                "for its answer. Only final answers are kept (2xx and 4xx but 429): after a "
                "5xx or a 429 the same key runs the write again. A malformed key is a 400."
            ),
        ),
        OpenApiParameter(
            REPLAYED_HEADER,
            str,
            location=OpenApiParameter.HEADER,
            response=REPLAYABLE_CODES,
            enum=["true"],
            description=(
                f"`true` when this answer is the stored answer to an earlier request with the "
                f"same {KEY_HEADER} (the write was not run again)."
            ),
        ),
    ]


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
        if self.method in WRITE_METHODS:
            parameters += idempotency_parameters()
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
        if self.method in WRITE_METHODS:
            # A DELETE's default 204 comes without headers: the replay's belongs there too.
            for code, response in responses.items():
                if code.startswith("2") and "headers" not in response:
                    response["headers"] = self._get_response_headers_for_code(code, direction)
        return responses

    def _error_bodies(self) -> dict:
        errors = {
            "401": ErrorSerializer,  # no or bad credentials
            "403": ErrorSerializer,  # a role that may not do this
            "429": ErrorSerializer,  # throttled
            "503": ErrorSerializer,  # the database did not answer, or the area is offline
        }
        paged = self.method == "GET" and self._is_list_view() and self._get_paginator()
        if self.method in WRITE_METHODS or self._takes_query():
            errors["400"] = VALIDATION_ERRORS  # a body or a query parameter refused
        if "{" in self.path or paged:
            # Outside the caller's scope, or gone; a page past the last ("Invalid page.").
            errors["404"] = ErrorSerializer
        if self.method in WRITE_METHODS:
            errors["409"] = ConflictSerializer
            errors["413"] = ErrorSerializer  # a body over DATA_UPLOAD_MAX_MEMORY_SIZE
            errors["415"] = ErrorSerializer  # a body in a media type the API does not read
            errors["422"] = KEY_REUSED_ERROR  # an Idempotency-Key sent with another request
        return errors

    def _takes_query(self) -> bool:
        """Whether the operation reads query parameters (each refused with a 400 when it is
        not one it knows or holds a bad value)."""
        return self.method == "GET" and any(
            parameter["in"] == "query" for parameter in self._get_parameters()
        )

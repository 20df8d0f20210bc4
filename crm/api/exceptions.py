"""DRF's exception handler, plus the domain errors our services raise (crm.errors):

- django ValidationError (services, model validation) → 400 with field errors;
- Conflict → 409 `{"detail": …, "fields": […]}`;
- IntegrityError, by kind (crm.errors.from_integrity_error): a unique value taken meanwhile →
  409 naming the field, a check constraint → 400 with the rule's message.
Everything else keeps DRF's own answer (Http404 → 404, PermissionDenied → 403, …).

Every error body is an object carrying the request's id (`request_id`, crm.logs), the one its
`X-Request-ID` header and log lines carry: a person quoting it lets support find the request.
A bare list of messages (`ValidationError("…")`) becomes `{"non_field_errors": […]}`, the shape
of every other 400 (crm.api.schema documents them all).

A message that repeats what was sent ("\"x\" is not a valid choice.") has any half of a
character in it replaced (U+FFFD): JSON can carry one in, UTF-8 cannot carry it back out, and
the answer would be a 500.
"""

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm.errors import Conflict, from_integrity_error
from crm.logs import current_request_id


def validation_error_detail(exc: DjangoValidationError) -> dict | list:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def exception_handler(exc, context):
    if isinstance(exc, IntegrityError):
        exc = from_integrity_error(exc)
    if isinstance(exc, Conflict):
        body = {"detail": exc.message, "fields": exc.fields}
        return Response(with_request_id(body), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_error_detail(exc))
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = with_request_id(_writable(response.data))
    return response


def with_request_id(body: dict | list) -> dict:
    """An error body as the API answers it: an object, with the request's id."""
    if not isinstance(body, dict):
        body = {"non_field_errors": body}
    return {**body, "request_id": current_request_id()}


def error_response(detail: str, *, status: int, **more) -> JsonResponse:
    """An error answered outside DRF (a middleware, Django's error handlers) in the API's
    shape: `{"detail": …, "request_id": …}` and what else the refusal says (its `code`)."""
    return JsonResponse(with_request_id({"detail": detail, **more}), status=status)


def _writable(detail):
    """`detail` with every half of a character (a lone surrogate) replaced by U+FFFD."""
    if isinstance(detail, str):
        if detail.isascii() or not _HALF_CHARACTER.search(detail):
            return detail
        text = _HALF_CHARACTER.sub("\ufffd", detail)
        code = getattr(detail, "code", None)
        return exceptions.ErrorDetail(text, code=code) if code is not None else text
    if isinstance(detail, dict):
        return {key: _writable(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_writable(item) for item in detail]
    return detail


_HALF_CHARACTER = re.compile("[\ud800-\udfff]")

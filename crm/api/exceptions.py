"""DRF's exception handler, plus the domain errors our services raise (crm.errors):

- django ValidationError (services, model validation) → 400 with field errors;
- Conflict → 409 `{"detail": …, "fields": […]}`;
- IntegrityError, by kind (crm.errors.from_integrity_error): a unique value taken meanwhile →
  409 naming the field, a check constraint → 400 with the rule's message.
Everything else keeps DRF's own answer (Http404 → 404, PermissionDenied → 403, …).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm.errors import Conflict, from_integrity_error


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
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_error_detail(exc))
    return drf_exception_handler(exc, context)

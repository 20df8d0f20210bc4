"""DRF's exception handler, plus the domain errors our services raise.

- django ValidationError (from services and model validation) → 400 with field errors;
- IntegrityError (a constraint lost a race with another writer) → 409.
Everything else keeps DRF's own answer.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

CONFLICT_MESSAGE = "This change conflicts with the current data; reload and try again."


def validation_error_detail(exc: DjangoValidationError) -> dict | list:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_error_detail(exc))
    elif isinstance(exc, IntegrityError):
        return Response({"detail": CONFLICT_MESSAGE}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)

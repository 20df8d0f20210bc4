"""The errors services raise besides Django's own, and what a database error means to a user.

Services raise `ValidationError` (→ 400 with field errors), `Http404` for a record outside the
actor's scope, `PermissionDenied` (→ 403) and `Conflict` (→ 409): the data changed under the write
(an optimistic-lock check failed, a unique value was taken meanwhile). Pages show the same errors
as messages; `crm.api.exceptions` answers them in the API.
"""

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, models

CONFLICT_MESSAGE = "This change conflicts with the current data; reload and try again."
UNIQUE_TAKEN = "{model} with this {fields} already exists."
DATABASE_UNAVAILABLE = (
    "The CRM cannot reach its database just now. Nothing was changed: try again in a moment."
)
# Seconds a client is asked to wait before sending again (a restart of the database).
DATABASE_RETRY_AFTER = 5


class Conflict(Exception):
    """A write refused because the data it was based on changed meanwhile."""

    def __init__(self, message: str = CONFLICT_MESSAGE, *, fields: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or []


def from_integrity_error(error: IntegrityError) -> Conflict | ValidationError:
    """What a constraint violation means: a unique value taken meanwhile is a conflict naming its
    field; a check constraint is a bad request with the rule's own message; anything else (a
    row deleted meanwhile) is a conflict."""
    cause = error.__cause__
    state = getattr(cause, "sqlstate", None)
    text = str(error)
    if state == "23505" or text.startswith("UNIQUE constraint failed"):
        model, columns = _unique_columns(cause, text)
        fields = [_field_name(model, column) for column in columns]
        if model is not None and fields:
            message = UNIQUE_TAKEN.format(
                model=str(model._meta.verbose_name).capitalize(), fields=" and ".join(fields)
            )
            return Conflict(message, fields=fields)
        return Conflict(fields=fields)
    if state == "23514" or text.startswith("CHECK constraint failed"):
        name = getattr(getattr(cause, "diag", None), "constraint_name", None)
        name = name or text.split(":", 1)[-1].strip()
        constraint = _check_constraints().get(name)
        if constraint is not None:
            return ValidationError(constraint.get_violation_error_message())
        return ValidationError("The data breaks one of the CRM's rules.")
    return Conflict()


def _unique_columns(cause, text: str) -> tuple[type[models.Model] | None, list[str]]:
    diag = getattr(cause, "diag", None)
    if diag is not None:  # PostgreSQL: 'Key (route_id, sequence)=(3, 1) already exists.'
        detail = diag.message_detail or ""
        columns = detail.partition("(")[2].partition(")=")[0]
        return _model_for_table(diag.table_name), [c.strip() for c in columns.split(",") if c]
    # SQLite: 'UNIQUE constraint failed: crm_routestop.route_id, crm_routestop.sequence'
    qualified = [part.strip() for part in text.split(":", 1)[-1].split(",")]
    tables = {part.rpartition(".")[0] for part in qualified}
    model = _model_for_table(tables.pop()) if len(tables) == 1 else None
    return model, [part.rpartition(".")[2] for part in qualified]


def _model_for_table(table: str | None) -> type[models.Model] | None:
    return next((m for m in apps.get_models() if m._meta.db_table == table), None)


def _field_name(model: type[models.Model] | None, column: str) -> str:
    if model is not None:
        for field in model._meta.concrete_fields:
            if field.column == column:
                return field.name
    return column


def _check_constraints() -> dict[str, models.CheckConstraint]:
    return {
        constraint.name: constraint
        for model in apps.get_models()
        for constraint in model._meta.constraints
        if isinstance(constraint, models.CheckConstraint)
    }


def database_unavailable(error: BaseException | None) -> bool:
    """The database did not answer (down, restarting, refusing connections, a connection cut
    meanwhile): the request may succeed if sent again, unchanged. Not a bug of the request."""
    return isinstance(error, OperationalError | InterfaceError)

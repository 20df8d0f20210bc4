"""What every app's services share: the scoped, locked re-read of a write's target, partial
updates that say what changed, and the audit trail.

A service in any app looks like this:

    @transaction.atomic
    def deal_close(*, actor: Actor, deal_id: int, won: bool) -> Deal:
        deal = locked(deal_list(user=actor), deal_id)     # 404 outside the actor's scope
        ...
        audit(actor=actor, action="deal.close", target=deal, changes=changes)
        publish(DealWon(...))                              # delivered after commit
        return deal
"""

import json
from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model, QuerySet
from django.http import Http404

from crm.models import AuditEntry
from crm.roles import Actor, SystemActor

M = TypeVar("M", bound=Model)

# Default of a partial update's keyword arguments: "leave this field as it is".
UNCHANGED: Any = type("Unchanged", (), {"__repr__": lambda self: "UNCHANGED"})()


def locked(queryset: QuerySet[M], pk: Any) -> M:
    """The row `pk` of a role-scoped queryset, locked until the transaction ends.

    Services re-read their target this way, so that a caller that skipped the scope (a task,
    another app) cannot act outside it, two concurrent writes see each other's result, and the
    row comes back with the selector's joins (the caller answers with it, without reading it
    again). Out of scope, or gone: Http404.
    """
    try:
        return queryset.select_for_update(of=("self",)).get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(f"No {queryset.model._meta.verbose_name} with id {pk!r} here.") from None


def validate(instance: Model) -> None:
    """A row's own rules before it is written, without a query per rule: field validators,
    choices, `clean()` and unique fields (a field error before the database's). Relations were
    looked up in scope already; check constraints are left to the database, whose refusal
    crm.errors turns into the rule's own message (400)."""
    relations = [field.name for field in instance._meta.concrete_fields if field.is_relation]
    instance.full_clean(exclude=relations, validate_constraints=False)


def bulk_set(model: type[Model], values: dict[Any, dict[str, Any]], *, chunk: int = 2000) -> int:
    """Write other values into many rows by primary key: {pk: {field: value, ...}} (every row
    the same fields). Django's bulk_update writes a CASE with a branch per row, which grows with
    the square of the rows; a join does not. On PostgreSQL the rows travel as one array per
    column (UPDATE … FROM unnest(…)): one statement, one plan, whatever the number of rows. SQLite
    has no arrays: there it is one UPDATE … FROM (VALUES …) per `chunk` rows (SQLite 3.33+)."""
    if not values:
        return 0
    fields = [model._meta.get_field(name) for name in next(iter(values.values()))]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    assignments = ", ".join(
        f"{quote(field.column)} = v.column{index + 2}" for index, field in enumerate(fields)
    )
    rows = list(values.items())
    columns = [
        [key for key, _ in rows],
        *(
            [field.get_db_prep_save(row[field.name], connection) for _, row in rows]
            for field in fields
        ),
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            typed = [model._meta.pk, *fields]
            arrays = ", ".join(f"CAST(%s AS {f.cast_db_type(connection)}[])" for f in typed)
            names = ", ".join(f"column{index + 1}" for index in range(len(typed)))
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v ({names}) "
                f"WHERE {table}.{pk} = v.column1",
                columns,
            )
            return cursor.rowcount
        updated = 0
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), chunk):
            batch = list(zip(*(column[start : start + chunk] for column in columns), strict=True))
            placeholders = ", ".join([row_sql] * len(batch))
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {placeholders}) AS v "
                f"WHERE {table}.{pk} = v.column1",
                [part for row in batch for part in row],
            )
            updated += cursor.rowcount
        return updated


def given(**fields: Any) -> dict[str, Any]:
    """The keyword arguments a partial update was actually given (those not UNCHANGED)."""
    return {name: value for name, value in fields.items() if value is not UNCHANGED}


def apply_changes(instance: Model, fields: dict[str, Any]) -> dict[str, list[Any]]:
    """Set `fields` on `instance`; return {field: [old, new]} for those that changed."""
    changes = {}
    for name, value in fields.items():
        old = getattr(instance, name)
        if old != value:
            changes[name] = [old, value]
            setattr(instance, name, value)
    return changes


def audit(
    *,
    actor: Actor | None,
    action: str,
    target: Model,
    changes: dict | None = None,
    reason: str = "",
) -> None:
    """One audit entry: who (a user, or a job by name) did what to which record, and why."""
    AuditEntry.objects.create(**_entry(actor, action, target, changes), reason=reason)


def audit_many(
    *,
    actor: Actor | None,
    action: str,
    targets: Iterable[tuple[Model, dict | None]],
    reason: str = "",
) -> int:
    """Audit entries for many records in one INSERT (jobs that change rows in bulk)."""
    entries = [
        AuditEntry(**_entry(actor, action, target, changes), reason=reason)
        for target, changes in targets
    ]
    AuditEntry.objects.bulk_create(entries)
    return len(entries)


def _entry(actor: Actor | None, action: str, target: Model, changes: dict | None) -> dict:
    person = actor if actor is not None and not isinstance(actor, SystemActor) else None
    return {
        "actor": person if person is not None and person.is_authenticated else None,
        "system_actor": actor.name if isinstance(actor, SystemActor) else "",
        "action": action,
        "target_type": target._meta.label_lower,
        "target_id": str(target.pk),
        "changes": json.loads(json.dumps(changes or {}, default=_audit_value)),
    }


def _audit_value(value: Any) -> Any:
    # Related records are stored by id: names change, ids do not.
    return value.pk if hasattr(value, "pk") else str(value)

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

from crm.models import ACTION_LABELS, AuditEntry
from crm.roles import Actor, SystemActor

M = TypeVar("M", bound=Model)
# What an audit entry is about: a record, or (type, id) for a thing that is not one.
Target = Model | tuple[str, str]

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


def validate(instance: Model, *, exclude: Iterable[str] = ()) -> None:
    """A row's own rules before it is written, without a query per rule: field validators,
    choices, `clean()` and unique fields (a field error before the database's). Relations were
    looked up in scope already; check constraints are left to the database, whose refusal
    crm.errors turns into the rule's own message (400). `exclude`: fields the service sees to
    itself (a value it makes up)."""
    relations = [field.name for field in instance._meta.concrete_fields if field.is_relation]
    instance.full_clean(exclude=[*relations, *exclude], validate_constraints=False)


def bulk_set(
    model: type[Model],
    values: dict[Any, dict[str, Any]],
    *,
    expect: dict[Any, dict[str, Any]] | None = None,
    chunk: int = 2000,
) -> list[Any]:
    """Write other values into many rows by primary key: {pk: {field: value, ...}} (every row
    the same fields); returns the keys of the rows written.

    `expect` ({pk: {field: value}}, every row the same fields) writes a row only if it still
    holds those values: a writer that read them earlier without a lock does not overwrite what
    someone changed meanwhile (that row is left out, and out of the keys returned).

    Django's bulk_update writes a CASE with a branch per row, which grows with the square of the
    rows; a join does not. On PostgreSQL the rows travel as one array per column (UPDATE … FROM
    unnest(…)): one statement, one plan, whatever the number of rows. SQLite has no arrays:
    there it is one UPDATE … FROM (VALUES …) per `chunk` rows (SQLite 3.35+)."""
    if not values:
        return []
    meta = model._meta
    fields = [meta.get_field(name) for name in next(iter(values.values()))]
    checked = [meta.get_field(name) for name in next(iter(expect.values()))] if expect else []
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    position = {id(field): index + 2 for index, field in enumerate(fields)}
    assignments = ", ".join(f"{quote(f.column)} = v.column{position[id(f)]}" for f in fields)
    same = "IS NOT DISTINCT FROM" if connection.vendor == "postgresql" else "IS"
    conditions = "".join(
        f" AND {table}.{quote(field.column)} {same} v.column{len(fields) + 2 + index}"
        for index, field in enumerate(checked)
    )
    keys = list(values)
    columns = [
        keys,
        *([f.get_db_prep_save(values[key][f.name], connection) for key in keys] for f in fields),
        *([f.get_db_prep_save(expect[key][f.name], connection) for key in keys] for f in checked),
    ]
    where = f"WHERE {table}.{pk} = v.column1{conditions} RETURNING {table}.{pk}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            typed = [meta.pk, *fields, *checked]
            arrays = ", ".join(f"CAST(%s AS {f.cast_db_type(connection)}[])" for f in typed)
            names = ", ".join(f"column{index + 1}" for index in range(len(typed)))
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v ({names}) {where}",
                columns,
            )
            return [row[0] for row in cursor.fetchall()]
        written = []
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(keys), chunk):
            batch = list(zip(*(column[start : start + chunk] for column in columns), strict=True))
            placeholders = ", ".join([row_sql] * len(batch))
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {placeholders}) AS v {where}",
                [part for row in batch for part in row],
            )
            written += [row[0] for row in cursor.fetchall()]
        return written


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


def name_actions(labels: dict[str, str]) -> None:
    """Say what an app's audited actions are called on the pages ({"goal.adjust": "Value set
    by hand"}); called once, next to the services that write them."""
    ACTION_LABELS.update(labels)


def audit(
    *,
    actor: Actor | None,
    action: str,
    target: Target,
    changes: dict | None = None,
    reason: str = "",
) -> None:
    """One audit entry: who (a user, or a job by name) did what to which record, and why. The
    target is a record, or (type, id) for what is not one (`("crm.ratelimit", "all")`)."""
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


def _entry(actor: Actor | None, action: str, target: Target, changes: dict | None) -> dict:
    person = actor if actor is not None and not isinstance(actor, SystemActor) else None
    return {
        "actor": person if person is not None and person.is_authenticated else None,
        "system_actor": actor.name if isinstance(actor, SystemActor) else "",
        "action": action,
        "target_type": target[0] if isinstance(target, tuple) else target._meta.label_lower,
        "target_id": target[1] if isinstance(target, tuple) else str(target.pk),
        "changes": json.loads(json.dumps(changes or {}, default=_audit_value)),
    }


def _audit_value(value: Any) -> Any:
    # Related records are stored by id: names change, ids do not.
    return value.pk if hasattr(value, "pk") else str(value)

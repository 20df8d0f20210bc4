"""Writes of tracking: ingestion (one service for every path: the JS snippet, the API, webhooks,
imports), tenants and their keys, the drop counters, replaying and purging raw rows.

`ingest` stores every valid event of a request with one statement (no model object per
event) and returns once it is committed: what it answers accepted is stored, exactly once per
(tenant, event id) however often it is sent.
"""

import datetime as dt
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from crm.roles import Actor
from crm.writes import audit
from tracking import clients, contract, tenants
from tracking.models import RawEvent, RawStatus, TrackingTenant

COLUMNS = (
    "tenant_id", "received_at", "client_timestamp", "sent_at", "clock_skew", "client_ip",
    "user_agent", "payload", "record_source", "event_id", "status", "attempts", "last_error",
    "failure_reason",
)  # fmt: skip
_PG_TYPES = (
    "bigint", "timestamptz", "timestamptz", "timestamptz", "boolean", "inet", "text", "text",
    "text", "text", "smallint", "smallint", "text", "text",
)  # fmt: skip


@dataclass
class Ingested:
    accepted: int = 0
    stored: int = 0  # new rows (a re-sent event is accepted, and not stored again)
    rejected: list[dict] = field(default_factory=list)  # {"index": i, "reason": "…"}


def ingest(
    *,
    tenant: tenants.Tenant,
    events: Iterable,
    ip: str | None,
    user_agent: str,
    source: str,
    sent_at=None,
    received_at: dt.datetime | None = None,
    checked: bool = True,
    event_id: str | None = None,
) -> Ingested:
    """Store the events of one request for `tenant`: each checked against the contract (a bad
    one is rejected with its reason, the others kept), then all in one INSERT … ON CONFLICT DO
    NOTHING, committed before this returns. `checked=False` keeps what a signed source sent (a
    webhook's body, an import) as it is; `event_id` names the one event of such a request (a
    webhook's delivery id), else its "id", else a new one."""
    received_at = received_at or timezone.now()
    sent = contract.parse_time(sent_at) if sent_at is not None else None
    kept_ip = clients.kept_ip(ip, tenant.ip_handling)
    agent = user_agent[:512]
    rows, result = [], Ingested()
    for index, event in enumerate(events):
        try:
            if checked:
                good = contract.check_event(event, received_at=received_at)
            else:
                good = _trusted_event(event, event_id)
        except ValueError as error:
            result.rejected.append({"index": index, "reason": str(error)})
            continue
        rows.append(
            (tenant.id, received_at, good.timestamp, sent, good.clock_skew, kept_ip, agent,
             good.payload, source, good.event_id or uuid.uuid4().hex, RawStatus.PENDING, 0,
             "", "")
        )  # fmt: skip
    result.accepted = len(rows)
    if rows:
        # One statement: in autocommit it is committed when it returns (no BEGIN and COMMIT
        # round trips); inside a caller's transaction, with it.
        result.stored = _insert(rows)
    return result


def _trusted_event(event, event_id: str | None) -> contract.Event:
    payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    if event_id is None and isinstance(event, dict) and event.get("id") is not None:
        event_id = str(event["id"])
    return contract.Event(
        payload=payload, evt_type="webhook",
        event_id=str(event_id)[: contract.MAX_ID] if event_id is not None else None,
        timestamp=None, clock_skew=False,
    )  # fmt: skip


_VALUES_UP_TO = 20  # rows written as VALUES; more as arrays (unnest)


def _insert(rows: list[tuple]) -> int:
    """The rows in one statement: a few as a multi-row VALUES (cheapest to send and plan),
    many on PostgreSQL as INSERT … SELECT FROM unnest(one array per column) (one plan,
    whatever the count); SQLite as VALUES, 50 rows a statement (its parameter limit)."""
    table = connection.ops.quote_name(RawEvent._meta.db_table)
    names = ", ".join(COLUMNS)
    conflict = "ON CONFLICT (tenant_id, event_id) DO NOTHING"
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres and len(rows) > _VALUES_UP_TO:
            arrays = ", ".join(f"%s::{kind}[]" for kind in _PG_TYPES)
            picked = ", ".join(
                f"v.c{n}::jsonb" if name == "payload" else f"v.c{n}"
                for n, name in enumerate(COLUMNS)
            )
            aliases = ", ".join(f"c{n}" for n in range(len(COLUMNS)))
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {picked} FROM unnest({arrays}) "
                f"AS v ({aliases}) {conflict}",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return cursor.rowcount
        one = "(" + ", ".join("%s::jsonb" if postgres and name == "payload" else "%s"
                              for name in COLUMNS) + ")"  # fmt: skip
        adapt = connection.ops.adapt_datetimefield_value
        stored = 0
        for start in range(0, len(rows), 50):
            batch = rows[start : start + 50]
            values = [
                part
                for row in batch
                for part in (row[0], adapt(row[1]), adapt(row[2]), adapt(row[3]), *row[4:])
            ]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(batch))} {conflict}",
                values,
            )
            stored += cursor.rowcount
        return stored


# --- Drop counters ------------------------------------------------------------------------------

DROP_REASONS = {
    "bot": "Bots",
    "rate_limited": "Over the rate limit",
    "bad_signature": "Bad webhook signature",
    "rejected": "Events refused by the contract",
    "origin": "From an origin not allowed",
    "kill_switch": "Refused by the kill switch",
}
_COUNTER = "tracking:drops:{tenant}:{reason}:{hour}"
COUNTER_HOURS = 48


def _hour(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H")


def count_drop(tenant_id: int, reason: str, count: int = 1) -> None:
    """Count what was answered but not stored, per tenant, reason and hour, in the shared
    cache (kept two days: the dashboard shows the last 24 hours). Never fails a request."""
    key = _COUNTER.format(tenant=tenant_id, reason=reason, hour=_hour(timezone.now()))
    try:
        if not cache.add(key, count, timeout=COUNTER_HOURS * 3600):
            cache.incr(key, count)
    except Exception:
        pass


def drop_counts(tenant_id: int, *, now: dt.datetime | None = None) -> dict[str, int]:
    """The last 24 hours' drops of a tenant, by reason (one read of the shared cache)."""
    now = now or timezone.now()
    hours = [_hour(now - dt.timedelta(hours=back)) for back in range(24)]
    keys = {
        _COUNTER.format(tenant=tenant_id, reason=reason, hour=hour): reason
        for reason in DROP_REASONS
        for hour in hours
    }
    try:
        found = cache.get_many(list(keys))
    except Exception:
        found = {}
    totals = dict.fromkeys(DROP_REASONS, 0)
    for key, value in found.items():
        totals[keys[key]] += int(value)
    return totals


# --- Tenants --------------------------------------------------------------------------------------


def new_ingestion_key() -> str:
    return f"pk_{secrets.token_urlsafe(24)}"


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


@transaction.atomic
def tenant_create(*, actor: Actor, name: str, identifier: str, **fields) -> TrackingTenant:
    tenant = TrackingTenant(
        name=name, identifier=identifier, ingestion_key=new_ingestion_key(),
        webhook_secret=new_webhook_secret(), **fields,
    )  # fmt: skip
    tenant.full_clean()
    tenant.save()
    audit(actor=actor, action="tracking.tenant_create", target=tenant,
          changes={"name": [None, name], "identifier": [None, identifier]})  # fmt: skip
    return tenant


@transaction.atomic
def tenant_rotate_keys(
    *, actor: Actor, tenant_id: int, ingestion: bool = True, webhook: bool = True
) -> TrackingTenant:
    """New keys (the old ones stop working everywhere within seconds). Audited, without the
    secrets themselves."""
    tenant = TrackingTenant.objects.select_for_update().get(pk=tenant_id)
    old = tenant.ingestion_key
    if ingestion:
        tenant.ingestion_key = new_ingestion_key()
    if webhook:
        tenant.webhook_secret = new_webhook_secret()
    tenant.save(update_fields=["ingestion_key", "webhook_secret", "updated_at"])
    audit(actor=actor, action="tracking.tenant_rotate_keys", target=tenant,
          changes={"ingestion_key": ingestion, "webhook_secret": webhook})  # fmt: skip
    transaction.on_commit(lambda: tenants.forget(old, tenant.ingestion_key))
    return tenant


def tenant_changed(tenant: TrackingTenant) -> None:
    """After an edit of a tenant (admin): every process sees it within seconds."""
    transaction.on_commit(lambda: tenants.forget(tenant.ingestion_key))

"""What the tracking tests share: tenants, requests to the endpoints, signed webhooks, the
rollups against a fresh count."""

import datetime as dt
import gzip
import json
import time

from django.db import connection

from crm.roles import SystemActor
from tracking import services
from tracking.ingest import signature
from tracking.models import EventsByMinute, PageViewsByHour, SessionsByQuarter

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari"
ORIGIN = "https://shop.example.com"
ACTOR = SystemActor("test:tracking")


def make_tenant(identifier: str = "shop", **fields):
    fields.setdefault("allowed_origins", [ORIGIN])
    return services.tenant_create(
        actor=ACTOR, name=identifier.title(), identifier=identifier, **fields
    )


def post_event(client, tenant, body, *, path="/t/e", origin=None, gzipped=False, **headers):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    if isinstance(data, str):
        data = data.encode()
    if gzipped:
        data = gzip.compress(data)
    extra = {"HTTP_USER_AGENT": UA, **headers}
    if origin:
        extra["HTTP_ORIGIN"] = origin
    content_type = extra.pop("content_type", "application/json")
    key = getattr(tenant, "ingestion_key", tenant)
    return client.post(f"{path}?key={key}", data, content_type=content_type, **extra)


def post_batch(client, tenant, events, **options):
    return post_event(client, tenant, {"batch": events}, path="/t/batch", **options)


def post_webhook(
    client, tenant, payload, *, provider="stripe", secret=None, stamp=None, sign_id=True,
    **headers,
):  # fmt: skip
    """A webhook signed as the contract says: its X-Webhook-Id (if any) signed too, unless
    `sign_id` is False (the older way, the id then taken for nobody's)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(time.time())) if stamp is None else str(stamp)
    delivery = headers.get("HTTP_X_WEBHOOK_ID", "") if sign_id else ""
    signed = signature(secret or tenant.webhook_secret, stamp, body, delivery)
    return client.post(
        f"/t/webhooks/{provider}/{tenant.ingestion_key}", body, content_type="application/json",
        HTTP_X_WEBHOOK_TIMESTAMP=stamp, HTTP_X_WEBHOOK_SIGNATURE=f"sha256={signed}", **headers,
    )  # fmt: skip


# --- The rollups against a fresh count (PostgreSQL) ----------------------------------------


def naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def fresh_counts() -> dict[str, dict]:
    """Each rollup as a GROUP BY over the events and sessions would count it now (UTC)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT e.tenant_id, date_trunc('minute', r.received_at AT TIME ZONE 'UTC'),
                   e.evt_type, r.record_source, count(*)
               FROM tracking_trackedevent e JOIN tracking_rawevent r ON r.id = e.raw_event_id
               GROUP BY 1, 2, 3, 4"""
        )
        minutes = {tuple(row[:4]): row[4] for row in cursor.fetchall()}
        cursor.execute(
            """SELECT tenant_id, date_trunc('hour', occurred_at AT TIME ZONE 'UTC'), url_path,
                   count(*)
               FROM tracking_trackedevent WHERE evt_type = 'page_view' AND url_path <> ''
               GROUP BY 1, 2, 3"""
        )
        pages = {tuple(row[:3]): row[3] for row in cursor.fetchall()}
        cursor.execute(
            """SELECT tenant_id,
                   to_timestamp(floor(extract(epoch FROM first_seen) / 900) * 900)
                       AT TIME ZONE 'UTC',
                   count(*), count(*) FILTER (WHERE page_views <= 1)
               FROM tracking_trackedsession GROUP BY 1, 2"""
        )
        quarters = {tuple(row[:2]): (row[2], row[3]) for row in cursor.fetchall()}
    return {"minutes": minutes, "pages": pages, "quarters": quarters}


def rolled_up() -> dict[str, dict]:
    """What the rollups hold (buckets counted to nothing left out)."""
    return {
        "minutes": {
            (row.tenant_id, naive(row.minute), row.evt_type, row.record_source): row.n
            for row in EventsByMinute.objects.filter(n__gt=0)
        },
        "pages": {
            (row.tenant_id, naive(row.hour), row.url_path): row.n
            for row in PageViewsByHour.objects.filter(n__gt=0)
        },
        "quarters": {
            (row.tenant_id, naive(row.quarter)): (row.sessions, row.bounced)
            for row in SessionsByQuarter.objects.exclude(sessions=0, bounced=0)
        },
    }


def assert_rollups_are_a_fresh_count() -> None:
    assert rolled_up() == fresh_counts()

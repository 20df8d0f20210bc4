"""What the tracking tests share: tenants, requests to the endpoints, signed webhooks."""

import gzip
import json
import time

from crm.roles import SystemActor
from tracking import services
from tracking.ingest import signature

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

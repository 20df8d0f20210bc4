"""The ingestion endpoints, under /t/ (no session, no CSRF: a public write-only key names the
tenant):

    POST /t/e                              one event
    POST /t/batch                          {"batch": [event, …]}, up to 500
    OPTIONS /t/e, /t/batch                 CORS preflight for the tenant's allowed origins
    POST /t/webhooks/<provider>/<key>      a signed webhook, kept as it came
    GET  /t/tracker.js                     the snippet websites include

The key comes as `?key=` (what a browser's sendBeacon can send) or the X-Tracking-Key header
(a rotated key keeps working for TRACKING_KEY_GRACE_HOURS). Answers: 200 {"accepted": n,
"duplicates": d, "rejected": [{"index": i, "reason": "…"}], "results": [{"status": …}, …]}
(each event stored, a duplicate of one stored before, or rejected with its reason; the
accepted ones, duplicates included, are stored), 202 when a bot's events are dropped (each
said "dropped"), 400 for a body that is not JSON or a batch with nothing valid, 401 for an
unknown or inactive key (or a bad webhook signature), 403 for an origin not allowed or the
tenant's kill switch, 413 for a body over 1 MB (5 MB decompressed), 429 with Retry-After past
the tenant's rate, 503 with Retry-After when storage fails (send again: nothing is doubled).
With TRACKING_QUEUE=redis (tracking.queue) the accepted events are queued, not yet stored:
202 {"accepted": n, "queued": n, "rejected": […], "results": [{"status": "queued"}, …],
"note": "…"} (no duplicates said: they are dropped when drained), 503 with Retry-After
past the queue's backlog or when Redis cannot take them.

Bots: only a browser's request (it has an Origin) is tested for one, by its user agent (a
cached string match), unless its body says "skip_bot_filter": true. A bot's events are stored
flagged, or dropped, as the tenant chooses; both are counted.

This is the hottest path of the CRM: a dictionary look-up for the tenant, one round trip to
the shared cache for the rate limit, one statement to store the request's events.
"""

import functools
import hashlib
import hmac
import json
import re
import time
from pathlib import Path

from csp.decorators import csp_exempt
from django.conf import settings
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from redis import RedisError

from crm import ratelimit
from tracking import clients, contract, queue, services, tasks, tenants
from tracking.models import BotHandling

UNKNOWN_KEY = "Unknown or inactive tracking key."
ORIGIN_REFUSED = "This origin may not send events with this key."
KILL_SWITCH = "This tenant is not accepting events."
RATE_LIMITED = "Too many requests: see Retry-After."
STORAGE_DOWN = "Events could not be stored: send them again (nothing is stored twice)."
QUEUE_FULL = "Too many events are waiting to be stored: send them again later (see Retry-After)."
QUEUE_DOWN = "Events could not be queued: send them again (nothing is stored twice)."
NOT_STORABLE = "The events hold data that cannot be stored: do not send them again."
BAD_SIGNATURE = "The webhook's signature does not match."
STALE_SIGNATURE = "The webhook's timestamp is too old or in the future (a replay?)."
ONE_EVENT = "Send one event as a JSON object (several: POST /t/batch)."
_PROVIDER = re.compile(r"[a-z0-9_-]{1,30}")
# A delivery id that can be signed: no "." (the separator of what is signed).
_DELIVERY = re.compile(r"[A-Za-z0-9_:-]{1,64}")


def _answer(status: int, body: dict | str, origin: str = "", headers: dict | None = None):
    # json.dumps itself (its C encoder): JsonResponse's encoder class is for dates and
    # decimals, which these answers never hold. A str is the JSON already.
    text = body if isinstance(body, str) else json.dumps(body)
    response = HttpResponse(text, status=status, content_type="application/json")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _refused(status: int, reason: str, origin: str = "", **headers) -> HttpResponse:
    return _answer(status, {"error": reason}, origin, headers)


def _key(request: HttpRequest) -> str:
    return request.GET.get("key") or request.headers.get("X-Tracking-Key", "")


def _origin_allowed(tenant: tenants.Tenant, origin: str) -> bool:
    return origin in tenant.allowed_origins or "*" in tenant.allowed_origins


def _limited(key: str, limit: int) -> int:
    """Seconds to wait, or 0 when the request may go on."""
    decision = ratelimit.take(key, limit=limit, window=60)
    return 0 if decision.allowed else decision.retry_after


# No CSRF (no session: the key names the tenant) and no Content-Security-Policy header (an
# answer in JSON is not a document; building the header costs a tenth of the request).
@csp_exempt()
@csrf_exempt
def event(request: HttpRequest) -> HttpResponse:
    return _ingest(request, batch=False)


@csp_exempt()
@csrf_exempt
def batch(request: HttpRequest) -> HttpResponse:
    return _ingest(request, batch=True)


def _preflight(request: HttpRequest, tenant, origin: str) -> HttpResponse:
    if tenant is None or not origin or not _origin_allowed(tenant, origin):
        return HttpResponse(status=403)
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type, Content-Encoding, X-Tracking-Key"
    response["Access-Control-Max-Age"] = "86400"
    response["Vary"] = "Origin"
    return response


def _ingest(request: HttpRequest, *, batch: bool) -> HttpResponse:
    origin = request.headers.get("Origin", "")
    tenant = tenants.resolve(_key(request))
    if request.method == "OPTIONS":
        return _preflight(request, tenant, origin)
    if request.method != "POST":
        return _refused(405, "POST events here.", Allow="POST, OPTIONS")
    if tenant is None or not tenant.active:
        return _refused(401, UNKNOWN_KEY)
    if origin and not _origin_allowed(tenant, origin):
        services.count_drop(tenant.id, "origin")
        return _refused(403, ORIGIN_REFUSED)
    allowed_origin = origin  # a browser's own origin, allowed: it may read the answer
    if tenant.kill_switch:
        services.count_drop(tenant.id, "kill_switch")
        return _refused(403, KILL_SWITCH, allowed_origin)
    ip = clients.client_ip(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )
    wait = _limited(f"tracking:{tenant.id}", tenant.rate_per_minute)
    if not wait and origin:  # a browser: each client has its own share too
        wait = _limited(f"tracking:{tenant.id}:{ip}", settings.TRACKING_CLIENT_RATE_PER_MINUTE)
    if wait:
        services.count_drop(tenant.id, "rate_limited")
        return _refused(429, RATE_LIMITED, allowed_origin, **{"Retry-After": str(wait)})
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    # Bot filtering is for browsers' traffic: a server's request (no Origin) is never taken
    # for a bot's, whatever library sends it (curl, requests, a webhook relay).
    bot = bool(origin) and clients.is_bot(user_agent)
    try:
        document = contract.decode_body(
            request.body,
            content_type=request.content_type or "",
            content_encoding=request.headers.get("Content-Encoding", ""),
        )
        if batch:
            events, sent_at = contract.batch_events(document)
        elif isinstance(document, dict):
            events, sent_at = [document], document.get("sent_at")
        else:
            raise contract.Refused(400, ONE_EVENT)
        if contract.skips_bot_filter(document):
            bot = False
    except contract.Refused as refused:
        return _refused(refused.status, refused.reason, allowed_origin)
    if bot and tenant.bot_handling == BotHandling.DROP:
        # Answered as any request (a crawler must not learn to retry), counted, each event
        # said dropped and why: never silently.
        services.count_drop(tenant.id, "bot", len(events))
        return _answer(202, services.bots_dropped(len(events)), allowed_origin)
    if queue.enabled():
        return _enqueue(tenant, events, ip, user_agent, origin, sent_at, bot)
    try:
        result = services.ingest(
            tenant=tenant, events=events, ip=ip, user_agent=user_agent,
            source="js" if origin else "api", sent_at=sent_at, bot=bot,
        )  # fmt: skip
    except (OperationalError, InterfaceError):
        return _refused(503, STORAGE_DOWN, allowed_origin, **{"Retry-After": "5"})
    except DataError:
        return _refused(400, NOT_STORABLE, allowed_origin)
    except IntegrityError:  # the tenant was deleted in the seconds its key stays cached
        return _refused(401, UNKNOWN_KEY, allowed_origin)
    if result.rejected:
        services.count_drop(tenant.id, "rejected", len(result.rejected))
    if bot and result.stored:
        services.count_drop(tenant.id, "bot_flagged", result.stored)
    if result.stored:
        tasks.process_soon()
    counts = json.dumps(
        {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": result.rejected}
    )
    flagged = ', "bot": "flagged"' if bot else ""
    body = f'{counts[:-1]}, "results": {services.results_json(result.results)}{flagged}}}'
    return _answer(200 if result.accepted else 400, body, allowed_origin)


def _enqueue(tenant, events, ip, user_agent, origin, sent_at, bot) -> HttpResponse:
    """Queue mode (TRACKING_QUEUE=redis): 202 once Redis has the accepted events; whether one
    is a duplicate is known when it is drained (stored once by its id), so not said here."""
    try:
        result = queue.enqueue(
            tenant=tenant, events=events, ip=ip, user_agent=user_agent,
            source="js" if origin else "api", sent_at=sent_at, bot=bot,
        )  # fmt: skip
    except queue.Full:
        return _refused(503, QUEUE_FULL, origin, **{"Retry-After": "10"})
    except RedisError:
        return _refused(503, QUEUE_DOWN, origin, **{"Retry-After": "5"})
    if result.rejected:
        services.count_drop(tenant.id, "rejected", len(result.rejected))
    if bot and result.accepted:
        services.count_drop(tenant.id, "bot_flagged", result.accepted)
    said = {"accepted": result.accepted, "queued": result.accepted, "rejected": result.rejected}
    if result.accepted:
        said["note"] = queue.QUEUED_NOTE
    if bot:
        said["bot"] = "flagged"
    counts = json.dumps(said)
    body = f'{counts[:-1]}, "results": {services.results_json(result.results)}}}'
    return _answer(202 if result.accepted else 400, body, origin)


# --- Webhooks -----------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes, delivery: str = "") -> str:
    """What a sender signs, in hex: HMAC-SHA256 of "<timestamp>.<delivery id>." and the raw
    body, or of "<timestamp>." and the body for a delivery that names no id."""
    signed = f"{timestamp}.{delivery}." if delivery else f"{timestamp}."
    return hmac.new(secret.encode(), signed.encode() + body, hashlib.sha256).hexdigest()


def _signed_delivery(tenant: tenants.Tenant, sent: bytes, stamp: str, body: bytes, delivery: str):
    """Whether `sent` signs the request with the tenant's secret (or the one a rotation
    replaced, while it works): the delivery id it signs ("" when it signs none), or None."""
    candidates = [delivery, ""] if _DELIVERY.fullmatch(delivery) else [""]
    for secret in filter(None, (tenant.webhook_secret, tenant.previous_secret())):
        for signed in candidates:
            if hmac.compare_digest(sent, signature(secret, stamp, body, signed).encode()):
                return signed
    return None


@csp_exempt()
@csrf_exempt
def webhook(request: HttpRequest, provider: str, key: str) -> HttpResponse:
    """A provider's notification, signed with the tenant's webhook secret:

        X-Webhook-Timestamp: <unix seconds>
        X-Webhook-Id: <the delivery's id> (optional; 1-64 of A-Z a-z 0-9 _ - :)
        X-Webhook-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<id>." + body)>
                             (without an id: of "<timestamp>." + body)

    Stored raw (record source webhook:<provider>) once per delivery: the id, when it is
    signed; else what is signed, the timestamp and the body, so that a delivery replayed
    within the tolerance under a new unsigned id is the same delivery. A bad or stale
    signature is a 401 and stores nothing."""
    if request.method != "POST":
        return _refused(405, "POST webhooks here.", Allow="POST")
    tenant = tenants.resolve(key)
    if tenant is None or not tenant.active or not _PROVIDER.fullmatch(provider):
        return _refused(401, UNKNOWN_KEY)
    if tenant.kill_switch:
        services.count_drop(tenant.id, "kill_switch")
        return _refused(403, KILL_SWITCH)
    wait = _limited(f"tracking:{tenant.id}:webhook", tenant.webhook_rate_per_minute)
    if wait:
        services.count_drop(tenant.id, "rate_limited")
        return _refused(429, RATE_LIMITED, **{"Retry-After": str(wait)})
    body = request.body
    stamp = request.headers.get("X-Webhook-Timestamp", "")
    sent = request.headers.get("X-Webhook-Signature", "").removeprefix("sha256=").encode()
    signed_id = _signed_delivery(tenant, sent, stamp, body, request.headers.get("X-Webhook-Id", ""))
    if signed_id is None:
        services.count_drop(tenant.id, "bad_signature")
        return _refused(401, BAD_SIGNATURE)
    try:
        age = abs(time.time() - int(stamp))
    except ValueError:
        age = float("inf")
    if age > settings.TRACKING_WEBHOOK_TOLERANCE:
        services.count_drop(tenant.id, "bad_signature")
        return _refused(401, STALE_SIGNATURE)
    try:
        document = contract.decode_body(
            body, content_type="application/json",
            content_encoding=request.headers.get("Content-Encoding", ""),
        )  # fmt: skip
    except contract.Refused as refused:
        return _refused(refused.status, refused.reason)
    # An id nobody signed could be anyone's: the delivery is then what was signed.
    delivery = signed_id or hashlib.sha256(stamp.encode() + b"." + body).hexdigest()
    ip = clients.client_ip(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )
    try:
        result = services.ingest(
            tenant=tenant, events=[document], ip=ip,
            user_agent=request.META.get("HTTP_USER_AGENT", ""), source=f"webhook:{provider}",
            checked=False, event_id=delivery,
        )  # fmt: skip
    except (OperationalError, InterfaceError):
        return _refused(503, STORAGE_DOWN, **{"Retry-After": "5"})
    except DataError:
        return _refused(400, NOT_STORABLE)
    except IntegrityError:  # the tenant was deleted in the seconds its key stays cached
        return _refused(401, UNKNOWN_KEY)
    if result.rejected:  # a body JSON cannot hold as it is (a number out of range)
        return _refused(400, result.rejected[0]["reason"])
    if result.stored:
        tasks.process_soon()
    return _answer(200, {"accepted": result.accepted, "stored": result.stored})


# --- The snippet ----------------------------------------------------------------------------------

TRACKER = Path(__file__).parent / "static" / "tracking" / "tracker.js"


@functools.cache
def _tracker() -> bytes:
    return TRACKER.read_bytes()


def tracker_js(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_tracker(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response

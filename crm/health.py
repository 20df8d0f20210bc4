"""GET /health/ (readiness, with a check per dependency) and GET /health/live (liveness); HEAD
answers like GET.

Overall status: "unhealthy" (HTTP 503) when the database cannot be reached or has no schema,
since the app then serves nothing; "degraded" (HTTP 200) when the cache, broker, worker or beat is
down or stale, since pages still work but background work waits; "healthy" otherwise. The worker
and beat are judged by their heartbeats in every mode, the embedded one included. No
authentication, and nothing in the answer names a host, a URL or a secret.
"""

import os
import time
from collections.abc import Callable
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from crm import replica

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
EMBEDDED_BROKER = "embedded: the queue is a folder shared with the worker and beat"


def check_database() -> dict:
    # The migrations table, not SELECT 1: an SQLite file that vanished is silently recreated
    # empty, and a database without its schema serves nothing.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
        if cursor.fetchone() is None:
            return {"status": UNHEALTHY, "detail": "no migrations applied"}
    return {"status": HEALTHY}


def check_cache() -> dict:
    key = "health:probe"
    django_cache.set(key, "1", timeout=10)
    if django_cache.get(key) != "1":
        return {"status": DEGRADED, "detail": "cache did not return what was stored"}
    return {"status": HEALTHY}


@cache
def _broker_client():
    import redis

    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
    )


def check_broker() -> dict:
    if settings.CELERY_EMBEDDED:
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        if not os.access(folder, os.W_OK):
            return {"status": DEGRADED, "detail": "embedded queue folder is not writable"}
        return {"status": HEALTHY, "detail": EMBEDDED_BROKER}
    _broker_client().ping()
    return {"status": HEALTHY}


def check_replica() -> dict:
    """The read replica (DATABASE_REPLICA_URL): down, not replicating or behind by more than
    the tolerated lag is degraded (the dashboards read the primary meanwhile)."""
    state = replica.replica_state()
    result = {"status": HEALTHY if state.tolerated else DEGRADED}
    if state.lag_seconds is not None:
        result["lag_seconds"] = state.lag_seconds
    if state.refusal:
        result["detail"] = (
            "unreachable"
            if not state.answering
            else "not replicating"
            if not state.replicating
            else "behind by more than the tolerated lag"
        )
    return result


# Checks an app adds (its ops.py, found at start-up like its dashboard sections): a name, the
# check, and what its failure makes the whole (a part ingestion needs may only degrade it).
_checks: dict[str, tuple[Callable[[], dict | None], str]] = {}


def health_check(name: str, *, failure_status: str = DEGRADED):
    """Register `check` under `name` in /health/. It answers {"status": …} (with what else it
    wants shown), None when it has nothing to report in this configuration, or raises (its
    failure_status, with the error's name)."""

    def decorator(check: Callable[[], dict | None]) -> Callable[[], dict | None]:
        _checks[name] = (check, failure_status)
        return check

    return decorator


def _heartbeat_checks() -> dict[str, dict]:
    """Worker and beat freshness from their heartbeats, in one query."""
    from crm.jobs.models import Heartbeat

    stale_after = timedelta(seconds=settings.HEALTH_HEARTBEAT_STALE_AFTER)
    seen = dict(Heartbeat.objects.values_list("component", "seen_at"))
    now = timezone.now()
    checks = {}
    for component in ("worker", "beat"):
        seen_at = seen.get(component)
        if seen_at is None:
            checks[component] = {"status": DEGRADED, "detail": "no heartbeat recorded yet"}
            continue
        age = (now - seen_at).total_seconds()
        status = HEALTHY if age <= stale_after.total_seconds() else DEGRADED
        checks[component] = {"status": status, "last_seen_seconds_ago": round(age)}
        if status == DEGRADED:
            checks[component]["detail"] = "heartbeat is stale"
    return checks


def _timed(check: Callable[[], dict | None], failure_status: str) -> dict:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # a health check reports failures, it never raises them
        # The exception's class says what failed without leaking hosts or credentials.
        result = {"status": failure_status, "detail": f"{type(exc).__name__}"}
    if result is None:
        return {}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def health_report() -> dict:
    """What /health/ answers: the overall status, when, and each check's result."""
    checks = {
        "database": _timed(check_database, UNHEALTHY),
        "cache": _timed(check_cache, DEGRADED),
        "broker": _timed(check_broker, DEGRADED),
    }
    if checks["database"]["status"] == HEALTHY:
        started = time.perf_counter()
        try:
            heartbeats = _heartbeat_checks()
        except Exception as exc:
            heartbeats = {
                name: {"status": DEGRADED, "detail": type(exc).__name__}
                for name in ("worker", "beat")
            }
        latency = round((time.perf_counter() - started) * 1000, 2)
        for result in heartbeats.values():
            result["latency_ms"] = latency
    else:
        heartbeats = {
            name: {"status": DEGRADED, "detail": "unknown: database unreachable", "latency_ms": 0.0}
            for name in ("worker", "beat")
        }
    checks.update(heartbeats)
    # Only a replica of its own: an alias naming the primary's database has nothing to report.
    if replica.replica_configured() and not replica.replica_is_primary():
        checks["replica"] = _timed(check_replica, DEGRADED)
    for name, (check, failure_status) in _checks.items():
        result = _timed(check, failure_status)
        if result.get("status") is not None:
            checks[name] = result

    statuses = {result["status"] for result in checks.values()}
    if UNHEALTHY in statuses:
        overall = UNHEALTHY
    elif DEGRADED in statuses:
        overall = DEGRADED
    else:
        overall = HEALTHY
    return {"status": overall, "timestamp": timezone.now().isoformat(), "checks": checks}


@never_cache
@require_safe
def health(request):
    body = health_report()
    return JsonResponse(body, status=503 if body["status"] == UNHEALTHY else 200)


@never_cache
@require_safe
def live(request):
    """The process is up and serving requests; touches no dependency."""
    return JsonResponse({"status": "alive"})

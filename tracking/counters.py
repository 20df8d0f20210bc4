"""What tracking answered but did not store (and bots' events it stored flagged), counted per
tenant, reason and hour in the shared cache: counted by the ingestion paths, read by the
tenant's dashboard. Counting never fails a request; a cache that is down counts nothing."""

import datetime as dt

from django.core.cache import cache
from django.utils import timezone

from crm.ops import counters as ops_counters

DROP_REASONS = {
    "bot": "Bots' events, dropped",
    "rate_limited": "Over the rate limit",
    "bad_signature": "Bad webhook signature",
    "rejected": "Events refused by the contract",
    "origin": "From an origin not allowed",
    "kill_switch": "Refused by the kill switch",
}
# Counted beside the drops: bots' events stored flagged (the tenant keeps them).
COUNTED = {**DROP_REASONS, "bot_flagged": "Bots' events, stored flagged"}
_COUNTER = "tracking:drops:{tenant}:{reason}:{hour}"
COUNTER_HOURS = 48


def _hour(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H")


def count_drop(tenant_id: int, reason: str, count: int = 1) -> None:
    """Count what was answered but not stored (and bots' events stored flagged), per tenant,
    reason and hour, in the shared cache (kept two days: the dashboard shows the last 24
    hours). Never fails a request."""
    key = _COUNTER.format(tenant=tenant_id, reason=reason, hour=_hour(timezone.now()))
    try:
        if not cache.add(key, count, timeout=COUNTER_HOURS * 3600):
            cache.incr(key, count)
    except Exception:
        pass
    ops_counters.count(f"tracking.dropped:{reason}", count)  # all tenants, a minute (crm.ops)


def drop_counts(tenant_id: int, *, now: dt.datetime | None = None) -> dict[str, int]:
    """The last 24 hours' drops of a tenant, by reason (one read of the shared cache)."""
    now = now or timezone.now()
    hours = [_hour(now - dt.timedelta(hours=back)) for back in range(24)]
    keys = {
        _COUNTER.format(tenant=tenant_id, reason=reason, hour=hour): reason
        for reason in COUNTED
        for hour in hours
    }
    try:
        found = cache.get_many(list(keys))
    except Exception:
        found = {}
    totals = dict.fromkeys(COUNTED, 0)
    for key, value in found.items():
        totals[keys[key]] += int(value)
    return totals

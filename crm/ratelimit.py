"""A rate limit shared by every process: at most `limit` uses of a key per `window` seconds,
the window starting at the key's first use, counted in the shared cache (Redis in production,
so the limit holds across gunicorn workers and machines).

    decision = take(f"analysis:{user.pk}:route", limit=1, window=10)
    if not decision.allowed:
        return 429 with Retry-After: decision.retry_after

If the cache cannot be reached the use is allowed and not counted (`counted` is False): a
limiter that is down must not stop the service it protects (the health check says degraded).

On Redis a process takes its uses in shares of a hundredth of the limit (INCRBY share, one
round trip) and spends them locally: a limit of 6,000 a minute costs one round trip per 60
requests, not one per request, and still holds in total across processes (a share a process
took and did not spend is counted, so a busy window may end a little under the limit). A
limit under 100 has shares of one: every use asks Redis.
"""

import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds until the window ends, when refused
    counted: bool = True


def take(key: str, *, limit: int, window: int) -> Decision:
    """Count one use of `key`; refused past `limit` uses in the window."""
    try:
        if isinstance(caches["default"], RedisCache):
            return _take_on_redis(key, limit, window)
    except Exception:
        logger.warning("rate limit not counted: cache unavailable", exc_info=True)
        return Decision(allowed=True, counted=False)
    count_key, until_key = f"ratelimit:{key}:n", f"ratelimit:{key}:until"
    now = time.time()
    try:
        # add() starts a window (the end it is kept until, and a count); incr() is atomic, so
        # concurrent uses all count.
        cache.add(until_key, now + window, timeout=window)
        cache.add(count_key, 0, timeout=window)
        try:
            count = cache.incr(count_key)
        except ValueError:  # the window ended between add() and incr()
            cache.add(until_key, now + window, timeout=window)
            cache.add(count_key, 0, timeout=window)
            count = cache.incr(count_key)
        if count <= limit:
            return Decision(allowed=True)
        until = cache.get(until_key) or now + window
        return Decision(allowed=False, retry_after=max(1, math.ceil(until - now)))
    except Exception:
        logger.warning("rate limit not counted: cache unavailable", exc_info=True)
        return Decision(allowed=True, counted=False)


# key -> [uses left in this process's share, the monotonic moment the window ends]
_shares: dict[str, list] = {}
_SHARES_MAX = 50_000


def _take_on_redis(key: str, limit: int, window: int) -> Decision:
    now = time.monotonic()
    held = _shares.get(key)
    if held is not None and held[1] > now and held[0] > 0:
        held[0] -= 1
        return Decision(allowed=True)
    share = max(1, limit // 100)
    backend = caches["default"]
    name = backend.make_and_validate_key(f"ratelimit:{key}:w")
    pipe = backend._cache.get_client(name, write=True).pipeline(transaction=False)
    pipe.incrby(name, share)
    pipe.expire(name, window, nx=True)  # set by the window's first use only
    pipe.ttl(name)
    count, _, left = pipe.execute()
    left = left if left and left > 0 else window
    granted = min(count, limit) - (count - share)  # of this share, what is within the limit
    if granted <= 0:
        return Decision(allowed=False, retry_after=max(1, left))
    if len(_shares) >= _SHARES_MAX:
        _shares.clear()
    _shares[key] = [granted - 1, now + left]
    return Decision(allowed=True)


# What a reset clears: this module's counters and DRF's throttle histories (crm.api.throttling).
_RESET_PATTERNS = ("ratelimit:*", "throttle_*")


def reset() -> int:
    """Forget every count of every limit and API throttle (a switch for a bad day: clients
    locked out by a burst that is over). Returns how many counters were cleared. A process
    still spends the share it took (at most a hundredth of a limit): that is not undone."""
    _shares.clear()
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(None, write=True)
        cleared = 0
        for pattern in _RESET_PATTERNS:
            batch = []
            for name in client.scan_iter(match=backend.make_key(pattern), count=1000):
                batch.append(name)
                if len(batch) == 1000:
                    cleared += client.delete(*batch)
                    batch = []
            if batch:
                cleared += client.delete(*batch)
        return cleared
    # The local-memory cache (one process: `make run` without Redis, some tests).
    prefixes = tuple(backend.make_key(p.rstrip("*")) for p in _RESET_PATTERNS)
    names = [name for name in list(getattr(backend, "_cache", {})) if name.startswith(prefixes)]
    for name in names:
        backend.delete(name.split(":", 2)[-1])
    return len(names)

"""A rate limit shared by every process: at most `limit` uses of a key per `window` seconds,
the window starting at the key's first use, counted in the shared cache (Redis in production,
so the limit holds across gunicorn workers and machines).

    decision = take(f"analysis:{user.pk}:route", limit=1, window=10)
    if not decision.allowed:
        return 429 with Retry-After: decision.retry_after

If the cache cannot be reached the use is allowed and not counted (`counted` is False): a
limiter that is down must not stop the service it protects (the health check says degraded).
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


def _take_on_redis(key: str, limit: int, window: int) -> Decision:
    """The same in one round trip (the hot paths ask on every request): INCR, an expiry set
    only by the window's first use (EXPIRE NX), and what is left of it."""
    backend = caches["default"]
    name = backend.make_and_validate_key(f"ratelimit:{key}:w")
    pipe = backend._cache.get_client(name, write=True).pipeline(transaction=False)
    pipe.incr(name)
    pipe.expire(name, window, nx=True)
    pipe.ttl(name)
    count, _, left = pipe.execute()
    if count <= limit:
        return Decision(allowed=True)
    return Decision(allowed=False, retry_after=max(1, left if left and left > 0 else window))

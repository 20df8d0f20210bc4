"""Key → tenant, without a database query per request: each process keeps what it resolved for
TRACKING_KEY_CACHE_SECONDS, the shared cache keeps it for every process, the database answers
the rest. A rotation or deactivation clears the shared entry, so it takes effect everywhere
within those few seconds.

After a rotation the previous key resolves too, until it expires (TRACKING_KEY_GRACE_HOURS):
what is kept of it, here and in the shared cache, is kept no longer than that, so it stops
working at its expiry without a check per request."""

import contextlib
import datetime as dt
import math
import re
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from tracking.models import TrackingTenant

SHARED_SECONDS = 60


def key_grace() -> dt.timedelta:
    """How long a rotated key keeps working: TRACKING_KEY_GRACE_HOURS (24 by default)."""
    return dt.timedelta(hours=settings.TRACKING_KEY_GRACE_HOURS)


# What every key the CRM makes looks like (services.new_ingestion_key: "pk_" and URL-safe
# base64). Anything else is nobody's key, answered without a look-up: a NUL, which PostgreSQL
# cannot even compare, or made-up text meant to reach the database.
KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KEY = "tracking:key:{key}"
_local: dict[str, tuple[float, "Tenant | None"]] = {}
_LOCAL_MAX = 10_000


@dataclass(frozen=True)
class Tenant:
    """What the ingestion path needs of a tenant (a plain value: cached as it is)."""

    id: int
    hash_key: str
    ingestion_key: str
    webhook_secret: str
    allowed_origins: tuple[str, ...]
    ip_handling: str
    active: bool
    kill_switch: bool
    rate_per_minute: int
    webhook_rate_per_minute: int
    bot_handling: str = "flag"
    # The key and secret a rotation replaced, and when they stop working (Unix seconds; 0:
    # there are none).
    previous_ingestion_key: str = ""
    previous_webhook_secret: str = ""
    previous_until: float = 0.0

    def previous_secret(self) -> str:
        """The previous webhook secret while it still works, else ""."""
        if self.previous_webhook_secret and time.time() < self.previous_until:
            return self.previous_webhook_secret
        return ""

    def seconds_left(self, key: str) -> float:
        """How long `key` still works: forever for the current one."""
        if key == self.ingestion_key:
            return math.inf
        return self.previous_until - time.time()


def _of(row: TrackingTenant) -> Tenant:
    return Tenant(
        id=row.pk,
        hash_key=row.hash_key,
        ingestion_key=row.ingestion_key,
        webhook_secret=row.webhook_secret,
        allowed_origins=tuple(row.allowed_origins or ()),
        ip_handling=row.ip_handling,
        active=row.active,
        kill_switch=row.kill_switch,
        rate_per_minute=row.rate_per_minute or settings.TRACKING_RATE_PER_MINUTE,
        webhook_rate_per_minute=row.webhook_rate_per_minute
        or settings.TRACKING_WEBHOOK_RATE_PER_MINUTE,
        bot_handling=row.bot_handling,
        previous_ingestion_key=row.previous_ingestion_key,
        previous_webhook_secret=row.previous_webhook_secret,
        previous_until=row.previous_keys_expire_at.timestamp()
        if row.previous_keys_expire_at
        else 0.0,
    )


def resolve(key: str) -> Tenant | None:
    """The tenant of an ingestion key (inactive ones too: the caller answers for them), or
    None for a key nobody has: one not shaped like a key at once, an unknown one from the
    database once, then from the caches for a while."""
    if not KEY_SHAPE.fullmatch(key):
        return None
    now = time.monotonic()
    held = _local.get(key)
    if held is not None and held[0] > now:
        return held[1]
    tenant = _shared(key)
    keep = settings.TRACKING_KEY_CACHE_SECONDS
    if tenant is not None:
        left = tenant.seconds_left(key)
        if left <= 0:  # a previous key that expired while the shared cache held it
            tenant = None
        keep = min(keep, max(left, 0))
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[key] = (now + keep, tenant)
    return tenant


def _shared(key: str) -> Tenant | None:
    try:
        kept = cache.get(_KEY.format(key=key))
    except Exception:  # the cache is down: the database answers (and health says degraded)
        kept = None
    if kept is not None:
        return Tenant(**kept) if kept else None
    row = (
        TrackingTenant.objects.filter(
            Q(ingestion_key=key)
            | Q(previous_ingestion_key=key, previous_keys_expire_at__gt=timezone.now())
        )
        .order_by("pk")
        .first()
    )
    tenant = _of(row) if row is not None else None
    # An unknown key is remembered too (briefly), so that a flood of made-up keys does not
    # reach the database; a previous key no longer than it works.
    keep = SHARED_SECONDS if tenant is None else min(SHARED_SECONDS, tenant.seconds_left(key))
    if keep >= 1:
        with contextlib.suppress(Exception):
            cache.set(_KEY.format(key=key), asdict(tenant) if tenant else {}, timeout=int(keep))
    return tenant


def forget(*keys: str) -> None:
    """A tenant changed (keys rotated, deactivated, kill switch): every process sees it within
    TRACKING_KEY_CACHE_SECONDS."""
    for key in keys:
        _local.pop(key, None)
    with contextlib.suppress(Exception):
        cache.delete_many([_KEY.format(key=key) for key in keys])

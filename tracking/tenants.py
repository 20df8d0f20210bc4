"""Key → tenant, without a database query per request: each process keeps what it resolved for
TRACKING_KEY_CACHE_SECONDS, the shared cache keeps it for every process, the database answers
the rest. A rotation or deactivation clears the shared entry, so it takes effect everywhere
within those few seconds."""

import contextlib
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache

from tracking.models import TrackingTenant

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
    )


def resolve(key: str) -> Tenant | None:
    """The tenant of an ingestion key (inactive ones too: the caller answers for them), or
    None for a key nobody has."""
    if not key or len(key) > 64:
        return None
    now = time.monotonic()
    held = _local.get(key)
    if held is not None and held[0] > now:
        return held[1]
    tenant = _shared(key)
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[key] = (now + settings.TRACKING_KEY_CACHE_SECONDS, tenant)
    return tenant


def _shared(key: str) -> Tenant | None:
    try:
        kept = cache.get(_KEY.format(key=key))
    except Exception:  # the cache is down: the database answers (and health says degraded)
        kept = None
    if kept is not None:
        return Tenant(**kept) if kept else None
    row = TrackingTenant.objects.filter(ingestion_key=key).first()
    tenant = _of(row) if row is not None else None
    # An unknown key is remembered too (briefly), so that a flood of made-up keys does not
    # reach the database.
    with contextlib.suppress(Exception):
        cache.set(_KEY.format(key=key), asdict(tenant) if tenant else {}, timeout=60)
    return tenant


def forget(*keys: str) -> None:
    """A tenant changed (keys rotated, deactivated, kill switch): every process sees it within
    TRACKING_KEY_CACHE_SECONDS."""
    for key in keys:
        _local.pop(key, None)
    with contextlib.suppress(Exception):
        cache.delete_many([_KEY.format(key=key) for key in keys])

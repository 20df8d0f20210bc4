"""Counts of what happens, by minute and by day, in the shared cache: the ops dashboard's "a
minute" and "per day" figures for things no table records (tasks run, requests refused with 409
or 429). Counting never fails what it counts; a cache that is down counts nothing. With Redis the
counts are the whole system's; under `make run` (a cache per process) each process's own.
"""

import datetime as dt

from django.core.cache import cache
from django.utils import timezone

MINUTES_KEPT = 120
DAYS_KEPT = 15
_MINUTE = "ops:{name}:m:{at:%Y%m%d%H%M}"
_DAY = "ops:{name}:d:{at:%Y%m%d}"


def count(name: str, n: int = 1, *, now: dt.datetime | None = None) -> None:
    at = (now or timezone.now()).astimezone(dt.UTC)
    try:
        for key, timeout in (
            (_MINUTE.format(name=name, at=at), MINUTES_KEPT * 60),
            (_DAY.format(name=name, at=at), DAYS_KEPT * 86400),
        ):
            if not cache.add(key, n, timeout=timeout):
                cache.incr(key, n)
    except Exception:
        pass


def per_minute(name: str, *, minutes: int = 60, now: dt.datetime | None = None) -> list[int]:
    """The counts of the last `minutes` whole minutes, oldest first (the current one not yet
    over is left out)."""
    at = (now or timezone.now()).astimezone(dt.UTC).replace(second=0, microsecond=0)
    moments = [at - dt.timedelta(minutes=back) for back in range(minutes, 0, -1)]
    return _read([_MINUTE.format(name=name, at=moment) for moment in moments])


def per_day(
    name: str, *, days: int = 14, now: dt.datetime | None = None
) -> list[tuple[dt.date, int]]:
    """The counts of the last `days` days (UTC), today's so far included, oldest first."""
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    dates = [today - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
    return list(zip(dates, _read([_DAY.format(name=name, at=day) for day in dates]), strict=True))


def _read(keys: list[str]) -> list[int]:
    try:
        found = cache.get_many(keys)
    except Exception:
        found = {}
    return [int(found.get(key, 0)) for key in keys]

"""Which areas are paused or offline, read on every request of an area's page or API.

The states of the switches that are on live in the shared cache (one GET); the database is read
when the cache has none (after a flip, a Redis restart, or STATES_TTL) and, should the cache be
unreachable, on every call: a switch must hold even when Redis does not.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from crm.areas import Area, registered_areas
from crm.switches.models import AreaSwitch

logger = logging.getLogger(__name__)

STATES_KEY = "switches:on"
# A flip clears the key; this bounds how long a clear that failed (Redis away) could be missed.
STATES_TTL = 60
# Retry-After when no time to come back was given.
DEFAULT_RETRY_AFTER = 300


@dataclass(frozen=True)
class SwitchState:
    area: str
    jobs_paused: bool
    offline: bool
    reason: str
    back_at: datetime | None

    def retry_after(self, now: datetime | None = None) -> int:
        """Whole seconds until the area is expected back (at least a minute), for Retry-After."""
        if self.back_at is None:
            return DEFAULT_RETRY_AFTER
        left = (self.back_at - (now or timezone.now())).total_seconds()
        return max(60, int(left))


def switches_on() -> dict[str, SwitchState]:
    """The areas with a switch on, by name (most of the time: none)."""
    try:
        cached = cache.get(STATES_KEY)
    except Exception:
        logger.warning("switch states read from the database: cache unavailable", exc_info=True)
        return _from_database()
    if cached is not None:
        return {area: SwitchState(area, *values) for area, values in cached.items()}
    states = _from_database()
    remember(states)
    return states


def remember(states: dict[str, SwitchState], *, timeout: int | None = STATES_TTL) -> None:
    """Put the states in the cache (also what a test starting from an empty database knows,
    then for as long as the test runs: `timeout` None)."""
    try:
        cache.set(
            STATES_KEY,
            {area: (s.jobs_paused, s.offline, s.reason, s.back_at) for area, s in states.items()},
            timeout=timeout,
        )
    except Exception:
        logger.warning("switch states not cached: cache unavailable", exc_info=True)


def forget() -> None:
    """After a flip: the next read goes to the database."""
    try:
        cache.delete(STATES_KEY)
    except Exception:
        logger.warning("switch states not cleared from the cache", exc_info=True)


def _from_database() -> dict[str, SwitchState]:
    rows = AreaSwitch.objects.filter(Q(jobs_paused=True) | Q(offline=True))
    return {
        row.area: SwitchState(row.area, row.jobs_paused, row.offline, row.reason, row.back_at)
        for row in rows
    }


def offline_state(area: str | None) -> SwitchState | None:
    if area is None:
        return None
    state = switches_on().get(area)
    return state if state is not None and state.offline else None


def jobs_paused(area: str | None) -> SwitchState | None:
    if area is None:
        return None
    state = switches_on().get(area)
    return state if state is not None and state.jobs_paused else None


def area_of_module(module: str) -> str | None:
    """The area of an app's job or home panel: the one named like the app (goals.jobs → goals),
    if it is a registered area; the core's own jobs belong to none and are never paused."""
    app = module.partition(".")[0]
    return app if app in {area.name for area in registered_areas()} else None


# The areas that stay on whatever happens: where switches are flipped back.
ALWAYS_ON = frozenset({"admin", "ops"})


def switchable_areas() -> list[Area]:
    return [area for area in registered_areas() if area.name not in ALWAYS_ON]


def switch_board() -> list[tuple[str, str, AreaSwitch]]:
    """Every area that can be switched (label, name) with its row (unsaved when never flipped),
    for the switches page: one query."""
    rows = {row.area: row for row in AreaSwitch.objects.select_related("changed_by")}
    return [
        (area.label, area.name, rows.get(area.name) or AreaSwitch(area=area.name))
        for area in switchable_areas()
    ]

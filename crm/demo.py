"""How a feature app adds its demo data to `manage.py seed_demo` without the core knowing it:
a `demo.py` module in the app registers a seeder, which seed_demo runs after the core's data,
in the same transaction.

    @demo_seeder("goals")
    def seed_goals(context: DemoContext) -> None: ...

A seeder is deterministic for `context.seed` and idempotent: run again, it adds only what is
missing (the reps seeded since, say).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from crm.models import SalesRep, Team


@dataclass(frozen=True)
class DemoContext:
    seed: int
    as_of: dt.datetime  # "now" for the demo: the last hour seeded
    first_month: dt.date  # the first day of the first month with history
    reps: list[SalesRep]  # every demo rep, those seeded earlier included
    teams: list[Team]
    count: Callable[[str, int], None]  # report what was created: count("goals", 12)


Seeder = Callable[[DemoContext], None]
_seeders: dict[str, Seeder] = {}


def demo_seeder(name: str) -> Callable[[Seeder], Seeder]:
    def decorator(seeder: Seeder) -> Seeder:
        _seeders[name] = seeder
        return seeder

    return decorator


def run_seeders(context: DemoContext) -> None:
    """Each app's seeder, in the order of INSTALLED_APPS (the apps' demo.py are imported by
    seed_demo)."""
    for seeder in _seeders.values():
        seeder(context)

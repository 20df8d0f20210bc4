"""The seeders that `manage.py seed_demo` runs, and what each is given.

A seeder is registered under a name and an order; seed_demo runs every registered seeder in
ascending order (equal orders in the order they were registered), all in one transaction.
The core's seeders come first (the accounts, the products, the teams, the reps and their
work); an app's run after them by default, so they find the reps and their data in place.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth.hashers import make_password
from django.utils.module_loading import autodiscover_modules

from crm.demo.calendar import Calendar
from crm.models import SalesRep, Team

DEMO_PASSWORD = "demo1234"
# The core's seeders take the orders below this; an app's seeder runs at it unless it says.
AFTER_THE_CORE = 100


@dataclass
class DemoContext:
    """One run of seed_demo: its options, and what the seeders before made for those after."""

    seed: int
    rep_count: int  # --reps: rep1..repN, in teams
    calendar: Calendar  # the months of history, the last one the current, up to `as_of`
    count: Callable[[str, int], None]  # report what was created: count("goals", 12)
    teams: list[Team] = field(default_factory=list)  # set by the "teams" seeder
    # Set by the "reps" seeder: every demo rep, those seeded by an earlier run included.
    reps: list[SalesRep] = field(default_factory=list)

    @property
    def as_of(self) -> dt.datetime:
        """The demo's "now": the last hour seeded."""
        return self.calendar.as_of

    @property
    def first_month(self) -> dt.date:
        """The first day of the first month with history."""
        return self.calendar.start.date()

    @cached_property
    def password_hash(self) -> str:
        # One PBKDF2 run for every login of the run, and none when nobody new is added:
        # hashing per user would take most of the load time.
        return make_password(DEMO_PASSWORD)


SeederFunction = Callable[[DemoContext], None]


@dataclass(frozen=True)
class Seeder:
    name: str
    order: int
    run: SeederFunction


_seeders: dict[str, Seeder] = {}


def demo_seeder(
    name: str, *, order: int = AFTER_THE_CORE
) -> Callable[[SeederFunction], SeederFunction]:
    """Register the decorated function as the seeder `name`, run at `order`."""

    def register(function: SeederFunction) -> SeederFunction:
        known = _seeders.get(name)
        if known is not None and _where(known.run) != _where(function):
            raise ValueError(f"Two demo seeders are named {name!r}.")
        _seeders[name] = Seeder(name=name, order=order, run=function)
        return function

    return register


def _where(function: SeederFunction) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def seeders() -> list[Seeder]:
    """Every seeder in the order they run: the core's (crm.demo) and each installed app's
    (its demo.py, imported here: only seed_demo needs them)."""
    autodiscover_modules("demo")
    return sorted(_seeders.values(), key=lambda seeder: seeder.order)

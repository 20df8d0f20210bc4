"""Demo data for `manage.py seed_demo`, made by seeders: the core's, in this package, and each
app's, registered by its own `demo.py` without the core knowing the app:

    from crm.demo import DemoContext, demo_seeder

    @demo_seeder("goals")
    def seed_goals(context: DemoContext) -> None: ...

An app's seeder runs after the core's (`order=` places it elsewhere), in the same transaction,
and finds `context.reps` and `context.teams` made. A seeder is deterministic for
`context.seed` and idempotent: run again, it adds only what is missing (the reps seeded since,
say), and it reports what it created with `context.count`.
"""

# The core's seeders register themselves as they load, as an app's do in its demo.py.
from crm.demo import catalogue, people, reps  # noqa: F401
from crm.demo.registry import AFTER_THE_CORE, DEMO_PASSWORD, DemoContext, demo_seeder, seeders

__all__ = ["AFTER_THE_CORE", "DEMO_PASSWORD", "DemoContext", "demo_seeder", "seeders"]

"""Demo data: `manage.py seed_demo [--reps N] [--months M] [--seed S]`.

Runs the demo seeders (`crm.demo`: the core's accounts, products, teams and reps with their
work, then each app's `demo.py`) in order, in one transaction, so a failed run leaves nothing
half-made behind. Deterministic for a seed, and idempotent: a second run adds nothing, a run
with more --reps adds only the new reps and what goes with them.

This is a loader, not a use case: it writes in bulk past the services (no audit rows, no
events), but every row satisfies the models' constraints. Dates are relative to the current
hour: the last of the --months months is the current one, filled up to now, with planned
activities and open tasks for the rest of it.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from crm.demo import DEMO_PASSWORD, DemoContext, seeders
from crm.demo.calendar import Calendar
from crm.demo.people import logins
from crm.management.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Load deterministic demo data (users, teams, reps, customers, products, routes, deals, "
        "activities, tasks, and each app's). Safe to run again: existing reps are left as they "
        "are."
    )
    # Tests pin "now" so that two runs produce identical rows.
    stealth_options = ("as_of",)

    def add_arguments(self, parser):
        parser.add_argument("--reps", type=int, default=12, help="number of sales reps (12)")
        parser.add_argument("--months", type=int, default=12, help="months of history (12)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (42)")
        parser.add_argument(
            "--allow-demo-logins",
            action="store_true",
            help="seed even with DEBUG off (the demo users share a published password)",
        )

    def handle(self, *args, reps: int, months: int, seed: int, **options):
        if reps < 0 or months < 1:
            raise CommandError("--reps must be 0 or more and --months 1 or more.")
        if not settings.DEBUG and not options.get("allow_demo_logins"):
            raise CommandError(
                "Refusing to create demo logins with a published password while DEBUG is off. "
                "Pass --allow-demo-logins for a throwaway environment."
            )
        as_of = options.get("as_of") or timezone.localtime().replace(
            minute=0, second=0, microsecond=0
        )
        self.verbosity = options.get("verbosity", 1)
        self.created: dict[str, int] = {}
        context = DemoContext(
            seed=seed,
            rep_count=reps,
            calendar=Calendar.ending_at(as_of, months),
            count=self._count,
        )
        steps = seeders()
        with (
            transaction.atomic(),
            progress_bar(self, total=len(steps), desc="Seeding", unit="step") as bar,
        ):
            for step in steps:
                bar.set_postfix_str(step.name)
                step.run(context)
                bar.update()
        self._report(context)

    def _count(self, what: str, number: int) -> None:
        if number:
            self.created[what] = self.created.get(what, 0) + number

    def _report(self, context: DemoContext) -> None:
        if self.verbosity == 0:
            return
        if self.created:
            summary = ", ".join(f"{what} {number}" for what, number in self.created.items())
            self.stdout.write(self.style.SUCCESS(f"Created: {summary}."))
        else:
            self.stdout.write("Demo data already present: nothing to add.")
        months = len(context.calendar.months)
        self.stdout.write(
            f"History: {context.calendar.start:%Y-%m-%d} to {context.as_of:%Y-%m-%d %H:%M} "
            f"({months} month{'s' if months > 1 else ''})."
        )
        self.stdout.write(f"Demo logins, all with password {DEMO_PASSWORD}:")
        for username, role in logins(context.rep_count):
            self.stdout.write(f"  {username:<14} {role}")

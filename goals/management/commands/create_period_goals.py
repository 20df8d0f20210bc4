"""`manage.py create_period_goals --month 2026-07` / `--year 2026`: make a month's plans (or a
year's goals) for every active rep now, then count their values. The hourly job does this by
itself; the command is for a month ahead, or after restoring data."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.management.progress import progress_bar
from crm.roles import SystemActor
from goals.models import Goal
from goals.plans import services as plans
from goals.services import goals_recalculate


def _month(text: str) -> tuple[int, int]:
    try:
        day = dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"--month takes YYYY-MM, like 2026-07, not {text!r}.") from None
    return day.year, day.month


class Command(BaseCommand):
    help = "Make every active rep's monthly plan (--month YYYY-MM) or yearly goals (--year YYYY)."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--month", metavar="YYYY-MM", help="the month's plans")
        which.add_argument("--year", type=int, metavar="YYYY", help="the year's goals")

    def handle(self, *args, month=None, year=None, **options):
        self.verbosity = options.get("verbosity", 1)
        if month is not None:
            year, number = _month(month)
        else:
            number = None
        with progress_bar(self, desc="Time zones", unit="zone") as bar:

            def progress(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                created = plans.plans_create(year=year, month=number, progress=progress)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
        goals = Goal.objects.filter(plan__year=year, plan__month=number)
        counted = goals_recalculate(goals=goals, actor=SystemActor("command:create_period_goals"))
        label = month or str(year)
        self.stdout.write(
            self.style.SUCCESS(
                f"{label}: {created} plan(s) created, {counted} goal value(s) counted."
            )
        )

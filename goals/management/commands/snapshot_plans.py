"""`manage.py snapshot_plans [--rep CODE ...]`: an ad-hoc snapshot of the month plans under way
now (of every active plan, or of the reps named), beside the daily ones. For a review meeting,
or before a correction one wants to compare against."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from crm import periods
from crm.models import SalesRep
from goals.models import RepPlan
from goals.plans import services as plans


class Command(BaseCommand):
    help = "Take an ad-hoc snapshot of the month plans under way (all, or --rep CODE ...)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rep", action="append", metavar="CODE", help="a rep's employee code (repeatable)"
        )

    def handle(self, *args, rep=None, **options):
        plan_ids = None
        if rep:
            found = set(
                SalesRep.objects.filter(employee_code__in=rep).values_list(
                    "employee_code", flat=True
                )
            )
            unknown = sorted(set(rep) - found)
            if unknown:
                raise CommandError(f"No rep with the employee code(s): {', '.join(unknown)}.")
            plan_ids = list(
                RepPlan.objects.filter(rep__employee_code__in=rep, month__isnull=False).values_list(
                    "pk", flat=True
                )
            )
        now = timezone.now()
        taken = plans.snapshot_plans(
            on=periods.local_date(now, periods.company_zone()),
            daily=False,
            now=now,
            plan_ids=plan_ids,
        )
        self.stdout.write(self.style.SUCCESS(f"{taken} ad-hoc snapshot(s) taken."))

"""`manage.py check_goals [--repair]`: the nightly consistency check, by hand: every automatic
goal's stored value against a fresh recalculation, recorded like the job's; with `--repair`
the goals that differ (and did not change meanwhile) are set to their fresh value, audited."""

from django.core.management.base import BaseCommand

from crm.periods import format_moment
from crm.roles import SystemActor
from goals import services


class Command(BaseCommand):
    help = "Compare every automatic goal's value with a fresh recalculation (--repair: fix them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--repair", action="store_true", help="set the goals that differ to their fresh value"
        )

    def handle(self, *args, repair=False, **options):
        check = services.goals_check(actor=SystemActor("command:check_goals"), repair=repair)
        took = (check.finished_at - check.started_at).total_seconds()
        self.stdout.write(f"Checked {format_moment(check.started_at)} in {took:.2f} s: {check}.")
        for found in check.found:
            goal, stored, fresh = found["id"], found["stored"], found["fresh"]
            self.stdout.write(f"  goal {goal}: stored {stored}, fresh {fresh}")
        if check.differences > len(check.found):
            self.stdout.write(f"  … and {check.differences - len(check.found):,} more")
        if check.differences and repair:
            self.stdout.write(f"Repaired {check.repaired:,}.")
        elif check.differences:
            self.stdout.write("Run again with --repair to set them to their fresh value.")
        style = self.style.SUCCESS if not check.differences or repair else self.style.WARNING
        self.stdout.write(style("Done."))

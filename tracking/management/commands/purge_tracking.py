"""`manage.py purge_tracking --older-than 90d [--include-pending] [--include-failed]`: delete raw
events received before then, with a progress bar: whole day partitions on PostgreSQL (a day
holding rows that may not go is kept, and named), in batches elsewhere. Processed ones only,
unless asked; the sessions and events made from them stay."""

import datetime as dt
import re

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from crm.management.progress import progress_bar
from tracking import retention
from tracking.models import RawStatus

_AGE = re.compile(r"([0-9]{1,5})([dh])")


class Command(BaseCommand):
    help = "Delete old raw tracking events (processed ones, unless asked)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 90d, 36h")
        parser.add_argument("--include-pending", action="store_true")
        parser.add_argument("--include-failed", action="store_true")

    def handle(self, *args, older_than, include_pending=False, include_failed=False, **options):
        self.verbosity = options.get("verbosity", 1)
        match = _AGE.fullmatch(older_than.strip())
        if match is None:
            raise CommandError("--older-than takes days or hours: 90d, 36h.")
        number, unit = int(match.group(1)), match.group(2)
        age = dt.timedelta(days=number) if unit == "d" else dt.timedelta(hours=number)
        statuses = [RawStatus.PROCESSED]
        if include_pending:
            statuses.append(RawStatus.PENDING)
        if include_failed:
            statuses.append(RawStatus.FAILED)
        with progress_bar(self, desc="Deleting", unit="row") as bar:

            def progress(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)

            purged = retention.purge(
                before=timezone.now() - age, statuses=tuple(statuses), progress=progress
            )
        if purged.dropped:
            self.stdout.write(f"Partitions dropped: {', '.join(purged.dropped)}.")
        for kept in purged.kept:
            self.stdout.write(
                self.style.WARNING(
                    f"Kept {kept}."
                    if kept.busy
                    else f"Kept {kept}: replay or purge those rows (--include-pending, "
                    "--include-failed), and the next run drops it."
                )
            )
        self.stdout.write(self.style.SUCCESS(f"{purged.deleted} raw event(s) deleted."))

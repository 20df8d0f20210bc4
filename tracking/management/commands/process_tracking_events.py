"""`manage.py process_tracking_events [--batch N] [--seconds S]`: process the pending raw
events now (what the worker does), with a progress bar; any number may run side by side."""

from django.core.management.base import BaseCommand

from crm.management.progress import progress_bar
from tracking import processing


class Command(BaseCommand):
    help = "Turn pending raw tracking events into sessions and events."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=None, help="rows a batch (1000)")
        parser.add_argument("--seconds", type=float, default=None, help="stop after this long")

    def handle(self, *args, batch=None, seconds=None, **options):
        self.verbosity = options.get("verbosity", 1)
        with progress_bar(self, desc="Raw events", unit="event") as bar:

            def progress(done: int, total: int | None) -> None:
                bar.update(done - bar.n)

            result = processing.process_pending(batch=batch, budget=seconds, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.processed} processed, {result.retrying} to retry, {result.failed} failed."
            )
        )

from django.core.management.base import BaseCommand, CommandError

from crm import jobs
from crm.jobs.models import JobRunStatus


class Command(BaseCommand):
    help = "Run a registered periodic job now, under its lock, and record the run."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="the job to run; omit to list the jobs")

    def handle(self, *args, name=None, **options):
        if name is None:
            for job in jobs.registered_jobs().values():
                self.stdout.write(f"{job.name:30} {job.description}")
            return

        def progress(done: int, total: int | None) -> None:
            of_total = f"/{total}" if total is not None else ""
            self.stdout.write(f"  {name}: {done}{of_total}")

        self.stdout.write(f"Running {name}…")
        try:
            run = jobs.job_run(name, progress=progress)
        except jobs.UnknownJob as exc:
            raise CommandError(exc.args[0]) from None
        except Exception as exc:
            raise CommandError(f"{name} failed: {type(exc).__name__}: {exc}") from exc
        if run.status == JobRunStatus.SKIPPED_LOCKED:
            self.stdout.write(self.style.WARNING(f"{name} skipped: another run holds its lock."))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{name} {run.status}: {run.items_processed} item(s) in "
                f"{run.duration.total_seconds():.2f} s (job run #{run.pk})."
            )
        )

from django.core.management.base import BaseCommand, CommandError

from crm.jobs.models import DeadLetter
from crm.jobs.services import dead_letters_retry


class Command(BaseCommand):
    help = (
        "Re-enqueue dead-lettered tasks: by default every letter not yet retried; "
        "--id for chosen ones, --task for one task name, --all to include retried ones."
    )

    def add_arguments(self, parser):
        parser.add_argument("--id", type=int, action="append", dest="ids", help="a letter's id")
        parser.add_argument("--task", help="only letters of this task name")
        parser.add_argument("--all", action="store_true", help="include letters already retried")
        parser.add_argument("--dry-run", action="store_true", help="list, enqueue nothing")

    def handle(self, *args, ids=None, task=None, all=False, dry_run=False, **options):
        letters = DeadLetter.objects.all()
        if not all and not ids:
            letters = letters.filter(retried=False)
        if ids:
            letters = letters.filter(pk__in=ids)
            missing = set(ids) - set(letters.values_list("pk", flat=True))
            if missing:
                raise CommandError(
                    f"No dead letter with id {', '.join(map(str, sorted(missing)))}."
                )
        if task:
            letters = letters.filter(task_name=task)
        for letter in letters.order_by("id"):
            self.stdout.write(
                f"#{letter.pk} {letter.task_name} args={letter.args} kwargs={letter.kwargs} "
                f"failures={letter.failure_count} last={letter.last_failed_at:%Y-%m-%d %H:%M}"
            )
        if dry_run:
            self.stdout.write(f"{letters.count()} letter(s) would be re-enqueued.")
            return
        try:
            count = dead_letters_retry(letters=letters)
        except Exception as exc:
            raise CommandError(f"Could not enqueue: {type(exc).__name__}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Re-enqueued {count} task(s)."))

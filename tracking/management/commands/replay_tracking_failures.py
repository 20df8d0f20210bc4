"""`manage.py replay_tracking_failures [--tenant IDENTIFIER] [--reason REASON] [--dry-run]`: the
FAILED raw events pending again (after a fix), then processed by the worker."""

from django.core.management.base import BaseCommand, CommandError

from tracking import processing, tasks
from tracking.models import FailureReason, RawEvent, RawStatus, TrackingTenant


class Command(BaseCommand):
    help = "Make failed raw tracking events pending again."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="a tenant's identifier (default: every tenant)")
        parser.add_argument("--reason", choices=FailureReason.values, help="only this reason")
        parser.add_argument("--dry-run", action="store_true", help="count them, change nothing")

    def handle(self, *args, tenant=None, reason=None, dry_run=False, **options):
        tenant_id = None
        if tenant:
            found = TrackingTenant.objects.filter(identifier=tenant).first()
            if found is None:
                raise CommandError(f"No tenant {tenant!r}.")
            tenant_id = found.pk
        if dry_run:
            rows = RawEvent.objects.filter(status=RawStatus.FAILED)
            if tenant_id:
                rows = rows.filter(tenant_id=tenant_id)
            if reason:
                rows = rows.filter(failure_reason=reason)
            self.stdout.write(f"{rows.count()} failed row(s) would be replayed.")
            return
        replayed = processing.replay(tenant_id=tenant_id, reason=reason or "")
        tasks.process_soon(now=True)
        self.stdout.write(self.style.SUCCESS(f"{replayed} failed row(s) pending again."))

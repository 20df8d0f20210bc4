"""`manage.py rebuild_tracking_rollups [--tenant IDENTIFIER]`: the dashboards' rollups counted
afresh from the events and sessions (after a restore, a load that wrote events directly, or to
check them). Safe beside running workers: their batches wait for it, then add theirs."""

from django.core.management.base import BaseCommand, CommandError

from tracking import rollups
from tracking.models import TrackingTenant


class Command(BaseCommand):
    help = "Count the tracking dashboards' rollups afresh from the events and sessions."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="a tenant's identifier (default: every tenant)")

    def handle(self, *args, tenant=None, **options):
        tenant_id = None
        if tenant is not None:
            found = (  # (a NUL is in no identifier, and PostgreSQL refuses it in a query)
                TrackingTenant.objects.filter(identifier=tenant).first()
                if "\x00" not in tenant
                else None
            )
            if found is None:
                raise CommandError(f"No tenant {tenant!r}.")
            tenant_id = found.pk
        made = rollups.rebuild(tenant_id=tenant_id)
        self.stdout.write(
            self.style.SUCCESS(
                "Rollups counted afresh: "
                + ", ".join(f"{rows} {name.replace('_', ' ')}" for name, rows in made.items())
                + " rows."
            )
        )

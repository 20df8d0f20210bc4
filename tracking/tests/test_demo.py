"""What `seed_demo` leaves for tracking: a demo tenant with days of processed events, a few
failed rows and a small backlog; run again, nothing more."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from tracking import rollups
from tracking.models import RawEvent, RawStatus, TrackedEvent, TrackedSession, TrackingTenant
from tracking.tests.helpers import rolled_up

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

AS_OF = dt.datetime(2026, 3, 18, 15, 0, tzinfo=dt.UTC)


def seed():
    call_command("seed_demo", reps=2, months=1, as_of=AS_OF, allow_demo_logins=True,
                 stdout=StringIO(), stderr=StringIO())  # fmt: skip


def test_the_demo_tenant_has_processed_events_failures_and_a_backlog():
    seed()
    counts = RawEvent.objects.count()
    seed()

    tenant = TrackingTenant.objects.get(identifier="demo-shop")
    assert "http://127.0.0.1:8000" in tenant.allowed_origins
    assert RawEvent.objects.count() == counts > 500
    assert RawEvent.objects.filter(status=RawStatus.FAILED).count() == 3
    assert RawEvent.objects.filter(status=RawStatus.PENDING).exists()
    assert TrackedSession.objects.filter(tenant=tenant, page_views__gt=1).exists()
    assert TrackedEvent.objects.filter(evt_type="add_to_cart").exists()
    assert not RawEvent.objects.filter(received_at__gt=AS_OF).exists()
    # The worker kept the dashboards' rollups as it processed them: what a rebuild counts.
    kept = rolled_up()
    assert sum(kept["minutes"].values()) == TrackedEvent.objects.count()
    rollups.rebuild()
    assert rolled_up() == kept

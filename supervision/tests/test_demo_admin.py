"""What `seed_demo` leaves for supervision, and the Django admin pages."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Route
from supervision.models import Analysis, SessionLine, SessionStatus, SupervisionSession
from supervision.tests.helpers import route_with_stops, today

pytestmark = pytest.mark.django_db

AS_OF = dt.datetime(2026, 3, 18, 15, 0, tzinfo=dt.UTC)


@pytest.mark.sqlite
def test_the_demo_has_weeks_of_saved_days_with_misses_and_route_1004_free_today():
    call_command("seed_demo", reps=4, months=2, as_of=AS_OF, allow_demo_logins=True,
                 stdout=StringIO(), stderr=StringIO())  # fmt: skip
    again = SupervisionSession.objects.count()
    call_command("seed_demo", reps=4, months=2, as_of=AS_OF, allow_demo_logins=True,
                 stdout=StringIO(), stderr=StringIO())  # fmt: skip

    sessions = SupervisionSession.objects.all()
    assert sessions.count() == again > 0  # idempotent
    assert not sessions.exclude(status=SessionStatus.SAVED).exists()
    assert not sessions.filter(date__gte=AS_OF.date()).exists()
    lines = SessionLine.objects.all()
    assert lines.filter(visited=False).exclude(reason="").exists()
    assert lines.filter(visited=True, actual_quantity=0).exists()
    route = Route.objects.get(code="1004")
    assert route.stops.exists() and not sessions.filter(route=route, date=AS_OF.date()).exists()
    assert Analysis.objects.filter(kind="route").exists()


def test_every_supervision_admin_list_opens_and_a_day_can_be_reopened(admin_client, rep):
    from supervision import services

    route = route_with_stops(rep)
    services.session_write(actor=rep.team.manager, route_id=route.pk, date=today(),
                           record_version=0, changes=[])  # fmt: skip
    session = SupervisionSession.objects.get()
    for name in ("supervisionsession", "routesummary", "analysis"):
        with CaptureQueriesContext(connection):
            assert admin_client.get(f"/admin/supervision/{name}/").status_code == 200
    assert (
        admin_client.get(f"/admin/supervision/supervisionsession/{session.pk}/change/").status_code
        == 200
    )
    answer = admin_client.post(
        "/admin/supervision/supervisionsession/",
        {"action": "reopen_selected", "_selected_action": [session.pk]},
    )
    assert answer.status_code == 302
    assert SupervisionSession.objects.get().status == SessionStatus.DRAFT
    assert admin_client.get("/admin/supervision/supervisionsession/add/").status_code == 403

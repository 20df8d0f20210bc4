"""What `seed_demo` leaves for supervision, and the Django admin pages."""

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.models import AuditEntry, Route
from crm.testing.routes import route_with_stops
from supervision import admin, analysis
from supervision.models import Analysis, SessionLine, SessionStatus, SupervisionSession
from supervision.tests.helpers import today

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


def test_every_supervision_admin_list_opens_with_its_times_zoned(
    admin_client, rep, settings, assert_queries
):
    settings.TIME_ZONE = "Europe/Madrid"
    from supervision import services

    route = route_with_stops(rep)
    services.session_write(actor=rep.team.manager, route_id=route.pk, date=today(),
                           record_version=0, changes=[])  # fmt: skip
    session = SupervisionSession.objects.get()
    analysis.review(actor=rep.team.manager, route_id=route.pk, date=today(), kind="route")
    for name, queries in (("supervisionsession", 9), ("routesummary", 6), ("analysis", 8)):
        with assert_queries(queries):
            page = admin_client.get(f"/admin/supervision/{name}/")
        assert page.status_code == 200 and " CET" in page.content.decode(), name
    assert (
        admin_client.get(f"/admin/supervision/supervisionsession/{session.pk}/change/").status_code
        == 200
    )
    assert admin_client.get("/admin/supervision/supervisionsession/add/").status_code == 403


def asked_for(page: str) -> list[str]:
    """The days the admin's reopen question lists, as its form sends them back."""
    return re.findall(r'name="_selected_action" value="([^"]+)"', page)


def test_the_admin_reopen_asks_why_on_a_page_of_its_own_then_reopens_with_that_reason(
    admin_client, rep
):
    from crm.models import AuditEntry
    from supervision import services

    route = route_with_stops(rep)
    for days_ago in (0, 1):
        services.session_write(actor=rep.team.manager, route_id=route.pk, record_version=0,
                               date=today() - dt.timedelta(days=days_ago), changes=[])  # fmt: skip
    draft = route_with_stops(rep)
    services.session_write(actor=rep.team.manager, route_id=draft.pk, date=today(),
                           record_version=0, changes=[], finish=False)  # fmt: skip
    every = [str(pk) for pk in SupervisionSession.objects.values_list("pk", flat=True)]
    changelist = "/admin/supervision/supervisionsession/"
    chosen = {"action": "reopen_selected", "_selected_action": every}

    asked = admin_client.post(changelist, chosen)
    offered = {**chosen, "_selected_action": asked_for(asked.content.decode())}
    short = admin_client.post(changelist, {**offered, "reopen": "yes", "reason": "too short"})
    assert not SupervisionSession.objects.filter(status=SessionStatus.DRAFT, route=route).exists()
    done = admin_client.post(
        changelist, {**offered, "reopen": "yes", "reason": "The rep sent late figures"}, follow=True
    )

    assert asked.status_code == 200 and "Why reopen it" in asked.content.decode()
    assert "Reopen 2 days" in asked.content.decode()  # the saved ones; the draft is not
    assert short.status_code == 200 and "(it has 9)" in short.content.decode()
    assert "2 days reopened." in done.content.decode()
    assert SupervisionSession.objects.filter(status=SessionStatus.DRAFT).count() == 3
    reasons = AuditEntry.objects.filter(action="supervision.reopen").values_list(
        "reason", flat=True
    )
    assert list(reasons) == ["The rep sent late figures"] * 2


def test_the_admin_reopen_of_days_none_of_them_saved_says_so(admin_client, rep):
    from supervision import services

    route = route_with_stops(rep)
    services.session_write(actor=rep.team.manager, route_id=route.pk, date=today(),
                           record_version=0, changes=[], finish=False)  # fmt: skip
    session = SupervisionSession.objects.get()
    answer = admin_client.post(
        "/admin/supervision/supervisionsession/",
        {"action": "reopen_selected", "_selected_action": [session.pk]},
        follow=True,
    )
    assert admin.NOTHING_TO_REOPEN in answer.content.decode()


def test_the_admin_reopen_leaves_a_day_someone_reopened_meanwhile_and_says_so(
    admin_client, admin_user, rep, monkeypatch
):
    from supervision import services

    route = route_with_stops(rep)
    for days_ago in (0, 1, 2):
        services.session_write(actor=rep.team.manager, route_id=route.pk, record_version=0,
                               date=today() - dt.timedelta(days=days_ago), changes=[])  # fmt: skip
    days = list(SupervisionSession.objects.order_by("date"))
    taken = days[1].pk
    reopen = services.session_reopen

    def another_admin_first(*, actor, session_id, reason):
        # Another administrator reopens the middle day between the list and this reopening.
        if session_id == taken:
            reopen(actor=admin_user, session_id=session_id, reason="Reopened in another tab")
        return reopen(actor=actor, session_id=session_id, reason=reason)

    monkeypatch.setattr(services, "session_reopen", another_admin_first)
    done = admin_client.post(
        "/admin/supervision/supervisionsession/",
        {"action": "reopen_selected", "_selected_action": [str(day.pk) for day in days],
         "reopen": "yes", "reason": "The rep sent late figures"},
        follow=True,
    )  # fmt: skip

    assert done.status_code == 200
    said = admin.REOPENED_SOME.format(days="2 days", skipped=1, they="it", are="is")
    assert said in done.content.decode()
    assert not SupervisionSession.objects.filter(status=SessionStatus.SAVED).exists()
    reasons = sorted(
        AuditEntry.objects.filter(action="supervision.reopen").values_list("reason", flat=True)
    )
    assert reasons == ["Reopened in another tab"] + ["The rep sent late figures"] * 2


def test_a_day_reopened_by_someone_else_after_the_question_is_counted_in_the_message(
    admin_client, admin_user, rep
):
    from supervision import services

    route = route_with_stops(rep)
    for days_ago in (0, 1, 2):
        services.session_write(actor=rep.team.manager, route_id=route.pk, record_version=0,
                               date=today() - dt.timedelta(days=days_ago), changes=[])  # fmt: skip
    days = [str(pk) for pk in SupervisionSession.objects.values_list("pk", flat=True)]
    chosen = {"action": "reopen_selected", "_selected_action": days}
    said = admin.REOPENED_SOME.format(days="2 days", skipped=1, they="it", are="is")
    # The list as it is, and the list of saved days only (which no longer holds a day
    # reopened meanwhile).
    for changelist in ("/admin/supervision/supervisionsession/",
                       "/admin/supervision/supervisionsession/?status__exact=saved"):  # fmt: skip
        SupervisionSession.objects.update(
            status=SessionStatus.SAVED, saved_at=timezone.now(), reopened_at=None
        )
        asked = admin_client.post(changelist, chosen).content.decode()
        services.session_reopen(
            actor=admin_user, session_id=days[0], reason="Reopened in another tab"
        )

        done = admin_client.post(
            changelist, {**chosen, "reopen": "yes", "reason": "The rep sent late figures"},
            follow=True,
        ).content.decode()  # fmt: skip

        assert "Reopen 3 days" in asked, changelist
        assert said in done, changelist


def test_the_admin_reopen_takes_drafts_past_their_review_window_too(admin_client, rep, settings):
    from supervision import services

    settings.SUPERVISION_REVIEW_DAYS = 7
    route = route_with_stops(rep)
    for days_ago in (5, 1):
        services.session_write(actor=rep.team.manager, route_id=route.pk, record_version=0,
                               date=today() - dt.timedelta(days=days_ago), changes=[],
                               finish=False)  # fmt: skip
    settings.SUPERVISION_REVIEW_DAYS = 3
    every = [str(pk) for pk in SupervisionSession.objects.values_list("pk", flat=True)]
    chosen = {"action": "reopen_selected", "_selected_action": every}
    changelist = "/admin/supervision/supervisionsession/"

    asked = admin_client.post(changelist, chosen).content.decode()
    offered = {**chosen, "_selected_action": asked_for(asked)}
    done = admin_client.post(
        changelist, {**offered, "reopen": "yes", "reason": "Back from leave today"}, follow=True
    ).content.decode()

    assert "Reopen 1 day" in asked and "a draft never saved, past its review window" in asked
    assert admin.REOPENED_ALL.format(days="1 day") in done
    old = SupervisionSession.objects.get(date=today() - dt.timedelta(days=5))
    assert old.reopened_at is not None
    assert SupervisionSession.objects.get(date=today() - dt.timedelta(days=1)).reopened_at is None

"""The ops dashboard (crm.ops): every section reads, a fixed number of queries whatever the data,
for administrators only, refreshing itself; dead letters sent again or discarded, audited; what
no table records (tasks run, requests refused) counted by minute and by day."""

import datetime as dt

import pytest
from django.utils import timezone

from crm.jobs.models import DeadLetter, JobRun, JobRunStatus
from crm.models import AuditEntry
from crm.ops import counters, dashboard
from crm.ops.dashboard import Section
from crm.switches import services as switch_services
from crm.testing import HTMX
from crm.tests.factories import DealFactory

pytestmark = pytest.mark.django_db

SECTIONS = [
    "Jobs",
    "Dead letters",
    "Queues and workers",
    "Requests refused",
    "Tracking ingestion",
    "Goals",
    "Supervision",
]


def _letters(count: int, task: str = "crm.tests.some_task") -> None:
    now = timezone.now()
    DeadLetter.objects.bulk_create(
        DeadLetter(
            task_name=task,
            fingerprint=f"f{index}",
            args=[index],
            error="boom",
            first_failed_at=now - dt.timedelta(hours=index),
            last_failed_at=now,
        )
        for index in range(count)
    )


def _runs(count: int) -> None:
    now = timezone.now()
    JobRun.objects.bulk_create(
        JobRun(
            name="prune_job_runs",
            status=JobRunStatus.FAILED if index % 2 else JobRunStatus.SUCCEEDED,
            started_at=now - dt.timedelta(hours=index + 1),
            finished_at=now - dt.timedelta(hours=index + 1),
        )
        for index in range(count)
    )


def test_the_dashboard_is_for_administrators(client, rep_client, supervisor_client, admin_client):
    assert client.get("/ops/").status_code == 302  # to the login page
    assert rep_client.get("/ops/").status_code == 403
    assert supervisor_client.get("/ops/").status_code == 403
    page = admin_client.get("/ops/")
    assert page.status_code == 200
    text = page.content.decode()
    for title in SECTIONS:
        assert f">{title}" in text, title
    assert 'hx-trigger="every 30s"' in text


def test_a_refresh_answers_the_body_alone(admin_client):
    body = admin_client.get("/ops/", headers=HTMX)
    assert body.status_code == 200
    assert b"<html" not in body.content and b'id="ops-body"' in body.content


@pytest.mark.parametrize("rows", [2, 25])
def test_the_dashboard_reads_a_fixed_number_of_queries(admin_client, assert_queries, rows):
    _letters(rows)
    _runs(rows)
    with assert_queries(16):
        admin_client.get("/ops/")


def test_a_job_that_missed_its_schedule_is_marked_and_failures_are_counted():
    now = timezone.now()
    JobRun.objects.create(
        name="close_abandoned_job_runs",
        status=JobRunStatus.SUCCEEDED,
        started_at=now - dt.timedelta(hours=1),
        finished_at=now - dt.timedelta(hours=1),
    )
    JobRun.objects.create(
        name="prune_job_runs",
        status=JobRunStatus.FAILED,
        started_at=now - dt.timedelta(hours=2),
        finished_at=now - dt.timedelta(hours=2),
    )
    section = next(s for s in dashboard.read_sections(now) if s.title == "Jobs")
    rows = {row[0].text: row for row in section.tables[0].rows}
    every_minute = rows["close_abandoned_job_runs"]
    assert every_minute[7].text.startswith("missed") and every_minute[7].state == "bad"
    daily = rows["prune_job_runs"]
    assert daily[2].text == "Failed" and daily[6].text == "1"
    assert not rows["retry_dead_letters"][7].text.startswith("missed")  # never ran: not missed
    assert section.state == "bad"


def test_dead_letters_are_sent_again_or_discarded_from_the_dashboard_audited(
    admin_client, rep_client, eager_celery
):
    _letters(2, task="crm.tests.never_loaded")
    _letters(3, task="crm.tests.other")
    assert (
        rep_client.post(
            "/ops/dead-letters/", {"task_name": "crm.tests.other", "action": "discard"}
        ).status_code
        == 403
    )
    done = admin_client.post(
        "/ops/dead-letters/", {"task_name": "crm.tests.other", "action": "discard"}, follow=True
    )
    assert "crm.tests.other: 3 dead letters discarded." in done.content.decode()
    assert not DeadLetter.objects.filter(task_name="crm.tests.other").exists()
    discarded = AuditEntry.objects.filter(action="dead_letter.discard")
    assert discarded.count() == 3 and discarded.first().action_label == "Dead letter discarded"
    refused = admin_client.post(
        "/ops/dead-letters/", {"task_name": "x", "action": "burn"}, follow=True
    )
    assert refused.status_code == 200 and DeadLetter.objects.count() == 2
    assert admin_client.get("/ops/dead-letters/")["Location"] == "/ops/"


def test_a_section_that_fails_is_said_and_the_others_are_shown(admin_client):
    @dashboard.ops_section(order=1)
    def broken(now):
        """Broken on purpose"""
        raise RuntimeError("boom")

    try:
        page = admin_client.get("/ops/")
    finally:
        dashboard._sections[:] = [(o, r) for o, r in dashboard._sections if r is not broken]
    text = page.content.decode()
    assert page.status_code == 200 and "Broken on purpose" in text and "Could not be read" in text
    assert ">Jobs" in text


def test_switches_that_are_on_come_first(admin_client, admin_user):
    switch_services.switch_set(
        actor=admin_user,
        area="tracking",
        jobs_paused=True,
        offline=False,
        reason="Processing is being repaired.",
    )
    section = dashboard.read_sections(timezone.now())[0]
    assert isinstance(section, Section) and section.title == "Switches on"
    assert section.figures[0].value == "jobs paused" and "repaired" in section.figures[0].note


def test_counters_count_by_minute_and_by_day():
    now = timezone.now().replace(second=30)
    earlier = now - dt.timedelta(minutes=1)
    counters.count("test.thing", now=earlier)
    counters.count("test.thing", 4, now=earlier)
    counters.count("test.thing", now=now)
    assert counters.per_minute("test.thing", minutes=3, now=now) == [0, 0, 5]
    assert counters.per_day("test.thing", days=2, now=now)[-1] == (now.date(), 6)


def test_a_refused_request_is_counted_by_its_area(rep, rep_api):
    # A write on a record that changed meanwhile (409), counted through the whole stack: the
    # area found once for the request, the count below it.
    deal = DealFactory(rep=rep)
    seen = rep_api.get(f"/api/deals/{deal.pk}/").json()["version"]
    rep_api.patch(f"/api/deals/{deal.pk}/", {"title": "A", "expected_version": seen}, format="json")

    stale = rep_api.patch(
        f"/api/deals/{deal.pk}/", {"title": "B", "expected_version": seen}, format="json"
    )

    assert stale.status_code == 409
    assert counters.per_day("refused:409", days=1)[-1][1] == 1
    assert counters.per_day("refused:409:sales", days=1)[-1][1] == 1


def test_a_refusal_outside_every_area_is_counted_in_all_only():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from crm.ops.middleware import RefusalCountMiddleware
    from crm.switches.middleware import ViewAreaMiddleware

    request = RequestFactory().get("/x")
    ViewAreaMiddleware(RefusalCountMiddleware(lambda request: HttpResponse(status=429)))(request)

    assert counters.per_day("refused:429", days=1)[-1][1] == 1
    assert counters.per_day("refused:429:None", days=1)[-1][1] == 0

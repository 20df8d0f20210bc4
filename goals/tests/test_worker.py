"""Goals with a real Celery worker on the real Redis broker: a deal won is counted by the worker's
recalculation; a recalculation that fails (the database refuses the write) leaves the deal won and
says so on the goal; two runs of the fallback job at once: one runs, one is skipped."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from crm import jobs
from crm import services as crm
from crm.jobs.models import JobRun, JobRunStatus
from crm.models import DealStage
from crm.testing.celery_worker import wait_for
from crm.testing.database import refusing_updates
from crm.tests.factories import DealFactory, SalesRepFactory
from goals import services
from goals.jobs import RECALCULATE_ALL
from goals.models import Goal
from goals.tests.factories import make_goal

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_counts_a_deal_won_toward_the_goals(worker):
    rep = SalesRepFactory()
    goal = make_goal(owner=rep)
    team_goal = make_goal(owner=rep.team)
    deal = DealFactory(rep=rep, amount=Decimal(640))

    crm.deal_close(actor=rep.user, deal_id=deal.pk, won=True)  # commits: the event goes out

    wait_for(lambda: Goal.objects.get(pk=goal.pk).current_value == 640)
    wait_for(lambda: Goal.objects.get(pk=team_goal.pk).current_value == 640)


def test_a_failing_recalculation_leaves_the_deal_won(worker):
    rep = SalesRepFactory()
    company = make_goal(owner=None)
    deal = DealFactory(rep=rep, amount=Decimal(1))

    with refusing_updates(Goal, company.pk, "current_value"):
        crm.deal_close(actor=rep.user, deal_id=deal.pk, won=True)
        wait_for(lambda: Goal.objects.get(pk=company.pk).calculation_failed, timeout=60)

    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON
    assert "refused its update" in Goal.objects.get(pk=company.pk).calculation_error


def test_two_fallback_runs_at_once_one_runs_one_is_skipped(role_groups, monkeypatch):
    make_goal(owner=SalesRepFactory())
    first_running, second_done = threading.Event(), threading.Event()
    recalculate = services.goals_recalculate

    def held(**kwargs):
        # The first run holds its lock until the second has tried.
        if not first_running.is_set():
            first_running.set()
            second_done.wait(timeout=30)
        return recalculate(**kwargs)

    monkeypatch.setattr(services, "goals_recalculate", held)
    statuses = []

    def run(after: threading.Event | None) -> None:
        try:
            if after is not None:
                after.wait(timeout=30)
            statuses.append(jobs.job_run(RECALCULATE_ALL).status)
        finally:
            if after is not None:
                second_done.set()
            connection.close()

    threads = [
        threading.Thread(target=run, args=(None,)),
        threading.Thread(target=run, args=(first_running,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [JobRunStatus.SKIPPED_LOCKED, JobRunStatus.SUCCEEDED]
    assert JobRun.objects.filter(name=RECALCULATE_ALL).count() == 2

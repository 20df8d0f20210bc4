"""The nightly consistency check: every automatic goal's stored value against a fresh
recalculation, recorded, repaired through the services (compare-and-set on each goal's version,
audited as the job), reported to the administrators; by hand with `manage.py check_goals`."""

import itertools
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given

from crm.jobs import job_run
from crm.models import AuditEntry, Deal, DealStage
from crm.roles import SystemActor
from crm.tests.factories import DealFactory, SalesRepFactory, TeamFactory
from goals import selectors, services
from goals.jobs import CHECK
from goals.models import Goal, GoalCheck
from goals.services import consistency
from goals.tests.changes import (
    BEHIND_THEIR_BACK,
    DEAL_CHANGES,
    EXAMPLES,
    Sales,
    crm_changes,
    goal_links,
    link_or_unlink,
    rolled_back,
)
from goals.tests.factories import SETUP, make_goal

pytestmark = pytest.mark.django_db

JOB = SystemActor("job:check_goals")


def won(rep, amount) -> Deal:
    return DealFactory(
        rep=rep, amount=Decimal(amount), stage=DealStage.CLOSED_WON, closed_at=timezone.now()
    )


def counted() -> None:
    services.goals_recalculate(goals=Goal.objects.all(), actor=SETUP)


def a_tree(rep):
    """A company revenue goal over the rep's team's, over the rep's: three levels."""
    company = make_goal(owner=None)
    team = make_goal(owner=rep.team, parent=company)
    mine = make_goal(owner=rep, parent=team)
    return company, team, mine


def test_goals_that_follow_the_crm_have_no_differences(rep, admin_user):
    a_tree(rep)
    make_goal(owner=rep, metric="deals_won")
    won(rep, 300)
    counted()

    check = services.goals_check(actor=JOB, repair=True)

    assert (check.goals_checked, check.differences, check.largest, check.repaired) == (
        4,
        0,
        None,
        0,
    )
    assert str(check) == "0 differences in 4 goals"
    assert not mail.outbox


def test_values_changed_behind_the_services_back_are_found_repaired_and_reported(
    rep, admin_user, django_capture_on_commit_callbacks, eager_celery
):
    admin_user.email = "boss@example.com"
    admin_user.save()
    company, team, mine = a_tree(rep)
    deals = make_goal(owner=rep, metric="deals_won")
    won(rep, 300)
    counted()
    # An admin edit that bypasses the events: a deal's amount, and a goal's value by hand.
    Deal.objects.filter(rep=rep).update(amount=Decimal(500))
    Goal.objects.filter(pk=deals.pk).update(current_value=7)

    with django_capture_on_commit_callbacks(execute=True):
        check = services.goals_check(actor=JOB, repair=True)

    assert check.differences == 4  # the rep's revenue goal, its team's, the company's; deals
    assert check.largest == 200
    assert {found["id"] for found in check.found} == {company.pk, team.pk, mine.pk, deals.pk}
    assert check.repaired == 4
    values = dict(Goal.objects.values_list("pk", "current_value"))
    assert (values[mine.pk], values[team.pk], values[company.pk], values[deals.pk]) == (
        500, 500, 500, 1,
    )  # fmt: skip
    repairs = AuditEntry.objects.filter(action="goal.repair")
    assert set(repairs.values_list("system_actor", flat=True)) == {"job:check_goals"}
    assert repairs.get(target_id=str(mine.pk)).reason == services.REPAIR_REASON
    assert services.goals_check(actor=JOB).differences == 0
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [admin_user.email]
    assert "4 value(s) differ" in mail.outbox[0].subject


def test_without_repair_the_check_only_reports(rep):
    mine = make_goal(owner=rep)
    Goal.objects.filter(pk=mine.pk).update(current_value=12)

    check = services.goals_check(actor=JOB, email=False)

    assert (check.differences, check.repaired) == (1, 0)
    assert Goal.objects.get(pk=mine.pk).current_value == 12


def test_a_goal_changed_between_the_check_and_its_repair_is_not_repaired(rep):
    *_, mine = a_tree(rep)
    other = make_goal(owner=rep, metric="deals_won")
    won(rep, 300)
    Goal.objects.filter(pk__in=[mine.pk, other.pk]).update(current_value=5)  # both differ now
    findings = services.goals_differing()
    # Meanwhile an event's recount writes the rep's revenue goal (and its parents).
    services.goals_recalculate(goals=Goal.objects.filter(pk=mine.pk), actor=SETUP)
    Goal.objects.filter(pk=mine.pk).update(current_value=F("current_value") + 1)

    repaired = services.goals_repair(differences=findings.differences, actor=JOB)

    assert Goal.objects.get(pk=mine.pk).current_value == 301  # left as it was changed
    assert Goal.objects.get(pk=other.pk).current_value == 1  # repaired
    assert not AuditEntry.objects.filter(action="goal.repair", target_id=str(mine.pk)).exists()
    assert repaired < len(findings.differences)


def test_the_command_never_repairs_what_changed_under_it(rep, monkeypatch):
    mine = make_goal(owner=rep)
    won(rep, 40)
    read = consistency.goals_differing

    def read_then_someone_writes():
        findings = read()
        Goal.objects.filter(pk=mine.pk).update(current_value=33, updated_at=timezone.now())
        return findings

    monkeypatch.setattr(consistency, "goals_differing", read_then_someone_writes)
    out = StringIO()
    call_command("check_goals", "--repair", stdout=out)

    assert Goal.objects.get(pk=mine.pk).current_value == 33
    assert "1 difference in 1 goals" in out.getvalue()
    assert "Repaired 0." in out.getvalue()


def test_the_command_reports_without_repairing_unless_asked(rep):
    mine = make_goal(owner=rep)
    won(rep, 40)
    out = StringIO()

    call_command("check_goals", stdout=out)
    assert f"goal {mine.pk}: stored 0.00, fresh 40.00" in out.getvalue()
    assert "--repair" in out.getvalue()
    assert Goal.objects.get(pk=mine.pk).current_value == 0

    call_command("check_goals", "--repair", stdout=out)
    assert Goal.objects.get(pk=mine.pk).current_value == 40
    assert GoalCheck.objects.count() == 2


def test_the_nightly_job_repairs_and_records_its_run(rep):
    mine = make_goal(owner=rep)
    won(rep, 40)
    run = job_run(CHECK)
    assert run.status == "succeeded" and run.items_processed == 1
    assert Goal.objects.get(pk=mine.pk).current_value == 40
    assert selectors.last_check().checked_by == f"job:{CHECK}"


def test_the_check_reads_the_same_statements_for_3_and_30_goals():
    def statements(reps: int) -> int:
        team = TeamFactory()
        company = make_goal(owner=None)
        team_goal = make_goal(owner=team, parent=company)
        for _ in range(reps):
            rep = SalesRepFactory(team=team)
            make_goal(owner=rep, parent=team_goal)
            won(rep, 10)
        with CaptureQueriesContext(connection) as queries:
            services.goals_differing()
        Goal.objects.all().delete()
        return len(queries)

    assert statements(1) == statements(28)


# --- Properties ---------------------------------------------------------------------------------


def _fresh_by_hand(goals: list[Goal]) -> dict[int, Decimal]:
    """Each goal's fresh value worked out here, not by the check: revenue and deals won over
    its period, of its rep, its team's reps or everyone; a parent's, its children's."""
    goals = list(Goal.objects.filter(pk__in=[g.pk for g in goals]))
    won = list(Deal.objects.filter(stage=DealStage.CLOSED_WON).select_related("rep"))
    fresh = {}

    def of(goal: Goal) -> Decimal:
        if goal.pk in fresh:
            return fresh[goal.pk]
        children = [g for g in goals if g.parent_id == goal.pk]
        if children:
            value = sum((of(child) for child in children), Decimal(0))
        elif goal.calculation_source != "auto":
            value = goal.current_value
        else:
            mine = [
                deal
                for deal in won
                if goal.starts_at <= deal.closed_at < goal.ends_at
                and (goal.rep_id is None or deal.rep_id == goal.rep_id)
                and (goal.team_id is None or deal.rep.team_id == goal.team_id)
            ]
            amounts = [deal.amount if goal.metric == "revenue" else Decimal(1) for deal in mine]
            value = sum(amounts, Decimal(0))
        fresh[goal.pk] = value
        return value

    for goal in goals:
        of(goal)
    return fresh


@EXAMPLES
@given(steps=crm_changes(*DEAL_CHANGES, *BEHIND_THEIR_BACK))
def test_the_check_finds_exactly_the_goals_that_differ_and_repairs_them(
    steps, eager_celery, django_capture_on_commit_callbacks
):
    with rolled_back():
        team = TeamFactory()
        sales = Sales(team)
        company = make_goal(owner=None)
        team_goal = make_goal(owner=team, parent=company)
        goals = [company, team_goal]
        goals += [make_goal(owner=rep, parent=team_goal) for rep in sales.reps]
        goals += [make_goal(owner=rep, metric="deals_won") for rep in sales.reps]
        sales.goals = goals
        for step in steps:
            with django_capture_on_commit_callbacks(execute=True):
                sales.apply(step)

        expected = _fresh_by_hand(goals)
        stored = dict(Goal.objects.values_list("pk", "current_value"))
        differing = {pk for pk, value in expected.items() if stored[pk] != value}

        findings = services.goals_differing()
        assert {d.goal_id for d in findings.differences} == differing
        assert all(d.fresh == expected[d.goal_id] for d in findings.differences)

        services.goals_repair(differences=findings.differences, actor=JOB)
        assert dict(Goal.objects.values_list("pk", "current_value")) == expected
        assert services.goals_differing().differences == []


@EXAMPLES
@given(steps=goal_links(9))
def test_ancestors_are_a_chain_of_distinct_goals_ending_at_the_root(steps):
    with rolled_back():
        teams = [TeamFactory(), TeamFactory()]
        reps = [SalesRepFactory(team=teams[i % 2]) for i in range(4)]
        owners = [None, None, teams[0], teams[1], teams[0], *reps]
        goals = [
            make_goal(owner=owner, metric="custom", source="manual", target=10) for owner in owners
        ]
        for step in steps:
            link_or_unlink(goals, step)
        for goal in Goal.objects.filter(pk__in=[g.pk for g in goals]):
            chain = selectors.ancestors(goal, user=JOB)
            ids = [above.pk for above in chain]
            assert len(set(ids)) == len(ids) and goal.pk not in ids
            if not chain:
                assert goal.parent_id is None
                continue
            assert chain[0].parent_id is None  # the root
            for upper, lower in itertools.pairwise(chain):
                assert lower.parent_id == upper.pk
            assert goal.parent_id == chain[-1].pk


# --- Where the last check shows ----------------------------------------------------------------


def test_the_last_check_shows_on_analytics_for_admins_in_admin_and_on_the_ops_dashboard(
    rep, admin_client, rep_client
):
    mine = make_goal(owner=rep)
    Goal.objects.filter(pk=mine.pk).update(current_value=3)
    assert "No consistency check has run yet" in admin_client.get("/goals/analytics/").text
    services.goals_check(actor=JOB, email=False)

    page = admin_client.get("/goals/analytics/").text
    assert "Last consistency check" in page and "1 difference in 1 goals, 0 repaired" in page
    assert "consistency check" not in rep_client.get("/goals/analytics/").text
    assert "1 difference in 1 goals" in admin_client.get("/admin/goals/goal/").text
    check_page = admin_client.get(f"/admin/goals/goalcheck/{selectors.last_check().pk}/change/")
    assert check_page.status_code == 200
    ops = admin_client.get("/ops/").text
    assert "Last consistency check" in ops and "1 difference in 1 goals" in ops

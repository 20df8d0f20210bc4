"""How many statements each write of goals and rep plans runs (goals.services,
goals.plans.services), and the goals pages not pinned beside their other tests, pinned: the
same number whatever the number of rows, and a new write cannot go unpinned. Counted as a
request runs them: the actor read afresh (nothing cached on it), the savepoints left out; what
subscribers do after the commit is theirs, not the write's (the tests' transaction never
commits)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from crm.models import CustomerStatus, DealStage
from crm.roles import SystemActor
from crm.testing import fresh, pins, signed_in, unpinned
from crm.tests.factories import CustomerFactory, DealFactory, SalesRepFactory
from goals import services
from goals.models import (
    Achievement,
    AchievementKind,
    Goal,
    GoalSnapshot,
    GoalStatus,
    Metric,
    PlanReminder,
    PlanSnapshot,
    RepPlan,
)
from goals.plans import services as plan_services
from goals.tests.factories import make_goal

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mid_june")]

JOB = SystemActor("job:test")
SIZES = [2, 25]
JUNE_16 = dt.date(2031, 6, 16)  # the day the clock is held at (mid_june)
TARGETS = {"signup_goal": 3, "revenue_goal": Decimal(5000), "bonus_tier_goal": 1}

# The functions of the services modules that write nothing: periods, checks the pages and
# Django admin ask first, reads.
NOT_WRITES = {
    services: {
        "owner_zone", "resolve_period", "set_period", "writable_goal", "check_update",
        "goals_for_facts", "link_refusal", "days_ended", "goals_differing", "check_reason",
        "revise_target",
    },
    plan_services: {"plan_period", "plan_title"},
}  # fmt: skip


@pytest.mark.parametrize("module", NOT_WRITES, ids=lambda module: module.__name__)
def test_every_write_of_goals_and_plans_is_pinned(module):
    assert unpinned(module, tests=globals(), not_writes=NOT_WRITES[module]) == []


def rep_goals(team, count: int, **options) -> list[Goal]:
    """`count` goals of as many reps of `team`, each with a won deal to count."""
    goals = []
    for _ in range(count):
        rep = SalesRepFactory(team=team)
        DealFactory(rep=rep, amount=Decimal(100), stage=DealStage.CLOSED_WON)
        goals.append(make_goal(owner=rep, **options))
    return goals


# --- Create, edit, close -------------------------------------------------------------------------


@pins(services.goal_create)
def test_creating_a_goal(supervisor, rep, assert_queries):
    parent = make_goal(owner=rep.team)
    actor = fresh(supervisor)

    # the actor's role, the rep in their teams; the goal, its audit; it is counted (the bonus
    # tiers, its fresh value, the moment) and its parents summed; the parent (locked), no loop,
    # not too deep, the link, its audit; the parent summed and written (its sums, lock, update,
    # audit); the goal as the pages read it
    with assert_queries(18):
        services.goal_create(
            actor=actor, title="Rep revenue", owner_type="individual", rep=rep,
            metric="revenue", period_kind="month", period_start=JUNE_16,
            target_value=Decimal(500), parent=parent,
        )  # fmt: skip


@pins(services.goal_update, services.record_revisions)
def test_changing_a_goals_title_and_target(supervisor, rep, assert_queries):
    team_goal = make_goal(owner=rep.team)
    goal = make_goal(owner=rep, parent=team_goal)
    actor = fresh(supervisor)

    # the actor's role, the goal (locked), has it children; the update, its audit; the parent
    # summed and written (its sums, lock, update, audit); the target's revision; the goal as the
    # pages read it
    with assert_queries(11):
        services.goal_update(
            actor=actor, goal_id=goal.pk, title="Rep revenue", target_value=Decimal(700),
            reason="The territory grew in June.",
        )  # fmt: skip


@pins(services.goal_delete)
@pytest.mark.parametrize("rows", SIZES)
def test_deleting_a_goal_with_goals_below_it(supervisor, team, rows, assert_queries):
    team_goal = make_goal(owner=team)
    for goal in rep_goals(team, rows):
        services.goal_link_parent(actor=JOB, goal_id=goal.pk, parent=team_goal)
    actor = fresh(supervisor)

    # the actor's role, the goal (locked); its children unlinked (their ids, one update, one
    # audit); its audit; the deletion (snapshots, alerts, target revisions, children, the goal)
    with assert_queries(11):
        services.goal_delete(actor=actor, goal_id=team_goal.pk)


@pins(services.goal_set_status)
def test_completing_a_goal(supervisor, rep, assert_queries):
    goal = make_goal(owner=rep)
    actor = fresh(supervisor)

    # the actor's role, the goal (locked); the update, its audit; the goal as the pages read it
    with assert_queries(5):
        services.goal_set_status(actor=actor, goal_id=goal.pk, status=GoalStatus.COMPLETED)


@pins(services.goal_adjust)
def test_setting_a_goals_value_by_hand(supervisor, rep, assert_queries):
    goal = make_goal(owner=rep, parent=make_goal(owner=rep.team))
    actor = fresh(supervisor)

    # the actor's role, the goal (locked), has it children; the update, its audit; the parent
    # summed and written (its sums, lock, update, audit); the goal as the pages read it
    with assert_queries(10):
        services.goal_adjust(
            actor=actor, goal_id=goal.pk, value=Decimal(250), justification="Cash at the fair"
        )


@pins(services.goal_return_to_auto)
def test_returning_a_goal_to_its_calculation(supervisor, rep, assert_queries):
    goal = make_goal(owner=rep, source="manual")
    actor = fresh(supervisor)

    # the actor's role, the goal (locked); the update, its audit; it is counted (the bonus
    # tiers, its fresh value, the moment) and its parents summed; the goal as the pages read it
    with assert_queries(9):
        services.goal_return_to_auto(actor=actor, goal_id=goal.pk)


@pins(services.goal_recalculate_one)
def test_recalculating_a_goal(supervisor, rep, assert_queries):
    goal = make_goal(owner=rep, parent=make_goal(owner=rep.team))
    DealFactory(rep=rep, amount=Decimal(100), stage=DealStage.CLOSED_WON)
    actor = fresh(supervisor)

    # the actor's role, the goal (locked); it is counted (the bonus tiers, its fresh value, the
    # moment, the new value, its audit); the parent summed and written (its sums, lock, update,
    # audit); the goal as the pages read it
    with assert_queries(12):
        services.goal_recalculate_one(actor=actor, goal_id=goal.pk)


# --- Hierarchy -----------------------------------------------------------------------------------


@pins(services.goal_link_parent)
def test_placing_a_goal_under_another(supervisor, rep, assert_queries):
    team_goal = make_goal(owner=rep.team)
    goal = make_goal(owner=rep)
    actor = fresh(supervisor)

    # the actor's role, the goal (locked), the parent (locked), no loop, not too deep; the
    # link, its audit; the parent summed (nothing moved: the goal counts nothing yet); the goal
    # as the pages read it; both locked in one order first (two goals linked both ways at once
    # must not deadlock)
    with assert_queries(10):
        services.goal_link_parent(actor=actor, goal_id=goal.pk, parent=team_goal)


@pins(services.goal_unlink_parent)
def test_taking_a_goal_from_under_its_parent(supervisor, rep, assert_queries):
    goal = make_goal(owner=rep, parent=make_goal(owner=rep.team))
    actor = fresh(supervisor)

    # the actor's role, the goal (locked); the link undone, its audit; the parent summed, then
    # counted for itself (the bonus tiers, its fresh value, the moment, its parents); the goal
    # as the pages read it
    with assert_queries(10):
        services.goal_unlink_parent(actor=actor, goal_id=goal.pk)


@pins(services.roll_up)
@pytest.mark.parametrize("rows", SIZES)
def test_rolling_up_parents_whose_sums_moved(team, rows, assert_queries):
    parents = []
    for goal in rep_goals(team, rows):
        parent = make_goal(owner=team)
        services.goal_link_parent(actor=JOB, goal_id=goal.pk, parent=parent)
        parents.append(parent.pk)
    Goal.objects.filter(parent__isnull=False).update(current_value=Decimal(300))

    # the parents' sums; those that moved locked, written, audited: one statement each
    with assert_queries(4):
        services.roll_up(parent_ids=parents, actor=JOB)


# --- Recalculation -------------------------------------------------------------------------------


@pins(services.goals_recalculate)
@pytest.mark.parametrize("rows", SIZES)
def test_recalculating_goals_that_moved(team, rows, assert_queries):
    team_goal = make_goal(owner=team)
    for goal in rep_goals(team, rows):
        services.goal_link_parent(actor=JOB, goal_id=goal.pk, parent=team_goal)
    Goal.objects.update(current_value=0)

    # the bonus tiers, the fresh values, the moment, the new values, their audit; the parent
    # summed and written (its sums, lock, update, audit)
    with assert_queries(9):
        services.goals_recalculate(goals=Goal.objects.all(), actor=JOB)


@pins(services.goals_recalculate_all_later)
def test_queuing_every_goals_recalculation(admin_user, assert_queries):
    import redis
    from django.conf import settings

    actor = fresh(admin_user)
    try:
        # an administrator's role needs no query; the job goes to the broker, not the database
        with assert_queries(0):
            services.goals_recalculate_all_later(actor=actor)
    finally:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("celery")


@pins(services.goals_mark_failed)
@pytest.mark.parametrize("rows", SIZES)
def test_marking_goals_failed(team, rows, assert_queries):
    rep_goals(team, rows)

    with assert_queries(1):
        services.goals_mark_failed(goals=Goal.objects.all(), error="Too large")


# --- The daily job -------------------------------------------------------------------------------


def ended_goals(team, rows: int) -> None:
    """`rows` goals of May, ended and still active, with something new to count."""
    with time_machine.travel(dt.datetime(2031, 5, 20, 12, tzinfo=dt.UTC), tick=False):
        goals = rep_goals(team, rows, start=dt.date(2031, 5, 1))
    Goal.objects.filter(pk__in=[goal.pk for goal in goals]).update(current_value=0)


@pins(services.snapshot_active_goals)
@pytest.mark.parametrize("rows", SIZES)
def test_snapshotting_the_active_goals(team, rows, assert_queries):
    rep_goals(team, rows)
    days = dict.fromkeys(Goal.objects.values_list("zone", flat=True).distinct(), JUNE_16)

    # one INSERT … SELECT; the goals keep their last snapshot
    with assert_queries(2):
        services.snapshot_active_goals(days=days)


@pins(services.goals_history_resync)
@pytest.mark.parametrize("rows", SIZES)
def test_resyncing_what_goals_keep_of_their_snapshots(team, rows, assert_queries):
    goals = rep_goals(team, rows)
    for goal in goals:
        GoalSnapshot.objects.create(goal=goal, date=JUNE_16, value=5, percent=0)

    # one UPDATE
    with assert_queries(1):
        services.goals_history_resync(goal_ids=[goal.pk for goal in goals])


@pins(services.close_ended_goals)
@pytest.mark.parametrize("rows", SIZES)
def test_closing_the_goals_that_ended(team, rows, assert_queries):
    ended_goals(team, rows)

    # the ended goals' ids, their update, their audit
    with assert_queries(3):
        assert services.close_ended_goals(actor=JOB) == rows


@pins(services.goals_update_alerts)
@pytest.mark.parametrize("rows", SIZES)
def test_raising_off_track_alerts(team, rows, assert_queries):
    rep_goals(team, rows, target=1_000_000)  # far behind in mid-June
    make_goal(owner=team, target=1_000_000)
    make_goal(owner=None, target=1_000_000)

    # the goals to judge, their open alerts, the administrators to mail; the new alerts
    with assert_queries(4):
        assert services.goals_update_alerts() == (rows + 2, 0)


@pins(services.recount_ended_goals)
@pytest.mark.parametrize("rows", SIZES)
def test_counting_the_goals_that_ended_once_more(team, rows, assert_queries):
    ended_goals(team, rows)

    # the bonus tiers, the fresh values, the moment, the new values, their audit; their parents'
    # sums
    with assert_queries(6):
        services.recount_ended_goals(actor=JOB, now=timezone.now())


@pins(services.goals_day_end)
@pytest.mark.parametrize("rows", SIZES)
def test_the_work_at_the_end_of_a_day(team, rows, assert_queries):
    ended_goals(team, rows)
    rep_goals(team, rows, target=1_000_000)
    days = dict.fromkeys(Goal.objects.values_list("zone", flat=True).distinct(), JUNE_16)

    # counting the ended goals once more (6, as above); the snapshots (2); closing the ended ones
    # (3, as above); the alerts (the goals to judge, their open alerts, the administrators to
    # mail, the new alerts)
    with assert_queries(15):
        services.goals_day_end(actor=JOB, days=days)


# --- Plans come into being -----------------------------------------------------------------------


@pins(plan_services.plans_create)
@pytest.mark.parametrize("rows", SIZES)
def test_making_a_months_plans(team, rows, assert_queries):
    SalesRepFactory.create_batch(rows, team=team)

    # the reps' zones; the plans; the late hires; the goals
    with assert_queries(4):
        plan_services.plans_create(year=2031, month=7)


@pins(plan_services.plans_for_rep)
def test_making_the_plans_of_a_rep_who_joins(rep, assert_queries):
    # the rep; the month's plan (its zone, the plan, the late hire, the goals); the year's (its
    # zone, the plan, the goals)
    with assert_queries(8):
        plan_services.plans_for_rep(rep.pk)


@pins(plan_services.plans_create_current)
@pytest.mark.parametrize("rows", SIZES)
def test_making_this_months_plans(team, rows, assert_queries):
    SalesRepFactory.create_batch(rows, team=team)

    # the reps' zones; the month's plans (4, as above); the year's (the zones, the plans, the
    # goals)
    with assert_queries(8):
        plan_services.plans_create_current()


# --- Setting targets -----------------------------------------------------------------------------


@pins(plan_services.plan_set)
def test_a_rep_setting_this_months_plan(rep, assert_queries):
    plan_services.plans_for_rep(rep.pk)
    actor = fresh(rep.user)

    # the actor's rep profile, role; the plan made if missing (4) and locked, the rep again (for
    # the audit's reason), the goals (locked); their targets, audited; the plan set, its audit,
    # whether on time; the targets reached; the revisions (the first setting is the original)
    with assert_queries(16):
        plan_services.plan_set(actor=actor, **TARGETS)


@pins(plan_services.plan_set_year)
def test_a_supervisor_setting_a_reps_year(supervisor, rep, assert_queries):
    plan_services.plans_for_rep(rep.pk)
    actor = fresh(supervisor)

    # the actor's role, the rep (locked); the plan made if missing (3) and locked, the rep again
    # (for the audit's reason), the goals (locked); their targets, audited; the plan set; the
    # targets reached; the revisions
    with assert_queries(13):
        plan_services.plan_set_year(
            actor=actor, rep_id=rep.pk, revenue_goal=Decimal(60000), signup_goal=40
        )


@pins(plan_services.plans_set_defaults)
@pytest.mark.parametrize("rows", SIZES)
def test_giving_a_teams_plans_default_targets(admin_user, team, rows, assert_queries):
    SalesRepFactory.create_batch(rows, team=team)
    plan_services.plans_create(year=2031, month=6)
    actor = fresh(admin_user)

    # the team; its plans made if missing (4); the unset plans' goals (locked); their targets,
    # audited, their revisions; the targets reached; how many plans took them
    with assert_queries(11):
        plan_services.plans_set_defaults(
            actor=actor, team_id=team.pk, year=2031, month=6, **TARGETS
        )


# --- Achievements, snapshots, reminders ----------------------------------------------------------


def plans_under_way(team, rows: int) -> None:
    """This month's plans of `rows` reps of `team`, set, each with a signup to count."""
    reps = SalesRepFactory.create_batch(rows, team=team)
    plan_services.plans_create(year=2031, month=6)
    for rep in reps:
        plan_services.plan_set(actor=team.manager, rep_id=rep.pk, **TARGETS)
        CustomerFactory(owner=rep, status=CustomerStatus.ACTIVE, signed_up_at=timezone.now())
    services.goals_recalculate(goals=Goal.objects.all(), actor=JOB)


@pins(plan_services.record_achievements)
@pytest.mark.parametrize("rows", SIZES)
def test_recording_the_targets_reached(team, rows, assert_queries):
    plans_under_way(team, rows)
    Goal.objects.filter(metric=Metric.SIGNUPS).update(current_value=5)

    # the goals that reached their target; the achievements
    with assert_queries(2):
        plan_services.record_achievements()
    assert Achievement.objects.count() == rows


@pins(plan_services.record_streaks)
def test_recording_a_run_of_months_set_on_time(rep, assert_queries):
    for month in (4, 5, 6):
        plan_services.plans_create(year=2031, month=month)
    RepPlan.objects.filter(month__in=(4, 5)).update(
        goal_set_at=dt.datetime(2031, 4, 1, tzinfo=dt.UTC)
    )
    plan = RepPlan.objects.get(month=6)
    plan.set_by_deadline = True

    # the months before; the streak
    with assert_queries(2):
        plan_services.record_streaks(plan)
    assert plan.achievements.filter(kind=AchievementKind.STREAK_3).exists()


@pins(plan_services.snapshot_plans)
@pytest.mark.parametrize("rows", SIZES)
def test_snapshotting_the_plans(team, rows, assert_queries):
    plans_under_way(team, rows)

    # the zones; one INSERT … SELECT
    with assert_queries(2):
        plan_services.snapshot_plans(on=JUNE_16)
    assert PlanSnapshot.objects.count() == rows


@pins(plan_services.snapshot_plans_of_days)
@pytest.mark.parametrize("rows", SIZES)
def test_snapshotting_the_plans_of_the_days_that_ended(team, rows, assert_queries):
    plans_under_way(team, rows)
    zones = set(team.reps.values_list("timezone", flat=True))

    # the zones; one INSERT … SELECT for the day that ended in those zones
    with assert_queries(2):
        plan_services.snapshot_plans_of_days(days=dict.fromkeys(zones, JUNE_16), now=timezone.now())
    assert PlanSnapshot.objects.count() == rows


@pins(services.goals_check, services.goals_repair)
@pytest.mark.parametrize("rows", SIZES)
def test_checking_every_goal_and_repairing_those_that_differ(team, rows, assert_queries):
    goals = rep_goals(team, rows)
    Goal.objects.filter(pk__in=[goal.pk for goal in goals]).update(current_value=0)

    # the goals counted and the parents (two counts), the bonus tiers, the fresh values (one
    # statement per level: rep, team, company); the repair (one update), its audit; the record
    with assert_queries(9):
        check = services.goals_check(actor=JOB, repair=True, email=False)
    assert (check.differences, check.repaired) == (rows, rows)


@pins(plan_services.send_reminders)
@pytest.mark.parametrize("rows", SIZES)
def test_reminding_the_reps_whose_plan_is_not_set(team, rows, assert_queries):
    SalesRepFactory.create_batch(rows, team=team)
    plan_services.plans_create(year=2031, month=6)

    # the plans due, their reminders, the reminders with their reps, who was mailed
    with assert_queries(4):
        plan_services.send_reminders()
    assert PlanReminder.objects.count() == rows


@pins(plan_services.reminder_acknowledge)
def test_acknowledging_a_reminder(rep, assert_queries):
    plan_services.plans_for_rep(rep.pk)
    plan_services.send_reminders(email=False)
    reminder = PlanReminder.objects.get()
    actor = fresh(rep.user)

    # the reminder (locked), it and the earlier ones acknowledged, the reminder read again
    with assert_queries(3):
        plan_services.reminder_acknowledge(actor=actor, reminder_id=reminder.pk)


# --- Pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", SIZES)
def test_the_analytics_page(supervisor, team, rows, assert_queries):
    for goal in rep_goals(team, rows):
        GoalSnapshot.objects.create(
            goal=goal, date=dt.date(2031, 6, 10), value=50, target=goal.target_value, percent=5
        )
        services.goal_set_status(actor=JOB, goal_id=goal.pk, status=GoalStatus.COMPLETED)
    rep_goals(team, rows)
    client = signed_in(supervisor)

    # session, user, the user's zone, role; the totals, the velocities, the trend, by metric, by
    # owner (the days of history are with the totals)
    with assert_queries(9):
        assert client.get(reverse("goals:analytics")).status_code == 200


def a_rep_with_history(team, rows: int):
    """A rep with `rows` months of plans set before this one, `rows` days of snapshots and
    achievements of each kind their plans reached."""
    rep = SalesRepFactory(team=team)
    first = dt.date(2031, 6, 1)
    for back in range(rows, -1, -1):
        month = (first.month - back - 1) % 12 + 1
        year = first.year + (first.month - back - 1) // 12
        plan_services.plans_create(year=year, month=month, rep_ids=[rep.pk])
        plan_services.plan_set(actor=team.manager, rep_id=rep.pk, year=year, month=month, **TARGETS)
    plan_services.plans_create(year=2031, rep_ids=[rep.pk])
    Goal.objects.filter(rep=rep, metric__in=[Metric.SIGNUPS, Metric.REVENUE]).update(
        current_value=10_000
    )
    plan_services.record_achievements()
    plan = RepPlan.objects.get(rep=rep, year=2031, month=6)
    for day in range(min(rows, 15)):
        plan_services.snapshot_plans(on=dt.date(2031, 6, 15 - day), plan_ids=[plan.pk])
    return rep


@pytest.mark.parametrize("rows", SIZES)
def test_a_reps_plan_page(team, rows, assert_queries):
    rep = a_rep_with_history(team, rows)
    client = signed_in(rep.user)

    # session, user, the user's zone, role; the rep shown; the month's plan and the year's
    # (each with the zones), the bonus tiers, the chart's snapshots, the reminders, the
    # achievements (with the zones), the months before
    with assert_queries(15):
        assert client.get(reverse("goals:plan")).status_code == 200


@pytest.mark.parametrize("rows", SIZES)
def test_a_reps_plan_page_opened_by_their_supervisor(supervisor, team, rows, assert_queries):
    rep = a_rep_with_history(team, rows)
    client = signed_in(supervisor)

    # the rep's own page (above) but for the reminders, which are the rep's to read
    with assert_queries(14):
        assert client.get(reverse("goals:plan"), {"rep": rep.pk}).status_code == 200

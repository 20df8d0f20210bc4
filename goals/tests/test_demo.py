"""What `seed_demo` leaves for the goals pages: this month's plans and this year's goals for
every active rep, a realistic mix of plans set on time, late and not at all (two reps who keep
missing), and the snapshots, reminders and achievements that match."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F, Q

from crm.models import SalesRep
from crm.roles import SystemActor
from goals.models import Achievement, Goal, PlanReminder, PlanSnapshot, RepPlan
from goals.plans import selectors

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

AS_OF = dt.datetime(2026, 3, 18, 15, 0, tzinfo=dt.UTC)
JOB = SystemActor("test:demo")


@pytest.fixture
def demo():
    call_command(
        "seed_demo", reps=8, months=4, as_of=AS_OF, allow_demo_logins=True,
        stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip


def test_every_active_rep_has_this_months_plan_and_this_years_goals(demo):
    reps = set(SalesRep.objects.filter(active=True).values_list("pk", flat=True))
    months = set(RepPlan.objects.filter(year=2026, month=3).values_list("rep_id", flat=True))
    years = set(
        RepPlan.objects.filter(year=2026, month__isnull=True).values_list("rep_id", flat=True)
    )
    assert reps and months == reps and years == reps


def test_plans_are_mostly_set_on_time_some_late_and_two_reps_keep_missing(demo):
    past = RepPlan.objects.filter(month__isnull=False, deadline__lt=AS_OF)
    on_time = past.filter(set_by_deadline=True).count()
    late = past.filter(goal_set_at__isnull=False, set_by_deadline=False).count()
    unset = past.filter(goal_set_at__isnull=True).count()

    assert on_time > late + unset and late and unset
    missers = list(selectors.repeated_misses(user=JOB, now=AS_OF))
    assert len(missers) >= 2


def test_snapshots_reminders_and_achievements_match_the_plans(demo):
    snapshots = PlanSnapshot.objects.filter(daily=True)
    assert snapshots.exists()
    assert not snapshots.filter(date__gt=AS_OF.date()).exists()
    # Pace is recorded as the job would have (none only for plans without targets).
    assert snapshots.exclude(pace="").exists()
    assert not snapshots.exclude(pace="").filter(
        signup_goal__isnull=True, revenue_goal__isnull=True
    )
    # Reminders went to plans that were not set in time, never to one set before them.
    reminded = PlanReminder.objects.select_related("plan")
    assert reminded.exists()
    assert all(r.plan.goal_set_at is None or r.plan.goal_set_at > r.sent_at for r in reminded)
    assert Achievement.objects.exists()


def test_every_demo_goal_lies_within_its_parents_period(demo):
    linked = Goal.objects.filter(parent__isnull=False)
    assert linked.exists()
    outside = linked.filter(
        Q(period_start__lt=F("parent__period_start")) | Q(period_end__gt=F("parent__period_end"))
    )
    assert not outside.exists()

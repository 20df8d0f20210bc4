"""What each goal keeps of its snapshots for the analytics' velocity: kept by the daily snapshot
as it writes, equal to a fresh read of the snapshots, never moved back by an older day or a
second run."""

import datetime as dt
from decimal import Decimal

import pytest

from goals import services
from goals.models import Goal, GoalSnapshot
from goals.tests.factories import make_goal

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

JUNE_1 = dt.date(2031, 6, 1)
KEPT = ("first_snapshot_date", "first_snapshot_value", "last_snapshot_date", "daily_change")


def _kept(goal: Goal) -> tuple:
    goal.refresh_from_db()
    return tuple(getattr(goal, name) for name in KEPT)


def _snapshot_day(goal: Goal, day: dt.date, value: int) -> int:
    Goal.objects.filter(pk=goal.pk).update(current_value=value)
    return services.snapshot_active_goals(
        days={goal.zone: day}, now=dt.datetime(2031, 6, 1, tzinfo=dt.UTC)
    )


def test_the_daily_snapshot_keeps_first_and_last_and_the_change_a_day(rep):
    goal = make_goal(owner=rep, start=JUNE_1)
    _snapshot_day(goal, JUNE_1, 10)
    assert _kept(goal) == (JUNE_1, Decimal(10), JUNE_1, None)  # one day: no velocity yet

    _snapshot_day(goal, dt.date(2031, 6, 3), 30)
    _snapshot_day(goal, dt.date(2031, 6, 5), 50)
    after_snapshots = _kept(goal)
    assert after_snapshots == (JUNE_1, Decimal(10), dt.date(2031, 6, 5), Decimal(10))

    # What it keeps equals a fresh read of its snapshots.
    services.goals_history_resync(goal_ids=[goal.pk])
    assert _kept(goal) == after_snapshots


def test_a_second_run_or_an_older_day_changes_nothing(rep):
    goal = make_goal(owner=rep, start=JUNE_1)
    _snapshot_day(goal, JUNE_1, 10)
    _snapshot_day(goal, dt.date(2031, 6, 4), 40)
    kept = _kept(goal)

    assert _snapshot_day(goal, dt.date(2031, 6, 4), 99) == 0  # the same day again: no row
    GoalSnapshot.objects.create(goal=goal, date=dt.date(2031, 6, 2), value=1, percent=0)
    _snapshot_day(goal, dt.date(2031, 6, 2), 1)  # an older day (already there)
    assert _kept(goal) == kept


def test_resync_forgets_removed_snapshots(rep):
    goal = make_goal(owner=rep, start=JUNE_1)
    _snapshot_day(goal, JUNE_1, 10)
    _snapshot_day(goal, dt.date(2031, 6, 3), 30)
    GoalSnapshot.objects.filter(goal=goal).delete()

    services.goals_history_resync()
    assert _kept(goal) == (None, None, None, None)

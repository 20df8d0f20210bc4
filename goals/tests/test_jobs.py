"""The goals' day-end job on time in every zone: every 5 minutes, each zone whose day ended gets
its goals' and plans' snapshots of that day, and a goal whose period ended in its owner's zone is
counted one last time and closed within 5 minutes of its end (across a month end, a year end and
daylight saving time changes), once however often the job runs."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import periods
from crm.jobs import job_run
from crm.jobs.models import JobRun, JobRunStatus
from crm.models import AuditEntry, DealStage
from crm.roles import SystemActor
from crm.tests.factories import DealFactory, SalesRepFactory
from goals import services
from goals.jobs import DAY_END
from goals.models import Goal, GoalSnapshot, GoalStatus, PlanSnapshot, RepPlan
from goals.plans import services as plans
from goals.tests.factories import make_goal

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

UTC = dt.UTC
TICK = dt.timedelta(minutes=5)
# A run starts a little after its tick (the queue, the worker).
LATENCY = dt.timedelta(seconds=20)
# -10:00, +00:00, +05:30 and +14:00, none with daylight saving time.
ZONES = ("Pacific/Honolulu", "UTC", "Asia/Kolkata", "Pacific/Kiritimati")


def _midnights(zones, first: dt.date, last: dt.date) -> list[dt.datetime]:
    """The ends of the days `first`…`last` in each of `zones` (their local midnights, in UTC)."""
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return sorted(
        {
            periods.day(day, periods.zone_named(zone)).end.astimezone(UTC)
            for zone in zones
            for day in days
        }
    )


def _day_end(day: dt.date, zone: str) -> dt.datetime:
    return periods.day(day, periods.zone_named(zone)).end


def _ticks_around(moments) -> list[dt.datetime]:
    """The job's 5-minute ticks from 10 minutes before to 10 minutes after each moment."""
    ticks = set()
    for moment in moments:
        tick = moment - 2 * TICK
        tick -= dt.timedelta(minutes=tick.minute % 5, seconds=tick.second)
        while tick <= moment + 2 * TICK:
            ticks.add(tick)
            tick += TICK
    return sorted(ticks)


def _run_at(moment: dt.datetime) -> None:
    with time_machine.travel(moment, tick=False):
        run = job_run(DAY_END)
    assert run.status == JobRunStatus.SUCCEEDED, run.error


def _on_schedule_until(moment: dt.datetime) -> None:
    """As if the job had run on time until `moment`: nothing before is left to do."""
    JobRun.objects.create(
        name=DAY_END, status=JobRunStatus.SUCCEEDED, started_at=moment, finished_at=moment
    )


def _check(goal_ids, *, at: dt.datetime, watched_from: dt.datetime) -> None:
    """At `at`: every goal whose period ended is closed, within 5 minutes of its end, and only
    those; each goal has the snapshot of each of its owner's days that ended since
    `watched_from` (within its period), taken within 5 minutes of the day's end, and none of a
    day not over."""
    for goal in Goal.objects.filter(pk__in=goal_ids):
        zone = periods.zone_named(goal.zone)
        if goal.ends_at <= at:
            assert goal.status == GoalStatus.COMPLETED, (goal.title, at)
            assert dt.timedelta(0) <= goal.closed_at - goal.ends_at < TICK, (goal.title, at)
        else:
            assert goal.status == GoalStatus.ACTIVE, (goal.title, at)
        taken = {s.date: s.created_at for s in GoalSnapshot.objects.filter(goal=goal)}
        day = goal.period_start
        while day <= goal.period_end:
            end = periods.day(day, zone).end
            if watched_from < end <= at:
                assert day in taken, (goal.title, day, at)
                assert dt.timedelta(0) <= taken[day] - end < TICK, (goal.title, day)
            elif end > at:
                assert day not in taken, (goal.title, day, at)
            day += dt.timedelta(days=1)


def _reps(zones):
    return {zone: SalesRepFactory(timezone=zone) for zone in zones}


def test_goals_close_within_5_minutes_of_a_month_end_in_every_zone():
    reps = _reps(ZONES)
    with time_machine.travel(dt.datetime(2031, 1, 20, 12, tzinfo=UTC), tick=False):
        plans.plans_create(year=2031, month=1)
        company = make_goal(owner=None, start=dt.date(2031, 1, 1), target=10)
    goal_ids = [company.pk, *Goal.objects.filter(plan__isnull=False).values_list("pk", flat=True)]
    # A deal won in Kolkata at 23:50 on the 31st, its own time: in January's figures there.
    DealFactory(rep=reps["Asia/Kolkata"], stage=DealStage.CLOSED_WON, amount=Decimal(70),
                closed_at=dt.datetime(2031, 1, 31, 18, 20, tzinfo=UTC))  # fmt: skip
    midnights = _midnights(ZONES, dt.date(2031, 1, 30), dt.date(2031, 1, 31))
    watched_from = midnights[0] - 3 * TICK
    _on_schedule_until(watched_from)

    for tick in _ticks_around(midnights):
        _run_at(tick + LATENCY)
        _check(goal_ids, at=tick + LATENCY, watched_from=watched_from)
        for zone, rep in reps.items():
            began = periods.day(dt.date(2031, 2, 1), periods.zone_named(zone)).start
            has_february = RepPlan.objects.filter(rep=rep, year=2031, month=2).exists()
            assert has_february == (began <= tick + LATENCY), (zone, tick)

    assert Goal.objects.filter(pk__in=goal_ids, status=GoalStatus.ACTIVE).count() == 0
    kolkata = Goal.objects.get(plan__rep=reps["Asia/Kolkata"], plan__month=1, metric="revenue")
    assert kolkata.current_value == 70  # counted one last time before it closed
    # Each plan's daily snapshots are of its rep's days, those that ended while watched: in
    # Honolulu the 29th ended with Kiritimati's 30th, in Kiritimati February's 1st with
    # Honolulu's 31st.
    last = midnights[-1] + 2 * TICK
    for zone, rep in reps.items():
        dates = set(PlanSnapshot.objects.filter(plan__rep=rep).values_list("date", flat=True))
        zone_days = [dt.date(2031, 1, 29) + dt.timedelta(days=n) for n in range(4)]
        ended = {day for day in zone_days if watched_from < _day_end(day, zone) <= last}
        assert dates == ended, zone


def test_goals_close_within_5_minutes_of_a_year_end_in_every_zone():
    reps = _reps(ZONES)
    with time_machine.travel(dt.datetime(2031, 12, 20, 12, tzinfo=UTC), tick=False):
        goal_ids = [
            make_goal(owner=rep, start=start, period_kind=kind).pk
            for rep in reps.values()
            for start, kind in ((dt.date(2031, 12, 1), "month"), (dt.date(2031, 1, 1), "year"))
        ]
    midnights = _midnights(ZONES, dt.date(2031, 12, 31), dt.date(2031, 12, 31))
    watched_from = midnights[0] - 3 * TICK
    _on_schedule_until(watched_from)

    for tick in _ticks_around(midnights):
        _run_at(tick + LATENCY)
        _check(goal_ids, at=tick + LATENCY, watched_from=watched_from)
    assert not Goal.objects.filter(pk__in=goal_ids, status=GoalStatus.ACTIVE).exists()


@pytest.mark.parametrize(
    "month, days",
    [
        # Berlin's clocks go forward on 30 March 2031 (a day of 23 hours) ...
        (dt.date(2031, 3, 1), (dt.date(2031, 3, 29), dt.date(2031, 3, 31))),
        # ... and back on 26 October (25 hours).
        (dt.date(2031, 10, 1), (dt.date(2031, 10, 25), dt.date(2031, 10, 31))),
    ],
)
def test_days_and_months_end_on_time_across_a_daylight_saving_change(month, days):
    rep = SalesRepFactory(timezone="Europe/Berlin")
    with time_machine.travel(dt.datetime.combine(month, dt.time(12), tzinfo=UTC), tick=False):
        goal = make_goal(owner=rep, start=month)
    midnights = _midnights(["Europe/Berlin"], *days)
    watched_from = midnights[0] - 3 * TICK
    _on_schedule_until(watched_from)

    for tick in _ticks_around(midnights):
        _run_at(tick + LATENCY)
        _check([goal.pk], at=tick + LATENCY, watched_from=watched_from)
    goal.refresh_from_db()
    assert goal.status == GoalStatus.COMPLETED


def test_a_run_that_finds_nothing_ended_writes_nothing_and_a_rerun_nothing_more(rep):
    with time_machine.travel(dt.datetime(2031, 5, 10, 12, tzinfo=UTC), tick=False):
        goal = make_goal(owner=rep, start=dt.date(2031, 5, 1))
    _on_schedule_until(dt.datetime(2031, 5, 20, 12, tzinfo=UTC))
    _run_at(dt.datetime(2031, 5, 20, 12, 5, tzinfo=UTC))
    assert not GoalSnapshot.objects.exists()

    midnight = periods.day(dt.date(2031, 5, 21), periods.zone_named(rep.timezone)).start
    for moment in (midnight, midnight + LATENCY, midnight + TICK):
        _run_at(moment)
    assert list(GoalSnapshot.objects.values_list("goal_id", "date")) == [
        (goal.pk, dt.date(2031, 5, 20))
    ]


def test_a_job_that_did_not_run_for_a_while_takes_the_latest_day_and_closes_what_ended(rep):
    with time_machine.travel(dt.datetime(2031, 5, 10, 12, tzinfo=UTC), tick=False):
        goal = make_goal(owner=rep, start=dt.date(2031, 5, 1))
    _on_schedule_until(dt.datetime(2031, 5, 29, 12, tzinfo=UTC))

    _run_at(dt.datetime(2031, 6, 3, 9, tzinfo=UTC))  # down for five days

    goal.refresh_from_db()
    assert goal.status == GoalStatus.COMPLETED
    # Its last day (the value it had when it closed); the days after are not its.
    assert list(GoalSnapshot.objects.values_list("date", flat=True)) == [dt.date(2031, 5, 31)]


def test_a_closed_goal_says_whether_it_reached_its_target_or_missed_it(rep):
    with time_machine.travel(dt.datetime(2031, 5, 10, 12, tzinfo=UTC), tick=False):
        reached = make_goal(owner=rep, start=dt.date(2031, 5, 1), target=50)
        missed = make_goal(owner=rep, start=dt.date(2031, 5, 1), target=500, metric="deals_won")
        DealFactory(rep=rep, stage=DealStage.CLOSED_WON, amount=Decimal(60))
    _run_at(dt.datetime(2031, 6, 1, 0, 5, tzinfo=UTC))

    reasons = dict(
        AuditEntry.objects.filter(action="goal.status").values_list("target_id", "reason")
    )
    assert reasons == {str(reached.pk): services.REACHED, str(missed.pk): services.MISSED}


def test_the_day_end_runs_the_same_statements_for_2_and_12_goals_in_3_zones():
    def statements(reps_per_zone: int) -> int:
        Goal.objects.all().delete()
        zones = ("Pacific/Honolulu", "UTC", "Asia/Kolkata")
        with time_machine.travel(dt.datetime(2031, 4, 10, 12, tzinfo=UTC), tick=False):
            for zone in zones:
                for _ in range(reps_per_zone):
                    make_goal(owner=SalesRepFactory(timezone=zone), start=dt.date(2031, 4, 1))
        now = dt.datetime(2031, 5, 1, 10, 2, tzinfo=UTC)  # April over in all three
        with time_machine.travel(now, tick=False), CaptureQueriesContext(connection) as queries:
            days = services.days_ended(since=None, now=now)
            done = services.goals_day_end(actor=SystemActor("job:test"), days=days, now=now)
        assert done["closed"] == len(zones) * reps_per_zone
        return len(queries)

    assert statements(1) == statements(4)

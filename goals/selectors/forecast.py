"""A goal's pace: the one verdict (on track, at risk, off track), its history day by day and
the forecast drawn from it."""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.utils import timezone

from crm.periods import LATEST, local_date, zone_named
from goals import metrics, rates
from goals.models import Goal, GoalStatus
from goals.selectors.freshness import AsOf, goal_as_of


class Verdict:
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"

    LABELS = {ON_TRACK: "On track", AT_RISK: "At risk", OFF_TRACK: "Off track"}


# A goal is on track when its progress keeps up with the elapsed share of its period, at risk
# down to AT_RISK_SHARE of that, off track below.
AT_RISK_SHARE = Decimal("0.8")
# The rule in words, for the API's schema and the guide.
VERDICT_RULE = (
    "on_track: progress at or above the share of the period gone (days, today included); "
    "at_risk: down to 80 % of that; off_track: below. Null for a goal closed, without a "
    "target, or a bonus tier."
)


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def verdict_for(percent: Decimal, expected_percent: Decimal) -> str:
    if percent >= expected_percent:
        return Verdict.ON_TRACK
    if percent >= expected_percent * AT_RISK_SHARE:
        return Verdict.AT_RISK
    return Verdict.OFF_TRACK


def goal_today(goal: Goal, now: dt.datetime | None = None) -> dt.date:
    """The day it is in the goal's zone (the one its period's days are in)."""
    return local_date(now or timezone.now(), zone_named(goal.zone))


def verdict(goal: Goal, *, today: dt.date) -> str | None:
    """The one verdict on a goal, which the forecast, its badge, the list, the off-track notice,
    the daily alerts and a plan's card all read: on track, at risk or off track against the
    progress a steady pace would have by `today` (the goal's zone). None when there is nothing
    to judge: a goal closed, without a target, or a bonus tier (it moves in steps, not at a
    pace)."""
    return verdict_of(
        metric=goal.metric,
        status=goal.status,
        target=goal.target_value,
        percent=goal.progress_percent,
        period=(goal.period_start, goal.period_end),
        today=today,
    )


def verdict_of(
    *,
    metric: str,
    status: str,
    target: Decimal | None,
    percent: Decimal | None,
    period: tuple[dt.date, dt.date],
    today: dt.date,
) -> str | None:
    """`verdict`, from a goal's figures as a list reads them (a plan's goals, annotated on
    their plan): its metric, status, target, progress percent and (first, last) day."""
    if status != GoalStatus.ACTIVE or target is None or metrics.spec(metric).tiered:
        return None
    if target == 0:  # nothing to reach
        return Verdict.ON_TRACK
    return verdict_for(percent or Decimal(0), _expected_percent(*period, today=today))


def elapsed_days(goal: Goal, *, today: dt.date) -> tuple[int, int]:
    """(days of the goal's period gone by `today`, counting today; days in the period)."""
    return _elapsed_days(goal.period_start, goal.period_end, today=today)


def _elapsed_days(first: dt.date, last: dt.date, *, today: dt.date) -> tuple[int, int]:
    days = (last - first).days + 1
    return min(days, max(0, (today - first).days + 1)), days


def expected_percent(goal: Goal, *, today: dt.date) -> Decimal:
    """The progress a steady pace would have reached by `today`."""
    return _expected_percent(goal.period_start, goal.period_end, today=today)


def _expected_percent(first: dt.date, last: dt.date, *, today: dt.date) -> Decimal:
    elapsed, days = _elapsed_days(first, last, today=today)
    return round_cents(Decimal(elapsed) * 100 / days)


class HistoryPoint(NamedTuple):
    """A day of a goal's history: its value, and its target and percent, that day."""

    date: dt.date
    value: Decimal
    target: Decimal | None
    percent: Decimal | None


def history_points(goal: Goal, *, today: dt.date) -> list[HistoryPoint]:
    """The goal's value day by day, as its chart draws it, the API gives it and its velocity is
    measured: the daily snapshots before its last day so far, then that day as the goal stands
    now (a snapshot of today is older than the value shown). Days without a snapshot are left
    out, never drawn as 0."""
    last = min(today, goal.period_end)
    rows = goal.snapshots.filter(date__lt=last).order_by("date")
    return [
        *(HistoryPoint(*row) for row in rows.values_list("date", "value", "target", "percent")),
        HistoryPoint(last, goal.current_value, goal.target_value, goal.progress_percent),
    ]


@dataclass(frozen=True)
class Forecast:
    velocity: Decimal  # average change in value per day
    projected_value: Decimal  # at the period's end, at that velocity
    projected_completion: dt.date | None  # when the target is reached at that velocity
    needed_daily_rate: Decimal | None  # what each day left (today included) must add

    verdict: str | None  # None: nothing to judge (see `verdict`)
    elapsed_share: Decimal  # 0..1 of the period gone
    expected_percent: Decimal  # progress a steady pace would have by now
    days_left: int  # after today
    has_sufficient_data: bool
    days_of_history: int
    # The figures above in words, with the metric's unit (goals.rates).
    pace_text: str = ""
    needed_text: str = ""
    projected_text: str = ""
    # When the value it is drawn from was counted (goals.selectors.freshness).
    as_of: AsOf | None = None

    @property
    def verdict_label(self) -> str:
        return Verdict.LABELS.get(self.verdict, "")


def forecast(
    goal: Goal,
    *,
    now: dt.datetime | None = None,
    history: list[HistoryPoint] | None = None,
) -> Forecast:
    """Velocity over the goal's history, which ends at the value it has now (`history_points`,
    read here unless given): the change from its first point to now over the days between, or,
    with no earlier day recorded, the value over the days elapsed. The projection to the
    period's end and the completion date follow from that one velocity; then the daily rate
    still needed, and the verdict."""
    now = now or timezone.now()
    today = goal_today(goal, now)
    elapsed, days = elapsed_days(goal, today=today)
    days_left = days - elapsed
    points = history if history is not None else history_points(goal, today=today)
    value = goal.current_value
    (first_day, first, *_), (last_day, *_) = points[0], points[-1]
    span = (last_day - first_day).days
    if span > 0:
        velocity = (value - first) / span
    elif elapsed:
        velocity = value / elapsed
    else:
        velocity = Decimal(0)
    projected = value + velocity * days_left
    target = goal.target_value
    completion = None
    needed = None
    if target is not None:
        remaining = target - value
        if remaining <= 0:
            completion = today
            needed = Decimal(0)
        else:
            # Over the days left today included, as `rates.needed` words it.
            to_go = rates.days_left(today, goal.period_end)
            needed = remaining / to_go if to_go else remaining
            if velocity > 0:
                days_to_go = (remaining / velocity).to_integral_value(rounding=ROUND_CEILING)
                # At a crawl the date would be past any calendar's: no completion in sight.
                if days_to_go < (LATEST.date() - today).days:
                    completion = today + dt.timedelta(days=int(days_to_go))
    share = Decimal(elapsed) / Decimal(days)
    projected = round_cents(max(projected, Decimal(0)))
    return Forecast(
        velocity=round_cents(velocity),
        projected_value=projected,
        projected_completion=completion,
        needed_daily_rate=round_cents(needed) if needed is not None else None,
        verdict=verdict(goal, today=today),
        elapsed_share=share.quantize(Decimal("0.0001")),
        expected_percent=expected_percent(goal, today=today),
        days_left=days_left,
        has_sufficient_data=span > 0,
        days_of_history=span + 1,
        pace_text=rates.pace(goal.metric, velocity),
        needed_text=rates.needed(
            goal.metric, target=target, actual=value, today=today, last_day=goal.period_end
        ),
        projected_text=rates.amount(goal.metric, projected),
        as_of=goal_as_of(goal, now=now),
    )

"""API shapes of goals. Related ids (team, rep, parent) are looked up in the caller's scope."""

import datetime as dt
import functools
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm import selectors as crm_selectors
from crm.api.base import DateField, ScopedPrimaryKeyRelatedField, TextField
from crm.api.serializers import RepSummarySerializer
from crm.periods import local_date, zone_named
from goals import selectors
from goals.models import Goal, GoalStatus, Metric, OwnerType, PeriodKind, Source

AMOUNT = {"max_digits": 14, "decimal_places": 2}


def supervised_teams(*, user):
    return crm_selectors.team_list(user=user, for_write=True)


class TeamSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


AS_OF_HELP = (
    "When the value (and its percent, pace and verdict) was counted: for a goal with goals "
    "below, when the oldest of the calculated values it sums was."
)
STALE_HELP = (
    "The CRM keeps counting this figure and has not for longer than the fallback "
    "recalculation's interval plus 5 minutes."
)


class GoalOutputSerializer(serializers.ModelSerializer):
    rep = RepSummarySerializer(allow_null=True)
    team = TeamSummarySerializer(allow_null=True)
    owner_name = serializers.CharField(read_only=True)
    progress_percent = serializers.DecimalField(max_digits=8, decimal_places=2, read_only=True)
    verdict = serializers.SerializerMethodField(
        help_text="The forecast's verdict today, the one every page, badge and alert gives: "
        + selectors.VERDICT_RULE
    )

    as_of = serializers.SerializerMethodField(help_text=AS_OF_HELP)
    stale = serializers.SerializerMethodField(help_text=STALE_HELP)
    original_target = serializers.DecimalField(
        allow_null=True,
        read_only=True,
        help_text="The target when the period started (or when the goal was made, or first "
        "given one); `target_value` is the current one, its revisions at revisions/.",
        **AMOUNT,
    )
    original_percent = serializers.DecimalField(
        max_digits=8, decimal_places=2, allow_null=True, read_only=True,
        help_text="Progress against the original target, as progress_percent is against the "
        "current one.",
    )  # fmt: skip
    target_revised = serializers.BooleanField(read_only=True)

    def get_verdict(self, goal: Goal) -> str | None:
        return selectors.verdict(goal, today=selectors.goal_today(goal))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_as_of(self, goal: Goal):
        moment = selectors.goal_as_of(goal).moment
        return serializers.DateTimeField().to_representation(moment) if moment else None

    def get_stale(self, goal: Goal) -> bool:
        return selectors.goal_as_of(goal).stale

    class Meta:
        model = Goal
        fields = [
            "id",
            "title",
            "description",
            "owner_type",
            "owner_name",
            "team",
            "rep",
            "metric",
            "period_kind",
            "period_start",
            "period_end",
            "target_value",
            "original_target",
            "target_revised",
            "current_value",
            "progress_percent",
            "original_percent",
            "verdict",
            "as_of",
            "stale",
            "status",
            "closed_at",
            "calculation_source",
            "last_calculated_at",
            "calculation_failed",
            "calculation_error",
            "manual_override_reason",
            "parent",
            "created_at",
            "updated_at",
        ]


def writable_goals(*, user):
    return selectors.goal_list(user=user, for_write=True)


PARENT_HELP = (
    "The goal this one counts toward (a goal you may change, of the same metric, whose period "
    "holds this one's); null to unlink."
)


class GoalCreateInputSerializer(serializers.Serializer):
    title = TextField(max_length=200)
    description = TextField(required=False, allow_blank=True)
    owner_type = serializers.ChoiceField(choices=OwnerType.choices)
    team = ScopedPrimaryKeyRelatedField(
        selector=supervised_teams, required=False, allow_null=True,
        help_text="For a team goal: a team you supervise.",
    )  # fmt: skip
    rep = ScopedPrimaryKeyRelatedField(
        selector=crm_selectors.rep_list, required=False, allow_null=True,
        help_text="For an individual goal (reps: omit, it is yours).",
    )  # fmt: skip
    metric = serializers.ChoiceField(choices=Metric.choices)
    period_kind = serializers.ChoiceField(choices=PeriodKind.choices)
    period_start = DateField(help_text="Any day of the month, quarter or year; or the first day.")
    period_end = DateField(required=False, allow_null=True, help_text="Custom dates only.")
    target_value = serializers.DecimalField(min_value=0, **AMOUNT)
    calculation_source = serializers.ChoiceField(choices=Source.choices, required=False)
    parent = ScopedPrimaryKeyRelatedField(
        selector=writable_goals, required=False, allow_null=True, help_text=PARENT_HELP
    )


class GoalUpdateInputSerializer(serializers.Serializer):
    title = TextField(max_length=200, required=False)
    description = TextField(required=False, allow_blank=True)
    target_value = serializers.DecimalField(min_value=0, required=False, **AMOUNT)
    reason = TextField(
        required=False,
        allow_blank=True,
        help_text="Why the target changes: required (at least 10 visible characters) once the "
        "goal's period has started.",
    )
    period_kind = serializers.ChoiceField(choices=PeriodKind.choices, required=False)
    period_start = DateField(required=False)
    period_end = DateField(required=False, allow_null=True)
    parent = ScopedPrimaryKeyRelatedField(
        selector=writable_goals, required=False, allow_null=True, help_text=PARENT_HELP
    )


class GoalAdjustInputSerializer(serializers.Serializer):
    value = serializers.DecimalField(**AMOUNT)
    justification = TextField(help_text="Why, in at least 10 characters.")


class GoalStatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=GoalStatus.choices)


class GoalLinkInputSerializer(serializers.Serializer):
    parent = ScopedPrimaryKeyRelatedField(selector=writable_goals, help_text=PARENT_HELP)


class RevisionSerializer(serializers.Serializer):
    """A change of a goal's target: from what, to what, by whom, when and why."""

    old_target = serializers.DecimalField(allow_null=True, **AMOUNT)
    new_target = serializers.DecimalField(allow_null=True, **AMOUNT)
    reason = serializers.CharField()
    changed_by = serializers.CharField(source="changed_by_name", help_text="A user, or a job.")
    changed_at = serializers.DateTimeField()
    after_start = serializers.BooleanField(help_text="Made after the goal's period started.")


class HistoryPointSerializer(serializers.Serializer):
    """A day of a goal's history (goals.selectors.history_points); the last is today's, as the
    goal stands now."""

    date = serializers.DateField()
    value = serializers.DecimalField(**AMOUNT)
    target = serializers.DecimalField(allow_null=True, **AMOUNT)
    percent = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)


class ForecastSerializer(serializers.Serializer):
    velocity = serializers.DecimalField(max_digits=None, decimal_places=2)
    projected_value = serializers.DecimalField(max_digits=None, decimal_places=2)
    projected_completion = serializers.DateField(allow_null=True)
    needed_daily_rate = serializers.DecimalField(
        max_digits=None, decimal_places=2, allow_null=True,
        help_text="What each day left, today included, must add to reach the target; 0 once "
        "reached, null without a target.",
    )  # fmt: skip
    verdict = serializers.ChoiceField(
        choices=list(selectors.Verdict.LABELS.items()),
        allow_null=True,
        help_text="Blank when there is nothing to judge: a goal closed, without a target, or a "
        "bonus tier.",
    )
    elapsed_share = serializers.DecimalField(max_digits=5, decimal_places=4)
    expected_percent = serializers.DecimalField(max_digits=8, decimal_places=2)
    days_left = serializers.IntegerField(help_text="Days of the period after today.")
    has_sufficient_data = serializers.BooleanField()
    days_of_history = serializers.IntegerField()
    as_of = serializers.DateTimeField(source="as_of.moment", allow_null=True, help_text=AS_OF_HELP)
    stale = serializers.BooleanField(source="as_of.stale", help_text=STALE_HELP)


class GoalNodeSerializer(serializers.Serializer):
    """A goal in a tree: what a tree shows of it (the goal itself is at /api/goals/{id}/)."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    owner_type = serializers.ChoiceField(choices=OwnerType.choices)
    owner_name = serializers.CharField()
    metric = serializers.ChoiceField(choices=Metric.choices)
    period_kind = serializers.ChoiceField(choices=PeriodKind.choices)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    target_value = serializers.DecimalField(allow_null=True, **AMOUNT)
    current_value = serializers.DecimalField(**AMOUNT)
    progress_percent = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)
    status = serializers.ChoiceField(choices=GoalStatus.choices)
    calculation_source = serializers.ChoiceField(choices=Source.choices)
    parent = serializers.IntegerField(allow_null=True)
    verdict = serializers.ChoiceField(
        choices=list(selectors.Verdict.LABELS.items()),
        allow_null=True,
        help_text=selectors.VERDICT_RULE,
    )
    as_of = serializers.DateTimeField(allow_null=True, help_text=AS_OF_HELP)
    stale = serializers.BooleanField(help_text=STALE_HELP)
    children = serializers.ListField(child=serializers.DictField(), help_text="Nodes like this.")


# What a tree node is read from: the fields above, the owner's name in its parts, its "as of".
TREE_NODE_VALUES = tuple(dict.fromkeys((
    "pk", "title", "owner_type", "metric", "period_kind", "period_start", "period_end",
    "target_value", "current_value", "progress_percent", "status", "calculation_source",
    "parent_id", "team__name", "rep__user__first_name", "rep__user__last_name",
    "rep__user__username", "zone", *selectors.AS_OF_VALUES,
)))  # fmt: skip


def tree_node(
    row: dict, children: dict[int, list[dict]], *, now: dt.datetime | None = None
) -> dict:
    """GoalNodeSerializer's shape, built by hand from a `.values(*TREE_NODE_VALUES)` row: a tree
    holds thousands of goals, and a serializer per node would take seconds where this takes tens
    of milliseconds (bench/, goals_hierarchy). test_api checks the two agree."""
    if row["owner_type"] == OwnerType.INDIVIDUAL:
        full = f"{row['rep__user__first_name']} {row['rep__user__last_name']}".strip()
        owner = full or row["rep__user__username"]
    else:
        owner = row["team__name"] if row["owner_type"] == OwnerType.TEAM else "Company"
    return {
        "id": row["pk"],
        "title": row["title"],
        "owner_type": row["owner_type"],
        "owner_name": owner,
        "metric": row["metric"],
        "period_kind": row["period_kind"],
        "period_start": row["period_start"].isoformat(),
        "period_end": row["period_end"].isoformat(),
        "target_value": _amount(row["target_value"]),
        "current_value": _amount(row["current_value"]),
        "progress_percent": _amount(row["progress_percent"]),
        "status": row["status"],
        "calculation_source": row["calculation_source"],
        "parent": row["parent_id"],
        "verdict": selectors.verdict_of(
            metric=row["metric"],
            status=row["status"],
            target=row["target_value"],
            percent=row["progress_percent"],
            period=(row["period_start"], row["period_end"]),
            today=_today(now, row["zone"]),
        ),
        **_as_of(selectors.row_as_of(row, now=now)),
        "children": [tree_node(child, children, now=now) for child in children.get(row["pk"], [])],
    }


@functools.lru_cache(maxsize=64)
def _today_in(now: dt.datetime, zone: str) -> dt.date:
    return local_date(now, zone_named(zone))


def _today(now: dt.datetime | None, zone: str) -> dt.date:
    # A tree's thousands of nodes share a handful of zones and one moment.
    return _today_in(now, zone) if now else local_date(timezone.now(), zone_named(zone))


MOMENT = serializers.DateTimeField()


@functools.lru_cache(maxsize=4096)
def _moment_text(moment: dt.datetime, zone: str) -> str:
    # A tree's leaves were mostly counted at the same moment (one recalculation): written once.
    return MOMENT.to_representation(moment)


def _as_of(as_of: selectors.AsOf) -> dict:
    moment = as_of.moment
    zone = timezone.get_current_timezone_name()
    return {
        "as_of": _moment_text(moment, zone) if moment else None,
        "stale": as_of.stale,
    }


def _amount(value) -> str | None:
    # As DecimalField writes it: two decimals, as a string.
    return None if value is None else f"{Decimal(value):.2f}"


class HierarchySerializer(serializers.Serializer):
    ancestors = GoalOutputSerializer(many=True, help_text="Root first.")
    goal = GoalNodeSerializer(help_text="The goal, with its children and theirs.")


class TrendPointSerializer(serializers.Serializer):
    month = serializers.CharField()
    completion_rate = serializers.DecimalField(max_digits=6, decimal_places=2)
    total = serializers.IntegerField()
    completed = serializers.IntegerField()


class MetricBreakdownSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=Metric.choices)
    label = serializers.CharField()
    unit = serializers.CharField(
        help_text='What the metric\'s values and velocities are in: "money", "signups", "deals"…'
    )
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    completion_rate = serializers.DecimalField(max_digits=6, decimal_places=2)
    average_progress = serializers.DecimalField(max_digits=8, decimal_places=2)
    average_velocity = serializers.DecimalField(
        max_digits=None, decimal_places=2, allow_null=True,
        help_text="Average change a day, in the metric's unit, over its goals with two days or "
        "more of history; null without.",
    )  # fmt: skip
    velocity_data_points = serializers.IntegerField(help_text="The goals it is measured on.")
    team_average_velocity = serializers.DecimalField(
        max_digits=None, decimal_places=2, allow_null=True
    )
    company_average_velocity = serializers.DecimalField(
        max_digits=None, decimal_places=2, allow_null=True
    )


class AnalyticsSerializer(serializers.Serializer):
    total_goals = serializers.IntegerField()
    completed_goals = serializers.IntegerField()
    active_goals = serializers.IntegerField()
    cancelled_goals = serializers.IntegerField()
    overall_completion_rate = serializers.DecimalField(
        max_digits=6, decimal_places=2, help_text="Completed goals that reached their target."
    )
    average_progress = serializers.DecimalField(max_digits=8, decimal_places=2)
    velocity_data_points = serializers.IntegerField(
        help_text="Goals with two days or more of history; their velocities are by metric."
    )
    completion_rate_trend = TrendPointSerializer(many=True)
    metric_breakdown = MetricBreakdownSerializer(many=True)
    team_average_completion_rate = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True
    )
    company_average_completion_rate = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True
    )
    has_sufficient_data = serializers.BooleanField()
    days_of_history = serializers.IntegerField()
    attainment = serializers.ChoiceField(
        choices=selectors.Attainment.CHOICES, help_text="What completion was measured against."
    )
    as_of = serializers.DateTimeField(
        help_text="When the figures' values were counted: the oldest count among the "
        "calculated goals they are drawn from (now, when none is still counted)."
    )
    stale = serializers.BooleanField(help_text=STALE_HELP)


class AnalyticsQuerySerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=Metric.choices, required=False)
    owner_type = serializers.ChoiceField(choices=OwnerType.choices, required=False)
    start_date = DateField(required=False)
    attainment = serializers.ChoiceField(
        choices=selectors.Attainment.CHOICES,
        required=False,
        help_text="Completion and progress against the goals' current targets (the default) or "
        "their original ones.",
    )
    team = ScopedPrimaryKeyRelatedField(
        selector=lambda user: crm_selectors.team_list(user=user),
        required=False,
    )

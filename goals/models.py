"""One goal concept for every kind of goal: the company's, a team's, a rep's; a rep's monthly plan
groups that rep's goals for one month (goals.plans).

A goal counts one metric over one period for its owner. Its period is whole days in the owner's
zone (a rep's own, a team's and the company's TIME_ZONE: crm.periods); `starts_at` and `ends_at`
keep that interval in UTC so that set-based recalculation compares timestamps only. Auto goals
take their value from CRM data (goals.calculation); manual ones from a person, with a reason. A
goal with children takes the sum of its children's values and targets (goals.hierarchy).
"""

import datetime as dt
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from crm.models import SalesRep, Team, TimestampedModel


class OwnerType(models.TextChoices):
    COMPANY = "company", "Company"
    TEAM = "team", "Team"
    INDIVIDUAL = "individual", "Individual"


class Metric(models.TextChoices):
    REVENUE = "revenue", "Revenue of won deals"
    DEALS_WON = "deals_won", "Deals won"
    SIGNUPS = "signups", "Signups"
    ACTIVITIES = "activities", "Activities completed"
    TASKS = "tasks", "Tasks completed"
    BONUS_TIER = "bonus_tier", "Bonus tier"
    CUSTOM = "custom", "Custom (set by hand)"


class PeriodKind(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"
    CUSTOM = "custom", "Custom dates"


class GoalStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Source(models.TextChoices):
    AUTO = "auto", "Calculated"
    MANUAL = "manual", "Set by hand"


# Bonus tiers go from 0 (none) to this.
MAX_TIER = 6

# The largest value or target a goal holds (numeric(14, 2)).
MAX_VALUE = Decimal("999999999999.99")

# Progress past this is shown as this: a stored percent must fit its column.
MAX_PERCENT = Decimal("9999.99")
PERCENT_FIELD = models.DecimalField(max_digits=8, decimal_places=2)


class ProgressPercent(models.Func):
    """current / target * 100, to two decimals, capped at MAX_PERCENT; 0 without a target.

    Exact numeric arithmetic on PostgreSQL. SQLite stores whole amounts as integers, and
    Django's NUMERIC casts there would make 10 / 3 an integer division: it divides in floating
    point instead (its stored decimals are floating point anyway).
    """

    output_field = PERCENT_FIELD
    template = (
        "CASE WHEN {target} IS NULL OR {target} = 0 THEN 0 "
        "ELSE {least}(ROUND({value} * 100 / {target}, 2), {cap}) END"
    )

    def __init__(self) -> None:
        super().__init__(F("current_value"), F("target_value"))

    def _render(self, compiler, connection, *, value_cast: str, least: str):
        value, value_params = compiler.compile(self.source_expressions[0])
        target, target_params = compiler.compile(self.source_expressions[1])
        sql = self.template.format(
            value=value_cast.format(value), target=target, least=least, cap=MAX_PERCENT
        )
        return sql, (*target_params, *target_params, *value_params, *target_params)

    def as_sql(self, compiler, connection, **extra):
        return self._render(compiler, connection, value_cast="{}", least="LEAST")

    def as_sqlite(self, compiler, connection, **extra):
        return self._render(compiler, connection, value_cast="CAST({} AS REAL)", least="MIN")


class GoalQuerySet(models.QuerySet):
    """The filters goals are read by, named once."""

    def active(self) -> "GoalQuerySet":
        return self.filter(status=GoalStatus.ACTIVE)

    def ended(self, at: dt.datetime) -> "GoalQuerySet":
        """Those whose period is over at `at` (its end is exclusive)."""
        return self.filter(ends_at__lte=at)

    def calculated(self) -> "GoalQuerySet":
        """Those whose value the CRM counts (not set by hand)."""
        return self.filter(calculation_source=Source.AUTO)


class Goal(TimestampedModel):
    objects = GoalQuerySet.as_manager()

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner_type = models.CharField(max_length=20, choices=OwnerType.choices)
    # No index of their own on team, rep and plan: goal_team_bounds, goal_rep_bounds and
    # goal_one_per_plan_metric begin with them (every index slows the roll-over's 30,000 goals).
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="goals", db_index=False
    )
    rep = models.ForeignKey(
        SalesRep,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="goals",
        db_index=False,
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    period_kind = models.CharField("period", max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    # The zone the period's days are in, and the period as UTC bounds [starts_at, ends_at).
    zone = models.CharField(max_length=64)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # Blank until someone sets it (a rep's monthly plan before its deadline).
    target_value = models.DecimalField(
        "target", max_digits=14, decimal_places=2, null=True, blank=True
    )
    # The target as it stood when the period started (or when the goal was made, or first
    # given a target, if later); its revisions since are GoalTargetRevision rows.
    original_target = models.DecimalField(
        "original target", max_digits=14, decimal_places=2, null=True, blank=True
    )
    current_value = models.DecimalField("value", max_digits=14, decimal_places=2, default=0)
    progress_percent = models.GeneratedField(
        expression=ProgressPercent(), output_field=PERCENT_FIELD, db_persist=True
    )
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.ACTIVE)
    closed_at = models.DateTimeField(null=True, blank=True)
    calculation_source = models.CharField(
        "value source", max_length=10, choices=Source.choices, default=Source.AUTO
    )
    # When the value was last counted, summed from the goals below, or set by hand.
    last_calculated_at = models.DateTimeField("value as of", null=True, blank=True)
    # What the analytics' velocity reads, kept by the daily snapshot (goals.services.history)
    # so that they never read the snapshots: the first snapshot's day and value, the last
    # snapshot's day, and the average change a day between the first and the last (None until
    # there are snapshots on two days).
    first_snapshot_date = models.DateField(null=True, blank=True, editable=False)
    first_snapshot_value = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, editable=False
    )
    last_snapshot_date = models.DateField(null=True, blank=True, editable=False)
    daily_change = models.DecimalField(
        "change a day", max_digits=18, decimal_places=4, null=True, blank=True, editable=False
    )
    calculation_failed = models.BooleanField(default=False)
    calculation_error = models.TextField(blank=True)
    manual_override_reason = models.TextField("why set by hand", blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
        verbose_name="parent goal",
    )
    # The rep's plan for a month (or a year) this goal is one of the targets of.
    plan = models.ForeignKey(
        "RepPlan",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="goals",
        db_index=False,
    )

    class Meta:
        ordering = ["-period_start", "owner_type", "title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner_type__in=OwnerType.values),
                name="goal_owner_type_valid",
                violation_error_message="Choose company, team or individual.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(owner_type=OwnerType.COMPANY, team__isnull=True, rep__isnull=True)
                    | Q(owner_type=OwnerType.TEAM, team__isnull=False, rep__isnull=True)
                    | Q(owner_type=OwnerType.INDIVIDUAL, team__isnull=True, rep__isnull=False)
                ),
                name="goal_owner_matches_type",
                violation_error_message=(
                    "A company goal has no owner; a team goal has a team; an individual goal "
                    "has a rep."
                ),
            ),
            models.CheckConstraint(
                condition=Q(metric__in=Metric.values),
                name="goal_metric_valid",
                violation_error_message="Choose a known metric.",
            ),
            models.CheckConstraint(
                condition=Q(period_kind__in=PeriodKind.values),
                name="goal_period_kind_valid",
                violation_error_message="Choose month, quarter, year or custom dates.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=GoalStatus.values),
                name="goal_status_valid",
                violation_error_message="Choose active, completed or cancelled.",
            ),
            models.CheckConstraint(
                condition=Q(calculation_source__in=Source.values),
                name="goal_source_valid",
                violation_error_message="Choose calculated or set by hand.",
            ),
            models.CheckConstraint(
                condition=Q(target_value__isnull=True) | Q(target_value__gte=0),
                name="goal_target_not_negative",
                violation_error_message="A target cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(original_target__isnull=True) | Q(original_target__gte=0),
                name="goal_original_target_not_negative",
                violation_error_message="A target cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(current_value__gte=0),
                name="goal_value_not_negative",
                violation_error_message="A goal's value cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="goal_period_ends_after_start",
                violation_error_message="The period ends on or after the day it starts.",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="goal_bounds_ordered",
                violation_error_message="The period ends after it starts.",
            ),
            models.CheckConstraint(
                condition=~Q(metric=Metric.CUSTOM) | Q(calculation_source=Source.MANUAL),
                name="goal_custom_metric_is_manual",
                violation_error_message="A custom goal is set by hand.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=GoalStatus.ACTIVE, closed_at__isnull=True)
                    | (~Q(status=GoalStatus.ACTIVE) & Q(closed_at__isnull=False))
                ),
                name="goal_closed_at_matches_status",
                violation_error_message="A closed goal has a closing date; an active one none.",
            ),
            models.CheckConstraint(
                condition=~Q(parent=F("id")),
                name="goal_not_its_own_parent",
                violation_error_message="A goal cannot be its own parent.",
            ),
            models.CheckConstraint(
                condition=~Q(metric=Metric.BONUS_TIER)
                | (
                    Q(owner_type=OwnerType.INDIVIDUAL, current_value__lte=MAX_TIER)
                    & (Q(target_value__isnull=True) | Q(target_value__lte=MAX_TIER))
                ),
                name="goal_bonus_tier_in_range",
                violation_error_message=f"A bonus tier is a rep's, from 0 to {MAX_TIER}.",
            ),
            models.UniqueConstraint(
                fields=["plan", "metric"],
                condition=Q(plan__isnull=False),
                name="goal_one_per_plan_metric",
                violation_error_message="This plan already has a goal of that metric.",
            ),
        ]
        indexes = [
            # The event path: a rep's (or a team's) active goals around a moment.
            models.Index(fields=["rep", "starts_at", "ends_at"], name="goal_rep_bounds"),
            models.Index(fields=["team", "starts_at", "ends_at"], name="goal_team_bounds"),
            # The fallback job: active auto goals.
            models.Index(
                fields=["status", "calculation_source"],
                name="goal_active_auto",
                condition=Q(status=GoalStatus.ACTIVE),
            ),
            models.Index(fields=["owner_type", "period_start"], name="goal_owner_period"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_active(self) -> bool:
        return self.status == GoalStatus.ACTIVE

    @property
    def is_auto(self) -> bool:
        return self.calculation_source == Source.AUTO

    @property
    def value_as_of(self) -> dt.datetime:
        """When the value shown was counted, summed from the goals below or set by hand (a goal
        never counted since: when it last changed)."""
        return self.last_calculated_at or self.updated_at

    @property
    def original_percent(self) -> Decimal | None:
        """Progress against the original target, as `progress_percent` is against the current
        one (capped alike); None without an original target."""
        if self.original_target is None:
            return None
        if self.original_target == 0:
            return Decimal(0)
        percent = (self.current_value * 100 / self.original_target).quantize(Decimal("0.01"))
        return min(percent, MAX_PERCENT)

    @property
    def target_revised(self) -> bool:
        return self.original_target is not None and self.original_target != self.target_value

    @property
    def owner_name(self) -> str:
        if self.owner_type == OwnerType.INDIVIDUAL:
            return str(self.rep)
        if self.owner_type == OwnerType.TEAM:
            return str(self.team)
        return "Company"


class GoalTargetRevision(models.Model):
    """A change of a goal's target: from what, to what, by whom (a person, or a job by name),
    when, and why. Once the goal's period has started a change needs its reason (a job's says
    what it did)."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="revisions")
    old_target = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    new_target = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    system_actor = models.CharField(max_length=100, blank=True)
    changed_at = models.DateTimeField()
    # Whether the goal's period had started: then the original target stays as it was.
    after_start = models.BooleanField()

    class Meta:
        ordering = ["goal", "changed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(after_start=False) | ~Q(reason=""),
                name="goal_revision_reason_after_start",
                violation_error_message="A target changed after its period started needs a reason.",
            ),
            models.CheckConstraint(
                condition=Q(changed_by__isnull=True) | Q(system_actor=""),
                name="goal_revision_one_actor",
                violation_error_message="A revision names a person or a job, not both.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.goal_id}: {self.old_target} → {self.new_target}"

    @property
    def changed_by_name(self) -> str:
        if self.system_actor:
            return self.system_actor
        return self.changed_by.get_username() if self.changed_by_id else "—"


class GoalSnapshot(models.Model):
    """A goal as it stood on one day (the daily job writes one per active goal and day)."""

    goal = models.ForeignKey(  # indexed by goal_snapshot_one_per_day
        Goal, on_delete=models.CASCADE, related_name="snapshots", db_index=False
    )
    date = models.DateField()
    value = models.DecimalField(max_digits=14, decimal_places=2)
    target = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    percent = models.DecimalField(max_digits=8, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["goal", "date"]
        constraints = [
            models.UniqueConstraint(fields=["goal", "date"], name="goal_snapshot_one_per_day"),
        ]
        indexes = [models.Index(fields=["date"], name="goal_snapshot_date")]

    def __str__(self) -> str:
        return f"{self.goal_id} @ {self.date}: {self.value}"


class AlertKind(models.TextChoices):
    OFF_TRACK = "off_track", "Off track"


class GoalAlert(models.Model):
    """A notice that a goal went off track: raised once, cleared when it recovers, and raised
    again only if it falls back."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices, default=AlertKind.OFF_TRACK)
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    emailed_to = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "kind"],
                condition=Q(cleared_at__isnull=True),
                name="goal_alert_one_open_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.goal_id}"


class GoalCheck(models.Model):
    """One run of the consistency check: every automatic goal's stored value compared with a
    fresh recalculation (goals.services.consistency), what it found and what it repaired."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    # Who ran it: the nightly job or a person's command.
    checked_by = models.CharField(max_length=100)
    goals_checked = models.PositiveIntegerField()
    differences = models.PositiveIntegerField()
    # The largest difference (fresh less stored, in absolute value); none without differences.
    largest = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # The goals that differed, as {"id": …, "stored": …, "fresh": …}, the largest first (at
    # most CHECK_LISTED of them).
    found = models.JSONField(default=list, blank=True)
    repaired = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"
        constraints = [
            models.CheckConstraint(
                condition=Q(differences__lte=F("goals_checked")),
                name="goal_check_differences_among_checked",
            ),
            models.CheckConstraint(
                condition=Q(repaired__lte=F("differences")),
                name="goal_check_repaired_among_differences",
            ),
            models.CheckConstraint(
                condition=Q(differences=0, largest__isnull=True)
                | Q(differences__gt=0, largest__gt=0),
                name="goal_check_largest_matches_differences",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__gte=F("started_at")),
                name="goal_check_finished_after_start",
            ),
        ]

    def __str__(self) -> str:
        plural = "" if self.differences == 1 else "s"
        return f"{self.differences:,} difference{plural} in {self.goals_checked:,} goals"


# --- Rep plans (goals.plans) ---------------------------------------------------------------------


class BonusTier(models.Model):
    """Revenue in a month from which a rep reaches a bonus tier (admins edit the thresholds)."""

    tier = models.PositiveSmallIntegerField(unique=True)
    min_revenue = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["tier"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tier__gte=1, tier__lte=MAX_TIER),
                name="bonus_tier_in_range",
                violation_error_message=f"Tiers go from 1 to {MAX_TIER}.",
            ),
            models.CheckConstraint(
                condition=Q(min_revenue__gte=0),
                name="bonus_tier_revenue_not_negative",
                violation_error_message="A threshold cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"Tier {self.tier}: from {self.min_revenue}"


class RepPlan(TimestampedModel):
    """A rep's commitment for a month (signups, revenue, bonus tier, set by a deadline) or for a
    year (revenue, signups; `month` blank). The targets and actuals are its goals' (`goals`)."""

    rep = models.ForeignKey(SalesRep, on_delete=models.PROTECT, related_name="plans")
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField(null=True, blank=True)
    # A month's plan is due by this moment (the rep's zone); a year's has no deadline.
    deadline = models.DateTimeField(null=True, blank=True)
    goal_set_at = models.DateTimeField(null=True, blank=True)
    goal_set_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    set_by_deadline = models.GeneratedField(
        expression=models.Case(
            models.When(goal_set_at__lte=F("deadline"), then=models.Value(True)),
            default=models.Value(False),
        ),
        output_field=models.BooleanField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-year", "-month", "rep"]
        constraints = [
            models.CheckConstraint(
                condition=Q(month__isnull=True) | Q(month__gte=1, month__lte=12),
                name="plan_month_valid",
                violation_error_message="Months go from 1 to 12.",
            ),
            models.CheckConstraint(
                condition=Q(year__gte=1970, year__lte=2099),
                name="plan_year_in_range",
                violation_error_message="Enter a year between 1970 and 2099.",
            ),
            models.CheckConstraint(
                condition=Q(month__isnull=True, deadline__isnull=True)
                | Q(month__isnull=False, deadline__isnull=False),
                name="plan_deadline_for_months",
                violation_error_message="A month's plan has a deadline; a year's has none.",
            ),
            models.UniqueConstraint(
                fields=["rep", "year", "month"],
                condition=Q(month__isnull=False),
                name="plan_one_per_rep_month",
                violation_error_message="This rep already has a plan for that month.",
            ),
            models.UniqueConstraint(
                fields=["rep", "year"],
                condition=Q(month__isnull=True),
                name="plan_one_per_rep_year",
                violation_error_message="This rep already has goals for that year.",
            ),
        ]
        indexes = [models.Index(fields=["year", "month"], name="plan_period")]

    def __str__(self) -> str:
        return f"{self.rep}: {self.label}"

    @property
    def label(self) -> str:
        if self.month is None:
            return str(self.year)
        return dt.date(self.year, self.month, 1).strftime("%B %Y")

    @property
    def is_set(self) -> bool:
        return self.goal_set_at is not None


class Pace(models.TextChoices):
    AHEAD = "ahead", "Ahead"
    ON_TRACK = "on_track", "On track"
    BEHIND = "behind", "Behind"
    CRITICAL = "critical", "Critical"


class PlanSnapshot(models.Model):
    """A month's plan as it stood: daily (one per plan and day) or taken by hand (ad hoc)."""

    plan = models.ForeignKey(RepPlan, on_delete=models.CASCADE, related_name="snapshots")
    date = models.DateField()
    daily = models.BooleanField(default=True)
    signups = models.DecimalField(max_digits=14, decimal_places=2)
    signup_goal = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    signup_percent = PERCENT_FIELD.clone()
    revenue = models.DecimalField(max_digits=14, decimal_places=2)
    revenue_goal = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    revenue_percent = PERCENT_FIELD.clone()
    bonus_tier = models.PositiveSmallIntegerField()
    bonus_tier_goal = models.PositiveSmallIntegerField(null=True)
    days_remaining = models.PositiveSmallIntegerField()
    on_pace = models.BooleanField()
    pace = models.CharField(max_length=10, choices=Pace.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "date"],
                condition=Q(daily=True),
                name="plan_snapshot_one_daily_per_day",
            ),
            models.CheckConstraint(
                condition=Q(pace__in=["", *Pace.values]),
                name="plan_snapshot_pace_valid",
            ),
        ]
        indexes = [models.Index(fields=["date"], name="plan_snapshot_date")]

    def __str__(self) -> str:
        return f"{self.plan_id} @ {self.date}"


class AchievementKind(models.TextChoices):
    MONTHLY_SIGNUPS = "monthly_signups", "Monthly signup goal reached"
    MONTHLY_REVENUE = "monthly_revenue", "Monthly revenue goal reached"
    MONTHLY_BONUS_TIER = "monthly_bonus_tier", "Monthly bonus tier reached"
    YEARLY_REVENUE = "yearly_revenue", "Yearly revenue goal reached"
    STREAK_3 = "streak_3", "Goals set on time 3 months running"
    STREAK_6 = "streak_6", "Goals set on time 6 months running"
    STREAK_12 = "streak_12", "Goals set on time 12 months running"


class Achievement(models.Model):
    """Something a rep reached, recorded once: for a plan's month (or year), or a streak ending
    with that month's plan."""

    plan = models.ForeignKey(  # indexed by achievement_once_per_plan
        RepPlan, on_delete=models.CASCADE, related_name="achievements", db_index=False
    )
    kind = models.CharField(max_length=30, choices=AchievementKind.choices)
    achieved_at = models.DateTimeField()

    class Meta:
        ordering = ["-achieved_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "kind"], name="achievement_once_per_plan"),
            models.CheckConstraint(
                condition=Q(kind__in=AchievementKind.values), name="achievement_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class ReminderKind(models.TextChoices):
    THREE_DAYS = "three_days", "Due in 3 days"
    ONE_DAY = "one_day", "Due tomorrow"
    OVERDUE = "overdue", "Overdue"


class PlanReminder(models.Model):
    """A reminder that a month's plan is not set: each kind once per plan."""

    plan = models.ForeignKey(  # indexed by reminder_once_per_plan_kind
        RepPlan, on_delete=models.CASCADE, related_name="reminders", db_index=False
    )
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    sent_at = models.DateTimeField()
    emailed_to = models.CharField(max_length=254, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "kind"], name="reminder_once_per_plan_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=ReminderKind.values), name="reminder_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.plan_id}"

    @property
    def status(self) -> str:
        return "acknowledged" if self.acknowledged_at else "sent"

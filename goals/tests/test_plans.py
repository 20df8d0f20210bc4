"""Rep plans: plans made for every active rep, targets set by a deadline, actuals from the goals
engine, pace, achievements, defaults, permissions."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from crm.models import AuditEntry, DealStage, SalesRep
from crm.roles import SystemActor
from crm.tests.factories import CustomerFactory, DealFactory, SalesRepFactory, TeamFactory
from goals import services as goal_services
from goals.models import (
    Achievement,
    AchievementKind,
    BonusTier,
    Goal,
    Metric,
    Pace,
    PlanReminder,
    PlanSnapshot,
    ReminderKind,
    RepPlan,
)
from goals.plans import selectors, services
from goals.plans.selectors import DeadlineStatus

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

JOB = SystemActor("test:plans")
UTC = dt.UTC
# Mid-month, well after the deadline day, in every zone.
MID_JUNE = dt.datetime(2031, 6, 16, 12, tzinfo=UTC)


def plan_of(rep, year=2031, month=6):
    return selectors.plan_list(user=JOB, year=year, month=month, rep_id=rep.pk).get()


@time_machine.travel(MID_JUNE, tick=False)
def test_the_seed_scenario_signup_goal_20_with_10_signed_up_is_50_percent(rep):
    services.plans_create(year=2031, month=6)
    services.plan_set(actor=rep.user, signup_goal=20, revenue_goal=Decimal(1000), bonus_tier_goal=2)
    goal = Goal.objects.get(plan__rep=rep, metric=Metric.SIGNUPS)
    goal_services.goal_adjust(
        actor=JOB, goal_id=goal.pk, value=Decimal(10), justification="Ten signed up this month"
    )

    plan = plan_of(rep)
    assert plan.signup_goal == 20 and plan.signups == 10
    assert plan.signup_percent == Decimal("50.00")
    zero = services.plan_set(
        actor=rep.user, signup_goal=0, revenue_goal=Decimal(1000), bonus_tier_goal=2,
        reason="Nobody signs up in June.",
    )  # fmt: skip
    assert plan_of(zero.rep).signup_percent == 0


@time_machine.travel(MID_JUNE, tick=False)
def test_plans_are_made_for_every_active_rep_once_with_their_goals(rep, other_rep, assert_queries):
    gone = SalesRepFactory(active=False)
    # The zones, the plans, the late hires, the goals: four, whatever the reps and zones.
    with assert_queries(4):
        created = services.plans_create(year=2031, month=6)
    again = services.plans_create(year=2031, month=6)
    yearly = services.plans_create(year=2031)

    assert created == 2 and again == 0 and yearly == 2
    assert not RepPlan.objects.filter(rep=gone).exists()
    plan = RepPlan.objects.get(rep=rep, year=2031, month=6)
    assert sorted(plan.goals.values_list("metric", flat=True)) == [
        "bonus_tier", "revenue", "signups",
    ]  # fmt: skip
    assert plan.goals.filter(target_value__isnull=True).count() == 3
    year_plan = RepPlan.objects.get(rep=rep, year=2031, month__isnull=True)
    assert sorted(year_plan.goals.values_list("metric", flat=True)) == ["revenue", "signups"]


def test_the_deadline_is_the_fifth_at_23_59_59_in_the_reps_zone():
    rep = SalesRepFactory(timezone="Pacific/Kiritimati")
    services.plans_create(year=2031, month=2)
    plan = RepPlan.objects.get(rep=rep, month=2)
    zone = zoneinfo.ZoneInfo("Pacific/Kiritimati")
    assert plan.deadline.astimezone(zone).replace(microsecond=0) == dt.datetime(
        2031, 2, 5, 23, 59, 59, tzinfo=zone
    )
    goal = plan.goals.get(metric=Metric.REVENUE)
    assert goal.starts_at == dt.datetime(2031, 2, 1, tzinfo=zone)
    assert goal.ends_at == dt.datetime(2031, 3, 1, tzinfo=zone)


@pytest.mark.parametrize(
    ("moment", "on_time"),
    [
        (dt.datetime(2031, 6, 5, 23, 59, 58, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")), True),
        (dt.datetime(2031, 6, 6, 0, 0, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")), False),
        # The 5th, 23:59:59 in UTC is already the 6th in Tokyo: late there.
        (dt.datetime(2031, 6, 5, 23, 59, 59, tzinfo=UTC), False),
        # 30 April in UTC is 1 May in Tokyo: the May plan, early.
        (dt.datetime(2031, 4, 30, 20, 0, tzinfo=UTC), True),
    ],
)
def test_set_on_time_is_judged_in_the_reps_zone(moment, on_time):
    rep = SalesRepFactory(timezone="Asia/Tokyo")
    with time_machine.travel(moment, tick=False):
        plan = services.plan_set(
            actor=rep.user, signup_goal=5, revenue_goal=Decimal(500), bonus_tier_goal=1
        )
    local = moment.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert (plan.year, plan.month) == (local.year, local.month)
    assert plan.set_by_deadline is on_time


@time_machine.travel(MID_JUNE, tick=False)
def test_changing_targets_after_setting_them_is_audited_and_keeps_the_first_setting(rep):
    first = services.plan_set(
        actor=rep.user, signup_goal=10, revenue_goal=Decimal(1000), bonus_tier_goal=1
    )
    set_at = first.goal_set_at
    services.plan_set(
        actor=rep.user, signup_goal=12, revenue_goal=Decimal(1000), bonus_tier_goal=1,
        reason="Two more shops opened.",
    )  # fmt: skip

    plan = RepPlan.objects.get(pk=first.pk)
    assert plan.goal_set_at == set_at and plan.set_by_deadline is False  # mid-June: late
    signups = plan.goals.get(metric=Metric.SIGNUPS)
    entries = AuditEntry.objects.filter(target_id=str(signups.pk), action="goal.update")
    assert [entry.changes["target_value"] for entry in entries.order_by("id")] == [
        [None, "10.00"], ["10.00", "12.00"],
    ]  # fmt: skip
    assert all(entry.actor == rep.user for entry in entries)


@time_machine.travel(MID_JUNE, tick=False)
@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ({"signup_goal": -1}, "signup_goal"),
        ({"signup_goal": 100_001}, "signup_goal"),
        ({"revenue_goal": Decimal("-0.01")}, "revenue_goal"),
        ({"revenue_goal": Decimal("1e15")}, "revenue_goal"),
        ({"bonus_tier_goal": 10}, "bonus_tier_goal"),
        ({"bonus_tier_goal": -1}, "bonus_tier_goal"),
    ],
)
def test_targets_out_of_range_are_refused_and_nothing_changes(rep, targets, field):
    values = {"signup_goal": 5, "revenue_goal": Decimal(100), "bonus_tier_goal": 1} | targets
    with pytest.raises(ValidationError) as refused:
        services.plan_set(actor=rep.user, **values)
    assert field in refused.value.message_dict
    assert not RepPlan.objects.filter(goal_set_at__isnull=False).exists()


def test_the_database_refuses_month_13_a_tier_of_10_and_a_second_plan():
    rep = SalesRepFactory()
    services.plans_create(year=2031, month=6)
    plan = RepPlan.objects.get(rep=rep)
    with pytest.raises(IntegrityError), transaction.atomic():
        RepPlan.objects.create(rep=rep, year=2031, month=13, deadline=plan.deadline)
    with pytest.raises(IntegrityError), transaction.atomic():
        RepPlan.objects.create(rep=rep, year=2031, month=6, deadline=plan.deadline)
    with pytest.raises(IntegrityError), transaction.atomic():
        plan.goals.filter(metric=Metric.BONUS_TIER).update(target_value=10)


@time_machine.travel(MID_JUNE, tick=False)
def test_who_sets_whose_plan(rep, other_rep, supervisor, admin_user):
    values = {"signup_goal": 5, "revenue_goal": Decimal(100), "bonus_tier_goal": 1}
    with pytest.raises(Http404):
        services.plan_set(actor=rep.user, rep_id=other_rep.pk, **values)
    with pytest.raises(Http404):
        services.plan_set(actor=supervisor, rep_id=other_rep.pk, **values)
    with pytest.raises(ValidationError):  # a rep sets this month's only
        services.plan_set(actor=rep.user, year=2031, month=5, **values)

    by_supervisor = services.plan_set(actor=supervisor, rep_id=rep.pk, month=5, **values)
    by_admin = services.plan_set(actor=admin_user, rep_id=other_rep.pk, **values)
    assert by_supervisor.month == 5 and by_supervisor.goal_set_by == supervisor
    assert by_admin.rep == other_rep


@time_machine.travel(MID_JUNE, tick=False)
def test_revenue_and_bonus_tier_follow_won_deals(
    rep, eager_celery, django_capture_on_commit_callbacks
):
    BonusTier.objects.filter(tier=1).update(min_revenue=500)
    BonusTier.objects.filter(tier=2).update(min_revenue=1500)
    services.plan_set(actor=rep.user, signup_goal=1, revenue_goal=Decimal(1000), bonus_tier_goal=2)
    DealFactory(rep=rep, stage=DealStage.CLOSED_WON, amount=Decimal(700), closed_at=MID_JUNE)
    goal_services.goals_recalculate(goals=Goal.objects.all(), actor=JOB)

    plan = plan_of(rep)
    assert plan.revenue == Decimal(700) and plan.revenue_percent == Decimal("70.00")
    assert plan.bonus_tier == 1 and plan.bonus_tier_percent == Decimal("50.00")


@time_machine.travel(MID_JUNE, tick=False)
def test_reaching_a_target_is_an_achievement_recorded_once(rep, django_capture_on_commit_callbacks):
    services.plan_set(actor=rep.user, signup_goal=1, revenue_goal=Decimal(100), bonus_tier_goal=0)
    goal = Goal.objects.get(plan__rep=rep, plan__month=6, metric=Metric.REVENUE)
    with django_capture_on_commit_callbacks(execute=True):
        goal_services.goal_adjust(
            actor=JOB, goal_id=goal.pk, value=Decimal(150), justification="Counted by hand today"
        )
    with django_capture_on_commit_callbacks(execute=True):
        goal_services.goal_adjust(
            actor=JOB, goal_id=goal.pk, value=Decimal(160), justification="Counted by hand again"
        )
    assert list(Achievement.objects.values_list("kind", flat=True)) == [
        AchievementKind.MONTHLY_REVENUE
    ]


def test_months_set_on_time_in_a_row_make_streaks_of_3_6_and_12():
    rep = SalesRepFactory(timezone="UTC")
    values = {"signup_goal": 1, "revenue_goal": Decimal(1), "bonus_tier_goal": 0}
    for index in range(13):
        year, month = 2030 + (index // 12), index % 12 + 1
        with time_machine.travel(dt.datetime(year, month, 2, tzinfo=UTC), tick=False):
            services.plan_set(actor=rep.user, **values)
    streaks = Achievement.objects.filter(kind__startswith="streak").order_by(
        "plan__year", "plan__month"
    )
    assert [(a.kind, a.plan.year, a.plan.month) for a in streaks] == [
        (AchievementKind.STREAK_3, 2030, 3),
        (AchievementKind.STREAK_6, 2030, 6),
        (AchievementKind.STREAK_12, 2030, 12),
    ]


@time_machine.travel(MID_JUNE, tick=False)
def test_defaults_fill_only_plans_not_set_and_only_admins_give_them(rep, supervisor, admin_user):
    neighbour = SalesRepFactory(team=rep.team)
    services.plan_set(actor=rep.user, signup_goal=3, revenue_goal=Decimal(300), bonus_tier_goal=1)
    defaults = {
        "team_id": rep.team_id, "year": 2031, "month": 6, "signup_goal": 20,
        "revenue_goal": Decimal(50000), "bonus_tier_goal": 3,
    }  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.plans_set_defaults(actor=supervisor, **defaults)

    given = services.plans_set_defaults(actor=admin_user, **defaults)

    assert given == 1
    mine, theirs = plan_of(rep), plan_of(neighbour)
    assert (mine.signup_goal, mine.revenue_goal) == (3, 300)
    assert (theirs.signup_goal, theirs.revenue_goal, theirs.bonus_tier_goal) == (20, 50000, 3)
    assert theirs.deadline_status == selectors.DeadlineStatus.OVERDUE  # defaults are not setting


@pytest.mark.parametrize(
    ("day", "revenue", "signups", "pace"),
    [
        (1, 0, 0, Pace.ON_TRACK),  # nothing expected before the first day is over
        (13, 50, 50, Pace.AHEAD),  # 40 % of June's days over, 50 % done
        (13, 40, 36, Pace.ON_TRACK),  # the average: 38 / 40 = 0.95
        (13, 150, 0, Pace.AHEAD),  # 150 % counts as 100: (100 + 0) / 2 = 50
        (13, 30, 30, Pace.BEHIND),  # 30 / 40 = 0.75
        (13, 20, 20, Pace.CRITICAL),  # 20 / 40 = 0.5
        (31, 100, 100, Pace.ON_TRACK),  # July: June is over, 100 % expected
    ],
)
def test_pace_against_the_share_of_the_month_over(day, revenue, signups, pace):
    rep = SalesRepFactory(timezone="UTC")
    with time_machine.travel(dt.datetime(2031, 6, 1, 8, tzinfo=UTC), tick=False):
        services.plan_set(
            actor=rep.user, signup_goal=100, revenue_goal=Decimal(100), bonus_tier_goal=0
        )
    for metric, value in ((Metric.REVENUE, revenue), (Metric.SIGNUPS, signups)):
        Goal.objects.filter(plan__rep=rep, metric=metric).update(current_value=value)
    moment = dt.datetime(2031, 6, 1, 12, tzinfo=UTC) + dt.timedelta(days=day - 1)

    plan = selectors.plan_list(user=JOB, year=2031, month=6, now=moment).get()

    assert plan.pace == pace
    assert plan.on_pace is (pace in (Pace.AHEAD, Pace.ON_TRACK))
    # The same rule in Python (the demo's history) gives the same pace.
    assert pace == selectors.pace_for(
        signup_percent=plan.signup_percent,
        revenue_percent=plan.revenue_percent,
        expected=plan.expected_percent,
    )


def test_a_plan_without_targets_has_no_pace_and_its_deadline_status_moves():
    SalesRepFactory(timezone="UTC")
    services.plans_create(year=2031, month=6)
    statuses = {
        day: selectors.plan_list(
            user=JOB, year=2031, month=6, now=dt.datetime(2031, 6, day, 12, tzinfo=UTC)
        ).get()
        for day in (1, 3, 6)
    }
    assert {plan.pace for plan in statuses.values()} == {""}
    assert [statuses[day].deadline_status for day in (1, 3, 6)] == [
        "pending", "due_soon", "overdue",
    ]  # fmt: skip


def test_plans_are_scoped_by_role(rep, other_rep, supervisor, admin_user):
    services.plans_create(year=2031, month=6)
    mine = {p.rep_id for p in selectors.plan_list(user=rep.user, year=2031, month=6)}
    team = {p.rep_id for p in selectors.plan_list(user=supervisor, year=2031, month=6)}
    every = {p.rep_id for p in selectors.plan_list(user=admin_user, year=2031, month=6)}
    assert mine == {rep.pk} and team == {rep.pk} and every == {rep.pk, other_rep.pk}


def test_a_team_for_defaults_must_exist(admin_user):
    with pytest.raises(ValidationError):
        services.plans_set_defaults(
            actor=admin_user, team_id=TeamFactory().pk + 1000, year=2031, month=6,
            signup_goal=1, revenue_goal=Decimal(1), bonus_tier_goal=1,
        )  # fmt: skip


def test_the_hourly_job_makes_the_month_current_in_each_reps_zone():
    # 31 May, 20:00 UTC: already June in Tokyo, still May in Madrid.
    tokyo = SalesRepFactory(timezone="Asia/Tokyo")
    madrid, madrid_too = (
        SalesRepFactory(timezone="Europe/Madrid"),
        SalesRepFactory(timezone="Europe/Madrid"),
    )
    moment = dt.datetime(2031, 5, 31, 20, tzinfo=UTC)

    created = services.plans_create_current(now=moment)

    months = set(RepPlan.objects.filter(month__isnull=False).values_list("rep_id", "month"))
    assert months == {(tokyo.pk, 6), (madrid.pk, 5), (madrid_too.pk, 5)}
    assert created == 6  # three months' plans and three years'
    assert services.plans_create_current(now=moment) == 0


def test_a_rep_added_or_reactivated_in_admin_gets_this_months_plan_at_once(
    admin_client, team, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import User

    user = User.objects.create(username="newrep")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/crm/salesrep/add/",
            {"user": user.pk, "team": team.pk, "employee_code": "N001", "active": "on",
             "hire_date": "2031-06-10", "timezone": "UTC"},
        )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    rep = SalesRep.objects.get(user=user)
    assert RepPlan.objects.filter(rep=rep, month__isnull=False).count() == 1
    assert RepPlan.objects.filter(rep=rep, month__isnull=True).count() == 1


@time_machine.travel(MID_JUNE, tick=False)
def test_a_rep_cannot_set_their_own_plans_figures_by_hand_but_their_supervisor_can(rep, supervisor):
    services.plan_set(actor=rep.user, signup_goal=1, revenue_goal=Decimal(100), bonus_tier_goal=1)
    goal = Goal.objects.get(plan__rep=rep, plan__month=6, metric=Metric.REVENUE)
    reason = "Deal recorded in the old system"

    with pytest.raises(ValidationError) as refused:
        goal_services.goal_adjust(
            actor=rep.user, goal_id=goal.pk, value=Decimal(100), justification=reason
        )
    corrected = goal_services.goal_adjust(
        actor=supervisor, goal_id=goal.pk, value=Decimal(100), justification=reason
    )

    assert refused.value.message_dict["value"] == [goal_services.PLAN_VALUE_COUNTED]
    assert corrected.current_value == 100


def test_reminders_go_3_days_and_1_day_before_and_when_overdue_each_once(
    eager_celery, django_capture_on_commit_callbacks, mailoutbox
):
    rep = SalesRepFactory(timezone="UTC")
    rep.user.email = "rep@example.com"
    rep.user.save()
    late = SalesRepFactory(timezone="UTC")
    services.plans_create(year=2031, month=6)

    def run(moment: dt.datetime) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return services.send_reminders(now=moment)

    sent = {
        "1 June": run(dt.datetime(2031, 6, 1, 9, tzinfo=UTC)),
        "3 June": run(dt.datetime(2031, 6, 3, 9, tzinfo=UTC)),
        "3 June again": run(dt.datetime(2031, 6, 3, 10, tzinfo=UTC)),
        "5 June": run(dt.datetime(2031, 6, 5, 9, tzinfo=UTC)),
    }
    with time_machine.travel(dt.datetime(2031, 6, 6, 9, tzinfo=UTC), tick=False):
        services.plan_set(  # late, but set: no more reminders for them
            actor=late.user, signup_goal=1, revenue_goal=Decimal(1), bonus_tier_goal=0
        )
    sent["7 June"] = run(dt.datetime(2031, 6, 7, 9, tzinfo=UTC))
    sent["8 June"] = run(dt.datetime(2031, 6, 8, 9, tzinfo=UTC))

    assert sent == {
        "1 June": 0, "3 June": 2, "3 June again": 0, "5 June": 2, "7 June": 1, "8 June": 0,
    }  # fmt: skip
    kinds = sorted(PlanReminder.objects.filter(plan__rep=rep).values_list("kind", flat=True))
    assert kinds == ["one_day", "overdue", "three_days"]
    assert [message.to for message in mailoutbox] == [["rep@example.com"]] * 3
    assert "/goals/reminders/" in mailoutbox[0].body


def test_the_reminders_chase_exactly_the_plans_whose_status_says_overdue():
    """One rule says when a plan's month is over (selectors.period_over): the plans the status
    calls overdue get the overdue reminder; a month over, "Not set", none."""
    reps = [SalesRepFactory(timezone="UTC") for _ in range(3)]
    services.plans_create(year=2031, month=5)
    services.plans_create(year=2031, month=6)
    # A June plan that has lost its revenue goal is still a June plan not set.
    Goal.objects.filter(plan__rep=reps[2], plan__month=6, metric=Metric.REVENUE).delete()
    now = dt.datetime(2031, 6, 10, 9, tzinfo=UTC)

    services.send_reminders(now=now, email=False)

    statuses = dict(selectors.plan_list(user=JOB, now=now).values_list("pk", "deadline_status"))
    reminded = set(PlanReminder.objects.values_list("plan_id", "kind"))
    overdue = {pk for pk, status in statuses.items() if status == DeadlineStatus.OVERDUE}
    assert {status for pk, status in statuses.items() if pk not in overdue} == {
        DeadlineStatus.NEVER_SET  # May's
    }
    assert len(overdue) == 3
    assert reminded == {(pk, ReminderKind.OVERDUE) for pk in overdue}


def test_reps_who_missed_the_last_two_deadlines_are_listed_with_their_year():
    twice, once = SalesRepFactory(timezone="UTC"), SalesRepFactory(timezone="UTC")
    values = {"signup_goal": 1, "revenue_goal": Decimal(1), "bonus_tier_goal": 0}
    for month, day_twice, day_once in ((3, 9, 2), (4, 9, 9), (5, 20, 3)):
        for rep, day in ((twice, day_twice), (once, day_once)):
            with time_machine.travel(dt.datetime(2031, month, day, tzinfo=UTC), tick=False):
                services.plan_set(actor=rep.user, **values)

    # 3 June: June's deadline is still ahead, so April's and May's are the last two.
    listed = list(selectors.repeated_misses(user=JOB, now=dt.datetime(2031, 6, 3, tzinfo=UTC)))
    assert [(rep.pk, rep.missed_in_year) for rep in listed] == [(twice.pk, 3)]


def test_the_command_makes_a_months_plans_or_a_years_goals_and_refuses_a_bad_month():
    from io import StringIO

    from django.core.management import CommandError, call_command

    SalesRepFactory(), SalesRepFactory(timezone="Asia/Tokyo")
    out, err = StringIO(), StringIO()
    call_command("create_period_goals", "--month", "2031-07", stdout=out, stderr=err)
    call_command("create_period_goals", "--year", "2031", stdout=out, stderr=err)
    again = StringIO()
    call_command("create_period_goals", "--month", "2031-07", stdout=again, stderr=err)

    assert RepPlan.objects.filter(year=2031, month=7).count() == 2
    assert RepPlan.objects.filter(year=2031, month__isnull=True).count() == 2
    assert "2031-07: 2 plan(s) created" in out.getvalue()
    assert "2031-07: 0 plan(s) created" in again.getvalue()
    for bad in (["--month", "2031-13"], ["--month", "July"], ["--year", "9999"]):
        with pytest.raises(CommandError):
            call_command("create_period_goals", *bad, stdout=out, stderr=err)


# --- Daily and ad-hoc snapshots, the year, late hires, compliance ---------------------------------


def _set(rep, when, **targets):
    values = {"signup_goal": 4, "revenue_goal": Decimal(1000), "bonus_tier_goal": 0} | targets
    with time_machine.travel(when, tick=False):
        return services.plan_set(actor=rep.user, **values)


def test_the_daily_job_snapshots_the_day_that_ended_once_per_plan():
    from goals.jobs import goals_day_end

    here, tokyo = SalesRepFactory(timezone="UTC"), SalesRepFactory(timezone="Asia/Tokyo")
    for rep in (here, tokyo):
        _set(rep, dt.datetime(2031, 6, 2, tzinfo=UTC))
    services.plans_create(year=2031, month=7)  # Tokyo's July has begun by the job's hour
    DealFactory(rep=here, stage=DealStage.CLOSED_WON, amount=Decimal(500),
                closed_at=dt.datetime(2031, 6, 30, 20, tzinfo=UTC))  # fmt: skip
    night = dt.datetime(2031, 7, 1, 0, 5, tzinfo=UTC)

    with time_machine.travel(night, tick=False):
        goals_day_end(lambda done, total: None)
        goals_day_end(lambda done, total: None)  # a re-run that night writes nothing

    shots = {s.plan.rep_id: s for s in PlanSnapshot.objects.select_related("plan")}
    assert PlanSnapshot.objects.count() == 2  # June's two plans; not Tokyo's July
    assert {s.date for s in shots.values()} == {dt.date(2031, 6, 30)}
    assert {s.plan.month for s in shots.values()} == {6}
    mine = shots[here.pk]
    # Counted one last time before the snapshot: the deal of the evening is in it.
    assert (mine.revenue, mine.revenue_percent, mine.days_remaining) == (500, 50, 0)
    assert (mine.pace, mine.on_pace) == (Pace.CRITICAL, False)  # 50 % with all of June over


def test_the_ad_hoc_snapshot_command_takes_the_plans_of_the_reps_named():
    from io import StringIO

    from django.core.management import CommandError, call_command

    first, second = SalesRepFactory(), SalesRepFactory()
    services.plans_create_current()
    out = StringIO()
    call_command("snapshot_plans", "--rep", first.employee_code, stdout=out)
    call_command("snapshot_plans", stdout=out)

    assert PlanSnapshot.objects.filter(plan__rep=first, daily=False).count() == 2
    assert PlanSnapshot.objects.filter(plan__rep=second, daily=False).count() == 1
    assert "1 ad-hoc snapshot(s) taken." in out.getvalue()
    with pytest.raises(CommandError, match="NOPE"):
        call_command("snapshot_plans", "--rep", "NOPE", stdout=out)


@time_machine.travel(MID_JUNE, tick=False)
def test_the_years_actuals_are_the_sum_of_its_months_and_reaching_it_is_recorded_once(rep):
    customer = CustomerFactory(owner=rep)
    for month, amount in ((2, 300), (5, 450), (6, 250)):
        closed_at = dt.datetime(2031, month, 10, tzinfo=UTC)
        DealFactory(rep=rep, customer=customer, stage=DealStage.CLOSED_WON,
                    amount=Decimal(amount), closed_at=closed_at)  # fmt: skip
        services.plans_create(year=2031, month=month)
    services.plan_set_year(actor=rep.user, revenue_goal=Decimal(1000), signup_goal=0)
    goal_services.goals_recalculate(goals=Goal.objects.all(), actor=JOB)
    services.record_achievements()
    services.record_achievements()

    months = selectors.plan_list(user=JOB, rep_id=rep.pk)
    year = selectors.plan_list(user=JOB, rep_id=rep.pk, yearly=True).get()
    assert year.revenue == sum(plan.revenue for plan in months) == 1000
    assert year.revenue_percent == 100
    kinds = Achievement.objects.filter(plan=year).values_list("kind", flat=True)
    assert list(kinds) == [AchievementKind.YEARLY_REVENUE]


def test_a_years_pace_is_against_the_share_of_the_year_over(rep):
    with time_machine.travel(dt.datetime(2031, 1, 2, tzinfo=UTC), tick=False):
        services.plan_set_year(actor=rep.user, revenue_goal=Decimal(1000), signup_goal=0)
    Goal.objects.filter(plan__month__isnull=True, metric=Metric.REVENUE).update(current_value=300)

    def pace_on(day: dt.date) -> str:
        moment = dt.datetime.combine(day, dt.time(12), tzinfo=UTC)
        return selectors.plan_list(user=JOB, yearly=True, now=moment).get().pace

    # 30 % of the year's revenue: ahead in March, behind by the end of June, critical in
    # October (a month's pace would call all of them "ahead", its month being long over).
    assert pace_on(dt.date(2031, 3, 1)) == Pace.AHEAD
    assert pace_on(dt.date(2031, 7, 1)) == Pace.BEHIND
    assert pace_on(dt.date(2031, 10, 1)) == Pace.CRITICAL


def test_a_rep_who_joins_after_the_deadline_day_has_days_of_their_own():
    early = SalesRepFactory(timezone="UTC", hire_date=dt.date(2031, 6, 2))
    late = SalesRepFactory(timezone="UTC", hire_date=dt.date(2031, 6, 20))
    last_week = SalesRepFactory(timezone="UTC", hire_date=dt.date(2031, 6, 28))

    services.plans_create(year=2031, month=6)
    services.plans_create(year=2031, month=6)  # again: nothing moves

    deadlines = {
        plan.rep_id: plan.deadline.astimezone(UTC).date()
        for plan in RepPlan.objects.filter(month=6)
    }
    assert deadlines == {
        early.pk: dt.date(2031, 6, 5), late.pk: dt.date(2031, 6, 24),
        last_week.pk: dt.date(2031, 6, 30),
    }  # fmt: skip
    moment = dt.datetime(2031, 6, 22, 12, tzinfo=UTC)
    plans = selectors.compliance(user=JOB, now=moment, month=dt.date(2031, 6, 1))
    status = {plan.rep_id: plan.deadline_status for plan in plans}
    assert status[late.pk] == selectors.DeadlineStatus.DUE_SOON
    assert status[early.pk] == selectors.DeadlineStatus.OVERDUE


def test_compliance_leaves_out_reps_who_left_and_filters_and_sorts():
    team, other_team = TeamFactory(), TeamFactory()
    ahead = SalesRepFactory(team=team, timezone="UTC")
    behind = SalesRepFactory(team=team, timezone="UTC")
    unset = SalesRepFactory(team=other_team, timezone="UTC")
    gone = SalesRepFactory(team=team, timezone="UTC")
    services.plans_create(year=2031, month=6)
    _set(ahead, dt.datetime(2031, 6, 2, tzinfo=UTC), signup_goal=0)  # revenue alone counts
    _set(behind, dt.datetime(2031, 6, 9, tzinfo=UTC), signup_goal=0)
    Goal.objects.filter(plan__rep=ahead, metric=Metric.REVENUE).update(current_value=900)
    Goal.objects.filter(plan__rep=behind, metric=Metric.REVENUE).update(current_value=100)
    SalesRep.objects.filter(pk=gone.pk).update(active=False)
    june, moment = dt.date(2031, 6, 1), dt.datetime(2031, 6, 16, tzinfo=UTC)

    def reps(**filters) -> list[int]:
        rows = selectors.compliance(user=JOB, month=june, now=moment, **filters)
        return [plan.rep_id for plan in rows]

    assert set(reps()) == {ahead.pk, behind.pk, unset.pk}
    assert set(reps(team=team.pk)) == {ahead.pk, behind.pk}
    assert reps(pace=Pace.AHEAD) == [ahead.pk]
    assert reps(deadline="not_set") == [unset.pk]
    assert reps(deadline=selectors.DeadlineStatus.LATE) == [behind.pk]
    # Most revenue first, a plan without targets last; the most urgent deadline first.
    assert reps(order="revenue") == [ahead.pk, behind.pk, unset.pk]
    assert reps(order="pace") == [behind.pk, ahead.pk, unset.pk]
    assert reps(order="deadline") == [unset.pk, behind.pk, ahead.pk]


def test_the_compliance_trend_gives_each_months_rate_of_plans_set_on_time():
    first, second = SalesRepFactory(timezone="UTC"), SalesRepFactory(timezone="UTC")
    gone = SalesRepFactory(timezone="UTC")
    for month in (4, 5):
        services.plans_create(year=2031, month=month)
        _set(first, dt.datetime(2031, month, 2, tzinfo=UTC))
    _set(second, dt.datetime(2031, 5, 3, tzinfo=UTC))
    services.plans_create(year=2031, month=6)
    SalesRep.objects.filter(pk=gone.pk).update(active=False)

    trend = selectors.compliance_trend(user=JOB, now=dt.datetime(2031, 6, 3, tzinfo=UTC))

    assert len(trend) == 12 and trend[-1]["month"] == dt.date(2031, 6, 1)
    by_month = {row["month"]: (row["on_time"], row["total"], row["rate"]) for row in trend}
    assert by_month[dt.date(2031, 4, 1)] == (1, 2, 50)
    assert by_month[dt.date(2031, 5, 1)] == (2, 2, 100)
    assert by_month[dt.date(2031, 6, 1)] == (0, 0, None)  # June's deadline is still ahead
    assert by_month[dt.date(2030, 7, 1)] == (0, 0, None)

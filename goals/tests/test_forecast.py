"""A goal's forecast says one thing: one verdict (goals.selectors.verdict) read by the forecast,
the list, the off-track notice and the daily alerts; one velocity behind the pace and the
projection; a history that ends at the value shown. And its rates read as people say them
(goals.rates)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.models import CustomerStatus
from crm.roles import SystemActor
from crm.tests.factories import CustomerFactory, SalesRepFactory
from goals import rates, selectors, services
from goals.models import Goal, GoalAlert, GoalSnapshot, GoalStatus
from goals.plans import services as plans
from goals.tests.factories import SETUP, make_goal

UTC = dt.UTC
DEC_6 = dt.datetime(2026, 12, 6, 12, tzinfo=UTC)
JOB = SystemActor("job:test")


def _snapshots(goal: Goal, values: dict[int, int]) -> None:
    GoalSnapshot.objects.bulk_create(
        GoalSnapshot(goal=goal, date=dt.date(2026, 12, day), value=value, percent=0)
        for day, value in values.items()
    )
    services.goals_history_resync(goal_ids=[goal.pk])


@pytest.fixture
def one_of_three(db):
    """A rep's signups goal on 6 December: 1 of 3, snapshots on some days only, and an
    off-track alert raised on the 3rd (before the signup) still open."""
    with time_machine.travel(DEC_6):
        rep = SalesRepFactory(timezone="UTC")
        goal = make_goal(owner=rep, metric="signups", target=3, start=dt.date(2026, 12, 1))
        CustomerFactory(
            owner=rep,
            status=CustomerStatus.ACTIVE,
            signed_up_at=dt.datetime(2026, 12, 5, 9, tzinfo=UTC),
        )
        services.goals_recalculate(goals=Goal.objects.filter(pk=goal.pk), actor=JOB)
        _snapshots(goal, {1: 0, 2: 0, 5: 1, 6: 0})  # the 6th's is older than the value now
        GoalAlert.objects.create(goal=goal, raised_at=dt.datetime(2026, 12, 3, 0, 5, tzinfo=UTC))
        goal.refresh_from_db()
    return goal


@pytest.mark.django_db
def test_the_history_ends_at_the_value_now_and_skips_the_days_not_recorded(one_of_three):
    points = selectors.history_points(one_of_three, today=dt.date(2026, 12, 6))

    assert [(point.date, point.value) for point in points] == [
        (dt.date(2026, 12, 1), Decimal(0)),
        (dt.date(2026, 12, 2), Decimal(0)),
        (dt.date(2026, 12, 5), Decimal(1)),
        (dt.date(2026, 12, 6), Decimal(1)),  # the value now, not the snapshot's 0
    ]


@pytest.mark.django_db
def test_the_pace_and_the_projection_use_one_velocity(one_of_three):
    result = selectors.forecast(one_of_three, now=DEC_6)

    assert result.velocity == Decimal("0.20")  # from 0 on the 1st to 1 now, over 5 days
    assert result.days_left == 25
    assert result.projected_value == Decimal("6.00")  # 1 + 0.2 a day for 25 days
    assert result.projected_text == "6 signups"
    assert result.pace_text == "about 1 signup a week"
    assert result.needed_text == "2 more signups by the 31st"


@pytest.mark.django_db
def test_one_verdict_for_the_forecast_the_list_and_the_alerts(one_of_three):
    with time_machine.travel(DEC_6):
        judged = selectors.verdict(one_of_three, today=dt.date(2026, 12, 6))
        result = selectors.forecast(one_of_three)
        raised, cleared = services.goals_update_alerts(email=False)

    assert judged == result.verdict == selectors.Verdict.ON_TRACK  # 33 % done, 19 % expected
    assert (raised, cleared) == (0, 1)  # the alert of the 3rd is cleared by the same verdict


@pytest.mark.django_db
def test_a_goal_without_snapshots_draws_its_value_not_zero(db):
    with time_machine.travel(DEC_6):
        goal = make_goal(owner=None, metric="custom", source="manual", target=10)
        services.goal_adjust(
            actor=JOB, goal_id=goal.pk, value=Decimal(4), justification="Counted at the fair"
        )
        goal.refresh_from_db()
        points = selectors.history_points(goal, today=dt.date(2026, 12, 6))
        result = selectors.forecast(goal, history=points)

    assert [(point.date, point.value) for point in points] == [(dt.date(2026, 12, 6), Decimal(4))]
    assert result.velocity == Decimal("0.67")  # 4 over the 6 days so far
    assert not result.has_sufficient_data


@pytest.mark.django_db
def test_a_closed_goal_and_a_bonus_tier_have_no_verdict(rep):
    closed = make_goal(owner=rep)
    services.goal_set_status(actor=JOB, goal_id=closed.pk, status=GoalStatus.COMPLETED)
    closed.refresh_from_db()
    tier = make_goal(owner=rep, metric="bonus_tier", target=2)
    today = selectors.goal_today(tier)

    assert selectors.verdict(closed, today=today) is None
    assert selectors.verdict(tier, today=today) is None
    assert selectors.forecast(closed).verdict is None


# --- Pages ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_goal_page_says_one_verdict_and_hides_an_alert_it_no_longer_means(client, one_of_three):
    client.force_login(one_of_three.rep.user)
    with time_machine.travel(DEC_6):
        page = client.get(reverse("goals:goal-detail", args=[one_of_three.pk]))
        listing = client.get(reverse("goals:goal-list"))
        poll = client.get(reverse("goals:progress", args=[one_of_three.pk]))

    content = page.content.decode()
    assert "Off track" not in content
    assert "On track" in content
    assert page.context["alert"] is None
    assert page.context["chart"].summary.endswith("to 1.00 on 6 Dec")
    assert "Pace</dt><dd>about 1 signup a week" in content
    assert "6 signups by 31 Dec" in content
    assert "On track" in listing.content.decode()
    # The page's poll brings the chart too, in its place.
    assert (
        'id="goal-history" aria-labelledby="history-heading" hx-swap-oob="true"'
        in poll.content.decode()
    )


@pytest.mark.django_db
def test_an_off_track_goal_shows_its_alert_with_the_verdict(client, one_of_three):
    client.force_login(one_of_three.rep.user)
    Goal.objects.filter(pk=one_of_three.pk).update(current_value=0)
    with time_machine.travel(DEC_6):
        page = client.get(reverse("goals:goal-detail", args=[one_of_three.pk]))

    content = page.content.decode()
    assert "Off track since 3 Dec: 0% done with 19.35% of the period gone." in content
    assert 'class="badge verdict-off_track">Off track' in content


# --- Properties -----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    value=st.integers(min_value=0, max_value=10_000),
    target=st.integers(min_value=0, max_value=10_000),
    day=st.integers(min_value=1, max_value=40),
)
def test_the_projection_follows_the_pace_and_the_verdict_is_the_one_everyone_reads(
    values, value, target, day
):
    goal = Goal(
        metric="signups", status=GoalStatus.ACTIVE, zone="UTC", period_kind="month",
        period_start=dt.date(2026, 12, 1), period_end=dt.date(2026, 12, 31),
        current_value=Decimal(value), target_value=Decimal(target),
    )  # fmt: skip
    goal.progress_percent = (
        (Decimal(value) * 100 / target).quantize(Decimal("0.01")) if target else Decimal(0)
    )
    today = dt.date(2026, 11, 30) + dt.timedelta(days=day)
    last = min(today, goal.period_end)
    history = [
        (dt.date(2026, 12, 1) + dt.timedelta(days=index), Decimal(v))
        for index, v in enumerate(values)
        if dt.date(2026, 12, 1) + dt.timedelta(days=index) < last
    ] + [(last, goal.current_value)]

    result = selectors.forecast(
        goal, now=dt.datetime.combine(today, dt.time(12), tzinfo=UTC), history=history
    )

    expected = goal.current_value + result.velocity * result.days_left
    assert abs(result.projected_value - max(expected, Decimal(0))) <= Decimal("0.01") * (
        result.days_left + 1
    )
    assert result.verdict == selectors.verdict(goal, today=today)
    if target and value >= target:
        assert result.needed_text == ""


# --- Words ----------------------------------------------------------------------------------------

DAY_31 = dt.date(2026, 12, 31)
DAY_6 = dt.date(2026, 12, 6)


@pytest.mark.parametrize(
    ("metric", "remaining", "today", "text"),
    [
        ("signups", "1", DAY_6, "1 more signup by the 31st"),
        ("signups", "2", DAY_6, "2 more signups by the 31st"),
        ("signups", "10", DAY_6, "about 3 signups a week"),  # 10 in 26 days
        ("signups", "40", DAY_6, "about 2 signups a day"),
        ("deals_won", "3", dt.date(2026, 12, 27), "3 more deals by the 31st"),  # in 5 days
        ("deals_won", "10", dt.date(2026, 12, 27), "2 deals a day"),
        ("revenue", "4500", dt.date(2026, 12, 7), "180 a day"),  # 25 days, today included
        ("revenue", "1000.50", dt.date(2026, 12, 29), "333.50 a day"),
        # The last day: money and things alike say what today needs.
        ("activities", "18", DAY_31, "18 more activities today"),
        ("revenue", "2800", DAY_31, "2,800 today"),
        ("signups", "0", DAY_6, ""),
        ("bonus_tier", "2", DAY_6, ""),
        ("revenue", "100", dt.date(2027, 1, 1), ""),  # the period is over
    ],
)
def test_what_is_still_needed_reads_as_people_say_it(metric, remaining, today, text):
    needed = rates.needed(
        metric, target=Decimal(remaining), actual=Decimal(0), today=today, last_day=DAY_31
    )
    assert needed == text


def test_nothing_is_needed_without_a_target_or_once_it_is_reached():
    for target, actual in ((None, Decimal(0)), (Decimal(5), Decimal(5)), (Decimal(5), Decimal(9))):
        assert (
            rates.needed("signups", target=target, actual=actual, today=DAY_6, last_day=DAY_31)
            == ""
        )


def test_a_need_past_this_month_names_the_day():
    assert (
        rates.needed(
            "signups", target=Decimal(3), actual=Decimal(0), today=DAY_6,
            last_day=dt.date(2027, 3, 31),
        )
        == "3 more signups by 31 Mar 2027"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("metric", "per_day", "text"),
    [
        ("signups", "0.15", "about 1 signup a week"),
        ("signups", "0.1", "3 signups a month"),
        ("deals_won", "0.07", "about 2 deals a month"),
        ("signups", "0.01", "less than 1 signup a month"),
        ("signups", "0", "no new signups"),
        ("deals_won", "3.4", "about 3 deals a day"),
        ("deals_won", "2", "2 deals a day"),
        ("signups", "-0.3", "down about 2 signups a week"),
        ("revenue", "236.63", "236.63 a day"),
        ("custom", "1.5", "1.50 a day"),
    ],
)
def test_a_pace_reads_as_people_say_it(metric, per_day, text):
    assert rates.pace(metric, Decimal(per_day)) == text


# --- Analytics: velocity per metric ----------------------------------------------------------


@pytest.mark.django_db
def test_analytics_give_velocity_per_metric_in_its_unit_never_averaged_together(
    admin_client, rep, admin_user
):
    revenue = make_goal(owner=rep, target=10_000, start=dt.date(2026, 12, 1))
    signups = make_goal(owner=rep, metric="signups", target=10, start=dt.date(2026, 12, 1))
    team_signups = make_goal(
        owner=rep.team, metric="signups", target=30, start=dt.date(2026, 12, 1)
    )
    _snapshots(revenue, {1: 0, 5: 2000})  # 500 a day
    _snapshots(signups, {1: 0, 5: 2})  # half a signup a day
    _snapshots(team_signups, {1: 0, 3: 2})  # one a day

    figures = selectors.analytics(user=admin_user)
    page = admin_client.get(reverse("goals:analytics")).content.decode()
    csv = b"".join(admin_client.get(reverse("goals:analytics-export")).streaming_content).decode()
    api = admin_client.get("/api/goals/analytics/").json()

    by_metric = {row["metric"]: row for row in figures["metric_breakdown"]}
    assert "average_velocity" not in figures and figures["velocity_data_points"] == 3
    assert by_metric["revenue"]["unit"] == "money"
    assert by_metric["revenue"]["average_velocity"] == Decimal("500.00")
    assert by_metric["signups"]["unit"] == "signups"
    assert by_metric["signups"]["average_velocity"] == Decimal("0.75")
    assert by_metric["signups"]["team_average_velocity"] == Decimal("1.00")
    assert by_metric["signups"]["company_average_velocity"] is None
    assert "500 a day" in page and "about 5 signups a week" in page
    assert "by metric,signups,0.00,2,0,0.00,signups,0.75,2,1.00," in csv
    assert "by metric,revenue,0.00,1,0,0.00,money,500.00,1,," in csv
    assert {row["metric"]: row["average_velocity"] for row in api["metric_breakdown"]} == {
        "revenue": "500.00", "signups": "0.75",
    }  # fmt: skip


@pytest.mark.django_db
def test_one_verdict_on_the_goal_the_tree_the_plan_and_the_alerts(rep, rep_api):
    """The forecast's verdict is the only one: the goal in the API, its node in the tree, its
    bar on the plan (the card reads the same `figure_verdicts`) and the daily alert."""
    with time_machine.travel(dt.datetime(2031, 6, 20, 12, tzinfo=dt.UTC), tick=False):
        plans.plans_create(year=2031, month=6, rep_ids=[rep.pk])
        plans.plan_set(actor=rep.user, signup_goal=10, revenue_goal=1000, bonus_tier_goal=1)
        signups = Goal.objects.get(plan__rep=rep, metric="signups")
        services.goal_adjust(
            actor=SETUP, goal_id=signups.pk, value=1, justification="One signed up by phone."
        )
        goal = rep_api.get(f"/api/goals/{signups.pk}/").json()
        node = rep_api.get(f"/api/goals/{signups.pk}/hierarchy/").json()["goal"]
        plan = rep_api.get("/api/goals/monthly/current").json()["results"][0]
        services.goals_update_alerts(now=dt.datetime(2031, 6, 20, 12, tzinfo=dt.UTC))

    assert goal["verdict"] == selectors.Verdict.OFF_TRACK  # 10 % with two thirds gone
    assert node["verdict"] == plan["verdicts"]["signups"] == goal["verdict"]
    assert GoalAlert.objects.filter(goal=signups, cleared_at__isnull=True).exists()

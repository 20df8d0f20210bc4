"""The plan pages through HTTP: a rep's dashboard and its form with the bad input, managers
setting a rep's plan, the compliance dashboard with its filters, CSV and defaults, reminders,
the card's live refresh, scope and query counts."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from crm.models import AuditEntry, CustomerStatus, DealStage, Team
from crm.roles import SystemActor
from crm.testing import HTMX, signed_in, statements
from crm.tests.factories import CustomerFactory, DealFactory, SalesRepFactory, TeamFactory
from goals import selectors as goal_selectors
from goals import services as services_goals
from goals.models import Goal, Metric, PlanReminder, RepPlan
from goals.plans import services
from goals.plans.forms import team_options

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite, pytest.mark.usefixtures("early_june")]

UTC = dt.UTC
VALID = {"signup_goal": "20", "revenue_goal": "50000", "bonus_tier_goal": "3"}
JOB = SystemActor("job:test")


def test_the_area_opens_on_the_reps_own_plan_and_the_managers_list(rep_client, supervisor_client):
    assert rep_client.get(reverse("goals:index")).url == reverse("goals:plan")
    assert supervisor_client.get(reverse("goals:index")).url == reverse("goals:goal-list")
    assert supervisor_client.get(reverse("goals:plan")).url == reverse("goals:compliance-list")


def test_a_rep_sets_their_goals_before_the_deadline(rep_client, rep):
    services.plans_create(year=2031, month=6)
    page = rep_client.get(reverse("goals:plan"))
    assert page.status_code == 200
    assert "Set my goals" in page.content.decode()

    response = rep_client.post(reverse("goals:plan-set"), VALID)

    assert response.status_code == 302
    plan = RepPlan.objects.get(rep=rep, year=2031, month=6)
    assert plan.set_by_deadline is True
    assert {g.metric: g.target_value for g in plan.goals.all()} == {
        Metric.SIGNUPS: 20, Metric.REVENUE: 50000, Metric.BONUS_TIER: 3,
    }  # fmt: skip
    again = rep_client.get(reverse("goals:plan")).content.decode()
    assert "on time" in again and "0%" in again


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signup_goal", "20; DROP TABLE rep_monthly_goals;"),
        ("signup_goal", "-1"),
        ("signup_goal", "1e309"),
        ("signup_goal", "1.9"),
        ("revenue_goal", "-5"),
        ("revenue_goal", "1e309"),
        ("bonus_tier_goal", "10"),
        ("bonus_tier_goal", "-1"),
    ],
)
def test_bad_targets_answer_400_with_the_field_and_change_nothing(rep_client, field, value):
    response = rep_client.post(reverse("goals:plan-set"), {**VALID, field: value})

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not RepPlan.objects.filter(goal_set_at__isnull=False).exists()
    assert not Goal.objects.filter(target_value__isnull=False).exists()


def test_a_supervisor_sets_a_reps_plan_and_cannot_reach_another_team(
    supervisor_client, rep, other_rep, supervisor
):
    page = supervisor_client.get(reverse("goals:plan"), {"rep": rep.pk})
    mine = supervisor_client.post(reverse("goals:plan-set"), {**VALID, "rep": rep.pk})
    theirs = supervisor_client.post(reverse("goals:plan-set"), {**VALID, "rep": other_rep.pk})
    odd = supervisor_client.get(reverse("goals:plan"), {"rep": "1.9"})

    assert page.status_code == 200 and f"Goals of {rep}" in page.content.decode()
    assert mine.status_code == 302
    assert RepPlan.objects.get(rep=rep, month=6).goal_set_by == supervisor
    assert theirs.status_code == 404 and odd.status_code == 404
    assert not RepPlan.objects.filter(rep=other_rep, goal_set_at__isnull=False).exists()


def test_a_rep_cannot_open_another_reps_plan_or_the_compliance_page(rep_client, other_rep):
    assert rep_client.get(reverse("goals:plan"), {"rep": other_rep.pk}).status_code == 404
    assert rep_client.get(reverse("goals:compliance-list")).status_code == 403
    assert rep_client.get(reverse("goals:compliance-export")).status_code == 403


def test_the_card_refreshes_only_when_something_moved(rep_client, rep):
    services.plan_set(actor=rep.user, signup_goal=2, revenue_goal=Decimal(100), bonus_tier_goal=1)
    version = rep_client.get(reverse("goals:plan")).context["card_version"]
    url = reverse("goals:plan-card")

    unchanged = rep_client.get(url, {"since": version}, headers=HTMX)
    Goal.objects.filter(plan__rep=rep, metric=Metric.REVENUE).update(current_value=60)
    moved = rep_client.get(url, {"since": version}, headers=HTMX)

    assert unchanged.status_code == 204
    assert moved.status_code == 200 and "60%" in moved.content.decode()


def test_the_compliance_dashboard_filters_sorts_and_exports(supervisor_client, team):
    on_time, late, unset = (SalesRepFactory(team=team, timezone="UTC") for _ in range(3))
    services.plans_create(year=2031, month=6)
    services.plan_set(
        actor=on_time.user, signup_goal=1, revenue_goal=Decimal(10), bonus_tier_goal=0
    )
    with time_machine.travel(dt.datetime(2031, 6, 9, tzinfo=UTC), tick=False):
        services.plan_set(
            actor=late.user, signup_goal=1, revenue_goal=Decimal(10), bonus_tier_goal=0
        )
    url = reverse("goals:compliance-list")

    with time_machine.travel(dt.datetime(2031, 6, 10, tzinfo=UTC), tick=False):
        every = supervisor_client.get(url)
        not_set = supervisor_client.get(url, {"deadline": "not_set"})
        on_time_only = supervisor_client.get(url, {"deadline": "on_time"})
        csv = supervisor_client.get(reverse("goals:compliance-export"), {"deadline": "not_set"})

    def reps(response):
        return {plan.rep_id for plan in response.context["page_obj"]}

    assert every.status_code == 200
    assert reps(every) >= {on_time.pk, late.pk, unset.pk}
    assert unset.pk in reps(not_set) and on_time.pk not in reps(not_set)
    assert reps(on_time_only) == {on_time.pk}
    body = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert unset.employee_code in body and "Overdue" in body
    assert on_time.employee_code not in body  # (codes: names may repeat)


@pytest.mark.parametrize("reps", [2, 14])
def test_the_compliance_page_runs_a_fixed_number_of_queries(
    admin_client, team, reps, assert_queries
):
    for _ in range(reps):
        SalesRepFactory(team=team)
    services.plans_create(year=2031, month=6)

    # session, user, zone; the trend, the filter's and the defaults' teams, the zones (for the
    # pace), count, page, repeated misses: the same for 2 reps or 14, within the 10.
    with assert_queries(10):
        response = admin_client.get(reverse("goals:compliance-list"))

    assert response.status_code == 200
    assert len(response.context["page_obj"]) >= reps


def test_the_compliance_page_reads_the_teams_once_for_its_two_forms(
    admin_client, team, assert_queries
):
    refused = {"team_id": team.pk, "month": "2031-06", **VALID, "bonus_tier_goal": "10"}
    table = connection.ops.quote_name(Team._meta.db_table)

    # No plans yet: the page has no rows, so no repeated misses to read; a refused form shows
    # the page again.
    with assert_queries(9) as page:
        admin_client.get(reverse("goals:compliance-list"))
    with assert_queries(9) as refusal:
        admin_client.post(reverse("goals:plan-defaults"), refused)

    def team_reads(captured) -> int:
        return sum(1 for sql in statements(captured) if f"FROM {table} " in sql + " ")

    assert team_reads(page) == team_reads(refusal) == 1


def test_team_options_are_read_each_time_they_are_asked_for(admin_user):
    first = team_options(admin_user)
    new = TeamFactory()

    assert (new.pk, new.name) not in first and (new.pk, new.name) in team_options(admin_user)


def test_an_admin_gives_defaults_and_a_supervisor_may_not(supervisor_client, admin_client, team):
    set_rep, unset_rep = SalesRepFactory(team=team), SalesRepFactory(team=team)
    services.plan_set(actor=set_rep.user, signup_goal=1, revenue_goal=Decimal(1), bonus_tier_goal=0)
    form = {"team_id": team.pk, "month": "2031-06", **VALID}

    refused = supervisor_client.post(reverse("goals:plan-defaults"), form)
    bad = admin_client.post(reverse("goals:plan-defaults"), {**form, "bonus_tier_goal": "10"})
    given = admin_client.post(reverse("goals:plan-defaults"), form)

    assert refused.status_code == 403
    assert bad.status_code == 400 and bad.context["defaults_form"].errors["bonus_tier_goal"]
    assert given.status_code == 302
    targets = dict(
        Goal.objects.filter(plan__rep=unset_rep, metric=Metric.REVENUE).values_list(
            "plan__rep_id", "target_value"
        )
    )
    assert targets == {unset_rep.pk: 50000}
    assert Goal.objects.get(plan__rep=set_rep, metric=Metric.REVENUE).target_value == 1


def test_a_reminder_is_acknowledged_by_its_rep_only(rep_client, other_rep_client, rep):
    services.plans_create(year=2031, month=6)
    plan = RepPlan.objects.get(rep=rep, month=6)
    reminder = PlanReminder.objects.create(plan=plan, kind="three_days", sent_at=timezone.now())

    ack = reverse("goals:reminder-ack", args=[reminder.pk])
    assert other_rep_client.post(ack).status_code == 404
    shown = rep_client.get(reverse("goals:plan")).content.decode()
    acknowledged = rep_client.post(ack)

    assert "Acknowledge" in shown
    assert acknowledged.status_code == 302
    reminder.refresh_from_db()
    assert reminder.acknowledged_at is not None


def test_the_guide_is_shown(rep_client):
    page = rep_client.get(reverse("goals:guide"))
    assert page.status_code == 200 and "<h1>How goals work</h1>" in page.content.decode()


def test_changing_targets_shows_in_the_goal_audit_trail(rep_client, rep):
    rep_client.post(reverse("goals:plan-set"), VALID)
    rep_client.post(
        reverse("goals:plan-set"),
        {**VALID, "signup_goal": "25", "reason": "One more customer came in."},
    )
    goal = Goal.objects.get(plan__rep=rep, metric=Metric.SIGNUPS)
    changes = AuditEntry.objects.filter(target_type="goals.goal", target_id=str(goal.pk))
    changes = changes.order_by("id")
    assert [entry.changes["target_value"] for entry in changes] == [
        [None, "20.00"], ["20.00", "25.00"],
    ]  # fmt: skip


@pytest.mark.parametrize("odd", ["²", "1e309", "1.9", "-1", "0", "9" * 30])
def test_an_odd_rep_id_is_a_404_never_a_500(supervisor_client, odd):
    assert supervisor_client.get(reverse("goals:plan"), {"rep": odd}).status_code == 404
    assert supervisor_client.get(reverse("goals:plan-card"), {"rep": odd}).status_code == 404
    assert (
        supervisor_client.post(reverse("goals:plan-set"), {**VALID, "rep": odd}).status_code == 404
    )


def test_a_rep_cannot_set_another_reps_plan_through_the_form(rep_client, other_rep):
    response = rep_client.post(reverse("goals:plan-set"), {**VALID, "rep": other_rep.pk})
    assert response.status_code == 404
    assert not RepPlan.objects.filter(rep=other_rep, goal_set_at__isnull=False).exists()


def test_setting_the_same_month_twice_through_the_form_keeps_one_plan(rep_client, rep):
    rep_client.post(reverse("goals:plan-set"), VALID)
    rep_client.post(
        reverse("goals:plan-set"),
        {**VALID, "signup_goal": "22", "reason": "One more customer came in."},
    )
    plans = RepPlan.objects.filter(rep=rep, year=2031, month=6)
    assert plans.count() == 1
    assert Goal.objects.get(plan=plans.get(), metric=Metric.SIGNUPS).target_value == 22


def test_a_supervisor_corrects_another_month_and_month_13_is_refused(
    supervisor_client, rep, supervisor
):
    services.plans_create(year=2031, month=5)
    page = supervisor_client.get(reverse("goals:plan"), {"rep": rep.pk, "month": "2031-05"})
    thirteen = supervisor_client.post(
        reverse("goals:plan-set"), {**VALID, "rep": rep.pk, "month": "2031-13"}
    )
    may = supervisor_client.post(
        reverse("goals:plan-set"), {**VALID, "rep": rep.pk, "month": "2031-05"}
    )

    assert page.status_code == 200 and page.context["month_label"] == "May 2031"
    assert 'value="2031-05"' in page.content.decode()  # the form's month
    assert thirteen.status_code == 400 and "month" in thirteen.context["form"].errors
    assert may.status_code == 302
    plan = RepPlan.objects.get(rep=rep, year=2031, month=5)
    assert plan.goal_set_by == supervisor and not plan.set_by_deadline  # May's was due 5 May
    assert not RepPlan.objects.filter(rep=rep, month=6, goal_set_at__isnull=False).exists()


def test_a_rep_has_no_month_field_and_cannot_choose_another_month(rep_client):
    page = rep_client.get(reverse("goals:plan"), {"month": "2031-05"})
    assert "month" not in page.context["form"].fields
    assert page.context["month_label"] == "June 2031"


def test_the_reps_home_page_is_their_goal_dashboard(rep_client, rep):
    services.plans_create_current()
    plan = RepPlan.objects.get(rep=rep, month=6)
    reminder = PlanReminder.objects.create(plan=plan, kind="three_days", sent_at=timezone.now())

    home = rep_client.get(reverse("home")).content.decode()
    answer = rep_client.post(reverse("goals:plan-set"), {**VALID, "next": reverse("home")})

    for part in ('id="plan-card"', 'id="set-heading"', 'id="year-heading"',
                 'id="chart-heading"', 'id="achievements-heading"',
                 reverse("goals:reminder-ack", args=[reminder.pk])):  # fmt: skip
        assert part in home
    assert answer.status_code == 302 and answer.url == reverse("home")


def test_the_card_shows_the_deadline_turning_overdue_without_a_reload(rep_client):
    services.plans_create(year=2031, month=6)
    url = reverse("goals:plan-card")
    with time_machine.travel(dt.datetime(2031, 6, 5, 23, 0, tzinfo=UTC), tick=False):
        version = rep_client.get(reverse("goals:plan")).context["card_version"]
    with time_machine.travel(dt.datetime(2031, 6, 6, 1, 0, tzinfo=UTC), tick=False):
        moved = rep_client.get(url, {"since": version}, headers=HTMX)

    assert moved.status_code == 200 and "overdue by" in moved.content.decode()


def test_every_goals_page_links_to_the_areas_pages_for_the_role(rep_client, supervisor_client):
    supervisor_nav = supervisor_client.get(reverse("goals:goal-list")).content.decode()
    rep_nav = rep_client.get(reverse("goals:tree")).content.decode()

    assert reverse("goals:compliance-list") in supervisor_nav
    assert reverse("goals:guide") in supervisor_nav
    assert reverse("goals:compliance-list") not in rep_nav
    assert reverse("goals:plan") in rep_nav


# --- Plans that read right ------------------------------------------------------------------------


def test_the_bonus_tier_choice_shows_each_tiers_threshold(rep_client):
    services.plans_create(year=2031, month=6)
    page = rep_client.get(reverse("goals:plan"))

    choices = dict(page.context["form"].fields["bonus_tier_goal"].choices)
    content = page.content.decode()
    assert choices[0] == "None"
    assert choices[3] == "Tier 3 — from 20,000"  # the thresholds a new installation starts with
    assert '<option value="3">Tier 3 — from 20,000</option>' in content


def test_a_past_month_never_set_reads_not_set_and_this_month_past_its_deadline_overdue(
    supervisor_client, team
):
    rep = SalesRepFactory(team=team, timezone="UTC")
    services.plans_create(year=2031, month=5)
    services.plans_create(year=2031, month=6)
    url = reverse("goals:compliance-list")

    with time_machine.travel(dt.datetime(2031, 6, 10, tzinfo=UTC), tick=False):
        june = supervisor_client.get(url)
        may = supervisor_client.get(url, {"month": "2031-05"})
        may_not_set = supervisor_client.get(url, {"month": "2031-05", "deadline": "not_set"})
        plan_page = supervisor_client.get(reverse("goals:plan"), {"rep": rep.pk})
        csv = supervisor_client.get(reverse("goals:compliance-export"), {"month": "2031-05"})

    [june_row] = [plan for plan in june.context["page_obj"] if plan.rep_id == rep.pk]
    [may_row] = [plan for plan in may.context["page_obj"] if plan.rep_id == rep.pk]
    assert june_row.deadline_status == "overdue"
    assert may_row.deadline_status == "never_set"
    assert rep.pk in {plan.rep_id for plan in may_not_set.context["page_obj"]}
    assert '<span class="badge deadline-never_set">Not set</span>' in may.content.decode()
    assert "Overdue" not in may.content.decode().split("<tbody")[1].split("</tbody>")[0]
    history = plan_page.content.decode().split('id="history-heading"')[1]
    assert "Not set" in history and "Overdue" not in history
    assert "Not set" in b"".join(csv.streaming_content).decode("utf-8-sig")


def test_the_card_says_what_is_still_needed_in_words_and_when_it_was_counted(rep_client, rep):
    services.plan_set(actor=rep.user, signup_goal=3, revenue_goal=Decimal(2800), bonus_tier_goal=1)
    services_goals.goals_recalculate(goals=Goal.objects.filter(plan__rep=rep), actor=JOB)

    page = rep_client.get(reverse("goals:plan")).content.decode()
    card = page.split('id="plan-card"')[1].split("</section>")[0]

    # 3 signups in the 28 days left of June (today included): one every nine days or so.
    assert "Still needed: 3 more signups by the 30th" in card
    assert "Still needed: 100 a day" in card  # money stays per day
    assert "a day needed" not in card
    assert "as of 14:00 CEST" in card  # 12:00 UTC, in the rep's own zone (Madrid)


def test_the_card_of_a_past_month_never_set_says_not_set_as_the_compliance_list_does(
    supervisor_client, team
):
    rep = SalesRepFactory(team=team, timezone="UTC")
    services.plans_create(year=2031, month=5)
    services.plans_create(year=2031, month=6)

    with time_machine.travel(dt.datetime(2031, 6, 10, tzinfo=UTC), tick=False):
        may = supervisor_client.get(reverse("goals:plan"), {"rep": rep.pk, "month": "2031-05"})
        june = supervisor_client.get(reverse("goals:plan"), {"rep": rep.pk})

    may_card = may.content.decode().split('id="plan-card"')[1].split("</section>")[0]
    june_card = june.content.decode().split('id="plan-card"')[1].split("</section>")[0]
    assert '<span class="badge deadline-never_set">Not set</span>' in may_card
    assert "overdue" not in may_card.lower()
    assert '<span class="badge deadline-overdue">overdue by 4' in june_card


def test_the_card_never_contradicts_itself_the_overall_pace_and_each_bars_own_verdict():
    rep = SalesRepFactory(timezone="UTC")
    mid_june = dt.datetime(2031, 6, 16, 12, tzinfo=UTC)
    with time_machine.travel(mid_june, tick=False):
        services.plan_set(
            actor=rep.user, signup_goal=2, revenue_goal=Decimal(10000), bonus_tier_goal=1
        )
        for day in (2, 9):
            CustomerFactory(owner=rep, status=CustomerStatus.ACTIVE,
                            signed_up_at=dt.datetime(2031, 6, day, tzinfo=UTC))  # fmt: skip
        DealFactory(rep=rep, amount=Decimal(2000), stage=DealStage.CLOSED_WON,
                    closed_at=dt.datetime(2031, 6, 10, tzinfo=UTC))  # fmt: skip
        services_goals.goals_recalculate(goals=Goal.objects.filter(plan__rep=rep), actor=JOB)
        revenue = Goal.objects.get(plan__rep=rep, plan__month=6, metric=Metric.REVENUE)
        card = _card(signed_in(rep.user)).split("</section>")[0]
        own_verdict = goal_selectors.verdict(revenue, today=dt.date(2031, 6, 16))

    # Signups reached (100 %), revenue at 20 % with half the month over: the plan as a whole is
    # ahead (60 % against 50 %), its revenue alone is off track, and the card says both.
    head, signups, revenue_bar, _ = card.split('class="plan-figure"')
    assert 'Overall pace</span> <span class="badge pace-ahead">Ahead</span>' in head
    assert '<span class="badge verdict-on_track">On track</span>' in signups
    assert own_verdict == "off_track"
    assert '<span class="badge verdict-off_track">Off track</span>' in revenue_bar


def _card(client) -> str:
    return client.get(reverse("goals:plan")).content.decode().split('id="plan-card"')[1]


def _still_needed(client, goal) -> str:
    page = client.get(reverse("goals:goal-detail", args=[goal.pk])).content.decode()
    return page.split("<dt>Still needed</dt>")[1].split("</dd>")[0]


def test_the_card_and_the_goals_page_say_the_same_still_needed(rep_client, rep):
    services.plan_set(actor=rep.user, signup_goal=3, revenue_goal=Decimal(2800), bonus_tier_goal=1)
    revenue = Goal.objects.get(plan__rep=rep, plan__month=6, metric=Metric.REVENUE)

    card, on_its_page = _card(rep_client), _still_needed(rep_client, revenue)

    # 2,800 over the 28 days of June left on the 3rd, today included, in both places.
    assert "Still needed: 100 a day" in card and "28 days left" in card
    assert "100 a day" in on_its_page and "(today and 27 more days)" in on_its_page


def test_on_the_last_day_money_and_counts_both_say_what_today_needs(rep_client, rep):
    services.plan_set(actor=rep.user, signup_goal=3, revenue_goal=Decimal(2800), bonus_tier_goal=1)
    revenue = Goal.objects.get(plan__rep=rep, plan__month=6, metric=Metric.REVENUE)

    with time_machine.travel(dt.datetime(2031, 6, 30, 12, tzinfo=UTC), tick=False):
        rep_client.force_login(rep.user)  # the session of the 3rd has expired
        card, on_its_page = _card(rep_client), _still_needed(rep_client, revenue)

    assert "Still needed: 3 more signups today" in card
    assert "Still needed: 2,800 today" in card
    assert "2,800 today" in on_its_page and "day" not in on_its_page.replace("today", "")


def test_the_month_is_chosen_by_name_from_a_list_that_holds_the_month_shown(supervisor_client, rep):
    services.plans_create(year=2031, month=6)

    compliance = supervisor_client.get(reverse("goals:compliance-list")).content.decode()
    far = supervisor_client.get(reverse("goals:plan"), {"rep": rep.pk, "month": "2027-02"})
    odd = supervisor_client.get(reverse("goals:compliance-list"), {"month": "June"})

    assert 'type="month"' not in compliance
    assert '<select name="month" id="id_month">' in compliance
    month_select = compliance.split('<select name="month" id="id_month">')[1].split("</select>")[0]
    assert '<option value=""' not in month_select  # no blank: a month is always shown
    assert '<option value="2031-06" selected>June 2031</option>' in month_select  # this month
    assert '<option value="2029-06">June 2029</option>' in compliance  # two years back
    # A month further back than the list, as a manager may open it, is there and chosen.
    page = far.content.decode()
    assert '<option value="2027-02" selected>February 2027</option>' in page
    assert odd.status_code == 200  # a month that is not one filters nothing


@pytest.mark.parametrize(
    ("field", "odd"),
    [
        ("month", "0001-01"), ("month", "9999-12"), ("month", "1e309"), ("month", "1.9"),
        ("month", "\x00"), ("month", "2031-6-1"), ("bonus_tier_goal", "1.9"),
        ("bonus_tier_goal", "1e309"), ("bonus_tier_goal", "\x00"), ("bonus_tier_goal", "7"),
    ],
)  # fmt: skip
def test_an_odd_month_or_tier_is_a_field_error_never_a_500(supervisor_client, rep, field, odd):
    services.plans_create(year=2031, month=6)

    posted = supervisor_client.post(reverse("goals:plan-set"), {**VALID, "rep": rep.pk, field: odd})
    filtered = supervisor_client.get(reverse("goals:compliance-list"), {"month": odd})
    shown = supervisor_client.get(reverse("goals:plan"), {"rep": rep.pk, "month": odd})

    assert posted.status_code == 400 and field in posted.context["form"].errors
    assert filtered.status_code == 200  # a filter that is not a month filters nothing
    assert shown.status_code == 200 and shown.context["month_label"] == "June 2031"
    assert not RepPlan.objects.filter(goal_set_at__isnull=False).exists()

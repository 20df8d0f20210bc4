"""Goals in Django admin: edits go through the services' rules and a refusal is a form error,
never a 500; a plan's goals cannot be deleted; every goals page of admin opens, with a fixed
number of queries."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from crm.models import AuditEntry
from crm.tests.factories import SalesRepFactory
from goals import services
from goals.models import Goal, Metric, PlanReminder, RepPlan
from goals.plans import services as plans
from goals.tests.factories import make_goal

pytestmark = pytest.mark.django_db


def test_a_parents_target_edited_in_admin_is_a_form_error(admin_client, rep):
    team_goal = make_goal(owner=rep.team, target=500)
    make_goal(owner=rep, parent=team_goal, target=700)
    url = reverse("admin:goals_goal_change", args=[team_goal.pk])

    response = admin_client.post(
        url, {"title": team_goal.title, "description": "", "target_value": "999"}
    )

    assert response.status_code == 200
    assert "sum of its children" in response.content.decode()
    team_goal.refresh_from_db()
    assert team_goal.target_value == 700  # its child's, as before


def test_a_parent_whose_period_does_not_hold_the_goal_is_a_field_error_in_admin(admin_client, rep):
    month = make_goal(owner=rep.team, start=dt.date(2026, 6, 1), title="June")
    year = make_goal(owner=rep.team, period_kind="year", start=dt.date(2026, 1, 1))
    yearly = make_goal(owner=rep, period_kind="year", start=dt.date(2026, 1, 1), target=700)
    url = reverse("admin:goals_goal_change", args=[yearly.pk])
    form = {"title": yearly.title, "description": "", "target_value": "700"}

    refused = admin_client.post(url, {**form, "parent": month.pk})
    accepted = admin_client.post(url, {**form, "parent": year.pk})

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["parent"] == [services.LINK_PERIOD]
    assert accepted.status_code == 302
    yearly.refresh_from_db()
    assert yearly.parent_id == year.pk
    assert Goal.objects.get(pk=year.pk).target_value == 700  # rolled up, as everywhere
    assert AuditEntry.objects.filter(action="goal.link", target_id=str(yearly.pk)).exists()


def test_a_plans_goal_cannot_be_edited_or_deleted_in_admin(admin_client, rep):
    plans.plan_set(actor=rep.user, signup_goal=5, revenue_goal=Decimal(100), bonus_tier_goal=1)
    goal = Goal.objects.get(plan__rep=rep, metric=Metric.REVENUE)

    edited = admin_client.post(
        reverse("admin:goals_goal_change", args=[goal.pk]),
        {"title": goal.title, "description": "", "target_value": "1"},
    )
    deleted = admin_client.post(reverse("admin:goals_goal_delete", args=[goal.pk]), {"post": "yes"})
    bulk = admin_client.post(
        reverse("admin:goals_goal_changelist"),
        {"action": "delete_selected", "_selected_action": [goal.pk], "post": "yes"},
    )

    assert edited.status_code == 200 and "its target is set on the plan" in edited.content.decode()
    assert deleted.status_code == 403
    assert bulk.status_code == 403
    assert Goal.objects.filter(pk=goal.pk, target_value=100).exists()


@pytest.mark.parametrize(
    ("name", "queries"),
    [("goal", 10), ("goalsnapshot", 8), ("goalalert", 8), ("repplan", 10), ("plansnapshot", 8),
     ("achievement", 8), ("planreminder", 8), ("bonustier", 6), ("goalcheck", 9)],
)  # fmt: skip
def test_every_goals_admin_list_opens_with_a_fixed_number_of_queries(
    admin_client, name, queries, assert_queries
):
    url = reverse(f"admin:goals_{name}_changelist")
    for reps in (3, 5):  # the lists of 3 reps' plans, then of 8
        for _ in range(reps):
            SalesRepFactory()
        plans.plans_create(year=2031, month=6)
        newest = RepPlan.objects.last()
        PlanReminder.objects.create(plan=newest, kind="overdue", sent_at=dt.datetime.now(dt.UTC))
        plans.snapshot_plans(on=dt.date(2031, 6, reps), daily=False)

        with assert_queries(queries):
            assert admin_client.get(url).status_code == 200


def test_an_ad_hoc_snapshot_from_admin_is_of_the_selected_plans(admin_client):
    rep, other = SalesRepFactory(), SalesRepFactory()
    plans.plans_for_rep(rep.pk)  # this month's: under way
    plans.plans_for_rep(other.pk)
    plan = RepPlan.objects.get(rep=rep, month__isnull=False)
    for _ in range(2):
        admin_client.post(
            reverse("admin:goals_repplan_changelist"),
            {"action": "snapshot_now", "_selected_action": [plan.pk]},
        )
    assert plan.snapshots.filter(daily=False).count() == 2
    assert not RepPlan.objects.get(rep=other, month__isnull=False).snapshots.exists()


def test_plans_and_reminders_show_their_deadline_with_its_zone_in_admin(admin_client):
    rep = SalesRepFactory(timezone="Europe/Madrid")
    plans.plans_create(year=2031, month=6, rep_ids=[rep.pk])
    plan = RepPlan.objects.get(rep=rep, month=6)
    reminder = PlanReminder.objects.create(
        plan=plan, kind="overdue", sent_at=dt.datetime(2031, 6, 6, 9, tzinfo=dt.UTC)
    )

    listed = admin_client.get(reverse("admin:goals_repplan_changelist")).content.decode()
    shown = admin_client.get(reverse("admin:goals_repplan_change", args=[plan.pk]))
    reminders = admin_client.get(reverse("admin:goals_planreminder_changelist")).content.decode()
    one = admin_client.get(reverse("admin:goals_planreminder_change", args=[reminder.pk]))

    due = "5 Jun 2031, 23:59 CEST"  # the rep's zone, whoever reads it
    assert due in listed and due in shown.content.decode()
    assert due in reminders and due in one.content.decode()
    assert "6 Jun 2031, 09:00 UTC" in reminders  # sent: in the reader's zone, named


@pytest.mark.parametrize("odd", ["1.9", "1e309", "\x00", "-1", "9" * 30])
def test_an_odd_parent_in_admin_is_a_field_error_never_a_500(admin_client, rep, odd):
    goal = make_goal(owner=rep)
    url = reverse("admin:goals_goal_change", args=[goal.pk])

    response = admin_client.post(
        url, {"title": goal.title, "description": "", "target_value": "1000", "parent": odd}
    )

    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors

"""Original and revised targets: a goal keeps the target it had when its period started (or
when it was made, or first given one) and every revision (who, when, from what to what, why).
Before the start a change needs no reason and moves the original too; after, a reason of 10
visible characters is required, on the field "reason", in the pages, the API, Django admin and
the plans. The goal page, the compliance page and the CSVs show both targets and attainment
against both; analytics counts attainment against either."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm.testing import error_body
from goals import services
from goals.models import Goal, GoalTargetRevision
from goals.plans import services as plans
from goals.tests.factories import SETUP, make_goal

pytestmark = pytest.mark.django_db

BEFORE = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
DURING = dt.datetime(2026, 12, 6, 9, tzinfo=dt.UTC)
DECEMBER = dt.date(2026, 12, 1)
GOALS = "/api/goals/"
ZERO_WIDTH = "\u200b" * 12
GOOD_REASON = "The fair was cancelled."


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_a_change_before_the_period_starts_needs_no_reason_and_moves_the_original(rep):
    with time_machine.travel(BEFORE, tick=False):
        goal = make_goal(owner=rep, start=DECEMBER, target=1000)
        services.goal_update(actor=rep.user, goal_id=goal.pk, target_value=Decimal(1200))

    goal.refresh_from_db()
    assert (goal.original_target, goal.target_value) == (1200, 1200)
    revision = GoalTargetRevision.objects.get(goal=goal)
    assert (revision.old_target, revision.new_target, revision.after_start) == (1000, 1200, False)
    assert revision.changed_by == rep.user and revision.changed_at == BEFORE


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", services.TARGET_REASON_REQUIRED),
        ("   ", services.TARGET_REASON_REQUIRED),
        ("too short", services.TARGET_REASON_TOO_SHORT),
        (ZERO_WIDTH, services.TARGET_REASON_TOO_SHORT),
        ("a\u200bb\u200bc\u200bd\u200be\u200b", services.TARGET_REASON_TOO_SHORT),
    ],
)
def test_a_change_after_the_start_without_a_reason_of_10_visible_characters_is_refused(
    rep, reason, message
):
    with time_machine.travel(DURING, tick=False):
        goal = make_goal(owner=rep, start=DECEMBER, target=1000)
        with pytest.raises(ValidationError) as refused:
            services.goal_update(
                actor=rep.user, goal_id=goal.pk, target_value=Decimal(800), reason=reason
            )

    assert refused.value.message_dict == {"reason": [message]}
    assert Goal.objects.get(pk=goal.pk).target_value == 1000
    assert not GoalTargetRevision.objects.exists()


def test_a_change_after_the_start_keeps_the_original_and_records_who_when_and_why(rep):
    with time_machine.travel(DURING, tick=False):
        goal = make_goal(owner=rep, start=DECEMBER, target=1000)
        services.goal_update(
            actor=rep.user, goal_id=goal.pk, target_value=Decimal(800), reason=GOOD_REASON
        )
        # The same target sent back (the edit form shows it) is no revision.
        services.goal_update(actor=rep.user, goal_id=goal.pk, target_value=Decimal(800))

    goal = Goal.objects.get(pk=goal.pk)
    assert (goal.original_target, goal.target_value, goal.target_revised) == (1000, 800, True)
    revision = GoalTargetRevision.objects.get(goal=goal)
    assert (revision.old_target, revision.new_target) == (1000, 800)
    assert (revision.reason, revision.after_start, revision.changed_by_name) == (
        GOOD_REASON, True, rep.user.username,
    )  # fmt: skip


def test_attainment_against_both_targets(rep):
    goal = make_goal(owner=rep, source="manual", target=1000)
    services.goal_adjust(
        actor=SETUP, goal_id=goal.pk, value=Decimal(600), justification="Counted at the fair"
    )
    Goal.objects.filter(pk=goal.pk).update(original_target=Decimal(1200))

    goal = Goal.objects.get(pk=goal.pk)
    assert (goal.progress_percent, goal.original_percent) == (Decimal(60), Decimal(50))


@pytest.mark.parametrize(
    "reason", ["\x00 stored nothing here", ["The fair was cancelled."], ZERO_WIDTH, "short"]
)
def test_bad_reasons_in_the_api_are_400_on_the_reason(rep, rep_api, reason):
    with time_machine.travel(DURING, tick=False):
        goal = make_goal(owner=rep, start=DECEMBER, target=1000)
        answer = rep_api.patch(
            f"{GOALS}{goal.pk}/", {"target_value": "800", "reason": reason}, format="json"
        )

    assert answer.status_code == 400 and "reason" in answer.json()
    assert Goal.objects.get(pk=goal.pk).target_value == 1000


def test_the_api_revises_a_target_with_its_reason_and_lists_the_revisions(rep, rep_api):
    with time_machine.travel(DURING, tick=False):
        goal = make_goal(owner=rep, start=DECEMBER, target=1000)
        refused = rep_api.patch(f"{GOALS}{goal.pk}/", {"target_value": "800"}, format="json")
        answer = rep_api.patch(
            f"{GOALS}{goal.pk}/", {"target_value": "800", "reason": GOOD_REASON}, format="json"
        )
        revisions = rep_api.get(f"{GOALS}{goal.pk}/revisions/").json()

    assert refused.status_code == 400
    assert error_body(refused) == {"reason": [services.TARGET_REASON_REQUIRED]}
    body = answer.json()
    assert (body["original_target"], body["target_value"]) == ("1000.00", "800.00")
    assert body["target_revised"] is True
    assert [(r["old_target"], r["new_target"], r["reason"]) for r in revisions] == [
        ("1000.00", "800.00", GOOD_REASON)
    ]
    assert revisions[0]["changed_by"] == rep.user.username


def test_the_edit_page_asks_why_and_the_goal_page_shows_both_targets(rep, rep_client):
    with time_machine.travel(DURING, tick=False):
        goal = make_goal(owner=rep, start=DECEMBER, target=1000, title="Revenue")
        edit = reverse("goals:goal-edit", args=[goal.pk])
        form = {"title": "Revenue", "target_value": "800", "description": ""}
        refused = rep_client.post(edit, form)
        saved = rep_client.post(edit, form | {"reason": GOOD_REASON})
        page = rep_client.get(reverse("goals:goal-detail", args=[goal.pk])).content.decode()

    assert refused.status_code == 400
    assert services.TARGET_REASON_REQUIRED in refused.content.decode()
    assert saved.status_code == 302
    assert "Original target" in page and "1,000.00" in page and "800.00" in page
    assert GOOD_REASON in page.split('id="revisions"')[1]


def test_the_goals_csv_has_both_targets_and_attainment_against_both(rep, rep_client):
    with time_machine.travel(DURING, tick=False):
        goal = make_goal(owner=rep, start=DECEMBER, target=1000)
        services.goal_update(
            actor=rep.user, goal_id=goal.pk, target_value=Decimal(800), reason=GOOD_REASON
        )
        row = _csv(rep_client.get(reverse("goals:export")))[0]

    assert (row["original target"], row["target"]) == ("1000.00", "800.00")
    assert (row["progress % of original"], row["progress %"]) == ("0.00", "0.00")


def test_a_plan_first_set_is_its_original_and_a_correction_needs_a_reason(rep, rep_api):
    with time_machine.travel(DURING, tick=False):
        plans.plans_create(year=2026, month=12, rep_ids=[rep.pk])
        first = rep_api.post(
            f"{GOALS}monthly/set", {"signup_goal": 5, "revenue_goal": 5000, "bonus_tier_goal": 1}
        )
        refused = rep_api.post(f"{GOALS}monthly/set", {"signup_goal": 4})
        corrected = rep_api.post(
            f"{GOALS}monthly/set", {"signup_goal": 4, "reason": "Two customers closed down."}
        )

    assert first.status_code == 200
    assert refused.status_code == 400 and "reason" in refused.json()
    assert corrected.status_code == 200
    signups = Goal.objects.get(plan__rep=rep, plan__month=12, metric="signups")
    assert (signups.original_target, signups.target_value) == (5, 4)
    assert GoalTargetRevision.objects.filter(goal=signups).count() == 2  # set, then corrected
    body = corrected.json()
    assert (body["signup_original_goal"], body["signup_goal"]) == ("5.00", "4.00")


def test_defaults_then_the_reps_own_targets_are_the_originals(rep, admin_user):
    with time_machine.travel(DURING, tick=False):
        plans.plans_set_defaults(
            actor=admin_user, team_id=rep.team_id, year=2026, month=12,
            signup_goal=3, revenue_goal=Decimal(3000), bonus_tier_goal=0,
        )  # fmt: skip
        plans.plan_set(actor=rep.user, signup_goal=6, revenue_goal=Decimal(6000), bonus_tier_goal=2)

    signups = Goal.objects.get(plan__rep=rep, plan__month=12, metric="signups")
    assert (signups.original_target, signups.target_value) == (6, 6)


def test_compliance_shows_original_and_current_targets(rep, supervisor_client):
    with time_machine.travel(DURING, tick=False):
        plans.plans_create(year=2026, month=12, rep_ids=[rep.pk])
        plans.plan_set(actor=rep.user, signup_goal=5, revenue_goal=Decimal(5000), bonus_tier_goal=1)
        plans.plan_set(
            actor=rep.team.manager, rep_id=rep.pk, signup_goal=4, revenue_goal=Decimal(5000),
            bonus_tier_goal=1, reason="Two customers closed down.",
        )  # fmt: skip
        page = supervisor_client.get(reverse("goals:compliance-list")).content.decode()
        row = _csv(supervisor_client.get(reverse("goals:compliance-export")))[0]

    assert "original 5" in page
    assert (row["signup original goal"], row["signup goal"]) == ("5.00", "4.00")
    assert "signup % of original" in row


def test_analytics_counts_attainment_against_original_targets(rep, rep_api):
    goal = make_goal(owner=rep, source="manual", target=1000, start=dt.date(2026, 1, 1))
    services.goal_adjust(
        actor=SETUP, goal_id=goal.pk, value=Decimal(900), justification="Counted at the fair"
    )
    # Lowered from 1,200 to 900 after the start, then reached, then completed.
    Goal.objects.filter(pk=goal.pk).update(original_target=Decimal(1200), target_value=Decimal(900))
    services.goal_set_status(actor=SETUP, goal_id=goal.pk, status="completed")

    current = rep_api.get(f"{GOALS}analytics/").json()
    original = rep_api.get(f"{GOALS}analytics/", {"attainment": "original"}).json()

    assert current["overall_completion_rate"] == "100.00"
    assert original["overall_completion_rate"] == "0.00"
    assert original["average_progress"] == "75.00"
    assert (current["attainment"], original["attainment"]) == ("current", "original")


def test_admin_shows_the_revisions_and_asks_why_for_a_change_after_the_start(rep, admin_client):
    with time_machine.travel(DURING, tick=False):
        goal = make_goal(owner=rep, start=DECEMBER, target=1000, title="Revenue")
        services.goal_update(
            actor=rep.user, goal_id=goal.pk, target_value=Decimal(800), reason=GOOD_REASON
        )
        url = reverse("admin:goals_goal_change", args=[goal.pk])
        page = admin_client.get(url).content.decode()
        form = {"title": "Revenue", "description": "", "target_value": "700", "parent": ""}
        refused = admin_client.post(url, form)
        saved = admin_client.post(url, form | {"reason": "Cut again after the fair."})

    assert GOOD_REASON in page
    assert (
        refused.status_code == 200 and services.TARGET_REASON_REQUIRED in refused.content.decode()
    )
    assert saved.status_code == 302
    assert Goal.objects.get(pk=goal.pk).target_value == 700

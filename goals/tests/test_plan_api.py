"""The rep plans' API: what each role sees, setting targets with the bad input the issue names,
defaults, history with achievements, pending deadlines, reminders, query counts."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from crm.tests.factories import SalesRepFactory
from goals.models import Achievement, Goal, Metric, PlanReminder, RepPlan
from goals.plans import services

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite, pytest.mark.usefixtures("early_june")]

API = "/api/goals/"
UTC = dt.UTC
VALID = {"signup_goal": 20, "revenue_goal": "50000.00", "bonus_tier_goal": 3}


def test_a_rep_sets_this_months_goals_and_sees_them(rep, rep_api):
    answer = rep_api.post(f"{API}monthly/set", VALID, format="json")

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["year"], body["month"], body["deadline_status"]) == (2031, 6, "on_time")
    assert (body["signup_goal"], body["revenue_goal"], body["bonus_tier_goal"]) == (
        "20.00", "50000.00", "3.00",
    )  # fmt: skip
    assert body["revenue_percent"] == "0.00" and body["pace"] in {"on_track", "critical"}
    current = rep_api.get(f"{API}monthly/current").json()
    assert [row["id"] for row in current["results"]] == [body["id"]]
    assert rep_api.get(f"{API}monthly/current/").status_code == 200  # with the slash too


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"signup_goal": "20; DROP TABLE rep_monthly_goals;"}, "signup_goal"),
        ({"month": 13}, "month"),
        ({"bonus_tier_goal": 10}, "bonus_tier_goal"),
        ({"revenue_goal": "-1"}, "revenue_goal"),
        ({"revenue_goal": "1e309"}, "revenue_goal"),
        ({"signup_goal": 1.9}, "signup_goal"),
        ({"rep": 1.9}, "rep"),
        ({"year": 9999}, "year"),
    ],
)
def test_bad_input_is_a_400_with_its_field_and_nothing_changes(rep_api, body, field):
    answer = rep_api.post(f"{API}monthly/set", {**VALID, **body}, format="json")

    assert answer.status_code == 400
    assert field in answer.json()
    assert not RepPlan.objects.filter(goal_set_at__isnull=False).exists()


def test_a_second_plan_for_the_same_rep_and_month_is_the_same_plan(rep, rep_api):
    first = rep_api.post(f"{API}monthly/set", VALID, format="json").json()
    second = rep_api.post(
        f"{API}monthly/set",
        {**VALID, "signup_goal": 25, "reason": "One more customer came in."},
        format="json",
    ).json()

    assert first["id"] == second["id"]
    assert RepPlan.objects.filter(rep=rep, year=2031, month=6).count() == 1
    assert second["signup_goal"] == "25.00"


def test_setting_another_reps_plan_without_permission_is_a_404(
    rep_api, other_rep, supervisor_api, rep
):
    refused = rep_api.post(f"{API}monthly/set", {**VALID, "rep": other_rep.pk}, format="json")
    outside = supervisor_api.post(
        f"{API}monthly/set", {**VALID, "rep": other_rep.pk}, format="json"
    )
    unknown = supervisor_api.post(f"{API}monthly/set", {**VALID, "rep": 2**62}, format="json")
    year = rep_api.post(
        f"{API}yearly/set",
        {"revenue_goal": "1", "signup_goal": 1, "rep": other_rep.pk},
        format="json",
    )
    history = rep_api.get(f"{API}history", {"rep": other_rep.pk})
    allowed = supervisor_api.post(f"{API}monthly/set", {**VALID, "rep": rep.pk}, format="json")

    # A rep outside the caller's scope is not there, exactly like one that does not exist.
    assert [r.status_code for r in (refused, outside, unknown, year, history)] == [404] * 5
    assert allowed.status_code == 200
    assert not RepPlan.objects.filter(rep=other_rep, goal_set_at__isnull=False).exists()


def test_each_role_sees_its_reps_plans(rep, other_rep, rep_api, supervisor_api, admin_api):
    services.plans_create(year=2031, month=6)

    def reps(client, path):
        return {row["rep"]["id"] for row in client.get(f"{API}{path}").json()["results"]}

    assert reps(rep_api, "monthly/current") == {rep.pk}
    assert reps(supervisor_api, "monthly/current") == {rep.pk}
    assert reps(admin_api, "monthly/current") == {rep.pk, other_rep.pk}
    assert reps(rep_api, "pending-deadlines") == {rep.pk}
    services.plans_create(year=2031)
    assert reps(supervisor_api, "yearly/current") == {rep.pk}


def test_yearly_goals_are_set_and_counted(rep, rep_api):
    answer = rep_api.post(
        f"{API}yearly/set", {"revenue_goal": "600000", "signup_goal": 240}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["month"] is None and answer.json()["revenue_goal"] == "600000.00"


def test_history_lists_past_months_with_their_achievements(rep, rep_api, supervisor_api):
    with time_machine.travel(dt.datetime(2031, 5, 2, tzinfo=UTC), tick=False):
        may = services.plan_set(
            actor=rep.user, signup_goal=1, revenue_goal=Decimal(10), bonus_tier_goal=0
        )
    Goal.objects.filter(plan=may, metric=Metric.REVENUE).update(current_value=12)
    services.record_achievements()
    services.plans_create(year=2031, month=6)

    mine = rep_api.get(f"{API}history").json()["results"]
    theirs = supervisor_api.get(f"{API}history", {"rep": rep.pk}).json()["results"]
    nobody = supervisor_api.get(f"{API}history")

    assert [row["month"] for row in mine] == [5]
    assert [a["kind"] for a in mine[0]["achievements"]] == ["monthly_revenue"]
    assert theirs == mine
    assert nobody.status_code == 404
    assert Achievement.objects.count() == 1


def test_an_admin_gives_team_defaults_and_a_supervisor_may_not(team, admin_api, supervisor_api):
    SalesRepFactory(team=team)
    body = {"team": team.pk, "year": 2031, "month": 6, **VALID}

    assert supervisor_api.post(f"{API}monthly/defaults", body, format="json").status_code == 403
    answer = admin_api.post(f"{API}monthly/defaults", body, format="json")
    assert answer.status_code == 200 and answer.json() == {"plans": 1}


def test_a_reminder_is_acknowledged_through_the_api_by_its_rep(rep, rep_api, other_rep):
    services.plans_create(year=2031, month=6)
    reminder = PlanReminder.objects.create(
        plan=RepPlan.objects.get(rep=rep, month=6), kind="three_days", sent_at=timezone.now()
    )
    foreign = PlanReminder.objects.create(
        plan=RepPlan.objects.get(rep=other_rep, month=6), kind="three_days", sent_at=timezone.now()
    )

    assert rep_api.post(f"{API}reminders/{reminder.pk}/acknowledge").status_code == 204
    assert rep_api.post(f"{API}reminders/{foreign.pk}/acknowledge").status_code == 404
    reminder.refresh_from_db()
    assert reminder.acknowledged_at is not None


@pytest.mark.parametrize("reps", [3, 30])
def test_monthly_current_runs_a_fixed_number_of_queries(team, admin_api, reps, assert_queries):
    for _ in range(reps):
        SalesRepFactory(team=team)
    services.plans_create(year=2031, month=6)

    # the zones (for the pace), count, page (the test client is authenticated already)
    with assert_queries(3):
        answer = admin_api.get(f"{API}monthly/current")

    assert answer.status_code == 200 and answer.json()["count"] >= reps


def test_the_schema_documents_every_plan_endpoint_and_its_errors(rep_client):
    paths = rep_client.get("/api/schema/", {"format": "json"}).json()["paths"]

    for path, method in [
        ("monthly/current", "get"), ("monthly/set", "post"), ("monthly/defaults", "post"),
        ("yearly/current", "get"), ("yearly/set", "post"), ("history", "get"),
        ("pending-deadlines", "get"), ("reminders/{id}/acknowledge", "post"),
    ]:  # fmt: skip
        operation = paths[f"{API}{path}/"][method]
        assert {"401", "403"} <= set(operation["responses"]), path
        if method == "post":
            assert "400" in operation["responses"] or "{id}" in path, path
        if path.endswith("set") or "{id}" in path:  # a rep or a reminder outside your scope
            assert "404" in operation["responses"], path
    body = paths[f"{API}monthly/set/"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/PlanSetInputRequest")


def test_the_bonus_tier_is_described_with_each_tiers_threshold(rep_client):
    schema = rep_client.get("/api/schema/", {"format": "json"}).json()

    tier = schema["components"]["schemas"]["PlanSetInputRequest"]["properties"]["bonus_tier_goal"]
    assert "Tier 1 — from 5,000" in tier["description"]
    assert "Tier 6 — from 50,000" in tier["description"]


def test_a_past_month_never_set_is_not_set_in_the_history_not_overdue(rep, rep_api):
    services.plans_create(year=2031, month=5)
    services.plans_create(year=2031, month=6)

    history = rep_api.get(f"{API}history").json()["results"]
    pending = rep_api.get(f"{API}pending-deadlines").json()["results"]

    assert [(row["month"], row["deadline_status"]) for row in history] == [(5, "never_set")]
    assert [(row["month"], row["deadline_status"]) for row in pending] == [(6, "due_soon")]


def test_the_seeds_body_without_a_bonus_tier_sets_a_new_plan_with_tier_0(rep, rep_api):
    answer = rep_api.post(
        f"{API}monthly/set", {"signup_goal": 20, "revenue_goal": 50000}, format="json"
    )

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["signup_goal"], body["revenue_goal"]) == ("20.00", "50000.00")
    assert body["bonus_tier_goal"] == "0.00"


def test_a_goal_left_out_keeps_its_value(rep, rep_api):
    rep_api.post(f"{API}monthly/set", VALID, format="json")
    kept = rep_api.post(
        f"{API}monthly/set",
        {"revenue_goal": "7000", "reason": "The big order moved to July."},
        format="json",
    ).json()
    year = rep_api.post(f"{API}yearly/set", {"revenue_goal": "90000"}, format="json").json()

    assert kept["revenue_goal"] == "7000.00"
    assert (kept["signup_goal"], kept["bonus_tier_goal"]) == (
        f"{VALID['signup_goal']}.00", f"{VALID['bonus_tier_goal']}.00",
    )  # fmt: skip
    assert (year["revenue_goal"], year["signup_goal"]) == ("90000.00", "0.00")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("analytics/", {"type": "revenue"}),
        ("analytics/", {"ownerType": "team"}),
        ("analytics/", {"startDate": "2026-01-01", "metric": "revenue"}),
        ("monthly/current", {"status": "late"}),
        ("yearly/current", {"team": "1"}),
        ("history", {"repId": "1"}),
        ("pending-deadlines", {"teamId": "1"}),
    ],
)
def test_a_report_given_a_parameter_it_does_not_know_names_those_it_accepts(rep_api, path, query):
    answer = rep_api.get(f"{API}{path}", query)

    assert answer.status_code == 400
    unknown = next(name for name in query if name not in ("metric",))
    assert unknown in answer.json()
    assert "Accepted:" in answer.json()[unknown][0]


def test_reports_take_their_own_parameters_and_paging(rep_api):
    queries = [
        ("analytics/", {"metric": "revenue", "attainment": "original", "format": "json"}),
        ("monthly/current", {"order": "rep", "page": 1}),
        ("yearly/current", {"page_size": 5}),
    ]
    for path, query in queries:
        assert rep_api.get(f"{API}{path}", query).status_code == 200

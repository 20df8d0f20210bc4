"""/api/goals/: scope, permissions, the bad input the issue names, every action, and query
counts that do not grow with the rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import AuditEntry, DealStage
from crm.testing import error_body, signed_in_api
from crm.tests.factories import DealFactory, SalesRepFactory
from goals import selectors, services
from goals.api.serializers import GoalNodeSerializer
from goals.models import Goal, GoalSnapshot, Source
from goals.tests.factories import make_goal

pytestmark = pytest.mark.django_db

GOALS = "/api/goals/"


def create_body(**overrides) -> dict:
    return {
        "title": "November revenue",
        "owner_type": "individual",
        "metric": "revenue",
        "period_kind": "month",
        "period_start": timezone.localdate().isoformat(),
        "target_value": "5000.00",
        **overrides,
    }


def test_a_rep_creates_a_goal_that_counts_at_once(rep, rep_api):
    DealFactory(rep=rep, amount=Decimal(1200), stage=DealStage.CLOSED_WON)

    response = rep_api.post(GOALS, create_body(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rep"]["id"] == rep.pk
    assert body["current_value"] == "1200.00"
    assert body["progress_percent"] == "24.00"
    assert body["period_start"].endswith("-01")
    assert AuditEntry.objects.filter(action="goal.create", target_id=str(body["id"])).exists()


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"target_value": "20; DROP TABLE goals_goal;"}, "target_value"),
        ({"target_value": "-5"}, "target_value"),
        ({"metric": "happiness"}, "metric"),
        ({"period_kind": "custom", "period_start": "2026-11-20", "period_end": "2026-11-01"},
         "period_end"),
        ({"period_kind": "custom", "period_start": "2026-11-20"}, "period_end"),
        ({"period_start": "0001-01-01"}, "period_start"),
        ({"period_start": "9999-12-31"}, "period_start"),
        ({"owner_type": "team"}, "team"),
        ({"title": ""}, "title"),
    ],
)  # fmt: skip
def test_bad_goal_input_is_400_with_the_field_and_nothing_saved(rep_api, override, field):
    response = rep_api.post(GOALS, create_body(**override), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not Goal.objects.exists()


def test_a_rep_may_not_set_a_company_goal(rep_api):
    response = rep_api.post(GOALS, create_body(owner_type="company"), format="json")
    assert response.status_code == 403
    assert not Goal.objects.exists()


def test_scope_in_the_api(rep, rep_api, other_rep, supervisor_api):
    mine = make_goal(owner=rep)
    team_goal = make_goal(owner=rep.team)
    foreign = make_goal(owner=other_rep)

    listed = {row["id"] for row in rep_api.get(GOALS).json()["results"]}

    assert listed == {mine.pk, team_goal.pk}
    assert rep_api.get(f"{GOALS}{foreign.pk}/").status_code == 404
    assert rep_api.patch(f"{GOALS}{team_goal.pk}/", {"title": "x"}).status_code == 403
    assert supervisor_api.patch(f"{GOALS}{team_goal.pk}/", {"title": "Ours"}).status_code == 200
    assert supervisor_api.get(f"{GOALS}{foreign.pk}/").status_code == 404


@pytest.mark.parametrize("rows", [2, 25])
def test_the_goal_list_runs_a_fixed_number_of_queries(rows, rep, rep_client, assert_queries):
    for index in range(rows):
        make_goal(owner=rep if index % 2 else rep.team, title=f"Goal {index}")
    # session, user, the user's zone, role, count, page
    with assert_queries(6):
        response = rep_client.get(GOALS)
    assert response.status_code == 200
    assert len(response.json()["results"]) == rows


def test_manual_adjustment_through_the_api(rep, rep_api):
    goal = make_goal(owner=rep)
    url = f"{GOALS}{goal.pk}/manual-adjustment/"

    short = rep_api.post(url, {"value": "10", "justification": "too short"}, format="json")
    ok = rep_api.post(url, {"value": "10", "justification": "Sold at the fair"}, format="json")
    back = rep_api.post(f"{GOALS}{goal.pk}/auto/")

    assert short.status_code == 400
    assert "justification" in short.json()
    assert ok.status_code == 200
    assert ok.json()["calculation_source"] == Source.MANUAL
    assert ok.json()["manual_override_reason"] == "Sold at the fair"
    assert back.json()["calculation_source"] == Source.AUTO


def test_a_yearly_goal_under_a_monthly_one_is_refused_by_every_door_of_the_api(rep, supervisor_api):
    month = make_goal(owner=rep.team, start=dt.date(2026, 6, 1))
    year = make_goal(owner=rep, period_kind="year", start=dt.date(2026, 1, 1))
    june = make_goal(owner=rep, start=dt.date(2026, 6, 1))
    body = create_body(rep=rep.pk, period_kind="year", period_start="2026-01-01")

    linked = supervisor_api.post(f"{GOALS}{year.pk}/link-parent/", {"parent": month.pk})
    created = supervisor_api.post(GOALS, {**body, "parent": month.pk}, format="json")
    patched = supervisor_api.patch(f"{GOALS}{year.pk}/", {"parent": month.pk}, format="json")
    stretched = supervisor_api.patch(
        f"{GOALS}{june.pk}/", {"parent": month.pk, "period_kind": "year"}, format="json"
    )
    fine = supervisor_api.patch(f"{GOALS}{june.pk}/", {"parent": month.pk}, format="json")
    unlinked = supervisor_api.patch(f"{GOALS}{june.pk}/", {"parent": None}, format="json")

    for refused in (linked, created, patched, stretched):
        assert refused.status_code == 400, refused.json()
        assert error_body(refused) == {"parent": [services.LINK_PERIOD]}
    assert Goal.objects.filter(parent=month).count() == 0
    assert Goal.objects.count() == 3  # the refused creation made nothing
    assert fine.status_code == 200 and fine.json()["parent"] == month.pk
    assert unlinked.status_code == 200 and unlinked.json()["parent"] is None


@pytest.mark.sqlite
@pytest.mark.parametrize("parent", ["1.9", 1.9, "1e309", [1], {"id": 1}, True, "\x00", -1])
def test_a_parent_that_is_not_an_id_is_a_400(rep, rep_api, parent):
    goal = make_goal(owner=rep)
    created = rep_api.post(GOALS, create_body(parent=parent), format="json")
    patched = rep_api.patch(f"{GOALS}{goal.pk}/", {"parent": parent}, format="json")
    assert created.status_code == 400 and "parent" in created.json()
    assert patched.status_code == 400 and "parent" in patched.json()


def test_linking_through_the_api_with_its_refusals(rep, other_rep, supervisor_api):
    team_goal = make_goal(owner=rep.team)
    mine = make_goal(owner=rep)
    signups = make_goal(owner=rep, metric="signups")
    foreign = make_goal(owner=other_rep.team)

    linked = supervisor_api.post(f"{GOALS}{mine.pk}/link-parent/", {"parent": team_goal.pk})
    metric = supervisor_api.post(f"{GOALS}{signups.pk}/link-parent/", {"parent": team_goal.pk})
    cycle = supervisor_api.post(f"{GOALS}{team_goal.pk}/link-parent/", {"parent": mine.pk})
    outside = supervisor_api.post(f"{GOALS}{mine.pk}/link-parent/", {"parent": foreign.pk})
    not_an_id = supervisor_api.post(
        f"{GOALS}{mine.pk}/link-parent/", {"parent": 1.9}, format="json"
    )

    assert linked.status_code == 200 and linked.json()["parent"] == team_goal.pk
    assert metric.status_code == 400 and error_body(metric) == {"parent": [services.LINK_METRIC]}
    assert cycle.status_code == 400
    assert outside.status_code == 400 and "parent" in outside.json()
    assert not_an_id.status_code == 400

    tree = supervisor_api.get(f"{GOALS}{team_goal.pk}/hierarchy/").json()
    assert [child["id"] for child in tree["goal"]["children"]] == [mine.pk]
    # The nodes are built by hand: they must say what the documented shape says, as it says it.
    node = tree["goal"]["children"][0]
    documented = GoalNodeSerializer(data=node)
    assert documented.is_valid(), documented.errors
    assert set(node) == set(GoalNodeSerializer().fields)
    full = supervisor_api.get(f"{GOALS}{mine.pk}/").json()
    assert {key: full[key] for key in node if key in full} == {
        key: value for key, value in node.items() if key in full
    }
    assert node["owner_name"] == str(rep) and node["children"] == []
    children = supervisor_api.get(f"{GOALS}{team_goal.pk}/children/").json()
    assert [child["id"] for child in children] == [mine.pk]
    unlinked = supervisor_api.post(f"{GOALS}{mine.pk}/unlink-parent/")
    assert unlinked.json()["parent"] is None


def test_history_forecast_and_status(rep, rep_api):
    goal = make_goal(owner=rep)
    today = selectors.goal_today(goal)  # the owner's day (not the company's, near midnight)
    GoalSnapshot.objects.create(goal=goal, date=today - dt.timedelta(days=1), value=0, percent=0)
    GoalSnapshot.objects.create(goal=goal, date=today, value=5, percent=1)
    # Today's point is the value now (10), not this morning's snapshot (5), in the API too.
    Goal.objects.filter(pk=goal.pk).update(current_value=10)

    history = rep_api.get(f"{GOALS}{goal.pk}/progress-history/").json()
    forecast = rep_api.get(f"{GOALS}{goal.pk}/forecast/").json()
    closed = rep_api.post(f"{GOALS}{goal.pk}/status/", {"status": "completed"})

    # As the goal's page draws it: the earlier days' snapshots, then today as it stands now.
    assert [row["value"] for row in history] == ["0.00", "10.00"]
    assert history[-1] == {
        "date": today.isoformat(), "value": "10.00", "target": "1000.00",
        "percent": "1.00",
    }  # fmt: skip
    assert forecast["velocity"] == "10.00"
    assert forecast["has_sufficient_data"] is True
    assert closed.json()["status"] == "completed"
    assert rep_api.post(f"{GOALS}{goal.pk}/status/", {"status": "completed"}).status_code == 400


def test_analytics_and_recalculate_all(rep, rep_api, admin_api):
    make_goal(owner=rep)
    figures = rep_api.get(f"{GOALS}analytics/", {"metric": "revenue"}).json()
    assert figures["total_goals"] == 1
    assert len(figures["completion_rate_trend"]) == 12
    assert rep_api.get(f"{GOALS}analytics/", {"owner_type": "galaxy"}).status_code == 400

    assert rep_api.post(f"{GOALS}recalculate-all/").status_code == 403
    assert admin_api.post(f"{GOALS}recalculate-all/").status_code == 202


def test_delete_unlinks_the_children(rep, supervisor_api):
    team_goal = make_goal(owner=rep.team)
    mine = make_goal(owner=rep, parent=team_goal)
    assert supervisor_api.delete(f"{GOALS}{team_goal.pk}/").status_code == 204
    assert Goal.objects.get(pk=mine.pk).parent_id is None
    assert signed_in_api(SalesRepFactory().user).get(f"{GOALS}{mine.pk}/").status_code == 404


def test_goals_above_out_of_scope_are_not_shown(rep, rep_api, other_rep):
    team_goal = make_goal(owner=rep.team)
    mine = make_goal(owner=rep, parent=team_goal)
    rep.team = other_rep.team  # the rep moved to another team: the old team's goal is not theirs
    rep.save()

    tree = rep_api.get(f"{GOALS}{mine.pk}/hierarchy/").json()
    filtered = rep_api.get(GOALS, {"parent": team_goal.pk})
    missing = rep_api.get(GOALS, {"parent": team_goal.pk + 1000})

    assert tree["ancestors"] == []
    # An id out of scope answers like one that does not exist: nothing tells them apart.
    assert filtered.status_code == missing.status_code == 400
    assert error_body(filtered) == {
        key: [m.replace(str(team_goal.pk + 1000), str(team_goal.pk)) for m in value]
        for key, value in error_body(missing).items()
    }


def test_each_goal_in_the_api_carries_the_verdict_the_pages_show(rep, rep_api):
    goal = make_goal(owner=rep, target=0)
    tier = make_goal(owner=rep, metric="bonus_tier", target=2)

    listed = {row["id"]: row["verdict"] for row in rep_api.get(GOALS).json()["results"]}
    forecast = rep_api.get(f"{GOALS}{goal.pk}/forecast/").json()

    assert listed == {goal.pk: "on_track", tier.pk: None}  # a target of 0 is reached
    assert forecast["verdict"] == "on_track"


def test_the_hierarchy_lists_each_goal_above_once(rep, supervisor_api, team):
    company = make_goal(owner=None, title="Company revenue")
    team_goal = make_goal(owner=team, title="Team revenue", parent=company)
    for other in range(3):  # the company goal has other goals below it
        make_goal(owner=SalesRepFactory(), title=f"Elsewhere {other}", parent=company)
    mine = make_goal(owner=rep, title="Mine", parent=team_goal)
    for _ in range(2):  # and the team goal other reps' goals
        make_goal(owner=SalesRepFactory(team=team), parent=team_goal)

    tree = supervisor_api.get(f"{GOALS}{mine.pk}/hierarchy/").json()

    assert [goal["id"] for goal in tree["ancestors"]] == [company.pk, team_goal.pk]

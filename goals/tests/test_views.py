"""The goals pages through HTTP: scope, the list's filters and live refresh, a goal's actions
with their refusals, the tree's links, analytics, CSV exports that cannot run formulas."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import AuditEntry, DealStage
from crm.roles import SystemActor
from crm.tests.factories import DealFactory, SalesRepFactory
from goals import services
from goals.models import Goal, Source
from goals.tests.factories import make_goal

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep.user)
    return client


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


def test_the_list_shows_what_the_user_may_see(rep_client, rep, other_rep):
    make_goal(owner=rep, title="Mine")
    make_goal(owner=rep.team, title="Our team's")
    make_goal(owner=other_rep, title="Someone else's")

    response = rep_client.get(reverse("goals:goal-list"))

    assert {goal.title for goal in response.context["page_obj"]} == {"Mine", "Our team's"}


def test_the_list_filters(rep_client, rep):
    make_goal(owner=rep, title="Revenue", metric="revenue")
    make_goal(owner=rep, title="Calls", metric="activities")

    response = rep_client.get(reverse("goals:goal-list"), {"metric": "activities"})

    assert [goal.title for goal in response.context["page_obj"]] == ["Calls"]


@pytest.mark.parametrize("rows", [2, 20])
def test_the_list_runs_a_fixed_number_of_queries(client, supervisor, team, rows):
    for index in range(rows):
        make_goal(owner=SalesRepFactory(team=team) if index % 2 else team, title=f"G{index}")
    client.force_login(supervisor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("goals:goal-list"))
    assert response.status_code == 200
    assert len(response.context["page_obj"]) == rows
    # session, user, zone, role, count, page of goals
    assert len(queries) == 6


def test_the_list_refreshes_only_when_something_moved(rep_client, rep):
    goal = make_goal(owner=rep)
    page = rep_client.get(reverse("goals:goal-list"))
    version = page.context["page_version"]
    url = reverse("goals:goal-list")

    unchanged = rep_client.get(url, {"since": version}, headers=HTMX)
    DealFactory(rep=rep, amount=Decimal(100), stage=DealStage.CLOSED_WON)
    services.goals_recalculate(goals=Goal.objects.all(), actor=SystemActor("test"))
    moved = rep_client.get(url, {"since": version}, headers=HTMX)

    assert unchanged.status_code == 204
    assert moved.status_code == 200
    assert f'id="goal-{goal.pk}"' in moved.content.decode()
    assert moved.content.decode().startswith("<tbody")


def test_a_goals_progress_answers_204_until_it_changes(rep_client, rep):
    goal = make_goal(owner=rep)
    url = reverse("goals:progress", args=[goal.pk])

    same = rep_client.get(url, {"since": goal.version})
    services.goal_adjust(
        actor=rep.user, goal_id=goal.pk, value=Decimal(5), justification="Counted at the fair"
    )
    changed = rep_client.get(url, {"since": goal.version})

    assert same.status_code == 204
    assert changed.status_code == 200
    assert "5" in changed.content.decode()


def test_the_goal_page_shows_its_trail_forecast_and_what_counts(rep_client, rep):
    deal = DealFactory(rep=rep, title="Ovens", amount=Decimal(250), stage=DealStage.CLOSED_WON)
    goal = make_goal(owner=rep)

    response = rep_client.get(reverse("goals:goal-detail", args=[goal.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert deal.title in content
    assert response.context["forecast"] is not None
    assert "Goal created" in content
    assert "<svg viewBox" in content


def test_a_short_justification_is_refused_in_the_page(rep_client, rep):
    goal = make_goal(owner=rep)
    url = reverse("goals:adjust", args=[goal.pk])

    refused = rep_client.post(url, {"value": "10", "justification": "too short"})
    accepted = rep_client.post(
        url, {"value": "10", "justification": "Sold at the trade fair"}, follow=True
    )

    assert refused.status_code == 400
    assert services.JUSTIFICATION_TOO_SHORT in refused.content.decode()
    assert refused.context["adjust_open"] is True
    assert Goal.objects.get(pk=goal.pk).calculation_source == Source.MANUAL
    assert accepted.status_code == 200
    assert "Sold at the trade fair" in accepted.content.decode()


def test_a_rep_cannot_act_on_a_team_goal(rep_client, rep):
    team_goal = make_goal(owner=rep.team)
    response = rep_client.post(
        reverse("goals:adjust", args=[team_goal.pk]),
        {"value": "10", "justification": "Counted by hand"},
    )
    assert response.status_code == 403
    assert rep_client.get(reverse("goals:goal-edit", args=[team_goal.pk])).status_code == 404
    assert Goal.objects.get(pk=team_goal.pk).calculation_source == Source.AUTO


def test_a_supervisor_links_from_the_tree_and_a_refusal_is_shown_there(supervisor_client, rep):
    team_goal = make_goal(owner=rep.team, title="Team revenue")
    mine = make_goal(owner=rep, title="Rep revenue")
    signups = make_goal(owner=rep, metric="signups", title="Rep signups")
    tree = reverse("goals:tree")

    page = supervisor_client.get(tree)
    assert mine.pk in page.context["link_forms"]
    assert signups.pk not in page.context["link_forms"]  # nothing of its metric to go under

    linked = supervisor_client.post(
        reverse("goals:link", args=[mine.pk]), {"parent": team_goal.pk, "next": tree}
    )
    refused = supervisor_client.post(
        reverse("goals:link", args=[signups.pk]), {"parent": team_goal.pk, "next": tree}
    )

    assert linked.status_code == 302 and linked["Location"] == tree
    assert Goal.objects.get(pk=mine.pk).parent_id == team_goal.pk
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()


def test_analytics_page_and_recalculate_all(client, rep, admin_user):
    make_goal(owner=rep)
    client.force_login(rep.user)
    page = client.get(reverse("goals:analytics"))
    assert page.status_code == 200
    assert page.context["figures"]["total_goals"] == 1
    assert b"Recalculate all" not in page.content

    client.force_login(admin_user)
    response = client.post(reverse("goals:recalculate-all"), follow=True)
    assert "being recalculated" in response.content.decode()


def test_csv_exports_quote_what_a_spreadsheet_would_run(rep_client, rep):
    make_goal(owner=rep, title='=HYPERLINK("http://evil.test")')
    export = b"".join(rep_client.get(reverse("goals:export")).streaming_content).decode()
    analytics = b"".join(
        rep_client.get(reverse("goals:analytics-export")).streaming_content
    ).decode()

    assert "'=HYPERLINK" in export
    assert "\n=HYPERLINK" not in export and ",=HYPERLINK" not in export
    assert "total_goals" in analytics


def test_a_new_goal_from_the_form(rep_client, rep):
    response = rep_client.post(
        reverse("goals:goal-create"),
        {
            "title": "Calls this month",
            "owner_type": "individual",
            "metric": "activities",
            "period_kind": "month",
            "period_start": "2026-11-03",
            "target_value": "40",
            "calculation_source": "auto",
        },
    )
    goal = Goal.objects.get()
    assert response.status_code == 302
    assert (goal.rep, goal.period_start.day) == (rep, 1)
    assert AuditEntry.objects.filter(action="goal.create").exists()


def test_a_bad_goal_form_is_400_with_field_errors(rep_client):
    response = rep_client.post(
        reverse("goals:goal-create"),
        {"title": "", "owner_type": "individual", "metric": "happiness", "period_kind": "month",
         "period_start": "0001-01-01", "target_value": "20; DROP TABLE goals_goal;"},
    )  # fmt: skip
    assert response.status_code == 400
    assert set(response.context["form"].errors) >= {"title", "metric", "period_start",
                                                     "target_value"}  # fmt: skip
    assert not Goal.objects.exists()


def test_a_goals_page_does_not_show_goals_above_it_out_of_scope(rep_client, rep, other_rep):
    team_goal = make_goal(owner=rep.team, title="Old team's secret goal")
    mine = make_goal(owner=rep, parent=team_goal)
    rep.team = other_rep.team
    rep.save()

    page = rep_client.get(reverse("goals:goal-detail", args=[mine.pk])).content.decode()

    assert "Old team's secret goal" not in page and "a goal you do not see" in page

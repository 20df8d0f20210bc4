"""The goals pages through HTTP: scope, the list's filters and live refresh, a goal's actions
with their refusals, the tree's links, analytics, CSV exports that cannot run formulas; every
URL a form posts to answers a GET with its page; a goal's page and the tree run a fixed number
of queries."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm.models import AuditEntry, DealStage
from crm.roles import SystemActor
from crm.testing import HTMX, signed_in
from crm.tests.factories import DealFactory, SalesRepFactory, TeamFactory
from goals import selectors, services
from goals.models import Goal, GoalSnapshot, Source
from goals.plans import services as plans
from goals.tests.factories import SETUP, make_goal

pytestmark = pytest.mark.django_db


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
def test_the_list_runs_a_fixed_number_of_queries(supervisor_client, team, rows, assert_queries):
    for index in range(rows):
        make_goal(owner=SalesRepFactory(team=team) if index % 2 else team, title=f"G{index}")
    # session, user, zone, role, count, page of goals
    with assert_queries(6):
        response = supervisor_client.get(reverse("goals:goal-list"))
    assert response.status_code == 200
    assert len(response.context["page_obj"]) == rows


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


def test_a_recount_at_the_same_value_refreshes_as_of_in_the_list_and_the_goals_page(
    rep_client, rep
):
    with time_machine.travel(dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC), tick=False):
        goal = make_goal(owner=rep)
        list_version = rep_client.get(reverse("goals:goal-list")).context["page_version"]
    with time_machine.travel(dt.datetime(2026, 12, 6, 9, 15, tzinfo=dt.UTC), tick=False):
        services.goals_recalculate(goals=Goal.objects.all(), actor=SystemActor("test"))
        listed = rep_client.get(reverse("goals:goal-list"), {"since": list_version}, headers=HTMX)
        block = rep_client.get(
            reverse("goals:progress", args=[goal.pk]), {"since": selectors.goal_version(goal)}
        )

    assert Goal.objects.get(pk=goal.pk).updated_at == goal.updated_at  # not changed: counted
    assert listed.status_code == 200 and "as of 10:15 CET" in listed.content.decode()
    assert block.status_code == 200 and "as of 10:15 CET" in block.content.decode()


def test_the_goal_page_says_when_it_was_counted_only_in_the_block_that_refreshes(rep_client, rep):
    goal = make_goal(owner=rep)

    page = rep_client.get(reverse("goals:goal-detail", args=[goal.pk])).content.decode()

    live = page.split('id="goal-progress"')[1].split("</section>")[0]
    assert "as of" in live
    assert "<dt>Value</dt><dd>Calculated from the CRM</dd>" in page  # no second, static time


def test_a_goals_progress_answers_204_until_it_changes(rep_client, rep):
    goal = make_goal(owner=rep)
    url = reverse("goals:progress", args=[goal.pk])

    same = rep_client.get(url, {"since": selectors.goal_version(goal)})
    services.goal_adjust(
        actor=rep.user, goal_id=goal.pk, value=Decimal(5), justification="Counted at the fair"
    )
    changed = rep_client.get(url, {"since": selectors.goal_version(goal)})

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
        reverse("goals:tree-link", args=[mine.pk]), {"parent": team_goal.pk, "next": tree}
    )
    refused = supervisor_client.post(
        reverse("goals:tree-link", args=[signups.pk]), {"parent": team_goal.pk, "next": tree}
    )

    assert linked.status_code == 302 and linked["Location"] == tree
    assert Goal.objects.get(pk=mine.pk).parent_id == team_goal.pk
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    assert refused.templates[0].name == "goals/goal_tree.html"  # the tree, where it was asked


def test_analytics_page_and_recalculate_all(rep_client, admin_client, rep):
    make_goal(owner=rep)
    page = rep_client.get(reverse("goals:analytics"))
    assert page.status_code == 200
    assert page.context["figures"]["total_goals"] == 1
    assert b"Recalculate all" not in page.content

    response = admin_client.post(reverse("goals:recalculate-all"), follow=True)
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


# --- No dead ends ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "back"),
    [
        ("goals:recalculate", "goal"),
        ("goals:adjust", "goal#adjust"),
        ("goals:auto", "goal"),
        ("goals:status", "goal"),
        ("goals:link", "goal#hierarchy"),
        ("goals:unlink", "goal#hierarchy"),
        ("goals:tree-link", "tree"),
        ("goals:tree-unlink", "tree"),
    ],
)
def test_every_goal_action_answers_a_get_with_the_page_it_belongs_to(
    supervisor_client, rep, name, back
):
    goal = make_goal(owner=rep.team)
    pages = {
        "goal": reverse("goals:goal-detail", args=[goal.pk]),
        "goal#adjust": reverse("goals:goal-detail", args=[goal.pk]) + "#adjust",
        "goal#hierarchy": reverse("goals:goal-detail", args=[goal.pk]) + "#hierarchy",
        "tree": reverse("goals:tree"),
    }
    url = reverse(name, args=[goal.pk])

    reloaded = supervisor_client.get(url)
    landed = supervisor_client.get(url, follow=True)
    put = supervisor_client.put(url)

    assert reloaded.status_code == 302 and reloaded["Location"] == pages[back]
    assert landed.status_code == 200
    assert put.status_code == 405
    assert Goal.objects.get(pk=goal.pk).status == "active"  # a GET changes nothing


@pytest.mark.parametrize(
    ("name", "query", "back"),
    [
        ("goals:plan-set", {}, "/goals/plan/"),
        ("goals:plan-set-year", {}, "/goals/plan/"),
        (
            "goals:plan-set",
            {"rep": "REP", "month": "2026-07"},
            "/goals/plan/?rep=REP&month=2026-07",
        ),
        ("goals:plan-defaults", {}, "/goals/compliance/"),
        ("goals:recalculate-all", {}, "/goals/analytics/"),
    ],
)
def test_every_plan_and_analytics_form_answers_a_get_with_its_page(
    admin_client, rep, name, query, back
):
    query = {key: str(rep.pk) if value == "REP" else value for key, value in query.items()}
    back = back.replace("REP", str(rep.pk))

    reloaded = admin_client.get(reverse(name), query)

    assert reloaded.status_code == 302 and reloaded["Location"] == back
    assert admin_client.get(reverse(name), query, follow=True).status_code == 200


def test_a_goal_action_refused_shows_the_goal_page_with_the_reason_and_done_redirects(
    supervisor_client, rep
):
    goal = make_goal(owner=rep.team)
    url = reverse("goals:status", args=[goal.pk])

    refused = supervisor_client.post(url, {"status": "active"})
    done = supervisor_client.post(url, {"status": "completed"})

    assert refused.status_code == 400
    assert refused.templates[0].name == "goals/goal_detail.html"
    assert "already active" in refused.content.decode()
    assert done.status_code == 302 and done["Location"] == reverse(
        "goals:goal-detail", args=[goal.pk]
    )


# --- Query counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [2, 12])
def test_a_goal_page_runs_a_fixed_number_of_queries(supervisor_client, team, rows, assert_queries):
    company = make_goal(owner=None, title="Company revenue")
    team_goal = make_goal(owner=team, title="Team revenue", parent=company)
    for index in range(rows):
        rep = SalesRepFactory(team=team)
        DealFactory(rep=rep, amount=Decimal(100), stage=DealStage.CLOSED_WON)
        make_goal(owner=rep, parent=team_goal, title=f"Rep {index}")
        GoalSnapshot.objects.create(
            goal=team_goal, date=timezone.localdate() - dt.timedelta(days=index + 1), value=index,
            percent=0,
        )  # fmt: skip
    make_goal(owner=None, title="Company revenue, again")  # another parent it could go under

    # session, user, the user's rep, their role; the goal; its history, its alert; may the
    # user change it, what counts, has it children, above it, below it, its audit trail, the
    # parents it could go under
    with assert_queries(15):  # the target's revisions included
        page = supervisor_client.get(reverse("goals:goal-detail", args=[team_goal.pk]))
    assert page.status_code == 200


@pytest.mark.parametrize("rows", [2, 12])
def test_the_tree_runs_a_fixed_number_of_queries(supervisor_client, team, rows, assert_queries):
    for index in range(rows):
        team_goal = make_goal(owner=team, title=f"Team {index}")
        make_goal(owner=SalesRepFactory(team=team), parent=team_goal, title=f"Rep {index}")
        make_goal(owner=SalesRepFactory(team=team), title=f"Loose {index}")

    # session, user, the user's rep, their role; the roots, the first goals below each (the rest
    # and the level below open on demand), the team goals a root could go under; what their
    # "as of" is read from (two grouped queries); which of them the user may change
    with assert_queries(10):
        tree = supervisor_client.get(reverse("goals:tree"))
    assert tree.status_code == 200


@pytest.mark.parametrize("rows", [2, 12])
def test_a_branch_of_the_tree_opens_on_demand_in_a_fixed_number_of_queries(
    supervisor_client, team, rows, assert_queries
):
    company = make_goal(owner=None, title="Company revenue")
    team_goal = make_goal(owner=team, title="Team revenue", parent=company)
    for index in range(rows):
        make_goal(owner=SalesRepFactory(team=team), parent=team_goal, title=f"Rep {index}")
    tree = supervisor_client.get(reverse("goals:tree")).content.decode()
    # The team goal is there, closed, with the way to its goals; they are not loaded yet.
    assert reverse("goals:tree-branch", args=[team_goal.pk]) in tree
    assert "Rep 0" not in tree

    # session, user, the user's rep, their role; the goal asked for; its goals; their "as of"
    # (two grouped queries); which of them the user may change
    with assert_queries(9):
        branch = supervisor_client.get(
            reverse("goals:tree-branch", args=[team_goal.pk]), {"status": "active"}, headers=HTMX
        )
    assert branch.status_code == 200
    assert branch.content.decode().count('class="tree-node"') == rows
    assert "Rep 0" in branch.content.decode()


def test_a_root_shows_its_first_goals_and_the_others_on_demand(supervisor_client, team):
    company = make_goal(owner=None, title="Company revenue")
    shown = selectors.CHILDREN_SHOWN
    for index in range(shown + 3):
        make_goal(
            owner=TeamFactory(manager=team.manager), parent=company, title=f"Branch {index:02}"
        )

    tree = supervisor_client.get(reverse("goals:tree")).content.decode()
    assert f"Branch {shown - 1:02}" in tree and f"Branch {shown:02}" not in tree
    assert "Show the other 3 goals below" in tree
    branch = supervisor_client.get(
        reverse("goals:tree-branch", args=[company.pk]), headers=HTMX
    ).content.decode()
    assert branch.count('class="tree-node"') == shown + 3


def test_a_branch_asked_for_as_a_page_is_the_goals_page_and_hidden_goals_are_not_found(
    supervisor_client, team
):
    other_team_goal = make_goal(owner=TeamFactory(), title="Theirs")
    team_goal = make_goal(owner=team, title="Team revenue")
    url = reverse("goals:tree-branch", args=[team_goal.pk])

    page = supervisor_client.get(url)
    assert page.status_code == 302
    assert page["Location"] == reverse("goals:goal-detail", args=[team_goal.pk]) + "#hierarchy"
    hidden = reverse("goals:tree-branch", args=[other_team_goal.pk])
    assert supervisor_client.get(hidden, headers=HTMX).status_code == 404


def test_the_audit_trail_reads_in_labels_with_the_choices_named(supervisor_client, rep):
    team_goal = make_goal(owner=rep.team, title="Team revenue", target=500)
    mine = make_goal(owner=rep, title="Mine", target=300, parent=team_goal)
    services.goal_adjust(
        actor=rep.user, goal_id=mine.pk, value=Decimal(120), justification="Cash at the fair"
    )
    services.goal_set_status(actor=rep.user, goal_id=mine.pk, status="completed")
    services.goal_update(actor=rep.team.manager, goal_id=mine.pk, title="Mine, corrected")

    page = supervisor_client.get(reverse("goals:goal-detail", args=[mine.pk])).content.decode()
    trail = page.split('id="audit"')[1]

    for line in (
        "Target: — → 300",
        "Metric: Revenue of won deals",
        f"Parent goal: — → {team_goal.pk}",
        "Value: 0.00 → 120.00",
        "Value source: Calculated → Set by hand",
        "Status: Active → Completed",
        "Title: Mine → Mine, corrected",
    ):
        assert line in trail, line
    for raw in ("target_value", "current_value", "calculation_source", "auto", "manual"):
        assert raw not in trail, raw


def test_the_breadcrumbs_name_each_goal_above_once(supervisor_client, rep, team):
    company = make_goal(owner=None, title="Company revenue")
    team_goal = make_goal(owner=team, title="Team revenue", parent=company)
    for other in range(3):  # the company goal has other goals below it
        make_goal(owner=SalesRepFactory(), title=f"Elsewhere {other}", parent=company)
    mine = make_goal(owner=rep, title="Mine", parent=team_goal)
    make_goal(owner=SalesRepFactory(team=team), title="Teammate's", parent=team_goal)

    page = supervisor_client.get(reverse("goals:goal-detail", args=[mine.pk]))

    assert [goal.pk for goal in page.context["ancestors"]] == [company.pk, team_goal.pk]
    crumbs = page.content.decode().split('class="breadcrumbs"')[1].split("</nav>")[0]
    assert crumbs.count("Company revenue") == 1 and crumbs.count("Team revenue") == 1


def test_the_edit_form_offers_only_parents_that_hold_the_goal_and_keeps_the_one_it_has(
    supervisor_client, rep_client, rep
):
    june = dt.date(2026, 6, 1)
    team_month = make_goal(owner=rep.team, start=june, title="Team June")
    team_quarter = make_goal(owner=rep.team, period_kind="quarter", start=june, title="Team Q2")
    make_goal(owner=rep.team, start=dt.date(2026, 7, 1), title="Team July")
    make_goal(owner=rep.team, metric="signups", start=june, title="Team signups")
    mine = make_goal(owner=rep, start=june, title="Mine", parent=team_month)
    url = reverse("goals:goal-edit", args=[mine.pk])
    form = {"title": "Mine, renamed", "target_value": "1000", "description": ""}

    offered = dict(supervisor_client.get(url).context["form"].fields["parent"].choices)
    moved = supervisor_client.post(url, {**form, "parent": team_quarter.pk})
    as_rep = rep_client.get(url).context["form"]  # who may not change the team's goals
    renamed = rep_client.post(url, {**form, "parent": team_quarter.pk})
    wrong = rep_client.post(url, {**form, "parent": team_month.pk})

    assert set(offered) == {"", team_month.pk, team_quarter.pk}
    assert offered[team_month.pk] == "Team June (" + str(rep.team) + ")"
    assert moved.status_code == 302 and Goal.objects.get(pk=mine.pk).parent_id == team_quarter.pk
    assert set(dict(as_rep.fields["parent"].choices)) == {"", team_quarter.pk}
    assert renamed.status_code == 302
    assert Goal.objects.get(pk=mine.pk).parent_id == team_quarter.pk  # kept, though not theirs
    assert wrong.status_code == 400 and "parent" in wrong.context["form"].errors


@pytest.mark.parametrize("odd", ["1.9", "1e309", "\x00", "-1", "9" * 30, "²", "[1]"])
def test_an_odd_parent_in_the_edit_form_is_a_field_error_never_a_500(supervisor_client, rep, odd):
    make_goal(owner=rep.team, title="Team revenue")  # a parent to choose: the field is there
    mine = make_goal(owner=rep, title="Mine")
    url = reverse("goals:goal-edit", args=[mine.pk])
    form = {"title": "Mine", "target_value": "1000", "description": "", "parent": odd}

    response = supervisor_client.post(url, form)

    assert response.status_code == 400 and "parent" in response.context["form"].errors
    assert Goal.objects.get(pk=mine.pk).parent_id is None


def test_the_edit_form_has_no_parent_control_when_there_is_nothing_to_choose(rep_client, rep):
    mine = make_goal(owner=rep, title="Mine")
    url = reverse("goals:goal-edit", args=[mine.pk])

    page = rep_client.get(url)
    saved = rep_client.post(url, {"title": "Mine, renamed", "target_value": "1000"})

    assert "parent" not in page.context["form"].fields
    assert saved.status_code == 302 and Goal.objects.get(pk=mine.pk).title == "Mine, renamed"


def test_saving_the_edit_form_keeps_a_parent_the_editor_does_not_see(rep, other_rep):
    old_team_goal = make_goal(owner=rep.team, title="Old team's secret goal")
    mine = make_goal(owner=rep, title="Mine", parent=old_team_goal)
    rep.team = other_rep.team  # moved: the new supervisor changes the goal, not the old team's
    rep.save()
    make_goal(owner=other_rep.team, title="New team's revenue")  # a parent they could choose
    url = reverse("goals:goal-edit", args=[mine.pk])
    client = signed_in(other_rep.team.manager)

    page = client.get(url)
    # What a browser sends when the select holds no option for the parent: the first one, "".
    saved = client.post(
        url, {"title": "Mine, renamed", "target_value": "1000", "description": "", "parent": ""}
    )

    assert saved.status_code == 302
    mine.refresh_from_db()
    assert (mine.title, mine.parent_id) == ("Mine, renamed", old_team_goal.pk)
    field = page.context["form"].fields["parent"]
    assert field.disabled and dict(field.choices) == {old_team_goal.pk: "A goal you do not see"}
    assert "Old team's secret goal" not in page.content.decode()


def test_the_edit_form_passes_the_parent_on_only_when_it_was_changed(supervisor_client, rep):
    team_goal = make_goal(owner=rep.team, title="Team revenue")
    mine = make_goal(owner=rep, title="Mine", parent=team_goal)
    url = reverse("goals:goal-edit", args=[mine.pk])
    form = {"title": "Mine", "target_value": "1000", "description": ""}

    supervisor_client.post(url, {**form, "title": "Mine, renamed", "parent": team_goal.pk})
    trail = AuditEntry.objects.filter(target_type="goals.goal", target_id=str(mine.pk))
    entries = list(trail.values_list("action", flat=True))
    unlinked = supervisor_client.post(url, {**form, "parent": ""})

    assert "goal.unlink" not in entries and "goal.link" in entries  # the link when it was made
    assert unlinked.status_code == 302 and Goal.objects.get(pk=mine.pk).parent_id is None


def test_the_edit_form_renames_a_plan_goal_and_a_parent_whose_target_it_shows_unchanged(
    supervisor_client, rep
):
    plans.plan_set(actor=rep.user, signup_goal=2, revenue_goal=Decimal(900), bonus_tier_goal=0)
    plan_goal = Goal.objects.get(plan__rep=rep, plan__month__isnull=False, metric="revenue")
    team_goal = make_goal(owner=rep.team, title="Team revenue", target=500)
    make_goal(owner=rep, title="Mine", target=300, parent=team_goal)

    renamed = {}
    for goal, title in ((plan_goal, "Revenue, with the fair"), (team_goal, "Team revenue, all")):
        url = reverse("goals:goal-edit", args=[goal.pk])
        form = supervisor_client.get(url).context["form"]
        # The form as it came, the title changed: its target goes back as it was shown.
        data = {name: form[name].value() or "" for name in form.fields if name != "parent"}
        renamed[goal.pk] = supervisor_client.post(url, {**data, "title": title})

    assert {answer.status_code for answer in renamed.values()} == {302}
    assert Goal.objects.get(pk=plan_goal.pk).title == "Revenue, with the fair"
    assert Goal.objects.get(pk=team_goal.pk).title == "Team revenue, all"
    with pytest.raises(ValidationError) as refused:  # a target that does change still may not
        services.goal_update(actor=SETUP, goal_id=plan_goal.pk, target_value=Decimal(901))
    assert refused.value.messages == [services.PLAN_GOAL_FIXED]


def test_counts_read_whole_and_money_to_the_cent_on_the_page_and_in_csv(supervisor_client, rep):
    signups = make_goal(owner=rep, metric="signups", title="Signups", target=12)
    revenue = make_goal(owner=rep, metric="revenue", title="Revenue", target=1500)
    services.goal_adjust(
        actor=rep.team.manager, goal_id=signups.pk, value=Decimal(3), justification="Paper forms"
    )

    page = supervisor_client.get(reverse("goals:goal-detail", args=[signups.pk])).content.decode()
    money = supervisor_client.get(reverse("goals:goal-detail", args=[revenue.pk])).content.decode()
    export = b"".join(supervisor_client.get(reverse("goals:export")).streaming_content).decode()

    assert "Value: 0 → 3" in page.split('id="audit"')[1]
    assert "Target: — → 12" in page.split('id="audit"')[1]
    assert '3 <span class="muted">of 12</span>' in page
    assert '0.00 <span class="muted">of 1,500.00</span>' in money
    rows = {line.split(",")[1]: line.split(",") for line in export.splitlines()[1:]}
    assert rows["Signups"][7:9] == ["12", "3"]
    assert rows["Revenue"][7:9] == ["1500.00", "0.00"]

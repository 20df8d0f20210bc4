"""Every computed figure says when it was counted, with its zone, and is marked stale once the
CRM is late recounting it (the fallback interval plus 5 minutes): on the pages, in the API
(`as_of`, `stale`) and in the CSV exports. A sum is as fresh as its oldest part; a value set by
hand or a closed goal's is never stale."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse

from crm.jobs.registry import get_job
from crm.roles import SystemActor
from goals import selectors, services
from goals.models import Goal, GoalStatus
from goals.plans import services as plans
from goals.tests.factories import SETUP, make_goal

pytestmark = pytest.mark.django_db

NINE = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)  # 10:00 CET
FRESH = NINE + dt.timedelta(minutes=19)
LATE = NINE + dt.timedelta(minutes=21)
GOALS = "/api/goals/"


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_stale_is_the_fallback_jobs_interval_plus_five_minutes():
    schedule = get_job(services.RECALCULATE_ALL).schedule
    assert schedule.minute == set(range(0, 60, 15))  # every FALLBACK_INTERVAL
    assert selectors.FALLBACK_INTERVAL + dt.timedelta(minutes=5) == selectors.STALE_AFTER
    assert dt.timedelta(minutes=15) == selectors.FALLBACK_INTERVAL
    assert not selectors.is_stale(NINE, now=FRESH)
    assert selectors.is_stale(NINE, now=LATE)
    assert selectors.is_stale(None, now=NINE)


def test_a_goal_counted_19_minutes_ago_is_fresh_and_21_minutes_ago_stale_in_the_list(
    rep_client, rep
):
    with time_machine.travel(NINE, tick=False):
        goal = make_goal(owner=rep, start=NINE.date())
    with time_machine.travel(FRESH, tick=False):
        fresh = rep_client.get(reverse("goals:goal-list")).content.decode()
    with time_machine.travel(LATE, tick=False):
        late = rep_client.get(reverse("goals:goal-list")).content.decode()
        page = rep_client.get(reverse("goals:goal-detail", args=[goal.pk])).content.decode()

    assert "as of 10:00 CET" in fresh and "Stale" not in fresh
    assert "as of 10:00 CET" in late and "Stale" in late
    live = page.split('id="goal-progress"')[1].split("</section>")[0]
    assert "as of 10:00 CET" in live and "Stale" in live


def test_a_value_set_by_hand_and_a_closed_goal_are_never_stale(rep):
    with time_machine.travel(NINE, tick=False):
        manual = make_goal(owner=rep, source="manual", start=NINE.date())
        closed = make_goal(owner=rep, start=NINE.date(), title="Closed")
        services.goal_set_status(actor=SETUP, goal_id=closed.pk, status=GoalStatus.COMPLETED)
    with time_machine.travel(NINE + dt.timedelta(days=2), tick=False):
        shown = {g.pk: selectors.goal_as_of(g) for g in selectors.goal_list(user=SETUP)}

    assert not shown[manual.pk].stale and shown[manual.pk].moment == NINE
    assert not shown[closed.pk].stale


def test_a_sum_is_as_of_its_oldest_part_not_when_it_last_moved(rep, team):
    with time_machine.travel(NINE, tick=False):
        parent = make_goal(owner=team, start=NINE.date())
        mine = make_goal(owner=rep, start=NINE.date(), parent=parent)
    later = NINE + dt.timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        # Counted again at the same value: the parent's sums do not move.
        services.goals_recalculate(goals=Goal.objects.filter(pk=mine.pk), actor=SystemActor("t"))
        shown = {g.pk: selectors.goal_as_of(g) for g in selectors.goal_list(user=SETUP)}

    assert Goal.objects.get(pk=parent.pk).last_calculated_at < later  # its sums did not move
    assert shown[parent.pk] == selectors.AsOf(later, stale=False)
    assert shown[mine.pk] == selectors.AsOf(later, stale=False)


def test_the_api_says_as_of_and_stale_for_goals_forecasts_trees_and_analytics(rep, rep_api):
    with time_machine.travel(NINE, tick=False):
        goal = make_goal(owner=rep, start=NINE.date())
    with time_machine.travel(LATE, tick=False):
        one = rep_api.get(f"{GOALS}{goal.pk}/").json()
        forecast = rep_api.get(f"{GOALS}{goal.pk}/forecast/").json()
        tree = rep_api.get(f"{GOALS}{goal.pk}/hierarchy/").json()
        figures = rep_api.get(f"{GOALS}analytics/").json()

    assert one["as_of"] == one["last_calculated_at"] and one["stale"] is True
    assert (forecast["as_of"], forecast["stale"]) == (one["as_of"], True)
    assert (tree["goal"]["as_of"], tree["goal"]["stale"]) == (one["as_of"], True)
    assert (figures["as_of"], figures["stale"]) == (one["as_of"], True)


def test_a_plans_figures_say_as_of_on_the_card_in_the_api_and_in_compliance(
    rep, rep_api, supervisor_client
):
    with time_machine.travel(NINE, tick=False):
        plans.plans_create(year=2026, month=12, rep_ids=[rep.pk])
        plans.plan_set(actor=rep.user, signup_goal=3, revenue_goal=1000, bonus_tier_goal=1)
        services.goals_recalculate(goals=Goal.objects.all(), actor=SystemActor("t"))
    with time_machine.travel(LATE, tick=False):
        current = rep_api.get(f"{GOALS}monthly/current").json()["results"][0]
        listed = supervisor_client.get(reverse("goals:compliance-list")).content.decode()
        exported = _csv(supervisor_client.get(reverse("goals:compliance-export")))

    assert current["as_of"].startswith("2026-12-06T") and current["stale"] is True
    row = listed.split(f'id="plan-{current["id"]}"')[1].split("</tr>")[0]
    assert "as of 09:00 UTC" in row and "Stale" in row
    assert exported[0]["figures as of"] == "2026-12-06T09:00:00+00:00"
    assert exported[0]["stale"] == "stale"


def test_the_goals_and_analytics_csv_carry_as_of(rep, rep_client):
    with time_machine.travel(NINE, tick=False):
        make_goal(owner=rep, start=NINE.date())
    with time_machine.travel(FRESH, tick=False):
        goals = _csv(rep_client.get(reverse("goals:export")))
        analytics = _csv(rep_client.get(reverse("goals:analytics-export")))
        page = rep_client.get(reverse("goals:analytics")).content.decode()

    assert (goals[0]["as of"], goals[0]["stale"]) == ("2026-12-06T10:00:00+01:00", "")
    as_of = next(row for row in analytics if row["name"] == "as_of")
    assert as_of["value"] == "2026-12-06T10:00:00+01:00"
    assert "Figures as of 10:00 CET" in page


def test_the_tree_and_the_goals_below_say_as_of(rep, team, supervisor_client):
    with time_machine.travel(NINE, tick=False):
        parent = make_goal(owner=team, start=NINE.date(), title="Team")
        make_goal(owner=rep, start=NINE.date(), parent=parent, title="Mine")
    with time_machine.travel(FRESH, tick=False):
        tree = supervisor_client.get(reverse("goals:tree")).content.decode()
        page = supervisor_client.get(reverse("goals:goal-detail", args=[parent.pk]))

    # (A supervisor reads moments in the company's zone, UTC here.)
    assert tree.count("as of 09:00 UTC") == 2
    below = page.content.decode().split('id="hierarchy"')[1]
    assert "as of 09:00 UTC" in below

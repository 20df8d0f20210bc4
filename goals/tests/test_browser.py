"""The goals pages in Debian's Chromium (Playwright): a goal at 1 of 3 reads one verdict on its
page and in the list, its pace and projection agree, its chart ends at its value; a supervisor
links a rep goal under a team goal in the tree; a manual adjustment is refused then accepted; a
deal won in one tab moves the bar in another without a reload; every goals page fits a phone,
passes the accessibility check and keeps to the CSP."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from playwright.sync_api import expect

from crm.models import CustomerStatus, DealStage
from crm.periods import format_moment, zone_named
from crm.roles import SystemActor
from crm.testing.browser import DESKTOP, PHONE, open_page, page_problems
from crm.tests.factories import CustomerFactory, DealFactory, SalesRepFactory, UserFactory
from goals import services
from goals.models import Goal, GoalAlert, GoalSnapshot
from goals.tests.factories import make_goal

pytestmark = pytest.mark.browser


@pytest.fixture
def goals_floor(role_groups):
    rep = SalesRepFactory()
    customer = CustomerFactory(owner=rep)
    DealFactory(rep=rep, customer=customer, amount=Decimal(400), stage=DealStage.CLOSED_WON)
    team_goal = make_goal(owner=rep.team, title="Team revenue", target=5000)
    rep_goal = make_goal(owner=rep, title="My revenue", target=1000)
    return {"rep": rep, "customer": customer, "team_goal": team_goal, "rep_goal": rep_goal}


DEC_6 = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_goal_at_1_of_3_reads_one_verdict_everywhere_and_its_chart_ends_at_its_value(
    chromium, live_server, role_groups, device
):
    with time_machine.travel(DEC_6):
        rep = SalesRepFactory(timezone="UTC")
        goal = make_goal(
            owner=rep, metric="signups", target=3, start=dt.date(2026, 12, 1), title="Signups"
        )
        CustomerFactory(
            owner=rep, status=CustomerStatus.ACTIVE,
            signed_up_at=dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC),
        )  # fmt: skip
        services.goals_recalculate(goals=Goal.objects.filter(pk=goal.pk), actor=SystemActor("t"))
        # Snapshots of some days only (none on the 3rd and 4th), and an alert from before the
        # signup that the daily job has not cleared yet.
        for day, value in ((1, 0), (2, 0), (5, 1)):
            GoalSnapshot.objects.create(
                goal=goal, date=dt.date(2026, 12, day), value=value, percent=0
            )
        GoalAlert.objects.create(goal=goal, raised_at=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))

        browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, rep.user)
        page = browser_page.page
        page.goto(live_server.url + reverse("goals:goal-detail", args=[goal.pk]))

        progress = page.locator("#goal-progress")
        expect(progress).to_contain_text("1 of 3")
        expect(progress).to_contain_text("as of")
        expect(progress.locator(".badge")).to_have_text("On track")
        expect(page.locator("main")).not_to_contain_text("Off track")
        # One velocity: about 1 signup a week from the 1st, so about 6 by the 31st.
        expect(progress).to_contain_text("about 1 signup a week")
        expect(progress).to_contain_text("6 signups by 31 Dec")
        expect(progress).to_contain_text("2 more signups by the 31st")

        history = page.locator("#goal-history")
        expect(history).to_contain_text("to 1.00 on 6 Dec")
        points = history.locator("polyline.series").get_attribute("points").split()
        end = history.locator("circle.series-end")
        # The recorded days and today, nothing drawn for the days without a snapshot; the line
        # ends at 1 (a third of the way up to the target of 3), not at 0.
        assert len(points) == 4
        assert points[-1] == f"{end.get_attribute('cx')},{end.get_attribute('cy')}"
        assert float(end.get_attribute("cy")) == 132.0  # 1 of 3 above the axis at 192

        page.goto(live_server.url + reverse("goals:goal-list"))
        expect(page.locator(f"#goal-{goal.pk}")).to_contain_text("On track")
        expect(page.locator(f"#goal-{goal.pk}")).not_to_contain_text("Off track")
        assert browser_page.errors == []


def test_a_supervisor_links_a_rep_goal_in_the_tree_and_the_team_goal_moves(
    chromium, live_server, goals_floor
):
    page = open_page(chromium, DESKTOP, goals_floor["rep"].team.manager).page
    team_goal, rep_goal = goals_floor["team_goal"], goals_floor["rep_goal"]
    page.goto(live_server.url + reverse("goals:tree"))
    team_node = page.locator(f"#node-{team_goal.pk}")
    expect(team_node.locator(".tree-figures").first).to_contain_text("400.00 of 5,000.00")

    rep_node = page.locator(f"#node-{rep_goal.pk}")
    rep_node.get_by_label(f"Put {rep_goal.title} under").select_option(str(team_goal.pk))
    rep_node.get_by_role("button", name="Link").click()

    team_node = page.locator(f"#node-{team_goal.pk}")
    # The team goal is now the sum of the goals under it: 400.00 of 1,000.00.
    expect(team_node.locator(".tree-figures").first).to_contain_text("400.00 of 1,000.00")
    expect(team_node.locator(f"#node-{rep_goal.pk}")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("Linked")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_third_level_of_the_tree_opens_on_demand(chromium, live_server, goals_floor, device):
    rep = goals_floor["rep"]
    company = make_goal(owner=None, title="Company revenue", target=20000)
    team_goal, rep_goal = goals_floor["team_goal"], goals_floor["rep_goal"]
    for child, parent in ((team_goal, company), (rep_goal, team_goal)):
        services.goal_link_parent(actor=SystemActor("t"), goal_id=child.pk, parent=parent)
    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, rep.team.manager)
    page = browser_page.page
    page.goto(live_server.url + reverse("goals:tree"))

    team_node = page.locator(f"#node-{team_goal.pk}")
    expect(team_node).to_contain_text("Team revenue")
    expect(page.locator(f"#node-{rep_goal.pk}")).to_have_count(0)  # not loaded yet
    team_node.locator("summary").first.click()
    rep_node = team_node.locator(f"#node-{rep_goal.pk}")
    expect(rep_node).to_contain_text("My revenue")
    expect(rep_node).to_contain_text("400.00 of 1,000.00")
    expect(rep_node).to_contain_text("as of")
    expect(rep_node.get_by_role("button", name="Unlink")).to_be_visible()
    page.reload()  # closed again, and opens again
    page.locator(f"#node-{team_goal.pk} summary").first.click()
    expect(page.locator(f"#node-{rep_goal.pk}")).to_contain_text("My revenue")
    assert browser_page.errors == []


def test_a_manual_adjustment_is_refused_then_accepted_in_the_page(
    chromium, live_server, goals_floor
):
    browser_page = open_page(chromium, DESKTOP, goals_floor["rep"].user)
    page = browser_page.page
    goal = goals_floor["rep_goal"]
    page.goto(live_server.url + reverse("goals:goal-detail", args=[goal.pk]))
    expect(page.locator("#goal-progress")).to_contain_text("40%")

    page.get_by_text("Adjust the value by hand").click()
    page.get_by_label("New value").fill("750")
    page.get_by_label("Why").fill("too short")
    page.get_by_role("button", name="Set value").click()
    expect(page.locator("#adjust")).to_contain_text("at least 10 characters")
    expect(page.locator("#goal-progress")).to_contain_text("40%")

    page.get_by_label("Why").fill("Cash sales at the trade fair")
    page.get_by_role("button", name="Set value").click()

    expect(page.locator("#goal-progress")).to_contain_text("75%")
    expect(page.locator("#audit")).to_contain_text("Cash sales at the trade fair")
    assert [e for e in browser_page.errors if "status of 400" not in e] == []


def test_a_deal_won_in_one_tab_moves_the_bar_in_another(
    chromium, live_server, goals_floor, eager_celery, settings
):
    settings.LIVE_REFRESH_SECONDS = 1
    rep, goal = goals_floor["rep"], goals_floor["rep_goal"]
    deal = DealFactory(
        rep=rep, customer=goals_floor["customer"], title="Ovens", amount=Decimal(350)
    )
    watching = open_page(chromium, DESKTOP, rep.user).page
    working = open_page(chromium, DESKTOP, rep.user).page
    watching.goto(live_server.url + reverse("goals:goal-detail", args=[goal.pk]))
    expect(watching.locator("#goal-progress")).to_contain_text("40%")
    watching.evaluate("window.__sameDocument = true")

    working.goto(live_server.url + reverse("deal-list"))
    working.once("dialog", lambda dialog: dialog.accept())  # "Won" asks first
    working.locator(f"#deal-{deal.pk}").get_by_role("button", name="Won").click()
    expect(working.locator(f"#deal-{deal.pk}")).to_contain_text("Closed won")

    expect(watching.locator("#goal-progress")).to_contain_text("75%", timeout=15_000)
    assert watching.evaluate("window.__sameDocument") is True  # no reload


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_figure_shows_its_as_of_time_and_turns_stale_without_a_reload(
    chromium, live_server, goals_floor, settings, device
):
    settings.LIVE_REFRESH_SECONDS = 1
    rep, goal = goals_floor["rep"], goals_floor["rep_goal"]
    counted = Goal.objects.get(pk=goal.pk).last_calculated_at
    shown = format_moment(counted, "H:i", zone=zone_named(rep.timezone))
    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, rep.user)
    page = browser_page.page
    page.goto(live_server.url + reverse("goals:goal-detail", args=[goal.pk]))
    progress = page.locator("#goal-progress")
    # (After midnight the note also names the day: "as of 6 Dec, 23:36 CET".)
    expect(progress.locator(".as-of")).to_contain_text(shown)
    expect(progress).not_to_contain_text("Stale")
    page.evaluate("window.__sameDocument = true")

    # Neither an event nor the fallback job counted it for 25 minutes.
    late = counted - dt.timedelta(minutes=25)
    Goal.objects.filter(pk=goal.pk).update(last_calculated_at=late)

    late_shown = format_moment(late, "H:i", zone=zone_named(rep.timezone))
    expect(progress.locator(".as-of")).to_contain_text(late_shown, timeout=15_000)
    expect(progress.locator(".as-of .badge")).to_have_text("Stale")
    assert page.evaluate("window.__sameDocument") is True  # no reload

    page.goto(live_server.url + reverse("goals:goal-list"))
    row = page.locator(f"#goal-{goal.pk}")
    expect(row.locator(".as-of")).to_contain_text(late_shown)
    expect(row.locator(".as-of .badge")).to_have_text("Stale")
    expect(page.locator(f"#goal-{goals_floor['team_goal'].pk}")).not_to_contain_text("Stale")
    assert browser_page.errors == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_target_changed_after_the_start_asks_why_then_shows_both_targets(
    chromium, live_server, goals_floor, device
):
    rep, goal = goals_floor["rep"], goals_floor["rep_goal"]  # this month's: it has started
    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, rep.user)
    page = browser_page.page
    page.goto(live_server.url + reverse("goals:goal-edit", args=[goal.pk]))
    page.get_by_label("Target", exact=True).fill("800")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("Say why the target changes")

    page.get_by_label("Why the target changes").fill("\u200b" * 12)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("at least 10 characters")

    page.get_by_label("Why the target changes").fill("The trade fair was cancelled.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#messages")).to_contain_text("Goal saved.")
    targets = page.locator("#goal-progress .targets")
    expect(targets).to_contain_text("Current target800.00")
    expect(targets).to_contain_text("Original target1,000.00")
    expect(page.locator("#revisions")).to_contain_text("1,000.00 → 800.00")
    expect(page.locator("#revisions")).to_contain_text("The trade fair was cancelled.")
    assert [e for e in browser_page.errors if "status of 400" not in e] == []
    url = reverse("goals:goal-detail", args=[goal.pk])
    assert page_problems(chromium, live_server.url, device, [(rep.user, "revised", url)]) == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_goals_page_fits_the_screen_and_passes_the_accessibility_check(
    chromium, live_server, goals_floor, device
):
    rep, team_goal = goals_floor["rep"], goals_floor["team_goal"]
    make_goal(owner=None, title="Company revenue", target=20000)
    pages = [
        (rep.user, "goals", reverse("goals:goal-list")),
        (rep.user, "goal", reverse("goals:goal-detail", args=[goals_floor["rep_goal"].pk])),
        (rep.user, "new-goal", reverse("goals:goal-create")),
        (rep.team.manager, "tree", reverse("goals:tree")),
        (rep.team.manager, "team-goal", reverse("goals:goal-detail", args=[team_goal.pk])),
        (rep.team.manager, "analytics", reverse("goals:analytics")),
        (UserFactory(is_staff=True, is_superuser=True), "admin-goals", reverse("goals:goal-list")),
    ]
    admin = UserFactory(is_staff=True, is_superuser=True)
    services.goals_check(actor=SystemActor("job:check_goals"), email=False)
    pages.append((admin, "admin-analytics", reverse("goals:analytics")))
    assert page_problems(chromium, live_server.url, device, pages) == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_an_admin_reads_the_last_consistency_check_on_the_analytics_page(
    chromium, live_server, goals_floor, device
):
    rep_goal = goals_floor["rep_goal"]
    Goal.objects.filter(pk=rep_goal.pk).update(current_value=Decimal(5))  # behind the events
    check = services.goals_check(actor=SystemActor("job:check_goals"), repair=True, email=False)
    assert (check.differences, check.repaired) == (1, 1)
    admin = UserFactory(is_staff=True, is_superuser=True)

    page = open_page(chromium, PHONE if device == "phone" else DESKTOP, admin).page
    page.goto(f"{live_server.url}{reverse('goals:analytics')}")

    notice = page.locator("[data-goal-check]")
    expect(notice).to_contain_text("Last consistency check")
    expect(notice).to_contain_text(f"1 difference in {check.goals_checked} goals, 1 repaired")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_supervisor_renames_the_goal_of_a_rep_who_moved_teams_and_it_stays_linked(
    chromium, live_server, role_groups, device
):
    rep, newcomer_team_rep = SalesRepFactory(), SalesRepFactory()
    old_team_goal = make_goal(owner=rep.team, title="Old team's revenue")
    mine = make_goal(owner=rep, title="My revenue", parent=old_team_goal)
    rep.team = newcomer_team_rep.team  # moved: the new team's supervisor now manages the goal
    rep.save()
    make_goal(owner=rep.team, title="New team's revenue")  # a parent they could choose
    supervisor = rep.team.manager
    edit = reverse("goals:goal-edit", args=[mine.pk])

    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, supervisor)
    page = browser_page.page
    page.goto(live_server.url + edit)
    parent = page.get_by_label("Counts toward")
    expect(parent).to_be_disabled()
    expect(parent).to_contain_text("A goal you do not see")
    expect(page.locator("main")).not_to_contain_text("Old team's revenue")
    page.get_by_label("Title").fill("Ovens and fridges")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#messages")).to_contain_text("Goal saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ovens and fridges")
    expect(page.locator("#hierarchy")).to_contain_text("Counts toward a goal you do not see.")
    assert Goal.objects.get(pk=mine.pk).parent_id == old_team_goal.pk
    assert browser_page.errors == []
    assert page_problems(chromium, live_server.url, device, [(supervisor, "edit-goal", edit)]) == []

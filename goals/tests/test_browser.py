"""The goals pages in Debian's Chromium (Playwright): a supervisor links a rep goal under a team
goal in the tree; a manual adjustment is refused then accepted; a deal won in one tab moves the
bar in another without a reload; every goals page fits a phone, passes the accessibility check
and keeps to the CSP."""

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.models import DealStage
from crm.testing.browser import DESKTOP, open_page, page_problems
from crm.tests.factories import CustomerFactory, DealFactory, SalesRepFactory, UserFactory
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


def test_a_supervisor_links_a_rep_goal_in_the_tree_and_the_team_goal_moves(
    chromium, live_server, goals_floor
):
    page = open_page(chromium, DESKTOP, goals_floor["rep"].team.manager).page
    team_goal, rep_goal = goals_floor["team_goal"], goals_floor["rep_goal"]
    page.goto(live_server.url + reverse("goals:tree"))
    team_node = page.locator(f"#node-{team_goal.pk}")
    expect(team_node.locator(".tree-figures").first).to_contain_text("400 of 5,000")

    rep_node = page.locator(f"#node-{rep_goal.pk}")
    rep_node.get_by_label(f"Put {rep_goal.title} under").select_option(str(team_goal.pk))
    rep_node.get_by_role("button", name="Link").click()

    team_node = page.locator(f"#node-{team_goal.pk}")
    # The team goal is now the sum of the goals under it: 400 of 1,000.
    expect(team_node.locator(".tree-figures").first).to_contain_text("400 of 1,000")
    expect(team_node.locator(f"#node-{rep_goal.pk}")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("Linked")


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
    working.locator(f"#deal-{deal.pk}").get_by_role("button", name="Won").click()
    expect(working.locator(f"#deal-{deal.pk}")).to_contain_text("Closed won")

    expect(watching.locator("#goal-progress")).to_contain_text("75%", timeout=15_000)
    assert watching.evaluate("window.__sameDocument") is True  # no reload


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
    assert page_problems(chromium, live_server.url, device, pages) == []

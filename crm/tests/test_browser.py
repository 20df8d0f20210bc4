"""The pages in a real browser: headless Debian Chromium driven by Playwright, against
pytest-django's live server. The htmx actions work end to end; every core page fits a 390 px phone
held in one hand, passes an accessibility check (axe-core) and breaks no Content-Security-Policy
rule, on the phone and on the desktop. The reps' everyday journeys: adding a customer and signing
them up, winning a deal and taking it back, with the home page following in another tab."""

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from playwright.sync_api import expect

from crm import services
from crm.models import Activity, ActivityStatus, Customer, CustomerStatus, Deal, DealStage, Task
from crm.testing.browser import ARTIFACTS, DESKTOP, PHONE, check_page, open_page
from crm.tests.factories import (
    PASSWORD,
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    SalesRepFactory,
    TaskFactory,
    UserFactory,
)
from goals.plans import services as plans

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(chromium):
    return open_page(chromium, DESKTOP)


@pytest.fixture
def browser_rep(role_groups):
    return SalesRepFactory()


def log_in(page, live_server, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_rep_marks_a_deal_won_in_place(browser, live_server, browser_rep):
    customer = CustomerFactory(owner=browser_rep, name="Panadería Sol")
    DealFactory(rep=browser_rep, customer=customer, title="Ovens", amount=Decimal("8400.00"))
    deal = DealFactory(
        rep=browser_rep, customer=customer, title="Flour, spring", amount=Decimal("1250.50")
    )
    DealFactory(rep=browser_rep, title="Old contract", stage=DealStage.CLOSED_LOST)
    page = browser.page

    # Opening the list while logged out goes through the login form and back to the list.
    page.goto(live_server.url + reverse("deal-list"))
    log_in(page, live_server, browser_rep.user.username)
    expect(page).to_have_url(live_server.url + reverse("deal-list"))

    row = page.locator(f"#deal-{deal.pk}")
    expect(row).to_contain_text("Prospecting")
    # A full page load would drop this marker; an htmx swap keeps it.
    page.evaluate("window.__sameDocument = true")

    page.once("dialog", lambda dialog: dialog.accept())  # "Mark … as won?"
    row.get_by_role("button", name="Won").click()

    expect(row).to_contain_text("Closed won")
    expect(row.get_by_role("button", name="Won")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON
    assert deal.closed_at is not None

    page.reload()
    expect(page.locator(f"#deal-{deal.pk}")).to_contain_text("Closed won")
    assert page.evaluate("window.__sameDocument") is None
    assert Deal.objects.filter(stage=DealStage.CLOSED_WON).count() == 1
    assert browser.errors == []
    assert browser.csp_violations() == []


def test_marking_a_deal_won_asks_first(chromium, live_server, browser_rep):
    deal = DealFactory(rep=browser_rep, title="Ovens")
    page = open_page(chromium, DESKTOP, browser_rep.user).page
    page.goto(live_server.url + reverse("deal-list"))
    row = page.locator(f"#deal-{deal.pk}")

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.get_by_role("button", name="Won").click()
    expect(row).to_contain_text("Prospecting")
    assert asked == ["Mark “Ovens” as won?"]
    deal.refresh_from_db()
    assert deal.stage == DealStage.PROSPECTING


def test_marking_a_deal_lost_asks_first(chromium, live_server, browser_rep):
    deal = DealFactory(rep=browser_rep, title="Ovens")
    page = open_page(chromium, DESKTOP, browser_rep.user).page
    page.goto(live_server.url + reverse("deal-list"))
    row = page.locator(f"#deal-{deal.pk}")

    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Lost").click()
    expect(row).to_contain_text("Prospecting")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Lost").click()
    expect(row).to_contain_text("Closed lost")
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_LOST


def test_stale_row_shows_why_the_deal_cannot_be_closed(chromium, live_server, browser_rep):
    browser = open_page(chromium, DESKTOP, browser_rep.user)
    deal = DealFactory(rep=browser_rep, title="Ovens")
    page = browser.page
    page.goto(live_server.url + reverse("deal-list"))
    row = page.locator(f"#deal-{deal.pk}")
    expect(row).to_contain_text("Prospecting")

    # Someone else wins the deal while this page is open.
    services.deal_close(actor=browser_rep.user, deal_id=deal.pk, won=True)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Won").click()

    # The 400 answer is swapped in (htmx-config in base.html): the row shows the deal as it is
    # now and the reason, and htmx reports no error.
    expect(row).to_contain_text(services.DEAL_ALREADY_CLOSED)
    expect(row).to_contain_text("Closed won")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "deal-list-stale-row.png", full_page=True)
    # Chromium itself logs every 4xx response; anything else would be a real error.
    assert [e for e in browser.errors if "status of 400" not in e] == []


# --- A phone held in one hand -----------------------------------------------------------------


def test_on_a_phone_a_rep_opens_the_menu_and_wins_a_deal_from_its_card(
    chromium, live_server, browser_rep
):
    customer = CustomerFactory(owner=browser_rep, name="Ferretería Luna del Norte")
    deal = DealFactory(
        rep=browser_rep,
        customer=customer,
        title="Shelving for the new branch, phase two",
        amount=Decimal("12500.00"),
    )
    DealFactory.create_batch(3, rep=browser_rep, customer=customer)
    phone = open_page(chromium, PHONE)
    page = phone.page

    page.goto(live_server.url + reverse("login"))
    log_in(page, live_server, browser_rep.user.username)
    expect(page.get_by_role("heading", name="Your work")).to_be_visible()

    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(page.get_by_role("link", name="Deals")).to_be_hidden()  # folded away
    menu.tap()
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="Deals").tap()

    expect(page.get_by_role("heading", name="Deals")).to_be_visible()
    card = page.locator(f"#deal-{deal.pk}")
    expect(card).to_contain_text("12,500.00")
    won = card.get_by_role("button", name="Won")
    won.scroll_into_view_if_needed()
    box = won.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    # The page's main action waits in the bar at the bottom, within a thumb's reach.
    new_deal = page.get_by_role("link", name="New deal")
    expect(new_deal).to_be_in_viewport()
    assert new_deal.bounding_box()["y"] > 844 - 100

    page.once("dialog", lambda dialog: dialog.accept())
    won.tap()

    expect(card).to_contain_text("Closed won")
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON
    report = check_page(phone, screenshot="phone-deal-list")
    assert report.problems == []
    assert phone.errors == []


# --- The reps' everyday journeys, with the home page following ---------------------------------

ON_TIME = dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC)
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture
def planning_rep(role_groups, eager_celery, settings):
    """A rep with this month's plan set (3 signups, 2,000 revenue); the pages refresh every
    second, and goals are recalculated in the writing request (no worker)."""
    settings.LIVE_REFRESH_SECONDS = 1
    with time_machine.travel(ON_TIME):
        rep = SalesRepFactory(timezone="UTC")
        plans.plans_create(year=2026, month=12)
        plans.plan_set(actor=rep.user, signup_goal=3, revenue_goal=Decimal(2000), bonus_tier_goal=1)
        yield rep


def figure(page, label: str):
    """One bar of the goal card on the home page."""
    return page.locator("#plan-card .plan-figure", has_text=label)


def tile(page, label: str):
    """One of the home page's four figures."""
    return page.locator("#summary .card", has_text=label).locator(".card-value")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_rep_adds_a_customer_signs_them_up_and_the_signups_bar_on_home_moves(
    chromium, live_server, planning_rep, device
):
    home = open_page(chromium, DEVICES[device], planning_rep.user).page
    home.goto(live_server.url + reverse("home"))
    expect(figure(home, "Signups")).to_contain_text("0 of 3")
    home.evaluate("window.__sameDocument = true")

    work = open_page(chromium, DEVICES[device], planning_rep.user)
    page = work.page
    page.goto(live_server.url + reverse("home"))
    page.get_by_role("link", name="New customer").click()
    page.get_by_label("Name", exact=True).fill("Kiosko La Playa")
    page.get_by_label("Contact name").fill("Rosa Vidal")
    page.get_by_label("Phone").fill("+34 600 12 34 56")
    page.get_by_label("Email").fill("rosa@kiosko.example")
    page.get_by_label("Address").fill("Paseo Marítimo 4, Málaga")
    page.get_by_role("button", name="Add customer").click()

    # The list, on the page that holds the new customer, marks it.
    customer = Customer.objects.get(name="Kiosko La Playa")
    row = page.locator(f"#customer-{customer.pk}")
    expect(page.locator("#messages")).to_contain_text("Kiosko La Playa added")
    expect(row).to_contain_text("Just added")
    expect(row).to_contain_text("Prospect")
    assert customer.code.startswith("C-") and customer.owner == planning_rep

    # Signing up asks first: dismissed, nothing happens; accepted, the row turns active.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.get_by_role("button", name="Sign up").click()
    expect(row).to_contain_text("Prospect")
    assert asked and "Sign up “Kiosko La Playa”" in asked[0]
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Sign up").click()
    expect(row).to_contain_text("Active")
    expect(row.get_by_role("button", name="Sign up")).to_have_count(0)
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.ACTIVE

    # The customer's page: call, write, find the way.
    row.get_by_role("link", name="Kiosko La Playa").click()
    expect(page.get_by_role("link", name="+34 600 12 34 56")).to_have_attribute(
        "href", "tel:+34600123456"
    )
    expect(page.get_by_role("link", name="rosa@kiosko.example")).to_have_attribute(
        "href", "mailto:rosa@kiosko.example"
    )
    expect(page.get_by_role("link", name="Paseo Marítimo 4, Málaga")).to_have_attribute(
        "href",
        "https://www.google.com/maps/search/?api=1&query=Paseo+Mar%C3%ADtimo+4%2C+M%C3%A1laga",
    )

    # The home page open in the other tab moves by itself.
    expect(figure(home, "Signups")).to_contain_text("1 of 3", timeout=15_000)
    assert home.evaluate("window.__sameDocument") is True
    report = check_page(work, screenshot=f"{device}-journey-customer-signed-up")
    assert report.problems == []
    assert work.errors == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_rep_wins_a_deal_and_home_follows_then_reopens_it_and_home_goes_back(
    chromium, live_server, planning_rep, device
):
    deal = DealFactory(rep=planning_rep, title="Summer terrace", amount=Decimal("500.00"))
    home = open_page(chromium, DEVICES[device], planning_rep.user)
    home.page.goto(live_server.url + reverse("home"))
    expect(figure(home.page, "Revenue")).to_contain_text("0 of 2,000")
    expect(tile(home.page, "Won this month")).to_have_text("0")
    home.page.evaluate("window.__sameDocument = true")

    page = open_page(chromium, DEVICES[device], planning_rep.user).page
    page.goto(live_server.url + reverse("deal-list"))
    row = page.locator(f"#deal-{deal.pk}")
    page.once("dialog", lambda dialog: dialog.accept())  # "Mark … as won?"
    row.get_by_role("button", name="Won").click()
    expect(row).to_contain_text("Closed won")

    # The goal card and the tile above it move together, without a reload.
    expect(figure(home.page, "Revenue")).to_contain_text("500 of 2,000", timeout=15_000)
    expect(tile(home.page, "Won this month")).to_have_text("1")
    won = home.page.locator("#summary .card", has_text="Won this month")
    expect(won.locator(".card-sub")).to_have_text("500.00")

    # A mistake: reopening asks first, then both go back.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name="Reopen").click()
    expect(row).to_contain_text("Proposal")
    expect(row.get_by_role("button", name="Won")).to_be_visible()
    assert "no longer counts as won" in asked[0]
    expect(figure(home.page, "Revenue")).to_contain_text("0 of 2,000", timeout=15_000)
    expect(tile(home.page, "Won this month")).to_have_text("0")
    assert home.page.evaluate("window.__sameDocument") is True
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at) == (DealStage.PROPOSAL, None)
    report = check_page(home, screenshot=f"{device}-journey-home-after-reopen")
    assert report.problems == []
    assert home.errors == []


def test_the_home_figures_refresh_when_the_goal_card_announces_a_change(
    chromium, live_server, planning_rep, settings
):
    # Neither the card nor the figures poll during this test: only the card's news moves them.
    settings.LIVE_REFRESH_SECONDS = 600
    deal = DealFactory(rep=planning_rep, amount=Decimal("500.00"))
    home = open_page(chromium, DESKTOP, planning_rep.user)
    page = home.page
    page.goto(live_server.url + reverse("home"))
    expect(tile(page, "Won this month")).to_have_text("0")

    services.deal_close(actor=planning_rep.user, deal_id=deal.pk, won=True)
    # The card asks for news, as its polling does, and its answer announces the change.
    page.evaluate(
        """() => {
          const card = document.querySelector("#plan-card");
          htmx.ajax("GET", card.getAttribute("hx-get"),
                    {source: card, target: card, swap: "outerHTML"});
        }"""
    )

    expect(figure(page, "Revenue")).to_contain_text("500 of 2,000")
    expect(tile(page, "Won this month")).to_have_text("1")
    assert home.errors == []


def test_a_rep_logs_a_visit_in_one_step_and_ticks_off_a_task(chromium, live_server, browser_rep):
    customer = CustomerFactory(owner=browser_rep, name="Bar Central")
    task = TaskFactory(rep=browser_rep, title="Send the price list")
    phone = open_page(chromium, PHONE, browser_rep.user)
    page = phone.page
    page.goto(live_server.url + reverse("activity-list"))

    page.get_by_role("link", name="Log a visit", exact=True).tap()
    expect(page.get_by_label("Status")).to_have_value("done")
    page.get_by_label("Customer").select_option(str(customer.pk))
    page.get_by_label("Subject").fill("Tasting")
    page.get_by_label("Outcome").select_option("ordered")
    page.get_by_label("Notes").fill("Two cases for the weekend.")
    page.get_by_role("button", name="Log it").tap()

    expect(page.locator("#messages")).to_contain_text("Visit logged.")
    visit = Activity.objects.get(subject="Tasting")
    row = page.locator(f"#activity-{visit.pk}")
    expect(row).to_contain_text("Just added")
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("Ordered")
    assert visit.status == ActivityStatus.COMPLETED and visit.completed_at == visit.due_at

    page.get_by_role("button", name="Menu").tap()
    page.get_by_role("link", name="Tasks").tap()
    task_row = page.locator(f"#task-{task.pk}")
    task_row.get_by_role("button", name="Done").tap()
    expect(task_row.get_by_role("button", name="Undo")).to_be_visible()
    task_row.get_by_role("button", name="Undo").tap()
    expect(task_row.get_by_role("button", name="Done")).to_be_visible()
    assert Task.objects.get(pk=task.pk).status == "open"
    assert phone.errors == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_rep_finds_a_customer_by_street_then_sorts_by_code_and_home_says_when_it_counted(
    chromium, live_server, browser_rep, device
):
    CustomerFactory(owner=browser_rep, name="Bar Sol", code="Z-1", address="Calle Mayor 1")
    CustomerFactory(owner=browser_rep, name="Kiosko", code="A-1", address="Paseo Marítimo 4")
    CustomerFactory(owner=browser_rep, name="Abacería", code="M-1", address="Plaza Nueva 2")
    work = open_page(chromium, DEVICES[device], browser_rep.user)
    page = work.page
    page.goto(live_server.url + reverse("customer-list"))
    names = page.locator("#customer-list tbody tr td:first-child a")
    expect(names).to_have_text(["Abacería", "Bar Sol", "Kiosko"])  # by name at first

    filters = page.locator("details.filterbox")
    if not filters.evaluate("box => box.open"):  # folded away on a phone
        filters.locator("summary").click()
    page.get_by_label("Name, code, contact or address").fill("marítimo")
    page.get_by_role("button", name="Apply").click()
    expect(names).to_have_text(["Kiosko"])

    page.goto(live_server.url + reverse("customer-list"))
    if device == "desktop":  # the column header sorts
        page.get_by_role("link", name="Code").click()
        expect(page.get_by_role("columnheader", name="Code")).to_have_attribute(
            "aria-sort", "ascending"
        )
    else:  # "Sort by" among the filters
        page.locator("details.filterbox summary").click()
        page.get_by_label("Sort by").select_option("code")
        page.get_by_role("button", name="Apply").click()
    expect(names).to_have_text(["Kiosko", "Abacería", "Bar Sol"])
    report = check_page(work, screenshot=f"{device}-customers-by-code")
    assert report.problems == []

    page.goto(live_server.url + reverse("home"))
    expect(page.locator("#summary .as-of")).to_have_text(
        re.compile(r"^Figures as of \d\d:\d\d \S+$")
    )
    report = check_page(work, screenshot=f"{device}-home-figures-as-of")
    assert report.problems == []
    assert work.errors == []


@pytest.fixture
def sales_floor(role_groups):
    """A team at work: a supervisor, two reps with customers, deals and activities, an admin and
    an account without a role."""
    rep = SalesRepFactory()
    teammate = SalesRepFactory(team=rep.team)
    for person in (rep, teammate):
        customer = CustomerFactory(owner=person, name="Distribuidora Hermanos Martínez Sur")
        DealFactory(rep=person, customer=customer, title="Cooler replacement, three stores")
        DealFactory(rep=person, customer=customer, stage=DealStage.CLOSED_WON)
        ActivityFactory(rep=person, customer=customer, subject="Quarterly visit with the owner")
        TaskFactory(rep=person, title="Bring the new price list to the owner")
    return {
        "rep": rep.user,
        "supervisor": rep.team.manager,
        "admin": UserFactory(username="boss", is_staff=True, is_superuser=True),
        "none": UserFactory(username="newcomer"),
    }


def core_pages(who: str) -> list[tuple[str, str]]:
    first_customer = Customer.objects.order_by("pk").first()
    first_activity = Activity.objects.order_by("pk").first()
    first_task = Task.objects.order_by("pk").first()
    pages = {
        "rep": [
            ("home", reverse("home")),
            ("deals", reverse("deal-list")),
            ("deal-form", reverse("deal-create")),
            ("activities", reverse("activity-list")),
            ("activity-form", reverse("activity-create")),
            ("activity-log-form", reverse("activity-create") + "?log=1"),
            ("activity-complete", reverse("activity-complete", args=[first_activity.pk])),
            ("tasks", reverse("task-list") + f"?created={first_task.pk}"),
            ("task-form", reverse("task-create")),
            ("customers", reverse("customer-list")),
            ("customer", reverse("customer-detail", args=[first_customer.pk])),
            ("customer-form", reverse("customer-create")),
            ("customer-edit", reverse("customer-edit", args=[first_customer.pk])),
            ("goals", reverse("goals:index")),
            ("api-token", reverse("api-token")),
        ],
        "supervisor": [
            ("home", reverse("home")),
            ("deals", reverse("deal-list") + "?stage=open&ordering=-amount"),
            ("activities", reverse("activity-list") + "?search=visit"),
            ("tasks", reverse("task-list")),
            ("task-form", reverse("task-create")),
            ("customers", reverse("customer-list") + "?status=prospect"),
            ("customer-form", reverse("customer-create")),
            ("supervision", reverse("supervision:index")),
            ("api-token", reverse("api-token")),
        ],
        "admin": [
            ("home", reverse("home")),
            ("customers", reverse("customer-list")),
            ("tasks", reverse("task-list")),
            ("tracking", reverse("tracking:index")),
            ("ops", reverse("ops:dashboard")),
            ("switches", reverse("ops:switches")),
        ],
        "none": [("home", reverse("home"))],
        "anonymous": [("login", reverse("login"))],
    }
    return pages[who]


@pytest.mark.parametrize("device", ["phone", "desktop"])
@pytest.mark.parametrize("who", ["rep", "supervisor", "admin", "none", "anonymous"])
def test_every_core_page_fits_the_screen_and_passes_the_accessibility_check(
    chromium, live_server, sales_floor, who, device
):
    browser_page = open_page(
        chromium, PHONE if device == "phone" else DESKTOP, sales_floor.get(who)
    )
    problems = []
    for name, path in core_pages(who):
        response = browser_page.page.goto(live_server.url + path)
        assert response.status == 200, path
        problems += check_page(browser_page, screenshot=f"{device}-{who}-{name}").problems
    assert problems == []
    assert browser_page.errors == []


def test_the_deals_page_works_by_keyboard_alone(chromium, live_server, sales_floor):
    deal = Deal.objects.filter(rep__user=sales_floor["rep"], stage=DealStage.PROSPECTING).get()
    browser_page = open_page(chromium, DESKTOP, sales_floor["rep"])
    page = browser_page.page
    page.goto(live_server.url + reverse("deal-list"))

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    won = page.locator(f"#deal-{deal.pk}").get_by_role("button", name="Won")
    for _ in range(30):  # Tab through the page until the row's Won button has the focus
        page.keyboard.press("Tab")
        if won.evaluate("button => button === document.activeElement"):
            break
    expect(won).to_be_focused()
    # The focus is visible: an outline drawn around the button.
    assert won.evaluate("b => getComputedStyle(b).outlineStyle") != "none"
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")

    expect(page.locator(f"#deal-{deal.pk}")).to_contain_text("Closed won")
    assert browser_page.errors == []


@pytest.mark.parametrize(
    "path",
    [
        reverse("admin:index"),
        reverse("admin:crm_deal_changelist"),
        reverse("admin:crm_deal_add"),
        "/api/docs/",
    ],
)
def test_admin_and_api_docs_keep_to_the_content_security_policy(
    chromium, live_server, sales_floor, path
):
    browser_page = open_page(chromium, DESKTOP, sales_floor["admin"])
    response = browser_page.page.goto(live_server.url + path)
    assert response.status == 200
    browser_page.page.wait_for_load_state("networkidle")
    assert browser_page.csp_violations() == []
    assert browser_page.errors == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_an_administrator_takes_an_area_offline_and_back_and_a_rep_sees_why(
    chromium, live_server, sales_floor, device
):
    size = PHONE if device == "phone" else DESKTOP
    admin = open_page(chromium, size, sales_floor["admin"]).page
    admin.goto(live_server.url + reverse("ops:dashboard"))
    admin.get_by_role("link", name="Switches").first.click()
    goals = admin.locator("#switch-goals")
    goals.get_by_label("Take its pages and API offline").check()
    goals.get_by_role("button", name="Save Goals").click()
    # Refused: no reason given; the ticked box is kept.
    expect(admin.locator("#switch-goals")).to_contain_text("Say why")
    expect(
        admin.locator("#switch-goals").get_by_label("Take its pages and API offline")
    ).to_be_checked()
    admin.locator("#switch-goals").get_by_label("Why").fill("Goal figures are being recounted.")
    admin.locator("#switch-goals").get_by_role("button", name="Save Goals").click()
    expect(admin.locator("#messages")).to_contain_text("Goals: offline.")

    rep = open_page(chromium, size, sales_floor["rep"])
    response = rep.page.goto(live_server.url + reverse("goals:index"))
    assert response.status == 503
    expect(rep.page.get_by_role("heading", level=1)).to_have_text("Goals is offline for a while")
    expect(rep.page.locator("main")).to_contain_text("Goal figures are being recounted.")
    report = check_page(rep, screenshot=f"{device}-goals-offline")
    assert report.problems == []

    admin.goto(live_server.url + reverse("ops:dashboard"))
    expect(admin.locator("#switches-on")).to_contain_text("offline")
    admin.goto(live_server.url + reverse("ops:switches"))
    admin.locator("#switch-goals").get_by_label("Take its pages and API offline").uncheck()
    admin.locator("#switch-goals").get_by_role("button", name="Save Goals").click()
    expect(admin.locator("#messages")).to_contain_text("Goals: back to normal.")
    assert rep.page.goto(live_server.url + reverse("goals:index")).status == 200


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_rep_makes_an_api_token_sees_it_once_and_revokes_it(
    chromium, live_server, browser_rep, device
):
    from rest_framework.authtoken.models import Token

    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, browser_rep.user)
    page = browser_page.page
    page.goto(live_server.url + reverse("home"))
    if device == "phone":
        page.get_by_role("button", name="Menu").tap()
    page.get_by_role("link", name="API token").click()
    expect(page.locator("#token-status")).to_have_text("You have no API token.")

    page.get_by_role("button", name="Create token").click()
    key = Token.objects.get(user=browser_rep.user).key
    expect(page.locator("#new-token")).to_have_text(key)
    expect(page.get_by_text("Copy it now: it is not shown again.")).to_be_visible()
    expect(page.get_by_role("button", name="Copy the token")).to_be_visible()
    # When it was made, with its zone ("6 Dec 2026, 17:30 UTC").
    expect(page.locator("#token-status")).to_have_text(
        re.compile(r"You have a token, created \d{1,2} \w{3} \d{4}, \d\d:\d\d [A-Z+\-0-9]+\.")
    )
    assert check_page(browser_page, screenshot=f"{device}-api-token-new").problems == []

    page.reload()  # shown once
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("#token-status")).to_contain_text("You have a token, created")

    page.locator("#revoke-token summary").click()
    page.get_by_role("button", name="Yes, revoke it").click()
    expect(
        page.get_by_text("Token revoked: scripts using it are refused from now on.")
    ).to_be_visible()
    expect(page.locator("#token-status")).to_have_text("You have no API token.")
    assert not Token.objects.filter(user=browser_rep.user).exists()
    assert browser_page.errors == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_not_found_page_gives_a_reference_to_quote(chromium, live_server, browser_rep, device):
    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, browser_rep.user)
    page = browser_page.page
    response = page.goto(live_server.url + "/customers/999999/")
    assert response.status == 404
    request_id = response.headers["x-request-id"]
    expect(page.get_by_role("heading", name="This page does not exist")).to_be_visible()
    expect(page.get_by_text("Reference for an administrator:")).to_contain_text(request_id)
    assert check_page(browser_page, screenshot=f"{device}-not-found").problems == []

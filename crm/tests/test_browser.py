"""The pages in a real browser: headless Debian Chromium driven by Playwright, against
pytest-django's live server. The htmx actions work end to end; every core page fits a 390 px phone
held in one hand, passes an accessibility check (axe-core) and breaks no Content-Security-Policy
rule, on the phone and on the desktop."""

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm import services
from crm.models import Customer, Deal, DealStage
from crm.testing.browser import ARTIFACTS, DESKTOP, PHONE, check_page, open_page
from crm.tests.factories import (
    PASSWORD,
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    SalesRepFactory,
    UserFactory,
)

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

    won.tap()

    expect(card).to_contain_text("Closed won")
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON
    report = check_page(phone, screenshot="phone-deal-list")
    assert report.problems == []
    assert phone.errors == []


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
    return {
        "rep": rep.user,
        "supervisor": rep.team.manager,
        "admin": UserFactory(username="boss", is_staff=True, is_superuser=True),
        "none": UserFactory(username="newcomer"),
    }


def core_pages(who: str) -> list[tuple[str, str]]:
    first_customer = Customer.objects.order_by("pk").first()
    pages = {
        "rep": [
            ("home", reverse("home")),
            ("deals", reverse("deal-list")),
            ("deal-form", reverse("deal-create")),
            ("activities", reverse("activity-list")),
            ("activity-form", reverse("activity-create")),
            ("customers", reverse("customer-list")),
            ("customer", reverse("customer-detail", args=[first_customer.pk])),
            ("goals", reverse("goals:index")),
        ],
        "supervisor": [
            ("home", reverse("home")),
            ("deals", reverse("deal-list") + "?stage=open"),
            ("supervision", reverse("supervision:index")),
        ],
        "admin": [
            ("home", reverse("home")),
            ("customers", reverse("customer-list")),
            ("tracking", reverse("tracking:index")),
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

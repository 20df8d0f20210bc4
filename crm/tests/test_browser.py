"""The pages in a real browser: headless Debian Chromium driven by Playwright, against
pytest-django's live server. Proves the htmx actions work end to end without console errors."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connections
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from crm import services
from crm.models import Deal, DealStage
from crm.roles import GROUP_ADMIN, GROUP_REP, GROUP_SUPERVISOR
from crm.tests.factories import PASSWORD, CustomerFactory, DealFactory, SalesRepFactory

pytestmark = pytest.mark.browser

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class BrowserPage:
    """A Playwright page that records every console error and uncaught exception."""

    def __init__(self, page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location})")


@pytest.fixture
def browser(live_server, monkeypatch):
    # Playwright's sync API keeps an asyncio loop running in this thread, which makes Django
    # refuse ORM calls from the test body unless told that this is deliberate.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = chromium.new_context(viewport={"width": 1280, "height": 800})
            yield BrowserPage(context.new_page())
        finally:
            chromium.close()
            # While that loop runs, Django keeps this thread's connections in a context-local
            # slot that the test database teardown never sees: close them here, or dropping
            # the test database fails with "being accessed by other users".
            connections.close_all()


@pytest.fixture
def browser_rep(transactional_db):
    # An earlier transactional test may have flushed the tables, the role groups that the
    # migrations create included; the factories look groups up by name.
    for name in (GROUP_ADMIN, GROUP_SUPERVISOR, GROUP_REP):
        Group.objects.get_or_create(name=name)
    return SalesRepFactory()


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
    page.get_by_label("Username").fill(browser_rep.user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
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

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "deal-list.png", full_page=True)
    page.goto(live_server.url + reverse("home"))
    expect(page.get_by_role("heading", name="Your work")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "home-rep.png", full_page=True)

    assert browser.errors == []


def test_stale_row_shows_why_the_deal_cannot_be_closed(browser, live_server, browser_rep):
    deal = DealFactory(rep=browser_rep, title="Ovens")
    page = browser.page
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill(browser_rep.user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + reverse("deal-list"))
    row = page.locator(f"#deal-{deal.pk}")
    expect(row).to_contain_text("Prospecting")

    # Someone else wins the deal while this page is open.
    services.deal_close(actor=browser_rep.user, deal_id=deal.pk, won=True)
    row.get_by_role("button", name="Lost").click()

    # The 400 answer is swapped in (htmx-config in base.html): the row shows the deal as it is
    # now and the reason, and htmx reports no error.
    expect(row).to_contain_text(services.DEAL_ALREADY_CLOSED)
    expect(row).to_contain_text("Closed won")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "deal-list-stale-row.png", full_page=True)
    # Chromium itself logs every 4xx response; anything else would be a real error.
    assert [e for e in browser.errors if "status of 400" not in e] == []

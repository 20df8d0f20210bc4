"""The main navigation in a real browser, on a phone and a desktop: each role finds the areas it
may open (as the apps registered them, crm.areas) and nothing else, the area shown is marked as
the current page, and a page of an area the role does not use says so."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.testing.browser import DESKTOP, PHONE, check_page, open_page
from crm.tests.factories import SalesRepFactory, UserFactory

pytestmark = pytest.mark.browser

SALES = ["Deals", "Activities", "Tasks", "Customers"]
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture
def floor(role_groups):
    rep = SalesRepFactory()
    return {
        "rep": rep.user,
        "supervisor": rep.team.manager,
        "admin": UserFactory(username="boss", is_staff=True, is_superuser=True),
        "none": UserFactory(username="newcomer"),
    }


def open_menu(page, device: str) -> None:
    """On a phone the navigation folds into the Menu button."""
    if device == "phone":
        menu = page.get_by_role("button", name="Menu")
        menu.tap()
        expect(menu).to_have_attribute("aria-expanded", "true")


def main_links(page) -> list[str]:
    return page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_supervisor_finds_their_areas_and_the_one_shown_is_marked(
    chromium, live_server, floor, device
):
    work = open_page(chromium, DEVICES[device], floor["supervisor"])
    page = work.page
    page.goto(live_server.url + reverse("home"))
    open_menu(page, device)

    assert main_links(page) == [*SALES, "Goals", "Supervision"]
    expect(page.locator(".rolebadge")).to_have_text("supervisor")
    supervision = page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Supervision"
    )
    expect(supervision).not_to_have_attribute("aria-current", "page")
    supervision.click()

    expect(page).to_have_url(live_server.url + reverse("supervision:index"))
    open_menu(page, device)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Supervision")).to_have_attribute("aria-current", "page")
    expect(nav.locator('[aria-current="page"]')).to_have_count(1)
    report = check_page(work, screenshot=f"{device}-nav-supervisor-supervision")
    assert report.problems == []
    assert work.errors == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_an_admin_finds_every_area_and_django_admin_last(chromium, live_server, floor, device):
    work = open_page(chromium, DEVICES[device], floor["admin"])
    page = work.page
    page.goto(live_server.url + reverse("goals:goal-list"))
    open_menu(page, device)

    assert main_links(page) == [*SALES, "Goals", "Supervision", "Tracking", "Ops", "Admin"]
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Goals")).to_have_attribute("aria-current", "page")
    report = check_page(work, screenshot=f"{device}-nav-admin-goals")
    assert report.problems == []
    assert work.errors == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_rep_sees_no_supervision_and_its_page_says_it_is_not_for_their_role(
    chromium, live_server, floor, device
):
    work = open_page(chromium, DEVICES[device], floor["rep"])
    page = work.page
    page.goto(live_server.url + reverse("goals:index"))
    open_menu(page, device)

    assert main_links(page) == [*SALES, "Goals"]
    # The goals area offers a rep their own plan, not the managers' compliance page.
    area = page.get_by_role("navigation", name="Goals")
    expect(area.get_by_role("link", name="My goals")).to_have_attribute("aria-current", "page")
    expect(area.get_by_role("link", name="Compliance")).to_have_count(0)

    response = page.goto(live_server.url + reverse("supervision:index"))
    assert response.status == 403
    expect(page.get_by_role("heading", name="This page is not for your role")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {floor['rep'].username} (rep).")).to_be_visible()
    report = check_page(work, screenshot=f"{device}-nav-rep-forbidden")
    assert report.problems == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_an_account_without_a_role_is_offered_no_area(chromium, live_server, floor, device):
    work = open_page(chromium, DEVICES[device], floor["none"])
    page = work.page
    page.goto(live_server.url + reverse("home"))

    expect(page.get_by_role("heading", name="No role yet")).to_be_visible()
    assert main_links(page) == []
    expect(page.locator(".rolebadge")).to_have_count(0)
    report = check_page(work, screenshot=f"{device}-nav-no-role")
    assert report.problems == []
    assert work.errors == []

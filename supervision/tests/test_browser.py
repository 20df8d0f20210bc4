"""The supervision pages in Debian's Chromium (Playwright): two people review route 1004 today in
two browsers; the first saves, the second is told who saved meanwhile and loses nothing of the
first's; reloaded, the day is read-only. Quantities -5 and 1000000 in the page; two reviews
asked too quickly show a countdown. Every supervision page fits a phone, passes the
accessibility check and keeps to the CSP."""

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.testing.browser import DESKTOP, PHONE, open_page, page_problems
from crm.tests.factories import (
    CustomerFactory,
    RouteFactory,
    RouteStopFactory,
    SalesRepFactory,
    UserFactory,
)
from supervision import rules
from supervision.models import SessionLine
from supervision.tests.helpers import today

pytestmark = pytest.mark.browser


def route_1004():
    rep = SalesRepFactory()
    route = RouteFactory(code="1004", rep=rep)
    stops = [
        RouteStopFactory(route=route, customer=CustomerFactory(owner=rep, name=name),
                         sequence=number, planned_quantity=Decimal(planned))
        for number, (name, planned) in enumerate(
            [("Bakery Alba", 12), ("Corner Shop Bo", 8), ("Kiosk Cielo", 5)], start=1
        )
    ]  # fmt: skip
    return route, stops


def day_path(route):
    return reverse("supervision:day", args=[route.pk, today().isoformat()])


def test_two_people_save_the_same_day_and_the_second_is_told_and_loses_nothing_of_the_first(
    chromium, live_server, role_groups
):
    route, stops = route_1004()
    first, second = stops[0].customer_id, stops[1].customer_id
    supervisor = route.rep.team.manager
    colleague = UserFactory(is_staff=True, is_superuser=True, first_name="Ana", last_name="Ruiz")

    a = open_page(chromium, PHONE, supervisor)
    b = open_page(chromium, DESKTOP, colleague)
    for person in (a, b):
        person.page.goto(live_server.url + day_path(route))
        expect(person.page.locator("#lines")).to_contain_text("Bakery Alba")

    # A: a negative quantity becomes 0 with a notice; a huge one is refused; then a real one,
    # which marks the stop visited; and a visit without a sale at the third stop.
    page = a.page

    def enter(customer: int, value: str) -> None:
        page.locator(f"#qty-{customer}").fill(value)
        page.locator(f"#qty-{customer}").press("Tab")

    enter(first, "-5")
    expect(page.locator(f"#line-{first}")).to_contain_text(rules.QUANTITY_RESET)
    expect(page.locator(f"#qty-{first}")).to_have_value("0")
    enter(first, "1000000")
    expect(page.locator(f"#line-{first}")).to_contain_text("Quantity cannot exceed 999,999")
    enter(first, "10")
    expect(page.locator(f"#line-{first}")).to_contain_text(rules.MARKED_VISITED)
    expect(page.locator(f"#visited-{first}")).to_be_checked()
    page.locator(f"#visited-{stops[2].customer_id}").check()
    expect(page.locator("#summary")).to_contain_text("2 of 3 stops visited")
    page.get_by_role("button", name="Save session").click()
    expect(page.locator("#messages")).to_contain_text("Session saved")

    # B, who opened the day before A saved, makes other changes and saves.
    other = b.page
    other.locator(f"#visited-{second}").check()
    other.locator(f"#qty-{second}").fill("4")
    other.locator(f"#qty-{second}").press("Tab")
    expect(other.locator("#summary")).to_contain_text("1 of 3 stops visited")
    other.get_by_role("button", name="Save session").click()
    conflict = other.locator(".conflict")
    expect(conflict).to_contain_text("after you opened it")
    expect(conflict).to_contain_text(supervisor.get_full_name())
    expect(other.locator(f"#qty-{second}")).to_have_value("4")  # what B typed, still there
    lines = {line.customer_id: line for line in SessionLine.objects.filter(session__route=route)}
    assert (lines[first].visited, lines[first].actual_quantity) == (True, 10)  # A's, intact
    assert (lines[second].visited, lines[second].actual_quantity) == (False, 0)
    assert lines[stops[2].customer_id].visited

    # Reloaded: the saved day, read-only.
    other.get_by_role("link", name="Load the latest version").click()
    expect(other.locator(".badge-readonly")).to_have_text("Read-only")
    expect(other.locator(f"#qty-{first}")).to_be_disabled()
    expect(other.locator(f"#qty-{first}")).to_have_value("10")
    expect(other.locator(f"#visited-{first}")).to_be_disabled()
    expect(other.get_by_role("button", name="Save session")).to_have_count(0)
    expected = ("status of 400", "status of 409")  # the refusals the test provokes
    assert [e for e in a.errors + b.errors if not any(s in e for s in expected)] == []


def test_a_second_customer_review_asked_too_soon_shows_a_countdown(
    chromium, live_server, role_groups
):
    route, stops = route_1004()
    person = open_page(chromium, DESKTOP, route.rep.team.manager)
    page = person.page
    page.goto(live_server.url + day_path(route))

    page.locator(f"#line-{stops[0].customer_id}").get_by_role(
        "button", name="Customer review"
    ).click()
    expect(page.locator("#customer-review")).to_contain_text("Findings")
    page.locator(f"#line-{stops[1].customer_id}").get_by_role(
        "button", name="Customer review"
    ).click()

    expect(page.locator("#customer-review")).to_contain_text("you can ask again in")
    expect(
        page.locator(f"#line-{stops[1].customer_id}").get_by_role("button", name="Customer review")
    ).to_be_disabled()
    seconds = int(page.locator(".countdown-value").inner_text())
    assert 1 <= seconds <= 10
    expect(page.locator(".countdown-value")).not_to_have_text(str(seconds), timeout=3000)
    assert [e for e in person.errors if "status of 429" not in e] == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_supervision_page_fits_the_screen_and_passes_the_accessibility_check(
    chromium, live_server, role_groups, device
):
    from supervision import services

    route, _ = route_1004()
    supervisor = route.rep.team.manager
    saved = RouteFactory(rep=route.rep)
    RouteStopFactory(route=saved, customer=CustomerFactory(owner=route.rep))
    services.session_write(actor=supervisor, route_id=saved.pk, date=today(), record_version=0,
                           changes=[])  # fmt: skip
    admin = UserFactory(is_staff=True, is_superuser=True)
    pages = [
        (supervisor, "index", reverse("supervision:index")),
        (supervisor, "day", day_path(route)),
        (supervisor, "saved-day", reverse("supervision:day", args=[saved.pk, today().isoformat()])),
        (admin, "admin-index", reverse("supervision:index")),
    ]
    assert page_problems(chromium, live_server.url, device, pages, prefix="supervision-") == []

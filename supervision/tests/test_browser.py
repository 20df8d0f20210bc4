"""The supervision pages in Debian's Chromium (Playwright), at phone and desktop sizes: a
supervisor reviews yesterday's route and saves it after confirming; two supervisors in two
browsers change different lines and both edits survive without retyping; the same line changed
by both is a visible choice; a refused save is summed up at the top with the focus on it; a day
saved for good meanwhile lists what was not saved; a stop that left the day meanwhile is
listed by name; an administrator reopens a draft its review window closed; two reviews asked
too quickly show a countdown. Every supervision page, and the page in each of those states,
fits a phone, passes the accessibility check and keeps to the CSP."""

import datetime as dt

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.testing.browser import DESKTOP, PHONE, check_page, open_page, page_problems
from crm.testing.routes import route_with_stops
from crm.tests.factories import (
    SalesRepFactory,
    UserFactory,
)
from supervision import forms, rules
from supervision.models import SessionLine, SessionStatus, SupervisionSession
from supervision.tests.helpers import customers, today

pytestmark = pytest.mark.browser
DEVICES = {"phone": PHONE, "desktop": DESKTOP}
# The refusals these tests provoke on purpose, as the browser logs them.
PROVOKED = ("status of 400", "status of 409", "status of 429")


def route_1004():
    route = route_with_stops(
        SalesRepFactory(), planned=(12, 8, 5), code="1004",
        names=("Bakery Alba", "Corner Shop Bo", "Kiosk Cielo"),
    )  # fmt: skip
    return route, customers(route)


def day_path(route, date=None):
    return reverse("supervision:day", args=[route.pk, (date or today()).isoformat()])


def enter(page, customer: int, value: str) -> None:
    page.locator(f"#qty-{customer}").fill(value)
    page.locator(f"#qty-{customer}").press("Tab")


def save_session(page) -> None:
    """Save session, confirming in the step that says what it means."""
    page.locator("summary", has_text="Save session").click()
    dialog = page.locator(".confirm-body")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("read-only")
    dialog.get_by_role("button", name="Save session", exact=True).click()


def unexpected(*people) -> list[str]:
    return [e for person in people for e in person.errors if not any(s in e for s in PROVOKED)]


def no_problems(person, screenshot: str) -> None:
    assert check_page(person, screenshot=screenshot).problems == []


@pytest.mark.parametrize("device", DEVICES)
def test_a_supervisor_reviews_yesterdays_route_and_saves_it_after_confirming(
    chromium, live_server, role_groups, device
):
    route, (first, second, third) = route_1004()
    yesterday = today() - dt.timedelta(days=1)
    person = open_page(chromium, DEVICES[device], route.rep.team.manager)
    page = person.page
    page.goto(live_server.url + reverse("supervision:index"))
    page.get_by_role("link", name=f"1004 yesterday, {yesterday:%A} {yesterday.day}").click()

    expect(page.locator("h1")).to_contain_text(f"{yesterday.day} {yesterday:%B}")
    expect(page.locator(".badge-readonly")).to_have_count(0)
    enter(page, first, "10")
    expect(page.locator(f"#line-{first}")).to_contain_text(rules.MARKED_VISITED)
    page.locator(f"#visited-{second}").check()
    page.locator(f"#reason-{third}").select_option("closed")
    expect(page.locator("#summary")).to_contain_text("2 of 3 stops visited")
    page.locator("summary", has_text="Save session").click()
    expect(page.locator("#save-figures")).to_contain_text("2 of 3 stops visited and 10 of 25")
    no_problems(person, f"{device}-supervision-confirm-save")
    page.locator(".confirm-body").get_by_role("button", name="Save session", exact=True).click()

    expect(page.locator("#messages")).to_contain_text("Session saved")
    expect(page.locator(".badge-readonly")).to_have_text("Read-only")
    expect(page.locator(f"#qty-{first}")).to_be_disabled()
    session = SupervisionSession.objects.get(route=route, date=yesterday)
    assert session.status == SessionStatus.SAVED
    assert SessionLine.objects.get(session=session, customer_id=third).reason == "closed"
    assert person.errors == []


def test_two_supervisors_change_different_lines_and_both_edits_survive_without_retyping(
    chromium, live_server, role_groups
):
    route, (first, second, third) = route_1004()
    supervisor = route.rep.team.manager
    colleague = UserFactory(is_staff=True, is_superuser=True, first_name="Ana", last_name="Ruiz")
    a = open_page(chromium, PHONE, supervisor)
    b = open_page(chromium, DESKTOP, colleague)
    for person in (a, b):
        person.page.goto(live_server.url + day_path(route))
        expect(person.page.locator("#lines")).to_contain_text("Bakery Alba")

    # A records the first stop and keeps a draft.
    enter(a.page, first, "10")
    expect(a.page.locator(f"#visited-{first}")).to_be_checked()
    a.page.get_by_role("button", name="Save draft").click()
    expect(a.page.locator("#messages")).to_contain_text("Draft kept")

    # B, who opened the day before that, records the second and third stops: told next to
    # the line, not with a "Not saved".
    enter(b.page, second, "4")
    warning = b.page.locator(f"#line-{second}-messages")
    expect(warning).to_contain_text("kept a draft of this day")
    expect(warning).to_contain_text("Nothing you type is lost")
    expect(b.page.locator("body")).not_to_contain_text("Not saved")
    b.page.locator(f"#reason-{third}").select_option("owner_absent")
    save_session(b.page)

    attention = b.page.locator("#attention")
    expect(attention).to_be_focused()
    expect(attention).to_contain_text("kept a draft of this day")
    expect(attention).to_contain_text("Check the day, then save it.")
    expect(b.page.locator(f"#qty-{first}")).to_have_value("10")  # A's
    expect(b.page.locator(f"#qty-{second}")).to_have_value("4")  # B's, not retyped
    expect(b.page.locator(f"#reason-{third}")).to_have_value("owner_absent")
    no_problems(b, "desktop-supervision-merged")
    save_session(b.page)  # one Save completes it

    expect(b.page.locator("#messages")).to_contain_text("Session saved")
    lines = {line.customer_id: line for line in SessionLine.objects.filter(session__route=route)}
    assert (lines[first].actual_quantity, lines[second].actual_quantity) == (10, 4)
    assert lines[third].reason == "owner_absent"
    assert unexpected(a, b) == []


def test_the_same_line_changed_by_both_is_a_visible_choice_then_saved(
    chromium, live_server, role_groups
):
    route, (first, second, _) = route_1004()
    supervisor = route.rep.team.manager
    colleague = UserFactory(is_staff=True, is_superuser=True, first_name="Ana", last_name="Ruiz")
    a = open_page(chromium, DESKTOP, colleague)
    b = open_page(chromium, PHONE, supervisor)
    for person in (a, b):
        person.page.goto(live_server.url + day_path(route))

    enter(a.page, first, "10")
    a.page.get_by_role("button", name="Save draft").click()
    expect(a.page.locator("#messages")).to_contain_text("Draft kept")
    enter(b.page, second, "3")
    enter(b.page, first, "12")
    expect(b.page.locator(f"#line-{first}-messages")).to_contain_text("you choose")
    save_session(b.page)

    attention = b.page.locator("#attention")
    expect(attention).to_be_focused()
    expect(attention).to_contain_text("You both changed 1 line")
    mine = b.page.get_by_role("radio", name="Yours: 12")
    theirs = b.page.get_by_role("radio", name="Ana Ruiz's: 10")
    expect(mine).not_to_be_checked()
    expect(theirs).not_to_be_checked()
    expect(b.page.locator(f"#qty-{second}")).to_have_value("3")
    no_problems(b, "phone-supervision-choice")
    attention.get_by_role("link").click()
    expect(mine).to_be_focused()
    theirs.check()
    save_session(b.page)

    expect(b.page.locator("#messages")).to_contain_text("Session saved")
    lines = {line.customer_id: line for line in SessionLine.objects.filter(session__route=route)}
    assert (lines[first].actual_quantity, lines[second].actual_quantity) == (10, 3)
    assert unexpected(a, b) == []


@pytest.mark.parametrize("device", DEVICES)
def test_a_refused_save_shows_the_summary_at_the_top_with_the_focus_on_it(
    chromium, live_server, role_groups, device
):
    route, (first, _, third) = route_1004()
    person = open_page(chromium, DEVICES[device], route.rep.team.manager)
    page = person.page
    page.goto(live_server.url + day_path(route))

    enter(page, first, "7")
    enter(page, third, "1000000")
    expect(page.locator(f"#line-{third}")).to_contain_text(rules.QUANTITY_TOO_LARGE)
    page.get_by_role("button", name="Save draft").click()

    attention = page.locator("#attention")
    expect(attention).to_be_focused()
    expect(attention).to_have_attribute("role", "alert")
    expect(attention).to_contain_text("There is a problem on 1 line")
    expect(attention).to_contain_text(f"#3 Kiosk Cielo: {rules.QUANTITY_TOO_LARGE}")
    expect(page.locator(f"#qty-{first}")).to_have_value("7")  # kept, not saved
    no_problems(person, f"{device}-supervision-refused")
    attention.get_by_role("link").click()
    expect(page.locator(f"#qty-{third}")).to_be_focused()
    expect(page.locator(f"#qty-{third}")).to_have_value("1000000")
    assert not SupervisionSession.objects.exists()
    assert unexpected(person) == []


def test_a_choice_left_unmade_is_summed_up_like_any_other_problem(
    chromium, live_server, role_groups
):
    route, (first, _, _) = route_1004()
    colleague = UserFactory(is_staff=True, is_superuser=True, first_name="Ana", last_name="Ruiz")
    a = open_page(chromium, DESKTOP, colleague)
    b = open_page(chromium, DESKTOP, route.rep.team.manager)
    for person in (a, b):
        person.page.goto(live_server.url + day_path(route))
    enter(a.page, first, "10")
    a.page.get_by_role("button", name="Save draft").click()
    expect(a.page.locator("#messages")).to_contain_text("Draft kept")
    enter(b.page, first, "12")
    b.page.get_by_role("button", name="Save draft").click()
    expect(b.page.locator("#attention")).to_contain_text("You both changed 1 line")

    b.page.get_by_role("button", name="Save draft").click()

    expect(b.page.locator("#attention")).to_be_focused()
    expect(b.page.locator("#attention")).to_contain_text(forms.CHOOSE)
    expect(b.page.get_by_role("radio", name="Yours: 12")).to_be_visible()
    assert unexpected(a, b) == []


def test_a_day_saved_for_good_meanwhile_lists_what_was_not_saved(
    chromium, live_server, role_groups
):
    route, (first, second, _) = route_1004()
    supervisor = route.rep.team.manager
    colleague = UserFactory(is_staff=True, is_superuser=True, first_name="Ana", last_name="Ruiz")
    a = open_page(chromium, PHONE, supervisor)
    b = open_page(chromium, DESKTOP, colleague)
    for person in (a, b):
        person.page.goto(live_server.url + day_path(route))
    enter(a.page, first, "10")
    save_session(a.page)
    expect(a.page.locator("#messages")).to_contain_text("Session saved")

    enter(b.page, second, "4")
    save_session(b.page)

    attention = b.page.locator("#attention")
    expect(attention).to_be_focused()
    expect(attention).to_contain_text(f"{supervisor.get_full_name()} saved this day")
    expect(attention).to_contain_text("#2 Corner Shop Bo: visited yes (saved: no); actual 4")
    expect(b.page.locator(".badge-readonly")).to_have_text("Read-only")
    expect(b.page.locator(f"#qty-{first}")).to_have_value("10")
    assert SessionLine.objects.get(session__route=route, customer_id=second).actual_quantity == 0
    assert unexpected(a, b) == []


def test_a_stop_that_left_the_day_meanwhile_is_listed_by_name_and_the_rest_is_saved(
    chromium, live_server, role_groups
):
    route, (first, second, third) = route_1004()
    supervisor = route.rep.team.manager
    colleague = UserFactory(is_staff=True, is_superuser=True, first_name="Ana", last_name="Ruiz")
    b = open_page(chromium, PHONE, supervisor)
    b.page.goto(live_server.url + day_path(route))
    expect(b.page.locator("#lines")).to_contain_text("Kiosk Cielo")
    route.stops.filter(customer_id=third).delete()  # Kiosk Cielo leaves the route
    a = open_page(chromium, DESKTOP, colleague)  # opens the day after that: two stops
    a.page.goto(live_server.url + day_path(route))
    expect(a.page.locator("#lines")).not_to_contain_text("Kiosk Cielo")
    enter(a.page, first, "10")
    a.page.get_by_role("button", name="Save draft").click()
    expect(a.page.locator("#messages")).to_contain_text("Draft kept")

    enter(b.page, second, "4")
    enter(b.page, third, "3")
    expect(b.page.locator(f"#line-{third}-messages")).to_contain_text(
        "Ana Ruiz kept a draft of this day"
    )
    expect(b.page.locator(f"#line-{third}-messages")).to_contain_text(
        "this stop is no longer on its route: what you enter here will not be kept"
    )
    save_session(b.page)

    attention = b.page.locator("#attention")
    expect(attention).to_be_focused()
    expect(attention).to_contain_text("1 stop you changed is no longer on this day's route")
    expect(attention).to_contain_text(
        "Kiosk Cielo: no longer on this day's route, not kept (actual 3)"
    )
    expect(b.page.locator(f"#qty-{first}")).to_have_value("10")  # Ana's
    expect(b.page.locator(f"#qty-{second}")).to_have_value("4")  # kept, not retyped
    expect(b.page.locator(f"#line-{third}")).to_have_count(0)
    no_problems(b, "phone-supervision-stop-left")
    save_session(b.page)

    expect(b.page.locator("#messages")).to_contain_text("Session saved")
    lines = {line.customer_id: line for line in SessionLine.objects.filter(session__route=route)}
    assert (lines[first].actual_quantity, lines[second].actual_quantity) == (10, 4)
    assert third not in lines
    assert unexpected(a, b) == []


def old_draft(route, settings, *, days_ago: int = 30):
    """A draft of `route` kept `days_ago` days ago, its review window (7 days) closed since."""
    from supervision import services

    settings.SUPERVISION_REVIEW_DAYS = days_ago
    date = today() - dt.timedelta(days=days_ago)
    services.session_write(actor=route.rep.team.manager, route_id=route.pk, date=date,
                           record_version=0, changes=[], finish=False)  # fmt: skip
    settings.SUPERVISION_REVIEW_DAYS = 7
    return date


@pytest.mark.parametrize("device", DEVICES)
def test_an_administrator_reopens_a_draft_its_review_window_closed(
    chromium, live_server, role_groups, settings, device
):
    route, (first, _, _) = route_1004()
    date = old_draft(route, settings)
    admin = UserFactory(is_staff=True, is_superuser=True)
    supervisor = open_page(chromium, DEVICES[device], route.rep.team.manager)
    supervisor.page.goto(live_server.url + day_path(route, date))
    expect(supervisor.page.locator(".notice")).to_contain_text("an administrator can reopen")
    expect(supervisor.page.get_by_text("Reopen this day")).to_have_count(0)

    person = open_page(chromium, DEVICES[device], admin)
    page = person.page
    page.goto(live_server.url + day_path(route, date))
    expect(page.locator(".badge-readonly")).to_have_text("Read-only")
    expect(page.locator(f"#qty-{first}")).to_be_disabled()
    page.locator("summary", has_text="Reopen this day").click()
    page.get_by_label("Why reopen it").fill("The supervisor was on leave")
    no_problems(person, f"{device}-supervision-reopen-old-draft")
    page.get_by_role("button", name="Reopen", exact=True).click()

    expect(page.locator("#messages")).to_contain_text("Reopened: the day can be edited again.")
    expect(page.locator(".badge-readonly")).to_have_count(0)
    enter(page, first, "6")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#messages")).to_contain_text("Draft kept")
    assert SessionLine.objects.get(session__date=date, customer_id=first).actual_quantity == 6
    assert unexpected(supervisor, person) == []


@pytest.mark.parametrize("device", DEVICES)
def test_a_reason_of_invisible_characters_is_no_reason_to_reopen(
    chromium, live_server, role_groups, settings, device
):
    # The browser's own minlength counts the zero-width spaces; the server counts what a reader
    # sees, says so on the form, keeps the day read-only, and takes a real reason after.
    route, _ = route_1004()
    date = old_draft(route, settings)
    person = open_page(chromium, DEVICES[device], UserFactory(is_staff=True, is_superuser=True))
    page = person.page
    page.goto(live_server.url + day_path(route, date))
    page.locator("summary", has_text="Reopen this day").click()
    page.get_by_label("Why reopen it").fill("\u200b" * 12 + "ok")
    page.get_by_role("button", name="Reopen", exact=True).click()

    reason = page.get_by_label("Why reopen it")
    expect(reason).to_be_visible()  # the step stays open, with why
    expect(page.locator("form.stacked")).to_contain_text("at least 10 visible characters")
    expect(page.locator(".badge-readonly")).to_have_text("Read-only")
    no_problems(person, f"{device}-supervision-reopen-invisible-reason")
    reason.fill("The supervisor was on leave")
    page.get_by_role("button", name="Reopen", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Reopened: the day can be edited again.")
    assert SupervisionSession.objects.get(date=date).reopened_at is not None
    assert unexpected(person) == []


def test_a_second_customer_review_asked_too_soon_shows_a_countdown(
    chromium, live_server, role_groups
):
    route, (first, second, _) = route_1004()
    person = open_page(chromium, DESKTOP, route.rep.team.manager)
    page = person.page
    page.goto(live_server.url + day_path(route))

    page.locator(f"#line-{first}").get_by_role("button", name="Customer review").click()
    expect(page.locator("#customer-review")).to_contain_text("Findings")
    expect(page.locator("#customer-review")).to_contain_text("from the figures this page shows")
    page.locator(f"#line-{second}").get_by_role("button", name="Customer review").click()

    expect(page.locator("#customer-review")).to_contain_text("you can ask again in")
    expect(
        page.locator(f"#line-{second}").get_by_role("button", name="Customer review")
    ).to_be_disabled()
    seconds = int(page.locator(".countdown-value").inner_text())
    assert 1 <= seconds <= 10
    expect(page.locator(".countdown-value")).not_to_have_text(str(seconds), timeout=3000)
    assert unexpected(person) == []


def test_a_route_review_says_when_the_figures_it_was_written_from_are_no_longer_the_pages(
    chromium, live_server, role_groups
):
    route, (first, second, _) = route_1004()
    person = open_page(chromium, DESKTOP, route.rep.team.manager)
    page = person.page
    page.goto(live_server.url + day_path(route))
    enter(page, first, "4")

    page.get_by_role("button", name="Route review").click()
    state = page.locator("#route-review-state")
    expect(state).to_contain_text("from the figures this page shows")
    enter(page, second, "6")
    expect(state).to_contain_text("Out of date")
    expect(state).to_contain_text("1 of 3 stops visited, 4 of 25 delivered")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#route-review-state")).to_contain_text("Out of date")
    assert unexpected(person) == []


@pytest.mark.parametrize("device", DEVICES)
def test_every_supervision_page_fits_the_screen_and_passes_the_accessibility_check(
    chromium, live_server, role_groups, settings, device
):
    from supervision import services

    route, _ = route_1004()
    supervisor = route.rep.team.manager
    saved = route_with_stops(route.rep, count=1)
    services.session_write(actor=supervisor, route_id=saved.pk, date=today(), record_version=0,
                           changes=[])  # fmt: skip
    services.session_write(actor=supervisor, route_id=route.pk, record_version=0, changes=[],
                           date=today() - dt.timedelta(days=1), finish=False)  # fmt: skip
    admin = UserFactory(is_staff=True, is_superuser=True)
    old = today() - dt.timedelta(days=30)
    drafted = route_with_stops(route.rep, count=1, code="9004")
    old_draft(drafted, settings, days_ago=30)
    pages = [
        (supervisor, "index", reverse("supervision:index")),
        (supervisor, "day", day_path(route)),
        (supervisor, "draft-day", day_path(route, today() - dt.timedelta(days=1))),
        (supervisor, "old-day", day_path(route, old)),
        (supervisor, "saved-day", reverse("supervision:day", args=[saved.pk, today().isoformat()])),
        (admin, "admin-index", reverse("supervision:index")),
        (
            admin,
            "admin-saved-day",
            reverse("supervision:day", args=[saved.pk, today().isoformat()]),
        ),
        (admin, "admin-old-draft", day_path(drafted, old)),
    ]
    assert page_problems(chromium, live_server.url, device, pages, prefix="supervision-") == []

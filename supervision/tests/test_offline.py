"""A supervision day with no signal (static/js/offline.js, supervision section): the day page
checks its lines with the rules' own numbers and messages, its figures follow, and Save waits
in the outbox; sent when the signal returns, each save is applied once, put together with
what someone else wrote meanwhile, or kept with the server's reason until discarded."""

import datetime as dt
import json
import re

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from playwright.sync_api import expect

from crm.models import Activity
from crm.testing.browser import DESKTOP, PHONE, check_page, open_page
from crm.testing.routes import route_with_stops
from crm.tests.factories import SalesRepFactory
from supervision import rules
from supervision.models import MAX_QUANTITY, NOTE_LENGTH, ReasonCode, SessionLine, SessionStatus
from supervision.models import SupervisionSession as Session
from supervision.tests.helpers import customers, today

STOPS = 10
VISITS = 5
SHOTS = settings.BASE_DIR / "test-artifacts"


def day_path(route, date: dt.date) -> str:
    return reverse("supervision:day", args=[route.pk, date.isoformat()])


def yesterday() -> dt.date:
    return today() - dt.timedelta(days=1)


def page_rules(html: str) -> dict:
    block = r'<script id="supervision-rules" type="application/json">(.*?)</script>'
    found = re.search(block, html)
    return json.loads(found.group(1)) if found else {}


# --- What the server hands out ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_day_page_hands_its_script_the_rules_own_numbers_and_messages(client, route):
    client.force_login(route.rep.team.manager)
    handed = page_rules(client.get(day_path(route, today())).content.decode())
    assert handed == {
        "maxQuantity": MAX_QUANTITY,
        "noteLength": NOTE_LENGTH,
        "other": ReasonCode.OTHER,
        "tooLarge": rules.QUANTITY_TOO_LARGE,
        "notWhole": rules.QUANTITY_NOT_WHOLE,
        "reset": rules.QUANTITY_RESET,
        "markedVisited": rules.MARKED_VISITED,
        "reasonForMisses": rules.REASON_FOR_MISSES,
        "noteForOther": rules.NOTE_FOR_OTHER,
        "noteTooLong": rules.NOTE_TOO_LONG,
    }
    assert MAX_QUANTITY == 999_999
    # A day to come is read-only: nothing to check, nothing to queue.
    tomorrow = client.get(day_path(route, today() + dt.timedelta(days=1))).content.decode()
    assert page_rules(tomorrow) == {} and "data-offline-day" not in tomorrow


@pytest.mark.django_db
def test_the_index_offers_to_keep_todays_and_yesterdays_days(client, route):
    client.force_login(route.rep.team.manager)
    page = client.get(reverse("supervision:index")).content.decode()
    kept = re.search(r'data-keep-days="([^"]*)"', page).group(1).split(" ")
    assert kept == [day_path(route, today()), day_path(route, yesterday())]


# --- In a browser -----------------------------------------------------------------------------


@pytest.fixture
def field_day(role_groups):
    rep = SalesRepFactory()
    route = route_with_stops(rep, count=STOPS, planned=(10, 20, 30), code="2077")
    return route, customers(route)


def wait_until_kept(page, path: str) -> None:
    page.wait_for_function(
        "async (path) => Boolean(await caches.match(path))", arg=path, timeout=10_000
    )


def keep_both_days(page, live_server, route) -> None:
    """The one tap on the supervision index, with signal."""
    page.goto(live_server.url + reverse("supervision:index"))
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.get_by_role("button", name="Keep today's and yesterday's days for offline").click()
    expect(page.locator("#keep-days-status")).to_have_text("Kept for offline: 2 of 2 days.")
    wait_until_kept(page, day_path(route, yesterday()))


def enter(page, customer: int, value: str) -> None:
    page.locator(f"#qty-{customer}").fill(value)
    page.locator(f"#qty-{customer}").press("Tab")


def queue_day(page, live_server, route, date, values: dict[int, int], *, save: bool) -> None:
    """With no signal: the day opened from the phone, its quantities entered, then saved."""
    page.goto(live_server.url + day_path(route, date))
    for customer, value in values.items():
        enter(page, customer, str(value))
    if save:
        page.locator("summary", has_text="Save session").click()
        page.locator(".confirm-body").get_by_role("button", name="Save session").click()
    else:
        page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#messages")).to_contain_text(
        "Saved on this phone: will be sent when you're back"
    )


def log_visits_offline(chromium, live_server, route, customers):
    """A rep of the route logs five visits with no signal, on their own phone."""
    person = open_page(chromium, PHONE, route.rep.user)
    page = person.page
    log = reverse("activity-create") + "?log=1"
    page.goto(live_server.url + reverse("activity-list"))
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    wait_until_kept(page, reverse("activity-list"))
    page.goto(live_server.url + log)
    wait_until_kept(page, log)
    page.context.set_offline(True)
    for n in range(VISITS):
        page.get_by_label("Customer").select_option(str(customers[n]))
        page.get_by_label("Outcome").select_option("ordered")
        page.get_by_label("Notes").fill(f"Offline visit {n}")
        page.get_by_role("button", name="Log it").click()
        expect(page.locator("[data-outbox-count]")).to_have_text(str(n + 1))
    # The activity list, opened again with no signal: the visits as pending rows on top.
    page.goto(live_server.url + reverse("activity-list"))
    expect(page.locator("#activity-list .outbox-visit")).to_have_count(VISITS)
    expect(page.locator("#activity-list tbody tr").first).to_contain_text("Pending: will be sent")
    expect(page.locator("#activity-list tbody tr").first).to_contain_text("Offline visit 4")
    page.screenshot(path=SHOTS / "supervision-offline-rep-activities-phone.png")
    expect(page.locator("[data-outbox-count]")).to_have_text(str(VISITS))
    return person


def lines_of(route, date) -> dict[int, tuple]:
    rows = SessionLine.objects.filter(session__route=route, session__date=date)
    return {r.customer_id: (r.visited, r.actual_quantity) for r in rows}


def assert_saved_once(route, date, values: dict[int, int], *, version: int = 1) -> None:
    session = Session.objects.select_related("summary").get(route=route, date=date)
    assert session.summary.record_version == version  # one write, not two
    held = lines_of(route, date)
    for customer, value in values.items():
        assert held[customer] == (True, value)
    assert len(held) == STOPS


@pytest.mark.browser
def test_twenty_edits_on_two_days_and_five_visits_offline_are_each_saved_once(
    chromium, live_server, field_day
):
    route, stops = field_day
    supervisor = open_page(chromium, PHONE, route.rep.team.manager)
    page = supervisor.page
    keep_both_days(page, live_server, route)
    rep = log_visits_offline(chromium, live_server, route, stops)

    page.context.set_offline(True)
    page.goto(live_server.url + day_path(route, today()))
    expect(page.locator("#offline-banner")).to_be_visible()
    # The rules, with no signal: -5 is 0 (said so), above 999,999 refused and not kept.
    handed = "JSON.parse(document.getElementById('supervision-rules').textContent)"
    assert page.evaluate(handed) == rules.client_rules()
    enter(page, stops[0], "-5")
    expect(page.locator(f"#qty-{stops[0]}")).to_have_value("0")
    expect(page.locator(f"#line-{stops[0]}")).to_contain_text(rules.QUANTITY_RESET)
    enter(page, stops[0], "1000000")
    expect(page.locator(f"#line-{stops[0]}")).to_contain_text(rules.QUANTITY_TOO_LARGE)
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#messages")).to_contain_text("A line needs fixing first")
    expect(page.locator("#outbox")).to_be_hidden()

    first = {customer: 5 + n for n, customer in enumerate(stops)}
    queue_day(page, live_server, route, today(), first, save=False)
    expect(page.locator(f"#line-{stops[1]}")).to_contain_text(rules.MARKED_VISITED)
    expect(page.locator("#summary")).to_contain_text("10 of 10 stops visited")
    expect(page.locator("[data-fig=actual_total]").first).to_have_text("95")
    expect(page.locator("[data-fig=achievement_percent]")).to_have_text("50")
    page.screenshot(path=SHOTS / "supervision-offline-figures-phone.png", full_page=True)
    second = {customer: 100 + n for n, customer in enumerate(stops)}
    queue_day(page, live_server, route, yesterday(), second, save=True)
    expect(page.locator("[data-outbox-count]")).to_have_text("2")

    # Reloaded with no signal: the kept page, fast, with the queued edits on it again.
    page.goto(live_server.url + day_path(route, today()))
    expect(page.locator(f"#qty-{stops[9]}")).to_have_value("14")
    opened_in = page.evaluate(
        "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
    )
    print(f"kept day page opened offline in {opened_in:.0f} ms")
    expect(page.locator("#messages")).to_contain_text("Saved on this phone")
    page.locator(".outbox summary").click()
    expect(page.locator(".outbox-item")).to_have_count(2)
    page.screenshot(path=SHOTS / "supervision-offline-outbox-phone.png", full_page=False)
    assert check_page(supervisor, screenshot="supervision-offline-day-phone").problems == []

    rep.page.context.set_offline(False)
    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_be_hidden(timeout=20_000)
    expect(rep.page.locator("#outbox")).to_be_hidden(timeout=20_000)
    assert_saved_once(route, today(), first)
    assert_saved_once(route, yesterday(), second)
    assert Session.objects.get(route=route, date=yesterday()).status == SessionStatus.SAVED
    assert Session.objects.get(route=route, date=today()).status == SessionStatus.DRAFT
    assert Activity.objects.filter(notes__startswith="Offline visit").count() == VISITS
    assert supervisor.errors == [] and rep.errors == []


@pytest.mark.browser
def test_a_day_save_whose_answer_is_lost_is_applied_once(chromium, live_server, field_day):
    route, stops = field_day
    supervisor = open_page(chromium, DESKTOP, route.rep.team.manager)
    page = supervisor.page
    keep_both_days(page, live_server, route)
    page.context.set_offline(True)
    first = {customer: 7 for customer in stops[:4]}
    queue_day(page, live_server, route, today(), first, save=False)
    second = {customer: 3 for customer in stops[4:8]}
    queue_day(page, live_server, route, yesterday(), second, save=False)

    posts = []

    def lose_the_first_answer(request_route):
        posts.append(request_route.request.url)
        # The save answers a redirect to the day, which the browser follows itself.
        if len(posts) == 1:
            request_route.fetch(max_redirects=0)  # the server commits...
            request_route.abort()  # ...and the answer never arrives
        else:
            request_route.fulfill(response=request_route.fetch(max_redirects=0))

    page.route("**/save/", lose_the_first_answer)
    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_be_hidden(timeout=20_000)
    assert len(posts) == 3 and posts[0] == posts[1]
    assert_saved_once(route, today(), first)
    assert_saved_once(route, yesterday(), second)
    assert all("Failed to load resource" in error for error in supervisor.errors)


def two_supervisors(chromium, live_server, route, admin_user):
    offline = open_page(chromium, PHONE, route.rep.team.manager)
    keep_both_days(offline.page, live_server, route)
    online = open_page(chromium, DESKTOP, admin_user)
    online.page.goto(live_server.url + day_path(route, today()))
    offline.page.context.set_offline(True)
    return offline, online


@pytest.mark.browser
def test_two_supervisors_on_different_lines_both_edits_survive(
    chromium, live_server, field_day, admin_user
):
    route, stops = field_day
    offline, online = two_supervisors(chromium, live_server, route, admin_user)
    queue_day(offline.page, live_server, route, today(), {stops[2]: 33}, save=False)
    enter(online.page, stops[4], "55")
    online.page.get_by_role("button", name="Save draft").click()
    expect(online.page.locator("#messages")).to_contain_text("Draft kept")

    offline.page.context.set_offline(False)
    expect(offline.page.locator("#outbox")).to_be_hidden(timeout=20_000)
    held = lines_of(route, today())
    assert held[stops[2]] == (True, 33) and held[stops[4]] == (True, 55)
    assert Session.objects.get(route=route).summary.record_version == 2


@pytest.mark.browser
def test_the_same_line_changed_by_both_opens_the_days_merge(
    chromium, live_server, field_day, admin_user
):
    route, stops = field_day
    offline, online = two_supervisors(chromium, live_server, route, admin_user)
    queue_day(offline.page, live_server, route, today(), {stops[2]: 33}, save=False)
    enter(online.page, stops[2], "44")
    online.page.get_by_role("button", name="Save draft").click()
    expect(online.page.locator("#messages")).to_contain_text("Draft kept")

    page = offline.page
    page.context.set_offline(False)
    item = page.locator(".outbox-item")
    expect(item).to_contain_text("Changed by someone else meanwhile", timeout=20_000)
    page.locator(".outbox summary").click()
    page.screenshot(path=SHOTS / "supervision-offline-conflict-phone.png")
    page.get_by_role("button", name="Open the merge").click()
    expect(page.locator("#attention")).to_contain_text("choose the value to keep")
    expect(page.locator(f"#line-{stops[2]}")).to_contain_text("33")
    expect(page.locator(f"#line-{stops[2]}")).to_contain_text("44")
    page.screenshot(path=SHOTS / "supervision-offline-merge-phone.png")
    page.locator(f"#line-{stops[2]}").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "supervision-offline-merge-line-phone.png")
    expect(page.locator("#outbox")).to_be_hidden()
    assert lines_of(route, today())[stops[2]] == (True, 44)  # nothing chosen for them


@pytest.mark.browser
def test_a_day_saved_for_good_meanwhile_keeps_the_reason_until_discarded(
    chromium, live_server, field_day, admin_user
):
    route, stops = field_day
    offline, online = two_supervisors(chromium, live_server, route, admin_user)
    queue_day(offline.page, live_server, route, today(), {stops[2]: 33}, save=False)
    online.page.locator("summary", has_text="Save session").click()
    online.page.locator(".confirm-body").get_by_role("button", name="Save session").click()
    expect(online.page.locator(".badge-readonly")).to_be_visible()

    page = offline.page
    page.context.set_offline(False)
    expect(page.locator(".outbox-refused")).to_have_count(1, timeout=20_000)
    expect(page.locator(".outbox-reason")).to_contain_text("Saved by")
    discard = page.get_by_role("button", name=re.compile("Discard"))
    page.locator(".outbox summary").click()
    discard.click()
    discard.click()
    expect(page.locator("#outbox")).to_be_hidden()
    assert lines_of(route, today())[stops[2]] == (False, 0)


@pytest.mark.browser
def test_a_day_past_its_review_window_meanwhile_keeps_the_reason(
    chromium, live_server, field_day, settings
):
    route, stops = field_day
    supervisor = open_page(chromium, PHONE, route.rep.team.manager)
    page = supervisor.page
    keep_both_days(page, live_server, route)
    page.context.set_offline(True)
    queue_day(page, live_server, route, yesterday(), {stops[0]: 4}, save=True)
    settings.SUPERVISION_REVIEW_DAYS = 0  # yesterday is history now

    page.context.set_offline(False)
    expect(page.locator(".outbox-refused")).to_have_count(1, timeout=20_000)
    expect(page.locator(".outbox-reason")).to_contain_text("Never saved, and more than 0 days")
    assert not Session.objects.filter(route=route).exists()


# Typed on the page with no signal, against supervision.rules.clean_quantity on the server.
TYPED = [
    "-5", "12", "12.0", "1e3", "1.9", "abc", "999999", "1000000", "1e309", "-1e309", "1e-400",
    "1.0000000000000001", "1_000", "12.", ".5", "-0", "0e5", "1e", "e5", ".", "+7", "",
]  # fmt: skip


@pytest.mark.browser
def test_quantities_checked_offline_as_the_server_checks_them(chromium, live_server, field_day):
    route, stops = field_day
    supervisor = open_page(chromium, DESKTOP, route.rep.team.manager)
    page = supervisor.page
    keep_both_days(page, live_server, route)
    page.context.set_offline(True)
    page.goto(live_server.url + day_path(route, today()))
    for typed in TYPED:
        enter(page, stops[0], typed)
        messages = page.locator(f"#line-{stops[0]}-messages")
        try:
            value, notice = rules.clean_quantity(typed)
        except ValidationError as refused:
            expect(messages.locator(".error")).to_have_text(refused.messages)
            expect(page.locator(f"#qty-{stops[0]}")).to_have_attribute("aria-invalid", "")
            continue
        expect(page.locator(f"#qty-{stops[0]}")).to_have_value(str(value))
        expect(messages.locator(".error")).to_have_count(0)
        if notice:
            expect(messages).to_contain_text(notice)
    assert supervisor.errors == []


@pytest.mark.browser
def test_a_kept_day_opened_again_after_its_save_was_sent_loses_nothing(
    chromium, live_server, field_day
):
    route, stops = field_day
    supervisor = open_page(chromium, DESKTOP, route.rep.team.manager)
    page = supervisor.page
    keep_both_days(page, live_server, route)
    page.context.set_offline(True)
    queue_day(page, live_server, route, today(), {stops[0]: 6}, save=False)
    page.goto(live_server.url + reverse("supervision:index"))
    page.context.set_offline(False)  # sent from the index: the kept day is the one before it
    expect(page.locator("#outbox")).to_be_hidden(timeout=20_000)
    page.context.set_offline(True)
    queue_day(page, live_server, route, today(), {stops[1]: 8}, save=False)
    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_be_hidden(timeout=20_000)
    held = lines_of(route, today())
    assert held[stops[0]] == (True, 6) and held[stops[1]] == (True, 8)
    assert Session.objects.get(route=route).summary.record_version == 2

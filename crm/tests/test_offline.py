"""Works without signal: the CRM is installable (a web app manifest, icons), a service worker at
the root keeps the app shell and the pages a person opened, and a rep's visit logs and tasks done
wait in an outbox with no signal, to be sent once each when it returns (static/js/offline.js)."""

import datetime as dt
import json
import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Activity, ActivityStatus, Task, TaskStatus
from crm.testing.browser import DESKTOP, PHONE, check_page, open_page
from crm.tests.factories import ActivityFactory, CustomerFactory, SalesRepFactory, TaskFactory

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- What the server hands out ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_service_worker_is_javascript_at_the_root_and_names_the_app_shell(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    source = response.content.decode()
    shell = json.loads(re.search(r"self\.SHELL = (\[.*\]);", source).group(1))
    assert static("css/app.css") in shell
    assert static("js/offline.js") in shell
    assert shell[-1] == reverse("offline")
    assert 'addEventListener("fetch"' in source


@pytest.mark.django_db
def test_the_web_app_manifest_makes_the_crm_installable(client):
    response = client.get(reverse("web-app-manifest"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#2454c5"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    for size in (192, 512):
        path = finders.find(f"icons/icon-{size}.png")
        with open(path, "rb") as icon:
            head = icon.read(24)
        assert head.startswith(PNG_SIGNATURE)
        assert int.from_bytes(head[16:20]) == size


@pytest.mark.django_db
def test_the_offline_page_is_the_same_for_everyone(client, rep):
    anonymous = client.get(reverse("offline"))
    client.force_login(rep.user)
    signed_in = client.get(reverse("offline"))
    assert anonymous.status_code == signed_in.status_code == 200
    assert "You're offline" in anonymous.content.decode()
    assert rep.user.username not in signed_in.content.decode()
    # It does not tell the service worker that nobody is signed in (which would empty the cache).
    assert "data-user" not in signed_in.content.decode()


@pytest.mark.django_db
def test_pages_link_the_manifest_and_say_whose_they_are(client, rep):
    login_page = client.get(reverse("login")).content.decode()
    assert 'rel="manifest"' in login_page
    assert 'data-user=""' in login_page
    assert 'id="outbox"' not in login_page
    client.force_login(rep.user)
    home = client.get(reverse("home")).content.decode()
    assert f'data-user="{rep.user.pk}"' in home
    assert 'id="outbox"' in home and 'id="offline-banner"' in home


@pytest.mark.django_db
def test_only_the_visit_log_and_an_open_tasks_done_are_queued(client, rep):
    client.force_login(rep.user)
    log = client.get(reverse("activity-create") + "?log=1").content.decode()
    assert 'data-offline="visit" data-zone="Europe/Madrid"' in log
    plan = client.get(reverse("activity-create")).content.decode()
    assert "data-offline" not in plan
    open_task = TaskFactory(rep=rep, title="Open one")
    done_task = TaskFactory(
        rep=rep, title="Done one", status=TaskStatus.DONE, completed_at=timezone.now()
    )
    tasks = client.get(reverse("task-list")).content.decode()
    assert f'data-offline="task-done" data-target="{open_task.pk}"' in tasks
    assert f'data-target="{done_task.pk}"' not in tasks


# --- In a browser -----------------------------------------------------------------------------

VISITS = 5


@pytest.fixture
def field_rep(role_groups):
    rep = SalesRepFactory()
    customers = [CustomerFactory(owner=rep, name=f"Bar Offline {n}") for n in range(2)]
    tasks = [TaskFactory(rep=rep, title=f"Offline task {n}") for n in range(2)]
    return rep, customers, tasks


def wait_until_kept(page, path: str) -> None:
    page.wait_for_function(
        "async (path) => Boolean(await caches.match(path))", arg=path, timeout=10_000
    )


def open_while_online(browser_page, live_server) -> None:
    """The pages opened with signal, so that the service worker keeps them."""
    page = browser_page.page
    page.goto(live_server.url + reverse("task-list"))
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    wait_until_kept(page, reverse("task-list"))
    page.goto(live_server.url + reverse("activity-create") + "?log=1")
    wait_until_kept(page, reverse("activity-create") + "?log=1")


def work_offline(browser_page, live_server, customers, tasks) -> None:
    """With no signal: five visits logged and two tasks done, then the page reloaded."""
    page = browser_page.page
    page.context.set_offline(True)
    expect(page.locator("#offline-banner")).to_be_visible()
    for n in range(VISITS):
        page.get_by_label("Customer").select_option(str(customers[n % 2].pk))
        page.get_by_label("Outcome").select_option("ordered")
        page.get_by_label("Notes").fill(f"Offline visit {n}")
        page.get_by_role("button", name="Log it").click()
        expect(page.locator("[data-outbox-count]")).to_have_text(str(n + 1))
    expect(page.locator("#messages")).to_contain_text("it will be sent when you're back")
    page.goto(live_server.url + reverse("task-list"))
    for task in tasks:
        page.get_by_role("button", name=f"Done: {task.title}").click()
    expect(page.locator("[data-outbox-count]")).to_have_text(str(VISITS + 2))
    page.reload()
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    expect(page.locator("[data-outbox-count]")).to_have_text(str(VISITS + 2))
    expect(page.locator(".outbox-mark")).to_have_count(2)


def assert_sent_once(rep) -> None:
    visits = Activity.objects.filter(rep=rep, notes__startswith="Offline visit")
    assert sorted(visits.values_list("notes", flat=True)) == [
        f"Offline visit {n}" for n in range(VISITS)
    ]
    assert set(visits.values_list("status", flat=True)) == {ActivityStatus.COMPLETED}
    # The form's wall-clock time, in the rep's zone, became the right moment.
    for due_at in visits.values_list("due_at", flat=True):
        assert dt.timedelta(0) <= timezone.now() - due_at < dt.timedelta(minutes=5)
    assert Task.objects.filter(rep=rep, status=TaskStatus.DONE).count() == 2


@pytest.mark.browser
def test_visits_and_tasks_done_offline_are_sent_once_when_back(chromium, live_server, field_rep):
    rep, customers, tasks = field_rep
    browser_page = open_page(chromium, PHONE, rep.user)
    page = browser_page.page
    open_while_online(browser_page, live_server)
    work_offline(browser_page, live_server, customers, tasks)
    page.locator(".outbox summary").click()
    expect(page.locator(".outbox-item")).to_have_count(VISITS + 2)
    page.screenshot(path=settings.BASE_DIR / "test-artifacts" / "offline-outbox-phone.png")

    # A page never opened on this device: the offline page, with the outbox still there.
    page.goto(live_server.url + reverse("customer-list"))
    expect(page.get_by_role("heading", name="You're offline")).to_be_visible()
    assert check_page(browser_page, screenshot="offline-page-phone").problems == []
    # ...which is nobody's in particular: the pages kept for this rep are still there.
    page.goto(live_server.url + reverse("task-list"))
    expect(page.locator("[data-outbox-count]")).to_have_text(str(VISITS + 2))

    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_be_hidden(timeout=15_000)
    expect(page.locator("#offline-banner")).to_be_hidden()
    expect(page.locator("#messages")).to_contain_text("7 changes made offline were sent")
    assert_sent_once(rep)
    assert browser_page.errors == []


@pytest.mark.browser
def test_an_answer_lost_during_the_replay_is_not_a_second_write(chromium, live_server, field_rep):
    rep, customers, tasks = field_rep
    browser_page = open_page(chromium, DESKTOP, rep.user)
    page = browser_page.page
    open_while_online(browser_page, live_server)
    work_offline(browser_page, live_server, customers, tasks)

    seen = {"writes": 0, "replayed": 0}

    def lose_the_third_answer(route):
        seen["writes"] += 1
        if seen["writes"] == 3:
            route.fetch()  # the server commits...
            route.abort()  # ...and the answer never arrives
        else:
            response = route.fetch()
            seen["replayed"] += response.headers.get("idempotent-replayed") == "true"
            route.fulfill(response=response)

    page.route("**/api/**", lose_the_third_answer)
    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_be_hidden(timeout=20_000)
    assert seen == {"writes": VISITS + 2 + 1, "replayed": 1}
    assert_sent_once(rep)
    # The lost answer was a failed fetch, which the page logs as a console error; nothing else.
    assert all("Failed to load resource" in error for error in browser_page.errors)


@pytest.mark.browser
def test_a_refused_change_stays_with_its_reason_until_discarded(chromium, live_server, field_rep):
    rep, customers, _ = field_rep
    browser_page = open_page(chromium, PHONE, rep.user)
    page = browser_page.page
    open_while_online(browser_page, live_server)
    writes = []
    page.on("request", lambda r: writes.append(r.url) if "/api/" in r.url else None)
    # Entries that are not ours: corrupt, or another person's. Left alone, never sent.
    page.evaluate(
        """() => new Promise((resolve) => {
          const open = indexedDB.open("crm-offline", 1);
          open.onsuccess = () => {
            const objects = open.result.transaction("outbox", "readwrite").objectStore("outbox");
            objects.add({kind: "visit", user: "999999", key: "k-1", label: "x",
                         body: {notes: "someone else's"}});
            objects.add({kind: "wipe-everything", url: "/api/customers/1/", method: "DELETE"});
            objects.transaction.oncomplete = resolve;
          };
        })"""
    )
    page.context.set_offline(True)
    page.get_by_label("Customer").select_option(str(customers[0].pk))
    # A customer that does not exist (gone since the page was opened).
    page.evaluate("document.querySelector('#id_customer option:checked').value = '99999999'")
    page.get_by_label("Notes").fill("Offline visit refused")
    page.get_by_role("button", name="Log it").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("1")

    page.context.set_offline(False)
    expect(page.locator(".outbox-refused")).to_have_count(1, timeout=15_000)
    expect(page.locator(".outbox-reason")).to_contain_text("customer")
    assert len(writes) == 1
    assert not Activity.objects.filter(notes__startswith="Offline visit").exists()
    page.locator(".outbox summary").click()
    report = check_page(browser_page, screenshot="offline-refused-phone")
    assert report.problems == []

    discard = page.get_by_role("button", name=re.compile("Discard"))
    discard.click()
    expect(discard).to_have_text("Discard for good")
    discard.click()
    expect(page.locator("#outbox")).to_be_hidden()
    page.reload()
    expect(page.locator("#outbox")).to_be_hidden()
    assert len(writes) == 1
    # The browser logs the refusal's 400 itself; nothing else went wrong.
    assert [error for error in browser_page.errors if "status of 400" not in error] == []


@pytest.mark.browser
def test_pages_kept_for_one_person_are_gone_when_they_log_out(chromium, live_server, field_rep):
    rep, _, _ = field_rep
    browser_page = open_page(chromium, DESKTOP, rep.user)
    page = browser_page.page
    open_while_online(browser_page, live_server)
    page.get_by_role("button", name="Log out").click()
    expect(
        page.get_by_role("heading", name=re.compile("Log(ged)? ?out|Log in", re.I))
    ).to_be_visible()
    page.wait_for_function(
        "async (path) => !(await caches.match(path))", arg=reverse("task-list"), timeout=10_000
    )
    # With no signal, the next person sees the offline page, not the last one's tasks.
    page.context.set_offline(True)
    page.goto(live_server.url + reverse("task-list"))
    expect(page.get_by_role("heading", name="You're offline")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Offline task 0")


@pytest.mark.browser
def test_a_planned_visit_marked_done_offline_is_completed_once(chromium, live_server, field_rep):
    rep, customers, _ = field_rep
    planned = ActivityFactory(rep=rep, customer=customers[0], subject="Stock check")
    browser_page = open_page(chromium, DESKTOP, rep.user)
    page = browser_page.page
    complete = reverse("activity-complete", args=[planned.pk])
    page.goto(live_server.url + reverse("task-list"))
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    wait_until_kept(page, reverse("task-list"))
    page.goto(live_server.url + complete)
    wait_until_kept(page, complete)

    page.context.set_offline(True)
    page.get_by_label("Outcome").select_option("interested")
    page.get_by_label("Notes").fill("Asked for samples")
    page.get_by_role("button", name="Mark done").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("1")
    expect(page.get_by_role("button", name="Mark done")).to_be_disabled()
    page.reload()
    expect(page.locator("[data-outbox-count]")).to_have_text("1")

    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_be_hidden(timeout=15_000)
    planned.refresh_from_db()
    assert (planned.status, planned.outcome) == (ActivityStatus.COMPLETED, "interested")
    assert planned.notes == "Asked for samples"
    assert browser_page.errors == []

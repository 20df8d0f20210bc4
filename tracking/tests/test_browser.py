"""The snippet in Debian's Chromium: a website's page (another origin, served here by a small
local server) includes tracker.js with a test tenant's key; its page view and a custom event
reach the raw table, and once processed they are one session with two events. An administrator
copies the tenant page's test command, runs it, and sees its event first among the latest raw
events; rotates the keys (asked first) and reads until when the previous key works, which it
does. The tracking pages fit a phone and pass the accessibility check."""

import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.testing.browser import DESKTOP, PHONE, open_page, page_problems
from crm.tests.factories import UserFactory
from tracking import processing, tenants
from tracking.models import RawEvent, TrackedEvent, TrackedSession, TrackingTenant
from tracking.tests.helpers import UA, make_tenant

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html lang="en"><head><title>A customer's shop</title>
<script defer src="{tracker}" data-key="{key}"></script></head>
<body><h1>Shop</h1><button id="buy">Buy</button>
<script>document.getElementById("buy").addEventListener("click", function () {{
  crmTracker.track("add_to_cart", {{sku: "A-1", price: 12.5}}); crmTracker.flush(); }});</script>
</body></html>"""


class Website:
    """A website of the tenant's, on a port (an origin) of its own."""

    def __init__(self, html: str):
        page = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _wait_for(count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while RawEvent.objects.count() < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_page_with_the_snippet_sends_a_page_view_and_a_custom_event(
    chromium, live_server, role_groups
):
    tenant = make_tenant("website", allowed_origins=[])
    page_html = PAGE.format(tracker=live_server.url + reverse("tracking-tracker"),
                            key=tenant.ingestion_key)  # fmt: skip
    website = Website(page_html)
    try:
        tenant.allowed_origins = [website.origin]
        tenant.save()
        tenants.forget(tenant.ingestion_key)
        # As a visitor's browser says it is (headless Chromium announces itself: a bot).
        browser_page = open_page(chromium, {**DESKTOP, "user_agent": UA})
        page = browser_page.page
        page.goto(website.origin + "/products/a-1")
        expect(page.locator("h1")).to_have_text("Shop")
        _wait_for(1)
        page.click("#buy")
        _wait_for(2)
    finally:
        website.close()

    raws = list(RawEvent.objects.order_by("id"))
    assert [raw.payload["evt_type"] for raw in raws] == ["page_view", "add_to_cart"]
    assert {raw.record_source for raw in raws} == {"js"}
    view = raws[0].payload
    assert view["url"] == website.origin + "/products/a-1"
    assert view["props"]["title"] == "A customer's shop" and "x" in view["props"]["screen"]
    assert raws[1].payload["props"] == {"sku": "A-1", "price": 12.5}
    # The snippet names each event with a UUIDv7: the millisecond first.
    assert all(re.fullmatch(r"[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}", raw.event_id)
               for raw in raws)  # fmt: skip

    processing.process_pending()
    session = TrackedSession.objects.get()
    assert (session.page_views, session.events) == (1, 2)
    assert session.entry_url == website.origin + "/products/a-1"
    assert TrackedEvent.objects.filter(session=session).count() == 2
    assert [e for e in browser_page.errors if "favicon" not in e] == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_tracking_pages_fit_the_screen_and_pass_the_accessibility_check(
    chromium, live_server, role_groups, device
):
    tenant = make_tenant("shown")
    admin = UserFactory(is_staff=True, is_superuser=True)
    pages = [
        (admin, "index", reverse("tracking:index")),
        (admin, "dashboard", reverse("tracking:dashboard", args=[tenant.pk])),
        (admin, "rotate-keys", reverse("tracking:rotate-keys", args=[tenant.pk])),
    ]
    assert page_problems(chromium, live_server.url, device, pages, prefix="tracking-") == []


def _run(command: str) -> str:
    """A command as a terminal runs it (the page's text, quotes and all), its output."""
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_an_admin_runs_the_pages_test_command_sees_its_event_then_rotates_the_keys(
    chromium, live_server, role_groups, settings, device
):
    settings.SITE_URL = live_server.url  # the address the page's command sends to
    tenant = make_tenant("demo-shop")
    admin = UserFactory(is_staff=True, is_superuser=True)
    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, admin)
    page = browser_page.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(live_server.url + reverse("tracking:dashboard", args=[tenant.pk]))
    shown = page.locator("#test-command").inner_text().strip()

    page.get_by_role("button", name="Copy the command").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    command = page.evaluate("navigator.clipboard.readText()")
    assert command == shown and command.startswith("curl ")
    answer = _run(command)  # curl's own user agent, no Origin: a server's request

    assert re.search(r"^HTTP/1\.1 200", answer, re.MULTILINE), answer
    assert '"results": [{"status": "stored"}]' in answer
    page.reload()
    first = page.locator("#recent-raw tbody tr").first
    expect(first).to_contain_text("test_event")
    expect(first).to_contain_text("api")
    expect(first).to_contain_text("UTC")  # the moment it was received, with its zone
    page.screenshot(path=f"test-artifacts/{device}-tracking-test-command.png", full_page=True)

    # Rotating the keys asks first, then says until when the previous key works.
    page.get_by_role("link", name="Rotate keys…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rotate the keys of Demo-Shop?")
    expect(page.get_by_label("Keep them working for the grace period", exact=False)).to_be_checked()
    page.get_by_role("button", name="Rotate the keys").click()
    notice = page.locator("#previous-keys")
    expect(notice).to_contain_text("the previous key works until")
    expect(notice).to_contain_text("UTC")
    rotated = TrackingTenant.objects.get(pk=tenant.pk)
    assert rotated.ingestion_key != tenant.ingestion_key
    assert rotated.ingestion_key in page.locator("#test-command").inner_text()
    page.screenshot(path=f"test-artifacts/{device}-tracking-rotated.png", full_page=True)

    # Within the grace period the command copied before still stores its event.
    assert re.search(r"^HTTP/1\.1 200", _run(command), re.MULTILINE)
    assert RawEvent.objects.filter(tenant=tenant).count() == 2
    assert tenant.ingestion_key in command  # (the previous key, then)
    assert [e for e in browser_page.errors if "favicon" not in e] == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_with_the_queue_on_an_admin_sees_its_backlog_on_the_tenants_page_and_the_ops_page(
    chromium, live_server, role_groups, settings, device
):
    import redis

    from tracking import queue

    settings.TRACKING_QUEUE = "redis"
    settings.TRACKING_QUEUE_URL = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/3"
    store = redis.Redis.from_url(settings.TRACKING_QUEUE_URL)
    store.flushdb()
    try:
        tenant = make_tenant("queued")
        for n in range(3):
            queue.enqueue(tenant=tenants.resolve(tenant.ingestion_key),
                          events=[{"evt_type": "page_view", "uuid": f"q-{n}"}], ip=None,
                          user_agent=UA, source="api")  # fmt: skip
        admin = UserFactory(is_staff=True, is_superuser=True)
        pages = [
            (admin, "queue-dashboard", reverse("tracking:dashboard", args=[tenant.pk])),
            (admin, "queue-ops", reverse("ops:dashboard")),
        ]
        assert page_problems(chromium, live_server.url, device, pages, prefix="tracking-") == []
        browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, admin)
        page = browser_page.page
        page.goto(live_server.url + reverse("tracking:dashboard", args=[tenant.pk]))
        panel = page.locator("#tracking-queue")
        expect(panel.get_by_role("heading", name="Queue in front of storage")).to_be_visible()
        expect(panel.get_by_text("Queued requests")).to_be_visible()
        expect(panel.locator("dd").first).to_contain_text("3")
        expect(panel.get_by_text("Lost from the queue")).to_be_visible()
    finally:
        store.flushdb()
        store.close()

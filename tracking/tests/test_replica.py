"""The dashboards on a real streaming replica of the test run's PostgreSQL (crm.testing.replica:
`pg_basebackup -R`, a hot standby on a port of its own): what is committed on the primary shows
once replayed, the page says how far behind its figures are, writes go to the primary, and a
replica that is behind or stopped leaves the page on the primary with a notice."""

import time

import pytest
from django.db import connections, router
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from playwright.sync_api import expect

from crm import replica
from crm.testing import signed_in
from crm.testing.browser import DESKTOP, PHONE, check_page, open_page, page_problems
from crm.testing.stack import wait_until
from crm.tests.factories import UserFactory
from tracking import processing, services, tenants
from tracking.models import RawEvent, TrackingTenant
from tracking.tests.helpers import UA, make_tenant

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def send(tenant, *paths: str) -> None:
    services.ingest(
        tenant=tenants.resolve(tenant.ingestion_key),
        events=[{"evt_type": "page_view", "session_id": "s1", "url": f"https://x.test{path}"}
                for path in paths],
        ip=None, user_agent=UA, source="js",
    )  # fmt: skip
    processing.process_pending()


def on_replica(sql: str) -> tuple:
    with connections[replica.REPLICA].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


COUNTS = (
    "SELECT (SELECT count(*) FROM tracking_rawevent), (SELECT count(*) FROM tracking_trackedevent)"
)


def replayed(client, tenant, received: int):
    """The dashboard once the replica holds what the primary does (the raw rows and what the
    worker made of them, two transactions) and the tenant's `received` events."""
    with connections[replica.PRIMARY].cursor() as cursor:
        cursor.execute(COUNTS)
        on_primary = cursor.fetchone()
    wait_until(lambda: on_replica(COUNTS) == on_primary, timeout=15, interval=0.05,
               what="the replica replays the events")  # fmt: skip
    response = client.get(reverse("tracking:dashboard", args=[tenant.pk]))
    assert response.context["figures"]["received"] == received
    return response


def test_the_dashboard_reads_the_replica_once_replayed_and_says_how_far_behind(
    real_replica, admin_client, role_groups
):
    tenant = make_tenant("site")
    send(tenant, "/a", "/b", "/a")

    response = replayed(admin_client, tenant, 3)
    reading = response.wsgi_request.replica_reading
    assert reading.on_replica and reading.state.lag_seconds == 0
    html = response.content.decode()
    assert "Figures from a replica, 0 s behind (as of " in html and " UTC)" in html
    assert dict(response.context["figures"]["top_pages"]) == {"/a": 2, "/b": 1}

    overview = admin_client.get(reverse("tracking:index"))
    assert overview.wsgi_request.replica_reading.on_replica
    assert 'id="replica-lag"' in overview.content.decode()

    export = admin_client.get(reverse("tracking:events-export", args=[tenant.pk]))
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert export.wsgi_request.replica_reading.on_replica and len(lines) == 1 + 3


def test_the_dashboard_runs_the_same_queries_on_each_server_whatever_the_rows(
    real_replica, admin_client, role_groups
):
    ran = []
    for rows in (2, 25):
        tenant = make_tenant(f"site{rows}")
        send(tenant, *[f"/{n}" for n in range(rows)])
        replayed(admin_client, tenant, rows)
        with (
            CaptureQueriesContext(connections[replica.PRIMARY]) as primary,
            CaptureQueriesContext(connections[replica.REPLICA]) as standby,
        ):
            admin_client.get(reverse("tracking:dashboard", args=[tenant.pk]))
        ran.append((len(primary), len(standby)))
    assert ran[0] == ran[1]
    # The primary: the session, the user and its WAL position; the replica: the rest.
    assert any("pg_current_wal_lsn" in query["sql"] for query in primary.captured_queries)
    assert ran[0][1] > ran[0][0]


def test_writes_go_to_the_primary_from_inside_the_replicas_scope(real_replica, role_groups):
    tenant = make_tenant("site")
    seen = f"SELECT count(*) FROM tracking_trackingtenant WHERE id = {tenant.pk}"
    wait_until(lambda: on_replica(seen)[0], what="the replica replays the tenant")

    @replica.reads_from_replica
    def renaming(request):
        read = TrackingTenant.objects.get(pk=tenant.pk)
        assert router.db_for_read(RawEvent) == replica.REPLICA
        assert router.db_for_write(TrackingTenant, instance=read) == replica.PRIMARY
        read.name = "Renamed"
        read.save(update_fields=["name"])  # the replica is read-only: this would fail there
        return HttpResponse(read._state.db)

    answer = renaming(RequestFactory().get("/"))
    assert answer.content.decode() == replica.PRIMARY
    assert router.db_for_read(RawEvent) == replica.PRIMARY  # outside the scope
    assert TrackingTenant.objects.get(pk=tenant.pk).name == "Renamed"
    with pytest.raises(Exception, match="read-only"):
        on_replica(f"UPDATE tracking_trackingtenant SET name = 'x' WHERE id = {tenant.pk}")


def test_a_replica_behind_is_read_within_the_tolerated_lag_and_left_beyond_it(
    real_replica, admin_client, role_groups, settings
):
    tenant = make_tenant("site")
    send(tenant, "/a")
    replayed(admin_client, tenant, 1)
    on_replica("SELECT pg_wal_replay_pause()")
    try:
        time.sleep(1.2)
        send(tenant, "/b")  # committed on the primary, not replayed

        def behind():  # once the primary's WAL writer has written the commit
            response = admin_client.get(reverse("tracking:dashboard", args=[tenant.pk]))
            return response if response.wsgi_request.replica_reading.state.behind_bytes else None

        response = wait_until(behind, timeout=5, what="the primary writes its WAL")
        state = response.wsgi_request.replica_reading.state
        assert response.context["figures"]["received"] == 1
        assert state.lag_seconds >= 1 and state.behind_bytes > 0
        assert f"Figures from a replica, {state.lag_seconds} s behind" in response.content.decode()

        # A tenant the replica does not hold yet: its page is read from the primary, not a 404.
        fresh = make_tenant("fresh")
        response = admin_client.get(reverse("tracking:dashboard", args=[fresh.pk]))
        assert response.status_code == 200
        assert not response.wsgi_request.replica_reading.on_replica
        assert 'id="replica-lag"' not in response.content.decode()

        settings.DATABASE_REPLICA_MAX_LAG = 0
        response = admin_client.get(reverse("tracking:dashboard", args=[tenant.pk]))
        assert response.context["figures"]["received"] == 2
        assert "more than the 0 s tolerated: these figures are from the primary" in (
            response.content.decode()
        )
    finally:
        on_replica("SELECT pg_wal_replay_resume()")


def test_a_stopped_replica_leaves_the_pages_on_the_primary_with_a_notice(
    real_replica, admin_client, role_groups
):
    tenant = make_tenant("site")
    send(tenant, "/a")
    replayed(admin_client, tenant, 1)
    real_replica.halt()
    try:
        send(tenant, "/b")
        response = admin_client.get(reverse("tracking:dashboard", args=[tenant.pk]))
        assert response.status_code == 200
        assert response.context["figures"]["received"] == 2
        assert replica.NOT_ANSWERING in response.content.decode()

        health = admin_client.get("/health/").json()
        assert health["checks"]["replica"]["status"] == "degraded"
        replica.forget_failures()
        ops = admin_client.get(reverse("ops:dashboard")).content.decode()
        assert "Read replica" in ops and "does not answer" in ops
    finally:
        real_replica.resume()


def test_a_replica_that_stops_mid_page_leaves_the_page_read_again_from_the_primary(
    real_replica, role_groups
):
    tenant = make_tenant("site")
    seen = f"SELECT count(*) FROM tracking_trackingtenant WHERE id = {tenant.pk}"
    wait_until(lambda: on_replica(seen)[0], what="the replica replays the tenant")
    calls = []

    @replica.reads_from_replica
    def page(request):
        calls.append(router.db_for_read(TrackingTenant))
        if len(calls) == 1:
            real_replica.halt()  # the page has chosen the replica; it goes away under it
        return HttpResponse(TrackingTenant.objects.get(pk=tenant.pk).name)

    try:
        request = RequestFactory().get("/")
        answer = page(request)
        assert answer.content.decode() == tenant.name
        assert calls == [replica.REPLICA, replica.PRIMARY]
        assert request.replica_reading.notice == replica.NOT_ANSWERING
    finally:
        real_replica.resume()


@pytest.mark.browser
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_lag_line_and_the_notice_fit_the_screen_and_pass_the_checks(
    chromium, live_server, real_replica, role_groups, device
):
    tenant = make_tenant("shown")
    send(tenant, "/a")
    admin = UserFactory(is_staff=True, is_superuser=True)
    replayed(signed_in(admin), tenant, 1)
    pages = [
        (admin, "index", reverse("tracking:index")),
        (admin, "dashboard", reverse("tracking:dashboard", args=[tenant.pk])),
        (admin, "ops", reverse("ops:dashboard")),  # its "Read replica" section
    ]
    assert page_problems(chromium, live_server.url, device, pages, prefix="replica-") == []

    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, admin)
    page = browser_page.page
    page.goto(live_server.url + reverse("tracking:dashboard", args=[tenant.pk]))
    expect(page.locator("#replica-lag")).to_contain_text("Figures from a replica, 0 s behind")
    real_replica.halt()
    try:
        page.reload()
        expect(page.locator("#replica-lag")).to_have_text(replica.NOT_ANSWERING)
        report = check_page(browser_page, screenshot=f"{device}-replica-down")
        assert report.problems == []
    finally:
        real_replica.resume()

"""Tenants: keys resolved without a query per request, rotation and deactivation taking effect,
isolation (a key writes only to its tenant; pages, admin and dashboards show one tenant's data),
the admin pages, the dashboard, the migrations' way back."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm.models import AuditEntry
from crm.testing import statements
from tracking import processing, services, tenants
from tracking.models import RawEvent, TrackingTenant
from tracking.tests.helpers import ACTOR, ORIGIN, UA, make_tenant, post_batch, post_event

pytestmark = pytest.mark.django_db


def test_a_key_is_resolved_once_then_from_the_cache(client, assert_queries):
    tenant = make_tenant()
    tenants._local.clear()
    with assert_queries(2) as first:  # the key looked up, the event stored
        post_event(client, tenant, {"evt_type": "a"})
    tenants._local.clear()  # another process: the shared cache answers
    with assert_queries(1) as second:  # the event stored
        post_event(client, tenant, {"evt_type": "b"})

    def lookups(queries) -> list[str]:
        return [sql for sql in statements(queries) if "tracking_trackingtenant" in sql]

    assert len(lookups(first)) == 1 and lookups(second) == []


def test_rotated_keys_and_deactivation_take_effect_at_once(client, admin_client, settings):
    tenant = make_tenant()
    old_key = tenant.ingestion_key
    post_event(client, tenant, {"evt_type": "warm"})
    rotated = services.tenant_rotate_keys(actor=ACTOR, tenant_id=tenant.pk, keep_previous=False)
    # (the commit's forget runs at once in a test transaction only when asked)
    tenants.forget(old_key, rotated.ingestion_key)

    assert post_event(client, old_key, {"evt_type": "x"}).status_code == 401
    assert post_event(client, rotated, {"evt_type": "x"}).status_code == 200
    assert rotated.webhook_secret != tenant.webhook_secret

    admin_client.post(
        f"/admin/tracking/trackingtenant/{tenant.pk}/change/",
        {"name": tenant.name, "allowed_origins": ORIGIN, "ip_handling": "truncate",
         "bot_handling": "flag", "kill_switch": "", "active": ""},
    )  # fmt: skip
    tenants.forget(rotated.ingestion_key)
    assert post_event(client, rotated, {"evt_type": "x"}).status_code == 401
    entry = AuditEntry.objects.filter(action="tracking.tenant_rotate_keys").get()
    assert "pk_" not in json.dumps(entry.changes)  # no secret in the audit trail


def test_admins_create_tenants_in_admin_with_their_keys_and_snippet(admin_client):
    created = admin_client.post(
        "/admin/tracking/trackingtenant/add/",
        {"name": "Acme shop", "identifier": "acme",
         "allowed_origins": f"{ORIGIN}\r\n\r\nHTTPS://WWW.Shop.Example.com:443/\r\n",
         "ip_handling": "truncate", "bot_handling": "flag", "active": "on"},
    )  # fmt: skip
    tenant = TrackingTenant.objects.get(identifier="acme")
    page = admin_client.get(f"/admin/tracking/trackingtenant/{tenant.pk}/change/").content.decode()

    assert created.status_code == 302
    assert tenant.ingestion_key.startswith("pk_") and tenant.webhook_secret.startswith("whsec_")
    assert (
        tenant.hash_key == TrackingTenant(identifier="acme").hash_key or len(tenant.hash_key) == 16
    )
    # One origin a line, kept as browsers write them.
    assert tenant.allowed_origins == [ORIGIN, "https://www.shop.example.com"]
    assert f"{ORIGIN}\nhttps://www.shop.example.com</textarea>" in page
    assert tenant.ingestion_key in page and "tracker.js" in page and "curl" in page
    assert f"/tracking/{tenant.pk}/rotate-keys/" in page


def test_one_tenants_data_never_shows_for_another(client, admin_client, rep_client):
    mine, theirs = make_tenant("mine"), make_tenant("theirs")
    for tenant, name in ((mine, "mine"), (theirs, "theirs")):
        post_batch(client, tenant, [
            {"evt_type": "page_view", "session_id": name, "url": f"https://x.test/{name}-page"},
            {"evt_type": f"{name}_only"},
        ])  # fmt: skip
    processing.process_pending()

    page = admin_client.get(f"/tracking/{mine.pk}/").content.decode()
    listing = admin_client.get("/admin/tracking/rawevent/", {"tenant__id__exact": mine.pk})
    refused = rep_client.get(f"/tracking/{mine.pk}/")

    assert "/mine-page" in page and "mine_only" in page
    assert "/theirs-page" not in page and "theirs_only" not in page
    assert {row.tenant_id for row in listing.context["cl"].result_list} == {mine.pk}
    assert refused.status_code == 403
    # A key writes only to its own tenant, whatever the body says.
    client.logout()
    post_event(client, mine, {"evt_type": "x", "tenant": theirs.pk, "tenant_id": theirs.pk})
    assert RawEvent.objects.filter(tenant=theirs).count() == 2


def test_the_dashboard_shows_the_days_figures(admin_client):
    tenant = make_tenant()
    now = timezone.now()
    services.ingest(
        tenant=tenants.resolve(tenant.ingestion_key),
        events=[
            {"evt_type": "page_view", "session_id": "s", "url": "https://x.test/top", "uuid": n}
            for n in "abcd"
        ],
        ip=None, user_agent=UA, source="js", received_at=now - dt.timedelta(minutes=5),
    )  # fmt: skip
    processing.process_pending()
    services.ingest(tenant=tenants.resolve(tenant.ingestion_key), events=[{"evt_type": "late"}],
                    ip=None, user_agent=UA, source="api")  # fmt: skip
    services.count_drop(tenant.pk, "bot", 4)

    page = admin_client.get(f"/tracking/{tenant.pk}/")
    index = admin_client.get("/tracking/")
    html = page.content.decode()

    assert page.status_code == 200 and index.status_code == 200
    figures = page.context["figures"]
    assert (figures["received"], figures["pending"], figures["sessions_today"]) == (5, 1, 1)
    assert figures["top_pages"] == [("/top", 4)]
    assert ("Bots' events, dropped", 4) in page.context["drops"]
    assert tenant.ingestion_key in html and "<polyline" in html
    assert tenant.name in index.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_migrations_go_back_and_forward_cleanly(role_groups):
    out = StringIO()
    call_command("migrate", "tracking", "zero", stdout=out, verbosity=0)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert not [name for name in tables if name.startswith("tracking_")]
    call_command("migrate", "tracking", stdout=out, verbosity=0)
    tenant = make_tenant()
    assert TrackingTenant.objects.filter(pk=tenant.pk).exists()


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                   lambda inner: st.lists(inner, max_size=4)
                                   | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                                   max_leaves=20).map(lambda v: json.dumps(v).encode())),
       path=st.sampled_from(["/t/e", "/t/batch"]),
       content_type=st.sampled_from(["application/json", "text/plain",
                                     "application/x-www-form-urlencoded"]))  # fmt: skip
def test_arbitrary_bodies_never_get_a_500(client, body, path, content_type):
    tenant = TrackingTenant.objects.filter(identifier="fuzz").first() or make_tenant("fuzz")
    answer = client.post(f"{path}?key={tenant.ingestion_key}", body, content_type=content_type,
                         HTTP_USER_AGENT=UA)  # fmt: skip
    assert answer.status_code < 500


# Any text, and often halves of characters: unpaired surrogates, which JSON can escape and
# UTF-8 cannot hold (hypothesis's text never has them, so strings are joined from characters).
_HALVES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
_TEXT = st.lists(st.characters() | _HALVES, max_size=12).map("".join)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=10,
)
_EVENTS = st.fixed_dictionaries(
    {"evt_type": _TEXT | st.sampled_from(["page_view", "x" * 65, ""])},
    optional={"props": _VALUES, "session_id": _VALUES, "url": _VALUES, "referrer": _VALUES,
              "timestamp": _VALUES | st.just("2026-12-01T10:00:00Z")},
)  # fmt: skip


@hypothesis_settings(max_examples=80, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(events=st.lists(_EVENTS, min_size=1, max_size=5), single=st.booleans())
def test_events_of_any_shape_and_text_never_get_a_500_or_a_half_stored_batch(
    client, events, single
):
    tenant = TrackingTenant.objects.filter(identifier="fuzz").first() or make_tenant("fuzz")
    before = RawEvent.objects.filter(tenant=tenant).count()
    path, body = ("/t/e", events[0]) if single else ("/t/batch", {"batch": events})
    answer = client.post(f"{path}?key={tenant.ingestion_key}", json.dumps(body),
                         content_type="application/json", HTTP_USER_AGENT=UA)  # fmt: skip

    assert answer.status_code < 500
    if answer.status_code < 300:  # what it accepted is stored (new ids: no duplicates here)
        stored = RawEvent.objects.filter(tenant=tenant).count() - before
        assert stored == answer.json()["accepted"]


def test_the_events_export_quotes_what_a_spreadsheet_would_run(client, admin_client):
    tenant = make_tenant()
    post_batch(client, tenant, [{"evt_type": "=HYPERLINK(\"http://evil\")", "props": {"a": "+1"}},
                                {"evt_type": "@SUM(A1)"}, {"evt_type": "-2+3"}])  # fmt: skip
    processing.process_pending()
    answer = admin_client.get(f"/tracking/{tenant.pk}/events.csv")
    body = b"".join(answer.streaming_content).decode("utf-8-sig")

    assert answer["Content-Type"].startswith("text/csv")
    assert "'=HYPERLINK" in body and "'@SUM(A1)" in body and "'-2+3" in body
    assert RawEvent.objects.filter(payload__evt_type='=HYPERLINK("http://evil")').exists()


def test_the_latest_raw_events_are_the_last_received_first_with_their_zone(admin_client):
    tenant = make_tenant()
    known = tenants.resolve(tenant.ingestion_key)
    now = timezone.now()
    # Stored in this order; an import names earlier moments than rows stored before it.
    arrivals = [("recent", 1, "js"), ("imported", 90, "import"), ("latest", 0, "api"),
                ("oldest", 300, "js")]  # fmt: skip
    for evt_type, minutes_ago, source in arrivals:
        services.ingest(
            tenant=known, events=[{"evt_type": evt_type}], ip=None, user_agent=UA, source=source,
            received_at=now - dt.timedelta(minutes=minutes_ago),
        )  # fmt: skip

    page = admin_client.get(f"/tracking/{tenant.pk}/")
    html = page.content.decode()

    recent = [raw.payload["evt_type"] for raw in page.context["figures"]["recent"]]
    assert recent == ["latest", "recent", "imported", "oldest"]
    rows = html[html.index('id="recent-raw"') :]
    shown = [rows.index(f">{name}<") for name in recent]
    assert shown == sorted(shown)
    assert f"{timezone.localtime(now):%-d %b, %H:%M:%S} UTC" in rows  # a time with its zone


@pytest.mark.parametrize("rows", [2, 25])
def test_the_dashboard_runs_the_same_queries_for_any_number_of_rows(
    admin_client, rows, assert_queries
):
    tenant = make_tenant("site")
    services.ingest(
        tenant=tenants.resolve(tenant.ingestion_key),
        events=[{"evt_type": "page_view", "session_id": f"s{n % 3}",
                 "url": f"https://x.test/{n}"} for n in range(rows)],
        ip=None, user_agent=UA, source="js",
    )  # fmt: skip
    processing.process_pending()

    with assert_queries(10):
        assert admin_client.get(f"/tracking/{tenant.pk}/").status_code == 200


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_previous_keys_and_bot_flags_go_back_and_come_again_with_rows_in_the_tables(
    client, role_groups
):
    tenant = make_tenant()
    with_grace = services.tenant_rotate_keys(actor=ACTOR, tenant_id=tenant.pk)
    tenants.forget(tenant.ingestion_key, with_grace.ingestion_key)
    post_event(client, with_grace, {"evt_type": "bot"}, origin=ORIGIN,
               HTTP_USER_AGENT="Mozilla/5.0 HeadlessChrome/120")  # fmt: skip
    post_event(client, with_grace, {"evt_type": "person"}, origin=ORIGIN)
    out = StringIO()

    call_command("migrate", "tracking", "0005", stdout=out, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tracking_rawevent")
        assert cursor.fetchone()[0] == 2
    call_command("migrate", "tracking", stdout=out, verbosity=0)

    kept = TrackingTenant.objects.get(pk=tenant.pk)
    assert kept.ingestion_key == with_grace.ingestion_key
    assert (kept.previous_ingestion_key, kept.previous_keys_expire_at) == ("", None)
    assert kept.bot_handling == "flag"
    assert set(RawEvent.objects.values_list("payload__evt_type", "bot")) == {
        ("bot", False), ("person", False),
    }  # fmt: skip
    # (SQLite's flush deletes tenants one by one: a tenant keeps its raw events, so they go first)
    RawEvent.objects.all().delete()

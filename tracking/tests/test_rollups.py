"""The dashboards' rollups (tracking.rollups) equal a fresh count of the events and sessions,
whatever happened to the rows: batches moving the same sessions on, sessions seen earlier in a
later batch, duplicates, rows replayed after a failure, rows processed again; the rebuild gives
the same; the dashboard's figures are those a count over the raw rows and events gives."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Min, Q
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tracking import processing, rollups, selectors, services, tenants
from tracking.models import (
    EventsByMinute,
    PageViewsByHour,
    RawEvent,
    RawStatus,
    SessionsByQuarter,
    TrackedEvent,
    TrackedSession,
    TrackingTenant,
)
from tracking.tests.helpers import (
    UA,
    assert_rollups_are_a_fresh_count,
    fresh_counts,
    make_tenant,
    naive,
    rolled_up,
)

pytestmark = pytest.mark.django_db

# A moment just before a quarter of an hour and an hour end: sessions and pages cross them.
BASE = timezone.now().replace(minute=44, second=0, microsecond=0) - dt.timedelta(hours=3)


def ingest(tenant, events, *, minutes=0, source="js", bot=False, checked=True):
    return services.ingest(
        tenant=tenants.resolve(tenant.ingestion_key), events=events, ip=None, user_agent=UA,
        source=source, received_at=BASE + dt.timedelta(minutes=minutes), bot=bot,
        checked=checked,
    )  # fmt: skip


def view(session, path, minutes, uuid=None, evt_type="page_view"):
    event = {
        "evt_type": evt_type, "session_id": session, "url": f"https://shop.example.com{path}",
        "timestamp": (BASE + dt.timedelta(minutes=minutes)).isoformat(),
    }  # fmt: skip
    if uuid:
        event["uuid"] = uuid
    return event


def test_the_rollups_are_a_fresh_count_after_duplicates_replays_and_rows_processed_again():
    shop, other = make_tenant(), make_tenant("other")
    # Sessions over a quarter's and an hour's end, their events in several small batches, the
    # earliest of one session arriving last (its session moves to an earlier quarter, and stops
    # bouncing).
    ingest(shop, [view("a", "/", 10, "a1"), view("a", "/shoes", 12, "a2")], minutes=12)
    ingest(shop, [view("b", "/", 16, "b1")], minutes=16)
    processing.process_pending(batch=2)
    ingest(shop, [view("b", "/", 1, "b0"), view("c", "/cart", 17, "c1", "add_to_cart")],
           minutes=17)  # fmt: skip
    ingest(shop, [view("a", "/", 10, "a1"), view("b", "/", 16, "b1")], minutes=17)  # re-sent
    ingest(other, [view("a", "/", 14, "o1"), {"evt_type": "signup"}], minutes=17, source="api")
    ingest(shop, [view("bot", "/", 17, "x1")], minutes=17, bot=True)  # no event, no session
    ingest(shop, [{"name": "no type"}], minutes=18, source="import", checked=False)  # FAILED
    processing.process_pending(batch=3)
    # A tenant switched off fails its rows; back on, they are replayed and made then.
    TrackingTenant.objects.filter(pk=other.pk).update(active=False)
    ingest(other, [view("z", "/late", 40, "o2")], minutes=40)
    processing.process_pending()
    assert RawEvent.objects.filter(tenant=other, failure_reason="tenant_gone").count() == 1
    assert RawEvent.objects.filter(tenant=shop, status=RawStatus.FAILED).count() == 1
    TrackingTenant.objects.filter(pk=other.pk).update(active=True)
    assert processing.replay(tenant_id=other.pk) == 1
    processing.process_pending()
    assert_rollups_are_a_fresh_count()

    kept = rolled_up()
    RawEvent.objects.update(status=RawStatus.PENDING, processed_at=None)  # processed again
    processing.process_pending(batch=2)

    assert rolled_up() == kept == fresh_counts()
    assert sum(kept["minutes"].values()) == TrackedEvent.objects.count() == 8
    # BASE is a minute before a quarter: a, and b since its first view (sent last) moved it
    # there from the next quarter, no longer bounced; c has no page view.
    assert {key[1]: n for key, n in kept["quarters"].items() if key[0] == shop.pk} == {
        naive(BASE + dt.timedelta(minutes=1)): (2, 0),
        naive(BASE + dt.timedelta(minutes=16)): (1, 1),
    }
    rollups.rebuild()
    assert rolled_up() == kept


def test_the_rebuild_counts_one_tenant_or_all_and_names_what_it_made():
    shop, other = make_tenant(), make_tenant("other")
    ingest(shop, [view("a", "/", 1, "a1")])
    ingest(other, [view("b", "/", 2, "b1")])
    processing.process_pending()
    SessionsByQuarter.objects.update(sessions=99)
    EventsByMinute.objects.all().delete()
    out = StringIO()

    call_command("rebuild_tracking_rollups", "--tenant", "other", stdout=out)
    assert {row.tenant_id for row in EventsByMinute.objects.all()} == {other.pk}
    call_command("rebuild_tracking_rollups", stdout=out)

    assert_rollups_are_a_fresh_count()
    assert "Rollups counted afresh: 2 events by minute" in out.getvalue()
    for bad in ("nobody", "\x00", ""):
        with pytest.raises(CommandError, match="No tenant"):
            call_command("rebuild_tracking_rollups", "--tenant", bad, stdout=out)


def test_the_daily_retention_deletes_buckets_older_than_the_kept_days_and_keeps_the_rest(
    settings, monkeypatch
):
    from tracking.jobs import purge_tracking

    settings.TRACKING_ROLLUP_DAYS = 7
    monkeypatch.setattr(rollups, "PURGE_BATCH", 1)  # a statement a row: the loop goes on
    shop, other = make_tenant(), make_tenant("other")
    now = timezone.now()
    old, kept = (
        rollups.minute(now - dt.timedelta(days=8)),
        rollups.minute(now - dt.timedelta(days=6)),
    )
    for tenant in (shop, other):
        for moment in (old, kept):
            EventsByMinute.objects.create(tenant=tenant, minute=moment, evt_type="x",
                                          record_source="api", n=3)  # fmt: skip
            PageViewsByHour.objects.create(tenant=tenant, hour=rollups.hour(moment), url_path="/",
                                           n=2)  # fmt: skip
            SessionsByQuarter.objects.create(tenant=tenant, quarter=rollups.quarter(moment),
                                             sessions=1, bounced=0)  # fmt: skip

    purge_tracking(lambda done, total: None)

    for model, bucket in ((EventsByMinute, "minute"), (PageViewsByHour, "hour"),
                          (SessionsByQuarter, "quarter")):  # fmt: skip
        left = model.objects.values_list("tenant_id", bucket)
        assert sorted(tenant for tenant, _ in left) == [shop.pk, other.pk]
        assert all(moment > now - dt.timedelta(days=7) for _, moment in left)
    assert rollups.purge(before=now - dt.timedelta(days=7)) == 0  # nothing left to go


@pytest.mark.django_db(transaction=True)
def test_the_rebuild_command_runs_in_a_transaction_of_its_own(role_groups):
    shop = make_tenant()
    ingest(shop, [view("a", "/", 1, "a1")])
    processing.process_pending()
    EventsByMinute.objects.all().delete()

    # Outside a test's transaction, as an operator runs it (its LOCK TABLE needs one).
    call_command("rebuild_tracking_rollups", stdout=StringIO())

    assert_rollups_are_a_fresh_count()


def old_dashboard(tenant, now):
    """The dashboard's figures as they were counted before the rollups: over the raw rows and
    the events (the window on the rollups' buckets)."""
    since = selectors.window_start(now)
    raw = RawEvent.objects.filter(tenant=tenant, bot=False)
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    pending = raw.filter(status=RawStatus.PENDING).aggregate(
        n=Count("id"), oldest=Min("received_at")
    )
    sessions = TrackedSession.objects.filter(tenant=tenant, first_seen__gte=midnight).aggregate(
        n=Count("id"), bounced=Count("id", filter=Q(page_views__lte=1))
    )
    return {
        "received": raw.filter(received_at__gte=since).count(),
        "pending": pending["n"],
        "oldest": pending["oldest"],
        "failed": sorted(
            raw.filter(status=RawStatus.FAILED)
            .values_list("failure_reason")
            .annotate(n=Count("id"))
        ),
        "top_pages": list(
            TrackedEvent.objects.filter(
                tenant=tenant, occurred_at__gte=rollups.hour(since), evt_type="page_view"
            )
            .exclude(url_path="")
            .values_list("url_path")
            .annotate(n=Count("id"))
            .order_by("-n", "url_path")[: selectors.TOP_PAGES]
        ),
        "sessions": (sessions["n"], sessions["bounced"]),
    }


def test_the_dashboard_and_overview_show_what_the_raw_rows_and_events_count():
    shop = make_tenant()
    for n in range(30):
        ingest(shop, [view(f"s{n % 7}", f"/p{n % 4}", n * 7, f"e{n}")], minutes=n * 7)
    ingest(shop, [{"name": "no type"}], minutes=5, source="import", checked=False)  # FAILED
    processing.process_pending(batch=4)
    ingest(shop, [view("late", "/p1", 200, "late")], minutes=200)  # pending
    now = BASE + dt.timedelta(hours=3, minutes=30)

    figures = selectors.dashboard(shop, now=now)
    old = old_dashboard(shop, now)
    overview = selectors.overview([shop], now=now)[shop.pk]

    assert figures["received"] == old["received"] == overview["received"] == 32
    assert sum(n for _, n in figures["per_minute"]) == 30  # events made; the others wait
    assert (figures["pending"], now - figures["pending_age"]) == (old["pending"], old["oldest"])
    assert sorted(figures["failed"]) == old["failed"] == [("schema_violation", 1)]
    assert figures["top_pages"] == old["top_pages"]
    assert (figures["sessions_today"], figures["bounced_today"]) == old["sessions"]
    assert (overview["pending"], overview["failed"]) == (1, 1)


# Sessions, their events' moments (minutes from BASE, over two quarters' and an hour's ends)
# and pages, sent in any order, in batches of any size, some twice; processed in batches of
# any size.
_EVENTS = st.lists(
    st.tuples(st.sampled_from("abcd"), st.integers(0, 40), st.sampled_from(["/", "/x", ""]),
              st.sampled_from(["page_view", "page_view", "buy"])),
    min_size=1, max_size=14,
)  # fmt: skip


@hypothesis_settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(events=_EVENTS, sends=st.lists(st.integers(1, 5), min_size=1, max_size=5),
       batch=st.integers(1, 6), again=st.booleans())  # fmt: skip
def test_the_rollups_are_a_fresh_count_whatever_the_order_and_batches(events, sends, batch, again):
    tenant = TrackingTenant.objects.filter(identifier="prop").first() or make_tenant("prop")
    TrackedEvent.objects.all().delete()
    TrackedSession.objects.all().delete()
    RawEvent.objects.all().delete()
    for model in (EventsByMinute, PageViewsByHour, SessionsByQuarter):
        model.objects.all().delete()
    shaped = [view(session, path, minutes, f"u{n}", kind)
              for n, (session, minutes, path, kind) in enumerate(events)]  # fmt: skip
    start = 0
    for size in sends * len(shaped):
        if start >= len(shaped):
            break
        ingest(tenant, shaped[start : start + size], minutes=start)
        if again:  # sent twice: stored once
            ingest(tenant, shaped[start : start + size], minutes=start + 1)
        processing.process_pending(batch=batch)
        start += size
    if again:
        RawEvent.objects.update(status=RawStatus.PENDING, processed_at=None)
        processing.process_pending(batch=batch)

    assert_rollups_are_a_fresh_count()


@pytest.mark.sqlite
def test_what_the_worker_counts_is_what_the_rebuild_counts_on_either_database():
    shop = make_tenant()
    ingest(shop, [view("a", "/", 10, "a1"), view("b", "/", 16, "b1")], minutes=16)
    processing.process_pending(batch=1)
    ingest(shop, [view("b", "/", 1, "b0"), view("a", "/", 10, "a1"), view("c", "/x", 31, "c1")],
           minutes=31)  # fmt: skip
    processing.process_pending(batch=2)
    RawEvent.objects.update(status=RawStatus.PENDING, processed_at=None)  # processed again
    processing.process_pending()
    kept = rolled_up()

    rollups.rebuild()

    assert rolled_up() == kept
    assert sum(kept["minutes"].values()) == TrackedEvent.objects.count() == 4
    assert sum(sessions for sessions, _ in kept["quarters"].values()) == 3


@pytest.mark.django_db(transaction=True)
def test_the_migration_goes_back_and_forward_with_rows_and_counts_what_is_there(role_groups):
    shop = make_tenant()
    ingest(shop, [view("a", "/", 10, "a1"), view("a", "/x", 20, "a2"), view("b", "/", 16, "b1")])
    processing.process_pending(batch=1)
    kept = rolled_up()
    out = StringIO()

    call_command("migrate", "tracking", "0007", stdout=out, verbosity=0)
    with connection.cursor() as cursor:
        assert "tracking_eventsbyminute" not in connection.introspection.table_names(cursor)
        cursor.execute("SELECT count(*) FROM tracking_trackedevent")
        assert cursor.fetchone()[0] == 3
    call_command("migrate", "tracking", stdout=out, verbosity=0)

    assert rolled_up() == kept == fresh_counts()

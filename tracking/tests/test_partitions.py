"""The raw table in day partitions (PostgreSQL): made ahead, an event's received time decides its
partition, "stored once" across midnight within the window, retention by whole partitions, the
worker's claim on the newest ones, and the migration both ways with rows."""

import datetime as dt
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from crm.testing.database import held_elsewhere
from crm.testing.migrations import migrate_to
from crm.triggers import existing_triggers
from tracking import contract, partitions, processing, retention, services, tenants
from tracking.models import RawEvent, RawStatus, TrackedEvent
from tracking.tests.helpers import make_tenant, post_batch
from tracking.tests.test_processing import ingest

UTC = dt.UTC
TODAY = dt.datetime.now(UTC).date()
RAW_TRIGGERS = {"tracking_raw_payload_kept", "tracking_raw_tenant_exists",
                "tracking_raw_tenant_kept"}  # fmt: skip


def _where(event_id: str) -> list[str]:
    """The partitions holding rows of `event_id`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM tracking_rawevent WHERE event_id = %s "
            "ORDER BY id",
            [event_id],
        )
        return [name for (name,) in cursor.fetchall()]


def _midnight(days: int) -> dt.datetime:
    day = TODAY + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_the_raw_table_has_a_partition_a_day_ahead_made_once(db):
    assert partitions.partitioned()
    with connection.cursor() as cursor:
        days = partitions.day_partitions(cursor)
    wanted = {TODAY + dt.timedelta(days=n) for n in range(partitions.DAYS_AHEAD + 1)}
    assert wanted <= set(days)
    assert partitions.ensure() == []  # made already: nothing again
    later = TODAY + dt.timedelta(days=partitions.DAYS_AHEAD + 1)
    assert partitions.ensure(today=later, ahead=0) == [partitions.partition_name(later)]


def test_client_timestamps_from_2099_and_1970_are_stored_where_their_arrival_says(client, db):
    tenant = make_tenant()
    events = [
        {"evt_type": "far", "uuid": "e2099", "timestamp": "2099-01-01T00:00:00Z"},
        {"evt_type": "past", "uuid": "e1970", "timestamp": "1970-01-01T00:00:00Z"},
    ]

    response = post_batch(client, tenant, events)

    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2
    today = partitions.partition_name(timezone.now().astimezone(UTC).date())
    assert _where("e2099") == _where("e1970") == [today]


def test_a_row_no_day_partition_takes_is_stored_in_default_and_moved_when_its_day_comes(tenant):
    far = dt.datetime(2099, 1, 1, 12, tzinfo=UTC)
    assert ingest(tenant, [{"evt_type": "x", "uuid": "late"}], received_at=far).stored == 1
    assert _where("late") == [partitions.DEFAULT]

    assert partitions.ensure(today=far.date(), ahead=0) == [partitions.partition_name(far.date())]

    assert _where("late") == [partitions.partition_name(far.date())]
    assert ingest(tenant, [{"evt_type": "x", "uuid": "late"}], received_at=far).duplicates == 1


def test_an_event_sent_again_across_midnight_is_stored_once_within_the_window(tenant):
    midnight = _midnight(2)
    before, after = midnight - dt.timedelta(milliseconds=1), midnight + dt.timedelta(seconds=1)
    events = [{"evt_type": "x", "uuid": "across"}, {"evt_type": "x", "uuid": "fresh"}]

    first = ingest(tenant, events[:1], received_at=before)
    again = ingest(tenant, events, received_at=after)  # a batch: one new, one seen
    once = ingest(tenant, events[:1], received_at=after)  # a single event (/t/e's statement)
    late = ingest(tenant, events[:1], received_at=before + partitions.DEDUP_WINDOW
                  - dt.timedelta(minutes=1))  # fmt: skip

    assert first.stored == 1
    assert (again.stored, again.results) == (1, [services.DUPLICATE, services.STORED])
    assert (once.stored, late.stored) == (0, 0)
    assert _where("across") == [partitions.partition_name(before.date())]
    # Past the window the contract promises no more (the id is stored again).
    beyond = before + partitions.DEDUP_WINDOW + dt.timedelta(hours=1)
    assert ingest(tenant, events[:1], received_at=beyond).stored == 1


def test_the_queues_batches_store_an_event_sent_again_across_midnight_once_too(tenant):
    """The drainer's way (services.copy_once: several requests, one look-up each row): within
    the window an id stored the day before is not stored again, whatever else the batch
    holds; past it, it is."""
    midnight = _midnight(2)
    before, after = midnight - dt.timedelta(milliseconds=1), midnight + dt.timedelta(seconds=1)

    def queued(received_at, *ids, named=True):
        request = services._Request(tenant_id=tenant.id, received_at=received_at, sent_at=None,
                                    ip=None, user_agent="", source="api", bot=False)  # fmt: skip
        events = [contract.check_event({"evt_type": "x", "uuid": i}, received_at=received_at)
                  for i in ids]  # fmt: skip
        return request, services.copy_rows(events, list(ids)), named

    assert ingest(tenant, [{"evt_type": "x", "uuid": "across"}], received_at=before).stored == 1
    late = before + partitions.DEDUP_WINDOW - dt.timedelta(minutes=1)
    batch = [queued(after, "across", "new1"), queued(late, "across"),
             queued(after, "new2", named=False), queued(after, "new2", named=False)]  # fmt: skip

    assert services.copy_once(batch) == 2  # new1, new2 (once)
    assert _where("across") == [partitions.partition_name(before.date())]
    beyond = before + partitions.DEDUP_WINDOW + dt.timedelta(hours=1)
    assert services.copy_once([queued(beyond, "across")]) == 1


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_with_one_id_across_midnight_store_it_once(role_groups):
    tenant = tenants.resolve(make_tenant().ingestion_key)
    midnight = _midnight(1)
    sides = (midnight - dt.timedelta(milliseconds=2), midnight + dt.timedelta(milliseconds=2))
    rounds = 15
    start = threading.Barrier(2)
    errors = []

    def sends(received_at: dt.datetime) -> None:
        try:
            for n in range(rounds):
                start.wait(timeout=10)
                event = {"evt_type": "x", "uuid": f"race{n}"}
                services.ingest(tenant=tenant, events=[event], ip=None, user_agent="",
                                source="api", received_at=received_at)  # fmt: skip
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sends, args=(side,)) for side in sides]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT event_id, count(*) FROM tracking_rawevent GROUP BY event_id HAVING count(*) > 1"
        )
        assert cursor.fetchall() == []
    assert RawEvent.objects.count() == rounds


def test_the_purge_drops_old_processed_days_and_keeps_and_names_a_day_with_pending_rows(tenant):
    quiet, busy = TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=99)
    for day in (quiet, busy):
        partitions.ensure(today=day, ahead=0)
    at = {day: dt.datetime(day.year, day.month, day.day, 12, tzinfo=UTC) for day in (quiet, busy)}
    ingest(tenant, [{"evt_type": f"q{n}"} for n in range(3)], received_at=at[quiet])
    ingest(tenant, [{"evt_type": "b"}], received_at=at[busy])
    processing.process_pending()
    ingest(tenant, [{"evt_type": "waiting"}], received_at=at[busy])
    ingest(tenant, [{"evt_type": "recent"}])
    out = StringIO()

    call_command("purge_tracking", "--older-than", "90d", stdout=out)

    said = out.getvalue()
    assert f"Partitions dropped: {partitions.partition_name(quiet)}." in said
    assert f"Kept {partitions.partition_name(busy)} (holds pending rows)" in said
    assert "3 raw event(s) deleted." in said
    with connection.cursor() as cursor:
        days = partitions.day_partitions(cursor)
    assert quiet not in days and busy in days
    assert sorted(RawEvent.objects.values_list("payload__evt_type", flat=True)) == [
        "b", "recent", "waiting",
    ]  # fmt: skip
    assert TrackedEvent.objects.count() == 4  # the events made from them stay

    # Asked to, pending rows go too: the day goes whole.
    purged = retention.purge(
        before=timezone.now() - dt.timedelta(days=90),
        statuses=(RawStatus.PROCESSED, RawStatus.PENDING),
    )
    assert purged.dropped == [partitions.partition_name(busy)] and purged.kept == []


@pytest.mark.django_db(transaction=True)
def test_a_day_whose_detach_waits_on_a_busy_table_is_kept_and_named_and_the_run_goes_on(
    role_groups,
):
    tenant = make_tenant()
    old = TODAY - dt.timedelta(days=100)
    partitions.ensure(today=old, ahead=0)
    ingest(
        tenant, [{"evt_type": "old"}], received_at=dt.datetime(*old.timetuple()[:3], 12, tzinfo=UTC)
    )
    processing.process_pending()
    out = StringIO()

    def long_read() -> None:  # a long statement's lock on the table (a report, a dump)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM tracking_rawevent")

    with held_elsewhere(long_read):
        call_command("purge_tracking", "--older-than", "90d", stdout=out)

    name = partitions.partition_name(old)
    assert f"Kept {name} (the table was busy: the next run drops it)." in out.getvalue()
    assert retention.purge(before=timezone.now() - dt.timedelta(days=90)).dropped == [name]


def test_the_claim_reads_the_newest_days_and_old_rows_when_they_leave_room(tenant):
    for back in range(1, 30):
        partitions.ensure(today=TODAY - dt.timedelta(days=back), ahead=0)
    ingest(tenant, [{"evt_type": "old"}], received_at=timezone.now() - dt.timedelta(days=5))
    ingest(tenant, [{"evt_type": f"n{n}"} for n in range(5)])
    plans = []

    def explained(run, sql, params, many, context):
        if "WITH due AS" not in sql:
            return run(sql, params, many, context)
        run(f"EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF) {sql}", params, many, context)
        plans.append([row[0] for row in context["cursor"].fetchall()])
        raise RuntimeError("explained")

    wrapped = connection.execute_wrapper(explained)
    with pytest.raises(RuntimeError), transaction.atomic(), wrapped:
        processing.claim(batch=100)
    with transaction.atomic():
        first, then = processing.claim(batch=5), processing.claim(batch=5)

    # Planned on the last days' partitions only (of 38), then on those of the claimed rows.
    planned = {line.split()[2] for line in plans[0] if line.strip().startswith("Update on ")}
    assert planned == {f"{partitions.TABLE}"} | {
        partitions.partition_name(TODAY + dt.timedelta(days=n)) for n in (-2, -1, 0, 1)
    }, "\n".join(plans[0])
    # A full batch of recent rows first; an old row (replayed, say) in the room a batch leaves,
    # so it never waits for the recent days to run dry.
    assert [row.payload["evt_type"] for row in first] == [f"n{n}" for n in range(5)]
    assert [row.payload["evt_type"] for row in then] == ["old"]
    ingest(tenant, [{"evt_type": "older"}], received_at=timezone.now() - dt.timedelta(days=9))
    ingest(tenant, [{"evt_type": "new"}])
    with transaction.atomic():
        both = processing.claim(batch=100)
    assert [row.payload["evt_type"] for row in both] == ["older", "new"]


def test_the_raw_tables_triggers_hold_on_the_partitions(tenant):
    from dataclasses import replace

    assert {name for name, table in existing_triggers()
                            if table == "tracking_rawevent"} >= RAW_TRIGGERS  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():  # no such tenant (a COPY-like
        services.ingest(  # statement trigger, its transition table from the partitions)
            tenant=replace(tenants.resolve(tenant.ingestion_key), id=10**9),
            events=[{"evt_type": "y"}], ip=None, user_agent="", source="api",
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_rows_both_ways(role_groups):
    tenant = make_tenant()
    old = timezone.now() - dt.timedelta(days=30)
    ingest(tenant, [{"evt_type": "old", "uuid": "o"}], received_at=old)
    ingest(tenant, [{"evt_type": "now", "uuid": "n"}])
    # Beyond the window the same id is in two partitions; backwards its first row stays.
    ingest(tenant, [{"evt_type": "again", "uuid": "o"}])
    before = {row.pk: row.payload for row in RawEvent.objects.all()}
    assert len(before) == 3

    try:
        migrate_to(("tracking", "0008_rollups"))
        assert not partitions.partitioned()
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, payload->>'evt_type' FROM tracking_rawevent ORDER BY id")
            plain = dict(cursor.fetchall())
        assert plain == {pk: payload["evt_type"] for pk, payload in before.items()
                         if payload["evt_type"] != "again"}  # fmt: skip
        assert {name for name, _ in existing_triggers()} >= RAW_TRIGGERS
        # Rows stored on the plain table come along forwards.
        ingest(tenant, [{"evt_type": "plain", "uuid": "p"}])
    finally:
        migrate_to()

    assert partitions.partitioned()
    rows = {row.event_id: row for row in RawEvent.objects.all()}
    assert set(rows) == {"o", "n", "p"} and rows["p"].pk > max(before)
    assert _where("o") == [partitions.partition_name(old.astimezone(UTC).date())]
    assert {name for name, table in existing_triggers()
                            if table == "tracking_rawevent"} >= RAW_TRIGGERS  # fmt: skip
    assert ingest(tenant, [{"evt_type": "x", "uuid": "p"}]).duplicates == 1
    assert ingest(tenant, [{"evt_type": "x", "uuid": "q"}]).stored == 1

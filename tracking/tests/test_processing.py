"""The worker: raw rows into sessions and events, exactly once (a row processed again, a lease
that ended, two workers side by side, a worker killed mid-batch), failures retried then FAILED
with a dead letter and replayed, retention."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from crm.jobs.models import DeadLetter
from crm.testing.celery_worker import _database_url
from tracking import processing, retention, services, tenants
from tracking.models import FailureReason, RawEvent, RawStatus, TrackedEvent, TrackedSession
from tracking.tests.helpers import UA, assert_rollups_are_a_fresh_count, make_tenant

pytestmark = pytest.mark.django_db


def ingest(tenant, events, **options):
    options.setdefault("ip", "192.0.2.10")
    options.setdefault("user_agent", UA)
    options.setdefault("source", "js")
    return services.ingest(tenant=tenants.resolve(tenant.ingestion_key), events=events, **options)


def page(session, path, at, **fields):
    return {"evt_type": "page_view", "session_id": session, "url": f"https://shop.example.com{path}",
            "timestamp": at.isoformat(), **fields}  # fmt: skip


@pytest.mark.sqlite
def test_raw_rows_become_a_session_and_its_events(tenant):
    start = timezone.now() - dt.timedelta(minutes=10)
    ingest(tenant, [
        page("s1", "/", start, referrer="https://www.google.com/search?q=x"),
        page("s1", "/pricing", start + dt.timedelta(minutes=2)),
        {"evt_type": "signup", "session_id": "s1", "props": {"plan": "pro"},
         "timestamp": (start + dt.timedelta(minutes=3)).isoformat(), "url": "https://shop.example.com/join"},
        page("s2", "/blog", start + dt.timedelta(minutes=5)),
        {"evt_type": "no_session"},
    ])  # fmt: skip

    done = processing.process_pending()

    assert done.processed == 5 and not RawEvent.objects.exclude(status=RawStatus.PROCESSED).exists()
    one = TrackedSession.objects.get(session_key="s1")
    assert (one.page_views, one.events) == (2, 3)
    assert (one.entry_url, one.exit_url) == (
        "https://shop.example.com/",
        "https://shop.example.com/join",
    )
    assert one.referrer_host == "www.google.com"
    assert (one.device, one.browser) == ("desktop", "Chrome")
    assert one.first_seen == start and one.last_seen == start + dt.timedelta(minutes=3)
    signup = TrackedEvent.objects.get(evt_type="signup")
    assert (signup.url_path, signup.props, signup.session_id) == ("/join", {"plan": "pro"}, one.pk)
    assert TrackedEvent.objects.get(evt_type="no_session").session is None


@pytest.mark.sqlite
def test_the_clients_clock_is_corrected_by_when_it_said_it_sent(tenant):
    now = timezone.now()
    # The client's clock runs an hour fast: it says it happened at 10:59 and sent at 11:00,
    # and we received it at 10:00:30.
    ingest(tenant, [{"evt_type": "x", "timestamp": (now + dt.timedelta(minutes=59)).isoformat()}],
           sent_at=(now + dt.timedelta(hours=1)).isoformat(), received_at=now)  # fmt: skip
    ingest(tenant, [{"evt_type": "skewed", "timestamp": (now + dt.timedelta(days=3)).isoformat()}],
           received_at=now)  # fmt: skip
    processing.process_pending()
    corrected = TrackedEvent.objects.get(evt_type="x").occurred_at
    assert abs(corrected - (now - dt.timedelta(minutes=1))) < dt.timedelta(seconds=1)
    assert TrackedEvent.objects.get(evt_type="skewed").occurred_at == now  # no sent_at: ours


@pytest.mark.sqlite
def test_processing_a_row_again_never_makes_a_second_event_or_counts_it_twice(tenant):
    ingest(tenant, [page("s1", "/", timezone.now())])
    processing.process_pending()
    RawEvent.objects.update(status=RawStatus.PENDING, processed_at=None)  # as if replayed
    processing.process_pending()

    assert TrackedEvent.objects.count() == 1
    assert TrackedSession.objects.get().page_views == 1


@pytest.mark.sqlite
def test_props_are_copied_by_the_database_exactly_as_they_came(tenant):
    props = {"n": 123456789012345678901234567890, "price": 1.10, "deep": {"a": [1, {"b": None}]},
             "text": "=cmd|' /C calc'!A0", "emoji": "\u00e9\U0001f600"}  # fmt: skip
    ingest(tenant, [{"evt_type": "exact", "props": props}, {"evt_type": "none", "props": None}])
    ingest(tenant, [{"evt_type": "list", "props": [1]}], source="import", checked=False)

    done = processing.process_pending()

    assert (done.processed, done.failed) == (2, 1)
    assert TrackedEvent.objects.get(evt_type="exact").props == props
    assert TrackedEvent.objects.get(evt_type="none").props == {}
    failed = RawEvent.objects.get(status=RawStatus.FAILED)
    assert (failed.failure_reason, failed.last_error) == (
        FailureReason.SCHEMA_VIOLATION, "props is not an object",
    )  # fmt: skip


@pytest.mark.sqlite
def test_a_row_that_keeps_failing_is_retried_then_failed_with_a_dead_letter(tenant, settings):
    settings.TRACKING_MAX_ATTEMPTS = 2
    ingest(tenant, [{"evt_type": "ok"}])
    ingest(tenant, [{"no": "evt_type"}], source="import", checked=False)  # a bad row, imported
    broken = RawEvent.objects.get(payload__evt_type="ok")

    original = processing.normalise

    def enrichment_breaks(row):
        if row.id == broken.id:
            raise KeyError("geo database")
        return original(row)

    processing.normalise = enrichment_breaks
    try:
        first = processing.process_pending()
        RawEvent.objects.filter(pk=broken.pk).update(next_attempt_at=None)  # the backoff is over
        second = processing.process_pending()
    finally:
        processing.normalise = original

    rows = {row.pk: row for row in RawEvent.objects.all()}
    bad = RawEvent.objects.exclude(pk=broken.pk).get()
    assert first.retrying == 1 and first.failed == 1  # the bad row fails at once: it won't improve
    assert second.failed == 1
    assert rows[broken.pk].status == RawStatus.FAILED
    assert rows[broken.pk].failure_reason == FailureReason.ENRICHMENT_FAILURE
    assert "geo database" in rows[broken.pk].last_error and rows[broken.pk].attempts == 2
    assert bad.failure_reason == FailureReason.SCHEMA_VIOLATION
    assert DeadLetter.objects.filter(task_name=processing.REPLAY_TASK).count() == 2

    replayed = processing.replay(ids=[broken.pk])
    processing.process_pending()
    assert replayed == 1 and RawEvent.objects.get(pk=broken.pk).status == RawStatus.PROCESSED


@pytest.mark.sqlite
def test_a_dead_letter_sent_again_replays_its_row(tenant, eager_celery):
    from crm.jobs.services import dead_letters_retry

    ingest(tenant, [{"no": "evt_type"}], source="import", checked=False)
    processing.process_pending()
    letter = DeadLetter.objects.get(task_name=processing.REPLAY_TASK)
    assert RawEvent.objects.get().status == RawStatus.FAILED

    # Sent again (eagerly here): the row is pending again and processed at once; still bad, it
    # fails again, on the same letter.
    dead_letters_retry(letters=DeadLetter.objects.all())

    row = RawEvent.objects.get()
    assert (row.status, row.attempts) == (RawStatus.FAILED, 1)
    letter.refresh_from_db()
    assert letter.failure_count == 2 and not letter.retried


@pytest.mark.sqlite
def test_the_raw_payload_can_never_be_changed(tenant):
    from django.db import DatabaseError, transaction

    ingest(tenant, [{"evt_type": "as_sent"}])
    with pytest.raises(DatabaseError), transaction.atomic():
        RawEvent.objects.update(payload={"evt_type": "rewritten"})
    assert RawEvent.objects.get().payload == {"evt_type": "as_sent"}


def _triggers() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                           "AND name LIKE 'tracking%'")  # fmt: skip
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'tracking%'")
        return {name for (name,) in cursor.fetchall()}


PAYLOAD_KEPT = {"tracking_raw_payload_kept"}
TENANT_CHECKED = {"tracking_raw_tenant_exists", "tracking_tenant_keeps_its_raw_events",
                  "tracking_tenant_keeps_its_id", "tracking_raw_tenant_kept"}  # fmt: skip


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_the_raw_layers_triggers_are_there_through_the_migrations_both_ways(role_groups):
    from io import StringIO

    from django.core.management import call_command

    # (SQLite rebuilds the raw table to drop a column or a constraint, and drops its triggers.)
    assert _triggers() == PAYLOAD_KEPT | TENANT_CHECKED
    steps = (("0006", PAYLOAD_KEPT | TENANT_CHECKED), ("0005", PAYLOAD_KEPT | TENANT_CHECKED),
             ("0004", PAYLOAD_KEPT), ("0003", PAYLOAD_KEPT))  # fmt: skip
    for back_to, expected in steps:
        call_command("migrate", "tracking", back_to, stdout=StringIO(), verbosity=0)
        assert _triggers() == expected, back_to
    call_command("migrate", "tracking", stdout=StringIO(), verbosity=0)
    assert _triggers() == PAYLOAD_KEPT | TENANT_CHECKED


@pytest.mark.sqlite
def test_a_raw_event_always_has_its_tenant(tenant):
    from dataclasses import replace

    from django.db import IntegrityError, connection, transaction

    ingest(tenant, [{"evt_type": "x"}])
    raw = RawEvent.objects.get()
    other = make_tenant("other")
    with pytest.raises(IntegrityError), transaction.atomic():  # no such tenant
        services.ingest(
            tenant=replace(tenants.resolve(tenant.ingestion_key), id=10**9),
            events=[{"evt_type": "y"}],
            ip=None,
            user_agent="",
            source="api",
        )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM tracking_trackingtenant WHERE id = %s", [tenant.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE tracking_rawevent SET tenant_id = %s WHERE id = %s",
                       [other.pk, raw.pk])  # fmt: skip
    other.delete()  # a tenant without raw events goes

    assert RawEvent.objects.get().tenant_id == tenant.pk
    assert not type(tenant).objects.filter(pk=other.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_tenant_deleted_while_its_events_are_being_stored_waits_and_is_refused(role_groups):
    import threading

    from django.db import IntegrityError, connection, connections, transaction

    tenant = make_tenant()
    stored, refused, waited = threading.Event(), [], []

    def stores() -> None:  # its insert holds the tenant until it commits
        try:
            with transaction.atomic():
                ingest(tenant, [{"evt_type": "x"}])
                stored.set()
                time.sleep(0.5)
        finally:
            connections.close_all()

    storing = threading.Thread(target=stores)
    storing.start()
    assert stored.wait(10)
    started = time.monotonic()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM tracking_trackingtenant WHERE id = %s", [tenant.pk])
    except IntegrityError as error:
        refused.append(error)
    waited.append(time.monotonic() - started)
    storing.join()

    assert refused, "the tenant went from under its raw events"
    assert waited[0] > 0.3  # it waited for the insert to commit, then saw its row
    assert RawEvent.objects.filter(tenant_id=tenant.pk).count() == 1


@pytest.mark.sqlite
def test_retention_deletes_old_processed_rows_in_batches_and_keeps_the_rest(tenant, monkeypatch):
    old = timezone.now() - dt.timedelta(days=100)
    ingest(tenant, [{"evt_type": f"old{n}"} for n in range(5)], received_at=old)
    ingest(tenant, [{"evt_type": "recent"}])
    processing.process_pending()
    ingest(tenant, [{"evt_type": "old_pending"}], received_at=old)
    monkeypatch.setattr(retention, "BATCH", 2)

    deleted = retention.purge(before=timezone.now() - dt.timedelta(days=90)).deleted

    assert deleted == 5
    assert sorted(RawEvent.objects.values_list("payload__evt_type", flat=True)) == [
        "old_pending", "recent",
    ]  # fmt: skip
    assert TrackedEvent.objects.count() == 6  # the events made from them stay


@pytest.mark.sqlite
def test_the_purge_command_takes_an_age_and_refuses_nonsense(tenant):
    from io import StringIO

    from django.core.management import CommandError, call_command

    ingest(tenant, [{"evt_type": "x"}], received_at=timezone.now() - dt.timedelta(days=10))
    out = StringIO()
    call_command("purge_tracking", "--older-than", "1d", "--include-pending", stdout=out,
                 stderr=StringIO())  # fmt: skip
    assert "1 raw event(s) deleted" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("purge_tracking", "--older-than", "soon", stdout=out, stderr=StringIO())


# --- Real worker processes --------------------------------------------------------------------


def _worker(*arguments: str, **env) -> subprocess.Popen:
    environment = {
        **os.environ, "DATABASE_URL": _database_url(), "CONN_MAX_AGE": "0", **env,
        "REDIS_URL": settings.CACHES["default"].get("LOCATION", "") or "",
    }  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "manage.py", "process_tracking_events", "-v", "0", *arguments],
        cwd=settings.BASE_DIR, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _backlog(tenant, count: int, sessions: int = 50) -> None:
    now = timezone.now()
    for start in range(0, count, 500):
        ingest(
            tenant,
            [
                page(f"s{n % sessions}", f"/p{n}", now)
                for n in range(start, min(start + 500, count))
            ],
        )


def _exactly_once(count: int) -> None:
    assert RawEvent.objects.filter(status=RawStatus.PROCESSED).count() == count
    assert TrackedEvent.objects.count() == count
    assert TrackedSession.objects.aggregate(n=Sum("events"))["n"] == count
    assert_rollups_are_a_fresh_count()  # whatever batches ran side by side


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_backlog_process_every_row_exactly_once(role_groups):
    from django.db import connection, transaction

    tenant = make_tenant()
    _backlog(tenant, 6000)
    with transaction.atomic(), connection.cursor() as cursor:
        # Both workers start (a Django process each) while their claims wait here, and all
        # their batches go at once: neither has the backlog done before the other is up.
        cursor.execute("LOCK TABLE tracking_rawevent IN EXCLUSIVE MODE")
        workers = [_worker("--batch", "500") for _ in range(2)]
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < 2 * settings.TRACKING_PROCESS_THREADS:
            assert time.monotonic() < deadline, "the workers' claims never came"
            time.sleep(0.05)
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted "
                "AND relation = 'tracking_rawevent'::regclass"
            )
            waiting = cursor.fetchone()[0]
    outputs = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], outputs
    _exactly_once(6000)
    # Both took part (the claims skip each other's locked rows).
    processed = [int(out.decode().split()[0]) for out, _ in outputs]
    assert sum(processed) == 6000 and min(processed) > 0


def _holding_a_batch() -> int:
    """How many other connections are in a transaction that has written: a worker holding
    the batch it claimed (PostgreSQL)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(role_groups):
    tenant = make_tenant()
    _backlog(tenant, 20000)
    worker = _worker("--batch", "5000")
    deadline = time.monotonic() + 60
    while not _holding_a_batch():
        assert time.monotonic() < deadline and worker.poll() is None, "the worker claimed nothing"
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)  # its transactions hold claims: mid-batch
    worker.wait(timeout=10)
    # What it had committed is processed; what it held is pending again, its attempt not
    # counted: its transactions died with it.
    processed = RawEvent.objects.filter(status=RawStatus.PROCESSED).count()
    assert processed % 5000 == 0 and processed < 20000
    assert set(
        RawEvent.objects.filter(status=RawStatus.PENDING).values_list("attempts", flat=True)
    ) == {0}

    rest = _worker()
    _, err = rest.communicate(timeout=120)

    assert rest.returncode == 0, err
    _exactly_once(20000)


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_hangs_holding_a_batch_loses_it_when_the_lease_ends(role_groups, settings):
    import threading

    from django.db import Error, connections, transaction

    settings.TRACKING_LEASE_SECONDS = 1
    tenant = make_tenant()
    _backlog(tenant, 300)
    held, failure = threading.Event(), []

    def hangs() -> None:  # claims, then stops answering (idle in its transaction)
        try:
            with transaction.atomic():
                processing.claim(batch=100)
                held.set()
                time.sleep(2)
                RawEvent.objects.count()  # too late: PostgreSQL ended the session
        except Error as error:
            failure.append(error)
        finally:
            connections.close_all()

    hung = threading.Thread(target=hangs)
    hung.start()
    assert held.wait(10)
    meanwhile = processing.process_pending(batch=50)  # skips the rows the hung worker holds
    hung.join()
    after = processing.process_pending(batch=50)

    assert (meanwhile.processed, after.processed) == (200, 100)
    assert failure, "the hung worker's transaction outlived its lease"
    _exactly_once(300)


# --- Batches side by side (PostgreSQL, outside a transaction) -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_two_batches_at_a_time_and_processes_every_row_once(role_groups, monkeypatch):
    import threading

    from django.db import connection

    tenant = make_tenant()
    _backlog(tenant, 2500)  # 50 sessions in every batch: both batches move on the same ones
    batches = []
    process_batch = processing.process_batch

    def watched(**options):
        started = time.monotonic()
        try:
            return process_batch(**options)
        finally:
            batches.append((threading.current_thread().name, started, time.monotonic()))

    monkeypatch.setattr(processing, "process_batch", watched)

    done = processing.process_pending(batch=200, threads=2)

    assert done.processed == 2500
    _exactly_once(2500)
    names = {name for name, _, _ in batches}
    assert names == {"tracking-batches_0", "tracking-batches_1"}
    assert any(  # at the same time, not one after the other
        a_start < b_end and b_start < a_end
        for a_name, a_start, a_end in batches
        for b_name, b_start, b_end in batches
        if a_name != b_name
    )
    # The threads' connections closed with them. A server process leaves pg_stat_activity a
    # moment after its client hangs up, so look again for a few seconds before failing.
    deadline, open_connections = time.monotonic() + 5, None
    while open_connections != 1 and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend'"
            )
            open_connections = cursor.fetchone()[0]
        if open_connections != 1:
            time.sleep(0.1)
    assert open_connections == 1


@pytest.mark.django_db(transaction=True)
def test_a_spent_budget_finishes_the_batches_begun_and_leaves_the_rest_pending(role_groups):
    tenant = make_tenant()
    _backlog(tenant, 1000)

    done = processing.process_pending(batch=100, budget=0, threads=2)

    assert done.processed == 200  # one batch in each thread
    assert RawEvent.objects.filter(status=RawStatus.PENDING).count() == 800
    assert set(
        RawEvent.objects.filter(status=RawStatus.PENDING).values_list("attempts", flat=True)
    ) == {0}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", ["prepare", "_write_events_and_sessions"])
def test_a_batch_that_fails_leaves_its_rows_pending_at_once(role_groups, monkeypatch, step):
    tenant = make_tenant()
    _backlog(tenant, 300)

    def broken(*arguments):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(processing, step, broken)
    with pytest.raises(RuntimeError, match="went away"):
        processing.process_pending(batch=100, threads=2)

    # Both threads' batches rolled back (the other finished its own and stopped): every row
    # pending, no attempt counted, nothing written.
    assert RawEvent.objects.filter(status=RawStatus.PENDING, attempts=0).count() == 300
    assert not TrackedEvent.objects.exists() and not TrackedSession.objects.exists()

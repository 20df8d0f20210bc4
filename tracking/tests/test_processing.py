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
from tracking.tests.helpers import UA, make_tenant

pytestmark = pytest.mark.django_db


def ingest(tenant, events, **options):
    options.setdefault("ip", "192.0.2.10")
    options.setdefault("user_agent", UA)
    options.setdefault("source", "js")
    return services.ingest(tenant=tenants.resolve(tenant.ingestion_key), events=events, **options)


def page(session, path, at, **fields):
    return {"evt_type": "page_view", "session_id": session, "url": f"https://shop.example.com{path}",
            "timestamp": at.isoformat(), **fields}  # fmt: skip


@pytest.fixture
def tenant():
    return make_tenant()


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
def test_a_claim_whose_lease_ended_is_taken_back_and_the_late_worker_writes_nothing(
    tenant, settings
):
    ingest(tenant, [page("s1", "/a", timezone.now()), page("s1", "/b", timezone.now())])
    lease, rows = processing.claim(batch=10)  # a worker that then stalls
    RawEvent.objects.update(lease_until=timezone.now() - dt.timedelta(seconds=1))

    taken_back = processing.release_expired_leases()
    second = processing.process_pending()
    late = processing.process(lease, rows)  # the stalled worker wakes up

    assert taken_back == 2 and second.processed == 2
    assert late.lost_claim == 2 and late.processed == 0
    assert TrackedEvent.objects.count() == 2
    assert TrackedSession.objects.get().events == 2


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


@pytest.mark.sqlite
def test_retention_deletes_old_processed_rows_in_batches_and_keeps_the_rest(tenant, monkeypatch):
    old = timezone.now() - dt.timedelta(days=100)
    ingest(tenant, [{"evt_type": f"old{n}"} for n in range(5)], received_at=old)
    ingest(tenant, [{"evt_type": "recent"}])
    processing.process_pending()
    ingest(tenant, [{"evt_type": "old_pending"}], received_at=old)
    monkeypatch.setattr(retention, "BATCH", 2)

    deleted = retention.purge(before=timezone.now() - dt.timedelta(days=90))

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


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_backlog_process_every_row_exactly_once(role_groups):
    tenant = make_tenant()
    _backlog(tenant, 6000)
    workers = [_worker("--batch", "500") for _ in range(2)]
    outputs = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], outputs
    _exactly_once(6000)
    # Both took part (the claims skip each other's locked rows).
    processed = [int(out.decode().split()[0]) for out, _ in outputs]
    assert sum(processed) == 6000 and min(processed) > 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(role_groups):
    tenant = make_tenant()
    _backlog(tenant, 20000)
    worker = _worker("--batch", "5000", TRACKING_LEASE_SECONDS="2")
    deadline = time.monotonic() + 60
    while not RawEvent.objects.filter(status=RawStatus.PROCESSING).exists():
        assert time.monotonic() < deadline and worker.poll() is None, "the worker claimed nothing"
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)  # holding a claim: mid-batch
    worker.wait(timeout=10)
    claimed = RawEvent.objects.filter(status=RawStatus.PROCESSING).count()
    assert claimed > 0

    time.sleep(2.5)  # the lease ends
    rest = _worker()
    _, err = rest.communicate(timeout=120)

    assert rest.returncode == 0, err
    _exactly_once(20000)


# --- Reading ahead (PostgreSQL, outside a transaction) ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_next_batch_is_claimed_while_one_is_written_and_every_row_processed_once(
    role_groups, monkeypatch
):
    import threading

    from django.db import connection

    tenant = make_tenant()
    _backlog(tenant, 2500)
    claims, writes = [], []
    claim, write = processing.claim, processing.write

    def watched_claim(**options):
        started = time.monotonic()
        try:
            return claim(**options)
        finally:
            claims.append((threading.current_thread().name, started, time.monotonic()))

    def watched_write(prepared):
        started = time.monotonic()
        try:
            return write(prepared)
        finally:
            writes.append((started, time.monotonic()))

    monkeypatch.setattr(processing, "claim", watched_claim)
    monkeypatch.setattr(processing, "write", watched_write)

    done = processing.process_pending(batch=400)

    assert done.processed == 2500
    _exactly_once(2500)
    assert not RawEvent.objects.filter(status=RawStatus.PROCESSING).exists()
    assert {name for name, _, _ in claims} == {"tracking-claims_0"}  # all in the thread
    assert any(  # and at the same time as a write, not one after the other
        c_start < w_end and w_start < c_end
        for _, c_start, c_end in claims
        for w_start, w_end in writes
    )
    with connection.cursor() as cursor:  # the thread's connection closed with it
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_a_spent_budget_writes_the_batch_read_ahead_and_leaves_the_rest_pending(role_groups):
    tenant = make_tenant()
    _backlog(tenant, 1000)

    done = processing.process_pending(batch=100, budget=0)

    assert done.processed == 200  # the batch the budget ran out on, and the one read ahead
    assert RawEvent.objects.filter(status=RawStatus.PENDING).count() == 800
    assert not RawEvent.objects.filter(status=RawStatus.PROCESSING).exists()
    assert set(
        RawEvent.objects.filter(status=RawStatus.PENDING).values_list("attempts", flat=True)
    ) == {0}


@pytest.mark.django_db(transaction=True)
def test_a_write_that_fails_gives_the_claim_read_ahead_back_at_once(role_groups, monkeypatch):
    tenant = make_tenant()
    _backlog(tenant, 300)

    def broken(prepared):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(processing, "write", broken)
    with pytest.raises(RuntimeError, match="went away"):
        processing.process_pending(batch=100)

    # The first claim waits for its lease (its write failed: retried then); the one read
    # ahead is pending again now, its attempt not counted.
    assert RawEvent.objects.filter(status=RawStatus.PROCESSING).count() == 100
    assert RawEvent.objects.filter(status=RawStatus.PENDING, attempts=0).count() == 200


@pytest.mark.django_db(transaction=True)
def test_a_claim_that_cannot_be_prepared_is_pending_again_at_once(role_groups, monkeypatch):
    tenant = make_tenant()
    _backlog(tenant, 300)

    def broken(lease, rows):
        raise RuntimeError("the tenants could not be read")

    monkeypatch.setattr(processing, "prepare", broken)
    with pytest.raises(RuntimeError, match="could not be read"):
        processing.process_pending(batch=100)

    assert RawEvent.objects.filter(status=RawStatus.PENDING, attempts=0).count() == 300

"""The queue in front of the raw table (TRACKING_QUEUE=redis), on real Redis and PostgreSQL:
the endpoints' answers, draining to the raw table and on to processing, events stored once
however often an entry is drained, no loss across a drainer killed mid-batch and a Redis
killed and restarted with AOF, poison entries as dead letters, back-pressure, and a stream
that lost entries detected and shown."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys

import pytest
import redis
from django.conf import settings as django_settings
from django.db.models import Count

from crm.jobs.models import DeadLetter
from crm.ops import counters
from crm.ops.dashboard import read_sections
from crm.testing.celery_worker import _database_url
from crm.testing.servers import RedisServer, free_port
from crm.testing.stack import wait_until
from tracking import ingest, processing, queue, tasks
from tracking.models import RawEvent, TrackedEvent
from tracking.tasks import requeue_entry_task
from tracking.tests.helpers import make_tenant, post_batch, post_event

pytestmark = pytest.mark.django_db


def _url(redis_url: str, db: int) -> str:
    return f"{redis_url.rsplit('/', 1)[0]}/{db}"


@pytest.fixture
def queued(settings):
    """Queue mode, on a Redis database of its own, emptied before and after."""
    settings.TRACKING_QUEUE = "redis"
    settings.TRACKING_QUEUE_URL = _url(django_settings.REDIS_URL, 3)
    settings.TRACKING_QUEUE_CLAIM_SECONDS = 60
    client = redis.Redis.from_url(settings.TRACKING_QUEUE_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def events(prefix: str, count: int) -> list[dict]:
    return [{"evt_type": "page_view", "uuid": f"{prefix}-{n}", "url": "https://shop.example.com/"}
            for n in range(count)]  # fmt: skip


def drain() -> int:
    return queue.drain(budget=20, block_ms=50, until_empty=True, stored=tasks.process_soon)


def test_queued_events_are_answered_202_then_drained_stored_and_processed(client, queued):
    tenant = make_tenant()
    batch = [*events("a", 2), {"evt_type": ""}, {"evt_type": "click"}]  # one bad, one without id

    answer = post_batch(client, tenant, batch)

    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == body["queued"] == 3
    assert body["rejected"] == [{"index": 2, "reason": "evt_type is empty."}]
    assert [r["status"] for r in body["results"]] == ["queued", "queued", "rejected", "queued"]
    assert body["note"] == queue.QUEUED_NOTE and "duplicates" not in body
    assert queued.xlen(queue.STREAM) == 1  # one entry a request
    assert not RawEvent.objects.exists()  # queued, not stored yet
    nothing_valid = '{"batch": [{"evt_type": "x", "n": 1e309}, {"evt_type": "\\u0000"}]}'
    bad = post_event(client, tenant, nothing_valid, path="/t/batch")
    assert bad.status_code == 400 and bad.json()["queued"] == 0 and "note" not in bad.json()
    one = post_event(client, tenant, {"evt_type": "signup", "uuid": "one"})
    assert one.status_code == 202 and one.json()["results"] == [{"status": "queued"}]

    assert drain() == 4

    assert queued.xlen(queue.STREAM) == 0
    assert RawEvent.objects.count() == 4
    raw = RawEvent.objects.get(event_id="a-0")
    assert raw.payload == batch[0] and raw.record_source == "api"
    assert raw.client_ip == "127.0.0.0"  # kept as the tenant keeps addresses
    processing.process_pending(budget=10)
    assert TrackedEvent.objects.count() == 4
    assert queue.backlog().entries == 0 and queue.check_gap() == 0


def test_an_event_sent_again_or_an_entry_drained_twice_is_stored_once(client, queued):
    tenant = make_tenant()
    post_batch(client, tenant, events("d", 3))
    post_batch(client, tenant, events("d", 3))  # sent again: its client did not hear back
    post_batch(client, tenant, [{"evt_type": "click"}])  # an id given when queued
    # A drainer that committed and died before acknowledging: the same entry, read again.
    fields = queued.xrevrange(queue.STREAM, count=1)[0][1]  # the click's
    again = {key.decode(): value.decode() for key, value in fields.items()}
    queue.requeue(again)

    assert drain() == 8  # handled: 4 stored, the others already there

    assert RawEvent.objects.count() == 4
    assert not RawEvent.objects.values("event_id").annotate(n=Count("id")).filter(n__gt=1)
    assert queue.check_gap() == 0

    # Read again in a later batch, after the first was committed (Redis lost the
    # acknowledgement), beside a new entry: the batch's COPY meets the stored row, and the
    # batch is stored again entry by entry.
    queue.requeue(again)
    post_batch(client, tenant, [{"evt_type": "signup"}])
    assert drain() == 2
    assert RawEvent.objects.count() == 5
    assert not RawEvent.objects.values("event_id").annotate(n=Count("id")).filter(n__gt=1)


def test_an_entry_queued_before_rows_were_kept_as_copy_text_is_stored(queued):
    """An entry the previous version queued (its events a JSON document, no "c"): stored as
    one whose ids may have been stored before."""
    tenant = make_tenant()
    earlier = json.dumps(
        [
            ['{"evt_type": "click", "n": 1}', "old-1", None, False],
            ['{"evt_type": "view"}', "old-2", "2026-12-06T10:00:00+00:00", True],
        ]
    )
    entry = {"t": tenant.id, "r": "2026-12-06T10:00:01+00:00", "s": "", "ip": "", "ua": "UA",
             "src": "api", "bot": 0, "e": earlier}  # fmt: skip
    queue.append_entry(entry)
    queue.append_entry(entry)  # and once more: stored once

    assert drain() == 4

    stored = {row.event_id: row for row in RawEvent.objects.all()}
    assert set(stored) == {"old-1", "old-2"}
    assert stored["old-1"].payload == {"evt_type": "click", "n": 1}
    assert stored["old-2"].clock_skew and stored["old-2"].client_timestamp.hour == 10


def test_what_copy_reads_as_markup_is_stored_as_it_was_sent(client, queued):
    """Tabs, newlines, carriage returns and backslashes (COPY's own marks) in every text an
    entry carries: the payload, a client's id, the user agent; with and without client ids."""
    tenant = make_tenant()
    odd = "tab\there\nline\rreturn \\ back\\slash \\N \\. é 😀"
    named = [{"evt_type": "click", "uuid": f"id\t{n}\\{odd}", "props": {"text": odd}}
             for n in range(2)]  # fmt: skip
    unnamed = [{"evt_type": odd, "url": "https://shop.example.com/?q=" + odd}]
    user_agent = "Agent\t1\\0"
    post_batch(client, tenant, named, HTTP_USER_AGENT=user_agent)
    post_batch(client, tenant, unnamed, HTTP_USER_AGENT=user_agent)

    assert drain() == 3

    stored = {row.event_id: row for row in RawEvent.objects.all()}
    assert {stored[event["uuid"]].payload["props"]["text"] for event in named} == {odd}
    (made,) = [row for key, row in stored.items() if key not in {e["uuid"] for e in named}]
    assert made.payload == unnamed[0]
    assert {row.user_agent for row in stored.values()} == {user_agent}


def test_poison_entries_become_dead_letters_and_the_drainer_goes_on(client, queued):
    tenant = make_tenant()
    gone = make_tenant("gone")
    post_batch(client, tenant, events("p", 2))
    post_batch(client, gone, events("g", 2))
    gone_id = gone.id
    gone.delete()
    queue.append_entry({"junk": "\x00not an entry"})
    broken = 'not a time\tf\t{"evt_type": "x"}\tx-1\t0\t0\t\t\n'
    queue.append_entry({"t": tenant.id, "r": "2026-12-06T10:00:00+00:00", "s": "", "ip": "",
                        "ua": "", "src": "api", "bot": 0, "c": 0, "e": broken})  # fmt: skip
    # A column too many (refused before COPY reads it: never a column of the request's own,
    # as the tenant, its first).
    queue.append_entry({"t": tenant.id, "r": "2026-12-06T10:00:00+00:00", "s": "", "ip": "",
                        "ua": "", "src": "api", "bot": 0, "c": 0,
                        "e": '\\N\tf\t{}\tx-2\t0\t0\t\t\t999\n'})  # fmt: skip
    # What would make COPY read the rows otherwise: an end-of-data mark (PostgreSQL before 18
    # stops there, and the batch's later rows would be lost), a carriage return; and a time
    # without its zone.
    for rows, moment in (('\\N\tf\t{}\tx-3\\.\t0\t0\t\t\n', "2026-12-06T10:00:00+00:00"),
                         ('\\N\tf\t{}\tx-4\r\t0\t0\t\t\n', "2026-12-06T10:00:00+00:00"),
                         ('\\N\tf\t{}\tx-5\t0\t0\t\t\n', "2026-12-06T10:00:00")):  # fmt: skip
        queue.append_entry({"t": tenant.id, "r": moment, "s": "", "ip": "", "ua": "", "src": "api",
                            "bot": 0, "c": 1, "e": rows})  # fmt: skip
    post_batch(client, tenant, events("q", 2))

    assert drain() == 4

    assert set(RawEvent.objects.values_list("event_id", flat=True)) == {"p-0", "p-1", "q-0", "q-1"}
    letters = sorted(DeadLetter.objects.values_list("error", flat=True))
    assert len(letters) == 7
    assert sum(error.startswith("The queued entry cannot be read") for error in letters) == 5
    assert any(error.startswith(queue.TENANT_GONE.format(tenant=gone_id)) for error in letters)
    assert sum(error.startswith("PostgreSQL refuses the queued events") for error in letters) == 1
    assert all(letter.task_name == queue.REQUEUE_TASK for letter in DeadLetter.objects.all())
    assert queued.xlen(queue.STREAM) == 0 and queue.check_gap() == 0  # dead letters are done

    # Sending a letter again puts its entry back in the stream, as it was.
    letter = DeadLetter.objects.get(error__contains="not a time")
    requeue_entry_task.apply(kwargs=letter.kwargs)
    assert queued.xrange(queue.STREAM)[0][1][b"e"] == broken.encode()


def test_past_the_backlog_or_with_redis_down_the_answer_is_503_with_retry_after(
    client, queued, settings
):
    tenant = make_tenant()
    settings.TRACKING_QUEUE_MAX_BACKLOG = 2
    assert _queue_health(client) == {"status": "healthy", "entries": 0}
    assert [post_batch(client, tenant, events(f"b{n}", 1)).status_code for n in range(2)] == [
        202,
        202,
    ]
    full = post_batch(client, tenant, events("b9", 1))
    assert full.status_code == 503 and full["Retry-After"] == "10"
    assert full.json() == {"error": ingest.QUEUE_FULL}
    assert queued.xlen(queue.STREAM) == 2  # nothing trimmed to make room
    assert _queue_health(client) == {
        "status": "degraded", "entries": 2, "detail": "queue full: ingestion answers 503"
    }  # fmt: skip

    settings.TRACKING_QUEUE_URL = f"redis://127.0.0.1:{free_port()}/0"  # nobody there
    down = post_event(client, tenant, {"evt_type": "click"})
    assert down.status_code == 503 and down["Retry-After"] == "5"
    assert down.json() == {"error": ingest.QUEUE_DOWN}
    assert _queue_health(client) == {"status": "degraded", "detail": "ConnectionError"}


def _queue_health(client) -> dict:
    """The queue's check in /health/, without its timing."""
    check = client.get("/health/").json()["checks"]["tracking_queue"]
    check.pop("latency_ms")
    return check


def test_a_stream_that_lost_entries_is_detected_counted_once_and_alerted(
    client, queued, admin_client
):
    tenant = make_tenant()
    for n in range(5):
        post_batch(client, tenant, events(f"t{n}", 2))
    queued.xtrim(queue.STREAM, maxlen=2, approximate=False)  # as a MAXLEN or memory pressure would

    assert drain() == 4
    assert queue.check_gap() == 0  # counted once, when the drainer met it
    backlog = queue.backlog()
    assert backlog.lost == 3 and backlog.lost_at is not None
    queue.append_entry({"x": "y"})
    queued.delete(queue.STREAM)  # the key itself evicted
    assert queue.check_gap() == 1
    section = next(s for s in read_sections(dt.datetime.now(dt.UTC)) if s.title == "Tracking queue")
    lost = next(figure for figure in section.figures if figure.label == "Lost from the queue")
    assert lost.value == "4" and lost.state == "bad"


def _drainer(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_job", "drain_tracking_queue"],
        cwd=django_settings.BASE_DIR, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_no_event_is_lost_or_doubled_across_a_drainer_killed_mid_batch(queued, settings):
    tenant = make_tenant()
    total = 0
    for n in range(300):
        queue.enqueue(tenant=tenant, events=events(f"k{n}", 40), ip=None, user_agent="",
                      source="api")  # fmt: skip
        total += 40
    env = {
        **os.environ, "DATABASE_URL": _database_url(), "TRACKING_QUEUE": "redis",
        "TRACKING_QUEUE_URL": settings.TRACKING_QUEUE_URL, "TRACKING_QUEUE_DRAIN_BATCH": "20",
        "TRACKING_QUEUE_DRAIN_SECONDS": "30", "CELERY_TASK_ALWAYS_EAGER": "0",
    }  # fmt: skip
    drainer = _drainer(env)

    def in_flight() -> bool:  # entries read and not yet acknowledged
        return queued.xpending(queue.STREAM, queue.GROUP)["pending"] > 0

    def stopped_mid_batch() -> bool:
        # Frozen first, then looked at again: a batch seen in flight may be acknowledged before
        # a kill lands; a stopped drainer's cannot.
        if RawEvent.objects.count() < 800 or not in_flight():
            return False
        os.kill(drainer.pid, signal.SIGSTOP)
        if in_flight():
            return True
        os.kill(drainer.pid, signal.SIGCONT)
        return False

    try:
        wait_until(
            stopped_mid_batch, timeout=30, interval=0.01,
            what="the drainer in the middle of a batch",
        )  # fmt: skip
        os.kill(drainer.pid, signal.SIGKILL)
    finally:
        drainer.kill()
        drainer.wait()
    stored = RawEvent.objects.count()
    assert 0 < stored < total
    assert in_flight()  # read, never acknowledged

    settings.TRACKING_QUEUE_CLAIM_SECONDS = 0  # the dead drainer's entries are taken over,
    settings.TRACKING_QUEUE_DRAIN_BATCH = 5  # a few at a time
    assert drain() > 0

    assert RawEvent.objects.count() == total
    assert RawEvent.objects.values("event_id").distinct().count() == total
    assert queued.xlen(queue.STREAM) == 0 and queue.check_gap() == 0


def test_no_event_is_lost_across_redis_killed_and_restarted_with_aof(
    client, queued, settings, tmp_path
):
    tenant = make_tenant()
    server = RedisServer(
        options=("--appendonly", "yes", "--appendfsync", "always", "--dir", str(tmp_path))
    ).start()
    try:
        settings.TRACKING_QUEUE_URL = server.url(0)
        for n in range(20):
            assert post_batch(client, tenant, events(f"r{n}", 10)).status_code == 202
        # A drainer had read five entries when Redis died: they stay its, pending, on disk too.
        store = redis.Redis.from_url(server.url(0))
        queue._ensure_group(store)
        store.xreadgroup(queue.GROUP, "gone", {queue.STREAM: ">"}, count=5)
        store.close()
        server.process.kill()  # no goodbye: what was answered 202 must be on disk
        server.process.wait()
        down = post_event(client, tenant, {"evt_type": "click"})
        assert down.status_code == 503
        server.start()
        for n in range(20, 25):
            assert post_batch(client, tenant, events(f"r{n}", 10)).status_code == 202
        settings.TRACKING_QUEUE_CLAIM_SECONDS = 0  # the dead drainer's five taken over at once

        assert drain() == 250

        assert RawEvent.objects.count() == 250
        assert queue.check_gap() == 0
    finally:
        server.stop()


def test_the_backlog_its_age_and_the_drainers_rate_are_on_both_dashboards(
    client, queued, admin_client, settings
):
    tenant = make_tenant()
    post_batch(client, tenant, events("s", 3))
    settings.TRACKING_QUEUE_MAX_BACKLOG = 2
    post_batch(client, tenant, events("w", 3))  # half full: a warning

    for page in (f"/tracking/{tenant.pk}/", "/ops/"):
        html = admin_client.get(page).content.decode()
        assert "Queued requests" in html and "Oldest queued" in html, page
        assert "Drained, last minute" in html and "Lost from the queue" in html, page
        assert "of 2 before refusing (503)" in html, page
    # A drained minute is counted; the figure reads the last whole minute (three read here: the
    # drain may end in the minute after the one it began in).
    drain()
    assert sum(counters.per_minute(queue.DRAINED_COUNTER, minutes=3, now=_next_minute())) == 6

    settings.TRACKING_QUEUE_URL = f"redis://127.0.0.1:{free_port()}/0"
    html = admin_client.get(f"/tracking/{tenant.pk}/").content.decode()
    assert "Redis cannot be reached" in html
    settings.TRACKING_QUEUE = ""
    html = admin_client.get(f"/tracking/{tenant.pk}/").content.decode()
    assert "tracking-queue" not in html


def _next_minute() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)

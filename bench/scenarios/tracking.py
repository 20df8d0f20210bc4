"""Tracking ingestion and processing under load: wrk (Debian's package) in a second process on
loopback against gunicorn, each figure beside its reference from the same run.

- tracking_single: POST /t/e, one event a request; against a bare Django view that only
  inserts the body as a raw row (bench/tracking_reference.py).
- tracking_batch: POST /t/batch with 100 events a request for 30 s; against plain COPY of the
  same rows into the same table from one client.
- tracking_processing: one worker (in-process) normalising 200,000 pending raw rows, three
  times (the median counts).
- tracking_growth: the batch ingestion again with 50,000,000 rows already in the raw table
  (BENCH_TRACKING_GROWTH_ROWS; processed, in the five days before today's partition), against
  the same run's figure on a (nearly) empty one.
- tracking_partition_drop: retention of a day of 5,000,000 processed rows
  (BENCH_TRACKING_DROP_ROWS): the day's partition detached and dropped, against the batched
  DELETE of the same rows (loaded again into the same day) in the same run.
- tracking_dashboard: a tenant's dashboard selector and the tenants' overview, in-process, over
  one tenant's 5,000,000 events in 24 hours (BENCH_DASHBOARD_EVENTS for more), in a database of
  its own; against the raw-row queries they replaced, taking turns.

After each ingestion scenario the events wrk saw acknowledged are counted in the raw table: every
one stored, and more only by the requests still in flight when wrk stopped.

Each figure is the median of three runs (for ingestion, ours and its reference taking turns):
on this machine the same run varies by 10 to 25 % from one minute to the next. Every run is
printed, and each must lose nothing.

The app and the bare view are served by one gunicorn of their own
(bench.tracking_reference:application) with two sync workers, as the other scenarios (on two
cores a third worker only competes), one of them loaded at a time."""

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.harness import Context, HttpError, Outcome, Scenario, ratio

TARGET_SINGLE_RPS = 2000
TARGET_SINGLE_P99_MS = 25.0
TARGET_SINGLE_SHARE = 0.75
TARGET_BATCH_EPS = 50_000
TARGET_BATCH_SHARE = 0.30
TARGET_PROCESS_EPS = 20_000
TARGET_GROWTH_SHARE = 0.90
TARGET_DROP_SECONDS = 1.0
BATCH_SIZE = 100
ROUNDS = 3
PROCESS_ROWS = 200_000
GROWTH_ROWS = int(os.environ.get("BENCH_TRACKING_GROWTH_ROWS", 50_000_000))
GROWTH_DAYS = 5
DROP_ROWS = int(os.environ.get("BENCH_TRACKING_DROP_ROWS", 5_000_000))
CONNECTIONS, THREADS = 16, 2
WORKERS = 2  # as the other scenarios: on two cores a third worker only competes
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari"

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "%(ua)s"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) accepted = 0; good = 0; bad = 0 end
function response(status, headers, body)
  if status == 200 then
    good = good + 1
    local n = string.match(body, '"accepted": ?(%%d+)')
    if n then accepted = accepted + tonumber(n) end
  else
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local accepted, good, bad = 0, 0, 0
  for _, thread in ipairs(threads) do
    accepted = accepted + thread:get("accepted")
    good = good + thread:get("good")
    bad = bad + thread:get("bad")
  end
  io.write(string.format("RESULT %%d %%d %%d %%d %%.1f %%.1f %%.1f\\n", accepted, good, bad,
    summary.requests, latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


def _event(n: int) -> dict:
    return {
        "evt_type": "page_view",
        "session_id": f"bench-{n % 50}",
        "url": f"https://shop.example.com/products/{n % 40}",
        "referrer": "https://www.google.com/",
        "props": {"title": "A product", "n": n},
    }


def wrk(url: str, body: str, *, seconds: int, lua: str = WRK_SCRIPT) -> dict:
    """Run wrk against `url` posting `body`; requests a second, latencies and what the answers
    said was accepted (`lua`: the script, WRK_SCRIPT or one like it)."""
    if shutil.which("wrk") is None:
        raise HttpError("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua % {"body": body, "ua": UA})
    try:
        output = subprocess.run(
            ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "-s",
             script.name, url],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", output)
    if match is None:
        raise HttpError(f"wrk said nothing usable:\n{output[-2000:]}")
    accepted, good, bad, requests, p50, p99, duration = match.groups()
    seconds_run = float(duration) / 1e6
    return {
        "accepted": int(accepted), "ok": int(good), "not_ok": int(bad),
        "requests": int(requests), "rps": round(int(requests) / seconds_run, 1),
        "p50_ms": round(float(p50) / 1000, 2), "p99_ms": round(float(p99) / 1000, 2),
        "seconds": round(seconds_run, 2),
    }  # fmt: skip


def prepare(ctx: Context) -> None:
    if "tracking" in ctx.data:
        return
    from crm.roles import SystemActor
    from tracking import services

    actor = SystemActor("bench")
    fast = {"rate_per_minute": 100_000_000, "ip_handling": "store"}
    made = {
        name: services.tenant_create(actor=actor, name=f"Bench {name}", identifier=f"bench-{name}",
                                     **fast)
        for name in ("single", "reference", "batch", "growth", "processing", "bulk")
    }  # fmt: skip
    ctx.data["tracking"] = {
        name: (tenant.pk, tenant.ingestion_key) for name, tenant in made.items()
    }


def _stored(tenant_id: int) -> int:
    from tracking.models import RawEvent

    return RawEvent.objects.filter(tenant_id=tenant_id).count()


# --- Single events ------------------------------------------------------------------------------


@contextlib.contextmanager
def _server(ctx: Context):
    """The app and the bare view, served as production serves the app; the base URL."""
    from bench.servers import gunicorn
    from crm.testing.servers import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as folder, gunicorn(
        dict(os.environ), port, Path(folder) / "gunicorn.log",
        wsgi_app="bench.tracking_reference:application", workers=WORKERS,
    ):  # fmt: skip
        yield f"http://127.0.0.1:{port}"


def _settle() -> None:
    # Requests wrk left in flight when it stopped finish (and are stored, unacknowledged).
    time.sleep(1)


def _median(runs: list[dict], key: str) -> dict:
    return sorted(runs, key=lambda run: run[key])[len(runs) // 2]


def _runs(runs: list[dict], key: str, unit: str) -> str:
    return ", ".join(f"{run[key]:,.0f}" for run in runs) + f" {unit}"


def measure_single(ctx: Context) -> Outcome:
    tenants = ctx.data["tracking"]
    seconds = ctx.requests or 15
    body = json.dumps(_event(1))
    references, runs, lossless = [], [], True
    with _server(ctx) as base:
        reference_url = f"{base}/t/bench/insert-only?tenant={tenants['reference'][0]}"
        ours_url = f"{base}/t/e?key={tenants['single'][1]}"
        wrk(reference_url, body, seconds=3)  # warm up
        wrk(ours_url, body, seconds=3)
        _settle()
        for _ in range(ROUNDS):
            references.append(wrk(reference_url, body, seconds=seconds))
            before = _stored(tenants["single"][0])
            run = wrk(ours_url, body, seconds=seconds)
            _settle()
            run["stored"] = _stored(tenants["single"][0]) - before
            runs.append(run)
            # Every acknowledged event stored; more only by the requests in flight at the stop.
            kept = run["accepted"] <= run["stored"] <= run["accepted"] + CONNECTIONS
            answered = run["not_ok"] == 0 and run["accepted"] == run["ok"]
            lossless = lossless and kept and answered
    ours, reference = _median(runs, "rps"), _median(references, "rps")
    stored = ours["stored"]
    share = ratio(ours["rps"], reference["rps"])
    met = (ours["rps"] >= TARGET_SINGLE_RPS and ours["p99_ms"] <= TARGET_SINGLE_P99_MS
           and share >= TARGET_SINGLE_SHARE and lossless)  # fmt: skip
    summary = (
        f"tracking_single (POST /t/e, gunicorn -w {WORKERS}, wrk -c{CONNECTIONS} {seconds}s): "
        f"{ours['rps']:,.0f} req/s, p50 {ours['p50_ms']} ms p99 {ours['p99_ms']} ms; bare "
        f"insert-only view {reference['rps']:,.0f} req/s p99 {reference['p99_ms']} ms: "
        f"{share:.2f} of it; acknowledged {ours['accepted']:,}, stored {stored:,} (in flight "
        f"at the stop: {stored - ours['accepted']}): {'no loss' if lossless else 'LOSS'} | "
        f"target >= {TARGET_SINGLE_RPS:,} req/s, p99 <= {TARGET_SINGLE_P99_MS:g} ms, >= "
        f"{TARGET_SINGLE_SHARE:.0%} of the bare view: {'OK' if met else 'MISSED'} (medians of "
        f"{ROUNDS} runs: ours {_runs(runs, 'rps', 'req/s')}; bare "
        f"{_runs(references, 'rps', 'req/s')})"
    )
    return Outcome(
        metrics={"ours": ours, "reference": reference, "share": share, "stored": stored,
                 "workers": WORKERS, "runs": runs, "reference_runs": references},
        summary=summary, targets_met=met,
    )  # fmt: skip


# --- Batches ------------------------------------------------------------------------------------


def _batch_body() -> str:
    return json.dumps({"batch": [_event(n) for n in range(BATCH_SIZE)]})


def _copy_rate(ctx: Context, rows: int) -> float:
    """Plain COPY of `rows` raw rows (the batch's events as ingestion stores them, with ids of
    the same kind) into the raw table from one client, 5,000 rows a write: rows a second. The text
    is made before the clock starts: what is timed is PostgreSQL taking the rows in."""
    import psycopg

    from tracking.services import new_event_ids

    tenant_id = ctx.data["tracking"]["bulk"][0]
    now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
    payloads = [json.dumps(_event(n)).replace("\\", "\\\\") for n in range(BATCH_SIZE)]
    lines = [
        f"{tenant_id}\t{now}\tf\t192.0.2.1\t{UA}\t{payloads[n % BATCH_SIZE]}\tapi\t{event_id}"
        "\t0\t0\t\t\n"
        for n, event_id in enumerate(new_event_ids(rows))
    ]
    chunks = ["".join(lines[start : start + 5000]).encode() for start in range(0, rows, 5000)]
    with psycopg.connect(ctx.database_url) as connection:
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(
            "COPY tracking_rawevent (tenant_id, received_at, clock_skew, client_ip, user_agent,"
            " payload, record_source, event_id, status, attempts, last_error, failure_reason)"
            " FROM STDIN"
        ) as copy:  # fmt: skip
            for chunk in chunks:
                copy.write(chunk)
        connection.commit()
        return rows / (time.perf_counter() - started)


def _batch_run(ctx: Context, tenant: str, seconds: int) -> tuple[dict, int]:
    tenant_id, key = ctx.data["tracking"][tenant]
    body = _batch_body()
    with _server(ctx) as base:
        url = f"{base}/t/batch?key={key}"
        wrk(url, body, seconds=3)
        _settle()
        before = _stored(tenant_id)
        result = wrk(url, body, seconds=seconds)
        _settle()
    result["events_per_second"] = round(result["accepted"] / result["seconds"], 1)
    return result, _stored(tenant_id) - before


def _lossless(result: dict, stored: int) -> bool:
    """Every acknowledged event stored; more only by the requests in flight at the stop."""
    in_flight = CONNECTIONS * BATCH_SIZE
    answered = result["not_ok"] == 0 and result["accepted"] == result["ok"] * BATCH_SIZE
    return answered and result["accepted"] <= stored <= result["accepted"] + in_flight


def measure_batch(ctx: Context) -> Outcome:
    seconds = ctx.requests or 30
    runs, copies = [], []
    for _ in range(ROUNDS):
        run, stored = _batch_run(ctx, "batch", seconds)
        runs.append({**run, "stored": stored})
        copies.append({"rows_per_second": _copy_rate(ctx, 300_000)})
    ours = _median(runs, "events_per_second")
    copy = _median(copies, "rows_per_second")["rows_per_second"]
    stored = ours["stored"]
    share = ratio(ours["events_per_second"], copy)
    lossless = all(_lossless(run, run["stored"]) for run in runs)
    ctx.data["tracking_batch_eps"] = ours["events_per_second"]
    met = ours["events_per_second"] >= TARGET_BATCH_EPS and share >= TARGET_BATCH_SHARE and lossless
    summary = (
        f"tracking_batch ({BATCH_SIZE} events a request, {seconds}s): "
        f"{ours['events_per_second']:,.0f} events/s ({ours['rps']:,.0f} req/s, p99 "
        f"{ours['p99_ms']} ms); plain COPY {copy:,.0f} rows/s: {share:.2f} of it; "
        f"acknowledged {ours['accepted']:,}, stored {stored:,}: "
        f"{'no loss' if lossless else 'LOSS'} | target >= "
        f"{TARGET_BATCH_EPS:,} events/s and >= {TARGET_BATCH_SHARE:.0%} of COPY: "
        f"{'OK' if met else 'MISSED'} (medians of {ROUNDS} runs: ours "
        f"{_runs(runs, 'events_per_second', 'events/s')}; COPY "
        f"{_runs(copies, 'rows_per_second', 'rows/s')})"
    )
    return Outcome(
        metrics={"ours": ours, "copy_rows_per_second": round(copy, 1), "share": share,
                 "stored": stored, "runs": runs, "copy_runs": copies},
        summary=summary, targets_met=met,
    )  # fmt: skip


# --- Processing ---------------------------------------------------------------------------------


def measure_processing(ctx: Context) -> Outcome:
    from django.db import connection

    from tracking import processing
    from tracking.models import RawEvent, RawStatus

    tenant_id = ctx.data["tracking"]["processing"][0]
    with connection.cursor() as cursor:
        # What the ingestion scenarios stored (millions of pending rows, counted already) is
        # not what this one times.
        cursor.execute("DELETE FROM tracking_rawevent WHERE tenant_id <> %s", [tenant_id])
    runs = []
    for turn in range(ROUNDS):  # each its own rows and sessions: the same work every time
        with connection.cursor() as cursor:
            # Dead row versions (the deleted rows, an earlier round's) vacuumed first, as the
            # growth scenario does after its load: else autovacuum works on the same two cores
            # while this is timed.
            for table in ("tracking_rawevent", "tracking_trackedevent",
                          "tracking_trackedsession"):  # fmt: skip
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute(
                """INSERT INTO tracking_rawevent (tenant_id, received_at, client_timestamp,
                       clock_skew, user_agent, payload, record_source, event_id, status,
                       attempts, last_error, failure_reason)
                   SELECT %s, now() - interval '1 minute', now() - interval '1 minute', false,
                       %s, jsonb_build_object('evt_type', CASE WHEN g %% 5 = 0 THEN 'signup'
                                                              ELSE 'page_view' END,
                           'session_id', %s || (g %% 20000), 'url',
                           'https://shop.example.com/products/' || (g %% 300),
                           'referrer', 'https://www.google.com/',
                           'props', jsonb_build_object('n', g)),
                       'js', %s || g, 0, 0, '', ''
                   FROM generate_series(1, %s) g""",
                [tenant_id, UA, f"p{turn}-", f"p{turn}-", PROCESS_ROWS],
            )
            cursor.execute("ANALYZE tracking_rawevent")
        started = time.perf_counter()
        done = processing.process_pending()  # in batches of TRACKING_PROCESS_BATCH, as the worker
        elapsed = time.perf_counter() - started
        runs.append({"processed": done.processed, "seconds": round(elapsed, 2),
                     "events_per_second": round(done.processed / elapsed, 1)})  # fmt: skip
    median = _median(runs, "events_per_second")
    rate = median["events_per_second"]
    left = RawEvent.objects.filter(tenant_id=tenant_id).exclude(status=RawStatus.PROCESSED).count()
    processed_all = all(run["processed"] == PROCESS_ROWS for run in runs)
    met = rate >= TARGET_PROCESS_EPS and processed_all and left == 0
    summary = (
        f"tracking_processing (one worker, {PROCESS_ROWS:,} pending rows, 20,000 sessions): "
        f"{median['processed']:,} processed in {median['seconds']:.2f} s = {rate:,.0f} "
        f"events/s, {left} left | target >= {TARGET_PROCESS_EPS:,} events/s: "
        f"{'OK' if met else 'MISSED'} (median of {ROUNDS} runs: "
        f"{_runs(runs, 'events_per_second', 'events/s')})"
    )
    return Outcome(
        metrics={"processed": median["processed"], "seconds": median["seconds"],
                 "events_per_second": rate, "left": left, "runs": runs},
        summary=summary, targets_met=met,
    )  # fmt: skip


# --- Growth -------------------------------------------------------------------------------------


def measure_growth(ctx: Context) -> Outcome:
    from django.db import connection

    from tracking import partitions

    tenant_id = ctx.data["tracking"]["bulk"][0]
    started = time.perf_counter()
    step = 1_000_000
    # As retention leaves the table: days of processed rows before today's (each day its own
    # partition where the table is partitioned).
    today = dt.datetime.now(dt.UTC).date()
    for back in range(1, GROWTH_DAYS + 1):
        partitions.ensure(today=today - dt.timedelta(days=back), ahead=0)
    with connection.cursor() as cursor:
        have = _stored(tenant_id)
        for start in range(have, GROWTH_ROWS, step):
            cursor.execute(
                """INSERT INTO tracking_rawevent (tenant_id, received_at, clock_skew, user_agent,
                       payload, record_source, event_id, status, attempts, last_error,
                       failure_reason, processed_at)
                   SELECT %s, date_trunc('day', now()) - (1 + g %% %s) * interval '1 day'
                           + (g %% 86400) * interval '1 second', false, %s,
                       jsonb_build_object('evt_type', 'page_view', 'n', g), 'js', md5(g::text),
                       2, 1, '', '', now() - interval '1 day'
                   FROM generate_series(%s, %s) g""",
                [tenant_id, GROWTH_DAYS, UA, start, min(start + step, GROWTH_ROWS) - 1],
            )
        cursor.execute("VACUUM ANALYZE tracking_rawevent")
        cursor.execute("SELECT count(*) FROM tracking_rawevent")
        total = cursor.fetchone()[0]
        # The load's pages written out before the clock starts (else the disk writes them
        # back while the runs are timed).
        cursor.execute("CHECKPOINT")
    os.sync()
    load_seconds = time.perf_counter() - started
    seconds = ctx.requests or 30
    empty = ctx.data.get("tracking_batch_eps")
    if empty is None:  # run alone: the empty-table figure first, on a tenant of its own
        raise HttpError("tracking_growth compares with tracking_batch: run them together")
    runs = []
    for _ in range(ROUNDS):  # a median against a median (the same minutes vary by 10-25 %)
        run, stored = _batch_run(ctx, "growth", seconds)
        runs.append({**run, "stored": stored})
    grown = _median(runs, "events_per_second")
    share = ratio(grown["events_per_second"], empty)
    lossless = all(_lossless(run, run["stored"]) for run in runs)
    met = share >= TARGET_GROWTH_SHARE and lossless
    summary = (
        f"tracking_growth ({total:,} rows in the raw table, loaded in {load_seconds:.0f} s): "
        f"{grown['events_per_second']:,.0f} events/s against {empty:,.0f} on the near-empty "
        f"table: {share:.2f}; acknowledged {grown['accepted']:,}, stored {grown['stored']:,}: "
        f"{'no loss' if lossless else 'LOSS'} | target >= {TARGET_GROWTH_SHARE:.0%}: "
        f"{'OK' if met else 'MISSED'} (median of {ROUNDS} runs: "
        f"{_runs(runs, 'events_per_second', 'events/s')})"
    )
    return Outcome(
        metrics={"rows_in_table": total, "grown": grown, "runs": runs,
                 "empty_events_per_second": empty,
                 "share": share, "load_seconds": round(load_seconds, 1)},
        summary=summary, targets_met=met,
    )  # fmt: skip


# --- Dashboard ----------------------------------------------------------------------------------

DASHBOARD_DATABASE = "crm_bench_tracking_dashboard"
TARGET_DASHBOARD_MS = 100.0
DASHBOARD_ROUNDS, REFERENCE_ROUNDS = 30, 5
LOAD_STEP = 1_000_000
# The load's rows are spread over the 23 hours before it starts: the last 24 hours hold them
# all, to the second or to the minute, for as long as the load and the runs take (at 50 M
# events, about 20 minutes).
LOAD_SPAN = 86_400.0 - 3_600


def dashboard_events() -> int:
    """The events of the last 24 hours the dashboard scenario loads: 5,000,000, or
    BENCH_DASHBOARD_EVENTS (50000000 for the larger figure: about 45 GB of disk)."""
    return int(os.environ.get("BENCH_DASHBOARD_EVENTS", 5_000_000))


def _load_dashboard(tenant_id: int, events: int) -> dict:
    """One tenant's last 24 hours straight into the tables by generate_series: raw rows
    processed, their events, a session for every ten events, a backlog and failed rows; then
    the rollups by their rebuild. Returns how long each part took."""
    from django.db import connection
    from django.utils import timezone

    from tracking import rollups

    now = timezone.now()
    took = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for start in range(0, events, LOAD_STEP):
            end = min(start + LOAD_STEP, events) - 1
            cursor.execute(
                """INSERT INTO tracking_rawevent (tenant_id, received_at, clock_skew, user_agent,
                       payload, record_source, event_id, status, attempts, last_error,
                       failure_reason, processed_at, bot)
                   SELECT %(tenant)s, %(now)s - make_interval(secs => g * %(span)s / %(events)s),
                       false, %(ua)s,
                       jsonb_build_object(
                           'evt_type', CASE WHEN g %% 10 = 0 THEN 'add_to_cart'
                                            ELSE 'page_view' END,
                           'session_id', 's' || (g %% %(sessions)s),
                           'url', 'https://shop.example.com/products/' || (g %% 500)),
                       CASE WHEN g %% 7 = 0 THEN 'api' ELSE 'js' END, 'd' || g, 2, 1, '', '',
                       %(now)s, false
                   FROM generate_series(%(start)s, %(end)s) g""",
                {"tenant": tenant_id, "now": now, "events": events, "ua": UA, "span": LOAD_SPAN,
                 "sessions": max(events // 10, 1), "start": start, "end": end},
            )  # fmt: skip
        took["raw_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        cursor.execute(
            """INSERT INTO tracking_trackedevent (tenant_id, raw_event_id, evt_type, url_path,
                   referrer_host, occurred_at, props)
               SELECT tenant_id, id, payload ->> 'evt_type',
                   substr(payload ->> 'url', length('https://shop.example.com') + 1), '',
                   received_at, '{}'
               FROM tracking_rawevent WHERE tenant_id = %s""",
            [tenant_id],
        )
        cursor.execute(
            """INSERT INTO tracking_trackedsession (tenant_id, session_key, first_seen, last_seen,
                   page_views, events, entry_url, exit_url, referrer_host, device, browser)
               SELECT %(tenant)s, 's' || k, %(now)s - make_interval(secs => k * %(span)s / %(n)s),
                   %(now)s - make_interval(secs => k * %(span)s / %(n)s) + interval '5 minutes',
                   k %% 5, 9, '', '', '', 'desktop', 'Chrome'
               FROM generate_series(0, %(n)s - 1) k""",
            {"tenant": tenant_id, "now": now, "n": max(events // 10, 1), "span": LOAD_SPAN},
        )
        # What the worker has not made events of: a backlog of the last minutes, failed rows.
        cursor.execute(
            """INSERT INTO tracking_rawevent (tenant_id, received_at, clock_skew, user_agent,
                   payload, record_source, event_id, status, attempts, last_error,
                   failure_reason)
               SELECT %s, now() - make_interval(secs => g %% 300), false, '',
                   jsonb_build_object('evt_type', 'page_view'), 'js', 'w' || g,
                   CASE WHEN g %% 5 = 0 THEN 3 ELSE 0 END, 0, '',
                   CASE WHEN g %% 5 = 0 THEN 'schema_violation' ELSE '' END
               FROM generate_series(1, 2500) g""",
            [tenant_id],
        )
        took["events_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        rollups.rebuild(tenant_id=tenant_id)
        took["rebuild_seconds"] = round(time.perf_counter() - started, 1)
        for table in ("tracking_rawevent", "tracking_trackedevent", "tracking_trackedsession",
                      "tracking_eventsbyminute", "tracking_pageviewsbyhour",
                      "tracking_sessionsbyquarter"):  # fmt: skip
            cursor.execute(f"VACUUM ANALYZE {table}")
    return took


def _timed(call, rounds: int) -> list[float]:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def measure_dashboard(ctx: Context) -> Outcome:
    """The tenant's dashboard selector and the tenants' overview over the rollups, against the
    raw-row queries they replaced (bench.tracking_reference), in the same run: ours and the
    reference taking turns, each series' p50."""
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.harness import create_database, on_database, summarize, work_statements
    from bench.tracking_reference import dashboard_from_raw, overview_from_raw
    from crm.roles import SystemActor
    from tracking import selectors, services
    from tracking.models import RawEvent

    events = dashboard_events()
    create_database(ctx, DASHBOARD_DATABASE)
    with on_database(DASHBOARD_DATABASE):
        call_command("migrate", verbosity=0)
        actor = SystemActor("bench")
        made = [services.tenant_create(actor=actor, name=f"Bench {name}",
                                       identifier=f"bench-{name}")
                for name in ("dashboard", "quiet", "other")]  # fmt: skip
        tenant = made[0]
        took = _load_dashboard(tenant.pk, events)
        loaded = RawEvent.objects.filter(tenant=tenant).count()
        ours = {"dashboard": [], "overview": []}
        reference = {"dashboard": [], "overview": []}
        calls = {
            "dashboard": (lambda: selectors.dashboard(tenant),
                          lambda: dashboard_from_raw(tenant)),
            "overview": (lambda: selectors.overview(made), lambda: overview_from_raw(made)),
        }  # fmt: skip
        for name, (new, old) in calls.items():
            new(), old()  # warm: the plans and the pages of the tables read
            for _turn in range(REFERENCE_ROUNDS):
                ours[name] += _timed(new, DASHBOARD_ROUNDS // REFERENCE_ROUNDS)
                reference[name] += _timed(old, 1)
        with CaptureQueriesContext(connection) as captured:
            figures = selectors.dashboard(tenant)
        queries = work_statements(captured.captured_queries)
        old_figures = dashboard_from_raw(tenant)
    connection.close()
    ours = {name: summarize(seconds) for name, seconds in ours.items()}
    reference = {name: summarize(seconds) for name, seconds in reference.items()}
    ratios = {name: ratio(reference[name]["p50_ms"], ours[name]["p50_ms"]) for name in ours}
    # The same figures (the reference counts the last 24 hours to the second, the rollups from
    # a whole minute: on a load spread over 23 hours, the same rows).
    compared = {
        "ours": (figures["received"], figures["pending"], figures["failed_total"],
                 figures["top_pages"], figures["sessions_today"], figures["bounced_today"]),
        "reference": (old_figures["received"], old_figures["pending"],
                      sum(n for _, n in old_figures["failed"]), old_figures["top_pages"],
                      old_figures["sessions_today"], old_figures["bounced_today"]),
    }  # fmt: skip
    same = compared["ours"] == compared["reference"]
    met = (
        ours["dashboard"]["p50_ms"] <= TARGET_DASHBOARD_MS
        and ours["overview"]["p50_ms"] <= TARGET_DASHBOARD_MS
        and same
    )
    summary = (
        f"tracking_dashboard ({loaded:,} raw rows, {events:,} events in 24 h, loaded in "
        f"{sum(took.values()):.0f} s): dashboard p50 {ours['dashboard']['p50_ms']:.1f} ms "
        f"({queries} queries) against {reference['dashboard']['p50_ms']:.0f} ms from the raw "
        f"rows ({ratios['dashboard']:.0f}x); overview p50 {ours['overview']['p50_ms']:.1f} ms "
        f"against {reference['overview']['p50_ms']:.0f} ms ({ratios['overview']:.0f}x); "
        f"figures {'the same' if same else 'DIFFERENT'} | target <= {TARGET_DASHBOARD_MS:.0f} "
        f"ms: {'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={"events": events, "raw_rows": loaded, "load": took, "ours": ours,
                 "reference": reference, "reference_over_ours": ratios, "queries": queries,
                 "same_figures": same, **({} if same else {"figures": compared})},
        summary=summary, targets_met=met,
    )  # fmt: skip


# --- Retention by partition ----------------------------------------------------------------------


def _load_day(cursor, tenant_id: int, day: dt.date, rows: int) -> None:
    """`rows` processed raw rows received on `day`, a million a statement."""
    for start in range(0, rows, 1_000_000):
        cursor.execute(
            """INSERT INTO tracking_rawevent (tenant_id, received_at, clock_skew, user_agent,
                   payload, record_source, event_id, status, attempts, last_error,
                   failure_reason, processed_at)
               SELECT %s, %s::date + (g %% 86400) * interval '1 second', false, %s,
                   jsonb_build_object('evt_type', 'page_view', 'n', g), 'js',
                   'drop-' || g, 2, 1, '', '', %s::date + interval '1 day'
               FROM generate_series(%s, %s) g""",
            [tenant_id, day, UA, day, start, min(start + 1_000_000, rows) - 1],
        )
    cursor.execute("VACUUM ANALYZE tracking_rawevent")


def measure_partition_drop(ctx: Context) -> Outcome:
    from django.db import connection

    from tracking import partitions, retention
    from tracking.models import RawStatus

    if not partitions.partitioned():
        raise HttpError("tracking_partition_drop needs the partitioned raw table (PostgreSQL)")
    tenant_id = ctx.data["tracking"]["bulk"][0]
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=120)
    cutoff = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    processed = (RawStatus.PROCESSED,)
    with connection.cursor() as cursor:
        partitions.ensure(today=day, ahead=0)
        _load_day(cursor, tenant_id, day, DROP_ROWS)
    started = time.perf_counter()
    dropped = partitions.drop_older(before=cutoff, statuses=processed)
    drop_seconds = time.perf_counter() - started

    with connection.cursor() as cursor:  # the same rows again, deleted as before partitions
        partitions.ensure(today=day, ahead=0)
        _load_day(cursor, tenant_id, day, DROP_ROWS)
    started = time.perf_counter()
    deleted = retention.delete_in_batches(
        partitions.partition_name(day), before=cutoff, statuses=processed
    )
    delete_seconds = time.perf_counter() - started
    partitions.drop_older(before=cutoff, statuses=processed)  # the emptied day goes

    met = (
        drop_seconds <= TARGET_DROP_SECONDS
        and dropped.partitions == [partitions.partition_name(day)]
        and deleted == DROP_ROWS
    )
    summary = (
        f"tracking_partition_drop (a day of {DROP_ROWS:,} processed rows): partition detached "
        f"and dropped in {drop_seconds:.2f} s ({dropped.rows:,} rows by its statistics); the "
        f"batched DELETE of the same rows {delete_seconds:.1f} s ({deleted:,} rows): "
        f"{ratio(delete_seconds, drop_seconds):,.0f} times as long | target drop <= "
        f"{TARGET_DROP_SECONDS:.0f} s: {'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={"rows": DROP_ROWS, "drop_seconds": round(drop_seconds, 3),
                 "delete_seconds": round(delete_seconds, 2), "deleted": deleted,
                 "dropped_rows_estimate": dropped.rows},
        summary=summary, targets_met=met,
    )  # fmt: skip


WRK = {"wrk": "wrk"}
SCENARIOS = [
    Scenario("tracking_single", "POST /t/e against a bare insert-only view.", prepare,
             measure_single, 15, needs=WRK),
    Scenario("tracking_batch", "POST /t/batch against plain COPY.", prepare, measure_batch, 30,
             needs=WRK),
    Scenario("tracking_processing", "One worker normalising raw rows.", prepare,
             measure_processing, 1),
    Scenario("tracking_growth", f"Batch ingestion over {GROWTH_ROWS:,} rows.", prepare,
             measure_growth, 30, needs=WRK),
    Scenario("tracking_dashboard", "The dashboard and overview over 5,000,000 events in 24 h.",
             prepare, measure_dashboard, DASHBOARD_ROUNDS),
    Scenario("tracking_partition_drop", "A day's partition dropped against a batched DELETE.",
             prepare, measure_partition_drop, 1),
]  # fmt: skip

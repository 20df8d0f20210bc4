"""Cold start and soak.

- `cold_start`: from starting a gunicorn worker to its first answer (and its first page), and
  from starting a Celery worker to the end of its first task; three starts each, on the
  benchmark's servers and settings.
- `soak`: a production-like stack of its own (PostgreSQL, Redis, gunicorn with two workers, two
  Celery workers and beat; crm.testing.stack) with the demo data, under mixed traffic for
  BENCH_SOAK_SECONDS (`--soak-seconds`, ten minutes by default): reps browsing and winning
  deals, supervisors saving their routes' days, ingestion at 1,000 events a second; a third of
  the way in a Celery worker is killed (SIGKILL, a new one started), two thirds in Redis is
  restarted. Then the fallback jobs run, as beat would send them, and it reports the error rate,
  p95 per endpoint group, events accepted against stored, goal values against a fresh
  recalculation, and the resident memory of each gunicorn and Celery process after the warm-up
  and at the end.
"""

import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.harness import Context, Outcome, Scenario, percentile

SOAK_SECONDS = 600
EVENTS_PER_SECOND = 1000
EVENTS_PER_BATCH = 100
REPS, SUPERVISORS = 6, 2
RUN_JOB = "crm.jobs.run_job_task"
COLD_STARTS = 3
COLD_QUEUE = "cold_start"
# Targets: the for the soak; for a cold start, what a rolling deploy can wait for.
MAX_ERROR_RATE = 0.5  # percent
WEB_MB, CELERY_MB, MAX_GROWTH = 150, 250, 10  # MB per process, MB, percent
WEB_START_S, WORKER_START_S = 10.0, 15.0


def soak_seconds() -> int:
    return int(os.environ.get("BENCH_SOAK_SECONDS") or SOAK_SECONDS)


def _environment() -> dict[str, str]:
    env = dict(os.environ)  # the harness's production settings
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


# --- Cold start --------------------------------------------------------------------------------


def prepare_nothing(ctx: Context) -> None:
    """Both scenarios bring their own processes (and the soak its own servers and data)."""


def measure_cold_start(ctx: Context) -> Outcome:
    from crm.testing.servers import free_port
    from crm.testing.stack import (
        celery_client,
        celery_worker_command,
        gunicorn_command,
        start_process,
        wait_until,
    )

    logs = Path(tempfile.mkdtemp(prefix="crm-cold-"))
    env = _environment()
    web, page, worker = [], [], []
    for n in range(COLD_STARTS):
        port = free_port()
        process = start_process(
            f"web{n}", gunicorn_command(port=port, workers=1), env=env, log_dir=logs, port=port
        )
        try:
            wait_until(partial(_answers, port, "/health/live"), timeout=120, interval=0.02)
            web.append(time.monotonic() - process.started_at)
            wait_until(partial(_answers, port, "/accounts/login/"), timeout=60)
            page.append(time.monotonic() - process.started_at)
        finally:
            process.stop()
    app = celery_client(os.environ["CELERY_BROKER_URL"])
    try:
        for n in range(COLD_STARTS):
            command = celery_worker_command(f"cold{n}", concurrency=1, options=("-Q", COLD_QUEUE))
            process = start_process(f"worker{n}", command, env=env, log_dir=logs)
            try:
                # Queued as the worker starts: done when the worker has booted and run it.
                result = app.send_task(RUN_JOB, args=["close_abandoned_job_runs"], queue=COLD_QUEUE)
                result.get(timeout=120)
                worker.append(time.monotonic() - process.started_at)
            finally:
                process.stop()
    finally:
        app.close()
    shutil.rmtree(logs, ignore_errors=True)
    figures = {
        "gunicorn_first_answer_s": _seconds(web),
        "gunicorn_first_page_s": _seconds(page),
        "celery_first_task_s": _seconds(worker),
    }
    web_median, worker_median = percentile(web, 50), percentile(worker, 50)
    met = web_median <= WEB_START_S and worker_median <= WORKER_START_S
    summary = (
        f"cold_start: gunicorn worker to first answer {web_median:.2f} s (first page "
        f"{percentile(page, 50):.2f} s), Celery worker to first task {worker_median:.2f} s "
        f"(medians of {COLD_STARTS}; targets ≤ {WEB_START_S:g} s, ≤ {WORKER_START_S:g} s)"
        f"{'' if met else '  MISSED'}"
    )
    return Outcome(metrics=figures, summary=summary, targets_met=met)


def _answers(port: int, path: str) -> bool:
    from crm.testing.stack import http_status

    return http_status(port, path) == 200


def _seconds(values: list[float]) -> dict:
    return {"runs": [round(v, 3) for v in values], "median": round(percentile(values, 50), 3)}


# --- Soak --------------------------------------------------------------------------------------


class Recorder:
    """Every request's group, duration and whether it went as it should, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.samples: dict[str, list[str]] = defaultdict(list)
        self.accepted = 0

    def call(self, group: str, send: Callable, *args, expected=(200,), **kwargs):
        """`send(*args, **kwargs)` (a WebClient's method), timed and judged."""
        started = time.perf_counter()
        status, text, headers = send(*args, **kwargs)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.durations[group].append(elapsed)
            if status not in expected:
                self.errors[group] += 1
                if len(self.samples[group]) < 5:
                    self.samples[group].append(f"{status}: {text[:200]}")
        return status, text, headers


def _rep(port: int, number: int, record: Recorder, stop: threading.Event) -> None:
    from crm.testing.stack import WebClient

    client = WebClient(port)
    client.sign_in(f"rep{number}", "demo1234")
    _, text, _ = client.get("/api/deals/?open=true&page_size=200", Accept="application/json")
    open_deals = [deal["id"] for deal in json.loads(text)["results"]]
    random.shuffle(open_deals)
    pages = ["/", "/deals/", "/customers/", "/activities/", "/tasks/", "/goals/plan/"]
    reads = ["/api/deals/?open=true", "/api/activities/", "/api/goals/"]
    while not stop.is_set():
        record.call("pages", client.get, random.choice(pages))
        record.call("api", client.get, random.choice(reads), Accept="application/json")
        if open_deals and random.random() < 0.1:
            deal = open_deals.pop()
            record.call("wins", client.post_json, f"/api/deals/{deal}/close/", {"outcome": "won"})
        stop.wait(random.uniform(0.2, 0.6))


def _supervisor(port: int, number: int, day: str, record: Recorder, stop: threading.Event) -> None:
    from crm.testing.stack import WebClient

    client = WebClient(port)
    client.sign_in(f"supervisor{number}", "demo1234")
    _, text, _ = client.get("/api/routes/?page_size=200", Accept="application/json")
    routes = [route["id"] for route in json.loads(text)["results"]]
    days = {}
    for route in routes:
        _, text, _ = client.get(f"/api/supervision/days/{route}/{day}/")
        found = json.loads(text)
        if not found.get("read_only"):
            days[route] = found
    while days and not stop.is_set():
        route = random.choice(list(days))
        lines = [
            {"customer": line["customer"], "visited": True,
             "actual_quantity": random.randint(0, 50)}
            for line in days[route]["lines"]
        ]  # fmt: skip
        body = {"record_version": days[route]["record_version"], "lines": lines,
                "client_token": str(uuid.uuid4())}  # fmt: skip
        status, text, _ = record.call(
            "supervision", client.post_json, f"/api/supervision/days/{route}/{day}/lines/", body,
            method="PATCH", expected=(200, 409),
        )  # fmt: skip
        if status in (200, 409):
            answer = json.loads(text)
            days[route] = {**days[route], "record_version": answer["record_version"]}
        stop.wait(random.uniform(0.5, 1.5))


def _ingestion(port: int, key: str, record: Recorder, stop: threading.Event) -> None:
    from crm.testing.stack import WebClient

    client = WebClient(port)
    started, sent = time.monotonic(), 0
    headers = {"Content-Type": "application/json", "User-Agent": "soak/1.0"}
    while not stop.is_set():
        batch = [
            {"uuid": f"soak-{sent + n}", "evt_type": "page_view", "session_id": f"s{n % 50}",
             "url": f"https://shop.example.com/p/{n}"}
            for n in range(EVENTS_PER_BATCH)
        ]  # fmt: skip
        body = json.dumps({"batch": batch}).encode()
        status, text, _ = record.call(
            "ingestion", client.request, "POST", f"/t/batch?key={key}", body=body, headers=headers
        )
        if status == 200:
            with record.lock:
                record.accepted += json.loads(text)["accepted"]
        sent += EVENTS_PER_BATCH
        # Paced by the clock: behind, it sends at once; ahead, it waits.
        stop.wait(max(0.0, started + (sent / EVENTS_PER_SECOND) - time.monotonic()))


def _memory(processes) -> dict[str, float]:
    from crm.testing.stack import resident_mb

    found = {}
    for process in processes:
        for role, pid in [("master", process.pid)] + [("child", c) for c in process.children()]:
            mb = resident_mb(pid)
            if mb is not None:
                found[f"{process.name}:{role}:{pid}"] = mb
    return found


def measure_soak(ctx: Context) -> Outcome:
    from crm.testing.stack import Stack, wait_until

    seconds = soak_seconds()
    work_dir = Path(tempfile.mkdtemp(prefix="crm-soak-"))
    with Stack(work_dir) as stack:
        stack.start(schema_from=ctx.database_url)
        _seed(stack)
        key = _sql(stack, "SELECT ingestion_key FROM tracking_trackingtenant "
                          "WHERE identifier = 'demo-shop'")[0][0]  # fmt: skip
        web = stack.gunicorn(workers=2)
        workers = [stack.celery_worker(f"worker{n}", concurrency=2) for n in (1, 2)]
        stack.celery_beat()
        day = _today()
        record, stop = Recorder(), threading.Event()
        threads = [threading.Thread(target=_rep, args=(web.port, n, record, stop))
                   for n in range(1, REPS + 1)]  # fmt: skip
        threads += [threading.Thread(target=_supervisor, args=(web.port, n, day, record, stop))
                    for n in range(1, SUPERVISORS + 1)]  # fmt: skip
        threads.append(threading.Thread(target=_ingestion, args=(web.port, key, record, stop)))
        began = time.monotonic()
        for thread in threads:
            thread.start()
        incidents, memory_start = [], None
        plan = [(max(20, seconds // 10), "warmed up"), (seconds / 3, "kill"),
                (2 * seconds / 3, "redis")]  # fmt: skip
        started_workers, numbers = len(workers), itertools.count(len(workers) + 1)
        while (moment := time.monotonic() - began) < seconds:
            if plan and moment >= plan[0][0]:
                _, what = plan.pop(0)
                if what == "warmed up":
                    memory_start = _memory([web, *workers])
                elif what == "kill":
                    victim = workers.pop(0)
                    victim.kill()
                    incidents.append(f"{moment:.0f} s: {victim.name} killed")
                else:
                    stack.redis.stop()
                    time.sleep(3)
                    stack.redis.start()
                    incidents.append(f"{moment:.0f} s: Redis restarted (3 s)")
            # A worker that is gone is started again, as the process supervisor does in
            # production (compose's restart policy); a crash is reported as an incident.
            for gone in [worker for worker in workers if not worker.alive()]:
                workers.remove(gone)
                incidents.append(
                    f"{moment:.0f} s: {gone.name} exited by itself ({gone.popen.returncode})"
                )
            while len(workers) < started_workers:
                workers.append(stack.celery_worker(f"worker{next(numbers)}", concurrency=2))
            time.sleep(0.5)
        memory_end = _memory([web, *workers])
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        elapsed = time.monotonic() - began

        stale_before = _stale_goals(stack)
        app = stack.celery_app()
        try:
            # The fallback jobs, as beat sends them at their next tick.
            def drained() -> bool:
                app.send_task(RUN_JOB, args=["process_tracking_events"]).get(timeout=300)
                return not _sql(stack, "SELECT 1 FROM tracking_rawevent WHERE status = 0")

            wait_until(drained, timeout=600, interval=1, what="tracking drained")
            app.send_task(RUN_JOB, args=["recalculate_goals"]).get(timeout=300)
        finally:
            app.close()
        stale_after = _stale_goals(stack)
        soak_rows = "SELECT id FROM tracking_rawevent WHERE event_id LIKE 'soak-%'"
        stored = _sql(stack, f"SELECT count(*) FROM ({soak_rows}) AS soak")[0][0]
        processed = _sql(stack, "SELECT count(*) FROM tracking_trackedevent "
                                f"WHERE raw_event_id IN ({soak_rows})")[0][0]  # fmt: skip

    shutil.rmtree(work_dir, ignore_errors=True)  # kept, with the logs, when something raised
    return _soak_outcome(
        record, elapsed=elapsed, incidents=incidents, stored=stored, processed=processed,
        stale_before=stale_before, stale_after=stale_after, memory_start=memory_start or {},
        memory_end=memory_end,
    )  # fmt: skip


def _soak_outcome(record: Recorder, *, elapsed, incidents, stored, processed, stale_before,
                  stale_after, memory_start, memory_end) -> Outcome:  # fmt: skip
    total = sum(len(d) for d in record.durations.values())
    errors = sum(record.errors.values())
    error_rate = 100 * errors / total if total else 100.0
    groups = {
        group: {
            "requests": len(durations),
            "errors": record.errors[group],
            "p95_ms": round(percentile(durations, 95) * 1000, 1),
            "p50_ms": round(percentile(durations, 50) * 1000, 1),
            "error_samples": record.samples[group],
        }
        for group, durations in sorted(record.durations.items())
    }
    memory = {
        name: {"start_mb": memory_start.get(name), "end_mb": mb} for name, mb in memory_end.items()
    }
    too_big = [
        name for name, mb in memory_end.items()
        if mb > (WEB_MB if name.startswith("web:child") else CELERY_MB)
        and not name.startswith("web:master")
    ]  # fmt: skip
    grew = [
        name for name, figures in memory.items()
        if figures["start_mb"] and figures["end_mb"] > figures["start_mb"] * (1 + MAX_GROWTH / 100)
    ]  # fmt: skip
    met = (
        error_rate < MAX_ERROR_RATE
        and record.accepted == stored == processed
        and stale_after == 0
        and not too_big
        and not grew
    )
    metrics = {
        "seconds": round(elapsed),
        "requests": total,
        "errors": errors,
        "error_rate_percent": round(error_rate, 3),
        "groups": groups,
        "incidents": incidents,
        "events_accepted": record.accepted,
        "events_stored": stored,
        "events_processed": processed,
        "events_per_second": round(record.accepted / elapsed, 1) if elapsed else 0,
        "goals_stale_before_fallback": stale_before,
        "goals_differing_from_fresh_recalculation": stale_after,
        "memory_mb": memory,
        "memory_over_limit": too_big,
        "memory_grew_over_10_percent": grew,
    }
    p95 = ", ".join(f"{group} {figures['p95_ms']:.0f}" for group, figures in groups.items())
    web_mb = [f["end_mb"] for n, f in memory.items() if n.startswith("web:child")]
    celery_mb = [f["end_mb"] for n, f in memory.items() if n.startswith("worker")]
    summary = (
        f"soak: {round(elapsed)} s, {total} requests, errors {error_rate:.2f} % (< "
        f"{MAX_ERROR_RATE} %); p95 ms {p95}; events accepted {record.accepted} = stored "
        f"{stored} = processed {processed} ({metrics['events_per_second']:.0f}/s of "
        f"{EVENTS_PER_SECOND:,} asked); goals "
        f"off a fresh recalculation {stale_after} (before the fallback job {stale_before}); "
        f"RSS web workers ≤ {max(web_mb, default=0):.0f} MB, Celery ≤ "
        f"{max(celery_mb, default=0):.0f} MB, grew > {MAX_GROWTH} %: {len(grew)}; "
        f"{'; '.join(incidents)}{'' if met else '  MISSED'}"
    )
    return Outcome(metrics=metrics, summary=summary, targets_met=met)


def _seed(stack) -> None:
    import subprocess

    subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--allow-demo-logins", "--seed", "1",
         "--months", "2"],
        cwd=Path(__file__).resolve().parent.parent.parent, env=stack.environment(),
        check=True, capture_output=True,
    )  # fmt: skip


def _sql(stack, statement: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(stack.database_url, autocommit=True) as db:
        return db.execute(statement).fetchall()


def _today() -> str:
    from supervision.selectors import today

    return today().isoformat()


def _stale_goals(stack) -> int:
    """Goals whose value differs from a fresh recalculation from CRM data (this process's
    ORM on the soak's database, for the count)."""
    from django.db.models import F

    from crm.testing.database import database_elsewhere
    from goals import selectors
    from goals.models import Goal

    with database_elsewhere(
        HOST="127.0.0.1", PORT=str(stack.postgres.port), NAME=stack.database, USER="postgres",
        PASSWORD="",
    ):  # fmt: skip
        return (
            selectors.calculable(Goal.objects.all())
            .annotate(fresh=selectors.fresh_value())
            .exclude(current_value=F("fresh"))
            .count()
        )


SCENARIOS = [
    Scenario(
        name="cold_start",
        description="Seconds from starting a gunicorn worker to its first answer, and from "
        "starting a Celery worker to the end of its first task",
        prepare=prepare_nothing,
        measure=measure_cold_start,
        default_requests=COLD_STARTS,
    ),
    Scenario(
        name="soak",
        description="Mixed traffic with a worker killed and Redis restarted: errors, p95 per "
        "group, events accepted vs stored, goals vs a fresh recalculation, memory",
        prepare=prepare_nothing,
        measure=measure_soak,
        default_requests=1,  # one soak; its length is --soak-seconds
    ),
]

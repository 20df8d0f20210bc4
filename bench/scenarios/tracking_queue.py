"""tracking_queue: POST /t/batch (100 events a request) sustained for 60 s with the queue in front
of the raw table (TRACKING_QUEUE=redis) and drainers running beside it, against the direct path
in the same run (the same gunicorn, wrk and tenant settings; the queue's run on a tenant of its
own). The stream's length is sampled every half second while wrk runs: the drainers keep up
when it stays bounded and the stream is empty within seconds of the end. Then every
acknowledged event must be in the raw table, once.

    bench/run.py --only tracking_queue              # 60 s each
    bench/run.py --only tracking_queue --requests 10  # 10 s each, while developing
"""

import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from bench.harness import ROOT, Context, HttpError, Outcome, Scenario, ratio
from bench.scenarios import tracking

TARGET_RATIO = 1.5
DRAINERS = int(os.environ.get("BENCH_QUEUE_DRAINERS", "1"))
# The drainers keep up when the stream is empty this long after the load stops.
CATCH_UP_SECONDS = 30

# wrk's script, counting 202 (queued) answers as acknowledged too.
WRK_SCRIPT = tracking.WRK_SCRIPT.replace("if status == 200 then", "if status < 300 then")


def prepare(ctx: Context) -> None:
    if "tracking_queue" in ctx.data:
        return
    from crm.roles import SystemActor
    from tracking import services

    fast = {"rate_per_minute": 100_000_000, "ip_handling": "store"}
    made = {
        name: services.tenant_create(
            actor=SystemActor("bench"), name=f"Bench {name}", identifier=f"bench-{name}", **fast
        )
        for name in ("queue-direct", "queued")
    }
    ctx.data["tracking_queue"] = {name: (t.pk, t.ingestion_key) for name, t in made.items()}


def _stream_length(url: str) -> int:
    import redis

    from tracking import queue

    client = redis.Redis.from_url(url)
    try:
        return client.xlen(queue.STREAM)
    finally:
        client.close()


def _run(ctx: Context, tenant: str, seconds: int, env: dict[str, str]) -> dict:
    """wrk against a gunicorn with `env`; in queue mode with drainers running and the stream
    sampled, then drained to the end."""
    from bench.servers import gunicorn
    from crm.testing.servers import free_port

    tenant_id, key = ctx.data["tracking_queue"][tenant]
    queued = env.get("TRACKING_QUEUE") == "redis"
    port = free_port()
    drainers, samples, stop = [], [], threading.Event()
    queue_url = os.environ["REDIS_URL"]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        server = gunicorn(
            {**os.environ, **env}, port, folder / "gunicorn.log",
            wsgi_app="bench.tracking_reference:application", workers=tracking.WORKERS,
        )  # fmt: skip
        with server:
            url = f"http://127.0.0.1:{port}/t/batch?key={key}"
            if queued:
                for n in range(DRAINERS):
                    drainers.append(_drainer({**os.environ, **env}, folder / f"drainer{n}.log"))
                sampler = threading.Thread(
                    target=_sample, args=(queue_url, samples, stop), daemon=True
                )
                sampler.start()
            try:
                _wrk(url, 3)
                tracking._settle()
                if queued:  # the warm-up's events stored before counting
                    _wait_empty(queue_url, CATCH_UP_SECONDS)
                    time.sleep(1)
                before = tracking._stored(tenant_id)
                cpu_before = _cpu_seconds()
                started = time.monotonic()
                result = _wrk(url, seconds)
                ended = time.monotonic()
                tracking._settle()
                caught_up = None
                if queued:
                    if _wait_empty(queue_url, CATCH_UP_SECONDS):
                        caught_up = round(time.monotonic() - ended, 1)
                    time.sleep(1)  # the last batch's commit
                # Until every event is stored: the drainers' share of the run in full.
                result["cpu_us_per_event"] = _cpu_per_event(
                    cpu_before, _cpu_seconds(), result["accepted"]
                )
            finally:
                stop.set()
                for drainer in drainers:
                    drainer.terminate()
                for drainer in drainers:
                    try:
                        drainer.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        drainer.kill()
                        drainer.wait()
    result["events_per_second"] = round(result["accepted"] / result["seconds"], 1)
    result["stored"] = tracking._stored(tenant_id) - before
    if queued:
        during = [length for moment, length in samples if started <= moment <= ended]
        result["backlog_max"] = max(during, default=0)
        result["backlog_end"] = during[-1] if during else 0
        result["caught_up_seconds"] = caught_up
    return result


# Where the CPU goes while wrk runs (from /proc; wrk's own from this process's children):
# on one machine the two modes share its cores, so the sum says how far either can go.
# A process is matched by its command line (wrk as this process's child).
_KINDS = (("drain_tracking_queue", "drainer"), ("gunicorn", "gunicorn"),
          ("redis-server", "redis"), ("postgres", "postgres"))  # fmt: skip


def _cpu_seconds() -> Counter:
    ticks = os.sysconf("SC_CLK_TCK")
    totals: Counter = Counter()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):  # gone meanwhile
            continue
        kind = next((kind for mark, kind in _KINDS if mark in command), None)
        if kind:
            # utime, stime, and those of its children it has reaped: gunicorn's workers
            # recycled (max_requests), PostgreSQL's backends gone.
            fields = stat[stat.rindex(")") + 2 :].split()
            totals[kind] += sum(int(value) for value in fields[11:15]) / ticks
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals["wrk"] = children.ru_utime + children.ru_stime
    return totals


def _cpu_per_event(before: Counter, after: Counter, events: int) -> dict[str, float]:
    """CPU microseconds an acknowledged event, by kind of process."""
    return {
        kind: round((after[kind] - before[kind]) * 1e6 / max(events, 1), 1)
        for kind in ("gunicorn", "wrk", "redis", "drainer", "postgres")
    }


def _wait_empty(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _stream_length(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _stream_length(url)


def _sample(url: str, samples: list, stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):  # a sample missed is not a failure of the run
            samples.append((time.monotonic(), _stream_length(url)))
        stop.wait(0.5)


def _drainer(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_job", "drain_tracking_queue"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _wrk(url: str, seconds: int) -> dict:
    return tracking.wrk(url, tracking._batch_body(), seconds=seconds, lua=WRK_SCRIPT)


def _pair(ctx: Context, seconds: int) -> dict:
    direct = _run(ctx, "queue-direct", seconds, {"TRACKING_QUEUE": ""})
    queued = _run(
        ctx, "queued", seconds,
        {"TRACKING_QUEUE": "redis", "TRACKING_QUEUE_DRAIN_SECONDS": str(seconds + 60),
         "TRACKING_QUEUE_MAX_BACKLOG": "1000000"},
    )  # fmt: skip
    if not direct["accepted"] or not queued["accepted"]:
        raise HttpError(f"nothing acknowledged: direct {direct}, queued {queued}")
    share = ratio(queued["events_per_second"], direct["events_per_second"])
    lossless = all(tracking._lossless(run, run["stored"]) for run in (direct, queued))
    kept_up = queued["caught_up_seconds"] is not None
    # What the drainers stored a second, from the load's start until the stream was empty: the
    # rate the queue sustains (what it answered a second can be more, for a while).
    queued["stored_per_second"] = round(
        queued["stored"] / (queued["seconds"] + (queued["caught_up_seconds"] or CATCH_UP_SECONDS)),
        1,
    )
    line = (
        f"queued {queued['events_per_second']:,.0f} events/s (p99 {queued['p99_ms']} ms; stored "
        f"{queued['stored_per_second']:,.0f} events/s until the stream was empty), "
        f"direct {direct['events_per_second']:,.0f} events/s (p99 {direct['p99_ms']} ms): "
        f"{share:.2f}x; backlog max {queued['backlog_max']:,} requests, "
        f"{queued['backlog_end']:,} at the end, empty {queued['caught_up_seconds']} s after; "
        f"acknowledged {queued['accepted']:,}, stored {queued['stored']:,}: "
        f"{'no loss' if lossless else 'LOSS'}; CPU µs an event, direct {_cpu_line(direct)}, "
        f"queued {_cpu_line(queued)}"
    )
    return {"direct": direct, "queued": queued, "ratio": share, "lossless": lossless,
            "kept_up": kept_up, "line": line}  # fmt: skip


def measure(ctx: Context) -> Outcome:
    seconds = ctx.requests or 60
    shared = _pair(ctx, seconds)
    met = shared["ratio"] >= TARGET_RATIO and shared["lossless"] and shared["kept_up"]
    summary = (
        f"tracking_queue ({tracking.BATCH_SIZE} events a request, {seconds}s, {DRAINERS} "
        f"drainer(s)): {shared['line']} | target >= {TARGET_RATIO}x with the drainers keeping "
        f"up: {'OK' if met else 'MISSED'}"
    )
    metrics = {"shared": shared, "drainers": DRAINERS}
    if POSTGRES_CORES:
        # The same pair with PostgreSQL held to a share of the cores (a busy primary, or one
        # on a smaller host): what the queue buys where PostgreSQL is the limit.
        with _postgres_held(ctx, POSTGRES_CORES):
            limited = _pair(ctx, seconds)
        metrics["postgres_limited"] = {**limited, "postgres_cores": POSTGRES_CORES}
        summary += f"; PostgreSQL held to {POSTGRES_CORES} core(s): {limited['line']}"
    return Outcome(metrics=metrics, summary=summary, targets_met=met)


# BENCH_QUEUE_POSTGRES_CORES=0.5 runs the pair again with PostgreSQL's processes in a cgroup
# (v1 cpu controller, as root) whose quota is that many cores.
POSTGRES_CORES = float(os.environ.get("BENCH_QUEUE_POSTGRES_CORES", "0") or 0)
_CGROUP = Path("/sys/fs/cgroup/cpu")


@contextlib.contextmanager
def _postgres_held(ctx: Context, cores: float):
    if os.geteuid() != 0 or not (_CGROUP / "cgroup.procs").exists():
        raise HttpError("BENCH_QUEUE_POSTGRES_CORES needs root and the cgroup v1 cpu controller")
    group = _CGROUP / "crm-bench-postgres"
    group.mkdir(exist_ok=True)
    (group / "cpu.cfs_period_us").write_text("100000")
    (group / "cpu.cfs_quota_us").write_text(str(int(cores * 100_000)))
    port = str(urllib.parse.urlsplit(ctx.database_url).port)
    for pid in _postgres_pids(port):  # the server and its backends; new ones are born inside
        with contextlib.suppress(OSError):
            (group / "cgroup.procs").write_text(pid)
    try:
        yield
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (_CGROUP / "cgroup.procs").write_text(pid)
        group.rmdir()


def _postgres_pids(port: str) -> list[str]:
    server, parents = None, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            command = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        flags = command[command.index(b"-p") + 1 :] if b"-p" in command else []
        if command[0].endswith(b"/postgres") and flags[:1] == [port.encode()]:
            server = entry.name
        parents[entry.name] = stat[stat.rindex(")") + 2 :].split()[1]
    if server is None:
        raise HttpError(f"no PostgreSQL server on port {port} among the processes")
    return [server, *(pid for pid, parent in parents.items() if parent == server)]


def _cpu_line(run: dict) -> str:
    spent = {kind: us for kind, us in run["cpu_us_per_event"].items() if us >= 0.05}
    parts = ", ".join(f"{kind} {us:.1f}" for kind, us in spent.items())
    return f"{sum(spent.values()):.1f} ({parts})"


SCENARIOS = [
    Scenario("tracking_queue", "POST /t/batch queued in Redis, drained, against direct.",
             prepare, measure, 60, needs=tracking.WRK),
]  # fmt: skip

"""GET /health/ (database, cache, broker and heartbeat checks) against GET /health/live, the
floor of any Django request through gunicorn."""

import json

from bench.harness import Context, HttpError, Outcome, Scenario, ratio, summarize

TARGET_P50_MS = 20.0
WARM_UP = 20


def prepare(ctx: Context) -> None:
    """Nothing to load: the heartbeats are recorded just before measuring (they go stale)."""


def _record_heartbeats() -> None:
    from crm.jobs.services import heartbeat_record

    for component in ("worker", "beat"):
        heartbeat_record(component=component)


def _queries_per_request() -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = Client(HTTP_HOST="127.0.0.1").get("/health/")
    if response.status_code != 200:
        raise HttpError(f"/health/ in-process: {response.status_code}: {response.content[:300]!r}")
    return len(queries)


def _check_healthy(body: bytes) -> None:
    answer = json.loads(body)
    if answer.get("status") != "healthy":
        raise HttpError(f"/health/ is not healthy: {answer}")


def measure(ctx: Context) -> Outcome:
    _record_heartbeats()
    queries = _queries_per_request()
    client = ctx.client()
    client.timed_gets(["/health/", "/health/live"] * WARM_UP)
    _, bodies = client.timed_gets(["/health/"])
    _check_healthy(bodies[0])

    # Interleaved, so that drift on the machine affects both series alike.
    ours, reference = [], []
    for _ in range(ctx.count(SCENARIO.default_requests)):
        durations, bodies = client.timed_gets(["/health/"])
        ours += durations
        reference += client.timed_gets(["/health/live"])[0]
    _check_healthy(bodies[-1])
    client.close()

    ours_stats, reference_stats = summarize(ours), summarize(reference)
    times = ratio(ours_stats["p50_ms"], reference_stats["p50_ms"])
    met = ours_stats["p50_ms"] <= TARGET_P50_MS
    summary = (
        f"health: /health/ p50 {ours_stats['p50_ms']:.2f} ms p95 {ours_stats['p95_ms']:.2f} ms, "
        f"{queries} queries | reference /health/live p50 {reference_stats['p50_ms']:.2f} ms "
        f"p95 {reference_stats['p95_ms']:.2f} ms | ratio {times}x | "
        f"target p50 <= {TARGET_P50_MS:g} ms: {'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={
            "requests": len(ours),
            "connections_opened": client.connections_opened,
            "queries_per_request": queries,
            "ours": {"path": "/health/", **ours_stats},
            "reference": {"path": "/health/live", **reference_stats},
            "ratio_p50": times,
            "targets": {"p50_ms": TARGET_P50_MS},
        },
        summary=summary,
        targets_met=met,
    )


SCENARIO = Scenario(
    name="health",
    description=__doc__.strip(),
    prepare=prepare,
    measure=measure,
    default_requests=500,
)

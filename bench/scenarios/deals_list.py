"""GET /api/deals/?page=N over 100,000 deals, as an admin (everything) and as a rep (their own),
against hand-written SQL doing the same work (the COUNT plus the page SELECT with the same joins
and order) through psycopg."""

import json
import math
import random
import time
from collections.abc import Callable

from bench.harness import Context, HttpError, Outcome, Scenario, ratio, summarize

TOTAL_DEALS = 100_000
DEMO_REPS = 50  # in teams of six, from seed_demo
PAGE_SIZE = 50
TARGET_P50_MS = 60.0
TARGET_QUERIES = 6
WARM_UP = 20
BENCH_REP = "rep1"

# Deals beyond what seed_demo makes, spread over every rep and their own customers, over the
# last year: one INSERT ... SELECT, seeded so that every run loads the same rows.
TOP_UP_SQL = """
WITH reps AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx FROM crm_salesrep
), rep_count AS (
    SELECT count(*) AS n FROM reps
), customers AS (
    SELECT id, owner_id,
           row_number() OVER (PARTITION BY owner_id ORDER BY id) - 1 AS idx,
           count(*) OVER (PARTITION BY owner_id) AS n
    FROM crm_customer WHERE owner_id IS NOT NULL
), new_rows AS (
    SELECT g AS n, now() - random() * interval '365 days' AS created_at, random() AS draw
    FROM generate_series(1, %(missing)s) AS g
)
INSERT INTO crm_deal (created_at, updated_at, customer_id, rep_id, title, amount, stage, closed_at)
SELECT new_rows.created_at,
       new_rows.created_at,
       customers.id,
       reps.id,
       'Bench deal ' || new_rows.n,
       round((50 + random() * random() * 20000)::numeric, 2),
       CASE WHEN draw < 0.30 THEN 'closed_won' WHEN draw < 0.75 THEN 'closed_lost'
            WHEN draw < 0.87 THEN 'prospecting' WHEN draw < 0.95 THEN 'qualified'
            ELSE 'proposal' END,
       CASE WHEN draw < 0.75
            THEN least(now(), new_rows.created_at + random() * interval '20 days') END
FROM new_rows
CROSS JOIN rep_count
JOIN reps ON reps.idx = new_rows.n %% rep_count.n
JOIN customers ON customers.owner_id = reps.id
              AND customers.idx = (new_rows.n / rep_count.n) %% customers.n
"""

# The reference: what the endpoint needs, written by hand. The serializer shows the deal, its
# customer's code and name, and the rep's code and full name.
_PAGE_COLUMNS = """
    d.id, d.title, d.amount, d.stage, d.closed_at, d.created_at, d.updated_at,
    c.id, c.code, c.name, s.id, s.employee_code, u.username, u.first_name, u.last_name
"""
_JOINS = """
    JOIN crm_customer c ON c.id = d.customer_id
    JOIN crm_salesrep s ON s.id = d.rep_id
    JOIN auth_user u ON u.id = s.user_id
"""
_ORDER = "ORDER BY d.created_at DESC, d.id DESC"
_PAGE = "LIMIT 50 OFFSET %s"
_REP_COUNT = (
    "SELECT count(*) FROM crm_deal d JOIN crm_salesrep s ON s.id = d.rep_id WHERE s.user_id = %s"
)
REFERENCE_SQL = {
    "admin": (
        "SELECT count(*) FROM crm_deal d",
        f"SELECT {_PAGE_COLUMNS} FROM crm_deal d {_JOINS} {_ORDER} {_PAGE}",
    ),
    "rep": (
        _REP_COUNT,
        f"SELECT {_PAGE_COLUMNS} FROM crm_deal d {_JOINS} WHERE s.user_id = %s {_ORDER} {_PAGE}",
    ),
}
# Not a target, a hint: the same page found by id first ("deferred join"), so that OFFSET steps
# over index entries instead of joined rows. Measured to show what the endpoint could reach.
DEFERRED_JOIN_SQL = {
    "admin": (
        REFERENCE_SQL["admin"][0],
        f"SELECT {_PAGE_COLUMNS} FROM crm_deal d {_JOINS} WHERE d.id IN ("
        f"SELECT d.id FROM crm_deal d {_ORDER} {_PAGE}) {_ORDER}",
    ),
    "rep": (
        _REP_COUNT,
        f"SELECT {_PAGE_COLUMNS} FROM crm_deal d {_JOINS} WHERE d.id IN ("
        f"SELECT d.id FROM crm_deal d JOIN crm_salesrep s ON s.id = d.rep_id "
        f"WHERE s.user_id = %s {_ORDER} {_PAGE}) {_ORDER}",
    ),
}


# --- Data -------------------------------------------------------------------------------------


def prepare(ctx: Context) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from crm.models import Deal

    started = time.perf_counter()
    call_command("seed_demo", reps=DEMO_REPS, months=12, verbosity=0, allow_demo_logins=True)
    missing = TOTAL_DEALS - Deal.objects.count()
    with connection.cursor() as cursor:
        # The throwaway server commits asynchronously, and then VACUUM leaves freshly loaded
        # pages unmarked (hint bits wait for the WAL flush): load and vacuum with synchronous
        # commits, to reach the steady state autovacuum would: statistics, and a visibility map
        # that lets index-only scans skip the table.
        cursor.execute("SET synchronous_commit TO on")
        if missing > 0:
            cursor.execute("SELECT setseed(0.42)")
            cursor.execute(TOP_UP_SQL, {"missing": missing})
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("RESET synchronous_commit")
        cursor.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'crm_deal'")
        pages, all_visible = cursor.fetchone()
    admin = User.objects.get(username="admin")
    rep_user = User.objects.get(username=BENCH_REP)
    ctx.data["deals_list"] = {
        "admin_token": Token.objects.get_or_create(user=admin)[0].key,
        "rep_token": Token.objects.get_or_create(user=rep_user)[0].key,
        "rep_user_id": rep_user.pk,
        "total": Deal.objects.count(),
        "rep_total": Deal.objects.filter(rep__user=rep_user).count(),
        "load_seconds": round(time.perf_counter() - started, 1),
        "deal_table_pages": pages,
        "deal_table_pages_all_visible": all_visible,
    }


# --- Measurement ------------------------------------------------------------------------------


def page_schedule(requests: int, total: int, *, seed: int = 2024) -> list[int]:
    """Every fourth request asks for the first page; the others for pages across the range."""
    last_page = max(1, math.ceil(total / PAGE_SIZE))
    rng = random.Random(seed)
    return [1 if index % 4 == 0 else rng.randint(1, last_page) for index in range(requests)]


def _queries(token: str, pages: list[int]) -> dict[str, int]:
    """SQL queries per request, counted in-process on the same code gunicorn runs."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    counts = {}
    for page in pages:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/deals/?page={page}")
        if response.status_code != 200:
            raise HttpError(f"/api/deals/?page={page}: {response.status_code}")
        counts[f"page_{page}"] = len(queries)
    return counts


def _sql_request(cursor, queries: tuple[str, str], params: tuple) -> Callable[[int], float]:
    """What the endpoint's database work costs when written by hand: COUNT, then the page."""
    count_sql, page_sql = queries

    def timed(page: int) -> float:
        started = time.perf_counter()
        cursor.execute(count_sql, params)
        cursor.fetchone()
        cursor.execute(page_sql, (*params, (page - 1) * PAGE_SIZE))
        rows = cursor.fetchall()
        elapsed = time.perf_counter() - started
        if not rows:
            raise RuntimeError(f"reference SQL: page {page} is empty")
        return elapsed

    return timed


def _measure(
    ctx: Context, view: str, token: str, pages: list[int], params: tuple
) -> tuple[dict[str, list[float]], int]:
    """The API, the reference SQL and the deferred-join SQL, interleaved page by page so that
    drift on the machine affects the three series alike."""
    import psycopg

    client = ctx.client({"Authorization": f"Token {token}"})
    # No server-side prepared statements: like Django, plan each query with its values.
    with psycopg.connect(ctx.database_url, autocommit=True, prepare_threshold=None) as sql:
        cursor = sql.cursor()
        series = {
            "ours": lambda page: client.timed_gets([f"/api/deals/?page={page}"])[0][0],
            "reference": _sql_request(cursor, REFERENCE_SQL[view], params),
            "deferred_join_sql": _sql_request(cursor, DEFERRED_JOIN_SQL[view], params),
        }
        for page in pages[:WARM_UP]:
            for timed in series.values():
                timed(page)
        durations = {name: [] for name in series}
        for page in pages:
            for name, timed in series.items():
                durations[name].append(timed(page))
    _, bodies = client.timed_gets([f"/api/deals/?page={pages[0]}"])
    answered = len(json.loads(bodies[0])["results"])
    if answered != min(PAGE_SIZE, ctx.data["deals_list"]["total"]):
        raise HttpError(f"/api/deals/?page={pages[0]} answered {answered} deals")
    client.close()
    return durations, client.connections_opened


def _split(durations: list[float], pages: list[int], last_page: int) -> dict[str, float]:
    first = [d for d, p in zip(durations, pages, strict=True) if p == 1]
    deep = [d for d, p in zip(durations, pages, strict=True) if p > last_page / 2]
    return {
        "first_page_p50_ms": summarize(first)["p50_ms"] if first else None,
        "deep_pages_p50_ms": summarize(deep)["p50_ms"] if deep else None,
    }


def _view(ctx: Context, view: str, token: str, total: int, params: tuple) -> dict:
    pages = page_schedule(ctx.count(SCENARIO.default_requests), total)
    last_page = math.ceil(total / PAGE_SIZE)
    queries = _queries(token, [1, last_page])
    durations, connections = _measure(ctx, view, token, pages, params)
    stats = {
        name: {**summarize(series), **_split(series, pages, last_page)}
        for name, series in durations.items()
    }
    return {
        "deals_visible": total,
        "pages": last_page,
        "connections_opened": connections,
        "queries_per_request": queries,
        **stats,
        "ratio_p50": ratio(stats["ours"]["p50_ms"], stats["reference"]["p50_ms"]),
    }


def measure(ctx: Context) -> Outcome:
    data = ctx.data["deals_list"]
    views = {
        "admin": _view(ctx, "admin", data["admin_token"], data["total"], ()),
        "rep": _view(ctx, "rep", data["rep_token"], data["rep_total"], (data["rep_user_id"],)),
    }
    met = all(
        view["ours"]["p50_ms"] <= TARGET_P50_MS
        and max(view["queries_per_request"].values()) <= TARGET_QUERIES
        for view in views.values()
    )
    parts = [
        f"{name} p50 {v['ours']['p50_ms']:.1f} ms p95 {v['ours']['p95_ms']:.1f} ms, "
        f"{max(v['queries_per_request'].values())} queries, reference SQL p50 "
        f"{v['reference']['p50_ms']:.1f} ms p95 {v['reference']['p95_ms']:.1f} ms, "
        f"ratio {v['ratio_p50']}x (deferred-join SQL p50 {v['deferred_join_sql']['p50_ms']:.1f} ms)"
        for name, v in views.items()
    ]
    summary = (
        f"deals_list ({data['total']:,} deals): {' | '.join(parts)} | "
        f"target p50 <= {TARGET_P50_MS:g} ms, queries <= {TARGET_QUERIES}: "
        f"{'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={
            "load_seconds": data["load_seconds"],
            "deal_table_pages": data["deal_table_pages"],
            "deal_table_pages_all_visible": data["deal_table_pages_all_visible"],
            "page_size": PAGE_SIZE,
            "views": views,
            "targets": {"p50_ms": TARGET_P50_MS, "queries": TARGET_QUERIES},
        },
        summary=summary,
        targets_met=met,
    )


SCENARIO = Scenario(
    name="deals_list",
    description=" ".join(__doc__.split()),
    prepare=prepare,
    measure=measure,
    default_requests=200,
)

"""Rep plans at scale, on a database of their own (crm_bench_plans): 10,000 active reps in 1,000
teams over four time zones, 200,000 deals, 50,000 customers; this month's plans set for most.

- plans_rollover: a month's plans (and their 30,000 goals) for every active rep, made by the
  hourly job's service, for a month that has none; statements counted.
- plans_snapshot: the daily snapshot of 10,000 plans, against one hand-written INSERT ...
  SELECT making the same rows (checked equal), alternated in the same run.
- plans_compliance: the compliance dashboard's first page and GET /api/goals/monthly/current
  as an administrator, in-process; SQL statements per request."""

import statistics
import time

from bench.harness import (
    Context,
    Outcome,
    Scenario,
    create_database,
    on_database,
    ratio,
    summarize,
    work_statements,
)

DATABASE = "crm_bench_plans"
REPS, TEAM_SIZE = 10_000, 10
DEALS = 200_000
ZONES = ["UTC", "Europe/Madrid", "America/Mexico_City", "Asia/Tokyo"]

TARGET_ROLLOVER_S = 2.0
TARGET_SNAPSHOT_S = 2.0
TARGET_SNAPSHOT_RATIO = 2.0
TARGET_PAGE_MS = 150.0
MAX_QUERIES = 10

LOAD_SQL = [
    f"""INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                               is_staff, is_active, date_joined)
        SELECT '!', false, 'planrep' || g, 'Rep', lpad(g::text, 5, '0'), '', false, true, now()
        FROM generate_series(1, {REPS}) g""",
    """INSERT INTO auth_user_groups (user_id, group_id)
       SELECT u.id, g.id FROM auth_user u, auth_group g
       WHERE u.username LIKE 'planrep%%' AND g.name = 'rep'""",
    f"""INSERT INTO crm_team (created_at, updated_at, name)
        SELECT now(), now(), 'Plan team ' || lpad(g::text, 4, '0')
        FROM generate_series(1, {REPS // TEAM_SIZE}) g""",
    f"""INSERT INTO crm_salesrep (created_at, updated_at, user_id, team_id, employee_code, active,
                                  hire_date, timezone)
        SELECT now(), now(), u.id, t.id, 'PR' || lpad(u.n::text, 5, '0'), true, '2024-01-01',
               (ARRAY{ZONES!r})[1 + (u.n %% {len(ZONES)})]
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM auth_user
              WHERE username LIKE 'planrep%%') u
        JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx FROM crm_team) t
          ON t.idx = (u.n - 1) / {TEAM_SIZE}""",
    # Five customers a rep, a third signed up over the last 60 days.
    """INSERT INTO crm_customer (created_at, updated_at, name, code, address, owner_id, status,
                                 signed_up_at)
       SELECT now(), now(), 'Customer ' || r.id || '-' || g, 'PC' || r.id || '-' || g, '', r.id,
              CASE WHEN d < 0.33 THEN 'active' ELSE 'prospect' END,
              CASE WHEN d < 0.33 THEN now() - d * interval '180 days' END
       FROM crm_salesrep r CROSS JOIN generate_series(1, 5) g
       CROSS JOIN LATERAL (SELECT random() + 0 * g AS d) draw""",
    f"""INSERT INTO crm_deal (created_at, updated_at, customer_id, rep_id, title, amount, stage,
                              closed_at)
        SELECT t, t, c.id, c.owner_id, 'Deal ' || g, round((50 + random() * 3000)::numeric, 2),
               CASE WHEN d < 0.4 THEN 'closed_won' ELSE 'proposal' END,
               CASE WHEN d < 0.4 THEN least(now(), t + random() * interval '10 days') END
        FROM (SELECT g, now() - random() * interval '60 days' AS t, random() AS d,
                     (g %% ({REPS} * 5)) AS k FROM generate_series(1, {DEALS}) g) s
        JOIN (SELECT id, owner_id, row_number() OVER (ORDER BY id) - 1 AS k FROM crm_customer) c
          ON c.k = s.k""",
]


def _load(ctx: Context) -> None:
    """The reps and their records, then this month's plans (four in five set) and goals counted,
    once per run for the plans scenarios."""
    if ctx.data.get("plans_loaded"):
        return
    from django.core.management import call_command
    from django.db import connection

    from crm.roles import SystemActor
    from goals.models import Goal, RepPlan
    from goals.plans import services
    from goals.services import goals_recalculate

    started = time.perf_counter()
    create_database(ctx, DATABASE)
    with on_database(DATABASE):
        call_command("migrate", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(0.24)")
            for statement in LOAD_SQL:
                cursor.execute(statement, [])  # [] so that %% means %
        services.plans_create_current()
        # Four plans in five set, with targets around what the reps do.
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE goals_goal g SET target_value = CASE g.metric
                        WHEN 'signups' THEN 1 + floor(random() * 4)
                        WHEN 'revenue' THEN round((2000 + random() * 8000)::numeric, -2)
                        ELSE 1 + floor(random() * 3) END
                   FROM goals_repplan p WHERE g.plan_id = p.id AND p.month IS NOT NULL
                     AND p.id %% 5 <> 0""",
                [],
            )
            cursor.execute(
                "UPDATE goals_repplan SET goal_set_at = least(deadline, created_at) "
                "WHERE month IS NOT NULL AND id %% 5 <> 0",
                [],
            )
        goals_recalculate(goals=Goal.objects.all(), actor=SystemActor("bench"))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        plans = RepPlan.objects.filter(month__isnull=False).count()
    ctx.data["plans_loaded"] = {
        "load_seconds": round(time.perf_counter() - started, 1),
        "reps": REPS,
        "month_plans": plans,
        "zones": len(ZONES),
    }


# --- Roll-over ------------------------------------------------------------------------------------


def measure_rollover(ctx: Context) -> Outcome:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from goals.models import Goal, RepPlan
    from goals.plans import services

    runs = ctx.count(5)
    durations, statements, created = [], [], 0
    with on_database(DATABASE):
        # A month no plan exists for yet, made and removed again each round.
        year, month = 2099, 1
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                created = services.plans_create(year=year, month=month)
                durations.append(time.perf_counter() - started)
            statements.append(work_statements(queries.captured_queries))
            goals = Goal.objects.filter(plan__year=year, plan__month=month).count()
            Goal.objects.filter(plan__year=year, plan__month=month).delete()
            RepPlan.objects.filter(year=year, month=month).delete()
    best, median = min(durations), statistics.median(durations)
    met = median <= TARGET_ROLLOVER_S and created == REPS
    summary = (
        f"plans_rollover ({REPS:,} active reps in {len(ZONES)} zones): {created:,} plans and "
        f"{goals:,} goals, median {median:.3f} s (best {best:.3f} s) in {statements[0]} "
        f"statements | target <= {TARGET_ROLLOVER_S:g} s: {'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={
            "plans": created,
            "goals": goals,
            "seconds": [round(s, 4) for s in durations],
            "median_seconds": round(median, 4),
            "statements": statements,
            "dataset": ctx.data["plans_loaded"],
            "target_seconds": TARGET_ROLLOVER_S,
        },
        summary=summary,
        targets_met=met,
    )


# --- Daily snapshot -------------------------------------------------------------------------------

# The same rows by hand: each plan of the day's month with its three goals (its revenue goal
# active), the days of its month over in its own zone, and the pace rule of
# goals.plans.selectors.
REFERENCE_SNAPSHOT_SQL = """
    INSERT INTO goals_plansnapshot (plan_id, date, daily, created_at, signups, signup_goal,
        signup_percent, revenue, revenue_goal, revenue_percent, on_pace, pace, bonus_tier,
        bonus_tier_goal, days_remaining)
    SELECT plan_id, %(day)s, true, %(now)s, signups, signup_goal, signup_percent, revenue,
           revenue_goal, revenue_percent, pace IN ('ahead', 'on_track'), pace, bonus_tier,
           bonus_tier_goal, days - over
    FROM (
        SELECT z.*, CASE
                 WHEN progress IS NULL THEN ''
                 WHEN over = 0 THEN 'on_track'
                 WHEN progress >= expected * 1.10 THEN 'ahead'
                 WHEN progress >= expected * 0.90 THEN 'on_track'
                 WHEN progress >= expected * 0.60 THEN 'behind'
                 ELSE 'critical' END AS pace
        FROM (
            SELECT y.*, over * 100.0 / days AS expected,
                   CASE WHEN coalesce(sp, rp) IS NOT NULL THEN
                       (least(coalesce(sp, rp), 100) + least(coalesce(rp, sp), 100)) / 2
                   END AS progress
            FROM (
                SELECT x.*, least(greatest(today - first_day, 0), days) AS over
                FROM (
                    SELECT p.id AS plan_id, s.current_value AS signups,
                           s.target_value AS signup_goal, s.progress_percent AS signup_percent,
                           r.current_value AS revenue, r.target_value AS revenue_goal,
                           r.progress_percent AS revenue_percent,
                           b.current_value::int AS bonus_tier,
                           b.target_value::int AS bonus_tier_goal,
                           r.period_start AS first_day,
                           r.period_end - r.period_start + 1 AS days,
                           (%(now)s::timestamptz AT TIME ZONE r.zone)::date AS today,
                           CASE WHEN s.target_value > 0 THEN s.progress_percent END AS sp,
                           CASE WHEN r.target_value > 0 THEN r.progress_percent END AS rp
                    FROM goals_repplan p
                    JOIN goals_goal s ON s.plan_id = p.id AND s.metric = 'signups'
                    JOIN goals_goal r ON r.plan_id = p.id AND r.metric = 'revenue'
                    JOIN goals_goal b ON b.plan_id = p.id AND b.metric = 'bonus_tier'
                    WHERE p.year = %(year)s AND p.month = %(month)s AND r.status = 'active'
                ) x
            ) y
        ) z
    ) w
    ON CONFLICT DO NOTHING
"""

SNAPSHOT_COLUMNS = (
    "plan_id, signups, signup_goal, signup_percent, revenue, revenue_goal, revenue_percent, "
    "bonus_tier, bonus_tier_goal, days_remaining, on_pace, pace"
)


def measure_snapshot(ctx: Context) -> Outcome:
    from django.db import connection, transaction
    from django.utils import timezone

    from crm import periods
    from goals.models import PlanSnapshot
    from goals.plans import services

    rounds = ctx.count(5)
    ours, reference = [], []
    with on_database(DATABASE):
        now = timezone.now()
        # Today: the plans are this month's. The dataset has no snapshots, so the day's are
        # cleared after each round.
        day = periods.local_date(now, periods.company_zone())
        params = {"day": day, "now": now, "year": day.year, "month": day.month}
        rows = {}
        for index in range(rounds):
            order = ("ours", "reference") if index % 2 == 0 else ("reference", "ours")
            for name in order:
                with transaction.atomic():
                    started = time.perf_counter()
                    if name == "ours":
                        written = services.snapshot_plans(on=day, now=now)
                    else:
                        with connection.cursor() as cursor:
                            cursor.execute(REFERENCE_SNAPSHOT_SQL, params)
                            written = cursor.rowcount
                    (ours if name == "ours" else reference).append(time.perf_counter() - started)
                if index == 0:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            f"SELECT {SNAPSHOT_COLUMNS} FROM goals_plansnapshot WHERE date = %s "
                            "ORDER BY plan_id",
                            [day],
                        )
                        rows[name] = cursor.fetchall()
                PlanSnapshot.objects.filter(date=day).delete()
        again = services.snapshot_plans(on=day, now=now)
        twice = services.snapshot_plans(on=day, now=now)
        PlanSnapshot.objects.filter(date=day).delete()
    same = rows["ours"] == rows["reference"]
    ours_s, reference_s = statistics.median(ours), statistics.median(reference)
    share = ratio(ours_s, reference_s)
    met = ours_s <= TARGET_SNAPSHOT_S and share <= TARGET_SNAPSHOT_RATIO and same and twice == 0
    summary = (
        f"plans_snapshot ({written:,} plans): ours median {ours_s:.3f} s, hand-written "
        f"INSERT ... SELECT {reference_s:.3f} s, ratio {share}x, same rows: "
        f"{'yes' if same else 'NO'}; a second run that day writes {twice} | target <= "
        f"{TARGET_SNAPSHOT_S:g} s and <= {TARGET_SNAPSHOT_RATIO:g}x: {'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={
            "rows": written,
            "first_of_day": again,
            "second_run_same_day": twice,
            "same_rows": same,
            "ours_seconds": [round(s, 4) for s in ours],
            "reference_seconds": [round(s, 4) for s in reference],
            "ratio_median": share,
            "targets": {"seconds": TARGET_SNAPSHOT_S, "ratio": TARGET_SNAPSHOT_RATIO},
        },
        summary=summary,
        targets_met=met,
    )


# --- Compliance page and API ----------------------------------------------------------------------


def measure_compliance(ctx: Context) -> Outcome:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    runs = ctx.count(30)
    results = {}
    with on_database(DATABASE):
        admin = User.objects.filter(username="planbench").first() or User.objects.create(
            username="planbench", is_staff=True, is_superuser=True
        )
        token = Token.objects.get_or_create(user=admin)[0]
        page_client = Client(HTTP_HOST="127.0.0.1")
        page_client.force_login(admin)
        api_client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token.key}")
        for name, client, url in (
            ("page", page_client, "/goals/compliance/"),
            ("api", api_client, "/api/goals/monthly/current"),
        ):
            durations = []
            for index in range(runs + 3):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = client.get(url)
                    elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code}")
                if index >= 3:  # warm-up
                    durations.append(elapsed)
            results[name] = {"latency": summarize(durations), "queries": len(queries)}
    page, api = results["page"], results["api"]
    met = all(
        r["latency"]["p50_ms"] <= TARGET_PAGE_MS and r["queries"] <= MAX_QUERIES
        for r in results.values()
    )
    summary = (
        f"plans_compliance ({REPS:,} reps, admin, first page of 50): page p50 "
        f"{page['latency']['p50_ms']:.0f} ms p95 {page['latency']['p95_ms']:.0f} ms, "
        f"{page['queries']} queries; API p50 {api['latency']['p50_ms']:.0f} ms p95 "
        f"{api['latency']['p95_ms']:.0f} ms, {api['queries']} queries | target p50 <= "
        f"{TARGET_PAGE_MS:g} ms, <= {MAX_QUERIES} queries: {'OK' if met else 'MISSED'}"
    )
    return Outcome(metrics=results, summary=summary, targets_met=met)


def _scenario(name: str, measure, default: int, what: str) -> Scenario:
    return Scenario(
        name=name,
        description=f"{what} {' '.join(__doc__.split()[:30])}...",
        prepare=_load,
        measure=measure,
        default_requests=default,
    )


SCENARIOS = [
    _scenario("plans_rollover", measure_rollover, 5, "A month's plans for every rep."),
    _scenario("plans_snapshot", measure_snapshot, 5, "The daily plan snapshot."),
    _scenario("plans_compliance", measure_compliance, 30, "The compliance page and API."),
]

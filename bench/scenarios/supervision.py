"""Supervision at the size of a long route: a 300-stop route of one supervisor's team, today.

- supervision_save: a write of all 300 lines (PATCH .../lines, so that the day stays
  editable between writes; a save is the same transaction plus the session's status), each
  based on the version the previous one left, through gunicorn; against the same writes by
  hand-written SQL through psycopg (the version claimed, the lines in one UPDATE ... FROM
  VALUES, the summary, the audit row), alternated.
- supervision_page: the day's page (HTML, signed in) for the 300-stop route; SQL statements per
  request counted in-process; against GET /health/live, the floor of a request.
- supervision_concurrency: 50 writes of the same version at once, each from its own
  connection: exactly one 200, 49 409, and the stored lines are the winner's.
- supervision_review_cache: a route review asked again with nothing changed (answered from
  the kept review); against /health/live.
"""

import json
import threading
import time
import uuid

from bench.harness import Context, HttpError, Outcome, Scenario, ratio, summarize

STOPS = 300
CONTENDERS = 50
TARGET_SAVE_P95_MS = 100.0
TARGET_PAGE_P50_MS = 150.0
TARGET_CACHE_MS = 20.0
WARM_UP = 5


def prepare(ctx: Context) -> None:
    """The routes, once for the four scenarios."""
    if "supervision" in ctx.data:
        return
    from decimal import Decimal

    from django.contrib.auth.models import Group, User
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from crm.models import Customer, Route, RouteStop, SalesRep, Team
    from crm.roles import GROUP_REP, GROUP_SUPERVISOR
    from supervision import selectors

    supervisor = User.objects.create_user("bench-supervisor", first_name="Bench", last_name="Boss")
    supervisor.groups.add(Group.objects.get(name=GROUP_SUPERVISOR))
    rep_user = User.objects.create_user("bench-route-rep")
    rep_user.groups.add(Group.objects.get(name=GROUP_REP))
    team = Team.objects.create(name="Bench supervision", manager=supervisor)
    rep = SalesRep.objects.create(
        user=rep_user, team=team, employee_code="BSUP1", hire_date="2024-01-01", timezone="UTC"
    )
    customers = Customer.objects.bulk_create(
        [
            Customer(name=f"Stop customer {n:03d}", code=f"BSC{n:04d}", owner=rep)
            for n in range(STOPS)
        ]
    )

    def route(code: str) -> Route:
        made = Route.objects.create(code=code, name=f"Bench route {code}", rep=rep)
        RouteStop.objects.bulk_create(
            RouteStop(route=made, customer=customer, sequence=n + 1,
                      planned_quantity=Decimal(5 + n % 20))
            for n, customer in enumerate(customers)
        )  # fmt: skip
        return made

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(supervisor)
    ctx.data["supervision"] = {
        "token": Token.objects.get_or_create(user=supervisor)[0].key,
        "session": client.cookies["sessionid"].value,
        "save_route": route("B300").pk,
        "page_route": route("B301").pk,
        "race_route": route("B302").pk,
        "reference_route": route("B303").pk,
        "customers": [customer.pk for customer in customers],
        "date": selectors.today().isoformat(),
    }


def _lines(customers: list[int], value: int) -> list[dict]:
    return [
        {"customer": customer, "visited": True, "actual_quantity": value + n % 7}
        for n, customer in enumerate(customers)
    ]


def _api(ctx: Context):
    data = ctx.data["supervision"]
    return ctx.client({"Authorization": f"Token {data['token']}",
                       "Content-Type": "application/json"}), data  # fmt: skip


def _write(client, data, route: int, version: int, value: int, method="PATCH", tail="lines"):
    body = json.dumps(
        {"record_version": version, "client_token": str(uuid.uuid4()),
         "lines": _lines(data["customers"], value)}
    ).encode()  # fmt: skip
    return client.request(method, f"/api/supervision/days/{route}/{data['date']}/{tail}/", body)


# --- Save -----------------------------------------------------------------------------------------

REFERENCE_WRITE = [
    """UPDATE supervision_routesummary SET record_version = record_version + 1,
              written_at = now(), actual_total = %(total)s
       WHERE session_id = %(session)s AND record_version = %(version)s""",
    """UPDATE supervision_sessionline AS l SET visited = v.visited,
              actual_quantity = v.actual, reason = '', note = ''
       FROM (SELECT unnest(%(customers)s::bigint[]) AS customer,
                    unnest(%(actuals)s::integer[]) AS actual,
                    true AS visited) AS v
       WHERE l.session_id = %(session)s AND l.customer_id = v.customer""",
    """UPDATE supervision_supervisionsession SET updated_at = now() WHERE id = %(session)s""",
    """INSERT INTO crm_auditentry (actor_id, system_actor, action, target_type, target_id,
              changes, reason, created_at)
       VALUES (NULL, 'bench', 'supervision.update_lines', 'supervision.supervisionsession',
               %(session)s, %(changes)s, '', now())""",
]


def measure_save(ctx: Context) -> Outcome:
    import psycopg

    client, data = _api(ctx)
    route = data["save_route"]
    status, body, _, _ = _write(client, data, route, 0, 1)
    if status != 200:
        raise HttpError(f"first write: {status} {body[:300]!r}")
    version = json.loads(body)["record_version"]
    # The reference: the same writes, on a day of their own, by hand.
    status, body, _, _ = _write(client, data, data["reference_route"], 0, 1)
    reference_session = json.loads(body)["id"]
    reference_version = 1
    ours, reference = [], []
    with psycopg.connect(ctx.database_url) as sql:
        for round_ in range(ctx.count(SCENARIO_SAVE.default_requests) + WARM_UP):
            value = round_ % 50 + 2
            status, body, elapsed, _ = _write(client, data, route, version, value)
            if status != 200:
                raise HttpError(f"write {round_}: {status} {body[:300]!r}")
            version = json.loads(body)["record_version"]
            actuals = [value + n % 7 for n in range(len(data["customers"]))]
            started = time.perf_counter()
            with sql.transaction(), sql.cursor() as cursor:
                params = {
                    "session": reference_session, "version": reference_version,
                    "customers": data["customers"], "actuals": actuals, "total": sum(actuals),
                    "changes": json.dumps({"record_version": [reference_version,
                                                              reference_version + 1]}),
                }  # fmt: skip
                for statement in REFERENCE_WRITE:
                    cursor.execute(statement, params)
            reference_version += 1
            if round_ >= WARM_UP:
                ours.append(elapsed)
                reference.append(time.perf_counter() - started)
    status, body, finish_seconds, _ = _write(client, data, route, version, 3, "POST", "save")
    if status != 200 or not json.loads(body)["read_only"]:
        raise HttpError(f"final save: {status} {body[:300]!r}")
    client.close()
    ours_stats, reference_stats = summarize(ours), summarize(reference)
    share = ratio(ours_stats["p50_ms"], reference_stats["p50_ms"])
    met = ours_stats["p95_ms"] <= TARGET_SAVE_P95_MS
    summary = (
        f"supervision_save ({STOPS} lines, PATCH lines through gunicorn): p50 "
        f"{ours_stats['p50_ms']:.1f} ms p95 {ours_stats['p95_ms']:.1f} ms; hand-written SQL "
        f"p50 {reference_stats['p50_ms']:.1f} ms, ratio {share}x; the final save "
        f"{finish_seconds * 1000:.1f} ms | target p95 <= {TARGET_SAVE_P95_MS:g} ms: "
        f"{'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={"ours": ours_stats, "reference": reference_stats, "ratio_p50": share,
                 "final_save_ms": round(finish_seconds * 1000, 2), "lines": STOPS,
                 "target_p95_ms": TARGET_SAVE_P95_MS},
        summary=summary, targets_met=met,
    )  # fmt: skip


# --- Page -----------------------------------------------------------------------------------------


def _page_queries(data) -> int:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="bench-supervisor"))
    path = f"/supervision/routes/{data['page_route']}/{data['date']}/"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    if response.status_code != 200:
        raise HttpError(f"{path} in-process: {response.status_code}")
    return len(queries)


def measure_page(ctx: Context) -> Outcome:
    api, data = _api(ctx)
    # A draft with a quantity on every line: the page shows what a supervisor would.
    _write(api, data, data["page_route"], 0, 4)
    api.close()
    queries = _page_queries(data)
    client = ctx.client({"Cookie": f"sessionid={data['session']}", "Accept": "text/html"})
    path = f"/supervision/routes/{data['page_route']}/{data['date']}/"
    client.timed_gets([path, "/health/live"] * WARM_UP)
    ours, reference = [], []
    for _ in range(ctx.count(SCENARIO_PAGE.default_requests)):
        durations, bodies = client.timed_gets([path])
        ours += durations
        reference += client.timed_gets(["/health/live"])[0]
    if bodies[-1].count(b'name="qty-') != STOPS:
        raise HttpError(f"{path}: not {STOPS} lines")
    client.close()
    ours_stats, reference_stats = summarize(ours), summarize(reference)
    met = ours_stats["p50_ms"] <= TARGET_PAGE_P50_MS
    summary = (
        f"supervision_page ({STOPS} stops, signed in): p50 {ours_stats['p50_ms']:.1f} ms p95 "
        f"{ours_stats['p95_ms']:.1f} ms, {queries} queries; /health/live p50 "
        f"{reference_stats['p50_ms']:.1f} ms | target p50 <= {TARGET_PAGE_P50_MS:g} ms: "
        f"{'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={"ours": ours_stats, "reference": reference_stats, "queries": queries,
                 "stops": STOPS, "target_p50_ms": TARGET_PAGE_P50_MS},
        summary=summary, targets_met=met,
    )  # fmt: skip


# --- Concurrency ------------------------------------------------------------------------------


def measure_concurrency(ctx: Context) -> Outcome:
    from supervision.models import SessionLine

    api, data = _api(ctx)
    route = data["race_route"]
    _, body, _, _ = _write(api, data, route, 0, 1)
    base = json.loads(body)["record_version"]
    api.close()
    barrier = threading.Barrier(CONTENDERS)
    outcomes: dict[int, int] = {}

    def contender(number: int) -> None:
        client, _ = _api(ctx)
        barrier.wait()
        status, _, _, _ = _write(client, data, route, base, 100 + number)
        outcomes[number] = status
        client.close()

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(CONTENDERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    counts = {code: list(outcomes.values()).count(code) for code in sorted(set(outcomes.values()))}
    winners = [number for number, code in outcomes.items() if code == 200]
    stored = sorted(
        SessionLine.objects.filter(session__route_id=route).values_list(
            "customer_id", "actual_quantity"
        )
    )
    expected = sorted(
        (line["customer"], line["actual_quantity"])
        for line in _lines(data["customers"], 100 + winners[0])
    ) if len(winners) == 1 else None  # fmt: skip
    intact = stored == expected
    met = counts.get(200) == 1 and counts.get(409) == CONTENDERS - 1 and intact
    summary = (
        f"supervision_concurrency ({CONTENDERS} writes of version {base} at once, "
        f"{seconds:.2f} s): {counts.get(200, 0)} x 200, {counts.get(409, 0)} x 409, others "
        f"{sum(n for code, n in counts.items() if code not in (200, 409))}; stored lines are "
        f"the winner's: {'yes' if intact else 'NO'} | target 1 x 200, {CONTENDERS - 1} x 409: "
        f"{'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={"statuses": counts, "winner_lines_stored": intact, "seconds": round(seconds, 3)},
        summary=summary, targets_met=met,
    )  # fmt: skip


# --- Review cache -----------------------------------------------------------------------------


def measure_review_cache(ctx: Context) -> Outcome:
    client, data = _api(ctx)
    path = f"/api/supervision/days/{data['page_route']}/{data['date']}/analysis/"
    body = json.dumps({"kind": "route"}).encode()
    status, first, first_seconds, _ = client.request("POST", path, body)
    if status != 200:
        raise HttpError(f"{path}: {status} {first[:300]!r}")
    ours, reference, cached = [], [], True
    for round_ in range(ctx.count(SCENARIO_CACHE.default_requests) + WARM_UP):
        status, answer, elapsed, _ = client.request("POST", path, body)
        if status != 200:
            raise HttpError(f"{path}: {status} {answer[:300]!r}")
        cached = cached and json.loads(answer)["from_cache"]
        _, _, floor, _ = client.request("GET", "/health/live")
        if round_ >= WARM_UP:
            ours.append(elapsed)
            reference.append(floor)
    client.close()
    ours_stats, reference_stats = summarize(ours), summarize(reference)
    met = ours_stats["p50_ms"] <= TARGET_CACHE_MS and cached
    summary = (
        f"supervision_review_cache ({STOPS}-stop route review, asked again unchanged): p50 "
        f"{ours_stats['p50_ms']:.1f} ms p95 {ours_stats['p95_ms']:.1f} ms (the first, new: "
        f"{first_seconds * 1000:.1f} ms); /health/live p50 {reference_stats['p50_ms']:.1f} ms; "
        f"all from the cache: {'yes' if cached else 'NO'} | target <= {TARGET_CACHE_MS:g} ms: "
        f"{'OK' if met else 'MISSED'}"
    )
    return Outcome(
        metrics={"ours": ours_stats, "reference": reference_stats, "first_ms":
                 round(first_seconds * 1000, 2), "all_from_cache": cached,
                 "target_ms": TARGET_CACHE_MS},
        summary=summary, targets_met=met,
    )  # fmt: skip


SCENARIO_SAVE = Scenario(
    "supervision_save", __doc__.splitlines()[0], prepare, measure_save, default_requests=100
)
SCENARIO_PAGE = Scenario("supervision_page", "The session page.", prepare, measure_page, 60)
SCENARIO_CONCURRENCY = Scenario(
    "supervision_concurrency", "50 writes of one version.", prepare, measure_concurrency, 1
)
SCENARIO_CACHE = Scenario(
    "supervision_review_cache", "A review from the cache.", prepare, measure_review_cache, 100
)
SCENARIOS = [SCENARIO_SAVE, SCENARIO_PAGE, SCENARIO_CONCURRENCY, SCENARIO_CACHE]

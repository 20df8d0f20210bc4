"""Resilience, proven with real processes and real services: gunicorn, Celery workers, a
PostgreSQL and a Redis of the test's own (crm.testing.stack), so that stopping them touches
nothing else the suite runs. Outages last seconds; every wait has a deadline.

- Redis stopped under traffic: pages, API and ingestion keep working, health says degraded,
  writes that queue a recalculation succeed; once Redis is back the fallback jobs catch up.
- PostgreSQL restarted under traffic: requests fail cleanly (503) and succeed again afterwards,
  without restarting the app or the worker.
- A worker killed mid-job: the lease expires, the next run completes, the run shows the
  failure; no duplicate snapshots, no event processed twice.
- Backup and restore: a dump restored into a fresh database holds the same rows, and the app
  serves from it.
"""

import contextlib
import datetime as dt
import json
import subprocess
from decimal import Decimal

import psycopg
import pytest
from django.contrib.auth.hashers import make_password
from django.db.models import F, Sum
from rest_framework.authtoken.models import Token

from crm.jobs.maintenance import ABANDONED_RUN_ERROR
from crm.jobs.models import JobLock, JobRun, JobRunStatus
from crm.models import Deal, DealStage
from crm.testing.celery_worker import _database_url
from crm.testing.database import database_elsewhere
from crm.testing.stack import Stack, WebClient, wait_until
from crm.tests.factories import DealFactory, SalesRepFactory, TeamFactory, UserFactory
from goals import selectors as goal_selectors
from goals.models import Goal, GoalSnapshot
from goals.tests.factories import make_goal
from tracking import services as tracking_services
from tracking import tenants
from tracking.models import RawEvent, RawStatus, TrackedEvent, TrackedSession
from tracking.tests.helpers import UA, make_tenant

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "resilience-password-123"
DEALS_PER_REP = 4
RUN_JOB = "crm.jobs.run_job_task"
# The real jobs under leases of seconds (crm.tests.outage_jobs, loaded by the workers only:
# importing it here would shorten every lease of this test run).
OUTAGE_JOBS = "crm.tests.outage_jobs"
DAILY, PROCESSING = "outage_goals_day_end", "outage_process_tracking"


@pytest.fixture(scope="module")
def stack(django_db_setup, tmp_path_factory):
    # The schema comes from the suite's own test database, migrated by pytest-django (the
    # tests are marked as using it, so that it exists).
    with Stack(tmp_path_factory.mktemp("stack")) as stack:
        stack.start(schema_from=_database_url())
        yield stack


@pytest.fixture
def fresh_stack(stack, request):
    """The stack with a database of this test's own and an empty Redis; every process the
    test started is stopped at its end, and a server it stopped is started again."""
    stack.new_database(f"t_{request.node.name[:50]}")
    stack.flush_redis()
    try:
        yield stack
    finally:
        stack.stop_processes(kill=True)
        if stack.redis.process.poll() is not None:
            stack.redis.start()
        with contextlib.suppress(Exception):
            stack.postgres.resume()


@pytest.fixture
def on_stack(django_db_blocker):
    """This process's ORM on the stack's database, for the block: to load data and to look."""

    @contextlib.contextmanager
    def use(stack: Stack):
        with (
            django_db_blocker.unblock(),
            database_elsewhere(
                HOST="127.0.0.1",
                PORT=str(stack.postgres.port),
                NAME=stack.database,
                USER="postgres",
                PASSWORD="",
            ),
        ):
            yield

    return use


def load_sales(*, reps: int = 2) -> dict:
    """Reps of one team with open deals, a revenue goal each under the team's goal, a tracking
    tenant, API tokens; who signs in with what."""
    password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    team = TeamFactory(manager=UserFactory(username="super", groups=["supervisor"]))
    team_goal = make_goal(owner=team, metric="revenue", target=100_000)
    people = []
    for number in range(reps):
        rep = SalesRepFactory(team=team, user=UserFactory(username=f"rep{number}", groups=["rep"]))
        deals = [DealFactory(rep=rep, amount=Decimal(1000 + number)) for _ in range(DEALS_PER_REP)]
        goal = make_goal(owner=rep, metric="revenue", target=10_000, parent=team_goal)
        token = Token.objects.create(user=rep.user)
        people.append({"rep": rep, "deals": [d.pk for d in deals], "goal": goal.pk,
                       "token": token.key})  # fmt: skip
    for user_model in [team.manager, *(p["rep"].user for p in people)]:
        user_model.password = password
        user_model.save(update_fields=["password"])
    tenant = make_tenant("shop", rate_per_minute=100_000)
    return {"people": people, "team_goal": team_goal.pk, "tracking_key": tenant.ingestion_key}


def stale_goals() -> int:
    """Goals whose value is not what a fresh recalculation from CRM data gives."""
    calculable = goal_selectors.calculable(Goal.objects.all())
    return (
        calculable.annotate(fresh=goal_selectors.fresh_value())
        .exclude(current_value=F("fresh"))
        .count()
        + _parents_off()
    )


def _parents_off() -> int:
    """Parents whose value is not the sum of their children's."""
    off = 0
    for parent in Goal.objects.filter(children__isnull=False).distinct():
        total = sum((child.current_value for child in parent.children.all()), Decimal(0))
        off += parent.current_value != total
    return off


def send_events(client: WebClient, key: str, count: int, *, prefix: str) -> int:
    """A batch of page views, as a server sends them; the number the server accepted."""
    batch = [
        {"uuid": f"{prefix}-{n}", "evt_type": "page_view", "session_id": f"s-{prefix}",
         "url": f"https://shop.example.com/p/{n}"}
        for n in range(count)
    ]  # fmt: skip
    status, text, _ = client.request(
        "POST",
        f"/t/batch?key={key}",
        body=json.dumps({"batch": batch}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": UA},
    )
    assert status == 200, (status, text)
    return json.loads(text)["accepted"]


PAGES = ["/", "/deals/", "/activities/", "/customers/", "/goals/list/", "/goals/plan/"]
API = ["/api/deals/", "/api/goals/", "/api/customers/"]


def browse(page: WebClient, api: WebClient) -> set[int | None]:
    """What a rep's pages and API lists answer: {200} when all is well."""
    statuses = {path: page.get(path)[0] for path in PAGES}
    statuses.update({path: api.get(path, Accept="application/json")[0] for path in API})
    if set(statuses.values()) != {200}:
        print(statuses)
    return set(statuses.values())


def run_job(stack: Stack, name: str, timeout: float = 60) -> dict:
    """Send one run of a job through the broker, as beat does, and wait for its outcome."""
    app = stack.celery_app()
    try:
        return app.send_task(RUN_JOB, args=[name]).get(timeout=timeout)
    finally:
        app.close()


def test_redis_stopped_under_traffic_the_app_keeps_serving_and_the_jobs_catch_up(
    fresh_stack, on_stack
):
    stack = fresh_stack
    with on_stack(stack):
        data = load_sales()
    web = stack.gunicorn(workers=2)
    worker = stack.celery_worker("w1")
    rep = data["people"][0]
    page = WebClient(web.port)
    page.sign_in("rep0", PASSWORD)
    api = WebClient(web.port, token=rep["token"])
    ingest = WebClient(web.port)
    assert browse(page, api) == {200}
    accepted = send_events(ingest, data["tracking_key"], 50, prefix="before")

    stack.redis.stop()

    assert browse(page, api) == {200}
    status, text, _ = page.get("/health/")
    health = json.loads(text)
    assert status == 200 and health["status"] == "degraded", health
    assert health["checks"]["cache"]["status"] == "degraded"
    assert health["checks"]["broker"]["status"] == "degraded"
    assert health["checks"]["database"]["status"] == "healthy"
    # Signing in counts failures in the cache: down, it lets people in.
    other = WebClient(web.port)
    other.sign_in("rep1", PASSWORD)
    assert other.get("/deals/")[0] == 200
    # Winning deals queues a recalculation of the rep's goals: the broker is down, the wins
    # are not.
    for person in data["people"]:
        client = WebClient(web.port, token=person["token"])
        for deal in person["deals"][:2]:
            status, text, _ = client.post_json(f"/api/deals/{deal}/close/", {"outcome": "won"})
            assert status == 200, text
    # Ingestion's rate limit fails open: every event is taken.
    for round_ in range(4):
        accepted += send_events(ingest, data["tracking_key"], 50, prefix=f"during-{round_}")

    with on_stack(stack):
        assert stale_goals() > 0  # what the queued recalculations would have done
        assert RawEvent.objects.count() == accepted == 250

    stack.redis.start()
    stack.wait_worker(worker)
    # The fallback jobs, as beat sends them at their next tick.
    assert run_job(stack, "recalculate_goals")["status"] == JobRunStatus.SUCCEEDED
    assert run_job(stack, "process_tracking_events")["status"] == JobRunStatus.SUCCEEDED

    with on_stack(stack):
        assert stale_goals() == 0
        # Two deals of 1,000 won while Redis was down.
        assert Goal.objects.get(pk=rep["goal"]).current_value == Decimal(2000)
        assert RawEvent.objects.count() == accepted
        assert not RawEvent.objects.exclude(status=RawStatus.PROCESSED).exists()
        assert TrackedEvent.objects.count() == accepted
        assert Deal.objects.filter(stage=DealStage.CLOSED_WON).count() == 2 * len(data["people"])
    health = json.loads(page.get("/health/")[1])
    assert health["checks"]["cache"]["status"] == "healthy"
    assert health["checks"]["broker"]["status"] == "healthy"


def test_postgres_restarted_under_traffic_requests_fail_cleanly_and_recover_on_their_own(
    fresh_stack, on_stack
):
    stack = fresh_stack
    with on_stack(stack):
        data = load_sales()
    web = stack.gunicorn(workers=2)
    worker = stack.celery_worker("w1")
    web_workers, pool = web.children(), worker.children()
    rep = data["people"][0]
    page = WebClient(web.port)
    page.sign_in("rep0", PASSWORD)
    api = WebClient(web.port, token=rep["token"])
    ingest = WebClient(web.port)
    assert browse(page, api) == {200}

    stack.postgres.halt()

    answers = [page.get(path) for path in PAGES] + [
        api.get(path, Accept="application/json") for path in API
    ]
    answers.append(api.post_json(f"/api/deals/{rep['deals'][0]}/close/", {"outcome": "won"}))
    answers.append(
        ingest.request("POST", f"/t/e?key={data['tracking_key']}",
                       body=b'{"evt_type": "page_view"}',
                       headers={"Content-Type": "application/json", "User-Agent": UA})
    )  # fmt: skip
    for status, text, headers in answers:
        assert status == 503, (status, text[:300])
        assert "Traceback" not in text
        assert headers.get("Retry-After")
    status, text, _ = ingest.get("/health/")  # as a load balancer asks: no session
    assert status == 503 and json.loads(text)["status"] == "unhealthy"

    stack.postgres.resume()

    # The same processes serve again, reconnecting by themselves.
    assert browse(page, api) == {200}
    status, text, _ = api.post_json(f"/api/deals/{rep['deals'][0]}/close/", {"outcome": "won"})
    assert status == 200, text
    assert send_events(ingest, data["tracking_key"], 10, prefix="after") == 10
    assert run_job(stack, "recalculate_goals")["status"] == JobRunStatus.SUCCEEDED
    assert web.children() == web_workers and worker.children() == pool
    assert "Traceback" not in web.log(tail=100_000)


def _waiting(stack: Stack, statement: str) -> int:
    """Backends of the stack's database waiting for a lock in a statement that starts so."""
    with psycopg.connect(stack.database_url, autocommit=True) as db:
        return db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            [f"%{statement}%"],  # anywhere: a statement may start with a new line
        ).fetchone()[0]


def test_a_worker_killed_mid_job_loses_nothing_and_the_next_run_completes(fresh_stack, on_stack):
    stack = fresh_stack
    with on_stack(stack):
        load_sales(reps=3)
        tenant = tenants.resolve(make_tenant("kill").ingestion_key)
        events = [{"uuid": f"k-{n}", "evt_type": "page_view", "session_id": f"s-{n % 7}",
                   "url": f"https://shop.example.com/p/{n}"} for n in range(300)]  # fmt: skip
        tracking_services.ingest(tenant=tenant, events=events, ip=None, user_agent=UA,
                                 source="api")  # fmt: skip
        active_goals = Goal.objects.active().count()
    settings = {"CELERY_IMPORTS": OUTAGE_JOBS, "TRACKING_PROCESS_BATCH": "100",
                "TRACKING_LEASE_SECONDS": "10"}  # fmt: skip
    worker = stack.celery_worker("w1", concurrency=2, **settings)
    app = stack.celery_app()
    # Both jobs are held mid-way by locks on the tables they write (as a slow disk or a long
    # query would), and the worker is killed while they wait: its transactions never commit.
    blocker = psycopg.connect(stack.database_url)
    blocker.execute("LOCK TABLE goals_goalsnapshot, tracking_trackedevent IN SHARE MODE")
    try:
        app.send_task(RUN_JOB, args=[DAILY])
        app.send_task(RUN_JOB, args=[PROCESSING])
        snapshots, batches = 'INSERT INTO "goals_goalsnapshot"', "WITH given AS"
        wait_until(lambda: _waiting(stack, snapshots) == 1, what="the daily job waits")
        wait_until(lambda: _waiting(stack, batches) == 2, what="two tracking batches wait")
        worker.kill()
    finally:
        blocker.rollback()
        blocker.close()
    with on_stack(stack):
        killed = {run.name: run for run in JobRun.objects.filter(status=JobRunStatus.RUNNING)}
        assert set(killed) == {DAILY, PROCESSING}
        lease_ends = JobLock.objects.get(name=f"job:{DAILY}").expires_at

    stack.celery_worker("w2", **settings)

    def completed(name: str) -> dict | None:
        outcome = app.send_task(RUN_JOB, args=[name]).get(timeout=60)
        return outcome if outcome["status"] == JobRunStatus.SUCCEEDED else None

    # Until the dead run's lease expires the next runs are skipped; then one completes.
    daily = wait_until(lambda: completed(DAILY), timeout=60, interval=1)
    wait_until(lambda: completed(PROCESSING), timeout=60, interval=1)

    def marked_failed() -> bool:
        app.send_task(RUN_JOB, args=["close_abandoned_job_runs"]).get(timeout=60)
        with on_stack(stack):
            runs = JobRun.objects.filter(pk__in=[run.pk for run in killed.values()])
            return all(
                run.status == JobRunStatus.FAILED and run.error == ABANDONED_RUN_ERROR
                for run in runs
            )

    # The dead runs are marked failed once their leases are over (the minute job).
    wait_until(marked_failed, timeout=60, interval=1)
    app.close()

    with on_stack(stack):
        others = JobRun.objects.filter(name=DAILY).exclude(pk=killed[DAILY].pk)
        statuses = set(others.values_list("status", flat=True))
        assert statuses <= {JobRunStatus.SKIPPED_LOCKED, JobRunStatus.SUCCEEDED}
        assert JobRun.objects.get(pk=daily["job_run"]).started_at >= lease_ends
        # One snapshot per active goal for the day, however many runs began.
        assert GoalSnapshot.objects.count() == active_goals
        assert GoalSnapshot.objects.values("goal", "date").distinct().count() == active_goals
        # Every raw row made exactly one event, and every session counted each event once.
        assert not RawEvent.objects.exclude(status=RawStatus.PROCESSED).exists()
        assert TrackedEvent.objects.count() == len(events)
        assert TrackedSession.objects.aggregate(n=Sum("events"))["n"] == len(events)


def _row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as db:
        tables = [row[0] for row in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )]  # fmt: skip
        return {
            table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables
        }


def test_a_backup_restored_into_a_fresh_database_holds_the_same_rows_and_is_served(
    fresh_stack, on_stack, tmp_path
):
    stack = fresh_stack
    with on_stack(stack):
        data = load_sales()
        tenant = tenants.resolve(data["tracking_key"])
        tracking_services.ingest(
            tenant=tenant, events=[{"evt_type": "page_view"}] * 20, ip=None, user_agent=UA,
            source="api",
        )  # fmt: skip
        GoalSnapshot.objects.create(
            goal_id=data["team_goal"], date=dt.date(2026, 1, 1), value=1, target=2, percent=50
        )
    original = stack.database_url
    dump = tmp_path / "crm.dump"
    # The runbook's commands (docs/operations.md, "Back up and restore").
    subprocess.run(
        [stack.postgres.tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}",
         original],
        check=True,
    )  # fmt: skip
    stack.postgres.create_database("restored")
    stack.database = "restored"
    subprocess.run(
        [stack.postgres.tool("pg_restore"), "--no-owner", "--exit-on-error",
         f"--dbname={stack.database_url}", str(dump)],
        check=True,
    )  # fmt: skip

    counts = _row_counts(stack.database_url)
    assert counts == _row_counts(original)
    assert counts["crm_deal"] == 2 * DEALS_PER_REP and counts["tracking_rawevent"] == 20

    web = stack.gunicorn(workers=1)
    rep = data["people"][0]
    page = WebClient(web.port)
    page.sign_in("rep0", PASSWORD)
    api = WebClient(web.port, token=rep["token"])
    assert browse(page, api) == {200}
    status, text, _ = api.get("/api/deals/", Accept="application/json")
    assert json.loads(text)["count"] == DEALS_PER_REP
    # Its sequences came back too: new rows take new ids.
    status, text, _ = api.post_json(f"/api/deals/{rep['deals'][0]}/close/", {"outcome": "won"})
    assert status == 200, text
    status, text, _ = page.get("/health/")
    assert json.loads(text)["checks"]["database"]["status"] == "healthy"


def test_a_database_that_does_not_answer_is_a_503_to_send_again_page_or_json():
    """The same answer in-process: a page for a person, JSON for the API, never a 500."""
    from django.test import Client

    from crm.errors import DATABASE_RETRY_AFTER, DATABASE_UNAVAILABLE
    from crm.testing import error_body
    from crm.testing.servers import free_port

    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a" * 32  # a signed-in person: the session is read first
    with database_elsewhere(PORT=str(free_port())):
        page = client.get("/deals/")
        api = client.get("/api/deals/")
    assert page.status_code == api.status_code == 503
    assert page["Retry-After"] == api["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert "Try again in a moment" in page.content.decode()
    assert page["X-Request-ID"] in page.content.decode()  # for a person to quote
    assert error_body(api) == {"detail": DATABASE_UNAVAILABLE, "code": "database_unavailable"}

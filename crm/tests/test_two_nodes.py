"""Two nodes, as two machines run the CRM: two gunicorn servers, two Celery workers and two
beats on one PostgreSQL and one Redis of the test's own (crm.testing.stack). Each periodic job
runs once per tick, a session opened on one node works on the other, a rate limit holds in
total across both, and a supervision save conflict is detected across nodes."""

import itertools
import json
import time
import uuid

import pytest
from django.contrib.auth.hashers import make_password
from rest_framework.authtoken.models import Token

from crm.jobs.models import JobRunStatus
from crm.testing.celery_worker import _database_url
from crm.testing.database import database_elsewhere
from crm.testing.routes import route_with_stops
from crm.testing.stack import Stack, WebClient, wait_until
from crm.tests.factories import SalesRepFactory, TeamFactory, UserFactory
from supervision.tests.helpers import customers, today
from tracking.tests.helpers import UA, make_tenant

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "two-nodes-password-123"
# Loaded by both workers and both beats (never by this process: it shortens every lease).
OUTAGE_JOBS = "crm.tests.outage_jobs"
TICK, TICK_SECONDS = "outage_tick", 2
QUICK_SCHEDULER = f"{OUTAGE_JOBS}:QuickScheduler"
RATE = 10


@pytest.fixture
def stack(django_db_setup, django_db_blocker, tmp_path):
    with Stack(tmp_path / "stack") as stack:
        # The schema of the suite's own test database, migrated by pytest-django.
        stack.start(schema_from=_database_url())
        with (
            django_db_blocker.unblock(),
            database_elsewhere(
                HOST="127.0.0.1", PORT=str(stack.postgres.port), NAME=stack.database,
                USER="postgres", PASSWORD="",
            ),
        ):  # fmt: skip
            stack.data = load()
        try:
            yield stack
        finally:
            stack.stop_processes(kill=True)  # throwaway: no need to wait for them to finish


def load() -> dict:
    """A supervisor's team with a rep and a route of three stops, an administrator, their API
    tokens, and a tracking tenant allowed RATE requests a minute."""
    password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    supervisor = UserFactory(username="super", groups=["supervisor"])
    admin = UserFactory(username="boss", is_staff=True, is_superuser=True)
    for user in (supervisor, admin):
        user.password = password  # a hasher the servers know (the suite's is a fast one)
        user.save(update_fields=["password"])
    rep = SalesRepFactory(team=TeamFactory(manager=supervisor))
    route = route_with_stops(rep)
    return {
        "route": route.pk,
        "stops": customers(route),
        "supervisor_token": Token.objects.create(user=supervisor).key,
        "admin_token": Token.objects.create(user=admin).key,
        "tracking_key": make_tenant("two-nodes", rate_per_minute=RATE).ingestion_key,
    }


def runs_of(stack: Stack, name: str) -> list[tuple[str, float]]:
    import psycopg

    with psycopg.connect(stack.database_url, autocommit=True) as db:
        return [
            (status, started.timestamp())
            for status, started in db.execute(
                "SELECT status, started_at FROM crm_jobrun WHERE name = %s ORDER BY started_at",
                [name],
            )
        ]


def test_two_nodes_share_jobs_sessions_limits_and_conflicts(stack):
    data = stack.data
    settings = {"CELERY_IMPORTS": OUTAGE_JOBS}
    nodes = [stack.gunicorn(f"web{n}", **settings) for n in (1, 2)]
    for n in (1, 2):
        stack.celery_worker(f"worker{n}", wait=False, **settings)
    beats = [stack.celery_beat(f"beat{n}", scheduler=QUICK_SCHEDULER, **settings) for n in (1, 2)]
    a, b = (node.port for node in nodes)

    # A session opened on one node is the same on the other.
    person = WebClient(a)
    person.sign_in("super", PASSWORD)
    person.port = b
    status, text, _ = person.get("/supervision/")
    assert status == 200 and "super" in text

    # The rate limit holds in total across both nodes (counted in the shared Redis).
    statuses = []
    for n in range(3 * RATE):
        client = WebClient((a, b)[n % 2])
        status, _, _ = client.request(
            "POST", f"/t/e?key={data['tracking_key']}", body=b'{"evt_type": "page_view"}',
            headers={"Content-Type": "application/json", "User-Agent": UA},
        )  # fmt: skip
        statuses.append(status)
    assert statuses.count(200) == RATE and statuses.count(429) == 2 * RATE, statuses

    # Two people save the same day, one on each node, from the same version: one wins, the
    # other is told (409) with the winner's version.
    day = f"/api/supervision/days/{data['route']}/{today().isoformat()}/save/"
    first = data["stops"][0]

    def save(port: int, token: str, quantity: int):
        return WebClient(port, token=token).post_json(day, {
            "record_version": 0, "client_token": str(uuid.uuid4()),
            "lines": [{"customer": first, "visited": True, "actual_quantity": quantity}],
        })  # fmt: skip

    status, text, _ = save(a, data["supervisor_token"], 7)
    assert status == 200, text
    status, text, _ = save(b, data["admin_token"], 1)
    assert status == 409, text
    answer = json.loads(text)
    assert answer["record_version"] == 1 and answer["lines"][0]["actual_quantity"] == 7

    # Both beats tick every two seconds; the job runs once a tick, whichever beat sends it.
    wait_until(lambda: len(runs_of(stack, TICK)) >= 2, timeout=60, what="the ticks run")
    assert_one_run_a_tick(stack, since=time.time())

    # The beat that sends dies with its machine: the other takes over within its lease.
    sender = wait_until(
        lambda: next((beat for beat in beats if "beat: sending" in beat.log()), None),
        what="a beat sends",
    )
    sender.kill()
    killed_at = time.time()
    wait_until(
        lambda: len([at for _, at in runs_of(stack, TICK) if at > killed_at + 1]) >= 2,
        timeout=30,
        what="the other beat sends",
    )
    assert_one_run_a_tick(stack, since=time.time())


def assert_one_run_a_tick(stack: Stack, *, since: float, ticks: int = 5) -> None:
    time.sleep(ticks * TICK_SECONDS)
    runs = [(status, at) for status, at in runs_of(stack, TICK) if at >= since]
    succeeded = [at for status, at in runs if status == JobRunStatus.SUCCEEDED]
    assert ticks - 2 <= len(succeeded) <= ticks + 1, runs
    gaps = [later - earlier for earlier, later in itertools.pairwise(succeeded)]
    assert min(gaps) > TICK_SECONDS / 2, runs

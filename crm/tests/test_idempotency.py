"""`Idempotency-Key` on the API's writes (crm.idempotency): a write sent again with its key runs
once and answers as the first time, in the core, goals and supervision alike; a key reused for
another request is a 422, a malformed one a 400; keys are each user's own, kept for a day and
purged by a job; an answer that says "try again" is not kept; two requests with one key at the
same moment write once."""

import datetime as dt
import threading
import time
import uuid

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm import jobs, services
from crm.idempotency.guard import (
    KEY_HEADER,
    KEY_INVALID,
    KEY_REUSED_ELSEWHERE,
    KEY_REUSED_OTHER_BODY,
    REPLAYED_HEADER,
    kept,
)
from crm.idempotency.models import KEPT_FOR, IdempotencyKey
from crm.models import Activity, ActivityStatus, AuditEntry, Deal, Task
from crm.testing import error_body, signed_in_api
from crm.tests.factories import ActivityFactory, CustomerFactory, SalesRepFactory, TaskFactory
from goals.models import Goal
from supervision.models import RouteSummary, SessionLine
from supervision.tests.helpers import customers, today

DEALS = "/api/deals/"


def keyed(key: str) -> dict:
    """The header as the test client takes it."""
    return {"HTTP_IDEMPOTENCY_KEY": key}


def deal_body(customer) -> dict:
    return {"customer": customer.pk, "title": "Summer order", "amount": "1250.50"}


def assert_same_answer(first, again) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert again[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first


# --- A write sent again ---------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_deal_sent_twice_with_one_key_is_created_once_and_answered_alike(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    key = str(uuid.uuid4())

    first = rep_api.post(DEALS, deal_body(customer), format="json", **keyed(key))
    again = rep_api.post(DEALS, deal_body(customer), format="json", **keyed(key))

    assert first.status_code == 201, first.json()
    assert_same_answer(first, again)
    assert Deal.objects.count() == 1
    assert AuditEntry.objects.filter(action="deal.create").count() == 1


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_visit_logged_twice_with_one_key_is_logged_once(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    visit = {
        "kind": "visit", "status": "completed", "customer": customer.pk,
        "due_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "outcome": "ordered", "notes": "Two crates for the weekend",
    }  # fmt: skip

    first = rep_api.post("/api/activities/", visit, format="json", **keyed("visit-1"))
    again = rep_api.post("/api/activities/", visit, format="json", **keyed("visit-1"))

    assert first.status_code == 201, first.json()
    assert first.json()["status"] == ActivityStatus.COMPLETED
    assert_same_answer(first, again)
    assert Activity.objects.count() == 1


@pytest.mark.django_db
def test_completing_an_activity_again_with_its_key_answers_the_first_200(rep, rep_api):
    activity = ActivityFactory(rep=rep)
    url = f"/api/activities/{activity.pk}/complete/"
    outcome = {"outcome": "interested", "notes": "Call after the holidays"}

    first = rep_api.post(url, outcome, format="json", **keyed("complete-1"))
    again = rep_api.post(url, outcome, format="json", **keyed("complete-1"))

    # Without the key, completing a done activity is a 400; with it, the first answer.
    assert first.status_code == 200, first.json()
    assert_same_answer(first, again)
    assert AuditEntry.objects.filter(action="activity.complete").count() == 1


@pytest.mark.django_db
def test_a_task_marked_done_twice_with_one_key_is_done_once(rep, rep_api):
    task = TaskFactory(rep=rep)
    url = f"/api/tasks/{task.pk}/"

    first = rep_api.patch(url, {"status": "done"}, format="json", **keyed("task-done-1"))
    again = rep_api.patch(url, {"status": "done"}, format="json", **keyed("task-done-1"))

    assert first.status_code == 200, first.json()
    assert_same_answer(first, again)
    assert Task.objects.get().status == "done"
    assert AuditEntry.objects.filter(target_id=str(task.pk)).count() == 1


def goal_body() -> dict:
    return {
        "title": "December revenue", "owner_type": "individual", "metric": "revenue",
        "period_kind": "month", "period_start": timezone.localdate().isoformat(),
        "target_value": "5000.00",
    }  # fmt: skip


@pytest.mark.django_db
def test_a_goal_sent_twice_with_one_key_is_created_once(rep_api):
    goal = goal_body()

    first = rep_api.post("/api/goals/", goal, format="json", **keyed("goal-1"))
    again = rep_api.post("/api/goals/", goal, format="json", **keyed("goal-1"))

    assert first.status_code == 201, first.json()
    assert_same_answer(first, again)
    assert Goal.objects.filter(title="December revenue").count() == 1


@pytest.mark.django_db
def test_a_goal_deleted_twice_with_one_key_answers_the_first_204(rep_api):
    created = rep_api.post("/api/goals/", goal_body(), format="json").json()
    url = f"/api/goals/{created['id']}/"

    first = rep_api.delete(url, **keyed("goal-gone"))
    again = rep_api.delete(url, **keyed("goal-gone"))

    # Without the key, the second would be a 404: the goal is gone.
    assert first.status_code == 204
    assert again.status_code == 204 and again.content == b"" and again[REPLAYED_HEADER] == "true"
    assert again.get("Content-Type") == first.get("Content-Type")
    assert not Goal.objects.filter(pk=created["id"]).exists()


def _day(route, tail: str = "") -> str:
    return f"/api/supervision/days/{route.pk}/{today().isoformat()}/{tail}"


@pytest.mark.django_db
def test_a_supervision_save_sent_again_with_its_key_is_saved_once(supervisor_api, route):
    lines = [{"customer": c, "visited": True, "actual_quantity": 3} for c in customers(route)]
    save = {"record_version": 0, "client_token": str(uuid.uuid4()), "lines": lines}

    first = supervisor_api.post(_day(route, "save/"), save, format="json", **keyed("day-1"))
    again = supervisor_api.post(_day(route, "save/"), save, format="json", **keyed("day-1"))

    assert first.status_code == 200, first.json()
    assert_same_answer(first, again)
    assert RouteSummary.objects.get(session__route=route).record_version == 1
    assert AuditEntry.objects.filter(action="supervision.save").count() == 1


@pytest.mark.django_db
def test_the_supervision_client_token_still_dedupes_without_a_key(supervisor_api, route):
    first, *_ = customers(route)
    save = {"record_version": 0, "client_token": str(uuid.uuid4()),
            "lines": [{"customer": first, "visited": True, "actual_quantity": 2}]}  # fmt: skip

    saved = supervisor_api.post(_day(route, "save/"), save, format="json")
    sent_again = supervisor_api.post(_day(route, "save/"), save, format="json")

    assert saved.status_code == sent_again.status_code == 200, sent_again.json()
    assert REPLAYED_HEADER not in sent_again
    assert sent_again.json()["record_version"] == 1
    assert SessionLine.objects.filter(session__route=route, actual_quantity=2).count() == 1
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_refused_write_is_answered_the_same_when_sent_again(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    refused = {**deal_body(customer), "amount": "-1"}

    first = rep_api.post(DEALS, refused, format="json", **keyed("bad-amount"))
    again = rep_api.post(DEALS, refused, format="json", **keyed("bad-amount"))

    assert first.status_code == 400 and "amount" in first.json()
    assert_same_answer(first, again)


@pytest.mark.django_db
def test_a_write_without_a_key_runs_each_time_and_stores_nothing(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    rep_api.post(DEALS, deal_body(customer), format="json")
    rep_api.post(DEALS, deal_body(customer), format="json")
    assert Deal.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_read_with_a_key_ignores_it(rep_api):
    assert rep_api.get(DEALS, **keyed("a-read")).status_code == 200
    assert rep_api.get(DEALS, **keyed("")).status_code == 200
    assert not IdempotencyKey.objects.exists()


# --- A key used wrongly ----------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_key_sent_again_with_another_body_or_path_is_a_422_naming_it(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    rep_api.post(DEALS, deal_body(customer), format="json", **keyed("order-7"))
    other_body = rep_api.post(
        DEALS, {**deal_body(customer), "amount": "99.00"}, format="json", **keyed("order-7")
    )
    other_path = rep_api.post("/api/tasks/", {"title": "Call"}, format="json", **keyed("order-7"))

    named = {"header": KEY_HEADER, "key": "order-7", "method": "POST", "path": DEALS}
    for answer, message in [
        (other_body, KEY_REUSED_OTHER_BODY.format(**named)),
        (other_path, KEY_REUSED_ELSEWHERE.format(**named)),
    ]:
        assert answer.status_code == 422
        assert error_body(answer) == {KEY_HEADER: [message]}
        assert REPLAYED_HEADER not in answer
    assert Deal.objects.count() == 1
    assert not Task.objects.exists()


BAD_KEYS = {
    "empty": "",
    "a space": "order 7",
    "a NUL": "order\x007",
    "a tab": "order\t7",
    "not ASCII": "commande-é",
    "256 characters": "k" * 256,
}


@pytest.mark.sqlite
@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_a_malformed_key_is_a_400_naming_the_header_and_nothing_is_written(rep, rep_api, bad):
    customer = CustomerFactory(owner=rep)
    answer = rep_api.post(DEALS, deal_body(customer), format="json", **keyed(bad))
    assert answer.status_code == 400
    assert error_body(answer) == {KEY_HEADER: [KEY_INVALID]}
    assert not Deal.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_key_of_255_visible_characters_is_taken(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    key = "~!" + "k" * 252 + "}"
    answer = rep_api.post(DEALS, deal_body(customer), format="json", **keyed(key))
    assert answer.status_code == 201
    assert IdempotencyKey.objects.get().key == key


@pytest.mark.django_db
def test_one_key_of_two_users_is_two_keys(rep, rep_api, other_rep):
    mine, theirs = CustomerFactory(owner=rep), CustomerFactory(owner=other_rep)
    other_api = signed_in_api(other_rep.user)

    rep_api.post(DEALS, deal_body(mine), format="json", **keyed("shared-key"))
    other = other_api.post(DEALS, deal_body(theirs), format="json", **keyed("shared-key"))

    assert other.status_code == 201 and REPLAYED_HEADER not in other
    assert other.json()["rep"]["id"] == other_rep.pk
    assert Deal.objects.count() == 2


@pytest.mark.django_db
def test_a_caller_refused_before_the_write_leaves_no_key(rep, rep_api, api_client, route):
    save = {"record_version": 0, "lines": []}
    # A rep does not use Supervision; nobody anonymous writes.
    assert rep_api.post(_day(route, "save/"), save, format="json", **keyed("k1")).status_code == 403
    assert api_client.post(DEALS, {}, format="json", **keyed("k2")).status_code == 401
    assert not IdempotencyKey.objects.exists()


# --- Answers that are not kept ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_5xx_is_not_kept_and_the_same_key_runs_the_write_again(rep, monkeypatch):
    customer = CustomerFactory(owner=rep)
    client = signed_in_api(rep.user)
    client.raise_request_exception = False
    create = services.deal_create
    failures = iter([RuntimeError("the disk is full")])

    def fails_once(**kwargs):
        created = create(**kwargs)  # written, then the request fails: nothing may stay
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return created

    monkeypatch.setattr(services, "deal_create", fails_once)

    failed = client.post(DEALS, deal_body(customer), format="json", **keyed("retry-me"))
    assert failed.status_code == 500
    assert not Deal.objects.exists() and not IdempotencyKey.objects.exists()

    retried = client.post(DEALS, deal_body(customer), format="json", **keyed("retry-me"))
    assert retried.status_code == 201 and REPLAYED_HEADER not in retried
    assert Deal.objects.count() == 1


def test_only_final_answers_are_kept():
    assert [code for code in (200, 201, 204, 400, 403, 404, 409, 422) if kept(code)] == [
        200, 201, 204, 400, 403, 404, 409, 422,
    ]  # fmt: skip
    assert not any(kept(code) for code in (429, 500, 502, 503))


# --- A day's keys ----------------------------------------------------------------------------


def _age(key: str, by: dt.timedelta) -> None:
    IdempotencyKey.objects.filter(key=key).update(created_at=timezone.now() - by)


@pytest.mark.django_db
def test_the_hourly_job_purges_keys_older_than_a_day(rep, rep_api):
    task = TaskFactory(rep=rep)
    for key in ("old", "recent"):
        rep_api.patch(f"/api/tasks/{task.pk}/", {"status": "done"}, format="json", **keyed(key))
    _age("old", KEPT_FOR + dt.timedelta(minutes=1))
    _age("recent", KEPT_FOR - dt.timedelta(minutes=1))

    run = jobs.job_run("purge_idempotency_keys")

    assert run.status == "succeeded" and run.items_processed == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]
    assert jobs.get_job("purge_idempotency_keys").schedule is not None


@pytest.mark.django_db
def test_a_key_past_its_day_runs_the_write_again_even_before_the_purge(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    rep_api.post(DEALS, deal_body(customer), format="json", **keyed("yesterday"))
    _age("yesterday", KEPT_FOR + dt.timedelta(seconds=1))

    again = rep_api.post(DEALS, deal_body(customer), format="json", **keyed("yesterday"))
    replayed = rep_api.post(DEALS, deal_body(customer), format="json", **keyed("yesterday"))

    assert again.status_code == 201 and REPLAYED_HEADER not in again
    assert_same_answer(again, replayed)
    assert Deal.objects.count() == 2
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_a_replay_runs_a_fixed_number_of_queries(rep, assert_queries):
    customer = CustomerFactory(owner=rep)
    client = APIClient()  # as a script calls: its token, the user read afresh each time
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=rep.user).key}")
    client.post(DEALS, deal_body(customer), format="json", **keyed("counted"))

    # the token with its user, the user's role (the area) and zone, the key's insert refused
    # (it waits for nobody: the first request committed), the key's row
    with assert_queries(5):
        again = client.post(DEALS, deal_body(customer), format="json", **keyed("counted"))
    assert again[REPLAYED_HEADER] == "true"


# --- At the same moment ----------------------------------------------------------------------


def _waiting_on_the_key() -> int:
    """Backends waiting for a lock in the key's insert (another request holds the key)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            ['%INSERT INTO "crm_idempotencykey"%'],
        )
        return cursor.fetchone()[0]


def _in_thread(send, answers: dict, name: str) -> threading.Thread:
    def run() -> None:
        try:
            answers[name] = send()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_key_sent_while_its_first_request_runs_waits_and_answers_the_first(
    role_groups, monkeypatch
):
    rep = SalesRepFactory()
    customer = CustomerFactory(owner=rep)
    create = services.deal_create
    inside, release = threading.Event(), threading.Event()

    def slow_create(**kwargs):
        deal = create(**kwargs)
        inside.set()
        assert release.wait(timeout=20)
        return deal

    monkeypatch.setattr(services, "deal_create", slow_create)
    answers: dict = {}

    def send():
        return signed_in_api(rep.user).post(
            DEALS, deal_body(customer), format="json", **keyed("twice")
        )

    first = _in_thread(send, answers, "first")
    assert inside.wait(timeout=20)
    second = _in_thread(send, answers, "second")
    deadline = time.monotonic() + 20
    while _waiting_on_the_key() == 0:
        assert time.monotonic() < deadline, "the second request never waited on the key"
        time.sleep(0.05)
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)

    assert answers["first"].status_code == 201
    assert_same_answer(answers["first"], answers["second"])
    assert Deal.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_many_requests_with_one_key_at_once_write_once(role_groups):
    rep = SalesRepFactory()
    customer = CustomerFactory(owner=rep)
    contenders = 6
    barrier = threading.Barrier(contenders, timeout=20)
    answers: dict = {}

    def send():
        client = signed_in_api(rep.user)
        barrier.wait()
        return client.post(DEALS, deal_body(customer), format="json", **keyed("storm"))

    threads = [_in_thread(send, answers, str(number)) for number in range(contenders)]
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(answer.status_code for answer in answers.values()) == [201] * contenders
    assert len({answer.content for answer in answers.values()}) == 1
    assert sum(REPLAYED_HEADER in answer for answer in answers.values()) == contenders - 1
    assert Deal.objects.count() == 1


# --- From a page, as the outbox will send ----------------------------------------------------

# What the offline outbox does when a sent write's answer was lost: the same request, with the
# same key, once more; with the page's session and its CSRF token, as htmx sends them.
_SEND_TWICE = """
async ([method, url, body, key]) => {
  const csrf = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
  const send = () => fetch(url, {
    method, body: JSON.stringify(body), credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Idempotency-Key": key},
  });
  const answers = [];
  for (const answer of [await send(), await send()]) {
    answers.push({status: answer.status, replayed: answer.headers.get("Idempotent-Replayed"),
                  body: await answer.text()});
  }
  return answers;
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_visit_and_a_task_sent_twice_from_a_page_show_once(
    chromium, live_server, role_groups, device
):
    from playwright.sync_api import expect

    from crm.testing.browser import DESKTOP, PHONE, open_page

    rep = SalesRepFactory()
    customer = CustomerFactory(owner=rep, name="Bar Central")
    task = TaskFactory(rep=rep, title="Send the price list")
    browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, rep.user)
    page = browser_page.page
    page.goto(live_server.url + "/activities/")
    visit = {
        "kind": "visit", "status": "completed", "customer": customer.pk, "subject": "Tasting",
        "due_at": (timezone.now() - dt.timedelta(minutes=20)).isoformat(),
        "outcome": "ordered", "notes": "Two cases for the weekend.",
    }  # fmt: skip

    logged = page.evaluate(_SEND_TWICE, ["POST", "/api/activities/", visit, str(uuid.uuid4())])
    done = page.evaluate(
        _SEND_TWICE, ["PATCH", f"/api/tasks/{task.pk}/", {"status": "done"}, str(uuid.uuid4())]
    )

    for first, again in (logged, done):
        assert first["status"] in (200, 201) and first["replayed"] is None, first
        assert (again["status"], again["replayed"], again["body"]) == (
            first["status"], "true", first["body"],
        )  # fmt: skip
    page.reload()
    expect(page.get_by_role("row").filter(has_text="Tasting")).to_have_count(1)
    page.goto(live_server.url + "/tasks/")
    expect(page.locator(f"#task-{task.pk}").get_by_role("button", name="Undo")).to_be_visible()
    assert Activity.objects.filter(subject="Tasting").count() == 1
    assert AuditEntry.objects.filter(target_id=str(task.pk), action="task.done").count() == 1
    assert browser_page.errors == []


# --- The schema ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_documents_the_key_on_every_write(rep_client):
    paths = rep_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    writes = [
        (path, method, operation)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if method in {"post", "put", "patch", "delete"}
    ]
    assert len(writes) > 20
    for path, method, operation in writes:
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert not headers[KEY_HEADER].get("required"), (method, path)
        assert "422" in operation["responses"], (method, path)
        ok = next(code for code in operation["responses"] if code.startswith("2"))
        assert REPLAYED_HEADER in operation["responses"][ok]["headers"], (method, path)
        for never_kept in ("401", "422", "429", "503"):
            assert REPLAYED_HEADER not in operation["responses"][never_kept].get("headers", {})
    reads = [operation for operations in paths.values() for m, operation in operations.items()
             if m == "get"]  # fmt: skip
    assert not any(
        p["name"] == KEY_HEADER for operation in reads for p in operation.get("parameters", [])
    )

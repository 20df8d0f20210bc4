"""Every operation of every app's API, as its OpenAPI schema describes it, fuzzed by
schemathesis through the WSGI application in-process, signed in as an admin (a token) on a
small demo company: no answer is a 5xx, and every answer (its status, its content type and its
body) is one the schema documents.

Deterministic and bounded: Hypothesis derandomized (the same examples every run), a few
examples an operation with valid data, a few with invalid data, and a few more with valid data
on a record that exists (the first row its list shows the admin) where the path names one.
Each request runs in a savepoint rolled back afterwards, so every example meets the same demo
data, and one that writes cannot make the next one differ from run to run."""

import contextlib
import time
from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 8}
EXAMPLES_ON_A_RECORD = 8


def _in_a_savepoint(environ, start_response):
    """The application, each request in a savepoint of the test's transaction, rolled back."""
    from crm.wsgi import application

    with transaction.atomic():
        response = application(environ, start_response)
        try:
            body = b"".join(response)
        finally:
            response.close()
        transaction.set_rollback(True)
    return [body]


@pytest.fixture(scope="module")
def admin_token(django_db_setup, django_db_blocker):
    """The demo company (a few reps, two months) and the admin's token: once for the module, in
    a transaction rolled back afterwards."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    with django_db_blocker.unblock(), transaction.atomic():
        call_command(
            "seed_demo", reps=3, months=2, allow_demo_logins=True,
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
        admin = get_user_model().objects.get(username="admin")
        yield Token.objects.get_or_create(user=admin)[0].key
        transaction.set_rollback(True)


@pytest.fixture
def records(admin_token) -> dict[str, dict]:
    return existing_records({"Authorization": f"Token {admin_token}"})


@pytest.fixture
def in_process_requests(records):
    """The application's requests would close the test's connection when they end (its
    transaction with it); Django's test client unhooks the same two receivers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def api_schema() -> schemathesis.BaseSchema:
    # Built in the test, not at import: some descriptions name what the database holds.
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(raw, config=schemathesis.Config())
    schema.app = _in_a_savepoint
    return schema


def existing_records(headers: dict) -> dict[str, dict]:
    """The path parameters of a record that exists, by the path its operations start with: the
    first row of each list, as the admin sees it."""
    client = Client(headers=headers)
    records = {}
    for collection in ["activities", "customers", "deals", "goals", "routes", "tasks"]:
        rows = client.get(f"/api/{collection}/").json()["results"]
        records[f"/api/{collection}/"] = {"id": rows[0]["id"]}
    session, *_ = client.get("/api/supervision/sessions/").json()["results"]
    records["/api/supervision/sessions/"] = {"id": session["id"]}
    records["/api/supervision/days/"] = {"route": session["route"]["id"], "date": session["date"]}
    return records


def failures_of(operation, mode: GenerationMode, headers: dict, *, record=None) -> list[str]:
    found: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=record))
    @settings(
        max_examples=EXAMPLES_ON_A_RECORD if record else EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=["explicit", "generate"],  # no shrinking: the first failure of each is enough
    )
    def run(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, FailureGroup) as failure:  # a check failed, or the app raised
            found.append(f"{operation.label} ({mode}, {record or 'any'}): {failure}")
            raise

    with contextlib.suppress(Exception, FailureGroup):  # in `found`: every operation runs
        run()
    return found[:1]


@pytest.mark.django_db
def test_every_operation_answers_as_documented(admin_token, records, in_process_requests):
    started = time.monotonic()
    schema = api_schema()
    headers = {"Authorization": f"Token {admin_token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in EXAMPLES:
            failures += failures_of(operation, mode, headers)
        collection = operation.path.split("{")[0]
        if "{" in operation.path and collection in records:
            record = records[collection]
            failures += failures_of(operation, GenerationMode.POSITIVE, headers, record=record)
    assert operations > 50
    assert not failures, "\n\n".join(failures)
    print(f"{operations} operations in {time.monotonic() - started:.0f} s")

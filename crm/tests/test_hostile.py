"""What a hostile user and a careless integrator tried, each answered with a clear error (never a
500) and nothing stored: extreme dates, absurd offsets, deep JSON, ids that are not ids, a
database without its schema, parallel password guessing, HEAD requests, the CSP, list settings,
the time-zone rule and the documented error answers."""

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.models import Activity, Deal, Task
from crm.periods import OFFSET_OUT_OF_RANGE, OUT_OF_RANGE
from crm.testing import error_body
from crm.testing.database import database_elsewhere
from crm.tests.factories import PASSWORD, ActivityFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE_DIR = Path(settings.BASE_DIR)

EXTREME_DATES = ["0001-01-01T00:00:00Z", "9999-12-31T23:30:00Z", "1969-12-31T23:00:00Z"]


# --- 1. Extreme dates -------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize("when", EXTREME_DATES)
def test_api_refuses_dates_outside_the_range_and_pages_keep_working(rep_api, rep_client, when):
    response = rep_api.post("/api/activities/", {"kind": "call", "due_at": when}, format="json")
    task = rep_api.post("/api/tasks/", {"title": "T", "due_at": when}, format="json")

    assert response.status_code == 400
    assert error_body(response) == {"due_at": [OUT_OF_RANGE]}
    assert task.status_code == 400
    assert not Activity.objects.exists() and not Task.objects.exists()
    assert rep_client.get(reverse("home")).status_code == 200
    assert rep_client.get(reverse("activity-list")).status_code == 200


@pytest.mark.sqlite
def test_api_refuses_an_absurd_utc_offset(rep_api):
    response = rep_api.post(
        "/api/activities/", {"kind": "call", "due_at": "2030-01-01T00:00:00+17:52"}, format="json"
    )
    assert response.status_code == 400
    assert error_body(response) == {"due_at": [OFFSET_OUT_OF_RANGE]}


@pytest.mark.sqlite
@pytest.mark.parametrize("when", ["0001-01-01T00:00", "9999-12-31T23:30"])
def test_the_activity_form_refuses_dates_outside_the_range(rep_client, when):
    response = rep_client.post(reverse("activity-create"), {"kind": "call", "due_at": when})
    assert response.status_code == 400
    assert response.context["form"].errors["due_at"] == [OUT_OF_RANGE]
    assert not Activity.objects.exists()


@pytest.mark.sqlite
def test_the_database_itself_refuses_a_date_outside_the_range(rep):
    activity = ActivityFactory(rep=rep)
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.filter(pk=activity.pk).update(
            due_at=dt.datetime(1, 1, 1, 12, tzinfo=dt.UTC)
        )


# --- 2. Deeply nested JSON --------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize("body", ["[" * 1000, '{"a":' * 1000 + "1" + "}" * 1000, "[" * 100_000])
def test_deeply_nested_json_is_a_400(rep_api, body):
    response = rep_api.generic("POST", "/api/deals/", body, content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.sqlite
@pytest.mark.parametrize("body", [b"\xff\xfe{", b"NaN", b'{"title": Infinity}'])
def test_json_that_is_not_json_is_a_400(rep_api, body):
    response = rep_api.generic("POST", "/api/deals/", body, content_type="application/json")
    assert response.status_code == 400


# --- 3. Ids that are not ids ------------------------------------------------------------------


class RAW:
    """JSON text sent as it is (json.dumps would write infinity as Infinity)."""

    def __init__(self, text: str) -> None:
        self.text = text


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "value",
    [
        lambda pk: "1e309",
        lambda pk: RAW("1e309"),  # a JSON number too large for a float: read as infinity
        lambda pk: pk + 0.9,  # would be read as pk
        lambda pk: f"{pk}.9",
        lambda pk: f"{pk}.0",
        lambda pk: True,
        lambda pk: -pk,
        lambda pk: 2**64,
        lambda pk: "\u0661",  # ARABIC-INDIC DIGIT ONE: a digit, but not an ASCII one
        lambda pk: [pk],
    ],
)
def test_a_related_id_must_be_a_whole_number(rep, rep_api, value):
    customer = CustomerFactory(owner=rep)
    given = value(customer.pk)
    fragment = given.text if isinstance(given, RAW) else json.dumps(given)
    body = f'{{"customer": {fragment}, "title": "T", "amount": "1"}}'

    response = rep_api.generic("POST", "/api/deals/", body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "customer" in response.json()
    assert not Deal.objects.exists()


@pytest.mark.sqlite
@pytest.mark.parametrize("raw", ["1e309", "1.9", "99999999999999999999999", "-1", "abc"])
def test_an_id_in_the_url_that_is_not_an_id_is_a_404(rep_api, raw):
    assert rep_api.get(f"/api/deals/{raw}/").status_code == 404
    assert rep_api.post(f"/api/deals/{raw}/close/", {"outcome": "won"}).status_code == 404


# --- 4. Date filters --------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "query",
    [
        "closed_after=9999-12-31T23:59:59-12:00",
        "closed_after=2030-01-01T00:00:00%2B17:52",
        "closed_before=0001-01-01T00:00:00%2B14:00",
        "closed_before=not-a-date",
    ],
)
@pytest.mark.parametrize(
    ("endpoint", "fields"),
    [
        ("/api/deals/", ("closed_after", "closed_before")),
        ("/api/activities/", ("due_after", "due_before")),
        ("/api/tasks/", ("due_after", "due_before")),
    ],
)
def test_every_date_filter_answers_400_for_an_absurd_date(rep_api, query, endpoint, fields):
    name, _, value = query.partition("=")
    field = fields[0] if name == "closed_after" else fields[1]
    response = rep_api.get(f"{endpoint}?{field}={value}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.sqlite
def test_a_date_filter_with_a_real_offset_works(rep_api):
    assert rep_api.get("/api/deals/?closed_after=2026-11-01T00:00:00%2B14:00").status_code == 200


# --- 5. Health proves the schema is there ------------------------------------------------------


def test_health_is_unhealthy_when_the_sqlite_file_is_gone(tmp_path):
    # A vanished SQLite file is recreated empty on connect: the app itself, started on a path
    # where no database is, must say so.
    probe = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/health/'); print(r.status_code, r.content.decode())"
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'gone.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    status, _, body = result.stdout.strip().splitlines()[-1].partition(" ")
    assert status == "503", result.stdout + result.stderr
    assert json.loads(body)["checks"]["database"]["status"] == "unhealthy"


@pytest.mark.django_db(transaction=True)
def test_health_is_unhealthy_on_a_postgresql_database_without_its_schema(client):
    with database_elsewhere(NAME="postgres"):  # the server's own database: no tables of ours
        response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "unhealthy"


@pytest.mark.django_db(transaction=True)
def test_a_database_host_that_never_answers_is_a_quick_503(client):
    import socket
    import time

    # A port that completes the TCP handshake (the kernel's backlog) and then says nothing.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    options = {**connection.settings_dict["OPTIONS"], "connect_timeout": 1}
    started = time.monotonic()
    try:
        port = str(silent.getsockname()[1])
        with database_elsewhere(HOST="127.0.0.1", PORT=port, OPTIONS=options):
            response = client.get("/health/")
    finally:
        elapsed = time.monotonic() - started
        silent.close()
    assert response.status_code == 503
    assert elapsed < 5
    assert settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] == 3


# --- 6. Parallel password guessing -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_are_checked_at_most_the_limit(settings, monkeypatch):
    from django.contrib.auth.backends import ModelBackend

    settings.LOGIN_FAILURE_LIMIT = 10
    UserFactory(username="target", groups=["rep"])
    checked = []  # list.append is atomic: safe from the threads
    authenticate = ModelBackend.authenticate

    def counting(self, request, username=None, password=None, **kwargs):
        checked.append(username)
        return authenticate(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counting)
    barrier = threading.Barrier(30)
    statuses: list[int] = []

    def guess() -> None:
        try:
            client = Client()
            barrier.wait()
            response = client.post(reverse("login"), {"username": "target", "password": "x"})
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 10 + [429] * 20
    assert len(checked) == 10  # no password over the limit was even checked
    # The right password is refused now too, unchecked, until the window passes.
    late = Client().post(reverse("login"), {"username": "target", "password": PASSWORD})
    assert late.status_code == 429
    assert "Too many failed logins" in late.content.decode()
    assert len(checked) == 10


# --- 7. HEAD ----------------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize("path", ["/health/", "/health/live"])
def test_head_answers_like_get(client, path):
    response = client.head(path)
    assert response.status_code in (200, 503)
    assert response.content == b""
    assert client.head("/health/live").status_code == 200


# --- 8. Content-Security-Policy ---------------------------------------------------------------


@pytest.mark.sqlite
def test_pages_carry_a_content_security_policy_without_inline_code(rep_client):
    def policy(url: str) -> dict[str, str]:
        header = rep_client.get(url)["Content-Security-Policy"]
        return dict(part.strip().partition(" ")[::2] for part in header.split(";"))

    for url in (reverse("home"), reverse("deal-list"), reverse("login"), "/admin/login/"):
        directives = policy(url)
        assert directives["script-src"] == directives["style-src"] == "'self'"
        assert directives["default-src"] == "'self'"
    # Swagger UI writes <style> elements: its page alone allows inline styles, never scripts.
    docs = policy("/api/docs/")
    assert docs["script-src"] == "'self'"
    assert docs["style-src"] == "'self' 'unsafe-inline'"


# --- 9. List settings -------------------------------------------------------------------------


def _settings_value(expression: str, **env: str) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if k != "ALLOWED_HOSTS"}
    code = f"from django.conf import settings; print({expression})"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR, env={**keep, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_allowed_hosts_are_trimmed():
    result = _settings_value("settings.ALLOWED_HOSTS", ALLOWED_HOSTS="crm.example.com, localhost ,")
    assert result.stdout.strip().splitlines()[-1] == "['crm.example.com', 'localhost']"


def test_an_allowed_host_that_is_a_url_stops_start_up():
    result = _settings_value("settings.ALLOWED_HOSTS", ALLOWED_HOSTS="https://crm.example.com")
    assert result.returncode != 0
    assert "is not a host name" in result.stderr


# --- 10. One time-zone rule -------------------------------------------------------------------


def test_a_reps_api_calls_speak_the_reps_zone_with_session_or_token(rep):
    rep.timezone = "America/Mexico_City"  # UTC-6 in December
    rep.save()
    ActivityFactory(rep=rep, due_at=dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC))
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=rep.user).key}")
    session = Client()
    session.post(reverse("login"), {"username": rep.user.username, "password": PASSWORD})

    by_token = token.get("/api/activities/").json()["results"][0]["due_at"]
    by_session = session.get("/api/activities/").json()["results"][0]["due_at"]

    assert by_token == by_session == "2026-12-01T09:00:00-06:00"


# --- 11. Documented errors --------------------------------------------------------------------


def test_the_schema_documents_the_error_answers(admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()
    close = schema["paths"]["/api/deals/{id}/close/"]["post"]["responses"]
    listing = schema["paths"]["/api/deals/"]["get"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "413", "429"} <= set(close)
    # A page past the last is a 404 ("Invalid page.").
    assert {"200", "400", "401", "403", "404", "429"} <= set(listing)
    assert schema["paths"]["/api/deals/"]["post"]["requestBody"]["content"]["application/json"]


# --- 12. Bodies too large or with too many fields ------------------------------------------------

MANY_FIELDS = "&".join(f"f{index}=1" for index in range(10_001))
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("path", ["/deals/new/", "/api/deals/", "/accounts/login/"])
def test_a_body_of_too_many_fields_is_a_400_on_pages_and_the_api(rep, path):
    client = Client(raise_request_exception=False)
    client.post(reverse("login"), {"username": rep.user.username, "password": PASSWORD})
    answer = client.post(path, MANY_FIELDS, content_type=FORM)
    assert answer.status_code == 400
    assert not Deal.objects.exists()


@pytest.mark.parametrize("path", ["/deals/new/", "/api/deals/", "/accounts/login/"])
@pytest.mark.parametrize("content_type", [FORM, "application/json"])
def test_a_body_over_the_limit_is_a_413_on_pages_and_the_api(rep, path, content_type):
    client = Client(raise_request_exception=False)
    client.post(reverse("login"), {"username": rep.user.username, "password": PASSWORD})
    answer = client.post(path, "a=" + "x" * 1_100_000, content_type=content_type)
    assert answer.status_code == 413
    assert not Deal.objects.exists()

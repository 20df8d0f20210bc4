"""Production hardening: a request id on every answer, log line and error page; JSON logs;
Sentry when configured; gunicorn's configuration; beat's heartbeat at start."""

import io
import json
import logging
import os
import re
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import path

from crm import urls as crm_urls
from crm.logs import CrmJsonFormatter, RequestIdFilter
from crm.tests.test_deploy import PRODUCTION_ENV, _manage
from crm.views import SERVER_ERROR

BASE_DIR = Path(settings.BASE_DIR)
MADE = re.compile(r"[0-9a-f]{32}")


def boom(request):
    raise RuntimeError("the view failed")


# A URLconf of this module's own (override_settings(ROOT_URLCONF=__name__)): views that fail.
urlpatterns = [path("boom/", boom), path("api/boom/", boom), *crm_urls.urlpatterns]
handler500 = "crm.views.server_error"


@pytest.mark.sqlite
@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/health/live", "/api/deals/", "/nowhere/"])
def test_every_answer_carries_a_request_id_made_here(client, url):
    response = client.get(url)
    assert MADE.fullmatch(response["X-Request-ID"]), url


@pytest.mark.sqlite
@pytest.mark.django_db
@pytest.mark.parametrize(
    "offered",
    ["0b8a7c9e-3f1d-4c55-9a1e-7f3b2d1c0e9f", "Root=1-67891233-abcdef012345678912345678", "a" * 128],
)
def test_a_well_formed_id_from_the_proxy_is_kept(client, offered):
    assert client.get("/health/live", HTTP_X_REQUEST_ID=offered)["X-Request-ID"] == offered


@pytest.mark.sqlite
@pytest.mark.django_db
@pytest.mark.parametrize(
    "offered",
    ["", "a" * 129, "abc\ndef", "abc def", 'x"y', "a\x00b", "<script>", "id;drop", "é"],
)
def test_an_id_from_the_proxy_that_could_not_be_logged_safely_is_replaced(client, offered):
    answered = client.get("/health/live", HTTP_X_REQUEST_ID=offered)["X-Request-ID"]
    assert MADE.fullmatch(answered)


@pytest.mark.sqlite
@pytest.mark.django_db
def test_the_log_lines_of_a_request_carry_its_id_as_json(client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(CrmJsonFormatter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        client.get("/nowhere/", HTTP_X_REQUEST_ID="req-42")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["request_id"] == "req-42"
    assert line["level"] == "WARNING"
    assert line["logger"] == "django.request"
    assert line["message"] == "Not Found: /nowhere/"
    assert "timestamp" in line


def test_production_logs_are_json_lines_with_a_request_id():
    result = _manage(
        "shell", "-c", "import logging; logging.getLogger('crm.ops').warning('disk is \"full\"')",
        env=PRODUCTION_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert (line["level"], line["logger"], line["message"]) == (
        "WARNING", "crm.ops", 'disk is "full"',
    )  # fmt: skip
    assert line["request_id"] == "-"  # outside a request


def test_plain_logs_on_request_and_nothing_else():
    result = _manage(
        "shell", "-c", "import logging; logging.getLogger('crm.ops').warning('hello')",
        env={**PRODUCTION_ENV, "LOG_FORMAT": "plain"},
    )  # fmt: skip
    assert re.search(r" WARNING crm\.ops \[-\] hello$", result.stderr.strip()), result.stderr
    refused = _manage("check", env={**PRODUCTION_ENV, "LOG_FORMAT": "xml"})
    assert refused.returncode != 0
    assert 'LOG_FORMAT is "json" or "plain".' in refused.stderr


def test_sentry_reports_when_a_dsn_is_set():
    probe = "import sentry_sdk; print(sentry_sdk.get_client().is_active())"
    off = _manage("shell", "-c", probe, env=PRODUCTION_ENV)
    on = _manage(
        "shell", "-c", probe,
        env={**PRODUCTION_ENV, "SENTRY_DSN": "https://public@sentry.example.com/1"},
    )  # fmt: skip
    answers = (off.stdout.strip().splitlines()[-1], on.stdout.strip().splitlines()[-1])
    assert answers == ("False", "True"), off.stderr + on.stderr


@pytest.mark.sqlite
@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_page_shows_the_request_id():
    response = Client(raise_request_exception=False).get("/boom/", HTTP_X_REQUEST_ID="req-500")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "req-500"
    content = response.content.decode()
    assert SERVER_ERROR in content
    assert "Reference for an administrator: <code>req-500</code>" in content


@pytest.mark.sqlite
@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_an_api_server_error_answers_json_with_the_request_id():
    response = Client(raise_request_exception=False).get("/api/boom/")
    assert response.status_code == 500
    assert response.json() == {"detail": SERVER_ERROR, "request_id": response["X-Request-ID"]}


@pytest.mark.sqlite
@pytest.mark.django_db
def test_not_found_and_forbidden_pages_show_the_request_id(rep):
    from crm.testing import signed_in
    from crm.tests.factories import UserFactory

    missing = signed_in(rep.user).get("/customers/999999/", HTTP_X_REQUEST_ID="req-404")
    assert missing.status_code == 404
    assert "<code>req-404</code>" in missing.content.decode()
    refused = signed_in(UserFactory()).get("/deals/", HTTP_X_REQUEST_ID="req-403")
    assert refused.status_code == 403
    assert "<code>req-403</code>" in refused.content.decode()


@pytest.mark.django_db(transaction=True)  # the beat takes its sender's lease in the database
def test_beat_sends_its_heartbeat_at_its_first_tick():
    from crm.celery import app
    from crm.jobs.scheduler import BEAT_HEARTBEAT_ENTRY, RegistryScheduler

    with tempfile.TemporaryDirectory() as folder:
        scheduler = RegistryScheduler(app=app, schedule_filename=f"{folder}/schedule")
        try:
            due = {name for name, entry in scheduler.schedule.items() if entry.is_due().is_due}
            sent = []
            scheduler.apply_entry = lambda entry, producer=None: sent.append(entry.name)
            scheduler.tick()
        finally:
            scheduler.close()
    assert due == set(BEAT_HEARTBEAT_ENTRY)
    assert sent == list(BEAT_HEARTBEAT_ENTRY)


def _gunicorn_settings(**env: str) -> dict:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_gunicorn_workers_follow_the_cpus_unless_told():
    assert _gunicorn_settings()["workers"] == os.cpu_count() * 2 + 1
    told = _gunicorn_settings(WEB_CONCURRENCY="4", GUNICORN_TIMEOUT="60")
    assert (told["workers"], told["timeout"]) == (4, 60)
    defaults = _gunicorn_settings()
    assert defaults["graceful_timeout"] == 30
    assert defaults["accesslog"] == "-"
    assert "request_id=%({x-request-id}o)s" in defaults["access_log_format"]


def test_gunicorn_loads_its_config_and_the_app_with_production_settings():
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "--config", "gunicorn.conf.py",
         "crm.wsgi:application"],
        cwd=BASE_DIR, env={**clean, **PRODUCTION_ENV}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_web_service_and_the_image_run_gunicorn_with_its_config():
    import yaml

    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    assert "--config gunicorn.conf.py" in compose["services"]["web"]["command"]
    assert '"--config", "gunicorn.conf.py"' in (BASE_DIR / "Dockerfile").read_text()


@pytest.mark.sqlite
@pytest.mark.django_db
def test_the_lean_paths_carry_a_request_id_too():
    from wsgiref.util import setup_testing_defaults

    from crm.wsgi import application

    environ = {"PATH_INFO": "/t/tracker.js", "HTTP_HOST": "localhost", "HTTP_X_REQUEST_ID": "t-1"}
    setup_testing_defaults(environ)
    answered = []
    application(environ, lambda status, headers: answered.append(dict(headers)))
    assert answered[0]["X-Request-ID"] == "t-1"

"""The production configuration: `check --deploy`, start-up guards and docker-compose.yml."""

import importlib
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

BASE_DIR = Path(settings.BASE_DIR)

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "crm.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://crm.example.com",
    "DATABASE_URL": "postgres://crm:secret@db.internal:5432/crm",
    "REDIS_URL": "redis://cache.internal:6379/0",
}
# Variables the test harness sets that production leaves at their defaults.
TEST_ONLY = [
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "STATIC_MANIFEST",
    "CELERY_BROKER_URL",
    "API_THROTTLE_USER",
    "API_THROTTLE_ANON",
]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ONLY and k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_start_up_stops_without_required_settings(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage("check", env={**env, missing: ""})
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize("hours", ["nan", "inf", "-inf", "1e309", "-3", "8761", "", "2 days"])
def test_start_up_stops_with_a_key_grace_that_is_no_number_of_hours(hours):
    result = _manage("check", env={"DEBUG": "1", "TRACKING_KEY_GRACE_HOURS": hours})
    assert result.returncode != 0
    assert "TRACKING_KEY_GRACE_HOURS is a number of hours: 0 to 8760." in result.stderr


@pytest.mark.parametrize("hours", ["0", "0.5", " 36 ", "8760"])
def test_a_key_grace_of_zero_to_a_year_starts(hours):
    result = _manage("check", env={"DEBUG": "1", "TRACKING_KEY_GRACE_HOURS": hours})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "env, said",
    [
        ({"TRACKING_QUEUE": "redis", "DATABASE_URL": "sqlite:///x.sqlite3",
          "REDIS_URL": "redis://127.0.0.1:1/0"}, "TRACKING_QUEUE=redis needs PostgreSQL"),
        ({"TRACKING_ROLLUP_DAYS": "1"}, "TRACKING_ROLLUP_DAYS is a whole number of days"),
        ({"TRACKING_ROLLUP_DAYS": "1e309"}, "TRACKING_ROLLUP_DAYS is a whole number of days"),
        ({"TRACKING_ROLLUP_DAYS": "7.5"}, "TRACKING_ROLLUP_DAYS is a whole number of days"),
    ],
)  # fmt: skip
def test_start_up_stops_with_tracking_settings_that_cannot_work(env, said):
    result = _manage("check", env={"DEBUG": "1", **env})
    assert result.returncode != 0
    assert said in result.stderr


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_defines_the_production_services_with_healthchecks():
    services = _compose()["services"]
    assert set(services) == {"migrate", "web", "worker", "beat", "postgres", "redis"}
    for name, service in services.items():
        assert "healthcheck" in service, name
    for name in ("web", "worker", "beat"):
        migrate = services[name]["depends_on"]["migrate"]
        assert migrate["condition"] == "service_completed_successfully"
    assert _compose()["volumes"]


def test_compose_commands_refer_to_modules_that_exist():
    services = _compose()["services"]
    commands = get_commands()
    for name in ("migrate", "web", "worker", "beat"):
        command = services[name]["command"]
        command = command if isinstance(command, str) else " ".join(command)
        for module, attribute in re.findall(r"gunicorn ([\w.]+):(\w+)", command):
            assert hasattr(importlib.import_module(module), attribute), command
        for package in re.findall(r"celery -A ([\w.]+)", command):
            assert hasattr(importlib.import_module(f"{package}.celery"), "app"), command
        for management_command in re.findall(r"manage\.py (\w+)", command):
            assert management_command in commands, command
            assert (BASE_DIR / "manage.py").exists()
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile


def test_every_setting_read_from_the_environment_is_documented():
    source = (BASE_DIR / "crm" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    read |= set(re.findall(r'_required_in_production\(\s*"([A-Z_]+)"', source))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (BASE_DIR / ".env.example").read_text(), re.M))
    assert read - documented == set()

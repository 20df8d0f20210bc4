"""`manage.py verify_deployment`: one line per check, a count, a verdict and the exit code."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from django.utils import timezone

from crm.jobs import services as jobs_services
from crm.jobs.models import JobRun, JobRunStatus
from crm.jobs.registry import registered_jobs
from crm.testing.celery_worker import celery_worker
from crm.tests.factories import UserFactory

# What the test harness relaxes and production keeps on (crm.testing.pytest_plugin).
PRODUCTION_SECURITY = {
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
}
STATUSES = {"pass", "fail", "warn", "skip"}


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_deployment", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def verify_json(*args: str) -> tuple[int, dict]:
    code, out = verify("--json", *args)
    return code, json.loads(out)


def line(output: str, title: str) -> str:
    return next(row for row in output.splitlines() if title in row)


def every_job_ran() -> None:
    now = timezone.now()
    JobRun.objects.bulk_create(
        JobRun(name=job.name, status=JobRunStatus.SUCCEEDED, started_at=now, finished_at=now)
        for job in registered_jobs().values()
        if job.schedule is not None
    )


@pytest.fixture
def worker(django_db_setup, django_db_blocker):
    with celery_worker() as process:
        yield process


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@override_settings(**PRODUCTION_SECURITY)
def test_every_check_passes_on_a_migrated_database_with_a_worker(worker, role_groups):
    jobs_services.heartbeat_record(component="beat")  # (the worker records its own)
    # Installed just now (the test database may have been migrated a while ago).
    MigrationRecorder.Migration.objects.update(applied=timezone.now())

    # A fresh install: the jobs have not run yet, which warns, and only warns.
    code, output = verify()
    assert code == 1, output
    assert line(output, "Each job ran within its interval").startswith("⚠")
    assert "Not ready: 1 warning(s); --allow-warnings accepts them." in output
    code, output = verify("--allow-warnings")
    assert code == 0, output
    assert "Ready, with 1 warning(s)." in output

    every_job_ran()
    code, output = verify()
    assert code == 0, output
    rows = output.splitlines()
    checks = rows[:-2]
    assert all(row.startswith("✓") for row in checks), output
    titles = [row[2:].split(":")[0] for row in checks]
    assert titles == [
        "Migrations applied", "Tables, columns, indexes and constraints exist",
        "tracking's triggers exist", "Beat's schedule holds every registered job",
        "A worker answers", "Each job ran within its interval", "Health is healthy",
        "`check --deploy` is clean", "No demo logins",
    ]  # fmt: skip
    assert rows[-2] == f"{len(checks)} / {len(checks)} checks passed"
    assert rows[-1] == "Ready."

    code, body = verify_json()
    assert code == 0
    assert body["ok"] is True
    assert body["failed"] == body["warnings"] == body["skipped"] == 0
    assert body["passed"] == body["applicable"] == len(body["checks"])


@pytest.mark.django_db
def test_json_names_every_check_with_its_status_and_counts():
    code, body = verify_json()
    assert code == 1
    assert set(body) == {
        "checks", "passed", "applicable", "failed", "warnings", "skipped", "ok", "verdict",
    }  # fmt: skip
    names = [check["name"] for check in body["checks"]]
    assert names == [
        "migrations", "schema", "triggers:tracking", "beat_schedule", "worker", "jobs",
        "health", "check_deploy", "demo_accounts",
    ]  # fmt: skip
    for check in body["checks"]:
        assert set(check) == {"name", "title", "status", "detail"}
        assert check["status"] in STATUSES
    statuses = [check["status"] for check in body["checks"]]
    assert body["passed"] == statuses.count("pass")
    assert body["failed"] == statuses.count("fail")
    assert body["applicable"] == len(statuses) - statuses.count("skip")
    assert body["ok"] is False
    assert body["verdict"].startswith("Not ready:")


@pytest.mark.django_db
def test_no_worker_fails_the_worker_check():
    code, output = verify()
    assert code == 1
    assert line(output, "A worker answers") == "✗ A worker answers: no worker answered within 2 s"
    assert output.splitlines()[-1].startswith("Not ready:")


@pytest.mark.django_db
def test_a_dropped_index_fails_the_schema_check():
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX job_run_name_started")
    code, output = verify()
    assert code == 1
    assert line(output, "Tables, columns, indexes") == (
        "✗ Tables, columns, indexes and constraints exist: "
        "missing index job_run_name_started on crm_jobrun"
    )


@pytest.mark.django_db
def test_a_dropped_constraint_and_column_fail_the_schema_check():
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE crm_jobrun DROP CONSTRAINT job_run_status_valid")
        cursor.execute("ALTER TABLE crm_heartbeat DROP COLUMN seen_at")
    _, output = verify()
    schema = line(output, "Tables, columns, indexes")
    assert "constraint job_run_status_valid on crm_jobrun" in schema
    assert "column crm_heartbeat.seen_at" in schema


@pytest.mark.django_db
def test_an_unapplied_migration_fails_the_migrations_check():
    # The app's latest migration (one another depends on would not be planned again).
    latest = MigrationRecorder.Migration.objects.filter(app="tracking").latest("name")
    latest.delete()
    code, output = verify()
    assert code == 1
    assert line(output, "Migrations applied") == (
        f"✗ Migrations applied: 1 not applied: tracking.{latest.name} (run `manage.py migrate`)"
    )


@pytest.mark.django_db
def test_a_dropped_tracking_trigger_fails_its_check():
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER tracking_raw_tenant_kept ON tracking_rawevent")
    code, output = verify()
    assert code == 1
    assert line(output, "tracking's triggers exist") == (
        "✗ tracking's triggers exist: tracking_raw_tenant_kept"
    )


@pytest.mark.django_db
def test_a_job_that_stopped_running_fails_and_says_since_when():
    every_job_ran()
    JobRun.objects.filter(name="close_abandoned_job_runs").update(
        started_at=timezone.now() - timezone.timedelta(hours=1)
    )
    _, output = verify()
    jobs = line(output, "Each job ran within its interval")
    assert jobs.startswith("✗ Each job ran within its interval: late: close_abandoned_job_runs (")
    assert "due 59 min ago" in jobs


@pytest.mark.django_db
def test_demo_logins_fail_in_production_mode():
    from crm.demo import DEMO_PASSWORD

    UserFactory(username="rep1", password=DEMO_PASSWORD)
    UserFactory(username="rep2", password="not-the-demo-one")
    UserFactory(username="supervisor1", password=DEMO_PASSWORD, is_active=False)
    _, output = verify()
    assert line(output, "No demo logins") == (
        "✗ No demo logins: 1 active with the published demo password: rep1 "
        "(deactivate them or set new passwords)"
    )


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_production_only_checks_are_skipped_in_development():
    _, body = verify_json()
    skipped = {
        check["name"]: check["detail"] for check in body["checks"] if check["status"] == "skip"
    }
    assert skipped == {
        "check_deploy": "DEBUG is on: a development installation",
        "demo_accounts": "DEBUG is on: demo logins are expected in development",
    }
    assert body["applicable"] == len(body["checks"]) - 2


@pytest.mark.django_db
def test_check_deploy_problems_are_named():
    _, output = verify()  # the test settings leave the HTTPS redirect off
    assert line(output, "`check --deploy` is clean") == (
        "✗ `check --deploy` is clean: security.W004, security.W008, security.W012, "
        "security.W016 (`manage.py check --deploy` explains them)"
    )


@pytest.mark.sqlite
@pytest.mark.django_db
def test_on_sqlite_every_check_runs_and_what_does_not_apply_says_why():
    jobs_services.heartbeat_record(component="worker")
    jobs_services.heartbeat_record(component="beat")
    every_job_ran()
    _, body = verify_json()
    by_name = {check["name"]: check for check in body["checks"]}
    for name in ("migrations", "schema", "triggers:tracking", "beat_schedule", "jobs", "health"):
        assert by_name[name]["status"] == "pass", by_name[name]
    if connection.vendor == "sqlite":
        assert by_name["worker"] == {
            "name": "worker",
            "title": "A worker answers",
            "status": "skip",
            "detail": "tasks run in the calling process (CELERY_TASK_ALWAYS_EAGER): "
            "no worker to ask",
        }


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_trigger_declaration_whose_sql_creates_another_name_is_refused():
    from django.db import transaction

    from crm.triggers import InstallTriggers, Trigger, TriggerNotCreated

    create = (
        "CREATE TRIGGER {name} BEFORE UPDATE ON crm_heartbeat FOR EACH ROW "
        + ("EXECUTE FUNCTION suppress_redundant_updates_trigger()"
           if connection.vendor == "postgresql" else "BEGIN SELECT 1; END")
    )  # fmt: skip
    declared = Trigger(
        name="heartbeat_declared",
        table="crm_heartbeat",
        create={connection.vendor: create.format(name="heartbeat_created")},
    )

    class Editor:  # what the operation uses of a schema editor (SQLite's refuses to nest)
        def __init__(self):
            self.connection = connection

        def execute(self, sql, params=None):
            with connection.cursor() as cursor:
                cursor.execute(sql)

    refused = pytest.raises(TriggerNotCreated, match="heartbeat_declared on crm_heartbeat")
    with refused, transaction.atomic():
        InstallTriggers(declared).database_forwards("crm", Editor(), None, None)

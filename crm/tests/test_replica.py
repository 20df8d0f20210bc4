"""The read replica's router and settings (crm.replica). Here the replica alias is the tests'
mirror of the primary; tracking/tests/test_replica.py runs the pages on a real streaming one."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import router

from crm import replica
from crm.jobs.models import Heartbeat
from tracking.models import RawEvent, TrackingTenant
from tracking.tests.helpers import make_tenant

pytestmark = pytest.mark.django_db


def test_the_tests_run_with_a_replica_alias_that_mirrors_the_primary():
    assert settings.DATABASES[replica.REPLICA]["TEST"]["MIRROR"] == "default"
    assert settings.DATABASE_ROUTERS == ["crm.replica.ReplicaRouter"]
    # An alias naming the primary's own database is read on the primary's connection, with no
    # lag to ask about (a query neither server runs).
    assert replica.replica_is_primary()
    with replica.replica_reads() as reading:
        assert (reading.source, reading.state, reading.notice) == (replica.PRIMARY, None, "")
        assert router.db_for_read(RawEvent) == replica.PRIMARY


def test_reads_go_to_the_replica_only_inside_the_scope_and_writes_never():
    tenant = make_tenant()
    assert router.db_for_read(TrackingTenant) == replica.PRIMARY
    with replica.replica_reads(replica.Reading(replica.REPLICA)):
        assert router.db_for_read(RawEvent) == replica.REPLICA
        assert router.db_for_write(TrackingTenant, instance=tenant) == replica.PRIMARY
        assert router.db_for_write(Heartbeat) == replica.PRIMARY
    assert router.db_for_read(TrackingTenant) == replica.PRIMARY
    # Outside the scope a row read from the replica is followed and saved on the primary.
    tenant._state.db = replica.REPLICA
    assert router.db_for_read(RawEvent, instance=tenant) == replica.PRIMARY
    assert router.db_for_write(TrackingTenant, instance=tenant) == replica.PRIMARY
    assert router.allow_relation(tenant, make_tenant("other")) is True


def test_migrations_never_run_on_the_replica():
    assert router.allow_migrate(replica.REPLICA, "tracking") is False
    assert router.allow_migrate(replica.PRIMARY, "tracking") is True


def test_a_thread_started_inside_the_scope_reads_the_primary():
    import threading

    seen = []
    with replica.replica_reads(replica.Reading(replica.REPLICA)):
        thread = threading.Thread(target=lambda: seen.append(router.db_for_read(RawEvent)))
        thread.start()
        thread.join()
    assert seen == [replica.PRIMARY]


def test_wal_positions_are_byte_offsets():
    assert replica._lsn("0/0") == 0
    assert replica._lsn("16/B374D848") - replica._lsn("16/B374D840") == 8
    assert replica._lsn("1/0") == 1 << 32


def _check(**env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DEBUG": "1", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=environment,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "primary, replica_url",
    [
        ("sqlite:///x.sqlite3", "postgres://crm@replica.internal/crm"),
        ("postgres://crm@db.internal/crm", "sqlite:///replica.sqlite3"),
    ],
)
def test_start_up_stops_with_a_replica_that_is_no_postgresql_replica(primary, replica_url):
    result = _check(DATABASE_URL=primary, DATABASE_REPLICA_URL=replica_url)
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URL is a streaming replica of the PostgreSQL" in result.stderr


@pytest.mark.parametrize("lag", ["-1", "1e309", "soon", "1.5", ""])
def test_start_up_stops_with_a_tolerated_lag_that_is_no_number_of_seconds(lag):
    result = _check(DATABASE_REPLICA_MAX_LAG=lag)
    assert result.returncode != 0
    assert "DATABASE_REPLICA_MAX_LAG is a whole number of seconds: 0 or more." in result.stderr


def _database_settings(**env: str) -> list[str]:
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'crm.settings');"
        "django.setup(); from django.conf import settings as s;"
        "print(sorted(s.DATABASES), getattr(s, 'DATABASE_ROUTERS', []),"
        " s.DATABASE_REPLICA_IS_PRIMARY,"
        " s.DATABASES.get('replica', {}).get('TEST', {}).get('MIRROR'))"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True,
        env={**environment, "DEBUG": "1", **env}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_a_replica_url_there_is_no_replica_alias():
    assert _database_settings() == "['default'] [] False None"


def test_a_replica_url_adds_the_alias_the_router_and_the_mirror_for_tests():
    said = _database_settings(
        DATABASE_URL="postgres://crm@db.internal/crm",
        DATABASE_REPLICA_URL="postgres://crm@replica.internal/crm",
    )
    assert said == "['default', 'replica'] ['crm.replica.ReplicaRouter'] False default"
    same = _database_settings(
        DATABASE_URL="postgres://crm@db.internal/crm",
        DATABASE_REPLICA_URL="postgres://crm@db.internal/crm",
    )
    assert " True " in same

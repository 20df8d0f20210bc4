"""A read replica for tests (crm.replica).

Every test runs with the `replica` alias (crm.testing.pytest_plugin sets DATABASE_REPLICA_URL to
the test database, TEST MIRROR "default"): an alias naming the primary's own database is read
through the primary's connection (crm.replica.replica_is_primary), so the dashboards' scope
runs in every test and a test's statements are counted where they always were.

A real one: `ReplicaServer` makes a base backup of the harness's running PostgreSQL with
`pg_basebackup -R` (the server's own binaries; initdb's trust rules already let local
replication connections in, and `wal_level=replica` and `max_wal_senders` are PostgreSQL's
defaults) and starts it as a hot standby on a port of its own; the fixture `real_replica`
points the alias at it for one test, which names the alias in its databases and runs on a
transactional database (the replica sees committed rows only).
"""

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from crm.testing.servers import PostgresServer, ServerError


@dataclass
class ReplicaServer(PostgresServer):
    """A hot standby of the PostgreSQL at primary_host:primary_port, streaming from it."""

    primary_host: str = "127.0.0.1"
    primary_port: int = 5432

    def start(self) -> "ReplicaServer":
        if self._as_root:
            shutil.chown(self.base_dir, user="postgres", group="postgres")
        self._run(
            str(self.bindir / "pg_basebackup"),
            "-h", self.primary_host,
            "-p", str(self.primary_port),
            "-U", "postgres",
            "-D", str(self.data_dir),
            "-R",  # standby.signal and primary_conninfo: it starts as a streaming replica
            "-X", "stream",
            "--checkpoint=fast",
            "--no-sync",
        )  # fmt: skip
        self.resume()  # pg_ctl -w: back once it accepts connections (reads, on a standby)
        return self


@pytest.fixture(scope="module")
def streaming_replica(django_db_setup, django_db_blocker) -> Iterator[ReplicaServer]:
    """A streaming replica of the test run's PostgreSQL (its test database included), for the
    tests of one module."""
    from django.db import connections

    primary = connections["default"].settings_dict
    server = ReplicaServer(
        primary_host=primary["HOST"] or "127.0.0.1", primary_port=int(primary["PORT"])
    )
    try:
        server.start()
    except ServerError as error:
        server.stop()
        if not os.environ.get("TEST_DATABASE_URL"):
            raise
        # A server of the tester's own may refuse replication connections; the harness's
        # own never does.
        pytest.skip(f"no base backup of the server at TEST_DATABASE_URL: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def real_replica(streaming_replica) -> Iterator[ReplicaServer]:
    """The replica alias on the streaming replica for one test (every thread's connection of
    the alias: the live server's too)."""
    from django.db import connections
    from django.test import override_settings

    from crm import replica

    alias = connections[replica.REPLICA]
    original = dict(alias.settings_dict)
    alias.close()
    alias.settings_dict.update(
        HOST="127.0.0.1",
        PORT=str(streaming_replica.port),
        NAME=connections[replica.PRIMARY].settings_dict["NAME"],  # the test database
    )
    replica.forget_failures()
    try:
        with override_settings(DATABASE_REPLICA_IS_PRIMARY=False):
            yield streaming_replica
    finally:
        with contextlib.suppress(Exception):
            alias.close()
        alias.settings_dict.clear()
        alias.settings_dict.update(original)
        replica.forget_failures()

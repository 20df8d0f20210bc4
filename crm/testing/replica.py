"""A read replica for tests (crm.replica).

Every test runs with the `replica` alias (crm.testing.pytest_plugin sets DATABASE_REPLICA_URL to
the test database, TEST MIRROR "default"). Django opens a connection of its own for a mirror,
which would not see a transaction-wrapped test's rows; `replica_mirror` (autouse, in the root
conftest) makes the alias use the primary's connection during each test, so the router's
scopes run in every test and a test's statements are counted where they always were.

A real one: `ReplicaServer` makes a base backup of the harness's running PostgreSQL with
`pg_basebackup -R` (the server's own binaries; initdb's trust rules already let local
replication connections in, and `wal_level=replica` and `max_wal_senders` are PostgreSQL's
defaults) and starts it as a hot standby on a port of its own; the fixture `real_replica`
points the alias at it for one test (on a transactional database: the replica sees committed
rows only).
"""

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from crm.testing.servers import PostgresServer


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


@pytest.fixture(autouse=True)
def replica_mirror() -> Iterator:
    """The replica alias on the primary's connection for the test; yields the alias's own
    connection (for `real_replica`), or None without a replica alias."""
    from django.conf import settings
    from django.db import connections

    from crm.replica import PRIMARY, REPLICA

    if REPLICA not in settings.DATABASES:
        yield None
        return
    own = connections[REPLICA]
    connections[REPLICA] = connections[PRIMARY]
    try:
        yield own
    finally:
        connections[REPLICA] = own


@pytest.fixture(scope="module")
def streaming_replica(django_db_setup, django_db_blocker) -> Iterator[ReplicaServer]:
    """A streaming replica of the test run's PostgreSQL (its test database included), for the
    tests of one module."""
    from django.db import connections

    primary = connections["default"].settings_dict
    server = ReplicaServer(
        primary_host=primary["HOST"] or "127.0.0.1", primary_port=int(primary["PORT"])
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def real_replica(streaming_replica, replica_mirror) -> Iterator[ReplicaServer]:
    """The replica alias on the streaming replica for one test."""
    from django.db import connections

    from crm import replica

    own = replica_mirror
    connections[replica.REPLICA] = own
    original = dict(own.settings_dict)
    own.close()
    own.settings_dict.update(HOST="127.0.0.1", PORT=str(streaming_replica.port))
    replica.forget_failures()
    try:
        yield streaming_replica
    finally:
        with contextlib.suppress(Exception):
            own.close()
        own.settings_dict.clear()
        own.settings_dict.update(original)
        replica.forget_failures()

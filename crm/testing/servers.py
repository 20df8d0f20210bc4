"""Throwaway PostgreSQL and Redis servers started from the locally installed binaries.

Used by the test suite (crm.testing.pytest_plugin) and the benchmarks (bench/run.py). Works as a
normal user and as root: PostgreSQL refuses to run as root, so as root the server runs as the
`postgres` system user (created by Debian's postgresql package).
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bindir() -> Path:
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for candidate in candidates:
        if (candidate / "initdb").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ServerError(
        "PostgreSQL server binaries not found: install the 'postgresql' package "
        "(or set PG_BINDIR to the folder holding initdb and pg_ctl)."
    )


@dataclass
class PostgresServer:
    """`with PostgresServer() as pg: pg.url("crm")`"""

    port: int = field(default_factory=free_port)
    base_dir: Path | None = None

    def __post_init__(self) -> None:
        self.bindir = _postgres_bindir()
        self._own_dir = self.base_dir is None
        self.base_dir = Path(self.base_dir or tempfile.mkdtemp(prefix="crm-postgres-"))
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "server.log"
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise ServerError(
                f"{' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}\n{log[-2000:]}"
            )

    def start(self) -> "PostgresServer":
        if self._as_root:
            shutil.chown(self.base_dir, user="postgres", group="postgres")
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        self.resume()
        return self

    def resume(self) -> "PostgresServer":
        """Start the server on its data folder again (after `halt`), on the same port."""
        # Durability is not wanted from a throwaway server; speed is.
        options = (
            f"-p {self.port} -k {self.base_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=256MB"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.data_dir),
            "-o", options,
            "-l", str(self.log_file),
            "-w", "start",
        )  # fmt: skip
        return self

    def halt(self) -> None:
        """Stop the server as a crash or an operator would (every connection cut at once),
        keeping its data for `resume`."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def tool(self, name: str) -> str:
        """The path of one of the server's client programs (pg_dump, pg_restore, psql), of the
        server's own version."""
        return str(self.bindir / name)

    def create_database(self, name: str) -> None:
        self._run(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "postgres", name,
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.data_dir.exists():
            with contextlib.suppress(ServerError):
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"
                )
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    # More redis-server options, after (so over) the defaults: e.g. ("--appendonly", "yes",
    # "--dir", folder) for a server whose data outlives a restart.
    options: tuple[str, ...] = ()

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerError("redis-server not found: install the 'redis-server' package.")
        self.process = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--databases", "16",
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ServerError("redis-server did not answer PING within 10 s")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        process = getattr(self, "process", None)
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

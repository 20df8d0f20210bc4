"""The CRM as it runs in production, in processes of its own: a PostgreSQL and a Redis server,
gunicorn servers, Celery workers and beats, each started with the app's settings through
environment variables, each stopped, killed or restarted on its own. For the resilience tests
(crm/tests/test_resilience.py, test_two_nodes.py) and the benchmarks' cold start and soak.

    with Stack(work_dir) as stack:
        stack.start(schema_from=url_of_a_migrated_database)
        web = stack.gunicorn()
        worker = stack.celery_worker("w1")
        stack.redis.stop(); ...; stack.redis.start()   # an outage of the cache and broker

Every process runs in a session of its own, so that a kill takes its children with it (a
gunicorn master and its workers, a Celery worker and its pool), as when a machine dies.
Importing this module needs neither Django nor the settings.
"""

import contextlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm.testing.servers import PostgresServer, RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
STARTUP_TIMEOUT = 60.0
TEMPLATE = "crm_template"


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 30, interval: float = 0.1, what: str = ""
) -> Any:
    """The predicate's first true value, asked until the deadline; a noisy machine gets the
    whole deadline, a quiet one returns at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or predicate}")
        time.sleep(interval)


def production_environment(*, database_url: str, redis_base: str) -> dict[str, str]:
    """Settings as a production deployment has them, on plain HTTP over loopback; the cache
    and the broker in two databases of one Redis."""
    return {
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "STATIC_MANIFEST": "0",
        "LOG_LEVEL": "INFO",
        "DATABASE_URL": database_url,
        "REDIS_URL": f"{redis_base}/0",
        "CELERY_BROKER_URL": f"{redis_base}/1",
    }


# --- Processes --------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every living process under `pid` (its children, theirs, …), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        for child in parents.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return sorted(found)


def resident_mb(pid: int) -> float | None:
    """A process's resident memory (VmRSS) in MB, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@dataclass
class Process:
    """One started program (and everything it starts), its log, and how to end it."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    started_at: float
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        """The worker processes: gunicorn's workers, a Celery worker's pool."""
        return descendants(self.pid)

    def log(self, tail: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up, no goodbye, as when a machine dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # Whatever is left of the group (a pool child that outlived its parent) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def celery_client(broker: str):
    """A Celery client of `broker` (its results there too), whatever this process's settings
    say: sends tasks by name and pings workers. Close it after use."""
    from celery import Celery

    app = Celery("client", broker=broker, backend=broker, set_as_current=False)
    # CELERY_BROKER_URL in this process's environment would win over `broker`; the read and
    # write URLs win over it.
    app.conf.broker_read_url = app.conf.broker_write_url = broker
    return app


def gunicorn_command(*, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "crm.wsgi:application",
        "-w", str(workers), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5",
    ]  # fmt: skip


def celery_worker_command(name: str, *, concurrency: int, options: tuple[str, ...] = ()):
    return [
        sys.executable, "-m", "celery", "-A", "crm", "worker", "--loglevel=INFO",
        f"--concurrency={concurrency}", "-n", f"{name}@%h", *options,
    ]  # fmt: skip


def start_process(
    name: str, command: list[str], *, env: dict[str, str], log_dir: Path, port: int | None = None
) -> Process:
    """Start `command` in the project's folder, in a session of its own, its output in
    `log_dir/<name>.log`."""
    log_path = Path(log_dir) / f"{name}.log"
    again = 1
    while log_path.exists():  # a log of its own: another process had the name before
        again += 1
        log_path = Path(log_dir) / f"{name}-{again}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Process(name, popen, log_path, time.monotonic(), port)


def http_status(port: int, path: str = "/health/live", timeout: float = 2) -> int | None:
    """The status a GET of `path` answers on the loopback port, None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": "localhost"})
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


class WebClient:
    """A person's browser, or a script, against one of the stack's servers: keeps the cookies
    it is given (the session, the CSRF token), signs in through the login form, sends JSON
    with a token. Every call returns (status, body text, response headers); a server that
    does not answer gives status None (a refused connection during an outage is an answer
    too: it is said so, not raised)."""

    def __init__(self, port: int, *, token: str | None = None, timeout: float = 15) -> None:
        self.port, self.token, self.timeout = port, token, timeout
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int | None, str, dict[str, str]]:
        sent = {"Host": "localhost", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token:
            sent["Authorization"] = f"Token {self.token}"
        elif method not in ("GET", "HEAD") and "csrftoken" in self.cookies:
            sent.setdefault("X-CSRFToken", self.cookies["csrftoken"])  # as htmx sends it
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        except OSError:
            return None, "", {}
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, text, dict(response.getheaders())

    def get(self, path: str, **headers: str) -> tuple[int | None, str, dict[str, str]]:
        return self.request("GET", path, headers=headers)

    def post_json(self, path: str, data: Any, method: str = "POST"):
        body = json.dumps(data).encode()
        return self.request(method, path, body=body, headers={"Content-Type": "application/json"})

    def post_form(self, path: str, data: dict[str, str], **headers: str):
        """A form as a page sends it, with the CSRF token of the cookie."""
        fields = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **data}
        body = urllib.parse.urlencode(fields).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return self.request("POST", path, body=body, headers=sent)

    def sign_in(self, username: str, password: str) -> None:
        self.get("/accounts/login/")
        status, text, _ = self.post_form(
            "/accounts/login/", {"username": username, "password": password}
        )
        if status != 302:
            raise AssertionError(f"sign-in of {username} answered {status}: {text[:500]}")


def _run(*command: str, input: bytes | None = None) -> bytes:
    """Run a client program; its output, or an error that says what it printed."""
    result = subprocess.run(command, input=input, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"{Path(command[0]).name} failed ({result.returncode}): "
            f"{result.stderr.decode(errors='replace')[-2000:]}"
        )
    return result.stdout


# --- The stack --------------------------------------------------------------------------------


@dataclass
class Stack:
    """PostgreSQL, Redis and the app's processes, in `work_dir` (logs, beat's schedules)."""

    work_dir: Path
    postgres: PostgresServer = field(default_factory=PostgresServer)
    redis: RedisServer = field(default_factory=RedisServer)
    database: str = "crm"
    settings: dict[str, str] = field(default_factory=dict)  # on top of production's
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.work_dir = Path(self.work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # One key for every process of the stack, as every machine of one deployment has.
        self._secret_key = secrets.token_urlsafe(50)

    # Servers and databases

    def start(self, *, schema_from: str) -> "Stack":
        """Start both servers and make a template database holding the schema (and the
        migrations' records) of the migrated database at `schema_from`, on any server: a copy
        takes a second where migrating takes many."""
        self.postgres.start()
        self.redis.start()
        self.postgres.create_database(TEMPLATE)
        self._copy_schema(schema_from, self.postgres.url(TEMPLATE))
        self.new_database(self.database)
        return self

    def _copy_schema(self, source: str, target: str) -> None:
        schema = _run(self.postgres.tool("pg_dump"), "--schema-only", "--no-owner", source)
        records = _run(
            self.postgres.tool("pg_dump"), "--data-only", "--no-owner",
            "--table=django_migrations", "--table=django_content_type", source,
        )  # fmt: skip
        _run(self.postgres.tool("psql"), "--quiet", "--set=ON_ERROR_STOP=1", target,
             input=schema + records)  # fmt: skip

    def new_database(self, name: str) -> str:
        """A fresh database from the template (a file copy, well under a second), used by the
        processes started from now on."""
        self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        self.database = name
        return self.database_url

    def _sql(self, statement: str) -> None:
        _run(self.postgres.tool("psql"), "--quiet", "-c", statement, self.postgres.url())

    @property
    def database_url(self) -> str:
        return self.postgres.url(self.database)

    @property
    def redis_base(self) -> str:
        return self.redis.url(0).rsplit("/", 1)[0]

    def flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.redis.url(0)).flushall()

    def environment(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            **production_environment(database_url=self.database_url, redis_base=self.redis_base),
            "SECRET_KEY": self._secret_key,
            **self.settings,
            **extra,
        }
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        return env

    def celery_app(self):
        """A Celery client of the stack's broker (not of the settings this process runs
        with): sends tasks and pings workers as beat and the web processes would."""
        return celery_client(f"{self.redis_base}/1")

    # Processes

    def _spawn(self, name: str, command: list[str], env: dict[str, str], port=None) -> Process:
        process = start_process(name, command, env=env, log_dir=self.work_dir, port=port)
        self.processes.append(process)
        return process

    def gunicorn(
        self, name: str = "web", *, workers: int = 2, wait: bool = True, **settings: str
    ) -> Process:
        """`gunicorn crm.wsgi:application` on a free loopback port; returns once it answers
        /health/live (unless `wait` is False)."""
        port = free_port()
        command = gunicorn_command(port=port, workers=workers)
        process = self._spawn(name, command, self.environment(**settings), port)
        if wait:
            self.wait_serving(process)
        return process

    def wait_serving(self, process: Process, timeout: float = STARTUP_TIMEOUT) -> float:
        """Seconds from the process's start to its first answer."""

        def answered() -> bool:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.log()}")
            return http_status(process.port, timeout=1) == 200

        wait_until(answered, timeout=timeout, interval=0.05, what=f"{process.name} answers")
        return time.monotonic() - process.started_at

    def celery_worker(
        self,
        name: str,
        *,
        concurrency: int = 1,
        wait: bool = True,
        options: tuple[str, ...] = ("--without-gossip", "--without-mingle"),
        **settings: str,
    ) -> Process:
        """`celery -A crm worker` (prefork, as in production) named `name@<host>`; returns
        once it answers a ping (unless `wait` is False)."""
        command = celery_worker_command(name, concurrency=concurrency, options=options)
        process = self._spawn(name, command, self.environment(**settings))
        if wait:
            self.wait_worker(process)
        return process

    def wait_worker(self, process: Process, timeout: float = STARTUP_TIMEOUT) -> None:
        app = self.celery_app()
        try:

            def answered() -> bool:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited:\n{process.log()}")
                try:
                    replies = app.control.ping(timeout=0.5)
                except Exception:  # the broker is coming back: ask again
                    return False
                return any(name.startswith(f"{process.name}@") for r in replies for name in r)

            wait_until(answered, timeout=timeout, what=f"{process.name} answers a ping")
        finally:
            app.close()

    def celery_beat(
        self, name: str = "beat", *, scheduler: str | None = None, **settings: str
    ) -> Process:
        """`celery -A crm beat` with a schedule file of its own (as on its own machine)."""
        command = [
            sys.executable, "-m", "celery", "-A", "crm", "beat", "--loglevel=INFO",
            f"--schedule={self.work_dir / f'{name}-schedule'}",
        ]  # fmt: skip
        if scheduler:
            command.append(f"--scheduler={scheduler}")
        return self._spawn(name, command, self.environment(**settings))

    def stop_processes(self, *, kill: bool = False) -> None:
        """Stop every process started (killed at once with `kill`: throwaway ones)."""
        while self.processes:
            process = self.processes.pop()
            process.kill() if kill and process.alive() else process.stop()

    def stop(self) -> None:
        self.stop_processes()
        self.redis.stop()
        self.postgres.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

"""What every benchmark scenario shares: the scenario registry's types, the HTTP client, latency
statistics and the result files. Importing this module starts nothing and needs no Django."""

import contextlib
import http.client
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"


# --- Statistics -------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(seconds: Sequence[float]) -> dict[str, float]:
    """Latency figures in milliseconds from durations in seconds."""
    ms = [value * 1000 for value in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
    }


_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def work_statements(captured: Iterable[dict]) -> int:
    """The SQL statements that do work among those a CaptureQueriesContext saw: Django logs
    BEGIN, COMMIT and savepoints too, which are no query of ours."""
    return sum(1 for query in captured if not query["sql"].lstrip().upper().startswith(_CONTROL))


def ratio(ours: float, reference: float) -> float:
    return round(ours / reference, 2) if reference > 0 else math.inf


# --- HTTP -------------------------------------------------------------------------------------


class HttpError(RuntimeError):
    pass


class HttpClient:
    """A keep-alive HTTP/1.1 client over loopback.

    Gunicorn's sync workers close the connection after every response, so in practice each
    request opens a new TCP connection (loopback: a fraction of a millisecond). The client reuses
    the connection whenever the server keeps it open and counts the connections it opened.
    """

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.connection = http.client.HTTPConnection(host, port, timeout=30)
        self.connections_opened = 0

    def get(self, path: str) -> tuple[int, bytes, float]:
        """GET `path`; return (status, body, seconds including connect and reading the body)."""
        status, body, elapsed, _ = self.request("GET", path)
        return status, body, elapsed

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes, float, dict[str, str]]:
        """Send one request; return (status, body, seconds, response headers)."""
        started = time.perf_counter()
        sent = {**self.headers, **(headers or {})}
        if self.connection.sock is None:
            self.connections_opened += 1
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
            answer = response.read()
        except (http.client.HTTPException, OSError):
            # A connection closed by the server between requests: retry once on a fresh one.
            self.connection.close()
            self.connections_opened += 1
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
            answer = response.read()
        elapsed = time.perf_counter() - started
        if response.will_close:
            self.connection.close()
        return response.status, answer, elapsed, dict(response.getheaders())

    def timed_gets(
        self, paths: Iterable[str], *, expect: int = 200
    ) -> tuple[list[float], list[bytes]]:
        durations, bodies = [], []
        for path in paths:
            status, body, elapsed = self.get(path)
            if status != expect:
                raise HttpError(f"GET {path}: {status} (expected {expect}): {body[:300]!r}")
            durations.append(elapsed)
            bodies.append(body)
        return durations, bodies

    def close(self) -> None:
        self.connection.close()


# --- Scenarios --------------------------------------------------------------------------------


@dataclass
class Context:
    """What the harness hands to a scenario."""

    host: str
    port: int
    database_url: str
    requests: int | None = None  # --requests: overrides each scenario's default count
    data: dict[str, Any] = field(default_factory=dict)  # filled by the prepare steps

    def client(self, headers: dict[str, str] | None = None) -> HttpClient:
        return HttpClient(self.host, self.port, headers)

    def count(self, default: int) -> int:
        return self.requests or default


@dataclass
class Outcome:
    """A scenario's figures (written to JSON) and its one-line summary."""

    metrics: dict[str, Any]
    summary: str
    targets_met: bool


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    # In-process, before gunicorn starts: load data, create tokens (Django is set up).
    prepare: Callable[[Context], None]
    # With gunicorn serving: measure and compare with the reference.
    measure: Callable[[Context], Outcome]
    default_requests: int
    # Programs the scenario runs besides PostgreSQL and Redis, each with the Debian package
    # that holds it: checked (and installed when run as root) before anything starts.
    needs: dict[str, str] = field(default_factory=dict)


def missing_programs(scenarios: Iterable[Scenario]) -> dict[str, str]:
    """The programs the chosen scenarios need that are not on PATH, with their packages."""
    import shutil

    wanted: dict[str, str] = {}
    for scenario in scenarios:
        wanted.update(scenario.needs)
    return {program: package for program, package in wanted.items() if not shutil.which(program)}


def registry(scenarios: Iterable[Scenario]) -> dict[str, Scenario]:
    by_name: dict[str, Scenario] = {}
    for scenario in scenarios:
        if scenario.name in by_name:
            raise ValueError(f"two scenarios are called {scenario.name}")
        by_name[scenario.name] = scenario
    return by_name


# --- Results ----------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_result(
    scenario: Scenario,
    outcome: Outcome,
    *,
    environment: dict[str, Any],
    results_dir: Path = RESULTS_DIR,
) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{scenario.name}.json"
    document = {
        "scenario": scenario.name,
        "description": scenario.description,
        "summary": outcome.summary,
        "targets_met": outcome.targets_met,
        "machine": machine_info(),
        "environment": environment,
        **outcome.metrics,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


# --- Databases of their own -------------------------------------------------------------------


def create_database(ctx: Context, name: str) -> str:
    """A new, empty database on the benchmark's server (dropped first if it exists); its URL."""
    import psycopg

    with psycopg.connect(ctx.database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    return ctx.database_url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def on_database(name: str) -> Iterator[None]:
    """Point Django's default connection at another database of the same server for the block
    (scenarios whose data would change what the others measure keep it apart)."""
    from django.db import connection

    settings_dict = connection.settings_dict
    original = settings_dict["NAME"]
    connection.close()
    settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        settings_dict["NAME"] = original

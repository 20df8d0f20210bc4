"""`make run`'s process setup, end to end: honcho starts the app, a Celery worker and beat on the
embedded default (a fresh SQLite file, a folder as the queue); scheduled jobs run on their own;
/health/ reports the worker truthfully; SIGINT (Ctrl-C) stops every process it started."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from crm.testing.celery_worker import wait_for
from crm.testing.servers import free_port

BASE_DIR = Path(settings.BASE_DIR)

pytestmark = pytest.mark.worker


def _children(pid: int) -> set[int]:
    """Every process descended from `pid`."""
    found, frontier = set(), {pid}
    while frontier:
        parent = frontier.pop()
        for child in Path("/proc").glob("[0-9]*"):
            try:
                ppid = int((child / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent and int(child.name) not in found:
                found.add(int(child.name))
                frontier.add(int(child.name))
    return found


def _health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as response:
        return json.load(response)


def test_make_run_runs_scheduled_jobs_and_ctrl_c_stops_everything(tmp_path):
    database = tmp_path / "embedded.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))},
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        "CELERY_DATA_DIR": str(tmp_path / "celery"),
        "CELERY_IMPORTS": "crm.tests.embedded_jobs",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=BASE_DIR, env=env, check=True,
                   capture_output=True)  # fmt: skip
    port = free_port()
    log = (tmp_path / "honcho.log").open("w")
    honcho_bin = str(Path(sys.executable).parent / "honcho")
    honcho = subprocess.Popen(
        [honcho_bin, "-f", "Procfile.dev", "start", "-p", str(port)],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # Beat sends the two-second job; the worker runs it under its lock and records it.
        def runs() -> int:
            with sqlite3.connect(database, timeout=20) as db:
                return db.execute(
                    "SELECT COUNT(*) FROM crm_jobrun "
                    "WHERE name = 'test_every_two_seconds' AND status = 'succeeded'"
                ).fetchone()[0]

        wait_for(lambda: runs() >= 2, timeout=90, interval=0.5)
        health = wait_for(lambda: _health(port), timeout=30)
        assert health["checks"]["worker"]["status"] == "healthy", health
        assert health["checks"]["broker"]["detail"].startswith("embedded")
        started = _children(honcho.pid)
        assert len(started) >= 3
    finally:
        honcho.send_signal(signal.SIGINT)
        try:
            honcho.wait(timeout=30)
        finally:
            if honcho.poll() is None:
                honcho.kill()
            log.close()

    def alive() -> dict[int, str]:
        survivors = {}
        for pid in started:
            with contextlib.suppress(OSError):
                survivors[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        return survivors

    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(), alive()

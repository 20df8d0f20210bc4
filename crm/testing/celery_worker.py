"""A real Celery worker in a subprocess, for tests whose point is a job's behaviour."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from crm.celery import app

BASE_DIR = Path(settings.BASE_DIR)
WORKER_LOG = BASE_DIR / "test-artifacts" / "celery-worker.log"


def _database_url() -> str:
    db = settings.DATABASES["default"]
    # The tests' database (test_<name>), not the one DATABASE_URL names.
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def celery_worker(*, include: str = "crm.tests.celery_tasks", timeout: float = 60):
    # Its log is for people reading test-artifacts/ (and tests counting its lines): plain lines.
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "LOG_FORMAT": "plain",
    }
    log_path = WORKER_LOG
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "crm", "worker",
                "--pool=solo", "--loglevel=INFO", "-I", include,
                "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            while not app.control.ping(timeout=0.5):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Celery worker did not start:\n{log_path.read_text()}")
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")

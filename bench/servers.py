"""The app served by gunicorn for the scenarios, in a process of its own (started by bench/run.py,
and by scenarios that need a second server of their own)."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.harness import ROOT, HttpClient

GUNICORN_WORKERS = 2
DEFAULT_WSGI_APP = "crm.wsgi:application"
STARTUP_TIMEOUT = 30


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str],
    port: int,
    log_path: Path,
    wsgi_app: str = DEFAULT_WSGI_APP,
    workers: int = GUNICORN_WORKERS,
) -> Iterator[subprocess.Popen]:
    command = [
        sys.executable, "-m", "gunicorn", wsgi_app,
        "-w", str(workers),
        "-b", f"127.0.0.1:{port}",
        "--graceful-timeout", "5",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        # Its own session: a Ctrl-C reaches the harness, which then stops gunicorn in order.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(process, port, log_path)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    client = HttpClient("127.0.0.1", port)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{tail(log_path)}")
        try:
            status, _, _ = client.get("/health/live")
            if status == 200:
                client.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {STARTUP_TIMEOUT} s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 40) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )

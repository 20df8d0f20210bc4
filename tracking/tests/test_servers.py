"""The rate limit held in total across two server processes sharing the real Redis: what one
process counts, the other sees."""

import http.client
import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings

from crm.testing.celery_worker import _database_url
from crm.testing.servers import free_port
from tracking.models import RawEvent
from tracking.tests.helpers import UA, make_tenant


def _server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _database_url(), "CONN_MAX_AGE": "0", "DEBUG": "1",
           "ALLOWED_HOSTS": "127.0.0.1,localhost"}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "crm.wsgi:application", "-w", "1", "-b",
         f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _post(port: int, key: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"evt_type": "x"})
    connection.request("POST", f"/t/e?key={key}", body,
                       {"Content-Type": "application/json", "User-Agent": UA})  # fmt: skip
    status = connection.getresponse().status
    connection.close()
    return status


def _wait_until_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server stopped"
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health/live")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no server on {port}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_rate_limit_holds_in_total_across_two_server_processes(role_groups):
    tenant = make_tenant("shared", rate_per_minute=10)
    ports = [free_port(), free_port()]
    servers = [_server(port) for port in ports]
    try:
        for port, process in zip(ports, servers, strict=True):
            _wait_until_up(port, process)
        statuses = [_post(ports[n % 2], tenant.ingestion_key) for n in range(30)]
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=10)

    assert statuses.count(200) == 10 and statuses.count(429) == 20
    assert RawEvent.objects.filter(tenant=tenant).count() == 10

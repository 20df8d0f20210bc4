import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from crm.jobs import services as jobs_services
from crm.models import Heartbeat
from crm.testing.database import database_elsewhere
from crm.testing.servers import free_port

CHECKS = {"database", "cache", "broker", "worker", "beat"}


def _assert_shape(body: dict) -> None:
    assert set(body) == {"status", "timestamp", "checks"}
    assert body["status"] in {"healthy", "degraded", "unhealthy"}
    assert set(body["checks"]) == CHECKS
    for check in body["checks"].values():
        assert check["status"] in {"healthy", "degraded", "unhealthy"}
        assert isinstance(check["latency_ms"], float | int)


def _record_heartbeats() -> None:
    jobs_services.heartbeat_record(component="worker")
    jobs_services.heartbeat_record(component="beat")


@pytest.mark.sqlite
@pytest.mark.django_db
def test_health_is_healthy_with_fresh_heartbeats(client):
    _record_heartbeats()
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    _assert_shape(body)
    assert body["status"] == "healthy", body


@pytest.mark.django_db
def test_health_runs_two_queries(client, assert_queries):
    _record_heartbeats()
    with assert_queries(2):  # SELECT 1, then both heartbeats at once
        client.get("/health/")


@pytest.mark.django_db
def test_stale_beat_is_degraded_not_unhealthy(client):
    jobs_services.heartbeat_record(component="worker")
    Heartbeat.objects.create(component="beat", seen_at=timezone.now() - timedelta(hours=1))
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["beat"]["status"] == "degraded"
    assert body["checks"]["worker"]["status"] == "healthy"


@pytest.mark.django_db
def test_missing_heartbeats_are_degraded(client):
    body = client.get("/health/").json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["detail"] == "no heartbeat recorded yet"


@pytest.mark.django_db(transaction=True)
def test_database_down_answers_503(client):
    # Nothing listens there: a real refused connection.
    with database_elsewhere(PORT=str(free_port())):
        response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    _assert_shape(body)
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "unhealthy"
    assert body["checks"]["database"]["detail"] == "OperationalError"


@pytest.mark.django_db
def test_health_output_names_no_host_or_secret(client):
    _record_heartbeats()
    text = client.get("/health/").content.decode()
    for secret in (settings.SECRET_KEY, os.environ["DATABASE_URL"], os.environ["REDIS_URL"]):
        assert secret not in text
    assert "127.0.0.1" not in text
    assert str(connection.settings_dict["PORT"]) not in text


@pytest.mark.sqlite
def test_liveness_touches_nothing(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.sqlite
def test_health_rejects_other_methods(client):
    assert client.post("/health/").status_code == 405


@pytest.mark.django_db
def test_unreachable_cache_and_broker_are_degraded_not_unhealthy(client, settings):
    from crm import health

    _record_heartbeats()
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": closed,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.CELERY_BROKER_URL = closed
    health._broker_client.cache_clear()
    try:
        response = client.get("/health/")
    finally:
        health._broker_client.cache_clear()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "healthy"

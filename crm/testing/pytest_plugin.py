"""Pytest plugin (loaded by the root conftest.py): gives the test run real servers.

`configure_test_environment()` runs when the root conftest is imported, before pytest-django
loads the settings, so the settings see the servers' URLs:
- default: starts PostgreSQL and Redis (or uses TEST_DATABASE_URL / TEST_REDIS_URL if set); the
  read replica's alias mirrors the test database (crm.replica, crm.testing.replica);
- TEST_DATABASE=sqlite: the embedded default (SQLite, eager Celery, local-memory cache), for the
  subset of tests marked `sqlite`.
"""

import atexit
import os
import tempfile

from crm.testing.servers import PostgresServer, RedisServer

_servers: list = []
REPLICA_VARIABLE = "DATABASE_REPLICA_URL"

TEST_ENVIRONMENT = {
    "DEBUG": "0",
    "SECRET_KEY": "test-only-secret-key-not-used-anywhere-else-0123456789abcdef",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
    "STATIC_MANIFEST": "0",
    "API_THROTTLE_USER": "100000/min",
    "API_THROTTLE_ANON": "100000/min",
    "LOG_LEVEL": "WARNING",
}


def sqlite_mode() -> bool:
    return os.environ.get("TEST_DATABASE", "postgres") == "sqlite"


def configure_test_environment() -> None:
    os.environ.update(TEST_ENVIRONMENT)
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    if sqlite_mode():
        os.environ["DATABASE_URL"] = "sqlite:///test-embedded.sqlite3"
        os.environ["REDIS_URL"] = ""
        os.environ["CELERY_BROKER_URL"] = ""
        # The embedded queue folder of this run; tasks run eagerly unless a test starts a
        # worker of its own (crm.testing.celery_worker).
        os.environ["CELERY_DATA_DIR"] = tempfile.mkdtemp(prefix="crm-celery-")
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
        return

    database_url = os.environ.get("TEST_DATABASE_URL")
    if not database_url:
        postgres = PostgresServer().start()
        _servers.append(postgres)
        database_url = postgres.url("crm")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        redis = RedisServer().start()
        _servers.append(redis)
        redis_url = redis.url(0)
    # The cache and the broker use separate Redis databases so that tests can flush the
    # cache without dropping a running worker's queues.
    base = redis_url.rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = database_url
    # The replica alias exists in every test, as the test database's mirror: the router's
    # scopes run everywhere, and crm.testing.replica's fixtures give a real replica to the
    # tests that start one. Read by the settings only (setup_django).
    os.environ[REPLICA_VARIABLE] = database_url
    os.environ["REDIS_URL"] = f"{base}/0"
    os.environ["CELERY_BROKER_URL"] = f"{base}/1"


def setup_django() -> None:
    configure_test_environment()
    import django

    django.setup()
    # The programs the tests start (a worker, gunicorn, manage.py with a database of their
    # own) get no replica of the tests' database.
    os.environ.pop(REPLICA_VARIABLE, None)


def _stop_servers() -> None:
    while _servers:
        _servers.pop().stop()


atexit.register(_stop_servers)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite: also runs against the embedded SQLite default")
    config.addinivalue_line("markers", "browser: drives headless Chromium through Playwright")
    config.addinivalue_line("markers", "worker: starts a real Celery worker")


def pytest_collection_modifyitems(config, items):
    if not sqlite_mode():
        return
    # On the embedded default only the tests marked `sqlite` run; the rest need PostgreSQL.
    selected = [item for item in items if "sqlite" in item.keywords]
    deselected = [item for item in items if "sqlite" not in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def pytest_unconfigure(config):
    _stop_servers()

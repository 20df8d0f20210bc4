"""Shared fixtures. The servers themselves come from crm.testing.pytest_plugin."""

from crm.testing.pytest_plugin import (  # the hooks are the plugin's; importing registers them
    pytest_collection_modifyitems,  # noqa: F401
    pytest_configure,  # noqa: F401
    pytest_unconfigure,  # noqa: F401
    setup_django,
)

# Before anything imports the settings: start PostgreSQL and Redis (or choose SQLite).
setup_django()

from collections.abc import Callable  # noqa: E402

import pytest  # noqa: E402
from django.core.cache import cache  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from crm.switches.selectors import remember as remember_switches  # noqa: E402
from crm.testing import queries, signed_in, signed_in_api  # noqa: E402
from crm.testing.replica import real_replica, streaming_replica  # noqa: E402, F401
from crm.tests.factories import SalesRepFactory, TeamFactory, UserFactory  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    # PBKDF2's cost is the point in production and a waste in tests; PBKDF2 stays accepted.
    from django.test import override_settings

    with override_settings(
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.MD5PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        ]
    ):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The cache is a real Redis shared by the whole run: start every test from an empty one,
    # knowing what a database without switch rows says (no area paused or offline), as after
    # any request; otherwise a test's first request would read them and count one more query.
    # Kept without expiry: a test that moves the clock on must not see them expire (the local
    # memory cache of the SQLite run reads the clock the test moves).
    cache.clear()
    remember_switches({}, timeout=None)
    yield


@pytest.fixture
def eager_celery():
    """Tasks run in the calling process (as with no worker): for tests whose point is what a
    task does, not how it travels (the `worker` tests send them through a real broker)."""
    from crm.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def chromium(live_server, monkeypatch):
    """Debian's Chromium, headless, driven by Playwright, against pytest-django's live server."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    from crm.testing.browser import launch

    # Playwright's sync API keeps an asyncio loop running in this thread, which makes Django
    # refuse ORM calls from the test body unless told that this is deliberate.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()
            # While that loop runs, Django keeps this thread's connections in a context-local
            # slot that the test database teardown never sees: close them here, or dropping
            # the test database fails with "being accessed by other users".
            connections.close_all()


@pytest.fixture
def worker(django_db_setup, django_db_blocker, role_groups):
    """A real Celery worker (a process of its own, crm.testing.celery_worker) on the real
    broker, against the test database: for the tests marked `worker`, on a transactional
    database."""
    from crm.testing.celery_worker import celery_worker

    with celery_worker() as process:
        yield process


@pytest.fixture
def role_groups(transactional_db):
    """The role groups, for tests on a transactional database: an earlier transactional test
    may have flushed the tables, the groups the migrations create included."""
    from django.contrib.auth.models import Group

    from crm.roles import GROUP_ADMIN, GROUP_REP, GROUP_SUPERVISOR

    for name in (GROUP_ADMIN, GROUP_SUPERVISOR, GROUP_REP):
        Group.objects.get_or_create(name=name)


@pytest.fixture
def team(db):
    return TeamFactory()


@pytest.fixture
def supervisor(team):
    return team.manager


@pytest.fixture
def rep(team):
    return SalesRepFactory(team=team)


@pytest.fixture
def other_rep(db):
    """A rep in another team, under another supervisor."""
    return SalesRepFactory()


@pytest.fixture
def route(rep):
    """A route of `rep` with three stops (crm.testing.routes.route_with_stops)."""
    from crm.testing.routes import route_with_stops

    return route_with_stops(rep)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def api_client():
    return APIClient()


def _signed_in_as(person: str, sign_in: Callable):
    """A fixture: a client signed in as the user of the fixture named `person` (a rep's user,
    for a rep). Each is a client of its own, not pytest-django's `client`: a test that takes
    two of them acts as two people."""

    def signed_in_client(request):
        found = request.getfixturevalue(person)
        return sign_in(getattr(found, "user", found))

    signed_in_client.__doc__ = f"{sign_in.__doc__} Here `user` is the `{person}` fixture's."
    return pytest.fixture(signed_in_client)


# The pages' clients (Django's), then the API's (DRF's). `admin_client` takes the place of
# pytest-django's fixture of that name, for the same admin.
rep_client = _signed_in_as("rep", signed_in)
other_rep_client = _signed_in_as("other_rep", signed_in)
supervisor_client = _signed_in_as("supervisor", signed_in)
admin_client = _signed_in_as("admin_user", signed_in)
rep_api = _signed_in_as("rep", signed_in_api)
supervisor_api = _signed_in_as("supervisor", signed_in_api)
admin_api = _signed_in_as("admin_user", signed_in_api)


@pytest.fixture
def assert_queries():
    """crm.testing.assert_queries: `with assert_queries(6): client.get(url)` fails unless the
    block runs six statements (savepoints not counted), listing those it ran."""
    return queries.assert_queries

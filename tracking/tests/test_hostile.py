"""The public ingestion paths against what an anonymous caller can send: too many form fields,
bodies too large, keys that are not keys (a NUL: PostgreSQL cannot even compare it), replayed
webhooks. Each is a clear 4xx, never a 500, and a made-up key does not reach the database."""

import json
import uuid

import pytest
from django.test import Client

from tracking import contract, tenants
from tracking.models import RawEvent
from tracking.tests.helpers import make_tenant, post_event

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
EVENT = {"evt_type": "page_view"}


@pytest.fixture
def tenant():
    return make_tenant()


@pytest.fixture
def anonymous():
    """A caller whose requests are answered as a server answers them (no exception raised
    into the test: a 500 is a status to assert on)."""
    return Client(raise_request_exception=False)


# --- Form bodies with too many fields ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/t/e", "/t/batch"])
@pytest.mark.parametrize("fields", [11, 10_001])
def test_a_form_body_with_too_many_fields_is_a_400_naming_the_limit(
    anonymous, tenant, path, fields
):
    events = {"batch": [EVENT]} if path == "/t/batch" else EVENT
    body = "&".join(f"f{index}=1" for index in range(fields - 1))
    body += "&data=" + json.dumps(events)

    answer = post_event(anonymous, tenant, body, path=path, content_type=FORM)

    assert answer.status_code == 400
    assert answer.json() == {"error": contract.TOO_MANY_FIELDS}
    assert not RawEvent.objects.exists()


@pytest.mark.parametrize("path", ["/t/e", "/t/batch"])
def test_a_form_body_at_the_limit_is_read(anonymous, tenant, path):
    events = {"batch": [EVENT]} if path == "/t/batch" else EVENT
    body = "&".join(f"f{index}=1" for index in range(9)) + "&data=" + json.dumps(events)

    answer = post_event(anonymous, tenant, body, path=path, content_type=FORM)

    assert answer.status_code == 200, answer.content
    assert RawEvent.objects.count() == 1


@pytest.mark.parametrize("path", ["/t/e", "/t/batch", "/t/webhooks/stripe/{key}"])
def test_a_body_over_the_limit_is_a_413_on_every_ingestion_path(anonymous, tenant, path):
    huge = b'{"evt_type": "x", "pad": "' + b"x" * 2_000_000 + b'"}'
    url = path.format(key=tenant.ingestion_key)
    answer = anonymous.post(
        f"{url}?key={tenant.ingestion_key}", huge, content_type="application/json"
    )
    assert answer.status_code == 413
    assert not RawEvent.objects.exists()


# --- Keys that are not keys ---------------------------------------------------------------------

NOT_KEYS = ["pk_%00", "%00", "pk_%00abc", "pk_abc%0A", "pk_%C3%A9t%C3%A9", "pk_a%20b", "x" * 65,
            "pk_%F0%9F%9A%9A", "pk_%ED%A0%80"]  # fmt: skip


@pytest.mark.parametrize("key", NOT_KEYS)
def test_a_key_that_is_not_shaped_like_one_is_refused_without_a_query(
    anonymous, tenant, assert_queries, key
):
    body = json.dumps(EVENT)
    with assert_queries(0):
        event = anonymous.post(f"/t/e?key={key}", body, content_type="application/json")
        batch = anonymous.post(f"/t/batch?key={key}", body, content_type="application/json")
        header = anonymous.post(
            "/t/e", body, content_type="application/json", HTTP_X_TRACKING_KEY=key
        )
        preflight = anonymous.options(f"/t/e?key={key}", HTTP_ORIGIN="https://shop.example.com")
        hook = anonymous.post(f"/t/webhooks/stripe/{key}", body, content_type="application/json")

    assert (event.status_code, batch.status_code, header.status_code) == (401, 401, 401)
    assert preflight.status_code == 403
    assert hook.status_code in (401, 404)  # 404: a path the URL patterns do not take
    assert not RawEvent.objects.exists()


def test_an_unknown_key_reaches_the_database_once_then_the_caches_answer(anonymous, assert_queries):
    key = f"pk_{uuid.uuid4().hex}"
    with assert_queries(1):
        first = anonymous.post(f"/t/e?key={key}", "{}", content_type="application/json")
    with assert_queries(0):
        again = [
            anonymous.post(f"/t/e?key={key}", "{}", content_type="application/json")
            for _ in range(5)
        ]
    tenants._local.clear()  # another process: the shared cache remembers the miss
    with assert_queries(0):
        elsewhere = anonymous.post(f"/t/e?key={key}", "{}", content_type="application/json")

    assert {first.status_code, elsewhere.status_code, *(a.status_code for a in again)} == {401}

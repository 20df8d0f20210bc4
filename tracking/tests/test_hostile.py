"""The public ingestion paths against what an anonymous caller can send: too many form fields,
bodies too large, keys that are not keys (a NUL: PostgreSQL cannot even compare it), replayed
webhooks. Each is a clear 4xx, never a 500, and a made-up key does not reach the database."""

import hashlib
import json
import time
import uuid

import pytest
from django.test import Client

from tracking import contract, tenants
from tracking.models import RawEvent
from tracking.tests.helpers import make_tenant, post_event, post_webhook

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


# --- Replayed webhooks --------------------------------------------------------------------------


def _replay(client, tenant, original, **headers):
    """The original request's body and signature sent again, its headers changed."""
    request = original.wsgi_request
    sent = {
        "HTTP_X_WEBHOOK_TIMESTAMP": request.headers["X-Webhook-Timestamp"],
        "HTTP_X_WEBHOOK_SIGNATURE": request.headers["X-Webhook-Signature"],
        **headers,
    }
    return client.post(
        request.path, request.body, content_type="application/json", **sent
    )  # fmt: skip


def test_a_delivery_replayed_under_a_new_id_is_refused_when_its_id_was_signed(client, tenant):
    original = post_webhook(client, tenant, {"id": "evt_1"}, HTTP_X_WEBHOOK_ID="d-1")
    renamed = _replay(client, tenant, original, HTTP_X_WEBHOOK_ID="d-2")
    unnamed = _replay(client, tenant, original)
    again = _replay(client, tenant, original, HTTP_X_WEBHOOK_ID="d-1")

    assert original.json() == {"accepted": 1, "stored": 1}
    assert renamed.status_code == unnamed.status_code == 401
    assert again.json() == {"accepted": 1, "stored": 0}  # the same delivery: kept once
    assert list(RawEvent.objects.values_list("event_id", flat=True)) == ["d-1"]


def test_an_unsigned_id_is_nobodys_the_delivery_is_what_was_signed(client, tenant):
    original = post_webhook(
        client, tenant, {"id": "evt_2"}, sign_id=False, HTTP_X_WEBHOOK_ID="d-1"
    )  # fmt: skip
    replays = [_replay(client, tenant, original, HTTP_X_WEBHOOK_ID=f"d-{n}") for n in (2, 3)]
    without = _replay(client, tenant, original)

    assert original.json() == {"accepted": 1, "stored": 1}
    assert [answer.json() for answer in (*replays, without)] == [{"accepted": 1, "stored": 0}] * 3
    raw = RawEvent.objects.get()
    stamp = original.wsgi_request.headers["X-Webhook-Timestamp"]
    signed = stamp.encode() + b"." + original.wsgi_request.body
    assert raw.event_id == hashlib.sha256(signed).hexdigest()


def test_a_providers_retry_of_a_signed_delivery_is_stored_once(client, tenant):
    first = post_webhook(client, tenant, {"id": "evt_3"}, HTTP_X_WEBHOOK_ID="d-9")
    retry = post_webhook(
        client, tenant, {"id": "evt_3"}, stamp=int(time.time()) + 1, HTTP_X_WEBHOOK_ID="d-9"
    )  # signed again, a second later
    assert (first.json()["stored"], retry.json()["stored"]) == (1, 0)


def test_an_id_that_cannot_be_signed_leaves_the_delivery_to_its_signature(client, tenant):
    # A "." would make "<timestamp>.<id>." ambiguous: such an id is never taken as signed.
    answer = post_webhook(client, tenant, {"id": "evt_4"}, HTTP_X_WEBHOOK_ID="a.b")
    plain = post_webhook(client, tenant, {"id": "evt_5"}, sign_id=False, HTTP_X_WEBHOOK_ID="a.b")
    assert answer.status_code == 401
    assert plain.json() == {"accepted": 1, "stored": 1}
    assert RawEvent.objects.get().event_id != "a.b"

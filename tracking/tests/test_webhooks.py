"""Signed webhooks: stored raw once per delivery, refused (401, counted, nothing stored) with a
bad or stale signature; the test-webhook command."""

import json
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tracking import contract, processing, services
from tracking.ingest import BAD_SIGNATURE, STALE_SIGNATURE
from tracking.models import RawEvent, TrackedEvent
from tracking.tests.helpers import make_tenant, post_webhook

pytestmark = pytest.mark.django_db


def test_a_signed_webhook_is_stored_raw_once_per_delivery(client, tenant):
    payload = {"id": "evt_1", "type": "invoice.paid", "data": {"amount": 4200}, "props": [1]}
    first = post_webhook(client, tenant, payload, HTTP_X_WEBHOOK_ID="delivery-1")
    again = post_webhook(client, tenant, payload, HTTP_X_WEBHOOK_ID="delivery-1")

    assert first.status_code == 200 and first.json() == {"accepted": 1, "stored": 1}
    assert again.status_code == 200 and again.json() == {"accepted": 1, "stored": 0}
    raw = RawEvent.objects.get()
    assert (raw.record_source, raw.event_id, raw.payload) == (
        "webhook:stripe",
        "delivery-1",
        payload,
    )
    processing.process_pending()
    event = TrackedEvent.objects.get()
    assert (event.evt_type, event.props) == ("invoice.paid", payload)  # all of it, as it came


def test_a_webhook_json_cannot_hold_is_a_400_and_stores_nothing(client, tenant):
    answer = post_webhook(client, tenant, b'{"id": "evt_2", "amount": 1e309}')
    half = post_webhook(client, tenant, b'{"id": "evt_3", "name": "\\udc00"}')

    assert answer.status_code == 400
    assert answer.json()["error"] == contract.NUMBER_BAD
    assert half.status_code == 400 and half.json()["error"] == contract.NOT_UNICODE
    assert not RawEvent.objects.exists()


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"secret": "whsec_wrong"}, BAD_SIGNATURE),
        ({"stamp": int(time.time()) - 3600}, STALE_SIGNATURE),  # a replay of an old delivery
        ({"stamp": int(time.time()) + 3600}, STALE_SIGNATURE),
        ({"stamp": "soon"}, STALE_SIGNATURE),
    ],
)
def test_a_bad_or_stale_signature_is_a_401_counted_and_nothing_is_stored(
    client, tenant, options, reason
):
    answer = post_webhook(client, tenant, {"id": "x"}, **options)
    assert answer.status_code == 401 and answer.json()["error"] == reason
    assert not RawEvent.objects.exists()
    assert services.drop_counts(tenant.pk)["bad_signature"] == 1


def test_a_signature_from_another_tenant_or_a_tampered_body_is_refused(client, tenant):
    other = make_tenant("other")
    body = json.dumps({"id": "y"}).encode()
    stamp = str(int(time.time()))
    from tracking.ingest import signature

    theirs = client.post(
        f"/t/webhooks/stripe/{tenant.ingestion_key}", body, content_type="application/json",
        HTTP_X_WEBHOOK_TIMESTAMP=stamp,
        HTTP_X_WEBHOOK_SIGNATURE=f"sha256={signature(other.webhook_secret, stamp, body)}",
    )  # fmt: skip
    tampered = client.post(
        f"/t/webhooks/stripe/{tenant.ingestion_key}", body + b" ", content_type="application/json",
        HTTP_X_WEBHOOK_TIMESTAMP=stamp,
        HTTP_X_WEBHOOK_SIGNATURE=f"sha256={signature(tenant.webhook_secret, stamp, body)}",
    )  # fmt: skip
    bad_provider = client.post(f"/t/webhooks/Not Valid/{tenant.ingestion_key}", body,
                               content_type="application/json")  # fmt: skip
    assert theirs.status_code == tampered.status_code == bad_provider.status_code == 401
    assert not RawEvent.objects.exists()


def test_the_webhook_rate_is_the_tenants_own(client):
    tenant = make_tenant("hooks", webhook_rate_per_minute=2)
    statuses = [post_webhook(client, tenant, {"id": n}).status_code for n in range(3)]
    assert statuses == [200, 200, 429]


def test_send_test_webhook_prints_a_signed_request_or_sends_it(tenant, live_server):
    out = StringIO()
    call_command("send_test_webhook", "--tenant", tenant.identifier, "--provider", "shopify",
                 "--dry-run", stdout=out)  # fmt: skip
    printed = out.getvalue()
    assert f"/t/webhooks/shopify/{tenant.ingestion_key}" in printed
    assert "X-Webhook-Signature: sha256=" in printed and "test.notification" in printed
    assert not RawEvent.objects.exists()

    sent = StringIO()
    call_command("send_test_webhook", "--tenant", tenant.identifier, "--provider", "shopify",
                 "--url", live_server.url, stdout=sent)  # fmt: skip
    assert sent.getvalue().startswith("200")
    assert RawEvent.objects.get().record_source == "webhook:shopify"
    with pytest.raises(CommandError):
        call_command("send_test_webhook", "--tenant", "nobody", "--provider", "x", "--dry-run")

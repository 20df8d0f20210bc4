"""Key rotation: asked first (Django admin's action and the tenant's page each show what happens
before anything does), the previous key and webhook secret working for the grace period and
not a moment longer (the caches included), a rotation that stops them at once, the audit
trail without secrets, the notice on the tenant's page."""

import datetime as dt
import json
import time

import pytest
from django.utils import timezone

from crm.models import AuditEntry
from tracking import services, tenants
from tracking.forms import RotateKeysForm
from tracking.models import RawEvent, TrackingTenant
from tracking.tests.helpers import ACTOR, make_tenant, post_event, post_webhook

pytestmark = pytest.mark.django_db


def _rotate(tenant, django_capture_on_commit_callbacks, **options) -> TrackingTenant:
    with django_capture_on_commit_callbacks(execute=True):  # the caches forget, as on commit
        return services.tenant_rotate_keys(actor=ACTOR, tenant_id=tenant.pk, **options)


def test_the_previous_key_works_for_the_grace_period_beside_the_new_one(
    client, django_capture_on_commit_callbacks
):
    tenant = make_tenant()
    post_event(client, tenant, {"evt_type": "warm"})  # the old key is cached everywhere
    before = timezone.now()
    rotated = _rotate(tenant, django_capture_on_commit_callbacks)

    old = post_event(client, tenant.ingestion_key, {"evt_type": "old key"})
    new = post_event(client, rotated, {"evt_type": "new key"})

    assert old.status_code == new.status_code == 200
    assert rotated.previous_ingestion_key == tenant.ingestion_key
    assert rotated.previous_webhook_secret == tenant.webhook_secret
    expires = rotated.previous_keys_expire_at
    assert before + dt.timedelta(hours=24) <= expires <= timezone.now() + dt.timedelta(hours=24)
    assert set(RawEvent.objects.values_list("payload__evt_type", "tenant_id")) == {
        ("warm", tenant.pk), ("old key", tenant.pk), ("new key", tenant.pk),
    }  # fmt: skip


def test_the_grace_period_is_a_setting(settings, django_capture_on_commit_callbacks):
    settings.TRACKING_KEY_GRACE_HOURS = 2
    start = timezone.now()
    rotated = _rotate(make_tenant(), django_capture_on_commit_callbacks)
    assert abs(rotated.previous_keys_expire_at - start - dt.timedelta(hours=2)).total_seconds() < 5

    settings.TRACKING_KEY_GRACE_HOURS = 0  # no grace at all: the previous key stops at once
    again = _rotate(rotated, django_capture_on_commit_callbacks)
    assert (again.previous_ingestion_key, again.previous_keys_expire_at) == ("", None)


@pytest.mark.parametrize("process", ["this one", "another one"])
def test_the_previous_key_stops_at_its_expiry_whatever_the_caches_hold(
    client, settings, django_capture_on_commit_callbacks, process
):
    # Caches that would keep a key for a minute: the expiry bounds them all the same.
    settings.TRACKING_KEY_CACHE_SECONDS = 60
    settings.TRACKING_KEY_GRACE_HOURS = 2.5 / 3600  # two and a half seconds
    tenant = make_tenant()
    rotated = _rotate(tenant, django_capture_on_commit_callbacks)
    assert post_event(client, tenant.ingestion_key, {"evt_type": "in time"}).status_code == 200

    time.sleep(max(0.0, (rotated.previous_keys_expire_at - timezone.now()).total_seconds()))
    time.sleep(0.1)
    if process == "another one":
        tenants._local.clear()  # only the shared cache and the database to ask
    late = post_event(client, tenant.ingestion_key, {"evt_type": "too late"})

    assert late.status_code == 401
    assert post_event(client, rotated, {"evt_type": "new key"}).status_code == 200
    assert sorted(RawEvent.objects.values_list("payload__evt_type", flat=True)) == [
        "in time", "new key",
    ]  # fmt: skip


@pytest.mark.parametrize("only", [{"ingestion": False}, {"webhook": False}])
def test_a_rotation_renews_the_key_and_the_secret_together_never_one_alone(
    only, django_capture_on_commit_callbacks
):
    # One expiry covers the previous pair: rotating one alone would end the other's grace.
    tenant = make_tenant()
    with pytest.raises(TypeError):
        _rotate(tenant, django_capture_on_commit_callbacks, **only)

    rotated = _rotate(tenant, django_capture_on_commit_callbacks)

    assert rotated.ingestion_key != tenant.ingestion_key
    assert rotated.webhook_secret != tenant.webhook_secret
    assert (rotated.previous_ingestion_key, rotated.previous_webhook_secret) == (
        tenant.ingestion_key, tenant.webhook_secret,
    )  # fmt: skip


def test_a_key_looked_up_once_expired_is_refused_and_remembered_so(client, settings):
    tenant = make_tenant()
    TrackingTenant.objects.filter(pk=tenant.pk).update(
        previous_ingestion_key="pk_expired", previous_webhook_secret="whsec_expired",
        previous_keys_expire_at=timezone.now() - dt.timedelta(seconds=1),
    )  # fmt: skip
    assert tenants.resolve("pk_expired") is None
    assert post_event(client, "pk_expired", {"evt_type": "x"}).status_code == 401


def test_stopping_the_previous_keys_now_and_a_second_rotation(
    client, django_capture_on_commit_callbacks
):
    tenant = make_tenant()
    first = _rotate(tenant, django_capture_on_commit_callbacks)
    second = _rotate(first, django_capture_on_commit_callbacks)  # a second, keeping the first's
    assert post_event(client, tenant.ingestion_key, {"evt_type": "x"}).status_code == 401
    assert post_event(client, first.ingestion_key, {"evt_type": "x"}).status_code == 200

    leaked = _rotate(second, django_capture_on_commit_callbacks, keep_previous=False)

    assert post_event(client, first.ingestion_key, {"evt_type": "x"}).status_code == 401
    assert post_event(client, second.ingestion_key, {"evt_type": "x"}).status_code == 401
    assert post_event(client, leaked, {"evt_type": "x"}).status_code == 200
    assert (leaked.previous_ingestion_key, leaked.previous_webhook_secret) == ("", "")
    assert leaked.previous_keys_expire_at is None


def test_webhooks_signed_with_the_previous_secret_work_for_the_grace_period(
    client, settings, django_capture_on_commit_callbacks
):
    tenant = make_tenant()
    rotated = _rotate(tenant, django_capture_on_commit_callbacks)
    # The provider still has the old URL (old key) and secret, or the new URL and old secret.
    old_everything = post_webhook(client, tenant, {"id": "evt_1"})
    new_url = post_webhook(client, rotated, {"id": "evt_2"}, secret=tenant.webhook_secret)
    new_everything = post_webhook(client, rotated, {"id": "evt_3"})
    forged = post_webhook(client, rotated, {"id": "evt_4"}, secret="whsec_guess")

    TrackingTenant.objects.filter(pk=tenant.pk).update(
        previous_keys_expire_at=timezone.now() - dt.timedelta(seconds=1)
    )
    tenants.forget(tenant.ingestion_key, rotated.ingestion_key)
    expired = post_webhook(client, rotated, {"id": "evt_5"}, secret=tenant.webhook_secret)

    assert [answer.status_code for answer in (old_everything, new_url, new_everything)] == [
        200, 200, 200,
    ]  # fmt: skip
    assert forged.status_code == expired.status_code == 401
    assert RawEvent.objects.count() == 3


def test_a_rotation_is_audited_with_who_and_until_when_never_the_keys(
    admin_user, django_capture_on_commit_callbacks
):
    tenant = make_tenant()
    with django_capture_on_commit_callbacks(execute=True):
        rotated = services.tenant_rotate_keys(actor=admin_user, tenant_id=tenant.pk)

    entry = AuditEntry.objects.get(action="tracking.tenant_rotate_keys")
    written = json.dumps(entry.changes)
    assert entry.actor == admin_user and entry.target_id == str(tenant.pk)
    assert entry.changes == {
        "ingestion_key": True, "webhook_secret": True,
        "previous_keys_work_until": rotated.previous_keys_expire_at.isoformat(),
    }  # fmt: skip
    for secret in (tenant.ingestion_key, tenant.webhook_secret, rotated.ingestion_key,
                   rotated.webhook_secret):  # fmt: skip
        assert secret not in written


def test_only_administrators_rotate_keys(rep, django_capture_on_commit_callbacks):
    from django.http import Http404

    tenant = make_tenant()
    with pytest.raises(Http404):
        services.tenant_rotate_keys(actor=rep.user, tenant_id=tenant.pk)
    assert TrackingTenant.objects.get(pk=tenant.pk).ingestion_key == tenant.ingestion_key


# --- Django admin's action: asked first ---------------------------------------------------------


def test_the_admin_action_asks_first_on_a_page_saying_what_happens(admin_client):
    shop, other = make_tenant("shop"), make_tenant("other")
    asked = admin_client.post(
        "/admin/tracking/trackingtenant/",
        {"action": "rotate_keys", "_selected_action": [shop.pk, other.pk]},
    )
    html = asked.content.decode()

    assert asked.status_code == 200
    assert "Rotate the keys?" in html and "Shop" in html and "Other" in html
    assert "24 more hours" in html and "UTC" in html  # until when, with its zone
    assert 'name="confirm"' in html and 'value="keep"' in html and 'value="now"' in html
    assert {t.ingestion_key for t in TrackingTenant.objects.all()} == {
        shop.ingestion_key, other.ingestion_key,
    }  # fmt: skip


def test_the_admin_action_rotates_once_confirmed(admin_client, django_capture_on_commit_callbacks):
    tenant = make_tenant()
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(
            "/admin/tracking/trackingtenant/",
            {"action": "rotate_keys", "_selected_action": [tenant.pk], "confirm": "yes",
             "previous": RotateKeysForm.KEEP},
        )  # fmt: skip
    rotated = TrackingTenant.objects.get(pk=tenant.pk)
    shown = admin_client.get(done["Location"]).content.decode()

    assert done.status_code == 302
    assert rotated.ingestion_key != tenant.ingestion_key
    assert rotated.previous_ingestion_key == tenant.ingestion_key
    assert "the previous ones work until" in shown and "UTC" in shown
    change = admin_client.get(f"/admin/tracking/trackingtenant/{tenant.pk}/change/")
    assert "The previous key and secret work until" in change.content.decode()


def test_the_admin_action_stopping_the_keys_now_says_so_as_the_tenants_page_does(
    admin_client, settings, django_capture_on_commit_callbacks
):
    shop, other = make_tenant("shop"), make_tenant("other")
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(
            "/admin/tracking/trackingtenant/",
            {"action": "rotate_keys", "_selected_action": [shop.pk, other.pk], "confirm": "yes",
             "previous": RotateKeysForm.NOW},
            follow=True,
        )  # fmt: skip

    said = services.ROTATED_NOW.format(
        names="“Other”, “Shop”", seconds=settings.TRACKING_KEY_CACHE_SECONDS
    )
    assert [message.message for message in done.context["messages"]] == [said]


@pytest.mark.parametrize("previous", ["", "later", "keep\x00", "1e309"])
def test_the_admin_action_with_a_bad_answer_rotates_nothing(admin_client, previous):
    tenant = make_tenant()
    answer = admin_client.post(
        "/admin/tracking/trackingtenant/",
        {"action": "rotate_keys", "_selected_action": [tenant.pk], "confirm": "yes",
         "previous": previous},
    )  # fmt: skip

    assert answer.status_code == 400 and "Rotate the keys?" in answer.content.decode()
    assert TrackingTenant.objects.get(pk=tenant.pk).ingestion_key == tenant.ingestion_key


# --- The tenant's page ----------------------------------------------------------------------


def test_the_tenants_page_asks_then_rotates_and_says_until_when_the_old_key_works(
    admin_client, django_capture_on_commit_callbacks
):
    tenant = make_tenant()
    url = f"/tracking/{tenant.pk}/rotate-keys/"
    dashboard = admin_client.get(f"/tracking/{tenant.pk}/").content.decode()
    asked = admin_client.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(url, {"previous": RotateKeysForm.KEEP}, follow=True)
    rotated = TrackingTenant.objects.get(pk=tenant.pk)
    html = done.content.decode()

    assert url in dashboard and "previous-keys" not in dashboard
    assert asked.status_code == 200 and "Rotate the keys of Shop?" in asked.content.decode()
    assert done.redirect_chain == [(f"/tracking/{tenant.pk}/", 302)]
    until = f"{rotated.previous_keys_expire_at:%-d %b %Y, %H:%M} UTC"
    assert services.ROTATED_KEEPING.format(names="“Shop”", until=until) in html
    assert f"the previous key works until {until}" in html
    assert rotated.ingestion_key in html  # the new key in the snippet and the test command


def test_the_tenants_page_stops_the_old_key_now_when_asked(
    client, admin_client, django_capture_on_commit_callbacks
):
    tenant = make_tenant()
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(
            f"/tracking/{tenant.pk}/rotate-keys/", {"previous": RotateKeysForm.NOW}, follow=True
        )
    html = done.content.decode()
    assert "stop working within" in html and "previous-keys" not in html
    assert post_event(client, tenant, {"evt_type": "x"}).status_code == 401


@pytest.mark.parametrize("previous", ["", "sometime", "\x00", "1e309", "9" * 400])
def test_the_tenants_page_with_a_bad_answer_rotates_nothing(admin_client, previous):
    tenant = make_tenant()
    answer = admin_client.post(f"/tracking/{tenant.pk}/rotate-keys/", {"previous": previous})

    assert answer.status_code == 400 and "form-errors" in answer.content.decode()
    assert TrackingTenant.objects.get(pk=tenant.pk).ingestion_key == tenant.ingestion_key


def test_the_rotation_page_is_for_administrators_of_existing_tenants(rep_client, admin_client):
    tenant = make_tenant()
    missing = admin_client.get("/tracking/999999999/rotate-keys/")
    huge = admin_client.get(f"/tracking/{10**30}/rotate-keys/")
    refused = rep_client.post(f"/tracking/{tenant.pk}/rotate-keys/", {"previous": "now"})

    assert missing.status_code == 404 and huge.status_code == 404
    assert refused.status_code == 403
    assert TrackingTenant.objects.get(pk=tenant.pk).ingestion_key == tenant.ingestion_key

"""How many statements each write of tracking runs (tracking.services), and the tenants' page,
pinned: the same number whatever the number of events or tenants, and a new write cannot go
unpinned. Counted as a request runs them: the actor read afresh (nothing cached on it), the
savepoints left out. The tenant's dashboard is pinned beside its other tests."""

import dataclasses
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.testing import fresh, pins, signed_in, unpinned
from tracking import contract, processing, services, tenants
from tracking.tests.helpers import UA, make_tenant

pytestmark = pytest.mark.django_db

SIZES = [2, 25]
# The functions of the services module that write nothing: the answers it gives, new ids and
# keys, the message a rotation shows, the text of a queued request's rows.
NOT_WRITES = {
    "results_json", "bots_dropped", "new_event_ids", "new_ingestion_key", "new_webhook_secret",
    "rotated_message", "event_ids", "copy_rows",
}  # fmt: skip


def test_every_write_of_tracking_is_pinned():
    assert unpinned(services, tests=globals(), not_writes=NOT_WRITES) == []


def page_views(count: int) -> list[dict]:
    return [
        {"evt_type": "page_view", "session_id": f"s{n % 3}", "url": f"https://x.test/{n}"}
        for n in range(count)
    ]


@pins(services.ingest)
@pytest.mark.parametrize("rows", SIZES)
def test_storing_a_batch_of_events(rows, assert_queries):
    tenant = tenants.resolve(make_tenant().ingestion_key)

    # one INSERT … SELECT of them all
    with assert_queries(1):
        services.ingest(tenant=tenant, events=page_views(rows), ip=None, user_agent=UA, source="js")


def queued_requests(count: int, rows: int, *, named: bool = False) -> list:
    tenant = make_tenant(f"queued-{count}-{rows}-{named}")
    # At noon: near a midnight a request with client ids takes a lock first (one more query).
    noon = timezone.now().astimezone(dt.UTC).replace(hour=12, minute=0)
    request = services._Request(
        tenant_id=tenant.pk, received_at=noon, sent_at=None, ip=None, user_agent=UA,
        source="api", bot=False,
    )  # fmt: skip
    received = request.received_at
    events = [contract.check_event(e, received_at=received) for e in page_views(rows)]
    if named:
        events = [dataclasses.replace(e, event_id=f"n{n}") for n, e in enumerate(events)]
    made = []
    for _ in range(count):
        ids, _ = services.event_ids(events)
        made.append((request, services.copy_rows(events, ids)))
    return made


@pins(services.copy_new)
@pytest.mark.parametrize("requests", [1, 20])
def test_storing_queued_requests_with_new_ids(requests, assert_queries):
    batch = queued_requests(requests, 25)

    # one COPY of them all
    with assert_queries(1):
        services.copy_new(batch)


@pins(services.copy_once)
@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("rows", SIZES)
def test_storing_queued_requests_again_or_with_client_ids(rows, named, assert_queries):
    batch = [(request, copied, named) for request, copied in queued_requests(3, rows, named=named)]

    # the temporary table made if missing and emptied, one COPY into it, one INSERT … SELECT
    with assert_queries(4):
        services.copy_once(batch)


@pins(services.tenant_create)
def test_creating_a_tenant(admin_user, assert_queries):
    actor = fresh(admin_user)

    # its identifier, hash key and ingestion key free, its three check constraints one query
    # each (full_clean, where crm.writes.validate leaves them to the database); the tenant,
    # its audit (an administrator's role needs no query)
    with assert_queries(8):
        services.tenant_create(actor=actor, name="Shop", identifier="shop")


@pins(services.tenant_rotate_keys)
def test_rotating_a_tenants_keys(admin_user, assert_queries):
    tenant = make_tenant()
    actor = fresh(admin_user)

    # the tenant (locked), its new keys, the audit
    with assert_queries(3):
        services.tenant_rotate_keys(actor=actor, tenant_id=tenant.pk)


@pins(services.tenant_changed)
def test_announcing_a_tenant_changed(assert_queries):
    tenant = make_tenant()

    with assert_queries(0):  # the keys are forgotten after the commit, by the cache
        services.tenant_changed(tenant)


@pytest.mark.parametrize("rows", SIZES)
def test_the_tenants_page(admin_user, rows, assert_queries):
    for number in range(rows):
        tenant = tenants.resolve(make_tenant(f"site{number}").ingestion_key)
        services.ingest(tenant=tenant, events=page_views(3), ip=None, user_agent=UA, source="js")
    processing.process_pending()
    client = signed_in(admin_user)

    # session, user, the user's zone; the tenants, their events of the last day, those pending
    # or failed
    with assert_queries(6):
        assert client.get(reverse("tracking:index")).status_code == 200

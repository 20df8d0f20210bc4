"""The reference of the tracking benchmarks: the app as gunicorn serves it, plus one bare Django
view at /t/bench/insert-only that only inserts the request's body as a raw row (no key, limits,
validation or rate limit): the floor of an ingestion request through the same Django and the
same middleware (under /t/: the lean stack of crm.wsgi, as the ingestion endpoints). Served by a
gunicorn of its own (`bench.tracking_reference:application`); never part of the app.

And the dashboards' figures as they were read before the rollups, over the raw rows and events
(`dashboard_from_raw`, `overview_from_raw`): the tracking_dashboard scenario's reference."""

import datetime as dt

from django.db import connection
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncMinute
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from crm.wsgi import application  # noqa: F401  (what gunicorn serves)
from tracking.models import RawEvent, RawStatus, TrackedEvent, TrackedSession
from tracking.services import new_event_ids


@csrf_exempt
def insert_only(request):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tracking_rawevent (tenant_id, received_at, clock_skew, user_agent, "
            "payload, record_source, event_id, status, attempts, last_error, failure_reason) "
            "VALUES (%s, now(), false, '', %s::jsonb, 'api', %s, 0, 0, '', '')",
            [int(request.GET["tenant"]), request.body.decode(), new_event_ids(1)[0]],
        )
    return HttpResponse(b'{"accepted": 1, "rejected": []}', content_type="application/json")


def _route() -> None:
    import crm.urls

    crm.urls.urlpatterns.insert(0, path("t/bench/insert-only", insert_only))


_route()


def overview_from_raw(tenants: list, *, now: dt.datetime | None = None) -> dict[int, dict]:
    """The tenants' overview as it was read: the last day's raw rows counted, every time."""
    now = now or timezone.now()
    ids = [tenant.pk for tenant in tenants]
    received = dict(
        RawEvent.objects.filter(tenant_id__in=ids, received_at__gte=now - dt.timedelta(days=1))
        .values_list("tenant_id")
        .annotate(n=Count("id"))
    )
    by_status = (
        RawEvent.objects.filter(tenant_id__in=ids, status__in=[RawStatus.PENDING, RawStatus.FAILED])
        .values_list("tenant_id", "status")
        .annotate(n=Count("id"))
    )
    counts = {(tenant, status): n for tenant, status, n in by_status}
    return {
        pk: {
            "received": received.get(pk, 0),
            "pending": counts.get((pk, RawStatus.PENDING), 0),
            "failed": counts.get((pk, RawStatus.FAILED), 0),
        }
        for pk in ids
    }


def dashboard_from_raw(tenant, *, now: dt.datetime | None = None) -> dict:
    """A tenant's dashboard figures as they were read: the raw rows a minute, the events by
    page and the sessions of the day counted, every time (the drops and keys left out: those
    never read the rows)."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=1)
    raw = RawEvent.objects.filter(tenant=tenant)
    per_minute = list(
        raw.filter(received_at__gte=since)
        .annotate(minute=TruncMinute("received_at"))
        .values_list("minute")
        .annotate(n=Count("id"))
        .order_by("minute")
    )
    pending = raw.filter(status=RawStatus.PENDING).aggregate(
        n=Count("id"), oldest=Min("received_at")
    )
    failed = list(
        raw.filter(status=RawStatus.FAILED)
        .values_list("failure_reason")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    top_pages = list(
        TrackedEvent.objects.filter(tenant=tenant, occurred_at__gte=since, evt_type="page_view")
        .exclude(url_path="")
        .values_list("url_path")
        .annotate(n=Count("id"))
        .order_by("-n", "url_path")[:10]
    )
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    sessions = TrackedSession.objects.filter(tenant=tenant, first_seen__gte=midnight).aggregate(
        n=Count("id"), bounced=Count("id", filter=Q(page_views__lte=1))
    )
    return {
        "per_minute": per_minute,
        "received": sum(n for _, n in per_minute),
        "pending": pending["n"],
        "failed": failed,
        "top_pages": top_pages,
        "sessions_today": sessions["n"],
        "bounced_today": sessions["bounced"],
        "recent": list(raw.order_by("-received_at", "-id")[:20]),
    }

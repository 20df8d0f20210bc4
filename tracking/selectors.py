"""Reads of tracking, for administrators only (the tracking area is theirs): tenants, and a
tenant's dashboard figures. Every read names its tenant: one tenant's rows never show on
another's page."""

import datetime as dt

from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncMinute
from django.utils import timezone

from crm.roles import Actor, sees_everything
from tracking import counters
from tracking.models import RawEvent, RawStatus, TrackedEvent, TrackedSession, TrackingTenant

TOP_PAGES = 10
RECENT_RAW = 20


def tenant_list(*, user: Actor) -> QuerySet[TrackingTenant]:
    """The tenants `user` may see: every one for an administrator, none for anyone else."""
    if not sees_everything(user):
        return TrackingTenant.objects.none()
    return TrackingTenant.objects.order_by("name")


def overview(tenants: list[TrackingTenant], *, now: dt.datetime | None = None) -> dict[int, dict]:
    """Per tenant: events received in the last 24 hours, pending and failed now. Three grouped
    queries for all of them."""
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


def dashboard(tenant: TrackingTenant, *, now: dt.datetime | None = None) -> dict:
    """What the tenant's dashboard shows: events a minute over 24 hours, the pending backlog
    and its age, failed rows by reason, what was dropped and why, top pages, sessions today,
    the latest raw rows (the last received first), and until when its previous keys work."""
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
    events = TrackedEvent.objects.filter(tenant=tenant, occurred_at__gte=since)
    top_pages = list(
        events.filter(evt_type="page_view")
        .exclude(url_path="")
        .values_list("url_path")
        .annotate(n=Count("id"))
        .order_by("-n", "url_path")[:TOP_PAGES]
    )
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    sessions = TrackedSession.objects.filter(tenant=tenant, first_seen__gte=midnight).aggregate(
        n=Count("id"), views=Max("page_views"), bounced=Count("id", filter=Q(page_views__lte=1))
    )
    return {
        "per_minute": per_minute,
        "received": sum(n for _, n in per_minute),
        "pending": pending["n"],
        "pending_age": (now - pending["oldest"]) if pending["oldest"] else None,
        "failed": failed,
        "failed_total": sum(n for _, n in failed),
        "drops": counters.drop_counts(tenant.pk, now=now),
        "top_pages": top_pages,
        "sessions_today": sessions["n"],
        "bounced_today": sessions["bounced"],
        # By when they were received (an import names its rows' moments, which may be earlier
        # than rows stored before it), then as stored.
        "recent": list(raw.order_by("-received_at", "-id")[:RECENT_RAW]),
        "previous_keys_until": tenant.previous_keys_expire_at
        if tenant.previous_keys_expire_at and tenant.previous_keys_expire_at > now
        else None,
        "since": since,
        "now": now,
    }


def recent_events(tenant: TrackingTenant, *, now: dt.datetime | None = None) -> QuerySet:
    """The tenant's events of the last 24 hours, oldest first, with their sessions."""
    since = (now or timezone.now()) - dt.timedelta(days=1)
    return (
        TrackedEvent.objects.filter(tenant=tenant, occurred_at__gte=since)
        .select_related("session")
        .order_by("occurred_at", "id")
    )

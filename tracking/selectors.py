"""Reads of tracking, for administrators only (the tracking area is theirs): tenants, and a
tenant's dashboard figures. Every read names its tenant: one tenant's rows never show on
another's page."""

import datetime as dt

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from crm.roles import Actor, sees_everything
from tracking import counters, rollups
from tracking.models import (
    EventsByMinute,
    PageViewsByHour,
    RawEvent,
    RawStatus,
    SessionsByQuarter,
    TrackedEvent,
    TrackingTenant,
)

TOP_PAGES = 10
RECENT_RAW = 20


def tenant_list(*, user: Actor) -> QuerySet[TrackingTenant]:
    """The tenants `user` may see: every one for an administrator, none for anyone else."""
    if not sees_everything(user):
        return TrackingTenant.objects.none()
    return TrackingTenant.objects.order_by("name")


def window_start(now: dt.datetime) -> dt.datetime:
    """Where "the last 24 hours" begin: on a whole minute, the rollups' smallest bucket."""
    return rollups.minute(now - dt.timedelta(days=1))


# Pending or failed, as OR (not IN): each arm is found by its own partial index.
_NOT_MADE = Q(status=RawStatus.PENDING) | Q(status=RawStatus.FAILED)


def _waiting(since: dt.datetime) -> dict:
    # Rows received in the window that made no event yet (pending) or will not (failed): in
    # what was received, beside the events the rollup counts.
    return {"received": Count("id", filter=Q(received_at__gte=since))}


def overview(tenants: list[TrackingTenant], *, now: dt.datetime | None = None) -> dict[int, dict]:
    """Per tenant: events received in the last 24 hours, pending and failed now. Two grouped
    queries for all of them: the events a minute (the rollup), the rows pending or failed (their
    partial indexes)."""
    now = now or timezone.now()
    since = window_start(now)
    ids = [tenant.pk for tenant in tenants]
    received = dict(
        EventsByMinute.objects.filter(tenant_id__in=ids, minute__gte=since)
        .values_list("tenant_id")
        .annotate(n=Sum("n"))
        .order_by()
    )
    by_status = (
        RawEvent.objects.filter(_NOT_MADE, tenant_id__in=ids)
        .values_list("tenant_id", "status")
        .annotate(n=Count("id"), **_waiting(since))
        .order_by()
    )
    counts, waiting = {}, dict.fromkeys(ids, 0)
    for tenant, status, n, recent in by_status:
        counts[tenant, status] = n
        waiting[tenant] += recent
    return {
        pk: {
            "received": received.get(pk, 0) + waiting[pk],
            "pending": counts.get((pk, RawStatus.PENDING), 0),
            "failed": counts.get((pk, RawStatus.FAILED), 0),
        }
        for pk in ids
    }


def dashboard(tenant: TrackingTenant, *, now: dt.datetime | None = None) -> dict:
    """What the tenant's dashboard shows: events a minute over 24 hours, the pending backlog
    and its age, failed rows by reason, what was dropped and why, top pages, sessions today,
    the latest raw rows (the last received first), and until when its previous keys work.

    The figures are read from the rollups (tracking.rollups); only the backlog and the failed
    rows (partial indexes) and the latest rows (an index, 20 rows) read the raw table."""
    now = now or timezone.now()
    since = window_start(now)
    raw = RawEvent.objects.filter(tenant=tenant)
    per_minute = list(
        EventsByMinute.objects.filter(tenant=tenant, minute__gte=since)
        .values_list("minute")
        .annotate(n=Sum("n"))
        .order_by("minute")
    )
    pending = raw.filter(_NOT_MADE).aggregate(
        n=Count("id", filter=Q(status=RawStatus.PENDING)),
        oldest=Min("received_at", filter=Q(status=RawStatus.PENDING)),
        **_waiting(since),
    )
    failed = list(
        raw.filter(status=RawStatus.FAILED)
        .values_list("failure_reason")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    # By whole hours: the first hour of the window counts whole.
    top_pages = list(
        PageViewsByHour.objects.filter(tenant=tenant, hour__gte=rollups.hour(since))
        .values_list("url_path")
        .annotate(n=Sum("n"))
        .order_by("-n", "url_path")[:TOP_PAGES]
    )
    # The viewer's midnight, which is on a quarter of an hour in every time zone.
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    sessions = SessionsByQuarter.objects.filter(tenant=tenant, quarter__gte=midnight).aggregate(
        n=Sum("sessions", default=0), bounced=Sum("bounced", default=0)
    )
    return {
        "per_minute": per_minute,
        "received": sum(n for _, n in per_minute) + pending["received"],
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

"""Tracking's section of the ops dashboard (crm.ops): the backlog the workers have not processed
and how old it is, what was accepted and dropped (by reason), the rows that failed (by reason)."""

import datetime as dt

from django.db.models import Count, Q

from crm.health import DEGRADED, HEALTHY, health_check
from crm.ops import counters
from crm.ops.core import admin_list, ago
from crm.ops.dashboard import (
    BAD,
    GOOD,
    WARN,
    Cell,
    Figure,
    Section,
    Table,
    count_chart,
    last_hour,
    ops_section,
)
from crm.periods import format_moment
from tracking import queue
from tracking.counters import DROP_REASONS
from tracking.models import FailureReason, RawEvent, RawStatus, TrackingTenant

# A backlog whose oldest row waits longer than this is behind.
BEHIND_AFTER = dt.timedelta(minutes=5)


@ops_section(order=50)
def ingestion(now: dt.datetime) -> Section:
    """Tracking ingestion"""
    pending = RawEvent.objects.filter(status=RawStatus.PENDING)
    backlog = pending.count()
    oldest = pending.order_by("id").values_list("received_at", flat=True).first()
    age = now - oldest if oldest else dt.timedelta(0)
    # Counted from the rows, through the (tenant, received_at) index one tenant at a time: the
    # ingestion paths count nothing more per request.
    recent = RawEvent.objects.filter(
        tenant_id__in=TrackingTenant.objects.values("pk"),
        received_at__gte=now - dt.timedelta(minutes=10),
        received_at__lt=now,
    ).aggregate(
        minute=Count("id", filter=Q(received_at__gte=now - dt.timedelta(minutes=1))),
        ten=Count("id"),
    )
    figures = [
        Figure(
            "Backlog",
            f"{backlog:,}",
            admin_list("tracking.rawevent", status__exact=RawStatus.PENDING),
            state=BAD if age > BEHIND_AFTER else GOOD,
            note="rows waiting to be processed",
        ),
        Figure(
            "Oldest waiting",
            ago(oldest, now) if oldest else "none",
            state=BAD if age > BEHIND_AFTER else GOOD,
        ),
        Figure(
            "Accepted, last minute",
            f"{recent['minute']:,}",
            note=f"{recent['ten']:,} in the last 10 minutes",
        ),
    ]
    drops, dropped_total = [], [0] * 60
    for reason, label in DROP_REASONS.items():
        minutes = counters.per_minute(f"tracking.dropped:{reason}", minutes=60, now=now)
        dropped_total = [a + b for a, b in zip(dropped_total, minutes, strict=True)]
        drops.append(
            [
                Cell(label),
                Cell(f"{minutes[-1]:,}", state=WARN if minutes[-1] else ""),
                Cell(f"{sum(minutes):,}", state=WARN if sum(minutes) else ""),
            ]
        )
    failed = dict(
        RawEvent.objects.filter(status=RawStatus.FAILED)
        .values_list("failure_reason")
        .annotate(rows=Count("id"))
        .order_by()
    )
    failures = [
        [
            Cell(
                label,
                admin_list(
                    "tracking.rawevent",
                    status__exact=RawStatus.FAILED,
                    failure_reason__exact=reason,
                ),
            ),
            Cell(f"{failed.get(reason, 0):,}", state=BAD if failed.get(reason) else ""),
        ]
        for reason, label in FailureReason.choices
    ]
    labels, zone = last_hour(now)
    return Section(
        title="Tracking ingestion",
        figures=figures,
        tables=[
            Table("Answered but not stored", ["Reason", "Last minute", "Last hour"], drops),
            Table("Rows that failed processing", ["Reason", "Rows"], failures),
        ],
        charts=[
            count_chart(
                f"Events dropped a minute, last hour ({zone})",
                "events",
                list(zip(labels, dropped_total, strict=True)),
                label_every=10,
            )
        ],
    )


# --- The queue in front of the raw table (TRACKING_QUEUE=redis) --------------------------------

# A stream's loss stays an alert this long after the drainers found it.
LOST_ALERT_FOR = dt.timedelta(days=1)


@ops_section(order=51)
def ingestion_queue(now: dt.datetime) -> Section | None:
    """Tracking queue"""
    if not queue.enabled():
        return None
    figures = queue_figures(queue.backlog(now), now)
    return Section(title="Tracking queue", figures=figures)


@health_check("tracking_queue")
def queue_health() -> dict | None:
    """In queue mode ingestion answers 503 while the stream's Redis is down or the queue is
    full: /health/ says degraded (the rest of the CRM works) with the backlog."""
    if not queue.enabled():
        return None
    backlog = queue.backlog()
    full = backlog.entries >= backlog.limit
    result = {"status": DEGRADED if full else HEALTHY, "entries": backlog.entries}
    if full:
        result["detail"] = "queue full: ingestion answers 503"
    return result


def queue_figures(backlog: queue.Backlog, now: dt.datetime) -> list[Figure]:
    """The queue's figures, for the ops dashboard and the tracking dashboard alike."""
    age = now - backlog.oldest if backlog.oldest else dt.timedelta(0)
    filled = backlog.entries / max(backlog.limit, 1)
    lost_lately = backlog.lost_at is not None and now - backlog.lost_at < LOST_ALERT_FOR
    return [
        Figure(
            "Queued requests",
            f"{backlog.entries:,}",
            state=BAD if filled >= 1 else WARN if filled >= 0.5 else GOOD,
            note=f"of {backlog.limit:,} before refusing (503)",
        ),
        Figure(
            "Oldest queued",
            ago(backlog.oldest, now) if backlog.oldest else "none",
            state=BAD if age > BEHIND_AFTER else GOOD,
        ),
        Figure("Drained, last minute", f"{backlog.drained_last_minute:,}", note="events"),
        Figure(
            "Lost from the queue",
            f"{backlog.lost:,}",
            state=BAD if lost_lately else GOOD,
            # Trimmed or evicted: docs/tracking.md says why, the drainer's log when.
            note=(
                f"requests, last {format_moment(backlog.lost_at, 'j M, H:i')}"
                if backlog.lost_at
                else "requests"
            ),
        ),
    ]

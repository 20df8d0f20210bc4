"""The core's sections of the ops dashboard: switches, jobs, dead letters, queues and workers,
and the requests refused with 409 or 429."""

import datetime as dt
import os
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.urls import reverse

from crm.jobs.models import DeadLetter, Heartbeat, JobRun, JobRunStatus
from crm.jobs.registry import registered_jobs
from crm.ops import counters
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
from crm.switches.selectors import switches_on

# A scheduled run may start this late (beat's tick, the queue) before it counts as missed.
MISSED_GRACE = dt.timedelta(minutes=5)
FAILURES_SINCE = dt.timedelta(days=7)
# How long the dashboard waits for workers to answer a ping.
PING_TIMEOUT = 0.5


def admin_list(model: str, **filters) -> str:
    """The Django admin list of `model` ("crm.jobrun"), filtered."""
    app, name = model.split(".")
    url = reverse(f"admin:{app}_{name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def ago(moment: dt.datetime | None, now: dt.datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


@ops_section(order=5)
def switches(now: dt.datetime) -> Section | None:
    """Switches"""
    on = switches_on()
    if not on:
        return None
    figures = [
        Figure(
            label=name.capitalize(),
            value=", ".join(
                word
                for word, flag in (("offline", s.offline), ("jobs paused", s.jobs_paused))
                if flag
            ),
            href=f"{reverse('ops:switches')}#switch-{name}",
            state=BAD if s.offline else WARN,
            note=s.reason + (f" Expected back {format_moment(s.back_at)}." if s.back_at else ""),
        )
        for name, s in sorted(on.items())
    ]
    return Section(title="Switches on", figures=figures)


def _next_and_missed(job, last_started: dt.datetime | None, now: dt.datetime):
    """When the job runs next and whether a run it should have had did not come."""
    if job.schedule is None:
        return None, False
    since = last_started or now
    due = now + job.schedule.remaining_estimate(since)
    if last_started is None:
        return due, False
    return (
        due if due > now else now + job.schedule.remaining_estimate(now)
    ), due + MISSED_GRACE < now


@ops_section(order=10)
def jobs(now: dt.datetime) -> Section:
    """Jobs"""
    runs = JobRun.objects.exclude(
        status__in=[JobRunStatus.SKIPPED_LOCKED, JobRunStatus.SKIPPED_PAUSED]
    )
    by_name = {
        row["name"]: row
        for row in runs.values("name")
        .annotate(
            last_id=Max("id"),
            last_success=Max("finished_at", filter=Q(status=JobRunStatus.SUCCEEDED)),
            failures=Count(
                "id", filter=Q(status=JobRunStatus.FAILED, started_at__gte=now - FAILURES_SINCE)
            ),
        )
        .order_by()
    }
    last_runs = JobRun.objects.in_bulk([row["last_id"] for row in by_name.values()])
    rows, missed_count, failing = [], 0, 0
    for name, job in sorted(registered_jobs().items()):
        row = by_name.get(name, {})
        last = last_runs.get(row.get("last_id"))
        next_run, missed = _next_and_missed(job, last.started_at if last else None, now)
        missed_count += missed
        status_state = {
            JobRunStatus.FAILED: BAD,
            JobRunStatus.RUNNING: "",
            JobRunStatus.SUCCEEDED: GOOD,
        }.get(last.status if last else None, "")  # never run yet: a fresh install, not a fault
        failing += bool(last and last.status == JobRunStatus.FAILED)
        failures = row.get("failures", 0)
        rows.append(
            [
                Cell(name, admin_list("crm.jobrun", name=name)),
                Cell(ago(last.started_at, now) if last else "never", state=BAD if missed else ""),
                Cell(last.get_status_display() if last else "—", state=status_state),
                Cell(ago(row.get("last_success"), now)),
                Cell(f"{last.duration.total_seconds():.1f} s" if last and last.duration else "—"),
                Cell(str(last.items_processed) if last else "—"),
                Cell(
                    str(failures),
                    admin_list("crm.jobrun", name=name, status=JobRunStatus.FAILED),
                    state=WARN if failures else "",
                ),
                Cell(
                    ("missed — " if missed else "")
                    + (format_moment(next_run, "j M, H:i") if next_run else "on demand"),
                    state=BAD if missed else "",
                ),
            ]
        )
    figures = [
        Figure("Jobs", str(len(rows)), admin_list("crm.jobrun")),
        Figure("Missed their schedule", str(missed_count), state=BAD if missed_count else GOOD),
        Figure(
            "Last run failed",
            str(failing),
            admin_list("crm.jobrun", status=JobRunStatus.FAILED),
            state=BAD if failing else GOOD,
        ),
    ]
    header = [
        "Job",
        "Last run",
        "Status",
        "Last success",
        "Took",
        "Items",
        "Failures (7 days)",
        "Next run",
    ]
    return Section(
        title="Jobs", figures=figures, tables=[Table("Every registered job", header, rows)]
    )


@ops_section(order=20)
def dead_letters(now: dt.datetime) -> Section:
    """Dead letters"""
    rows = list(
        DeadLetter.objects.filter(retried=False)
        .values("task_name")
        .annotate(letters=Count("id"), oldest=Min("first_failed_at"), last=Max("last_failed_at"))
        .order_by("oldest")
    )
    total = sum(row["letters"] for row in rows)
    table = Table(
        "Dead letters waiting, by task",
        ["Task", "Letters", "Oldest", "Last failure"],
        [
            [
                Cell(
                    row["task_name"],
                    admin_list("crm.deadletter", task_name=row["task_name"], retried__exact=0),
                ),
                Cell(str(row["letters"]), state=WARN),
                Cell(format_moment(row["oldest"], "j M, H:i")),
                Cell(ago(row["last"], now)),
            ]
            for row in rows
        ],
        empty="No dead letters: every task that failed was retried or discarded.",
    )
    figure = Figure(
        "Waiting",
        str(total),
        admin_list("crm.deadletter", retried__exact=0),
        state=WARN if total else GOOD,
    )
    return Section(
        title="Dead letters",
        figures=[figure],
        tables=[table],
        actions="ops/partials/dead_letters.html",
        context={"tasks": [row["task_name"] for row in rows]},
    )


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in the broker, by queue (None: could not be read)."""
    queues = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    if settings.CELERY_EMBEDDED:
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        try:
            return {
                name: sum(1 for entry in os.scandir(folder) if entry.is_file()) for name in queues
            }
        except OSError:
            return dict.fromkeys(queues)
    import redis

    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        return {name: client.llen(name) for name in sorted(queues)}
    except redis.RedisError:
        return dict.fromkeys(queues)


def workers_answering() -> list[str] | None:
    """The workers that answer a ping (None in the embedded mode, which cannot broadcast)."""
    if settings.CELERY_EMBEDDED:
        return None
    from crm.celery import app

    try:
        replies = app.control.ping(timeout=PING_TIMEOUT)
    except Exception:
        return []
    return sorted(name for reply in replies for name in reply)


@ops_section(order=30)
def queues_and_workers(now: dt.datetime) -> Section:
    """Queues and workers"""
    stale = dt.timedelta(seconds=settings.HEALTH_HEARTBEAT_STALE_AFTER)
    seen = dict(Heartbeat.objects.values_list("component", "seen_at"))
    figures = []
    for name, depth in queue_depths().items():
        figures.append(
            Figure(
                f"Queue “{name}”",
                "unknown" if depth is None else f"{depth:,}",
                state=BAD if depth is None else WARN if depth > 1000 else GOOD,
                note="messages waiting",
            )
        )
    answering = workers_answering()
    if answering is not None:
        figures.append(
            Figure(
                "Workers answering",
                str(len(answering)),
                state=GOOD if answering else BAD,
                note=", ".join(answering),
            )
        )
    for component in ("worker", "beat"):
        at = seen.get(component)
        fresh = at is not None and now - at <= stale
        figures.append(
            Figure(
                f"{component.capitalize()} heartbeat",
                ago(at, now),
                admin_list("crm.heartbeat"),
                state=GOOD if fresh else BAD,
            )
        )
    minutes = counters.per_minute("tasks", minutes=60, now=now)
    figures.append(
        Figure("Tasks a minute", str(minutes[-1]), note=f"{sum(minutes):,} in the last hour")
    )
    labels, zone = last_hour(now)
    chart = count_chart(
        f"Tasks run a minute, last hour ({zone})",
        "tasks",
        list(zip(labels, minutes, strict=True)),
        label_every=10,
    )
    return Section(title="Queues and workers", figures=figures, charts=[chart])


@ops_section(order=40)
def refused_requests(now: dt.datetime) -> Section:
    """Requests refused"""
    figures, charts = [], []
    for status, meaning in ((409, "Conflicts (409)"), (429, "Rate-limited (429)")):
        days = counters.per_day(f"refused:{status}", days=14, now=now)
        figures.append(
            Figure(
                f"{meaning} today",
                str(days[-1][1]),
                state=WARN if days[-1][1] else GOOD,
                note=f"{sum(n for _, n in days):,} in 14 days",
            )
        )
        charts.append(
            count_chart(
                f"{meaning} per day, last 14 days (UTC)",
                "requests",
                [(day.strftime("%-d %b"), n) for day, n in days],
            )
        )
    return Section(title="Requests refused", figures=figures, charts=charts)

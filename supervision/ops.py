"""Supervision's section of the ops dashboard (crm.ops): the review cache's hit rate against the
target (over half on the first day, over 85 % by the fourth week), requests refused by the
reviews' rate limit, days saved and save conflicts per day."""

import datetime as dt

from django.db.models import Count
from django.db.models.functions import TruncDate

from crm.ops import counters
from crm.ops.core import admin_list
from crm.ops.dashboard import BAD, GOOD, WARN, Figure, Section, count_chart, ops_section
from supervision.analysis import cache_stats
from supervision.models import SessionStatus, SupervisionSession

HIT_RATE_TARGET = 85
HIT_RATE_FLOOR = 50
DAYS = 14


@ops_section(order=70)
def supervision(now: dt.datetime) -> Section:
    """Supervision"""
    everything = cache_stats()["all"]
    rate = everything["hit_rate"]
    week = cache_stats(since=now - dt.timedelta(days=7))["all"]["hit_rate"]
    first = now.astimezone(dt.UTC).date() - dt.timedelta(days=DAYS - 1)
    saved = dict(
        SupervisionSession.objects.filter(
            status=SessionStatus.SAVED,
            saved_at__gte=dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC),
        )
        .annotate(day=TruncDate("saved_at", tzinfo=dt.UTC))
        .values_list("day")
        .annotate(days=Count("id"))
        .order_by()
    )
    conflicts = counters.per_day("refused:409:supervision", days=DAYS, now=now)
    limited = counters.per_day("refused:429:supervision", days=DAYS, now=now)
    days = [day for day, _ in conflicts]

    def state(value) -> str:
        if value is None:
            return ""
        return GOOD if value > HIT_RATE_TARGET else WARN if value > HIT_RATE_FLOOR else BAD

    return Section(
        title="Supervision",
        figures=[
            Figure(
                "Review cache hit rate",
                "—" if rate is None else f"{rate} %",
                admin_list("supervision.analysis"),
                state=state(rate),
                note=f"{everything['hits']:,} from the cache, {everything['misses']:,} new",
            ),
            Figure(
                "Hit rate, last 7 days",
                "—" if week is None else f"{week} %",
                state=state(week),
                note=f"target: over {HIT_RATE_TARGET} % by week 4",
            ),
            Figure(
                "Days saved today",
                str(saved.get(days[-1], 0)),
                admin_list("supervision.supervisionsession", status__exact=SessionStatus.SAVED),
            ),
            Figure(
                "Save conflicts today",
                str(conflicts[-1][1]),
                state=WARN if conflicts[-1][1] else GOOD,
            ),
            Figure(
                "Rate-limited today", str(limited[-1][1]), state=WARN if limited[-1][1] else GOOD
            ),
        ],
        charts=[
            count_chart(
                "Days saved per day (UTC)",
                "days",
                [(d.strftime("%-d %b"), saved.get(d, 0)) for d in days],
            ),
            count_chart(
                "Save conflicts per day (UTC)",
                "conflicts",
                [(d.strftime("%-d %b"), n) for d, n in conflicts],
            ),
        ],
    )

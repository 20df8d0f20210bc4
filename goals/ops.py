"""The goals' section of the ops dashboard (crm.ops): goals whose calculation failed, and
automatic goals whose value was not recounted lately (the events or the fallback job stalled)."""

import datetime as dt

from django.db.models import Count, Q

from crm.ops.core import admin_list
from crm.ops.dashboard import BAD, GOOD, WARN, Figure, Section, ops_section
from goals.models import Goal, GoalStatus, Source

# The fallback recalculation runs every 15 minutes: twice that and a goal is behind.
STALE_AFTER = dt.timedelta(minutes=30)


@ops_section(order=60)
def goals(now: dt.datetime) -> Section:
    """Goals"""
    counts = (
        Goal.objects.active()
        .calculated()
        .aggregate(
            automatic=Count("id"),
            failed=Count("id", filter=Q(calculation_failed=True)),
            stale=Count(
                "id",
                filter=Q(last_calculated_at__lt=now - STALE_AFTER)
                | Q(last_calculated_at__isnull=True),
            ),
        )
    )
    failed, stale = counts["failed"], counts["stale"]
    return Section(
        title="Goals",
        figures=[
            Figure(
                "Automatic goals",
                f"{counts['automatic']:,}",
                admin_list(
                    "goals.goal",
                    status__exact=GoalStatus.ACTIVE,
                    calculation_source__exact=Source.AUTO,
                ),
            ),
            Figure(
                "Calculation failed",
                f"{failed:,}",
                admin_list(
                    "goals.goal", status__exact=GoalStatus.ACTIVE, calculation_failed__exact=1
                ),
                state=BAD if failed else GOOD,
            ),
            Figure(
                "Not recounted in 30 minutes",
                f"{stale:,}",
                admin_list(
                    "goals.goal",
                    status__exact=GoalStatus.ACTIVE,
                    calculation_source__exact=Source.AUTO,
                ),
                state=WARN if stale else GOOD,
            ),
        ],
    )

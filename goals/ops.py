"""The goals' section of the ops dashboard (crm.ops): goals whose calculation failed, automatic
goals whose value was not recounted lately (the events or the fallback job stalled), and the
last consistency check (goals.services.consistency)."""

import datetime as dt

from django.db.models import Count, Q

from crm.ops.core import admin_list, ago
from crm.ops.dashboard import BAD, GOOD, WARN, Figure, Section, ops_section
from goals import selectors
from goals.models import Goal, GoalStatus, Source

# Behind as the pages say Stale: past the fallback recalculation's interval plus 5 minutes.
STALE_AFTER = selectors.STALE_AFTER
# The check runs every night: one older than this means a night was missed.
CHECK_DUE = dt.timedelta(hours=26)


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
                "Stale (not recounted in 20 minutes)",
                f"{stale:,}",
                admin_list(
                    "goals.goal",
                    status__exact=GoalStatus.ACTIVE,
                    calculation_source__exact=Source.AUTO,
                ),
                state=WARN if stale else GOOD,
            ),
            _last_check(now),
        ],
    )


def _last_check(now: dt.datetime) -> Figure:
    """The last consistency check's verdict: bad when it left differences unrepaired, a warning
    when it repaired some or when a night was missed."""
    check = selectors.last_check()
    href = admin_list("goals.goalcheck")
    if check is None:
        return Figure("Last consistency check", "never", href, state=WARN)
    if check.differences > check.repaired:
        state = BAD
    elif check.differences or now - check.started_at > CHECK_DUE:
        state = WARN
    else:
        state = GOOD
    note = f"{check.repaired:,} repaired" if check.differences else ""
    return Figure(
        "Last consistency check", f"{ago(check.started_at, now)}: {check}", href, state, note
    )

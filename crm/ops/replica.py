"""The read replica's section of the ops dashboard (crm.replica): whether the dashboards read it,
how far it is behind the primary, and why the primary answers when it does not. No section
without DATABASE_REPLICA_URL; two queries (one a server) with a replica to ask."""

import datetime as dt

from django.conf import settings

from crm import replica
from crm.ops.dashboard import BAD, GOOD, WARN, Figure, Section, ops_section
from crm.periods import format_moment

TITLE = "Read replica"


def _size(behind: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if behind >= size:
            return f"{behind / size:,.1f} {unit}"
    return f"{behind:,} bytes"


@ops_section(order=55)
def read_replica(now: dt.datetime) -> Section | None:
    """Read replica"""
    if not replica.replica_configured():
        return None
    if replica.replica_is_primary():
        note = "DATABASE_REPLICA_URL names the primary's database: nothing is replicated"
        return Section(TITLE, figures=[Figure("Dashboards read", "the primary", note=note)])
    state = replica.replica_state()
    limit = settings.DATABASE_REPLICA_MAX_LAG
    if not state.answering or not state.replicating:
        why = "does not answer" if not state.answering else "is not replicating"
        figures = [
            Figure("Replica", why, state=BAD, note="the dashboards read the primary"),
        ]
        return Section(TITLE, figures=figures)
    lag = "unknown" if state.lag_seconds is None else f"{state.lag_seconds:,} s"
    figures = [
        Figure(
            "Dashboards read",
            "the replica" if state.tolerated else "the primary",
            state=GOOD if state.tolerated else WARN,
            note=f"up to {limit:,} s behind is tolerated",
        ),
        Figure(
            "Behind the primary",
            lag,
            state=GOOD if state.tolerated else WARN,
            note=f"{_size(state.behind_bytes or 0)} of WAL to replay",
        ),
        Figure(
            "Holds commits up to",
            format_moment(state.as_of, "j M, H:i:s") if state.as_of else "unknown",
        ),
    ]
    return Section(TITLE, figures=figures)

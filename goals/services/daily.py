"""The goals' day-end steps, each set-based, run every few minutes (goals.jobs) for every zone
whose day just ended, since a goal counts in its owner's zone (a rep's own, a team's and the
company's TIME_ZONE): the goals whose period ended are counted one last time, each goal gets its
snapshot of its owner's day, the ended goals are closed (reached or missed), and the off-track
alerts of the goals whose day ended are raised and cleared."""

import datetime as dt
from collections.abc import Collection, Mapping

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crm import periods
from crm.mail import send_after_commit
from crm.roles import Actor, SystemActor, administrators
from crm.writes import audit_many
from goals import metrics, selectors
from goals.models import AlertKind, Goal, GoalAlert, GoalSnapshot, GoalStatus, OwnerType
from goals.services.history import goals_history_advance
from goals.services.recalculation import goals_recalculate

# The job looks back this far at most: a zone where several days ended since its last run gets
# the snapshot of the latest (an earlier day's value is not known any more).
LOOK_BACK = dt.timedelta(days=1)
REACHED = "The goal's period ended: its target was reached."
MISSED = "The goal's period ended: its target was missed."


def days_ended(*, since: dt.datetime | None, now: dt.datetime) -> dict[str, dt.date]:
    """The zones of active goals whose day ended after `since` (at most LOOK_BACK before `now`;
    None: that far) and by `now`, each with the day that ended there (the latest, when several
    did). Reads the zones in one query; the days are the zones' own, daylight saving time
    included."""
    since = max(since or now - LOOK_BACK, now - LOOK_BACK)
    ended = {}
    zones = Goal.objects.active().order_by().values_list("zone", flat=True).distinct()
    for name in zones:
        zone = periods.zone_named(name)
        today = periods.local_date(now, zone)
        if since < periods.day(today, zone).start <= now:
            ended[name] = today - dt.timedelta(days=1)
    return ended


def snapshot_active_goals(*, days: Mapping[str, dt.date], now: dt.datetime | None = None) -> int:
    """Each active goal's snapshot of its owner's day that ended, in one INSERT … SELECT: a
    goal in a zone of `days` gets that zone's day (if its period had begun by then), a goal
    whose period ended by `now` its last day, whatever its zone. Once per goal and day: a
    second run writes nothing (the unique goal and date). The goals keep their last snapshot
    for the analytics (goals.services.history), in one more statement."""
    now = now or timezone.now()
    ops = connection.ops
    q = ops.quote_name
    day_in_zone = "".join(f" WHEN {q('zone')} = %s THEN %s" for _ in days)
    in_zones = f" OR {q('zone')} IN ({', '.join(['%s'] * len(days))})" if days else ""
    columns = ", ".join(q(c) for c in ("goal_id", "date", "value", "target", "percent"))
    figures = [q(c) for c in ("current_value", "target_value", "progress_percent")]
    # The goals to snapshot, each with its day.
    due = f"""
        SELECT g.{q("id")}, g.day, {", ".join(f"g.{name}" for name in figures)}
        FROM (
            SELECT {q("id")}, {", ".join(figures)}, {q("period_start")},
                CASE WHEN {q("ends_at")} <= %s THEN {q("period_end")}{day_in_zone} END AS day
            FROM {q(Goal._meta.db_table)}
            WHERE {q("status")} = %s AND ({q("ends_at")} <= %s{in_zones})
        ) g
        WHERE g.day >= g.{q("period_start")}"""
    moment = ops.adapt_datetimefield_value(now)
    due_params = [
        moment,
        *(part for name, day in days.items() for part in (name, ops.adapt_datefield_value(day))),
        GoalStatus.ACTIVE, moment, *days,
    ]  # fmt: skip
    sql = f"""
        INSERT INTO {q(GoalSnapshot._meta.db_table)} ({columns}, {q("created_at")})
        SELECT due.*, %s FROM ({due}) due
        WHERE true -- (SQLite reads an ON right after FROM … as a join's)
        ON CONFLICT ({q("goal_id")}, {q("date")}) DO NOTHING"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [moment, *due_params])
        written = cursor.rowcount
    goals_history_advance(snapshotted=due, params=due_params)
    return written


def close_ended_goals(*, actor: Actor, now: dt.datetime | None = None) -> int:
    """Goals whose period has ended are completed, whether or not their value moved; each one's
    audit entry says whether it reached its target or missed it."""
    now = now or timezone.now()
    ended = list(
        Goal.objects.active().ended(now).values_list("pk", "current_value", "target_value")
    )
    ids = [pk for pk, _, _ in ended]
    Goal.objects.filter(pk__in=ids).update(
        status=GoalStatus.COMPLETED, closed_at=now, updated_at=now
    )
    change = {"status": [GoalStatus.ACTIVE, GoalStatus.COMPLETED]}
    reached = {pk for pk, value, target in ended if target is not None and value >= target}
    for reason, pks in ((REACHED, reached), (MISSED, set(ids) - reached)):
        audit_many(
            actor=actor,
            action="goal.status",
            targets=[(Goal(pk=pk), change) for pk in sorted(pks)],
            reason=reason,
        )
    return len(ids)


ALERT_SUBJECT = "Goal off track: {title}"
ALERT_BODY = (
    "“{title}” ({owner}) is off track: {percent}% done with {expected}% of its period gone.\n\n"
    "See it in the CRM: {url}\n"
)


@transaction.atomic
def goals_update_alerts(
    *, now: dt.datetime | None = None, email: bool = True, zones: Collection[str] | None = None
) -> tuple[int, int]:
    """Raise an alert for each active goal with a target that turned off track (once: not
    again until it recovers and falls back), clear the alerts of goals that recovered or
    closed, and email the new ones (unless `email` is off: demo data). Only the goals counted
    in `zones` (all without): those whose day just ended. Returns (raised, cleared)."""
    now = now or timezone.now()
    in_zones = Goal.objects.all() if zones is None else Goal.objects.filter(zone__in=zones)
    goals = list(
        # The goals selectors.verdict may find off track (the others are never judged).
        in_zones.active()
        .filter(target_value__gt=0)
        .exclude(metric__in=metrics.tiered())
        .select_related("rep__user", "rep__team__manager", "team__manager")
    )
    today_in = {}
    off_track = set()
    for goal in goals:
        if goal.zone not in today_in:
            today_in[goal.zone] = periods.local_date(now, periods.zone_named(goal.zone))
        if selectors.verdict(goal, today=today_in[goal.zone]) == selectors.Verdict.OFF_TRACK:
            off_track.add(goal.pk)
    open_alerts = set(
        GoalAlert.objects.filter(
            kind=AlertKind.OFF_TRACK, cleared_at__isnull=True, goal__in=in_zones
        ).values_list("goal_id", flat=True)
    )
    cleared = GoalAlert.objects.filter(
        kind=AlertKind.OFF_TRACK, cleared_at__isnull=True, goal_id__in=open_alerts - off_track
    ).update(cleared_at=now)
    new = [goal for goal in goals if goal.pk in off_track - open_alerts]
    alerts = []
    messages = []
    admins = (
        [] if not new else list(administrators().exclude(email="").values_list("email", flat=True))
    )
    for goal in new:
        recipients = _alert_recipients(goal, admins=admins)
        alerts.append(GoalAlert(goal=goal, raised_at=now, emailed_to=", ".join(sorted(recipients))))
        if recipients:
            expected = selectors.expected_percent(goal, today=today_in[goal.zone])
            messages.append(
                (
                    ALERT_SUBJECT.format(title=goal.title),
                    ALERT_BODY.format(
                        title=goal.title,
                        owner=goal.owner_name,
                        percent=goal.progress_percent,
                        expected=expected,
                        url=f"{settings.SITE_URL}/goals/{goal.pk}/",
                    ),
                    settings.DEFAULT_FROM_EMAIL,
                    sorted(recipients),
                )
            )
    GoalAlert.objects.bulk_create(alerts)
    if email:
        send_after_commit(messages)
    return len(alerts), cleared


def _alert_recipients(goal: Goal, *, admins: list[str]) -> set[str]:
    """A rep's goal: the rep and their supervisor; a team's: its supervisor; the company's:
    the administrators (`admins`, read once for all the alerts)."""
    if goal.owner_type == OwnerType.COMPANY:
        return set(admins)
    if goal.owner_type == OwnerType.INDIVIDUAL:
        people = [goal.rep.user, goal.rep.team.manager]
    else:
        people = [goal.team.manager]
    return {person.email for person in people if person is not None and person.email}


def recount_ended_goals(*, actor: SystemActor, now: dt.datetime) -> int:
    """Count the active goals whose period ended one last time (a late event or a back-dated
    correction still counts) before they are snapshotted and closed."""
    return goals_recalculate(goals=Goal.objects.active().ended(now), actor=actor)


def goals_day_end(
    *,
    actor: SystemActor,
    days: Mapping[str, dt.date],
    now: dt.datetime | None = None,
    recount: bool = True,
) -> dict:
    """The day-end steps at `now` for the zones whose day just ended (`days`, from
    `days_ended`), each set-based: count the goals whose period ended one last time (unless
    the caller just did: `recount`), snapshot each active goal's day that ended (an ended
    goal's last day included), close the ended ones, update the off-track alerts of the goals
    whose day ended. Idempotent: run again, it writes nothing new."""
    now = now or timezone.now()
    with transaction.atomic():
        if recount:
            recount_ended_goals(actor=actor, now=now)
        snapshots = snapshot_active_goals(days=days, now=now)
        closed = close_ended_goals(actor=actor, now=now)
    raised, cleared = goals_update_alerts(now=now, zones=list(days)) if days else (0, 0)
    return {"snapshots": snapshots, "closed": closed, "alerts_raised": raised, "cleared": cleared}

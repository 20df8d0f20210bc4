"""The daily job's steps, each set-based: count the goals whose period ended one last time,
snapshot every active goal, close the ended ones, raise and clear the off-track alerts."""

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crm import periods
from crm.mail import send_after_commit
from crm.roles import (
    Actor,
    SystemActor,
    administrators,
)
from crm.writes import (
    audit_many,
)
from goals import metrics, selectors
from goals.models import (
    AlertKind,
    Goal,
    GoalAlert,
    GoalSnapshot,
    GoalStatus,
    OwnerType,
)
from goals.services.recalculation import goals_recalculate


def snapshot_active_goals(*, on: dt.date) -> int:
    """One snapshot per active goal for `on`, in one INSERT … SELECT; a second run that day
    writes nothing (the unique goal and date)."""
    snapshot, goal = GoalSnapshot._meta, Goal._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in ("goal_id", "date", "value", "target", "percent"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(snapshot.db_table)} ({columns}, {quote('created_at')}) "
            f"SELECT {quote('id')}, %s, {quote('current_value')}, {quote('target_value')}, "
            f"{quote('progress_percent')}, %s FROM {quote(goal.db_table)} "
            f"WHERE {quote('status')} = %s "
            f"ON CONFLICT ({quote('goal_id')}, {quote('date')}) DO NOTHING",
            [
                connection.ops.adapt_datefield_value(on),
                connection.ops.adapt_datetimefield_value(timezone.now()),
                GoalStatus.ACTIVE,
            ],
        )
        return cursor.rowcount


def close_ended_goals(*, actor: Actor, now: dt.datetime | None = None) -> int:
    """Goals whose period has ended are completed, whether or not their value moved."""
    now = now or timezone.now()
    ended = Goal.objects.active().ended(now)
    ids = list(ended.values_list("pk", flat=True))
    Goal.objects.filter(pk__in=ids).update(
        status=GoalStatus.COMPLETED, closed_at=now, updated_at=now
    )
    audit_many(
        actor=actor,
        action="goal.status",
        targets=[
            (Goal(pk=pk), {"status": [GoalStatus.ACTIVE, GoalStatus.COMPLETED]}) for pk in ids
        ],
        reason="The goal's period ended.",
    )
    return len(ids)


ALERT_SUBJECT = "Goal off track: {title}"
ALERT_BODY = (
    "“{title}” ({owner}) is off track: {percent}% done with {expected}% of its period gone.\n\n"
    "See it in the CRM: {url}\n"
)


@transaction.atomic
def goals_update_alerts(*, now: dt.datetime | None = None, email: bool = True) -> tuple[int, int]:
    """Raise an alert for each active goal with a target that turned off track (once: not
    again until it recovers and falls back), clear the alerts of goals that recovered, and email
    the new ones (unless `email` is off: demo data). Returns (raised, cleared)."""
    now = now or timezone.now()
    goals = list(
        # The goals selectors.verdict may find off track (the others are never judged).
        Goal.objects.active()
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
        GoalAlert.objects.filter(kind=AlertKind.OFF_TRACK, cleared_at__isnull=True).values_list(
            "goal_id", flat=True
        )
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


def daily_goal_work(
    *, actor: SystemActor, now: dt.datetime | None = None, recount: bool = True
) -> dict:
    """The daily job's steps, each set-based: count the goals whose period ended one last
    time (unless the caller just did: `recount`), snapshot every active goal (their last day
    included), close the ended ones, update the off-track alerts."""
    now = now or timezone.now()
    today = periods.local_date(now, periods.company_zone())
    with transaction.atomic():
        if recount:
            recount_ended_goals(actor=actor, now=now)
        snapshots = snapshot_active_goals(on=today)
        closed = close_ended_goals(actor=actor, now=now)
    raised, cleared = goals_update_alerts(now=now)
    return {"snapshots": snapshots, "closed": closed, "alerts_raised": raised, "cleared": cleared}

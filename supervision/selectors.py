"""Reads of supervision: the routes a user may review, a route's day (its session, or the draft
of its stops), recent sessions, and the history analyses read. Scoped by role in one place:
`route_list` (a supervisor: the routes of their teams' reps; an admin: all)."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from crm import periods
from crm import selectors as crm_selectors
from crm.models import Route, RouteStop
from crm.periods import format_moment, validate_in_range
from crm.roles import Actor
from supervision import merge, rules
from supervision.models import SessionLine, SessionStatus, SupervisionSession
from supervision.text import counted

READ_ONLY_SAVED = "Saved by {who} on {when}: read-only history. An administrator can reopen it."
READ_ONLY_TOO_OLD = (
    "Never saved, and more than {days} old: read-only. A day can be reviewed for {days} after it."
)
READ_ONLY_OLD_DRAFT = (
    "A draft never saved, and more than {days} old: read-only. A day can be reviewed for {days} "
    "after it; an administrator can reopen this one."
)
READ_ONLY_FUTURE = "This day has not come yet: it can be reviewed on the day."

# How a day of the lists reads, by its state.
SAVED_LABEL = "Saved by {who} on {when}"
DRAFT_LABEL = "Draft, written by {who} at {when}"
DRAFT_UNTIMED_LABEL = "Draft, written by {who}"
REOPENED_LABEL = "Reopened by {who} on {when}"
REOPENED_DRAFT_LABEL = "Reopened on {reopened}; draft written by {who} at {when}"


def person(user) -> str:
    """How a user is named on the pages: full name, else username."""
    if user is None:
        return "someone"
    return user.get_full_name() or user.get_username()


def route_list(*, user: Actor) -> QuerySet[Route]:
    """The routes `user` may review: a supervisor those of their teams' reps, admins all (the
    core's scoping)."""
    return crm_selectors.route_list(user=user)


def customer_names(*, user: Actor, ids: Iterable[int]) -> dict[int, str]:
    """The names of the customers among `ids` that `user` sees, by id (one query)."""
    rows = crm_selectors.customer_list(user=user).filter(pk__in=list(ids))
    return dict(rows.values_list("pk", "name"))


def parse_day(text: str) -> dt.date:
    """A day named in an address ("2026-12-01"); 404 for one that is not a day in the CRM's
    range (0001-01-01, 2026-13-01, "yesterday")."""
    try:
        day = dt.date.fromisoformat(text)
        validate_in_range(day)
    except (ValueError, ValidationError):
        raise Http404("No such day.") from None
    return day


def today() -> dt.date:
    """The route day it is now (the company's zone: supervisors work in TIME_ZONE)."""
    return periods.local_date(timezone.now(), periods.company_zone())


@dataclass
class Day:
    """A route's day as the page and the API show it: the session if there is one, else the
    draft of the route's stops (version 0: nothing saved yet)."""

    route: Route
    date: dt.date
    lines: list[rules.Line]
    session: SupervisionSession | None = None
    record_version: int = 0
    written_by: str = ""
    written_at: dt.datetime | None = None
    read_only: str = ""  # why it cannot be edited; empty when it can
    notices: dict[int, list[str]] = field(default_factory=dict)  # by customer id
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # by customer id
    typed: dict[int, str] = field(default_factory=dict)  # quantities as typed, by customer
    # What the lines held in `record_version`, by customer, where the page shows other values
    # (typed, or put together with someone else's): the base of the next merge.
    base: dict[int, merge.Recorded] = field(default_factory=dict)
    # The fields two people changed differently, by customer: {field: Clash}, to choose.
    conflicts: dict[int, dict[str, merge.Clash]] = field(default_factory=dict)

    @property
    def editable(self) -> bool:
        return not self.read_only

    @property
    def status(self) -> str:
        return self.session.status if self.session is not None else "new"

    @property
    def figures(self) -> rules.Figures:
        return rules.figures(self.lines)

    def line(self, customer_id: int) -> rules.Line | None:
        return next((line for line in self.lines if line.customer_id == customer_id), None)


def review_days() -> int:
    """How many days after it a day never saved can still be reviewed (the van is back in the
    evening, or the supervisor reviews the next morning)."""
    return settings.SUPERVISION_REVIEW_DAYS


def read_only_reason(
    session: SupervisionSession | None, date: dt.date, *, on: dt.date | None = None
) -> str:
    """Why a day cannot be edited (empty if it can): a saved session is history (until an
    administrator reopens it); a day never saved stays open for SUPERVISION_REVIEW_DAYS after
    it, then is read-only; a day to come is not reviewed yet."""
    on = on or today()
    if session is not None and session.status == SessionStatus.SAVED:
        who = person(session.saved_by) if session.saved_by_id else _writer(session)
        return READ_ONLY_SAVED.format(who=who, when=format_moment(session.saved_at))
    if session is not None and session.reopened_at is not None:
        return ""
    if date > on:
        return READ_ONLY_FUTURE
    if _past_review(date, on):
        message = READ_ONLY_TOO_OLD if session is None else READ_ONLY_OLD_DRAFT
        return message.format(days=counted(review_days(), "day"))
    return ""


def _past_review(date: dt.date, on: dt.date) -> bool:
    return (on - date).days > review_days()


def reopenable(session: SupervisionSession | None, *, on: dt.date | None = None) -> bool:
    """Whether an administrator can reopen the session's day: it is saved (history), or it is
    a draft never saved, never reopened, that its review window left read-only. A day that
    can be edited, or is still to come, has nothing to reopen."""
    if session is None:
        return False
    if session.status == SessionStatus.SAVED:
        return True
    return session.reopened_at is None and _past_review(session.date, on or today())


def _writer(session: SupervisionSession) -> str:
    """Who wrote the session's latest version (a person's name, or a job's)."""
    summary = getattr(session, "summary", None)
    return (summary.written_by if summary is not None else "") or "someone"


def session_label(session: SupervisionSession) -> str:
    """How a day reads in the lists: who saved it and when, who wrote its draft and when, or
    who reopened it (from the session with its summary and saved_by, no query)."""
    summary = getattr(session, "summary", None)
    written_at = summary.written_at if summary is not None else None
    if session.status == SessionStatus.SAVED:
        who = person(session.saved_by) if session.saved_by_id else _writer(session)
        return SAVED_LABEL.format(who=who, when=format_moment(session.saved_at))
    if session.reopened_at is not None:
        if written_at is None or written_at <= session.reopened_at:
            return REOPENED_LABEL.format(
                who=_writer(session), when=format_moment(session.reopened_at)
            )
        return REOPENED_DRAFT_LABEL.format(
            reopened=format_moment(session.reopened_at),
            who=_writer(session),
            when=format_moment(written_at),
        )
    if written_at is None:
        return DRAFT_UNTIMED_LABEL.format(who=_writer(session))
    return DRAFT_LABEL.format(who=_writer(session), when=format_moment(written_at))


@dataclass(frozen=True)
class ListedDay:
    """A session in a list of days, with how it reads."""

    session: SupervisionSession
    label: str

    @property
    def state(self) -> str:
        if self.session.status == SessionStatus.SAVED:
            return "Saved"
        return "Reopened" if self.session.reopened_at is not None else "Draft"


def stop_lines(route: Route) -> list[rules.Line]:
    """The draft of a day: the route's stops in order, nothing recorded yet."""
    rows = (
        RouteStop.objects.filter(route=route)
        .order_by("sequence")
        .values_list("customer_id", "sequence", "planned_quantity", "customer__name", "pk")
    )
    return [
        rules.Line(customer_id=customer, stop_order=order, planned_quantity=planned,
                   customer_name=name, stop_id=stop)
        for customer, order, planned, name, stop in rows
    ]  # fmt: skip


LINE_COLUMNS = (
    "customer_id", "stop_order", "planned_quantity", "visited", "actual_quantity", "reason",
    "note", "customer__name", "stop_id", "pk",
)  # fmt: skip


def session_lines(session: SupervisionSession) -> list[rules.Line]:
    """A session's lines in stop order, read as values (a long route has hundreds)."""
    rows = SessionLine.objects.filter(session=session).order_by("stop_order")
    return [rules.Line(*row) for row in rows.values_list(*LINE_COLUMNS)]


def day(*, user: Actor, route_id: int, date: dt.date) -> Day:
    """The route's day for `user` (404 outside their routes): three queries (route, session
    with its summary, lines or stops), whatever the number of stops."""
    route = route_list(user=user).filter(pk=route_id).first()
    if route is None:
        raise Http404("No such route here.")
    return day_of(route, date)


def day_of(route: Route, date: dt.date) -> Day:
    session = (
        SupervisionSession.objects.select_related("summary", "saved_by")
        .filter(route=route, date=date)
        .first()
    )
    if session is None:
        reason = read_only_reason(None, date)
        return Day(route=route, date=date, lines=stop_lines(route), read_only=reason)
    summary = session.summary
    return Day(
        route=route,
        date=date,
        lines=session_lines(session),
        session=session,
        record_version=summary.record_version,
        written_by=summary.written_by,
        written_at=summary.written_at,
        read_only=read_only_reason(session, date),
    )


def recent_sessions(
    *, route: Route, before: dt.date | None = None, limit: int = 10
) -> list[ListedDay]:
    """The route's latest sessions (date, state and who wrote them, visit compliance,
    achievement), newest first, for moving through its history: one query."""
    sessions = SupervisionSession.objects.filter(route=route).select_related("summary", "saved_by")
    if before is not None:
        sessions = sessions.filter(date__lt=before)
    return [ListedDay(s, session_label(s)) for s in sessions.order_by("-date")[:limit]]


def session_list(*, user: Actor) -> QuerySet[SupervisionSession]:
    """The sessions of the routes `user` may review, newest first."""
    return (
        SupervisionSession.objects.filter(route__in=route_list(user=user).values("pk"))
        .select_related("route", "summary")
        .order_by("-date", "route__code", "pk")
    )


def latest_days(*, user: Actor, limit: int = 20) -> list[ListedDay]:
    """The latest days `user` may review, saved, draft or reopened, each with how it reads
    ("Saved by …", "Draft, written by … at …", "Reopened …"): one query."""
    rows = session_list(user=user).select_related("saved_by")[:limit]
    return [ListedDay(session, session_label(session)) for session in rows]


# --- What analyses read -----------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """One saved day of a customer on a route."""

    date: dt.date
    visited: bool
    planned: int
    actual: int
    reason: str


def customer_visits(*, route: Route, customer_id: int, before: dt.date, limit: int) -> list[Visit]:
    """The customer's last `limit` saved days on the route before `before`, oldest first."""
    rows = (
        SessionLine.objects.filter(
            session__route=route,
            session__status=SessionStatus.SAVED,
            session__date__lt=before,
            customer_id=customer_id,
        )
        .order_by("-session__date")
        .values_list("session__date", "visited", "planned_quantity", "actual_quantity", "reason")
    )[:limit]
    return [Visit(*row) for row in reversed(list(rows))]


def previous_same_weekday(*, route: Route, date: dt.date) -> tuple[SupervisionSession, list]:
    """The route's last saved session on the same weekday before `date`, with its lines, or
    (None, [])."""
    # Django's week_day: 1 = Sunday … 7 = Saturday.
    week_day = (date.isoweekday() % 7) + 1
    session = (
        SupervisionSession.objects.filter(
            route=route, status=SessionStatus.SAVED, date__lt=date, date__week_day=week_day
        )
        .order_by("-date")
        .first()
    )
    if session is None:
        return None, []
    return session, session_lines(session)

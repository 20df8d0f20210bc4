"""Writes of supervision: saving a route's day (its lines and summary, in one transaction, as a
conditional update of the version it was based on), keeping a draft, and an administrator
reopening a day that is read-only history (saved, or a draft its review window closed).

Every write names the `record_version` it was based on (0: nothing saved yet). The summary's
version is moved on by `UPDATE … WHERE record_version = <that version>`: when someone else
wrote in between, no row matches and nothing of the write is kept: it is refused with
DayChanged (409), which says who wrote and when and carries the day as it now is with the
write's changes put together with theirs (supervision.merge), for the person to check and save
again. A write sent twice with the same client token (a double click, a retry after a lost
answer) is applied once.
"""

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from crm.errors import Conflict
from crm.periods import format_moment, validate_in_range
from crm.roles import Actor, SystemActor, may_reopen_day
from crm.validators import is_storable, visible_length
from crm.writes import audit, bulk_set, locked, name_actions
from supervision import merge, rules, selectors
from supervision.models import RouteSummary, SessionLine, SessionStatus, SupervisionSession

name_actions(
    {
        "supervision.save": "Day saved",
        "supervision.update_lines": "Lines changed (draft)",
        "supervision.reopen": "Day reopened",
    }
)

# Error messages, one per rule; tests assert on these constants.
CHANGED_MEANWHILE = (
    "{who} {did} this day at {when}, after you read it: nothing of this write was saved. The "
    "answer holds the day as it is now and the fields you both changed; send your changes "
    "again with its record_version."
)
ONLY_ADMINS_REOPEN = "Only administrators reopen a day."
NOTHING_TO_REOPEN = (
    "This day can be edited already, or is still to come: there is nothing to reopen."
)
NOTHING_TO_REOPEN_CODE = "nothing_to_reopen"
REOPEN_REASON_MIN = 10  # characters a reader sees (crm.validators.visible_length)
REOPEN_REASON_SHORT = "Say why it is reopened (at least 10 characters)."
REOPEN_REASON_UNSTORABLE = "The reason holds characters that cannot be stored."
NO_SUCH_VERSION = "Version {version} of this day does not exist."
# What "someone else wrote" was: a save, a draft kept, or an administrator reopening the day.
SAVED_IT, KEPT_A_DRAFT, REOPENED_IT = "saved", "kept a draft of", "reopened"


class _AlreadyApplied(Exception):
    """The same write (its client token) was applied by a request that finished first."""


class _Stale(Exception):
    """Someone else's write took the version this one was based on (found at the write)."""


class DayChanged(Conflict):
    """Someone else wrote the day since the version a write was based on: nothing of the write
    was kept. `day` is the day as it now is; `merged` is the write's changes put together with
    it, field by field (supervision.merge), with the fields both changed."""

    def __init__(self, day: selectors.Day, merged: merge.Merged):
        super().__init__(CHANGED_MEANWHILE.format(**who_did(day)), fields=["record_version"])
        self.day = day
        self.merged = merged


@dataclass
class Written:
    """A write's outcome: the day as it now is (no second read), notices by customer, and
    whether this call applied it (False: the same write was applied already)."""

    day: selectors.Day
    notices: dict[int, list[str]] = field(default_factory=dict)
    applied: bool = True


def _name(actor: Actor) -> str:
    if isinstance(actor, SystemActor):
        return actor.name
    return selectors.person(actor)


def who_did(day: selectors.Day) -> dict[str, str]:
    """Who wrote the day's current version, what they did and when (with its zone), for the
    messages that say someone wrote meanwhile."""
    session = day.session
    if session is None or day.written_at is None:
        return {"who": day.written_by or "Someone", "did": SAVED_IT, "when": "a moment ago"}
    if session.status == SessionStatus.SAVED:
        did = SAVED_IT
    elif session.reopened_at is not None and session.reopened_at == day.written_at:
        did = REOPENED_IT
    else:
        did = KEPT_A_DRAFT
    when = format_moment(day.written_at, "j M Y, H:i:s")
    return {"who": day.written_by or "Someone", "did": did, "when": when}


@transaction.atomic
def session_write(
    *,
    actor: Actor,
    route_id: int,
    date: dt.date,
    record_version: int,
    changes: list[rules.Change],
    client_token: uuid.UUID | None = None,
    finish: bool = True,
    parse_notices: dict[int, list[str]] | None = None,
    bases: dict[int, merge.Recorded] | None = None,
) -> Written:
    """Write the changes to a route's day based on `record_version` (0 when nothing was saved
    yet) and, with `finish`, save it: it becomes read-only history. Without `finish` the day
    stays a draft (the API's lines update). Lines not named keep what they hold. `bases` are
    what the changed lines held in that version, as the writer saw them (by customer): with
    them, a write refused because someone wrote meanwhile comes back merged field by field.

    Refused with 404 outside the actor's routes, 400 (LineErrors) for a bad line or a customer
    who is not a stop of the route, 409 (DayChanged) when someone wrote since that version,
    and 403 when the day is read-only (saved, never saved and too old, or to come)."""
    validate_in_range(date)
    day = selectors.day(user=actor, route_id=route_id, date=date)
    summary = day.session.summary if day.session is not None else None
    if (
        client_token is not None
        and summary is not None
        and summary.client_token == client_token
        and summary.record_version == record_version + 1
    ):
        # This very write was applied already: answer as then, do not apply it twice.
        return Written(day=day, applied=False)
    if record_version != day.record_version:
        # What the writer typed is checked against what they saw first: a line of theirs
        # that breaks the rules is theirs to fix (400), whoever wrote meanwhile. A stop that
        # left the day meanwhile is nobody's mistake: the merge reports it as not kept.
        rules.apply_changes(
            merge.as_seen(day.lines, bases), changes, route_code=day.route.code,
            refuse_strangers=False,
        )  # fmt: skip
        raise _day_changed(day, changes, bases)
    if day.read_only:
        raise PermissionDenied(day.read_only)
    lines, notices = rules.apply_changes(day.lines, changes, route_code=day.route.code)
    for customer, said in (parse_notices or {}).items():
        notices.setdefault(customer, [])[:0] = said
    now = timezone.now()
    figures = rules.figures(lines)
    written = {
        "written_by": _name(actor),
        "written_at": now,
        "client_token": client_token,
        **figures.as_dict(),
    }
    try:
        if day.session is None:
            session = _create(day, lines, actor=actor, now=now, finish=finish, written=written)
        else:
            session = _update(day, lines, actor=actor, now=now, finish=finish, written=written)
    except _AlreadyApplied:
        return Written(day=selectors.day_of(day.route, date), applied=False)
    except _Stale:
        raise _day_changed(selectors.day_of(day.route, date), changes, bases) from None
    changed = {
        line.customer_id: _changes(old, line)
        for old, line in zip(day.lines, lines, strict=True)
        if old != line
    }
    audit(
        actor=actor,
        action="supervision.save" if finish else "supervision.update_lines",
        target=session,
        changes={
            "record_version": [record_version, record_version + 1],
            "lines": {str(customer): fields for customer, fields in changed.items()},
        },
    )
    result = replace(
        day,
        lines=lines,
        session=session,
        record_version=record_version + 1,
        written_by=written["written_by"],
        written_at=now,
        read_only=selectors.read_only_reason(session, date),
        notices=notices,
    )
    return Written(day=result, notices=notices)


def _day_changed(
    day: selectors.Day, changes: list[rules.Change], bases: dict[int, merge.Recorded] | None
) -> DayChanged:
    return DayChanged(day, merge.three_way(theirs=day.lines, changes=changes, bases=bases))


def _refusal(summary: RouteSummary | None, written: dict, version: int) -> Exception:
    """Why a write found its version taken: the same write, finished a moment before by
    another request (a double click), or someone else's."""
    token = written.get("client_token")
    if (
        summary is not None
        and token is not None
        and summary.client_token == token
        and summary.record_version == version + 1
    ):
        return _AlreadyApplied()
    return _Stale()


def _changes(old: rules.Line, new: rules.Line) -> dict[str, list]:
    return {
        name: [getattr(old, name), getattr(new, name)]
        for name in ("visited", "actual_quantity", "reason", "note")
        if getattr(old, name) != getattr(new, name)
    }


def _saved_fields(actor: Actor, now: dt.datetime, finish: bool) -> dict:
    if not finish:
        return {}
    person = None if isinstance(actor, SystemActor) else actor
    return {"status": SessionStatus.SAVED, "saved_at": now, "saved_by": person}


def line_row(session: SupervisionSession, line: rules.Line) -> SessionLine:
    """The row that keeps `line` of `session`."""
    return SessionLine(
        session=session, stop_id=line.stop_id, customer_id=line.customer_id,
        stop_order=line.stop_order, planned_quantity=line.planned_quantity,
        actual_quantity=line.actual_quantity, visited=line.visited, reason=line.reason,
        note=line.note,
    )  # fmt: skip


def _create(day, lines, *, actor, now, finish, written) -> SupervisionSession:
    """The day's first write: its session, summary (version 1) and lines. Someone else's first
    write made a moment before this one is a conflict, like any other."""
    try:
        with transaction.atomic():
            session = SupervisionSession.objects.create(
                route=day.route, date=day.date, **_saved_fields(actor, now, finish)
            )
    except IntegrityError:
        existing = RouteSummary.objects.filter(
            session__route=day.route, session__date=day.date
        ).first()
        raise _refusal(existing, written, 0) from None
    RouteSummary.objects.create(session=session, record_version=1, **written)
    SessionLine.objects.bulk_create([line_row(session, line) for line in lines])
    return session


def _update(day, lines, *, actor, now, finish, written) -> SupervisionSession:
    """A later write: the version moved on only if it is still the one the write was based on
    (the row stays locked until the transaction ends), then the lines that changed, in one
    statement, and the session."""
    session = day.session
    claimed = RouteSummary.objects.filter(
        session=session, record_version=day.record_version
    ).update(record_version=F("record_version") + 1, **written)
    if not claimed:
        current = RouteSummary.objects.filter(session=session).first()
        raise _refusal(current, written, day.record_version)
    before = {line.customer_id: line for line in day.lines}
    changed = [line for line in lines if before[line.customer_id] != line]
    if changed:
        bulk_set(
            SessionLine,
            {
                line.line_id: {
                    "visited": line.visited,
                    "actual_quantity": line.actual_quantity,
                    "reason": line.reason,
                    "note": line.note,
                }
                for line in changed
            },
        )
    fields = _saved_fields(actor, now, finish)
    for name, value in fields.items():
        setattr(session, name, value)
    session.updated_at = now
    session.save(update_fields=[*fields, "updated_at"])
    return session


@transaction.atomic
def session_reopen(*, actor: Actor, session_id: uuid.UUID, reason: str) -> SupervisionSession:
    """An administrator reopens a day that is read-only history (selectors.reopenable): a
    saved day, or a draft never saved that its review window closed. It becomes editable
    whatever its date; the reason is audited. Its version moves on: a write based on the
    version before is a conflict."""
    if not may_reopen_day(actor):
        raise PermissionDenied(ONLY_ADMINS_REOPEN)
    if visible_length(reason) < REOPEN_REASON_MIN:
        raise ValidationError({"reason": REOPEN_REASON_SHORT})
    if not is_storable(reason):
        raise ValidationError({"reason": REOPEN_REASON_UNSTORABLE})
    session = locked(selectors.session_list(user=actor), session_id)
    if not selectors.reopenable(session):
        raise ValidationError(NOTHING_TO_REOPEN, code=NOTHING_TO_REOPEN_CODE)
    now = timezone.now()
    RouteSummary.objects.filter(session=session).update(
        record_version=F("record_version") + 1, written_by=_name(actor), written_at=now,
        client_token=None,
    )  # fmt: skip
    if hasattr(session, "summary"):  # read with the session, before its version moved on
        session.summary.refresh_from_db()
    if session.status == SessionStatus.SAVED:
        changes = {
            "status": [SessionStatus.SAVED, SessionStatus.DRAFT],
            "saved_at": session.saved_at,
            "saved_by": session.saved_by_id,
        }
    else:  # a draft its review window closed: unlocked, still a draft
        changes = {"reopened_at": [session.reopened_at, now]}
    session.status, session.saved_at, session.saved_by = SessionStatus.DRAFT, None, None
    session.reopened_at = now
    session.save(update_fields=["status", "saved_at", "saved_by", "reopened_at", "updated_at"])
    audit(
        actor=actor,
        action="supervision.reopen",
        target=session,
        changes=changes,
        reason=reason.strip(),
    )
    return session

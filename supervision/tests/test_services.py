"""Saving a route's day: one transaction, a conditional update of the version it was based on,
conflicts that say who saved, a double submit applied once, read-only history, reopening."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from crm import periods, roles
from crm.errors import Conflict
from crm.models import AuditEntry
from crm.periods import format_moment
from crm.roles import SystemActor
from crm.testing.routes import route_with_stops
from crm.tests.factories import SalesRepFactory
from supervision import merge, rules, selectors, services
from supervision.models import (
    ReasonCode,
    RouteSummary,
    SessionLine,
    SessionStatus,
    SupervisionSession,
)
from supervision.tests.helpers import change, customers, today

pytestmark = pytest.mark.django_db


def save(actor, route, version=0, changes=(), **options):
    options.setdefault("date", today())
    return services.session_write(
        actor=actor, route_id=route.pk, record_version=version, changes=list(changes), **options
    )


def test_a_new_day_is_the_routes_stops_as_a_draft(supervisor, route):
    day = selectors.day(user=supervisor, route_id=route.pk, date=today())

    assert day.session is None and day.record_version == 0 and day.editable
    assert [line.stop_order for line in day.lines] == [1, 2, 3]
    assert [line.planned_quantity for line in day.lines] == [10, 20, 30]
    assert not any(line.visited for line in day.lines)


@pytest.mark.sqlite
def test_saving_writes_lines_and_summary_once_and_the_day_becomes_read_only(supervisor, route):
    first, second, third = customers(route)
    written = save(
        supervisor, route,
        changes=[change(first, visited=True, actual_quantity=12),
                 change(second, visited=True, reason=ReasonCode.STOCK_SUFFICIENT),
                 change(third, reason=ReasonCode.CLOSED)],
    )  # fmt: skip

    session = SupervisionSession.objects.get(route=route, date=today())
    summary = RouteSummary.objects.get(session=session)
    assert session.status == SessionStatus.SAVED and session.saved_by == supervisor
    assert summary.record_version == 1 and written.day.record_version == 1
    assert (summary.customers_visited, summary.productive_stops, summary.actual_total) == (2, 1, 12)
    assert summary.visit_compliance == Decimal("66.67") and summary.gap == 48
    lines = {line.customer_id: line for line in SessionLine.objects.filter(session=session)}
    assert lines[first].actual_quantity == 12 and lines[third].reason == ReasonCode.CLOSED
    assert written.day.read_only.startswith("Saved by")
    entry = AuditEntry.objects.get(action="supervision.save")
    assert entry.changes["record_version"] == [0, 1]
    assert entry.changes["lines"][str(first)]["actual_quantity"] == [0, 12]


@pytest.mark.parametrize("lines", [3, 300])
def test_a_save_of_a_300_line_day_is_a_fixed_number_of_statements(
    supervisor, rep, lines, assert_queries
):
    route = route_with_stops(rep, count=lines)
    draft = save(supervisor, route, finish=False)
    every = [change(customer, visited=True, actual_quantity=5) for customer in customers(route)]
    # route, session + summary, lines; the version claimed; lines' ids, one UPDATE of all of
    # them; the session; the audit entry
    with assert_queries(7):
        save(supervisor, route, version=draft.day.record_version, changes=every)


def test_a_stale_version_is_a_conflict_naming_who_saved_and_nothing_is_kept(rep, route):
    other = SalesRepFactory(team=rep.team).team.manager  # the same supervisor: a second tab
    first = customers(route)[0]
    save(other, route, finish=False, changes=[change(first, visited=True, actual_quantity=3)])

    with pytest.raises(services.DayChanged) as refused:
        save(other, route, version=0, changes=[change(first, actual_quantity=99)])

    assert isinstance(refused.value, Conflict)
    assert "kept a draft of this day" in refused.value.message
    assert "after you read it" in refused.value.message
    line = SessionLine.objects.get(session__route=route, customer_id=first)
    assert line.actual_quantity == 3
    assert RouteSummary.objects.get(session__route=route).record_version == 1


def test_the_same_write_sent_twice_is_applied_once(supervisor, route):
    token = uuid.uuid4()
    first = customers(route)[0]
    once = save(supervisor, route, finish=False, client_token=token,
                changes=[change(first, visited=True, actual_quantity=4)])  # fmt: skip
    again = save(supervisor, route, finish=False, client_token=token,
                 changes=[change(first, visited=True, actual_quantity=4)])  # fmt: skip

    assert once.applied and not again.applied
    assert again.day.record_version == 1
    assert AuditEntry.objects.filter(action="supervision.update_lines").count() == 1
    with pytest.raises(Conflict):  # another write based on version 0
        save(supervisor, route, finish=False, client_token=uuid.uuid4())


def test_a_bad_line_refuses_the_whole_write(supervisor, route):
    first, second, _ = customers(route)
    with pytest.raises(rules.LineErrors) as refused:
        save(supervisor, route, changes=[
            change(first, visited=True, actual_quantity=5),
            change(second, visited=True, actual_quantity=2, reason=ReasonCode.REFUSED),
            change(999_999, visited=True),
        ])  # fmt: skip

    assert set(refused.value.by_line) == {1, 2}
    assert not SupervisionSession.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="supervision").exists()


@pytest.mark.sqlite
@pytest.mark.parametrize("days_ago", [1, 2, 7])
def test_a_past_day_never_saved_can_be_reviewed_and_saved_within_the_window(
    supervisor, route, days_ago, settings
):
    settings.SUPERVISION_REVIEW_DAYS = 7
    date = today() - dt.timedelta(days=days_ago)
    first = customers(route)[0]

    assert selectors.day(user=supervisor, route_id=route.pk, date=date).editable
    written = save(supervisor, route, date=date, changes=[change(first, actual_quantity=3)])

    assert written.day.session.status == SessionStatus.SAVED and written.day.read_only
    assert SessionLine.objects.get(session__date=date, customer_id=first).actual_quantity == 3


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("days_ago", "window", "reason"),
    [
        (8, 7, selectors.READ_ONLY_TOO_OLD.format(days="7 days")),
        (1, 0, selectors.READ_ONLY_TOO_OLD.format(days="0 days")),
        (2, 1, selectors.READ_ONLY_TOO_OLD.format(days="1 day")),
        (-1, 7, selectors.READ_ONLY_FUTURE),
    ],
)
def test_older_days_never_saved_and_days_to_come_are_read_only_with_their_reason(
    supervisor, route, days_ago, window, reason, settings
):
    settings.SUPERVISION_REVIEW_DAYS = window
    date = today() - dt.timedelta(days=days_ago)

    assert selectors.day(user=supervisor, route_id=route.pk, date=date).read_only == reason
    with pytest.raises(PermissionDenied) as refused:
        save(supervisor, route, date=date)
    assert str(refused.value) == reason
    assert not SupervisionSession.objects.exists()


def test_a_draft_of_a_past_day_stays_editable_within_the_window_then_is_read_only(
    supervisor, route, settings
):
    settings.SUPERVISION_REVIEW_DAYS = 3
    date = today() - dt.timedelta(days=3)
    save(supervisor, route, date=date, finish=False)
    assert selectors.day(user=supervisor, route_id=route.pk, date=date).editable

    settings.SUPERVISION_REVIEW_DAYS = 2
    day = selectors.day(user=supervisor, route_id=route.pk, date=date)
    assert day.read_only == selectors.READ_ONLY_OLD_DRAFT.format(days="2 days")


def test_a_saved_day_is_refused_until_an_admin_reopens_it(supervisor, admin_user, route):
    first = customers(route)[0]
    saved = save(supervisor, route, changes=[change(first, visited=True, actual_quantity=1)])
    version = saved.day.record_version

    with pytest.raises(PermissionDenied):
        save(supervisor, route, version=version, changes=[change(first, actual_quantity=2)])
    with pytest.raises(PermissionDenied):
        services.session_reopen(actor=supervisor, session_id=saved.day.session.pk, reason="x" * 12)
    # At least ten characters a reader sees: zero-width spaces and padding are no reason.
    session_id = saved.day.session.pk
    for reason in ("short", "\u200b" * 12, "  a    b  \u200d\u200d\u200d\u200d "):
        with pytest.raises(ValidationError) as refused:
            services.session_reopen(actor=admin_user, session_id=session_id, reason=reason)
        assert refused.value.message_dict == {"reason": [services.REOPEN_REASON_SHORT]}
    reopened = services.session_reopen(
        actor=admin_user, session_id=saved.day.session.pk, reason="The rep sent late figures"
    )
    # The reopening moved the version on: a write based on the saved version is a conflict.
    with pytest.raises(Conflict):
        save(supervisor, route, version=version, changes=[change(first, actual_quantity=2)])
    fixed = save(supervisor, route, version=version + 1, changes=[change(first, actual_quantity=2)])

    assert reopened.status == SessionStatus.DRAFT and reopened.reopened_at is not None
    assert fixed.day.record_version == version + 2
    entry = AuditEntry.objects.get(action="supervision.reopen")
    assert entry.actor == admin_user and entry.reason == "The rep sent late figures"


def test_an_administrator_reopens_a_draft_its_review_window_closed_with_the_reason(
    supervisor, admin_user, route, settings
):
    settings.SUPERVISION_REVIEW_DAYS = 7
    date = today() - dt.timedelta(days=5)
    first = customers(route)[0]
    save(supervisor, route, date=date, finish=False,
         changes=[change(first, visited=True, actual_quantity=2)])  # fmt: skip
    settings.SUPERVISION_REVIEW_DAYS = 3  # the window closed on the draft
    session = SupervisionSession.objects.get()
    assert selectors.reopenable(session)
    with pytest.raises(PermissionDenied):
        save(supervisor, route, version=1, date=date)
    with pytest.raises(PermissionDenied):
        services.session_reopen(actor=supervisor, session_id=session.pk, reason="x" * 12)

    reopened = services.session_reopen(
        actor=admin_user, session_id=session.pk, reason="The supervisor was on leave"
    )

    assert reopened.status == SessionStatus.DRAFT and reopened.reopened_at is not None
    day = selectors.day(user=supervisor, route_id=route.pk, date=date)
    assert day.editable and day.record_version == 2
    assert day.line(first).actual_quantity == 2  # the draft's lines are kept
    entry = AuditEntry.objects.get(action="supervision.reopen")
    assert entry.actor == admin_user and entry.reason == "The supervisor was on leave"
    assert entry.changes["reopened_at"][0] is None and entry.changes["reopened_at"][1]
    saved = save(
        supervisor, route, version=2, date=date, changes=[change(first, actual_quantity=3)]
    )
    assert saved.day.session.status == SessionStatus.SAVED


@pytest.mark.parametrize("days_ago", [0, 3, -1])
def test_a_day_that_can_be_edited_or_is_to_come_has_nothing_to_reopen(
    supervisor, admin_user, route, settings, days_ago
):
    settings.SUPERVISION_REVIEW_DAYS = 3
    date = today() - dt.timedelta(days=days_ago)
    session = SupervisionSession.objects.create(route=route, date=date)  # a draft
    RouteSummary.objects.create(session=session, record_version=1)

    with pytest.raises(ValidationError) as refused:
        services.session_reopen(actor=admin_user, session_id=session.pk, reason="Late figures in")

    assert refused.value.messages == [services.NOTHING_TO_REOPEN]
    assert not selectors.reopenable(session)
    assert not AuditEntry.objects.filter(action="supervision.reopen").exists()


def test_a_day_reopened_once_is_not_reopened_again(supervisor, admin_user, route):
    save(supervisor, route)
    session = SupervisionSession.objects.get()
    services.session_reopen(actor=admin_user, session_id=session.pk, reason="Late figures in")
    with pytest.raises(ValidationError) as refused:
        services.session_reopen(actor=admin_user, session_id=session.pk, reason="Late figures in")
    assert refused.value.messages == [services.NOTHING_TO_REOPEN]
    assert RouteSummary.objects.get().record_version == 2


def test_only_administrators_and_jobs_may_reopen_a_day_or_see_the_review_cache(
    rep, supervisor, admin_user
):
    job = SystemActor("test:import")
    for user, may in ((rep.user, False), (supervisor, False), (admin_user, True), (job, True)):
        assert roles.may_reopen_day(user) is may
        assert roles.may_see_review_cache(user) is may


def test_a_reopened_past_day_can_be_corrected(supervisor, admin_user, route):
    yesterday = today() - dt.timedelta(days=1)
    job = SystemActor("test:backfill")
    # A job may record a past day (an import); people see it read-only until reopened.
    session = SupervisionSession.objects.create(
        route=route, date=yesterday, status=SessionStatus.SAVED,
        saved_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    RouteSummary.objects.create(session=session, record_version=1)
    with pytest.raises(PermissionDenied):
        save(supervisor, route, version=1, date=yesterday)
    services.session_reopen(actor=job, session_id=session.pk, reason="Imported day to fix")

    save(supervisor, route, version=2, date=yesterday)  # the lines it has (none): fine
    assert RouteSummary.objects.get(session=session).record_version == 3


def test_a_route_outside_the_supervisors_teams_is_a_404(route, other_rep):
    outsider = other_rep.team.manager
    with pytest.raises(Http404):
        save(outsider, route)
    with pytest.raises(Http404):
        selectors.day(user=outsider, route_id=route.pk, date=today())


UNTOUCHED = merge.Recorded(False, 0, "", "")


def every_line(route, by_customer: dict) -> list[rules.Change]:
    """The changes a page sends: every line, untouched unless given ({customer: fields})."""
    return [
        change(customer, **{"visited": False, "actual_quantity": 0, "reason": "", "note": "",
                            **by_customer.get(customer, {})})
        for customer in customers(route)
    ]  # fmt: skip


def test_a_write_based_on_an_older_version_comes_back_merged_with_what_both_changed(
    supervisor, admin_user, route
):
    first, second, third = customers(route)
    save(admin_user, route, finish=False,
         changes=[change(first, visited=True, actual_quantity=7),
                  change(third, visited=True, actual_quantity=1)])  # fmt: skip
    bases = dict.fromkeys(customers(route), UNTOUCHED)
    mine = every_line(route, {first: {"visited": True, "actual_quantity": 7},
                                second: {"reason": "closed"},
                                third: {"visited": True, "actual_quantity": 2}})  # fmt: skip

    with pytest.raises(services.DayChanged) as refused:
        save(supervisor, route, version=0, changes=mine, bases=bases)

    changed = refused.value
    assert changed.day.record_version == 1 and changed.fields == ["record_version"]
    merged = {line.customer_id: line for line in changed.merged.lines}
    assert merged[first].actual_quantity == 7  # both set 7: no conflict
    assert merged[second].reason == "closed"  # yours only
    assert changed.merged.conflicts == {third: {"actual_quantity": merge.Clash(2, 1)}}
    assert SessionLine.objects.get(customer_id=second).reason == ""  # nothing written


def test_your_own_broken_line_is_refused_before_any_merge(supervisor, admin_user, route):
    first, second, _ = customers(route)
    save(admin_user, route, finish=False, changes=[change(first, visited=True)])
    broken = [change(second, visited=True, actual_quantity=3, reason="refused")]

    with pytest.raises(rules.LineErrors):
        save(supervisor, route, version=0, changes=broken, bases={second: UNTOUCHED})


def test_a_stale_write_to_a_stop_that_left_the_day_comes_back_merged_with_it_dropped(
    supervisor, admin_user, route
):
    first, second, third = customers(route)
    bases = dict.fromkeys(customers(route), UNTOUCHED)  # the page, opened with three stops
    mine = every_line(route, {second: {"visited": True, "actual_quantity": 4},
                              third: {"visited": True, "actual_quantity": 3}})  # fmt: skip
    route.stops.filter(customer_id=third).delete()  # the third stop leaves the route
    save(admin_user, route, finish=False, changes=[change(first, visited=True)])

    with pytest.raises(services.DayChanged) as refused:
        save(supervisor, route, version=0, changes=mine, bases=bases)

    merged = refused.value.merged
    assert merged.dropped == [third]
    lines = {line.customer_id: line for line in merged.lines}
    assert list(lines) == [first, second]
    assert lines[second].actual_quantity == 4 and lines[first].visited  # yours, theirs
    assert merged.conflicts == {}
    assert not SessionLine.objects.filter(customer_id=second, actual_quantity=4).exists()


def test_a_stale_write_still_refuses_its_own_broken_line_next_to_a_dropped_stop(
    supervisor, admin_user, route
):
    first, second, third = customers(route)
    broken = [change(second, visited=True, actual_quantity=3, reason="refused"),
              change(third, visited=True)]  # fmt: skip
    route.stops.filter(customer_id=third).delete()
    save(admin_user, route, finish=False, changes=[change(first, visited=True)])

    with pytest.raises(rules.LineErrors) as refused:
        save(supervisor, route, version=0, changes=broken,
             bases={second: UNTOUCHED, third: UNTOUCHED})  # fmt: skip

    assert set(refused.value.by_line) == {0}  # by its index in the write


def test_a_stop_added_to_the_route_before_the_first_save_is_a_line_of_the_day(supervisor, route):
    first = customers(route)[0]
    # The page was opened with three stops; a fourth is added before anyone saves.
    from crm.tests.factories import CustomerFactory, RouteStopFactory

    added = RouteStopFactory(route=route, customer=CustomerFactory(owner=route.rep), sequence=4)
    written = save(supervisor, route, changes=[change(first, visited=True)],
                   bases={first: UNTOUCHED})  # fmt: skip

    assert [line.customer_id for line in written.day.lines][-1] == added.customer_id
    assert SessionLine.objects.filter(session__route=route).count() == 4


def test_a_stop_added_to_the_route_and_saved_by_someone_else_meanwhile_keeps_theirs(
    supervisor, admin_user, route
):
    from crm.tests.factories import CustomerFactory, RouteStopFactory

    first = customers(route)[0]
    mine = every_line(route, {first: {"visited": True, "actual_quantity": 2}})
    bases = dict.fromkeys(customers(route), UNTOUCHED)
    added = RouteStopFactory(route=route, customer=CustomerFactory(owner=route.rep), sequence=4)
    save(admin_user, route, finish=False,
         changes=[change(added.customer_id, visited=True, actual_quantity=6)])  # fmt: skip

    with pytest.raises(services.DayChanged) as refused:
        save(supervisor, route, version=0, changes=mine, bases=bases)

    merged = {line.customer_id: line for line in refused.value.merged.lines}
    assert merged[added.customer_id].actual_quantity == 6 and merged[first].actual_quantity == 2
    assert refused.value.merged.conflicts == {}


@pytest.mark.parametrize(
    ("how", "did"),
    [("draft", services.KEPT_A_DRAFT), ("save", services.SAVED_IT),
     ("reopen", services.REOPENED_IT)],
)  # fmt: skip
def test_who_wrote_meanwhile_says_what_they_did_and_when_with_the_zone(
    supervisor, admin_user, route, how, did
):
    save(admin_user, route, finish=how != "draft")
    if how == "reopen":
        session = SupervisionSession.objects.get()
        services.session_reopen(actor=admin_user, session_id=session.pk, reason="Late figures in")
    day = selectors.day(user=supervisor, route_id=route.pk, date=today())

    said = services.who_did(day)

    assert (said["who"], said["did"]) == (selectors.person(admin_user), did)
    assert said["when"] == format_moment(day.written_at, "j M Y, H:i:s")
    assert said["when"].endswith(day.written_at.astimezone(periods.company_zone()).strftime("%Z"))


def test_the_day_lists_read_each_state_with_who_and_when(supervisor, admin_user, route):
    save(supervisor, route, finish=False)
    session = SupervisionSession.objects.get()
    assert selectors.session_label(session).startswith(
        f"Draft, written by {selectors.person(supervisor)} at "
    )
    save(supervisor, route, version=1)
    session.refresh_from_db()
    assert selectors.session_label(session).startswith(
        f"Saved by {selectors.person(supervisor)} on "
    )
    services.session_reopen(actor=admin_user, session_id=session.pk, reason="Late figures in")
    session = SupervisionSession.objects.select_related("summary").get()
    assert selectors.session_label(session).startswith(
        f"Reopened by {selectors.person(admin_user)} on "
    )
    save(supervisor, route, version=3, finish=False)
    session = SupervisionSession.objects.select_related("summary").get()
    label = selectors.session_label(session)
    assert label.startswith("Reopened on ") and "; draft written by " in label

"""The goals engine's rules: who may set which goal, values computed from CRM data (once per
record, in the owner's time zone), progress, manual adjustments, the hierarchy with its roll-up,
and the daily snapshot, closing and alerts."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone

from crm import services as crm
from crm.models import AuditEntry, CustomerStatus, DealStage
from crm.roles import SystemActor
from crm.testing.database import held_elsewhere, refusing_updates
from crm.tests.factories import (
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    SalesRepFactory,
    TaskFactory,
    TeamFactory,
)
from goals import selectors, services
from goals.api.serializers import ForecastSerializer
from goals.models import Goal, GoalAlert, GoalSnapshot, GoalStatus, Source
from goals.services import recalculation
from goals.tests.factories import SETUP, make_goal

pytestmark = pytest.mark.django_db

UTC = dt.UTC
JOB = SystemActor("job:test")


def won(rep, amount, when=None, **extra):
    return DealFactory(
        rep=rep,
        amount=Decimal(amount),
        stage=DealStage.CLOSED_WON,
        closed_at=when or timezone.now(),
        **extra,
    )


def recalculate() -> int:
    return services.goals_recalculate(goals=Goal.objects.all(), actor=JOB)


def value(goal) -> Decimal:
    return Goal.objects.get(pk=goal.pk).current_value


# --- Who may set which goal -----------------------------------------------------------------------


def test_a_rep_sets_their_own_goal_but_not_a_teams_or_the_companys(rep, other_rep):
    today = timezone.localdate()
    common = {"metric": "revenue", "period_kind": "month", "period_start": today}

    own = services.goal_create(
        actor=rep.user, title="Mine", owner_type="individual", target_value=Decimal(10), **common
    )
    assert own.rep == rep

    with pytest.raises(ValidationError) as team_error:
        services.goal_create(
            actor=rep.user, title="T", owner_type="team", team=rep.team,
            target_value=Decimal(10), **common,
        )  # fmt: skip
    assert team_error.value.message_dict == {"team": [services.TEAM_NOT_YOURS]}
    with pytest.raises(PermissionDenied):
        services.goal_create(
            actor=rep.user, title="C", owner_type="company", target_value=Decimal(10), **common
        )
    with pytest.raises(ValidationError):
        services.goal_create(
            actor=rep.user, title="Theirs", owner_type="individual", rep=other_rep,
            target_value=Decimal(10), **common,
        )  # fmt: skip


def test_a_supervisor_sets_team_goals_of_their_teams_only(supervisor, team, other_rep):
    today = timezone.localdate()
    mine = services.goal_create(
        actor=supervisor, title="Team", owner_type="team", team=team, metric="signups",
        period_kind="quarter", period_start=today, target_value=Decimal(50),
    )  # fmt: skip
    assert mine.team == team
    with pytest.raises(ValidationError):
        services.goal_create(
            actor=supervisor, title="Other", owner_type="team", team=other_rep.team,
            metric="signups", period_kind="quarter", period_start=today,
            target_value=Decimal(50),
        )  # fmt: skip


def test_reading_and_writing_follow_the_owner(rep, supervisor, other_rep, admin_user):
    teammate = SalesRepFactory(team=rep.team)
    own = make_goal(owner=rep)
    teammates = make_goal(owner=teammate)
    team_goal = make_goal(owner=rep.team)
    company = make_goal(owner=None)
    foreign = make_goal(owner=other_rep)

    def ids(user, **kwargs):
        return set(selectors.goal_list(user=user, **kwargs).values_list("pk", flat=True))

    assert ids(rep.user) == {own.pk, team_goal.pk, company.pk}
    assert ids(rep.user, for_write=True) == {own.pk}
    assert ids(supervisor) == {own.pk, teammates.pk, team_goal.pk, company.pk}
    assert ids(supervisor, for_write=True) == {own.pk, teammates.pk, team_goal.pk}
    assert ids(admin_user, for_write=True) >= {foreign.pk, company.pk}
    with pytest.raises(PermissionDenied):  # sees it, may not change it
        services.goal_update(actor=rep.user, goal_id=team_goal.pk, title="Ours")
    with pytest.raises(Http404):
        services.goal_update(actor=rep.user, goal_id=foreign.pk, title="Mine now")


# --- The database keeps the rules ---------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "change",
    [
        {"target_value": Decimal("-1")},
        {"current_value": Decimal("-1")},
        {"period_end": dt.date(2000, 1, 1)},
        {"team_id": None, "owner_type": "team"},
        {"metric": "nonsense"},
        {"metric": "custom", "calculation_source": "auto"},
    ],
)
def test_the_database_refuses_a_goal_that_breaks_a_rule(rep, change):
    goal = make_goal(owner=rep)
    with pytest.raises(IntegrityError), transaction.atomic():
        Goal.objects.filter(pk=goal.pk).update(**change)


@pytest.mark.sqlite
def test_progress_is_value_over_target_and_zero_for_a_zero_target(rep):
    goal = make_goal(owner=rep, metric="custom", target=20, source="manual")
    services.goal_adjust(
        actor=SETUP, goal_id=goal.pk, value=Decimal(10), justification="Counted at the fair"
    )
    assert Goal.objects.get(pk=goal.pk).progress_percent == Decimal("50.00")
    Goal.objects.filter(pk=goal.pk).update(target_value=0)
    assert Goal.objects.get(pk=goal.pk).progress_percent == Decimal("0.00")
    Goal.objects.filter(pk=goal.pk).update(target_value=3)
    assert Goal.objects.get(pk=goal.pk).progress_percent == Decimal("333.33")


# --- Values from CRM data -----------------------------------------------------------------------


@pytest.mark.sqlite
def test_each_metric_counts_its_records_in_the_period(rep):
    now = timezone.now()
    goals = {metric: make_goal(owner=rep, metric=metric) for metric in
             ("revenue", "deals_won", "signups", "activities", "tasks")}  # fmt: skip
    won(rep, "1200.50")
    won(rep, "300.00")
    won(rep, "999", when=now - dt.timedelta(days=400))  # another period
    DealFactory(rep=rep, amount=Decimal(5000))  # open: not won
    CustomerFactory(owner=rep, status=CustomerStatus.ACTIVE, signed_up_at=now)
    ActivityFactory(rep=rep, status="completed", completed_at=now)
    ActivityFactory(rep=rep)  # planned
    TaskFactory(rep=rep, status="done", completed_at=now)

    recalculate()

    assert {m: value(g) for m, g in goals.items()} == {
        "revenue": Decimal("1500.50"),
        "deals_won": 2,
        "signups": 1,
        "activities": 1,
        "tasks": 1,
    }


@pytest.mark.sqlite
def test_team_and_company_goals_count_each_deal_once(rep, other_rep):
    teammate = SalesRepFactory(team=rep.team)
    team_goal = make_goal(owner=rep.team)
    company = make_goal(owner=None)
    won(rep, 100)
    won(teammate, 200)
    won(other_rep, 400)

    recalculate()

    assert value(team_goal) == 300
    assert value(company) == 700


@pytest.mark.sqlite
def test_a_reps_month_is_counted_in_the_reps_zone(team, settings):
    settings.TIME_ZONE = "UTC"
    east = SalesRepFactory(team=team, timezone="Pacific/Kiritimati")  # UTC+14
    with time_machine.travel(dt.datetime(2026, 11, 15, tzinfo=UTC), tick=False):
        november_east = make_goal(owner=east, start=dt.date(2026, 11, 1))
        november_team = make_goal(owner=team, start=dt.date(2026, 11, 1))
        # 30 Nov 12:00 UTC is already 1 December at UTC+14, still November in UTC.
        won(east, 100, when=dt.datetime(2026, 11, 30, 12, tzinfo=UTC))
        won(east, 10, when=dt.datetime(2026, 10, 31, 11, tzinfo=UTC))  # 1 Nov 01:00 at UTC+14
        recalculate()
    assert value(november_east) == 10
    assert value(november_team) == 100


def test_recalculating_any_number_of_goals_runs_the_same_statements(rep, team, assert_queries):
    for _ in range(3):
        make_goal(owner=SalesRepFactory(team=team))
    won(rep, 10)
    # The bonus tiers' thresholds, the fresh values, the moment they were counted, the parents'
    # sums: nothing changed since the goals were made, so no values written.
    with assert_queries(4):
        recalculate()
    for _ in range(25):
        goal = make_goal(owner=SalesRepFactory(team=team), metric="deals_won")
        won(goal.rep, 5)
    # The same, and the writes that come only when something changed: the new values, their
    # audit.
    with assert_queries(6):
        recalculate()
    Goal.objects.update(current_value=0)  # everything changes
    with assert_queries(6):
        recalculate()


def test_recalculating_a_tree_writes_the_parents_whose_sums_moved_in_a_fixed_number_of_statements(
    team, assert_queries
):
    company = make_goal(owner=None)
    team_goal = make_goal(owner=team, parent=company)

    for reps in (2, 20):  # a tree of 2 reps' goals, then of 22
        for _ in range(reps):
            goal = make_goal(owner=SalesRepFactory(team=team), parent=team_goal)
            won(goal.rep, 5)
        Goal.objects.update(current_value=0, last_calculated_at=None)
        # The bonus tiers' thresholds, the fresh values, the moment they were counted, the new
        # values, their audit; per level (the team's, the company's): the sums, the lock of the
        # parents whose sums moved, their write, its audit.
        with assert_queries(5 + 4 * 2):
            recalculate()
        # Counted again, nothing moved: no writes of values, and per level the sums alone.
        with assert_queries(3 + 1 * 2):
            recalculate()

    stamped = Goal.objects.filter(
        pk__in=[company.pk, team_goal.pk], last_calculated_at__isnull=False
    )
    assert stamped.count() == 2
    assert value(company) == value(team_goal) == 110


def test_counting_the_same_values_again_changes_only_when_they_were_counted(team):
    company = make_goal(owner=None)
    team_goal = make_goal(owner=team, parent=company)
    mine = make_goal(owner=SalesRepFactory(team=team), parent=team_goal)
    won(mine.rep, 5)
    recalculate()
    before = {goal.pk: goal for goal in Goal.objects.all()}
    trail = AuditEntry.objects.count()

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=15)):
        assert recalculate() == 0

    after = {goal.pk: goal for goal in Goal.objects.all()}
    assert after[mine.pk].updated_at == before[mine.pk].updated_at  # Django admin's "last changed"
    assert after[mine.pk].last_calculated_at > before[mine.pk].last_calculated_at  # "as of"
    assert selectors.goal_version(after[mine.pk]) != selectors.goal_version(
        before[mine.pk]
    )  # so the live block says so
    for parent in (team_goal, company):  # their sums did not move: not written at all
        assert after[parent.pk].updated_at == before[parent.pk].updated_at
        assert after[parent.pk].last_calculated_at == before[parent.pk].last_calculated_at
        assert selectors.goal_version(after[parent.pk]) == selectors.goal_version(before[parent.pk])
    assert AuditEntry.objects.count() == trail


@pytest.mark.django_db(transaction=True)
def test_a_recount_that_moves_no_sum_does_not_wait_for_a_parent_being_edited():
    team = TeamFactory()
    team_goal = make_goal(owner=team)
    mine = make_goal(owner=SalesRepFactory(team=team), parent=team_goal)
    won(mine.rep, 5)
    recalculate()

    def edit_the_team_goal() -> None:  # someone's edit, its row locked until it commits
        Goal.objects.select_for_update().get(pk=team_goal.pk)

    with held_elsewhere(edit_the_team_goal), transaction.atomic():
        with connection.cursor() as cursor:  # waiting for the lock would fail, not hang
            cursor.execute("SET LOCAL lock_timeout = '1s'")
        changed = recalculate()

    assert changed == 0 and value(team_goal) == 5


def test_a_recalculation_that_changes_a_value_is_audited_by_the_job(rep):
    goal = make_goal(owner=rep)
    won(rep, 250)
    assert recalculate() == 1
    entry = AuditEntry.objects.get(action="goal.recalculate", target_id=str(goal.pk))
    assert entry.system_actor == JOB.name
    assert entry.changes == {"current_value": ["0.00", "250.00"]}
    assert Goal.objects.get(pk=goal.pk).last_calculated_at is not None


# --- Event path ---------------------------------------------------------------------------------


def test_winning_a_deal_updates_the_reps_team_and_company_goals(
    rep, eager_celery, django_capture_on_commit_callbacks
):
    mine = make_goal(owner=rep)
    team_goal = make_goal(owner=rep.team)
    company = make_goal(owner=None)
    count = make_goal(owner=rep, metric="activities")
    deal = DealFactory(rep=rep, amount=Decimal(700))

    with django_capture_on_commit_callbacks(execute=True):
        crm.deal_close(actor=rep.user, deal_id=deal.pk, won=True)

    assert (value(mine), value(team_goal), value(company)) == (700, 700, 700)
    assert value(count) == 0

    with django_capture_on_commit_callbacks(execute=True):
        crm.deal_reopen(actor=rep.user, deal_id=deal.pk)
    assert value(mine) == 0


def test_a_failing_recalculation_never_undoes_the_deal(
    rep, eager_celery, django_capture_on_commit_callbacks
):
    goal = make_goal(owner=rep)
    deal = DealFactory(rep=rep, amount=Decimal(5))

    with (
        refusing_updates(Goal, goal.pk, "current_value"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        crm.deal_close(actor=rep.user, deal_id=deal.pk, won=True)

    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON
    goal.refresh_from_db()
    assert goal.calculation_failed is True
    assert "refused its update" in goal.calculation_error


def test_a_value_too_large_for_a_goal_fails_that_goal_only(rep):
    company, mine = make_goal(owner=None), make_goal(owner=rep)
    # Won deals worth more together than a goal holds (14 digits), but for the company only.
    DealFactory.create_batch(
        101, rep=SalesRepFactory(), amount=Decimal("9999999999.99"), stage=DealStage.CLOSED_WON
    )
    DealFactory(rep=rep, amount=Decimal(7), stage=DealStage.CLOSED_WON)

    services.goals_recalculate(goals=Goal.objects.all(), actor=JOB)

    company.refresh_from_db()
    mine.refresh_from_db()
    assert company.calculation_failed and company.calculation_error == services.VALUE_TOO_LARGE
    assert mine.current_value == 7 and not mine.calculation_failed


# --- Manual adjustment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value_", "justification", "field"),
    [
        (Decimal(5), "too short", "justification"),
        (Decimal(-1), "A long enough reason", "value"),
    ],
)
def test_a_manual_adjustment_needs_a_reason_and_a_sane_value(rep, value_, justification, field):
    goal = make_goal(owner=rep)
    with pytest.raises(ValidationError) as error:
        services.goal_adjust(
            actor=rep.user, goal_id=goal.pk, value=value_, justification=justification
        )
    assert field in error.value.message_dict
    assert Goal.objects.get(pk=goal.pk).calculation_source == Source.AUTO


def test_a_manual_value_is_left_alone_by_the_jobs_until_returned_to_auto(rep):
    goal = make_goal(owner=rep)
    won(rep, 100)
    services.goal_adjust(
        actor=rep.user, goal_id=goal.pk, value=Decimal(900), justification="Cash sale at the fair"
    )
    recalculate()
    assert value(goal) == 900
    entry = AuditEntry.objects.get(action="goal.adjust", target_id=str(goal.pk))
    assert (entry.actor, entry.reason) == (rep.user, "Cash sale at the fair")

    services.goal_return_to_auto(actor=rep.user, goal_id=goal.pk)

    assert value(goal) == 100
    assert Goal.objects.get(pk=goal.pk).calculation_source == Source.AUTO


# --- Hierarchy ----------------------------------------------------------------------------------


def test_a_parent_is_the_sum_of_its_children_up_to_the_root(rep):
    teammate = SalesRepFactory(team=rep.team)
    company = make_goal(owner=None, target=1)
    team_goal = make_goal(owner=rep.team, parent=company, target=1)
    make_goal(owner=rep, target=300, parent=team_goal)
    make_goal(owner=teammate, target=200, parent=team_goal)
    won(rep, 100)
    won(teammate, 50)

    recalculate()

    team_goal.refresh_from_db()
    company.refresh_from_db()
    assert (team_goal.current_value, team_goal.target_value) == (150, 500)
    assert (company.current_value, company.target_value) == (150, 500)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("self", services.LINK_SELF),
        ("cycle", services.LINK_CYCLE),
        ("individual_parent", services.LINK_OWNER_TYPES),
        ("other_team", services.LINK_NOT_IN_TEAM),
        ("metric", services.LINK_METRIC),
        ("period", services.LINK_PERIOD),
        ("closed_parent", services.LINK_PARENT_CLOSED),
        ("bonus_tier", services.LINK_BONUS_TIER),
    ],
)
def test_links_that_break_the_hierarchy_are_refused(rep, other_rep, case, message):
    company = make_goal(owner=None)
    team_goal = make_goal(owner=rep.team, parent=company)
    mine = make_goal(owner=rep)
    cases = {
        "self": lambda: (mine, mine),
        "cycle": lambda: (company, team_goal),
        "individual_parent": lambda: (make_goal(owner=SalesRepFactory(team=rep.team)), mine),
        "other_team": lambda: (make_goal(owner=other_rep), team_goal),
        "metric": lambda: (make_goal(owner=rep, metric="signups"), team_goal),
        "period": lambda: (
            make_goal(owner=rep, start=timezone.localdate() + dt.timedelta(days=200)),
            team_goal,
        ),
        "closed_parent": lambda: (
            mine,
            services.goal_set_status(actor=SETUP, goal_id=team_goal.pk, status="cancelled"),
        ),
        "bonus_tier": lambda: (make_goal(owner=rep, metric="bonus_tier", target=3), company),
    }
    child, parent = cases[case]()
    with pytest.raises(ValidationError) as error:
        services.goal_link_parent(actor=SETUP, goal_id=child.pk, parent=parent)
    assert error.value.message_dict == {"parent": [message]}
    assert Goal.objects.get(pk=child.pk).parent_id == child.parent_id


@pytest.mark.parametrize(
    ("child_kind", "parent_kind", "allowed"),
    [
        ("month", "month", True),
        ("month", "quarter", True),
        ("month", "year", True),
        ("quarter", "year", True),
        ("year", "month", False),  # the year's revenue would add into the month
        ("quarter", "month", False),
        ("year", "quarter", False),
    ],
)
def test_a_childs_period_lies_within_its_parents(rep, child_kind, parent_kind, allowed):
    june = dt.date(2026, 6, 10)
    team_goal = make_goal(owner=rep.team, period_kind=parent_kind, start=june)
    mine = make_goal(owner=rep, period_kind=child_kind, start=june)

    if allowed:
        services.goal_link_parent(actor=SETUP, goal_id=mine.pk, parent=team_goal)
        assert Goal.objects.get(pk=mine.pk).parent_id == team_goal.pk
        return
    with pytest.raises(ValidationError) as refused:
        services.goal_link_parent(actor=SETUP, goal_id=mine.pk, parent=team_goal)
    assert refused.value.message_dict == {"parent": [services.LINK_PERIOD]}
    assert Goal.objects.get(pk=mine.pk).parent_id is None
    assert not AuditEntry.objects.filter(action="goal.link").exists()


def test_custom_dates_lie_within_their_parents_or_are_refused(rep):
    team_goal = make_goal(owner=rep.team, start=dt.date(2026, 6, 1))
    inside = make_goal(
        owner=rep, period_kind="custom", start=dt.date(2026, 6, 5), end=dt.date(2026, 6, 30)
    )
    across = make_goal(
        owner=rep, period_kind="custom", start=dt.date(2026, 6, 20), end=dt.date(2026, 7, 5)
    )

    services.goal_link_parent(actor=SETUP, goal_id=inside.pk, parent=team_goal)
    with pytest.raises(ValidationError) as refused:
        services.goal_link_parent(actor=SETUP, goal_id=across.pk, parent=team_goal)

    assert refused.value.message_dict == {"parent": [services.LINK_PERIOD]}


def test_a_goal_created_or_edited_with_a_parent_keeps_the_period_rule(rep):
    month = make_goal(owner=rep.team, start=dt.date(2026, 6, 1), target=10)
    year = make_goal(owner=rep.team, period_kind="year", start=dt.date(2026, 1, 1), target=10)
    fields = {
        "actor": SETUP, "title": "Mine", "owner_type": "individual", "rep": rep,
        "metric": "revenue", "target_value": Decimal(40),
    }  # fmt: skip

    with pytest.raises(ValidationError) as refused:
        services.goal_create(
            **fields, period_kind="year", period_start=dt.date(2026, 1, 1), parent=month
        )
    made = services.goal_create(
        **fields, period_kind="month", period_start=dt.date(2026, 6, 1), parent=month
    )
    with pytest.raises(ValidationError) as moved_out:
        services.goal_update(actor=SETUP, goal_id=made.pk, period_kind="year")
    services.goal_update(actor=SETUP, goal_id=made.pk, parent=year)
    moved = services.goal_update(actor=SETUP, goal_id=made.pk, period_kind="quarter")
    unlinked = services.goal_update(actor=SETUP, goal_id=made.pk, parent=None)

    assert refused.value.message_dict == {"parent": [services.LINK_PERIOD]}
    assert Goal.objects.filter(title="Mine").count() == 1  # the refused one was not made
    assert made.parent_id == month.pk and value_and_target(month) == (0, 40)
    assert moved_out.value.message_dict == {"period_start": [services.PERIOD_BREAKS_LINKS]}
    assert moved.parent_id == year.pk and moved.period_kind == "quarter"
    assert unlinked.parent_id is None
    assert value_and_target(year)[0] == 0  # its own count again
    trail = AuditEntry.objects.filter(target_id=str(made.pk)).order_by("id")
    assert [entry.action for entry in trail] == [
        "goal.create", "goal.link", "goal.link", "goal.update", "goal.unlink",
    ]  # fmt: skip
    assert trail[3].change_lines == [
        "Period: Month, 1 Jun 2026 to 30 Jun 2026 → Quarter, 1 Apr 2026 to 30 Jun 2026"
    ]


def value_and_target(goal) -> tuple[Decimal, Decimal | None]:
    fresh = Goal.objects.get(pk=goal.pk)
    return fresh.current_value, fresh.target_value


def test_the_pages_offer_only_parents_whose_period_holds_the_goal(rep, supervisor_client):
    june = dt.date(2026, 6, 1)
    month = make_goal(owner=rep.team, start=june, title="June")
    quarter = make_goal(owner=rep.team, period_kind="quarter", start=june, title="Q2")
    make_goal(owner=rep.team, start=dt.date(2026, 7, 1), title="July")
    mine_quarter = make_goal(owner=rep, period_kind="quarter", start=june)

    detail = supervisor_client.get(f"/goals/{mine_quarter.pk}/")
    tree = supervisor_client.get("/goals/tree/", {"status": ""})

    offered = [value for value, _ in detail.context["link_form"].fields["parent"].choices]
    assert offered == [quarter.pk]
    assert [value for value, _ in tree.context["link_forms"][mine_quarter.pk].fields[
        "parent"].choices] == [quarter.pk]  # fmt: skip
    assert month.pk not in offered


def test_a_parent_outside_your_scope_is_refused(rep, other_rep):
    mine = make_goal(owner=rep)
    foreign_team = make_goal(owner=other_rep.team)
    with pytest.raises(ValidationError) as error:
        services.goal_link_parent(actor=rep.user, goal_id=mine.pk, parent=foreign_team)
    assert error.value.message_dict == {"parent": [services.LINK_PARENT_NOT_FOUND]}


def test_a_parent_handed_to_a_service_is_read_again_there_in_scope(rep):
    team_goal = make_goal(owner=rep.team)
    mine = make_goal(owner=rep)
    as_looked_up = Goal.objects.get(pk=team_goal.pk)  # active when the caller read it
    services.goal_set_status(actor=SETUP, goal_id=team_goal.pk, status="completed")

    with pytest.raises(ValidationError) as error:
        services.goal_link_parent(actor=SETUP, goal_id=mine.pk, parent=as_looked_up)

    assert error.value.message_dict == {"parent": [services.LINK_PARENT_CLOSED]}


def test_unlinking_rolls_the_old_parent_back_and_it_counts_for_itself_again(rep):
    team_goal = make_goal(owner=rep.team, target=50)
    mine = make_goal(owner=rep, target=300, parent=team_goal)
    won(rep, 100)
    recalculate()
    assert value(team_goal) == 100

    services.goal_unlink_parent(actor=SETUP, goal_id=mine.pk)

    team_goal.refresh_from_db()
    assert team_goal.current_value == 100  # its own count again: the team's deals
    assert Goal.objects.get(pk=mine.pk).parent_id is None
    assert AuditEntry.objects.filter(action="goal.unlink", target_id=str(mine.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_under_one_parent_lose_no_update():
    """Eight reps adjust their goals at once; the team goal ends at the sum of all eight."""
    team = TeamFactory()
    team_goal = make_goal(owner=team, metric="custom", source="manual", target=0)
    children = [
        make_goal(owner=SalesRepFactory(team=team), metric="custom", source="manual",
                  target=10, parent=team_goal)
        for _ in range(8)
    ]  # fmt: skip
    barrier = threading.Barrier(len(children))

    def adjust(goal) -> None:
        try:
            barrier.wait()
            services.goal_adjust(
                actor=SETUP, goal_id=goal.pk, value=Decimal(7), justification="Counted by hand"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=adjust, args=(goal,)) for goal in children]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert value(team_goal) == 7 * len(children)


def test_a_parent_changed_between_its_sums_and_its_lock_is_summed_again(team, monkeypatch):
    team_goal = make_goal(owner=team, metric="custom", source="manual", target=0)
    mine, theirs = (
        make_goal(owner=SalesRepFactory(team=team), metric="custom", source="manual",
                  target=10, parent=team_goal)
        for _ in range(2)
    )  # fmt: skip
    read_sums = recalculation._children_sums
    reads = []

    def sums_then_a_change_commits_meanwhile(parent_ids):
        sums = read_sums(parent_ids)
        if not reads:  # another writer's change under the parent, and its sum, commit now
            Goal.objects.filter(pk=theirs.pk).update(current_value=4)
            Goal.objects.filter(pk=team_goal.pk).update(current_value=4)
        reads.append(sums)
        return sums

    monkeypatch.setattr(recalculation, "_children_sums", sums_then_a_change_commits_meanwhile)
    services.goal_adjust(
        actor=SETUP, goal_id=mine.pk, value=Decimal(7), justification="Counted by hand"
    )

    assert len(reads) == 2  # summed again once locked
    assert value(team_goal) == 11


# --- Daily job ----------------------------------------------------------------------------------


def day_end(now: dt.datetime | None = None) -> dict:
    """The day-end steps as the job runs them, for every zone's latest day that ended."""
    now = now or timezone.now()
    days = services.days_ended(since=None, now=now)
    return services.goals_day_end(actor=JOB, days=days, now=now)


@pytest.mark.sqlite
def test_the_daily_snapshot_writes_one_row_per_goal_and_day(rep):
    with time_machine.travel(dt.datetime(2031, 6, 15, 0, 2, tzinfo=UTC), tick=False):
        june = dt.date(2031, 6, 1)
        mine, company = make_goal(owner=rep, start=june), make_goal(owner=None, start=june)
        first, again = day_end(), day_end()
    assert (first["snapshots"], again["snapshots"]) == (2, 0)
    # Each of its owner's day: the rep's in Madrid ended two hours earlier, the company's now.
    assert GoalSnapshot.objects.get(goal=mine).date == dt.date(2031, 6, 14)
    assert GoalSnapshot.objects.get(goal=company).date == dt.date(2031, 6, 14)


@pytest.mark.sqlite
def test_a_goal_gets_no_snapshot_of_a_day_before_its_period(rep):
    with time_machine.travel(dt.datetime(2031, 6, 1, 0, 2, tzinfo=UTC), tick=False):
        make_goal(owner=None, start=dt.date(2031, 6, 1))
        assert day_end()["snapshots"] == 0


@pytest.mark.sqlite
def test_goals_whose_period_ended_are_closed_even_if_nothing_moved(rep):
    last_month = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    old = make_goal(owner=rep, start=last_month)
    current = make_goal(owner=rep)
    # Won last month but not counted yet (its event came late): the last count takes it in.
    closed_at = timezone.make_aware(dt.datetime.combine(last_month, dt.time(12)))
    DealFactory(rep=rep, amount=Decimal(45), stage=DealStage.CLOSED_WON, closed_at=closed_at)

    day_end()

    old.refresh_from_db()
    assert old.status == GoalStatus.COMPLETED and old.closed_at is not None
    assert old.current_value == 45
    assert Goal.objects.get(pk=current.pk).status == GoalStatus.ACTIVE
    assert GoalSnapshot.objects.filter(goal=old).exists()  # its last day was recorded


def test_an_off_track_goal_alerts_its_rep_and_supervisor_once_until_it_recovers(
    rep, eager_celery, django_capture_on_commit_callbacks
):
    def daily_work():
        with django_capture_on_commit_callbacks(execute=True):  # the mail goes after commit
            day_end()

    rep.user.email = "rep@example.com"
    rep.user.save()
    rep.team.manager.email = "boss@example.com"
    rep.team.manager.save()
    start = timezone.localdate().replace(day=1)
    with time_machine.travel(
        dt.datetime.combine(start + dt.timedelta(days=20), dt.time(12), tzinfo=UTC), tick=False
    ):
        goal = make_goal(owner=rep, target=1000, start=start)
        daily_work()
        daily_work()
        assert GoalAlert.objects.filter(goal=goal, cleared_at__isnull=True).count() == 1
        assert len(mail.outbox) == 1
        assert set(mail.outbox[0].to) == {"rep@example.com", "boss@example.com"}

        won(rep, 990)
        recalculate()
        daily_work()
        assert GoalAlert.objects.get(goal=goal).cleared_at is not None

        services.goal_adjust(
            actor=SETUP, goal_id=goal.pk, value=Decimal(0), justification="Deal cancelled"
        )
        daily_work()
    assert GoalAlert.objects.filter(goal=goal).count() == 2  # it fell back: alerted again
    assert len(mail.outbox) == 2


# --- Forecast ------------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_the_forecast_uses_the_snapshots_velocity(rep):
    start = dt.date(2026, 11, 1)
    goal = make_goal(owner=rep, metric="custom", source="manual", target=300, start=start)
    for day, snapshot_value in ((1, 0), (11, 100)):
        GoalSnapshot.objects.create(
            goal=goal, date=start + dt.timedelta(days=day - 1), value=snapshot_value,
            target=300, percent=0,
        )  # fmt: skip
    Goal.objects.filter(pk=goal.pk).update(current_value=100)
    goal.refresh_from_db()

    result = selectors.forecast(goal, now=dt.datetime(2026, 11, 11, 12, tzinfo=UTC))

    assert result.velocity == Decimal("10.00")  # 100 over 10 days
    assert result.days_left == 19
    assert result.projected_value == Decimal("290.00")
    assert result.needed_daily_rate == Decimal("10.00")  # 200 over 20 days, today included
    assert result.projected_completion == dt.date(2026, 12, 1)
    assert result.verdict == selectors.Verdict.AT_RISK  # 33.33% done, 36.67% expected
    assert result.has_sufficient_data and result.days_of_history == 11


@pytest.mark.sqlite
def test_without_two_snapshots_velocity_is_value_over_days_elapsed(rep):
    start = dt.date(2026, 11, 1)
    goal = make_goal(owner=rep, metric="custom", source="manual", target=100, start=start)
    Goal.objects.filter(pk=goal.pk).update(current_value=50)
    goal.refresh_from_db()

    result = selectors.forecast(goal, now=dt.datetime(2026, 11, 5, 12, tzinfo=UTC))

    assert result.velocity == Decimal("10.00")
    assert result.verdict == selectors.Verdict.ON_TRACK
    assert not result.has_sufficient_data


def test_a_forecast_at_a_crawl_has_no_completion_date_and_huge_figures_do_not_break(rep):
    start = dt.date(2026, 1, 1)
    goal = make_goal(
        owner=rep, metric="custom", source="manual", target=Decimal("999999999999"),
        period_kind="year", start=start,
    )  # fmt: skip
    Goal.objects.filter(pk=goal.pk).update(current_value=Decimal("0.01"))
    goal.refresh_from_db()

    result = selectors.forecast(goal, now=dt.datetime(2026, 1, 1, 12, tzinfo=UTC))
    answer = ForecastSerializer(result).data

    assert result.projected_completion is None
    assert answer["projected_completion"] is None and answer["needed_daily_rate"]


def test_analytics_count_what_the_user_may_see(rep, other_rep, admin_user):
    make_goal(owner=rep)
    make_goal(owner=other_rep)
    done = make_goal(owner=rep, metric="custom", source="manual", target=10)
    services.goal_adjust(
        actor=SETUP, goal_id=done.pk, value=Decimal(10), justification="Counted by hand"
    )
    services.goal_set_status(actor=SETUP, goal_id=done.pk, status=GoalStatus.COMPLETED)

    mine = selectors.analytics(user=rep.user)
    everything = selectors.analytics(user=admin_user)

    assert (mine["total_goals"], everything["total_goals"]) == (2, 3)
    assert mine["completed_goals"] == 1
    assert mine["overall_completion_rate"] == Decimal("100.00")
    assert len(mine["completion_rate_trend"]) == 12


def test_a_linked_goals_period_cannot_move_away_from_its_parent(rep):
    team_goal = make_goal(owner=rep.team, start=dt.date(2026, 6, 1))
    mine = make_goal(owner=rep, parent=team_goal, start=dt.date(2026, 6, 1))

    with pytest.raises(ValidationError) as refused:
        services.goal_update(actor=SETUP, goal_id=mine.pk, period_start=dt.date(2026, 9, 1))
    with pytest.raises(ValidationError):
        services.goal_update(actor=SETUP, goal_id=team_goal.pk, period_start=dt.date(2026, 9, 1))

    assert refused.value.message_dict["period_start"] == [services.PERIOD_BREAKS_LINKS]
    assert Goal.objects.get(pk=mine.pk).period_start == dt.date(2026, 6, 1)

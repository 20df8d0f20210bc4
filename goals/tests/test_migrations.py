"""The goals migrations on data that is already there: goals linked before the period rule whose
period does not lie within their parent's are unlinked, audited, and their parents summed again;
every goals migration reverses with rows in the tables."""

import datetime as dt
from decimal import Decimal

import pytest

from crm.testing.migrations import legacy_rep, migrate_to

BEFORE_PERIOD_RULE = ("goals", "0005_field_labels")
UTC = dt.UTC


def _goal(Goal, *, title, kind, first, last, value, target, parent=None, **owner):
    return Goal.objects.create(
        title=title, metric="revenue", period_kind=kind, period_start=first, period_end=last,
        zone="UTC", starts_at=dt.datetime.combine(first, dt.time(), tzinfo=UTC),
        ends_at=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=UTC),
        current_value=value, target_value=target, parent=parent, **owner,
    )  # fmt: skip


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_children_outside_their_parents_period_are_unlinked_audited_and_summed_out():
    old = migrate_to(BEFORE_PERIOD_RULE)
    try:
        Goal = old.get_model("goals", "Goal")
        team = old.get_model("crm", "Team").objects.create(name="Legacy")
        rep = legacy_rep(old, team=team)
        june, june_end = dt.date(2026, 6, 1), dt.date(2026, 6, 30)
        company = _goal(
            Goal,
            title="Company",
            kind="month",
            first=june,
            last=june_end,
            value=Decimal(60400),
            target=Decimal(61000),
            owner_type="company",
        )
        month = _goal(
            Goal,
            title="Team June",
            kind="month",
            first=june,
            last=june_end,
            value=Decimal(60400),
            target=Decimal(61000),
            parent=company,
            owner_type="team",
            team=team,
        )
        year = _goal(
            Goal,
            title="Rep 2026",
            kind="year",
            first=dt.date(2026, 1, 1),
            last=dt.date(2026, 12, 31),
            value=Decimal(60000),
            target=Decimal(60000),
            parent=month,
            owner_type="individual",
            rep=rep,
        )
        fits = _goal(Goal, title="Rep June", kind="month", first=june, last=june_end,
                     value=Decimal(400), target=Decimal(1000), parent=month,
                     owner_type="individual", rep=rep)  # fmt: skip
    finally:
        migrate_to()  # forward again, to the latest

    from crm.models import AuditEntry
    from goals.models import Goal as NewGoal

    assert NewGoal.objects.get(pk=year.pk).parent_id is None
    assert NewGoal.objects.get(pk=fits.pk).parent_id == month.pk
    team_goal, company_goal = NewGoal.objects.get(pk=month.pk), NewGoal.objects.get(pk=company.pk)
    assert (team_goal.current_value, team_goal.target_value) == (400, 1000)
    assert (company_goal.current_value, company_goal.target_value) == (400, 1000)
    unlinked = AuditEntry.objects.get(action="goal.unlink", target_id=str(year.pk))
    assert unlinked.system_actor == "migration:goals.0006"
    assert unlinked.changes == {"parent": [month.pk, None]}
    assert "within its parent goal's" in unlinked.reason
    summed = AuditEntry.objects.filter(action="goal.roll_up").values_list("target_id", flat=True)
    assert set(summed) == {str(month.pk), str(company.pk)}


@pytest.mark.django_db(transaction=True)
def test_the_goals_migrations_reverse_with_rows_in_the_tables(rep):
    from goals.tests.factories import make_goal

    team_goal = make_goal(owner=rep.team, start=dt.date(2026, 6, 1))
    make_goal(owner=rep, start=dt.date(2026, 6, 1), parent=team_goal)

    migrate_to(("goals", "0004_one_index_each"))
    migrate_to()

    from goals.models import Goal

    assert Goal.objects.filter(parent_id=team_goal.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_goals_made_before_revisions_take_their_current_target_as_original_and_it_reverses(rep):
    import time_machine

    from goals import services
    from goals.models import GoalTargetRevision
    from goals.tests.factories import make_goal

    with time_machine.travel(dt.datetime(2026, 6, 10, 9, tzinfo=UTC), tick=False):
        goal = make_goal(owner=rep, start=dt.date(2026, 6, 1), target=Decimal(1000))
        services.goal_update(
            actor=rep.user, goal_id=goal.pk, target_value=Decimal(800), reason="The fair closed."
        )
    assert GoalTargetRevision.objects.count() == 1

    # Backwards with a revision in the table, then forwards: the target as it is is the original.
    migrate_to(("goals", "0006_children_within_their_parents_period"))
    migrate_to()

    from goals.models import Goal

    goal = Goal.objects.get(pk=goal.pk)
    assert (goal.original_target, goal.target_value) == (800, 800)
    assert not GoalTargetRevision.objects.exists()


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_goals_keep_their_snapshots_history_from_the_snapshots_already_there():
    old = migrate_to(("goals", "0008_target_revisions"))
    try:
        Goal, Snapshot = old.get_model("goals", "Goal"), old.get_model("goals", "GoalSnapshot")
        june, june_end = dt.date(2026, 6, 1), dt.date(2026, 6, 30)
        rep = legacy_rep(old)
        moving = _goal(
            Goal,
            title="Moving",
            kind="month",
            first=june,
            last=june_end,
            value=Decimal(90),
            target=Decimal(100),
            owner_type="individual",
            rep=rep,
        )
        one_day = _goal(
            Goal,
            title="One day",
            kind="month",
            first=june,
            last=june_end,
            value=Decimal(5),
            target=Decimal(100),
            owner_type="company",
        )
        for day, value in ((2, 10), (5, 40), (12, 100)):
            Snapshot.objects.create(goal=moving, date=dt.date(2026, 6, day), value=value, percent=0)
        Snapshot.objects.create(goal=one_day, date=june, value=5, percent=0)
    finally:
        migrate_to()

    from goals.models import Goal as NewGoal

    kept = NewGoal.objects.get(pk=moving.pk)
    assert (kept.first_snapshot_date, kept.first_snapshot_value, kept.last_snapshot_date) == (
        dt.date(2026, 6, 2), Decimal(10), dt.date(2026, 6, 12),
    )  # fmt: skip
    assert kept.daily_change == Decimal(9)  # (100 - 10) over 10 days
    single = NewGoal.objects.get(pk=one_day.pk)
    assert (single.first_snapshot_date, single.last_snapshot_date) == (june, june)
    assert single.daily_change is None

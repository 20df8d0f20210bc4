"""Setting a plan's targets: a rep sets this month's (after the deadline it is allowed and
recorded as late); the rep's supervisor and admins set or correct any month's; admins give a
team's unset plans default targets. Every target change is audited on its goal and is one of
its revisions (goals.services.revise_target): the targets a rep first commits to are the
originals, and a correction once the month has started needs a reason."""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from crm import selectors as crm_selectors
from crm.models import SalesRep, Team
from crm.roles import Actor, may_correct_plans, may_set_plan_defaults, own_rep
from crm.writes import audit, audit_many, bulk_set, locked, name_actions
from goals.models import (
    MAX_TIER,
    Goal,
    RepPlan,
)
from goals.plans.selectors import current_month
from goals.plans.services.achievements import record_achievements, record_streaks
from goals.plans.services.creation import MONTH_GOALS, MONTH_RANGE, YEAR_GOALS, plans_create
from goals.services.editing import check_reason, record_revisions, revise_target

name_actions({"plan.set": "Monthly goals set"})

# Error messages, one per rule; tests assert on these constants.
REP_REQUIRED = "Choose the sales rep whose plan this is."
REP_INACTIVE = "This rep is not active: inactive reps have no plans."
REPS_SET_THIS_MONTH = "You set this month's goals; your supervisor corrects other months."
ADMINS_SET_DEFAULTS = "Only administrators set a team's default goals."
SIGNUP_GOAL_RANGE = "Enter a whole number of signups from 0 to 100,000."
REVENUE_GOAL_RANGE = "Enter a revenue goal from 0 to 999,999,999,999.99."
BONUS_TIER_RANGE = f"Choose a bonus tier from 0 to {MAX_TIER}."

CENT = Decimal("0.01")
MAX_SIGNUP_GOAL = 100_000
MAX_REVENUE_GOAL = Decimal("999999999999.99")


# --- Setting targets ---------------------------------------------------------------------------


def _plan_rep(*, actor: Actor, rep_id: int | None) -> SalesRep:
    """The rep whose plan `actor` sets: their own (a rep), or one they manage. 404 outside."""
    if rep_id is None:
        rep = own_rep(actor)
        if rep is None:
            raise ValidationError({"rep": REP_REQUIRED})
    else:
        rep = locked(crm_selectors.rep_list(user=actor), rep_id)
    if not rep.active:
        raise ValidationError({"rep": REP_INACTIVE})
    return rep


def _check_targets(targets: dict[str, object]) -> None:
    errors = {}
    signups = targets.get("signup_goal")
    if signups is not None and not (
        Decimal(signups) == int(signups) and 0 <= signups <= MAX_SIGNUP_GOAL
    ):
        errors["signup_goal"] = SIGNUP_GOAL_RANGE
    revenue = targets.get("revenue_goal")
    if revenue is not None and not 0 <= revenue <= MAX_REVENUE_GOAL:
        errors["revenue_goal"] = REVENUE_GOAL_RANGE
    tier = targets.get("bonus_tier_goal")
    if tier is not None and not (Decimal(tier) == int(tier) and 0 <= tier <= MAX_TIER):
        errors["bonus_tier_goal"] = BONUS_TIER_RANGE
    if errors:
        raise ValidationError(errors)


def _locked_plan(rep: SalesRep, year: int, month: int | None) -> RepPlan:
    """The rep's plan for the month (or year), made if it was missing, locked."""
    plans_create(year=year, month=month, rep_ids=[rep.pk])
    return RepPlan.objects.select_for_update().get(rep=rep, year=year, month=month)


def _set_targets(
    *, actor: Actor, plan: RepPlan, targets: dict, reason: str, given_reason: str = ""
) -> list[int]:
    """Write the plan's goals' targets ({"signup_goal": value, …}; a target left out (None)
    stays as it is, or is 0 while blank), audit each change and record it as a revision (a
    plan not committed to yet takes them as its originals; a correction once the month has
    started needs `given_reason`); returns the ids of the goals whose target changed."""
    check_reason(given_reason)
    metric_of = {field: metric for metric, (field, _) in _goals_of(plan).items()}
    goals = {goal.metric: goal for goal in Goal.objects.select_for_update().filter(plan=plan)}
    now, changes, audits, revisions = timezone.now(), {}, [], []
    for field, value in targets.items():
        goal = goals[metric_of[field]]
        if value is None:
            if goal.target_value is not None:
                continue
            value = 0
        value = Decimal(value).quantize(CENT)
        if goal.target_value != value:
            revision = revise_target(
                goal, value, reason=given_reason, now=now, provisional=not plan.is_set
            )
            revisions.append(revision)
            changes[goal.pk] = {
                "target_value": value, "original_target": revision.original, "updated_at": now,
            }  # fmt: skip
            audits.append((goal, {"target_value": [goal.target_value, value]}))
    bulk_set(Goal, changes)
    why = f"{reason} {given_reason.strip()}".strip()
    audit_many(actor=actor, action="goal.update", targets=audits, reason=why)
    record_revisions(revisions, actor=actor, reason=given_reason.strip() or reason, now=now)
    return list(changes)


def _goals_of(plan: RepPlan) -> dict:
    return MONTH_GOALS if plan.month else YEAR_GOALS


def _reason(actor: Actor, plan: RepPlan) -> str:
    if plan.rep.user_id == getattr(actor, "pk", None):
        return f"Plan for {plan.label} set by the rep."
    return f"Plan for {plan.label} set for the rep by {actor}."


@transaction.atomic
def plan_set(
    *,
    actor: Actor,
    signup_goal: int | None = None,
    revenue_goal: Decimal | None = None,
    bonus_tier_goal: int | None = None,
    rep_id: int | None = None,
    year: int | None = None,
    month: int | None = None,
    reason: str = "",
) -> RepPlan:
    """Set a month's plan: a rep their own, this month (after the deadline too: it is recorded
    as late); the rep's supervisor or an admin any month's (`rep_id`). The first setting is the
    commitment (`goal_set_at`, on time or not, its targets the originals); later ones are
    corrections, audited alike, and need a `reason` once the month has started. A target left
    out (None) keeps its value, or is 0 on a plan that has none."""
    targets = {
        "signup_goal": signup_goal, "revenue_goal": revenue_goal,
        "bonus_tier_goal": bonus_tier_goal,
    }  # fmt: skip
    _check_targets(targets)
    rep = _plan_rep(actor=actor, rep_id=rep_id)
    this_year, this_month = current_month(rep)
    year, month = year or this_year, month or this_month
    if not 1 <= month <= 12:
        raise ValidationError({"month": MONTH_RANGE})
    if not may_correct_plans(actor) and (year, month) != (this_year, this_month):
        raise ValidationError(REPS_SET_THIS_MONTH)
    plan = _locked_plan(rep, year, month)
    changed = _set_targets(
        actor=actor, plan=plan, targets=targets, reason=_reason(actor, plan), given_reason=reason
    )
    if plan.goal_set_at is None:
        plan.goal_set_at = timezone.now()
        plan.goal_set_by = actor if getattr(actor, "is_authenticated", False) else None
        plan.save(update_fields=["goal_set_at", "goal_set_by", "updated_at"])
        audit(actor=actor, action="plan.set", target=plan, changes={"deadline": plan.deadline})
        plan.refresh_from_db(fields=["set_by_deadline"])
        record_streaks(plan)
    record_achievements(goal_ids=changed)
    return plan


@transaction.atomic
def plan_set_year(
    *,
    actor: Actor,
    revenue_goal: Decimal | None = None,
    signup_goal: int | None = None,
    rep_id: int | None = None,
    year: int | None = None,
    reason: str = "",
) -> RepPlan:
    """Set a rep's goals for a year (this year by default): the rep, their supervisor, admins.
    As a month's: a target left out keeps its value (0 while blank); a correction of targets
    set once the year has started needs a `reason`."""
    targets = {"revenue_goal": revenue_goal, "signup_goal": signup_goal}
    _check_targets(targets)
    rep = _plan_rep(actor=actor, rep_id=rep_id)
    plan = _locked_plan(rep, year or current_month(rep)[0], None)
    changed = _set_targets(
        actor=actor, plan=plan, targets=targets, reason=_reason(actor, plan), given_reason=reason
    )
    if plan.goal_set_at is None:
        plan.goal_set_at = timezone.now()
        plan.goal_set_by = actor if getattr(actor, "is_authenticated", False) else None
        plan.save(update_fields=["goal_set_at", "goal_set_by", "updated_at"])
    record_achievements(goal_ids=changed)
    return plan


@transaction.atomic
def plans_set_defaults(
    *,
    actor: Actor,
    team_id: int,
    year: int,
    month: int,
    signup_goal: int,
    revenue_goal: Decimal,
    bonus_tier_goal: int,
) -> int:
    """Give the team's plans for a month that are not set yet these targets (admins). A plan set
    already keeps its own; a plan with defaults is still the rep's to set (and is counted as not
    set until then). Returns how many plans took the defaults."""
    if not may_set_plan_defaults(actor):
        raise PermissionDenied(ADMINS_SET_DEFAULTS)
    targets = {
        "signup_goal": signup_goal, "revenue_goal": revenue_goal,
        "bonus_tier_goal": bonus_tier_goal,
    }  # fmt: skip
    _check_targets(targets)
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise ValidationError({"team": "Choose a team."})
    team_reps = SalesRep.objects.filter(team=team, active=True).values("pk")
    plans_create(year=year, month=month, rep_ids=team_reps)
    unset = RepPlan.objects.filter(
        rep__in=team_reps, year=year, month=month, goal_set_at__isnull=True
    )
    now, changes, audits, revisions = timezone.now(), {}, [], []
    rows = (
        Goal.objects.select_for_update()
        .filter(plan__in=unset)
        .only("pk", "metric", "target_value", "original_target", "starts_at")
    )
    for goal in rows:
        value = Decimal(targets[MONTH_GOALS[goal.metric][0]]).quantize(CENT)
        if goal.target_value != value:
            # Not committed to yet: the defaults stand as originals until the rep sets theirs.
            revision = revise_target(goal, value, reason="", now=now, provisional=True)
            revisions.append(revision)
            changes[goal.pk] = {
                "target_value": value, "original_target": revision.original, "updated_at": now,
            }  # fmt: skip
            audits.append((goal, {"target_value": [goal.target_value, value]}))
    bulk_set(Goal, changes)
    why = f"Default goals for {team.name}, {dt.date(year, month, 1):%B %Y}."
    audit_many(actor=actor, action="goal.update", targets=audits, reason=why)
    record_revisions(revisions, actor=actor, reason=why, now=now)
    record_achievements(goal_ids=list(changes))
    return unset.count()

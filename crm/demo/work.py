"""A rep's work, month by month: deals (most of the recent ones still open, won more often by a
better rep), activities (planned ahead, done, and given up when long overdue) and tasks, more in
busy months. The current month is filled up to "now", with what is planned for the rest."""

import math
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from crm.demo.calendar import Calendar, Month, between, how_many, working_slot
from crm.demo.catalogue import PRODUCTS
from crm.demo.customers import known_at
from crm.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    ActivityStatus,
    Customer,
    Deal,
    DealStage,
    SalesRep,
    Task,
    TaskStatus,
)

DEALS_PER_MONTH = 7
ACTIVITIES_PER_MONTH = 32
TASKS_PER_MONTH = 6
# Share of a month's deals still open, by age in months (0 = the current month).
OPEN_SHARE_BY_AGE = {0: 0.6, 1: 0.3, 2: 0.12}
OPEN_SHARE_OLDER = 0.04

DEAL_TITLES = ["Supply: {}", "Trial order: {}", "Annual contract: {}", "Restock: {}", "Promo: {}"]
ACTIVITY_KINDS = (
    [ActivityKind.CALL, ActivityKind.VISIT, ActivityKind.EMAIL, ActivityKind.MEETING],
    [0.35, 0.4, 0.15, 0.1],
)
# What the activity is about; the kind and the customer are shown beside it.
ACTIVITY_SUBJECTS = {
    ActivityKind.CALL: ["order follow-up", "payment reminder", "delivery issue", "weekly order"],
    ActivityKind.VISIT: ["route visit", "shelf review", "new product tasting", "stock check"],
    ActivityKind.EMAIL: ["price list update", "offer follow-up", "invoice copy", "promotion"],
    ActivityKind.MEETING: ["quarterly review", "contract renewal", "annual plan", "complaint"],
}
# How the activities that were done went, and what reps jot down after some of them.
ACTIVITY_OUTCOMES = (
    [
        ActivityOutcome.ORDERED,
        ActivityOutcome.INTERESTED,
        ActivityOutcome.FOLLOW_UP,
        ActivityOutcome.NO_ANSWER,
        ActivityOutcome.NOT_INTERESTED,
    ],
    [0.3, 0.25, 0.2, 0.15, 0.1],
)
ACTIVITY_NOTES = [
    "Owner away; spoke to the manager.",
    "Wants a price for the summer range.",
    "Shelf space moved next to the entrance.",
    "Asked for samples next time.",
    "Pays by transfer from now on.",
]
# A planned activity this far past its due date has been given up: it is cancelled.
OVERDUE_GIVEN_UP_AFTER = timedelta(days=14)
TASK_TITLES = [
    "Send price list to {}",
    "Prepare offer for {}",
    "Check stock at {}",
    "Collect overdue invoice from {}",
    "Update contact details of {}",
    "Follow up samples at {}",
]


def stamped(created_at: datetime, *, last_change: datetime | None) -> dict[str, datetime]:
    """A record's `created_at` and `updated_at`: it was last saved when it was closed or done,
    or, still open, when it was made (the loader keeps both as given)."""
    return {"created_at": created_at, "updated_at": last_change or created_at}


def deals_in(
    rng: random.Random,
    calendar: Calendar,
    month: Month,
    *,
    rep: SalesRep,
    customers: Sequence[Customer],
    skill: float,
) -> list[Deal]:
    past = calendar.past_part(month)
    if past is None:
        return []
    expected = DEALS_PER_MONTH * month.weight * (0.6 + 0.4 * skill) * calendar.elapsed_share(month)
    open_share = OPEN_SHARE_BY_AGE.get(month.age, OPEN_SHARE_OLDER)
    win_rate = min(0.7, max(0.12, 0.33 * skill**0.7))
    typical_amount = math.log(2400 * (0.8 + 0.2 * skill))
    deals = []
    for _ in range(how_many(rng, expected)):
        created_at = between(rng, *past)
        customer = known_at(rng, customers, created_at)
        amount = min(500_000.0, max(50.0, rng.lognormvariate(typical_amount, 0.85)))
        if rng.random() < open_share:
            stage = rng.choices(
                [DealStage.PROSPECTING, DealStage.QUALIFIED, DealStage.PROPOSAL],
                [0.45, 0.33, 0.22],
            )[0]
            closed_at = None
        else:
            stage = DealStage.CLOSED_WON if rng.random() < win_rate else DealStage.CLOSED_LOST
            closed_at = between(rng, created_at, past[1])
        deals.append(
            Deal(
                customer=customer,
                rep=rep,
                title=rng.choice(DEAL_TITLES).format(rng.choice(PRODUCTS)[0]),
                amount=Decimal(f"{amount:.2f}"),
                stage=stage,
                closed_at=closed_at,
                **stamped(created_at, last_change=closed_at),
            )
        )
    return deals


def activities_in(
    rng: random.Random,
    calendar: Calendar,
    month: Month,
    *,
    rep: SalesRep,
    customers: Sequence[Customer],
    skill: float,
) -> list[Activity]:
    as_of = calendar.as_of
    expected = ACTIVITIES_PER_MONTH * month.weight * (0.75 + 0.25 * skill)
    completion_rate = min(0.95, 0.8 + 0.05 * skill)
    activities = []
    for _ in range(how_many(rng, expected)):
        due_at = working_slot(rng, month)
        kind = rng.choices(*ACTIVITY_KINDS)[0]
        customer = rng.choice(customers) if rng.random() < 0.92 else None
        subject = rng.choice(ACTIVITY_SUBJECTS[kind]).capitalize()
        created_at = min(due_at - timedelta(hours=rng.uniform(2, 14 * 24)), as_of)
        status, completed_at = ActivityStatus.PLANNED, None
        if due_at < as_of:
            draw = rng.random()
            if draw < completion_rate:
                status = ActivityStatus.COMPLETED
                completed_at = min(due_at + timedelta(minutes=rng.randint(10, 180)), as_of)
            elif draw < completion_rate + 0.07 or due_at < as_of - OVERDUE_GIVEN_UP_AFTER:
                status = ActivityStatus.CANCELLED
        activities.append(
            Activity(
                rep=rep,
                customer=customer,
                kind=kind,
                status=status,
                subject=subject,
                due_at=due_at,
                completed_at=completed_at,
                **stamped(created_at, last_change=completed_at),
            )
        )
    return activities


def tasks_in(
    rng: random.Random,
    calendar: Calendar,
    month: Month,
    *,
    rep: SalesRep,
    customers: Sequence[Customer],
) -> list[Task]:
    as_of = calendar.as_of
    tasks = []
    for _ in range(how_many(rng, TASKS_PER_MONTH * month.weight)):
        customer = rng.choice(customers)
        due_at = working_slot(rng, month) if rng.random() < 0.85 else None
        if due_at is not None:
            created_at = min(due_at - timedelta(hours=rng.uniform(4, 10 * 24)), as_of)
        else:
            past = calendar.past_part(month)
            if past is None:
                continue
            created_at = between(rng, *past)
        status, completed_at = TaskStatus.OPEN, None
        if (due_at or created_at) < as_of and rng.random() < 0.8:
            status = TaskStatus.DONE
            done_by = min((due_at or created_at) + timedelta(days=1), as_of)
            completed_at = between(rng, created_at, done_by)
        tasks.append(
            Task(
                rep=rep,
                title=rng.choice(TASK_TITLES).format(customer.name),
                status=status,
                due_at=due_at,
                completed_at=completed_at,
                **stamped(created_at, last_change=completed_at),
            )
        )
    return tasks


def add_outcomes(rng: random.Random, activities: Sequence[Activity]) -> None:
    """How each activity that was done went, and now and then a note on it."""
    for activity in activities:
        if activity.status == ActivityStatus.COMPLETED:
            activity.outcome = rng.choices(*ACTIVITY_OUTCOMES)[0]
            if rng.random() < 0.25:
                activity.notes = rng.choice(ACTIVITY_NOTES)

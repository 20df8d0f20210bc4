"""The consistency check: every automatic goal's stored value compared with a fresh recalculation,
recorded, repaired and reported.

What is checked: the active goals the CRM counts (goals.selectors.calculable: their fresh value
from CRM data) and the active goals with goals below them (their fresh value is the sum of their
children's fresh values, as the roll-up keeps it). Set-based: the counted goals that differ in
one statement, then the parents in one statement per level of the hierarchy (those with only
goals counted below them, then those above), all read in one snapshot where the database offers
it. A repair goes through the recalculation's own writes: compare-and-set on each goal's version
(`updated_at`, `last_calculated_at`) and its value as read, so that a goal changed meanwhile (by
a person, an event, the fallback job) is never "repaired" over; audited as the checker; then its
parents rolled up.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from crm import events
from crm.mail import send_after_commit
from crm.periods import format_moment
from crm.roles import Actor, administrators
from crm.writes import audit_many, bulk_set, name_actions
from goals import selectors
from goals.events import GoalValuesChanged
from goals.models import Goal, GoalCheck, GoalStatus, Source
from goals.services.recalculation import cents, roll_up

name_actions({"goal.repair": "Repaired by the consistency check"})

# The goals a check record lists (the largest differences first); the count is always whole.
CHECK_LISTED = 100
REPAIR_REASON = "The consistency check found a value other than the CRM's data gives."
CHECK_ALERT_SUBJECT = "Goals: {differences} value(s) differ from the CRM's data"
CHECK_ALERT_BODY = (
    "The consistency check of {moment} compared {checked:,} automatic goals with a fresh "
    "recalculation: {differences:,} differed (the largest by {largest}), {repaired:,} repaired."
    "\n\nSee the check in the CRM: {url}\n"
)


@dataclass(frozen=True)
class Difference:
    """A goal whose stored value is not its fresh one, with the version it was read at."""

    goal_id: int
    parent_id: int | None
    stored: Decimal
    fresh: Decimal
    updated_at: dt.datetime
    last_calculated_at: dt.datetime | None
    counted: bool  # counted from CRM data (not summed from the goals below)

    @property
    def gap(self) -> Decimal:
        return abs(self.fresh - self.stored)


@dataclass(frozen=True)
class Findings:
    checked: int
    differences: list[Difference]


def goals_differing() -> Findings:
    """How many goals were checked, and those whose stored value is not their fresh value,
    the largest difference first. Reads only."""
    with _one_snapshot():
        counted = selectors.calculable(Goal.objects.all())
        parents = Goal.objects.active().filter(selectors.has_children())
        checked = counted.count() + parents.count()
        found = [
            Difference(pk, parent, stored, cents(fresh), updated, calculated, counted=True)
            for pk, parent, stored, fresh, updated, calculated in counted.annotate(
                fresh=selectors.fresh_value()
            )
            .exclude(current_value=F("fresh"))
            .values_list(*_VERSIONED[:3], "fresh", *_VERSIONED[3:])
            # SQLite's sums carry float noise past the cents.
            if cents(fresh) != stored
        ]
        # A parent's fresh value: its children's values as stored, corrected by what each child
        # that differs should hold. Those with only counted goals below first, then those above.
        moved_under: dict[int, Decimal] = defaultdict(Decimal)
        for difference in found:
            moved_under[difference.parent_id] += difference.fresh - difference.stored
        grandchildren = Exists(Goal.objects.filter(parent__parent_id=OuterRef("pk")))
        for level in (parents.exclude(grandchildren), parents.filter(grandchildren)):
            for pk, parent, stored, summed, updated, calculated in level.annotate(
                summed=_children_sum()
            ).values_list(*_VERSIONED[:3], "summed", *_VERSIONED[3:]):
                fresh = cents(summed) + moved_under[pk]
                if fresh != stored:
                    found.append(
                        Difference(pk, parent, stored, fresh, updated, calculated, counted=False)
                    )
                    moved_under[parent] += fresh - stored
    found.sort(key=lambda difference: (-difference.gap, difference.goal_id))
    return Findings(checked, found)


_VERSIONED = ("pk", "parent_id", "current_value", "updated_at", "last_calculated_at")


def _children_sum() -> Coalesce:
    children = (
        Goal.objects.filter(parent_id=OuterRef("pk"))
        .order_by()
        .values("parent_id")
        .annotate(total=Sum("current_value"))
        .values("total")
    )
    return Coalesce(Subquery(children), Decimal(0), output_field=selectors.AMOUNT)


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Every read of the check in one snapshot (PostgreSQL's repeatable read) when it is the
    outermost transaction: a change committing between two levels' reads must not look like a
    parent differing from its children."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


@transaction.atomic
def goals_repair(*, differences: list[Difference], actor: Actor) -> int:
    """Set each goal that differs to its fresh value, unless it changed since it was read: the
    counted ones written with compare-and-set on their version and value, audited as `actor`;
    then the parents of those written, and the parents that differ and did not change, rolled
    up (summed again from the goals below, as every roll-up is). Returns the goals that hold
    their fresh value afterwards."""
    now = timezone.now()
    counted = [d for d in differences if d.counted]
    written = set(
        bulk_set(
            Goal,
            {
                d.goal_id: {"current_value": d.fresh, "last_calculated_at": now, "updated_at": now}
                for d in counted
            },
            expect={
                d.goal_id: {
                    "current_value": d.stored,
                    "updated_at": d.updated_at,
                    "last_calculated_at": d.last_calculated_at,
                    "status": GoalStatus.ACTIVE,
                    "calculation_source": Source.AUTO,
                }
                for d in counted
            },
        )
    )
    audit_many(
        actor=actor,
        action="goal.repair",
        targets=[
            (Goal(pk=d.goal_id), {"current_value": [d.stored, d.fresh]})
            for d in counted
            if d.goal_id in written
        ],
        reason=REPAIR_REASON,
    )
    if written:
        events.publish(GoalValuesChanged(goal_ids=tuple(sorted(written))))
    summed = {d.goal_id: d for d in differences if not d.counted}
    unchanged = [
        pk
        for pk, updated, calculated in Goal.objects.filter(pk__in=list(summed)).values_list(
            "pk", "updated_at", "last_calculated_at"
        )
        if (updated, calculated) == (summed[pk].updated_at, summed[pk].last_calculated_at)
    ]
    roll_up(
        parent_ids={d.parent_id for d in counted if d.goal_id in written} | set(unchanged),
        actor=actor,
    )
    now_holding = Goal.objects.filter(pk__in=list(summed)).values_list("pk", "current_value")
    return len(written) + sum(1 for pk, value in now_holding if value == summed[pk].fresh)


def goals_check(*, actor: Actor, repair: bool = False, email: bool = True) -> GoalCheck:
    """Check every automatic goal (`goals_differing`), repair the differences when asked
    (`goals_repair`), record the run and, when anything differed, write to the administrators
    (unless `email` is off)."""
    started = timezone.now()
    findings = goals_differing()
    repaired = (
        goals_repair(differences=findings.differences, actor=actor)
        if repair and findings.differences
        else 0
    )
    with transaction.atomic():
        check = GoalCheck.objects.create(
            started_at=started,
            finished_at=max(timezone.now(), started),
            checked_by=str(actor),
            goals_checked=findings.checked,
            differences=len(findings.differences),
            largest=findings.differences[0].gap if findings.differences else None,
            found=[
                {"id": d.goal_id, "stored": str(d.stored), "fresh": str(d.fresh)}
                for d in findings.differences[:CHECK_LISTED]
            ],
            repaired=repaired,
        )
        if check.differences and email:
            _alert(check)
    return check


def _alert(check: GoalCheck) -> None:
    recipients = sorted(administrators().exclude(email="").values_list("email", flat=True))
    if not recipients:
        return
    url = reverse("admin:goals_goalcheck_change", args=[check.pk])
    body = CHECK_ALERT_BODY.format(
        moment=format_moment(check.started_at),
        checked=check.goals_checked,
        differences=check.differences,
        largest=check.largest,
        repaired=check.repaired,
        url=f"{settings.SITE_URL}{url}",
    )
    subject = CHECK_ALERT_SUBJECT.format(differences=check.differences)
    send_after_commit([(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)])

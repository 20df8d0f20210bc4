"""What each goal metric counts, declared once.

An entry names the fact it counts (a core model and its QuerySet method for "in this period",
e.g. `Deal.objects.won_between`, and the field that holds the fact's rep), the core events that
move it, the column it sums (None: it counts rows), whether it is money or whole things (with
their words), whether the CRM calculates it, its short name (in goals' titles) and where a rep's
plan keeps its figures. The event handlers, recalculation, the "what counts" records, the rates
in words, analytics, the pages' and CSV's figures, the plans and the demo all read it.

Adding a metric: a `Metric` choice (goals.models, with its migration), an entry here, and its
tests (goals/tests/test_metrics.py checks every choice has an entry and that the handlers
listen to every event an entry names).
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Model, QuerySet
from django.template.defaultfilters import floatformat

from crm import events as core_events
from crm import selectors as crm
from crm.models import Activity, Customer, Deal, Task
from goals.models import Metric

MONEY = "money"
COUNT = "count"
# A custom metric's figures are in a unit the CRM does not know.
UNKNOWN = "units"


@dataclass(frozen=True)
class Fact:
    """A kind of CRM record a metric counts: `model.objects.<between>(start, end)` are the ones
    in a period, `rep` the field naming whose they are, `moment` when each counted (newest
    first in "what counts"), `listing` the role-scoped list a person sees them through, and
    `records` what the goal's page calls them."""

    model: type[Model]
    between: str
    rep: str
    moment: str
    listing: Callable[..., QuerySet]
    records: str

    def in_period(self, queryset: QuerySet, start, end) -> QuerySet:
        return getattr(queryset, self.between)(start, end)


WON_DEALS = Fact(Deal, "won_between", "rep", "closed_at", crm.deal_list, "deals")
SIGNUPS = Fact(
    Customer, "signed_up_between", "owner", "signed_up_at", crm.customer_list, "customers"
)
ACTIVITIES = Fact(
    Activity, "completed_between", "rep", "completed_at", crm.activity_list, "activities"
)
TASKS = Fact(Task, "completed_between", "rep", "completed_at", crm.task_list, "tasks")

DEAL_EVENTS = (core_events.DealWon, core_events.DealReopened, core_events.WonDealChanged)


@dataclass(frozen=True)
class PlanFigures:
    """Where a rep's plan keeps a metric's figures: the plan's field its goal's target is set
    from (`target`), and the names its goal's value and percent are read under (`actual`,
    `percent`, goals.plans.selectors.with_figures); `yearly`: a year's plan has it too."""

    target: str
    actual: str
    percent: str
    yearly: bool = False


@dataclass(frozen=True)
class MetricSpec:
    metric: str
    # What a goal of this metric is called in its title ("Revenue, May 2026") and on forms.
    name: str
    # None: kept by hand (a custom goal); the CRM does not calculate it.
    fact: Fact | None = None
    events: tuple[type[core_events.Event], ...] = ()
    # The fact's column summed; None: its rows are counted.
    amount: str | None = None
    unit: str = COUNT
    singular: str = ""
    plural: str = ""
    # The highest bonus tier whose revenue threshold the summed amount reaches (a rep's own).
    tiered: bool = False
    # None: a rep's plan does not commit to it.
    plan: PlanFigures | None = None

    @property
    def calculated(self) -> bool:
        return self.fact is not None

    @property
    def is_money(self) -> bool:
        return self.unit == MONEY

    @property
    def is_count(self) -> bool:
        return self.unit == COUNT


REGISTRY: dict[str, MetricSpec] = {
    spec.metric: spec
    for spec in (
        MetricSpec(
            Metric.REVENUE,
            "Revenue",
            WON_DEALS,
            DEAL_EVENTS,
            amount="amount",
            unit=MONEY,
            plural="money",
            plan=PlanFigures("revenue_goal", "revenue", "revenue_percent", yearly=True),
        ),
        MetricSpec(
            Metric.DEALS_WON, "Deals won", WON_DEALS, DEAL_EVENTS, singular="deal", plural="deals"
        ),
        MetricSpec(
            Metric.SIGNUPS,
            "Signups",
            SIGNUPS,
            (core_events.CustomerSignedUp, core_events.CustomerSignUpUndone),
            singular="signup",
            plural="signups",
            plan=PlanFigures("signup_goal", "signups", "signup_percent", yearly=True),
        ),
        MetricSpec(
            Metric.ACTIVITIES,
            "Activities",
            ACTIVITIES,
            (core_events.ActivityCompleted, core_events.ActivityUncompleted),
            singular="activity",
            plural="activities",
        ),
        MetricSpec(
            Metric.TASKS,
            "Tasks",
            TASKS,
            (core_events.TaskDone, core_events.TaskUndone),
            singular="task",
            plural="tasks",
        ),
        MetricSpec(
            Metric.BONUS_TIER,
            "Bonus tier",
            WON_DEALS,
            DEAL_EVENTS,
            amount="amount",
            singular="tier",
            plural="tiers",
            tiered=True,
            plan=PlanFigures("bonus_tier_goal", "bonus_tier", "bonus_tier_percent"),
        ),
        MetricSpec(Metric.CUSTOM, "Custom", unit=UNKNOWN, plural=UNKNOWN),
    )
}


def spec(metric: str) -> MetricSpec:
    return REGISTRY[metric]


def calculated() -> list[str]:
    """The metrics the CRM counts by itself."""
    return [metric for metric, entry in REGISTRY.items() if entry.calculated]


def tiered() -> list[str]:
    """The metrics that move in steps (a bonus tier): they do not add up, nor go at a pace."""
    return [metric for metric, entry in REGISTRY.items() if entry.tiered]


def in_plans(*, yearly: bool = False) -> dict[str, PlanFigures]:
    """The metrics a month's rep plan (or, `yearly`, a year's) commits to, with where the plan
    keeps their figures."""
    return {
        metric: entry.plan
        for metric, entry in REGISTRY.items()
        if entry.plan is not None and (entry.plan.yearly or not yearly)
    }


def moved_by(event_type: type[core_events.Event]) -> list[str]:
    """The metrics an event of this type may move."""
    return [metric for metric, entry in REGISTRY.items() if event_type in entry.events]


def all_events() -> list[type[core_events.Event]]:
    """Every core event some metric is moved by, each once."""
    return list(dict.fromkeys(event for entry in REGISTRY.values() for event in entry.events))


def unit_name(metric: str) -> str:
    """What a metric's figures are in, for headings and CSV: "money", "signups", …"""
    entry = REGISTRY[metric]
    return entry.unit if entry.unit != COUNT else entry.plural


def figure(metric: str, value: Decimal | None, *, grouped: bool = True) -> str:
    """A goal's value or target as its metric counts it: money with two decimals ("1,250.00"),
    things without trailing zeros ("3", never "3.00"); blank for none. `grouped`: with
    thousands separators (pages), not in CSV."""
    if value is None:
        return ""
    digits = "2" if REGISTRY[metric].is_money else "-2"
    return floatformat(value, digits + ("g" if grouped else ""))

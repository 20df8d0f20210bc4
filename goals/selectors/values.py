"""A goal's value computed afresh from CRM data, in the database: one correlated subquery per
goal row, of the one metric it counts (goals.metrics)."""

from decimal import Decimal

from django.db.models import Case, DecimalField, F, Func, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual

from crm.selectors import count_subquery, sum_subquery
from goals import metrics
from goals.models import BonusTier, Goal, OwnerType
from goals.selectors.tree import has_children

AMOUNT = DecimalField(max_digits=14, decimal_places=2)


def _owned(queryset: QuerySet, rep_field: str, owner_type: str) -> QuerySet:
    """`queryset` restricted to the goal's owner: the rep's rows, the team's reps' rows, or
    everyone's (a company goal). Each row has one rep, so it counts once however reached."""
    if owner_type == OwnerType.INDIVIDUAL:
        return queryset.filter(**{f"{rep_field}_id": OuterRef("rep_id")})
    if owner_type == OwnerType.TEAM:
        return queryset.filter(**{f"{rep_field}__team_id": OuterRef("team_id")})
    return queryset


def _bonus_tier(won: QuerySet, tiers: list[tuple[int, Decimal]], amount: str) -> Subquery:
    """The highest tier whose threshold the revenue of `won` reaches, 0 if none: one SUM per goal,
    compared with the thresholds (`tiers`, highest tier first) in the same subquery."""
    revenue = Coalesce(Func(amount, function="SUM"), Value(Decimal(0)), output_field=AMOUNT)
    tier = Case(
        *(When(GreaterThanOrEqual(revenue, Value(low)), then=Value(t)) for t, low in tiers),
        default=Value(0),
    )
    return Subquery(won.order_by().annotate(tier=tier).values("tier")[:1], output_field=AMOUNT)


def _measures(owner_type: str, tiers: list[tuple[int, Decimal]]) -> dict[str, object]:
    """Each calculated metric's value for a goal row of `owner_type`, as a correlated subquery
    over the facts its registry entry counts (goals.metrics)."""
    start, end = OuterRef("starts_at"), OuterRef("ends_at")
    measures = {}
    for metric, entry in metrics.REGISTRY.items():
        if not entry.calculated:
            continue
        fact = entry.fact
        facts = _owned(fact.in_period(fact.model.objects, start, end), fact.rep, owner_type)
        if entry.tiered:
            # A bonus tier is a rep's own (the database refuses others).
            if owner_type == OwnerType.INDIVIDUAL:
                measures[metric] = _bonus_tier(facts, tiers, entry.amount)
        elif entry.amount is not None:
            measures[metric] = sum_subquery(facts, entry.amount)
        else:
            measures[metric] = count_subquery(facts)
    return measures


def fresh_value() -> Case:
    """A goal's value from CRM data as it is now: its metric, over its period (UTC bounds),
    for its owner. One correlated subquery per goal row, of the one metric it counts. (Reads
    the bonus tiers' thresholds, a few rows, to write them into the query.)"""
    tiers = list(BonusTier.objects.order_by("-tier").values_list("tier", "min_revenue"))
    return Case(
        *(
            When(owner_type=owner_type, metric=metric, then=Coalesce(measure, Value(Decimal(0))))
            for owner_type in OwnerType.values
            for metric, measure in _measures(owner_type, tiers).items()
        ),
        default=F("current_value"),
        output_field=AMOUNT,
    )


def calculable(goals: QuerySet[Goal]) -> QuerySet[Goal]:
    """The goals whose value the CRM computes: active, calculated, of a counted metric, and
    without children (a parent's value is its children's sum)."""
    return (
        goals.active().calculated().filter(metric__in=metrics.calculated()).exclude(has_children())
    )

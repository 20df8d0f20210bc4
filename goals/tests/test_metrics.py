"""The metric registry (goals.metrics): every metric declared, every event it names heard, and
each figure read in its unit."""

from decimal import Decimal

import pytest

from crm import events
from goals import handlers, metrics, rates
from goals.models import Metric


def test_every_metric_choice_has_one_entry():
    assert set(metrics.REGISTRY) == set(Metric.values)
    assert all(metric == entry.metric for metric, entry in metrics.REGISTRY.items())


def test_only_the_custom_metric_is_kept_by_hand():
    assert set(Metric.values) - set(metrics.calculated()) == {Metric.CUSTOM}


def test_the_handlers_listen_to_every_event_the_registry_names():
    for event_type in metrics.all_events():
        assert handlers.fact_changed in events._subscribers[event_type], event_type
        assert event_type in handlers.WHERE, event_type


def test_a_calculated_metric_is_moved_by_some_event_and_a_custom_one_by_none():
    for metric, entry in metrics.REGISTRY.items():
        assert bool(entry.events) == entry.calculated, metric


def test_a_deal_moves_revenue_deals_and_the_bonus_tier():
    assert metrics.moved_by(events.WonDealChanged) == [
        Metric.REVENUE, Metric.DEALS_WON, Metric.BONUS_TIER,
    ]  # fmt: skip
    assert metrics.moved_by(events.TaskDone) == [Metric.TASKS]


@pytest.mark.parametrize(
    "metric, value, shown",
    [
        (Metric.REVENUE, Decimal("1250.5"), "1,250.50"),
        (Metric.REVENUE, Decimal(0), "0.00"),
        (Metric.SIGNUPS, Decimal("1.00"), "1"),
        (Metric.DEALS_WON, Decimal("1200.00"), "1,200"),
        (Metric.BONUS_TIER, Decimal("3.00"), "3"),
        (Metric.CUSTOM, Decimal("2.50"), "2.50"),
        (Metric.CUSTOM, Decimal("2.00"), "2"),
        (Metric.TASKS, None, ""),
    ],
)
def test_a_figure_reads_in_its_metrics_unit(metric, value, shown):
    assert metrics.figure(metric, value) == shown


def test_csv_figures_have_no_thousands_separator():
    assert metrics.figure(Metric.REVENUE, Decimal(1250), grouped=False) == "1250.00"
    assert metrics.figure(Metric.ACTIVITIES, Decimal(1250), grouped=False) == "1250"


def test_the_rates_words_come_from_the_registry():
    assert rates.unit(Metric.REVENUE) == "money"
    assert rates.unit(Metric.SIGNUPS) == "signups"
    assert rates.unit(Metric.CUSTOM) == "units"
    assert rates.COUNTED_AS[Metric.ACTIVITIES] == ("activity", "activities")
    assert {Metric.REVENUE} == rates.MONEY


def test_a_months_plan_commits_to_signups_revenue_and_the_bonus_tier_and_a_year_to_two():
    assert set(metrics.in_plans()) == {Metric.SIGNUPS, Metric.REVENUE, Metric.BONUS_TIER}
    assert set(metrics.in_plans(yearly=True)) == {Metric.SIGNUPS, Metric.REVENUE}


def test_a_plans_targets_and_values_are_what_its_snapshot_keeps():
    from goals.models import PlanSnapshot

    kept = {field.name for field in PlanSnapshot._meta.get_fields()}
    for names in metrics.in_plans().values():
        assert {names.target, names.actual} <= kept, names

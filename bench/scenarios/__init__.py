"""The scenario registry: `bench/run.py --only NAME` picks from these names."""

from bench.harness import registry
from bench.scenarios import (
    deals_list,
    goals,
    health,
    plans,
    resilience,
    supervision,
    tracking,
    tracking_queue,
)

SCENARIOS = registry(
    [health.SCENARIO, deals_list.SCENARIO, *goals.SCENARIOS, *plans.SCENARIOS,
     *supervision.SCENARIOS, *tracking.SCENARIOS, *tracking_queue.SCENARIOS,
     *resilience.SCENARIOS]
)  # fmt: skip

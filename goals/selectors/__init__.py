"""Reads of goals, one module per question a reader asks:

- `lists`: the goals a user may see or change, and what a goal's page lists (counted records,
  audit trail, open alert);
- `values`: a goal's value computed afresh from CRM data, in the database;
- `tree`: the hierarchy (ancestors, the tree page, where a goal may go, depths);
- `forecast`: the one verdict, the history day by day and the forecast;
- `page`: a goal's page and its progress block;
- `analytics`: figures over many goals;
- `checks`: the consistency checks' record.

Callers import this package (`from goals import selectors`); the names below are its surface.
"""

from goals.selectors.analytics import TREND_MONTHS, analytics
from goals.selectors.checks import last_check
from goals.selectors.forecast import (
    AT_RISK_SHARE,
    Forecast,
    HistoryPoint,
    Verdict,
    elapsed_days,
    expected_percent,
    forecast,
    goal_today,
    history_points,
    round_cents,
    verdict,
    verdict_for,
    verdict_of,
)
from goals.selectors.lists import (
    FIGURE_CHANGES,
    audit_trail,
    counted_records,
    goal_list,
    open_alert,
)
from goals.selectors.page import GoalPage, Progress, goal_page, progress
from goals.selectors.tree import (
    MAX_DEPTH,
    TREE_ORDER,
    Tree,
    ancestors,
    depth,
    goal_tree,
    has_children,
    link_candidates,
    subtree,
    subtree_height,
)
from goals.selectors.values import AMOUNT, calculable, fresh_value

__all__ = [
    "AMOUNT",
    "AT_RISK_SHARE",
    "FIGURE_CHANGES",
    "MAX_DEPTH",
    "TREE_ORDER",
    "TREND_MONTHS",
    "Forecast",
    "GoalPage",
    "HistoryPoint",
    "Progress",
    "Tree",
    "Verdict",
    "analytics",
    "ancestors",
    "audit_trail",
    "calculable",
    "counted_records",
    "depth",
    "elapsed_days",
    "expected_percent",
    "forecast",
    "fresh_value",
    "goal_list",
    "goal_page",
    "goal_today",
    "goal_tree",
    "has_children",
    "history_points",
    "last_check",
    "link_candidates",
    "open_alert",
    "progress",
    "round_cents",
    "subtree",
    "subtree_height",
    "verdict",
    "verdict_for",
    "verdict_of",
]

"""Reads of goals, one module per question a reader asks:

- `lists`: the goals a user may see or change, and what a goal's page lists (counted records,
  audit trail, open alert);
- `values`: a goal's value computed afresh from CRM data, in the database;
- `tree`: the hierarchy (ancestors, the tree page, where a goal may go, depths);
- `forecast`: the one verdict, the history day by day and the forecast;
- `freshness`: when a computed figure was counted, and whether it is stale;
- `page`: a goal's page and its progress block;
- `analytics`: figures over many goals;
- `checks`: the consistency checks' record.

Callers import this package (`from goals import selectors`); the names below are its surface.
"""

from goals.selectors.analytics import TREND_MONTHS, Attainment, analytics
from goals.selectors.checks import last_check
from goals.selectors.forecast import (
    AT_RISK_SHARE,
    VERDICT_RULE,
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
from goals.selectors.freshness import (
    AS_OF_VALUES,
    FALLBACK_INTERVAL,
    STALE_AFTER,
    AsOf,
    attach_freshness,
    figures_as_of,
    goal_as_of,
    goal_version,
    is_stale,
    row_as_of,
    with_freshness,
)
from goals.selectors.lists import (
    FIGURE_CHANGES,
    audit_trail,
    counted_records,
    goal_list,
    open_alert,
    revisions,
)
from goals.selectors.page import GoalPage, Progress, goal_page, progress
from goals.selectors.tree import (
    CHILDREN_SHOWN,
    MAX_DEPTH,
    TREE_ORDER,
    Tree,
    ancestors,
    depth,
    goal_branch,
    goal_tree,
    has_children,
    link_candidates,
    subtree,
    subtree_height,
    within,
)
from goals.selectors.values import AMOUNT, calculable, fresh_value

__all__ = [
    "AMOUNT",
    "AS_OF_VALUES",
    "AT_RISK_SHARE",
    "CHILDREN_SHOWN",
    "FALLBACK_INTERVAL",
    "FIGURE_CHANGES",
    "MAX_DEPTH",
    "STALE_AFTER",
    "TREE_ORDER",
    "TREND_MONTHS",
    "VERDICT_RULE",
    "AsOf",
    "Attainment",
    "Forecast",
    "GoalPage",
    "HistoryPoint",
    "Progress",
    "Tree",
    "Verdict",
    "analytics",
    "ancestors",
    "attach_freshness",
    "audit_trail",
    "calculable",
    "counted_records",
    "depth",
    "elapsed_days",
    "expected_percent",
    "figures_as_of",
    "forecast",
    "fresh_value",
    "goal_as_of",
    "goal_branch",
    "goal_list",
    "goal_page",
    "goal_today",
    "goal_tree",
    "goal_version",
    "has_children",
    "history_points",
    "is_stale",
    "last_check",
    "link_candidates",
    "open_alert",
    "progress",
    "revisions",
    "round_cents",
    "row_as_of",
    "subtree",
    "subtree_height",
    "verdict",
    "verdict_for",
    "verdict_of",
    "with_freshness",
    "within",
]

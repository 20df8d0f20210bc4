"""The drop counters: counted per tenant, reason and hour, read back over the last 24 hours,
never failing a request; and a module of their own, so that reads and writes of tracking
import each other one way only."""

import ast
import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from tracking import counters

TRACKING = Path(__file__).resolve().parent.parent


def test_drops_are_counted_per_tenant_and_reason():
    counters.count_drop(1, "bot", 4)
    counters.count_drop(1, "bot")
    counters.count_drop(1, "rejected", 2)
    counters.count_drop(2, "bot", 7)

    counts = counters.drop_counts(1)

    assert counts == {**dict.fromkeys(counters.COUNTED, 0), "bot": 5, "rejected": 2}
    assert counters.drop_counts(2)["bot"] == 7


def test_only_the_last_24_hours_are_read(monkeypatch):
    now = timezone.now()
    for hours_ago, count in ((0, 1), (23, 10), (24, 100), (30, 1000)):
        moment = now - dt.timedelta(hours=hours_ago)
        monkeypatch.setattr(counters.timezone, "now", lambda moment=moment: moment)
        counters.count_drop(1, "origin", count)
    monkeypatch.undo()

    assert counters.drop_counts(1, now=now)["origin"] == 11


def test_a_cache_that_fails_never_fails_the_request_and_reads_as_nothing(monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    for method in ("add", "incr", "get_many"):
        monkeypatch.setattr(counters.cache, method, down)

    counters.count_drop(1, "bot", 3)

    assert counters.drop_counts(1) == dict.fromkeys(counters.COUNTED, 0)


def _tracking_imports(module: str) -> set[str]:
    tree = ast.parse((TRACKING / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "tracking":
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tracking."):
            names.add(node.module.removeprefix("tracking."))
    return names


@pytest.mark.parametrize(
    ("module", "never"),
    [("counters", {"services", "selectors"}), ("selectors", {"services"})],
)
def test_tracking_reads_and_writes_import_each_other_one_way(module, never):
    assert not _tracking_imports(module) & never

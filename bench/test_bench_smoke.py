"""The harness's pieces, without servers or timings."""

import pytest

from bench import run
from bench.harness import Outcome, Scenario, percentile, ratio, registry, summarize
from bench.scenarios import SCENARIOS
from bench.scenarios.deals_list import page_schedule


def test_registry_holds_the_scenarios_by_name():
    assert sorted(SCENARIOS) == [
        "cold_start",
        "deals_list",
        "goals_analytics",
        "goals_check",
        "goals_event_path",
        "goals_hierarchy",
        "goals_recalculate",
        "goals_snapshot",
        "health",
        "plans_compliance",
        "plans_rollover",
        "plans_snapshot",
        "soak",
        "supervision_concurrency",
        "supervision_page",
        "supervision_review_cache",
        "supervision_save",
        "tracking_batch",
        "tracking_dashboard",
        "tracking_growth",
        "tracking_partition_drop",
        "tracking_processing",
        "tracking_queue",
        "tracking_single",
    ]
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name
        assert callable(scenario.prepare) and callable(scenario.measure)
        assert scenario.default_requests > 0
        assert scenario.description


def test_registry_refuses_two_scenarios_with_one_name():
    scenario = Scenario("x", "x", lambda ctx: None, lambda ctx: Outcome({}, "", True), 1)
    with pytest.raises(ValueError, match="two scenarios"):
        registry([scenario, scenario])


def test_percentile_interpolates_between_ranks():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50.5
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 100
    assert percentile([7.0], 95) == 7.0
    assert percentile([3, 1, 2], 50) == 2  # unsorted input


def test_percentile_refuses_nothing_and_out_of_range():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_summarize_reports_milliseconds():
    stats = summarize([0.001, 0.002, 0.003])
    assert stats["count"] == 3
    assert stats["p50_ms"] == 2.0
    assert stats["min_ms"] == 1.0 and stats["max_ms"] == 3.0
    assert ratio(30.0, 10.0) == 3.0


def test_command_line_picks_scenarios_and_request_count():
    args = run.parse_args(["--only", "health", "--requests", "10"])
    assert args.only == ["health"] and args.requests == 10
    assert run.parse_args([]).only is None
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "no_such_scenario"])
    with pytest.raises(SystemExit):
        run.parse_args(["--requests", "0"])


def test_environment_is_production_like():
    env = run.production_environment(database_url="postgres://x/y", redis_base="redis://z:1")
    assert env["DEBUG"] == "0" and len(env["SECRET_KEY"]) >= 50
    assert env["ALLOWED_HOSTS"] == "127.0.0.1,localhost"
    assert env["REDIS_URL"] == "redis://z:1/0" and env["CELERY_BROKER_URL"] == "redis://z:1/1"


def test_page_schedule_mixes_first_page_and_pages_across_the_range():
    pages = page_schedule(100, total=100_000)
    assert pages == page_schedule(100, total=100_000)  # the same pages every run
    assert pages[::4] == [1] * 25
    assert all(1 <= page <= 2000 for page in pages)
    assert max(pages) > 1500


def test_a_missing_program_is_named_before_anything_starts(capsys, monkeypatch):
    needy = Scenario("x", "x", lambda ctx: None, lambda ctx: Outcome({}, "", True), 1,
                     needs={"no-such-program-here": "some-package"})  # fmt: skip
    monkeypatch.setattr(run.os, "geteuid", lambda: 1000)  # not root: nothing is installed
    assert run._programs_ready([needy]) is False
    said = capsys.readouterr().err
    assert "no-such-program-here" in said and "apt-get install some-package" in said
    assert run._programs_ready([SCENARIOS["health"]]) is True


def test_the_load_scenarios_say_they_need_wrk():
    assert {name for name, s in SCENARIOS.items() if "wrk" in s.needs} == {
        "tracking_single", "tracking_batch", "tracking_growth", "tracking_queue"
    }  # fmt: skip


def test_the_soak_judges_errors_events_goals_and_memory():
    from bench.scenarios.resilience import Recorder, _soak_outcome

    record = Recorder()
    for n in range(1000):
        record.call("pages", lambda status: (status, "", {}), 500 if n < 4 else 200)
    record.accepted = 300
    fine = dict(
        elapsed=60, incidents=["20 s: worker1 killed"], stored=300, processed=300,
        stale_before=2, stale_after=0, memory_start={"web:child:1": 100.0},
        memory_end={"web:child:1": 105.0, "worker1:child:2": 200.0},
    )  # fmt: skip
    outcome = _soak_outcome(record, **fine)
    assert outcome.targets_met, outcome.summary
    assert outcome.metrics["error_rate_percent"] == 0.4
    assert outcome.metrics["groups"]["pages"]["errors"] == 4
    for change in (
        {"stored": 299},
        {"stale_after": 1},
        {"memory_end": {"web:child:1": 151.0}},
        {"memory_end": {"web:child:1": 111.0}},  # grew more than 10 %
    ):
        assert not _soak_outcome(record, **{**fine, **change}).targets_met, change


def test_soak_seconds_is_an_option_and_refuses_a_soak_too_short_to_break_anything():
    assert run.parse_args(["--only", "soak", "--soak-seconds", "60"]).soak_seconds == 60
    with pytest.raises(SystemExit):
        run.parse_args(["--soak-seconds", "5"])

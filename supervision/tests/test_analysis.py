"""Reviews: the figures (shortfall, the same weekday before, flags, a customer's history), the
rules' findings, the cache and its hit rate, the rate limit, and the language-model provider
against a local stub of a chat-completions API (answer, timeout, error, nonsense: the rules
answer instead, and say so)."""

import datetime as dt
import hashlib
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm.roles import SystemActor
from crm.testing.routes import route_with_stops
from supervision import analysis, rules, selectors
from supervision.models import (
    Analysis,
    AnalysisKind,
    ReasonCode,
    RouteSummary,
    SessionLine,
    SessionStatus,
    SupervisionSession,
)
from supervision.providers import LLMProvider, RulesProvider
from supervision.tests.helpers import change, customers, today

pytestmark = pytest.mark.django_db


def saved_day(route, date, values):
    """A saved day of `route` with lines {customer: (visited, actual, reason)}."""
    session = SupervisionSession.objects.create(
        route=route, date=date, status=SessionStatus.SAVED, saved_at=dt.datetime.now(dt.UTC)
    )
    lines = []
    for stop in route.stops.order_by("sequence"):
        visited, actual, reason = values.get(stop.customer_id, (False, 0, ""))
        planned = stop.planned_quantity
        lines.append(rules.Line(stop.customer_id, stop.sequence, planned, visited, actual, reason))
        SessionLine.objects.create(
            session=session, customer_id=stop.customer_id, stop_order=stop.sequence,
            planned_quantity=stop.planned_quantity, visited=visited, actual_quantity=actual,
            reason=reason,
        )  # fmt: skip
    RouteSummary.objects.create(session=session, **rules.figures(lines).as_dict())
    return session


@pytest.fixture
def route(rep):
    return route_with_stops(rep, count=5, planned=(100, 50, 30, 10, 10))


def test_the_route_review_names_the_few_customers_behind_most_of_the_shortfall(route, settings):
    settings.SUPERVISION_SHORTFALL_SHARE = 80
    a, b, c, d, e = customers(route)
    day = selectors.day_of(route, today())
    day.lines, _ = rules.apply_changes(day.lines, [
        change(a, visited=True, actual_quantity=20),   # short by 80
        change(b, visited=True, actual_quantity=40),   # short by 10
        change(c, visited=True, actual_quantity=0, reason=ReasonCode.REFUSED),  # short by 30
        change(d, visited=True, actual_quantity=13),   # over plan by 30 %
        change(e, reason=ReasonCode.CLOSED),           # not visited: short by 10
    ], route_code=route.code)  # fmt: skip

    figures = analysis.route_figures(day)

    # 130 short in all: 80 (a) is 61.5 %, with 30 (c) 84.6 %: the two of them.
    assert [item["customer_id"] for item in figures["shortfall"]] == [a, c]
    assert figures["shortfall"][-1]["cumulative_share"] == "84.62"
    flags = {item["customer_id"]: item["flag"] for item in figures["flags"]}
    assert flags == {a: "under_plan", c: "no_sale", d: "over_plan", e: "not_visited"}
    assert figures["reasons"] == {"refused": 1, "closed": 1}
    findings, suggestions = RulesProvider().review(AnalysisKind.ROUTE, figures)
    assert any("4 of 5 stops visited" in line for line in findings)
    assert any("make up 84.62% of the shortfall" in line for line in findings)
    assert suggestions


def test_the_route_review_compares_with_the_same_weekday_before(route):
    a, b, *_ = customers(route)
    date = today()
    saved_day(route, date - dt.timedelta(days=7), {a: (True, 100, ""), b: (True, 50, "")})
    saved_day(route, date - dt.timedelta(days=1), {a: (True, 1, "")})  # another weekday
    day = selectors.day_of(route, date)
    day.lines, _ = rules.apply_changes(
        day.lines, [change(b, visited=True, actual_quantity=50)], route_code=route.code
    )

    previous = analysis.route_figures(day)["previous"]

    assert previous["date"] == (date - dt.timedelta(days=7)).isoformat()
    assert previous["changes"]["visit_compliance"] == "-20.00"  # 40 % then, 20 % now
    assert previous["newly_missed"] == [route.stops.get(customer_id=a).customer.name]


def test_the_customer_review_reads_its_history(route, settings):
    settings.SUPERVISION_DORMANT_DAYS = 21
    a = customers(route)[0]
    date = today()
    for weeks, values in [(6, (True, 120, "")), (5, (True, 100, "")), (4, (True, 90, "")),
                          (3, (True, 0, ReasonCode.STOCK_SUFFICIENT)), (2, (False, 0, "closed")),
                          (1, (False, 0, "owner_absent"))]:  # fmt: skip
        saved_day(route, date - dt.timedelta(weeks=weeks), {a: values})
    day = selectors.day_of(route, date)  # today: not visited (the draft)

    figures = analysis.customer_figures(day, a)

    assert figures["sessions"] == 6 and figures["visits"] == 4
    assert figures["average_actual"] == "77.50"  # (120 + 100 + 90 + 0) / 4 visits
    assert figures["missed_streak"] == 3  # two weeks, and today
    assert figures["visited_no_sale"] == 1
    assert figures["days_since_productive"] == 28 and figures["dormant"] is True
    assert figures["trend"] == "down"
    assert figures["reasons"] == {"stock_sufficient": 1, "closed": 1, "owner_absent": 1}
    findings, _suggestions = RulesProvider().review(AnalysisKind.CUSTOMER, figures)
    assert any("Missed 3 visits in a row" in line for line in findings)
    assert any("dormant" in line for line in findings)


@pytest.mark.sqlite
def test_the_rules_count_in_words_that_read_naturally():
    customer = {
        "customer": "Bakery Alba", "today": {"visited": True, "actual": 0, "planned": 12},
        "sessions": 1, "visits": 1, "average_actual": "8.00", "trend": "unknown",
        "vs_average_percent": None, "missed_streak": 0, "visited_no_sale": 1,
        "dormant": True, "days_since_productive": 1, "reasons": {},
    }  # fmt: skip
    route = {
        "kpis": {"customers_visited": 1, "customers_planned": 1, "visit_compliance": "100.00",
                 "productive_stops": 0, "strike_rate": "0.00", "actual_total": 0,
                 "planned_total": 12, "achievement_percent": "0.00", "drop_size": "0",
                 "gap": 12},
        "shortfall": [{"customer": "Bakery Alba", "cumulative_share": "100.00"}],
        "reasons": {}, "flags": [], "previous": None,
    }  # fmt: skip

    findings, _ = RulesProvider().review(AnalysisKind.CUSTOMER, customer)
    route_findings, _ = RulesProvider().review(AnalysisKind.ROUTE, route)
    text = " ".join(findings + route_findings)

    assert "Visited without a sale 1 time." in text and "1 times" not in text
    assert "Over the last 1 saved day: 1 visit," in text
    assert "No sale for 1 day: dormant." in text
    assert "1 of 1 stop visited" in text and "1 customer makes up 100.00%" in text
    first, _ = RulesProvider().review(AnalysisKind.CUSTOMER, {**customer, "sessions": 0})
    assert "No saved day before this one to compare with." in first


def test_the_cache_key_is_the_hash_of_the_figures_as_kept(route):
    # The key is made from the facts before they are turned into text: it must hash exactly
    # the JSON of the figures a review keeps, or a kept review would never be found again.
    a, b, *_ = customers(route)
    saved_day(route, today() - dt.timedelta(days=7), {a: (True, 100, ""), b: (True, 50, "")})
    day = selectors.day_of(route, today())
    day.lines, _ = rules.apply_changes(
        day.lines, [change(a, visited=True, actual_quantity=20)], route_code=route.code
    )
    provider = RulesProvider()
    for kind, facts, figures in [
        (AnalysisKind.ROUTE, analysis._route_facts(day), analysis.route_figures(day)),
        (AnalysisKind.CUSTOMER, analysis._customer_facts(day, a),
         analysis.customer_figures(day, a)),
    ]:  # fmt: skip
        asked = {"provider": provider.key, "kind": kind, "figures": figures}
        expected = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()
        assert analysis._key(provider, kind, facts) == expected


def test_a_repeated_review_comes_from_the_cache_and_counts_as_a_hit(route, supervisor):
    first = analysis.review(actor=supervisor, route_id=route.pk, date=today(), kind="route")
    started = time.perf_counter()
    again = analysis.review(actor=supervisor, route_id=route.pk, date=today(), kind="route")
    elapsed = time.perf_counter() - started
    stats = analysis.cache_stats()

    assert not first.from_cache and again.from_cache
    assert again.analysis.pk == first.analysis.pk and again.analysis.hits == 1
    assert elapsed < 1  # (the figure is measured in bench/; here only: no provider asked)
    assert stats["all"] == {"label": "All reviews", "hits": 1, "misses": 1,
                            "hit_rate": Decimal("50.00")}  # fmt: skip


def test_new_reviews_are_limited_per_person_and_kind_cached_ones_are_not(route, supervisor):
    a, b, *_ = customers(route)
    review = analysis.review
    review(actor=supervisor, route_id=route.pk, date=today(), kind="customer", customer_id=a)
    with pytest.raises(analysis.RateLimited) as limited:
        review(actor=supervisor, route_id=route.pk, date=today(), kind="customer", customer_id=b)
    cached = review(actor=supervisor, route_id=route.pk, date=today(), kind="customer",
                    customer_id=a)  # fmt: skip
    other_kind = review(actor=supervisor, route_id=route.pk, date=today(), kind="route")
    job = review(actor=SystemActor("test"), route_id=route.pk, date=today(), kind="customer",
                 customer_id=b)  # fmt: skip

    assert 1 <= limited.value.retry_after <= 10
    assert cached.from_cache and not other_kind.from_cache and not job.from_cache


# --- The language model, against a local stub of its API ---------------------------------------


class StubLLM:
    """A chat-completions endpoint on localhost answering as `mode` says."""

    def __init__(self):
        self.mode, self.requests = "ok", []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                stub.requests.append((self.path, self.headers.get("Authorization"),
                                      json.loads(self.rfile.read(length))))  # fmt: skip
                if stub.mode == "slow":
                    time.sleep(1.5)
                if stub.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                content = (
                    "this is not JSON" if stub.mode == "nonsense"
                    else json.dumps({"findings": ["The model's finding."],
                                     "suggestions": ["The model's suggestion."]})
                )  # fmt: skip
                payload = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except BrokenPipeError:  # the client gave up waiting (the timeout case)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm():
    stub = StubLLM()
    yield stub
    stub.close()


def provider(llm, timeout=0.5):
    return LLMProvider(base_url=llm.url, api_key="test-key", model="stub-model", timeout=timeout)


def test_the_language_model_writes_the_findings_from_the_figures(route, supervisor, llm):
    result = analysis.review(
        actor=supervisor, route_id=route.pk, date=today(), kind="route", provider=provider(llm)
    )
    again = analysis.review(
        actor=supervisor, route_id=route.pk, date=today(), kind="route", provider=provider(llm)
    )

    assert result.analysis.findings == ["The model's finding."]
    assert result.analysis.provider == "llm:stub-model" and not result.analysis.fallback_reason
    path, authorization, sent = llm.requests[0]
    assert path == "/v1/chat/completions" and authorization == "Bearer test-key"
    assert sent["model"] == "stub-model"
    assert json.loads(sent["messages"][1]["content"])["kpis"]["customers_planned"] == 5
    assert again.from_cache and len(llm.requests) == 1  # the repeat: no second call


@pytest.mark.parametrize(
    ("mode", "said"),
    [("slow", "did not answer within 0.5 s"), ("error", "answered http 500"),
     ("nonsense", "could not be read")],
)  # fmt: skip
def test_on_any_failure_of_the_model_the_rules_answer_and_say_so(
    route, supervisor, llm, mode, said
):
    llm.mode = mode
    result = analysis.review(
        actor=supervisor, route_id=route.pk, date=today(), kind="route", provider=provider(llm)
    )

    assert result.analysis.provider == "rules"
    assert said in result.analysis.fallback_reason.lower()
    assert "built-in rules" in result.analysis.fallback_reason
    assert result.analysis.findings and result.analysis.findings[0].startswith("0 of 5")


def test_a_model_that_is_not_configured_falls_back_too(route, supervisor, settings):
    settings.SUPERVISION_ANALYSIS_PROVIDER = "llm"
    settings.SUPERVISION_LLM_BASE_URL = ""
    result = analysis.review(actor=supervisor, route_id=route.pk, date=today(), kind="route")
    assert (
        result.analysis.provider == "rules" and "not configured" in result.analysis.fallback_reason
    )


def test_the_admin_sees_the_hit_rate(admin_client, route, admin_user):
    analysis.review(actor=admin_user, route_id=route.pk, date=today(), kind="route")
    analysis.review(actor=admin_user, route_id=route.pk, date=today(), kind="route")
    page = admin_client.get("/admin/supervision/analysis/")
    index = admin_client.get("/supervision/")
    assert "hit rate 50.00%" in page.content.decode()
    assert "Reviews answered from the cache" in index.content.decode()
    assert Analysis.objects.get().hits == 1


def test_a_review_matches_the_day_only_for_the_figures_it_was_written_from(route, supervisor):
    a = customers(route)[0]
    written = analysis.review(actor=supervisor, route_id=route.pk, date=today(), kind="route")
    day = selectors.day_of(route, today())

    assert analysis.written_for(written.analysis, day)
    # Kept before quantities were whole numbers: "10.00" is the same figure as 10.
    kept = written.analysis
    kept.figures["kpis"]["planned_total"] = f"{kept.figures['kpis']['planned_total']}.00"
    assert analysis.written_for(kept, day)
    day.lines, _ = rules.apply_changes(
        day.lines, [change(a, visited=True, actual_quantity=3)], route_code=route.code
    )
    assert not analysis.written_for(written.analysis, day)
    assert analysis.latest_route_review(day=day) == written.analysis

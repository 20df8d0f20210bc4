"""Who writes a review's findings and suggestions from its figures.

- `RulesProvider` (the default): deterministic, offline, from the figures alone.
- `LLMProvider`: any OpenAI-compatible chat-completions API, given the same figures as JSON,
  with a timeout. Any failure raises ProviderError; the analysis then falls back to the rules
  and says so.

A provider's `key` is part of the cache key: another provider or model is another answer.
"""

import json
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Protocol

from django.conf import settings

from supervision.models import AnalysisKind, ReasonCode
from supervision.text import counted

Findings = tuple[list[str], list[str]]  # (findings, suggestions)
MAX_ITEMS = 12
MAX_TEXT = 500


class ProviderError(Exception):
    """The provider gave no usable answer (said in plain words, for the review)."""


class Provider(Protocol):
    key: str

    def review(self, kind: str, figures: dict) -> Findings: ...


def _number(value) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _reasons(counts: dict[str, int]) -> str:
    labels = dict(ReasonCode.choices)
    return ", ".join(f"{labels.get(code, code).lower()} ({n})" for code, n in counts.items())


class RulesProvider:
    key = "rules"

    def review(self, kind: str, figures: dict) -> Findings:
        if kind == AnalysisKind.ROUTE:
            return self._route(figures)
        return self._customer(figures)

    def _route(self, f: dict) -> Findings:
        k = f["kpis"]
        findings = [
            f"{k['customers_visited']} of {counted(k['customers_planned'], 'stop')} visited "
            f"({k['visit_compliance']}% visit compliance); {k['productive_stops']} sold "
            f"something ({k['strike_rate']}% strike rate).",
            f"{k['actual_total']} delivered against {k['planned_total']} planned: "
            f"{k['achievement_percent']}% of plan, a drop size of {k['drop_size']}.",
        ]
        suggestions = []
        shortfall = f["shortfall"]
        if shortfall:
            names = ", ".join(item["customer"] for item in shortfall)
            findings.append(
                f"{counted(len(shortfall), 'customer')} "
                f"{'makes' if len(shortfall) == 1 else 'make'} up "
                f"{shortfall[-1]['cumulative_share']}% of the shortfall of {k['gap']}: {names}."
            )
            suggestions.append(
                f"Start the next review of this route with {shortfall[0]['customer']}."
            )
        if f["reasons"]:
            findings.append(f"Reasons given: {_reasons(f['reasons'])}.")
            if f["reasons"].get(ReasonCode.CREDIT_HOLD):
                suggestions.append(
                    "Ask finance about the customers on credit hold before the next round."
                )
            if f["reasons"].get(ReasonCode.CLOSED) or f["reasons"].get(ReasonCode.OWNER_ABSENT):
                suggestions.append(
                    "Confirm opening hours with the customers found closed or without the owner."
                )
        missed = [flag["customer"] for flag in f["flags"] if flag["flag"] == "not_visited"]
        if missed and not f["reasons"]:
            suggestions.append("Record why the missed stops were missed, so they can be counted.")
        previous = f["previous"]
        if previous:
            change = previous["changes"]
            findings.append(
                f"Against {previous['date']} (the same weekday): visit compliance "
                f"{_signed(change['visit_compliance'])} points, achievement "
                f"{_signed(change['achievement_percent'])} points."
            )
            if previous["newly_missed"]:
                findings.append(f"Missed now, visited then: {', '.join(previous['newly_missed'])}.")
        if _number(k["visit_compliance"]) < 80:
            suggestions.append("Visit compliance is under 80%: check the route's order and timing.")
        if not suggestions:
            suggestions.append("Nothing needs attention: keep the route as it is.")
        return findings, suggestions

    def _customer(self, f: dict) -> Findings:
        name, today = f["customer"], f["today"]
        visited = "visited" if today["visited"] else "not visited"
        over = f"Over the last {counted(f['sessions'], 'saved day')}"
        if not f["sessions"]:
            history = "No saved day before this one to compare with."
        elif f["average_actual"] is None:
            history = f"{over}: no visit."
        else:
            history = (
                f"{over}: {counted(f['visits'], 'visit')}, average {f['average_actual']} when "
                f"visited; trend {f['trend']}."
            )
        findings = [
            f"{name} today: {visited}, {today['actual']} against {today['planned']} planned.",
            history,
        ]
        suggestions = []
        if f["vs_average_percent"] is not None:
            findings.append(f"Today is {f['vs_average_percent']}% of the customer's own average.")
        if f["missed_streak"] >= 2:
            findings.append(f"Missed {counted(f['missed_streak'], 'visit')} in a row.")
            suggestions.append(f"Call {name} before the next round: the visits keep being missed.")
        if f["visited_no_sale"]:
            findings.append(f"Visited without a sale {counted(f['visited_no_sale'], 'time')}.")
        if f["dormant"]:
            since = f["days_since_productive"]
            findings.append(
                "No sale on record."
                if since is None
                else f"No sale for {counted(since, 'day')}: dormant."
            )
            suggestions.append(f"Review {name} with the rep: win it back or take it off the route.")
        if f["reasons"]:
            findings.append(f"Reasons given: {_reasons(f['reasons'])}.")
        if f["trend"] == "down":
            suggestions.append(f"Ask {name} why orders are falling.")
        if not suggestions:
            suggestions.append("Nothing needs attention for this customer.")
        return findings, suggestions


def _signed(value) -> str:
    number = _number(value)
    return f"+{number}" if number > 0 else str(number)


SYSTEM_PROMPT = (
    "You review a field-sales route for a sales supervisor. You are given the figures of one "
    "route's day or of one customer on that route, computed by the CRM, as JSON. Write short, "
    "plain findings (what the figures show) and suggestions (what the supervisor should do), "
    "citing the figures. Answer with a JSON object only: "
    '{"findings": ["..."], "suggestions": ["..."]}.'
)


class LLMProvider:
    """An OpenAI-compatible chat-completions API (POST {base}/chat/completions)."""

    def __init__(self, *, base_url: str, api_key: str, model: str, timeout: float) -> None:
        self.base_url, self.api_key, self.model, self.timeout = base_url, api_key, model, timeout
        self.key = f"llm:{model}"

    def review(self, kind: str, figures: dict) -> Findings:
        if not self.base_url or not self.model:
            raise ProviderError("the language model is not configured")
        body = json.dumps(
            {
                "model": self.model,
                "temperature": 0,
                "response_format": {"type": "json_object"},
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": json.dumps({"review": kind, **figures})},
                ],
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=body,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read(1_000_000))
            content = answer["choices"][0]["message"]["content"]
            parsed = json.loads(content)
            findings = _texts(parsed.get("findings"))
            suggestions = _texts(parsed.get("suggestions"))
        except TimeoutError:
            raise ProviderError(
                f"the language model did not answer within {self.timeout:g} s"
            ) from None
        except urllib.error.HTTPError as error:
            raise ProviderError(f"the language model answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            raise ProviderError(f"the language model could not be reached ({error})") from None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError("the language model's answer could not be read") from None
        if not findings:
            raise ProviderError("the language model gave no findings")
        return findings, suggestions


def _texts(items) -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(item).strip()[:MAX_TEXT] for item in items[:MAX_ITEMS] if str(item).strip()]


def configured() -> Provider:
    """The provider the settings name."""
    if settings.SUPERVISION_ANALYSIS_PROVIDER == "llm":
        return LLMProvider(
            base_url=settings.SUPERVISION_LLM_BASE_URL,
            api_key=settings.SUPERVISION_LLM_API_KEY,
            model=settings.SUPERVISION_LLM_MODEL,
            timeout=settings.SUPERVISION_LLM_TIMEOUT,
        )
    return RulesProvider()

"""Customer and route reviews: the figures computed here (the same whoever writes the words),
then findings and suggestions from the configured provider (supervision.providers), kept by a
hash of what was asked.

- The same question about unchanged data (same provider, kind, figures) is answered from the
  kept review at once, and counted as a hit; hits and misses give the hit rate admins see.
- A new review costs: at most SUPERVISION_ANALYSIS_LIMIT per user and kind per
  SUPERVISION_ANALYSIS_WINDOW seconds (crm.ratelimit: shared by every process), else
  RateLimited (429 with Retry-After). Answers from the cache do not count.
- The language model failing in any way (timeout, error, an answer that cannot be read): the
  rules answer, and the review says why.
"""

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from crm import ratelimit
from crm.roles import Actor, SystemActor
from supervision import rules, selectors
from supervision.models import Analysis, AnalysisKind
from supervision.providers import Provider, ProviderError, RulesProvider, configured

NOT_ON_ROUTE = "This customer is not a stop of route {route}."
CUSTOMER_REQUIRED = "Choose the customer to review."
FALLBACK = "{reason}: these findings come from the built-in rules."


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"Wait {retry_after} s before asking for another review.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Review:
    analysis: Analysis
    from_cache: bool


def _plain(value):
    """`value` as the JSON the provider sees and the cache key hashes: decimals as text, dates
    in ISO form (walked once; a dump and a load cost several times more for a long route)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# --- Figures ----------------------------------------------------------------------------------


def route_figures(day: selectors.Day) -> dict:
    """The route review's figures, as the provider sees them (see _route_facts)."""
    return _plain(_route_facts(day))


def _route_facts(day: selectors.Day) -> dict:
    """The day's KPIs; the customers that make up about SHORTFALL_SHARE % of its shortfall, the
    largest first; the route's previous saved day on the same weekday and what changed;
    flags by threshold; the reasons given."""
    lines, kpis = day.lines, day.figures
    short = sorted(
        (
            (line, line.planned_quantity - line.actual_quantity)
            for line in lines
            if line.planned_quantity > line.actual_quantity
        ),
        key=lambda pair: (-pair[1], pair[0].stop_order),
    )
    total_short = sum(amount for _, amount in short)
    shortfall, running = [], 0
    for line, amount in short:
        running += amount
        shortfall.append(
            {"customer": line.customer_name, "customer_id": line.customer_id,
             "planned": line.planned_quantity, "actual": line.actual_quantity,
             "shortfall": amount, "cumulative_share": rules.percent(running, total_short)}
        )  # fmt: skip
        if running * 100 >= total_short * settings.SUPERVISION_SHORTFALL_SHARE:
            break
    under = Decimal(100 - settings.SUPERVISION_UNDER_PLAN_PERCENT) / 100
    over = Decimal(100 + settings.SUPERVISION_OVER_PLAN_PERCENT) / 100
    flags = []
    for line in lines:
        if not line.visited:
            flag = "not_visited"
        elif line.actual_quantity == 0:
            flag = "no_sale"
        elif line.planned_quantity and line.actual_quantity < line.planned_quantity * under:
            flag = "under_plan"
        elif line.planned_quantity and line.actual_quantity > line.planned_quantity * over:
            flag = "over_plan"
        else:
            continue
        flags.append({"customer": line.customer_name, "customer_id": line.customer_id,
                      "flag": flag, "planned": line.planned_quantity,
                      "actual": line.actual_quantity, "reason": line.reason})  # fmt: skip
    before, before_lines = selectors.previous_same_weekday(route=day.route, date=day.date)
    previous = None
    if before is not None:
        then = rules.figures(before_lines)
        visited_then = {line.customer_id for line in before_lines if line.visited}
        visited_now = {line.customer_id for line in lines if line.visited}
        names = {line.customer_id: line.customer_name for line in [*before_lines, *lines]}
        previous = {
            "date": before.date,
            "kpis": then.as_dict(),
            "changes": {
                name: getattr(kpis, name) - getattr(then, name)
                for name in (
                    "visit_compliance",
                    "strike_rate",
                    "achievement_percent",
                    "actual_total",
                )
            },
            "newly_missed": sorted(names[c] for c in visited_then - visited_now if c in names),
            "recovered": sorted(names[c] for c in visited_now - visited_then),
        }
    return {
        "route": day.route.code,
        "date": day.date,
        "kpis": kpis.as_dict(),
        "shortfall": shortfall,
        "previous": previous,
        "flags": flags,
        "reasons": dict(Counter(line.reason for line in lines if line.reason)),
        "thresholds": {
            "under_plan_percent": settings.SUPERVISION_UNDER_PLAN_PERCENT,
            "over_plan_percent": settings.SUPERVISION_OVER_PLAN_PERCENT,
            "shortfall_share": settings.SUPERVISION_SHORTFALL_SHARE,
        },
    }


def customer_figures(day: selectors.Day, customer_id: int) -> dict:
    """The customer review's figures, as the provider sees them (see _customer_facts)."""
    return _plain(_customer_facts(day, customer_id))


def _customer_facts(day: selectors.Day, customer_id: int) -> dict:
    """One customer of the route: the day, the saved days before it, the average when
    visited and today against it, the trend, the missed-visit streak, visits without a sale,
    days since the last sale (dormant past SUPERVISION_DORMANT_DAYS), the reasons given."""
    line = day.line(customer_id)
    if line is None:
        raise ValidationError({"customer": NOT_ON_ROUTE.format(route=day.route.code)})
    history = selectors.customer_visits(
        route=day.route, customer_id=customer_id, before=day.date,
        limit=settings.SUPERVISION_HISTORY_SESSIONS,
    )  # fmt: skip
    days = [*history, selectors.Visit(day.date, line.visited, line.planned_quantity,
                                      line.actual_quantity, line.reason)]  # fmt: skip
    visited = [visit.actual for visit in history if visit.visited]
    average = (Decimal(sum(visited)) / len(visited)).quantize(rules.CENT) if visited else None
    streak = 0
    for visit in reversed(days):
        if visit.visited:
            break
        streak += 1
    sales = [visit.date for visit in days if visit.visited and visit.actual > 0]
    since = (day.date - sales[-1]).days if sales else None
    return {
        "route": day.route.code,
        "date": day.date,
        "customer": line.customer_name,
        "customer_id": customer_id,
        "today": {
            "visited": line.visited,
            "planned": line.planned_quantity,
            "actual": line.actual_quantity,
            "reason": line.reason,
        },
        "history": [
            {
                "date": v.date,
                "visited": v.visited,
                "planned": v.planned,
                "actual": v.actual,
                "reason": v.reason,
            }
            for v in history
        ],
        "sessions": len(history),
        "visits": len(visited),
        "average_actual": average,
        "vs_average_percent": rules.percent(line.actual_quantity, average) if average else None,
        "planned_total": sum(v.planned for v in days),
        "actual_total": sum(v.actual for v in days),
        "trend": _trend([v.actual for v in days if v.visited]),
        "missed_streak": streak,
        "visited_no_sale": sum(1 for v in days if v.visited and v.actual == 0),
        "days_since_productive": since,
        "dormant": (since is None and len(days) > 1)
        or (since is not None and since >= settings.SUPERVISION_DORMANT_DAYS),
        "reasons": dict(Counter(v.reason for v in days if v.reason)),
        "thresholds": {"dormant_days": settings.SUPERVISION_DORMANT_DAYS},
    }


def _trend(actuals: list[int]) -> str:
    """The last three visits against the ones before: up or down by a tenth or more, else
    flat; too few visits to tell, unknown."""
    if len(actuals) < 4:
        return "unknown"
    recent, earlier = actuals[-3:], actuals[:-3]
    now, before = sum(recent) / len(recent), sum(earlier) / len(earlier)
    if before == 0:
        return "up" if now > 0 else "flat"
    change = (now - before) / before
    return "up" if change >= 0.1 else "down" if change <= -0.1 else "flat"


# --- The review ---------------------------------------------------------------------------------


def _key(provider: Provider, kind: str, facts: dict) -> str:
    """The hash of what was asked. Over the facts as they are (the encoder turns decimals and
    dates into the text _plain gives them: the same JSON, without walking the figures first,
    which a question answered from the cache never needs)."""
    asked = json.dumps(
        {"provider": provider.key, "kind": kind, "figures": facts}, sort_keys=True, default=_text
    )
    return hashlib.sha256(asked.encode()).hexdigest()


def _text(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def review(
    *,
    actor: Actor,
    route_id: int,
    date: dt.date,
    kind: str,
    customer_id: int | None = None,
    changes: list[rules.Change] | None = None,
    provider: Provider | None = None,
) -> Review:
    """A review of the route's day (or of one customer on it), with `changes` not saved yet
    applied to the day as the page holds it. 404 outside the actor's routes; 400 for a bad
    line or a customer not on the route; RateLimited for one new review too many."""
    day = selectors.day(user=actor, route_id=route_id, date=date)
    if changes:
        lines, _ = rules.apply_changes(day.lines, changes, route_code=day.route.code)
        day.lines = lines
    if kind == AnalysisKind.CUSTOMER:
        if customer_id is None:
            raise ValidationError({"customer": CUSTOMER_REQUIRED})
        facts = _customer_facts(day, customer_id)
    else:
        kind, customer_id = AnalysisKind.ROUTE, None
        facts = _route_facts(day)
    provider = provider or configured()
    key = _key(provider, kind, facts)
    kept = Analysis.objects.filter(key=key).first()
    if kept is None and not isinstance(provider, RulesProvider):
        # The language model failed on this question before: the rules' answer is kept.
        kept = Analysis.objects.filter(key=_key(RulesProvider(), kind, facts)).first()
        kept = kept if kept is not None and kept.fallback_reason else None
    if kept is not None:
        now = timezone.now()
        Analysis.objects.filter(pk=kept.pk).update(hits=F("hits") + 1, last_hit_at=now)
        kept.hits, kept.last_hit_at = kept.hits + 1, now
        return Review(analysis=kept, from_cache=True)
    if not isinstance(actor, SystemActor):  # the limit is a person's (jobs, demo data: none)
        decision = ratelimit.take(
            f"supervision-review:{actor.pk}:{kind}",
            limit=settings.SUPERVISION_ANALYSIS_LIMIT,
            window=settings.SUPERVISION_ANALYSIS_WINDOW,
        )
        if not decision.allowed:
            raise RateLimited(decision.retry_after)
    figures, fallback = _plain(facts), ""
    try:
        findings, suggestions = provider.review(kind, figures)
    except ProviderError as error:
        fallback = FALLBACK.format(reason=str(error).capitalize())
        provider = RulesProvider()
        key = _key(provider, kind, facts)
        findings, suggestions = provider.review(kind, figures)
    fields = {
        "kind": kind, "provider": provider.key, "route": day.route, "date": day.date,
        "customer_id": customer_id, "figures": figures, "findings": findings,
        "suggestions": suggestions, "fallback_reason": fallback[:300],
        "created_by": actor if getattr(actor, "is_authenticated", False) and actor.pk else None,
    }  # fmt: skip
    try:
        with transaction.atomic():
            analysis, _ = Analysis.objects.get_or_create(key=key, defaults=fields)
    except IntegrityError:  # the same review, written by a concurrent request
        analysis = Analysis.objects.get(key=key)
    return Review(analysis=analysis, from_cache=False)


def latest_route_review(*, day: selectors.Day) -> Analysis | None:
    """The day's latest route review (one query)."""
    rows = Analysis.objects.filter(route=day.route, date=day.date, kind=AnalysisKind.ROUTE)
    return rows.order_by("-created_at").first()


def written_for(review: Analysis, day: selectors.Day) -> bool:
    """Whether `review` was written from the figures `day` shows now (a review is only valid
    for the figures it was computed from). Numbers compare as numbers: 10 is "10.00"."""
    if review.kind == AnalysisKind.ROUTE:
        facts = route_figures(day)
    elif day.line(review.customer_id) is not None:
        facts = customer_figures(day, review.customer_id)
    else:
        return False
    return _same(review.figures, facts)


def _same(kept, now) -> bool:
    if isinstance(kept, dict) and isinstance(now, dict):
        return kept.keys() == now.keys() and all(_same(kept[k], now[k]) for k in kept)
    if isinstance(kept, list) and isinstance(now, list):
        return len(kept) == len(now) and all(map(_same, kept, now))
    if kept == now or isinstance(kept, bool) or isinstance(now, bool) or None in (kept, now):
        return kept == now
    try:
        return Decimal(str(kept)) == Decimal(str(now))
    except ArithmeticError:
        return kept == now


def cache_stats(*, since: dt.datetime | None = None) -> dict:
    """Reviews asked and answered from the cache (kept reviews' hits) against new ones (the
    reviews kept): the hit rate, per kind and in all."""
    rows = Analysis.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    by_kind = {
        row["kind"]: row
        for row in rows.values("kind").annotate(misses=Count("id"), hits=Sum("hits"))
    }
    stats = {}
    for kind, label in [*AnalysisKind.choices, ("all", "All reviews")]:
        if kind == "all":
            hits = sum(row["hits"] or 0 for row in by_kind.values())
            misses = sum(row["misses"] for row in by_kind.values())
        else:
            row = by_kind.get(kind, {"hits": 0, "misses": 0})
            hits, misses = row["hits"] or 0, row["misses"]
        asked = hits + misses
        stats[kind] = {"label": label, "hits": hits, "misses": misses,
                       "hit_rate": rules.percent(hits, asked) if asked else None}  # fmt: skip
    return stats

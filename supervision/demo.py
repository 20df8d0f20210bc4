"""Demo supervision for `seed_demo`: every demo route reviewed on its weekday over the past six
weeks (saved days, with missed stops and their reasons, zero-sale visits, a few customers
falling away), their summaries, and the latest day's route review kept, so that `make run`
shows history, figures and reviews at once. Today is left to review (route 1004 included)."""

import datetime as dt
import random

from django.db.models import Prefetch

from crm.demo import DemoContext, demo_seeder
from crm.models import Route, RouteStop
from crm.roles import SystemActor
from supervision import analysis, rules, selectors, services
from supervision.models import (
    ReasonCode,
    RouteSummary,
    SessionLine,
    SessionStatus,
    SupervisionSession,
)
from supervision.providers import RulesProvider

WEEKS = 6
MISS_REASONS = [ReasonCode.CLOSED, ReasonCode.OWNER_ABSENT, ReasonCode.CREDIT_HOLD, ""]
NO_SALE_REASONS = [ReasonCode.STOCK_SUFFICIENT, ReasonCode.REFUSED, ""]


@demo_seeder("supervision")
def seed_supervision(context: DemoContext) -> None:
    routes = list(
        Route.objects.filter(rep__in=context.reps)
        .select_related("rep__team__manager")
        .prefetch_related(
            Prefetch("stops", RouteStop.objects.select_related("customer").order_by("sequence"))
        )
        .order_by("code")
    )
    today = context.as_of.date()
    have = set(SupervisionSession.objects.filter(route__in=routes).values_list("route_id", "date"))
    sessions, summaries, lines = [], [], []
    for route in routes:
        rng = random.Random(f"{context.seed}:supervision:{route.code}")
        weekday = int(route.code) % 5  # Monday to Friday
        last = today - dt.timedelta(days=(today.weekday() - weekday) % 7 or 7)
        stops = list(route.stops.all())
        # Each customer's habits: how reliably the stop is made, how it buys, whether it is
        # falling away over the weeks.
        habits = {
            stop.customer_id: (rng.uniform(0.7, 1.0), rng.uniform(0.6, 1.3), rng.random() < 0.12)
            for stop in stops
        }
        supervisor = route.rep.team.manager if route.rep and route.rep.team else None
        for week in range(WEEKS - 1, -1, -1):
            date = last - dt.timedelta(weeks=week)
            if (route.pk, date) in have or date < context.first_month:
                continue
            saved_at = dt.datetime.combine(
                date, dt.time(18, rng.randint(0, 59)), context.as_of.tzinfo
            )
            session = SupervisionSession(
                route=route, date=date, status=SessionStatus.SAVED, saved_at=saved_at,
                saved_by=supervisor, created_at=saved_at, updated_at=saved_at,
            )  # fmt: skip
            day = [_line(rng, stop, habits[stop.customer_id], fading=week) for stop in stops]
            figures = rules.figures(day)
            sessions.append(session)
            summaries.append(
                RouteSummary(
                    session=session,
                    record_version=1,
                    written_at=saved_at,
                    written_by=selectors.person(supervisor),
                    **figures.as_dict(),
                )
            )
            lines += [services.line_row(session, line) for line in day]
    SupervisionSession.objects.bulk_create(sessions)
    RouteSummary.objects.bulk_create(summaries)
    SessionLine.objects.bulk_create(lines, batch_size=2000)
    context.count("supervision days", len(sessions))
    _reviews(context, [route for route in routes if any(s.route_id == route.pk for s in sessions)])


def _line(rng: random.Random, stop: RouteStop, habit, *, fading: int) -> rules.Line:
    reliability, appetite, falling = habit
    planned = stop.planned_quantity
    visited = rng.random() < reliability
    quantity, reason, note = 0, "", ""
    if visited:
        # A customer falling away buys less each week (`fading` counts down to this week).
        share = appetite * (max(0.0, 1 - 0.25 * (5 - fading)) if falling else 1.0)
        quantity = max(0, round(planned * rng.gauss(share, 0.25)))
        if quantity == 0:
            reason = rng.choice(NO_SALE_REASONS)
    else:
        reason = rng.choice(MISS_REASONS)
        if rng.random() < 0.1:
            reason, note = ReasonCode.OTHER, "Road works: the street was closed."
    return rules.Line(
        customer_id=stop.customer_id, stop_order=stop.sequence, planned_quantity=planned,
        visited=visited, actual_quantity=quantity, reason=reason, note=note,
        customer_name=stop.customer.name, stop_id=stop.pk,
    )  # fmt: skip


def _reviews(context: DemoContext, routes: list[Route]) -> None:
    """The latest saved day of each route seeded now: its route review and a customer review,
    kept as the rules wrote them."""
    actor = SystemActor("seed_demo")
    kept = 0
    for route in routes:
        latest = (
            SupervisionSession.objects.filter(route=route, status=SessionStatus.SAVED)
            .order_by("-date")
            .first()
        )
        if latest is None:
            continue
        day = selectors.day_of(route, latest.date)
        if not day.lines:
            continue
        for kind, customer in (("route", None), ("customer", day.lines[0].customer_id)):
            analysis.review(
                actor=actor, route_id=route.pk, date=latest.date, kind=kind,
                customer_id=customer, provider=RulesProvider(),
            )  # fmt: skip
            kept += 1
    context.count("supervision reviews", kept)

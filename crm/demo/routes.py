"""A rep's delivery rounds: one or two weekday routes, each calling on 8 to 15 of the rep's
active customers with a whole planned quantity."""

import random
from collections.abc import Sequence

from crm.models import Customer, CustomerStatus, Route, RouteStop, SalesRep, Team

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def routes_of(
    rng: random.Random,
    *,
    number: int,
    rep: SalesRep,
    team: Team,
    customers: Sequence[Customer],
) -> tuple[list[Route], list[RouteStop]]:
    # Two codes reserved per rep (rep1: 1000-1001, rep3: 1004-1005): unique, stable, 4 digits.
    route_count = 1 if rng.random() < 0.5 else 2
    days = rng.sample(WEEKDAYS, route_count)
    visitable = [c for c in customers if c.status != CustomerStatus.INACTIVE]
    routes, stops = [], []
    for offset, day in enumerate(days):
        route = Route(
            code=str(1000 + 2 * (number - 1) + offset),
            name=f"{team.name} {day} round ({rep.user.username})",
            rep=rep,
        )
        routes.append(route)
        stop_customers = rng.sample(visitable, min(len(visitable), rng.randint(8, 15)))
        stops += [
            RouteStop(
                route=route,
                customer=customer,
                sequence=sequence,
                planned_quantity=(rng.randint(1, 60) + 1) // 2,
            )
            for sequence, customer in enumerate(stop_customers, start=1)
        ]
    return routes, stops

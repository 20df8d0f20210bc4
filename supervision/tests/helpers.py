"""What the supervision tests share: a route of a team's rep with its stops, and line changes."""

import datetime as dt

from crm.tests.factories import CustomerFactory, RouteFactory, RouteStopFactory
from supervision import rules, selectors


def route_with_stops(rep, count: int = 3, planned=(10, 20, 30)):
    route = RouteFactory(rep=rep)
    for index in range(count):
        RouteStopFactory(
            route=route, customer=CustomerFactory(owner=rep), sequence=index + 1,
            planned_quantity=planned[index % len(planned)],
        )  # fmt: skip
    return route


def customers(route) -> list[int]:
    return list(route.stops.order_by("sequence").values_list("customer_id", flat=True))


def change(customer: int, **fields) -> rules.Change:
    return rules.Change(customer_id=customer, **fields)


def today() -> dt.date:
    return selectors.today()

"""A sales rep's route with its stops, each a customer of the rep's: what the tests of routes,
route days and their supervision start from."""

from collections.abc import Sequence

from crm.models import Route
from crm.tests.factories import CustomerFactory, RouteFactory, RouteStopFactory


def route_with_stops(
    rep, count: int = 3, planned: Sequence[int] = (10, 20, 30), *, names: Sequence[str] = (),
    **route_fields,
) -> Route:  # fmt: skip
    """A route of `rep` with `count` stops in order, each a new customer of the rep's, planned
    at the quantities of `planned` in turn; the first customers are called `names`."""
    route = RouteFactory(rep=rep, **route_fields)
    for index in range(count):
        named = {"name": names[index]} if index < len(names) else {}
        RouteStopFactory(
            route=route, customer=CustomerFactory(owner=rep, **named), sequence=index + 1,
            planned_quantity=planned[index % len(planned)],
        )  # fmt: skip
    return route

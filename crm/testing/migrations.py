"""For the tests of migrations on data that is already there: the database taken to a past
state of the models, and rows made in that state (a rep; a route with its stops)."""

import datetime as dt
from collections.abc import Sequence

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(*targets: tuple[str, str]) -> Apps | None:
    """Migrate to `targets` (app, migration) and return the models as they were there; with
    none, to the latest migrations (returns None)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())
    return executor.loader.project_state(list(targets)).apps if targets else None


def legacy_rep(apps: Apps, *, team=None):
    """A sales rep made with the models of `apps` (a past state), in `team` or a team of its
    own."""
    team = team or apps.get_model("crm", "Team").objects.create(name="Legacy")
    return apps.get_model("crm", "SalesRep").objects.create(
        user=apps.get_model("auth", "User").objects.create(username="legacy"), team=team,
        employee_code="L1", hire_date=dt.date(2020, 1, 1),
    )  # fmt: skip


def legacy_route_stops(apps: Apps, rep, planned: Sequence, **customer_fields) -> list[int]:
    """The ids of the stops of a route of `rep` made with the models of `apps` (a past state):
    one a planned quantity of `planned`, in order, each a customer of the rep's of its own
    (with `customer_fields`)."""
    route = apps.get_model("crm", "Route").objects.create(code="9001", name="Old round", rep=rep)
    Customer, RouteStop = apps.get_model("crm", "Customer"), apps.get_model("crm", "RouteStop")
    return [
        RouteStop.objects.create(
            route=route, sequence=index + 1, planned_quantity=quantity,
            customer=Customer.objects.create(
                name=f"C{index}", code=f"C{index}", owner=rep, **customer_fields
            ),
        ).pk
        for index, quantity in enumerate(planned)
    ]  # fmt: skip

"""Supervision's migrations on data that is already there: planned quantities become whole
numbers (rounded, the day's totals counted again), and back."""

import datetime as dt
from decimal import Decimal

import pytest

from crm.testing.migrations import migrate_to

BEFORE_WHOLE = ("supervision", "0002_one_index_each")
WHOLE = ("supervision", "0004_whole_planned_quantities")


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_planned_quantities_are_rounded_to_whole_numbers_and_back_again(role_groups):
    from crm.tests.factories import CustomerFactory, RouteFactory

    route = RouteFactory()
    shops = [CustomerFactory(), CustomerFactory()]
    old = migrate_to(BEFORE_WHOLE)
    try:
        Session = old.get_model("supervision", "SupervisionSession")
        Line = old.get_model("supervision", "SessionLine")
        Summary = old.get_model("supervision", "RouteSummary")
        session = Session.objects.create(route_id=route.pk, date=dt.date(2026, 11, 2))
        for order, (shop, planned, actual) in enumerate(
            [(shops[0], "29.50", 20), (shops[1], "10.49", 0)], start=1
        ):
            Line.objects.create(
                session=session, customer_id=shop.pk, stop_order=order,
                planned_quantity=Decimal(planned), actual_quantity=actual, visited=actual > 0,
            )  # fmt: skip
        Summary.objects.create(
            session=session, planned_total=Decimal("39.99"), actual_total=Decimal(20),
            gap=Decimal("19.99"), achievement_percent=Decimal("50.01"), customers_planned=2,
            customers_visited=1, productive_stops=1,
        )  # fmt: skip
        migrate_to(WHOLE)
        from supervision.models import RouteSummary, SessionLine

        lines = SessionLine.objects.filter(session_id=session.pk).order_by("stop_order")
        assert [line.planned_quantity for line in lines] == [30, 10]
        summary = RouteSummary.objects.get(session_id=session.pk)
        assert (summary.planned_total, summary.actual_total, summary.gap) == (40, 20, 20)
        assert summary.achievement_percent == Decimal("50.00")

        back = migrate_to(BEFORE_WHOLE)
        lines = back.get_model("supervision", "SessionLine").objects.order_by("stop_order")
        assert [line.planned_quantity for line in lines] == [Decimal(30), Decimal(10)]
        assert back.get_model("supervision", "RouteSummary").objects.get().gap == Decimal(20)
    finally:
        migrate_to()

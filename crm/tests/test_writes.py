"""crm.writes.bulk_set: many rows' values in one statement (PostgreSQL) or a few (SQLite)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Deal
from crm.tests.factories import DealFactory
from crm.writes import bulk_set

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def test_bulk_set_writes_each_row_its_own_values_of_every_type():
    deals = DealFactory.create_batch(5)
    when = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    values = {
        deal.pk: {"amount": Decimal(index) + Decimal("0.25"), "title": f"Deal '{index}'",
                  "updated_at": when + dt.timedelta(days=index)}
        for index, deal in enumerate(deals[:4])
    }  # fmt: skip
    values[deals[0].pk]["amount"] = Decimal("0.10")  # a value the first row alone would mistype

    with CaptureQueriesContext(connection) as queries:
        updated = bulk_set(Deal, values, chunk=3)

    assert updated == 4
    rows = {row.pk: row for row in Deal.objects.all()}
    for pk, fields in values.items():
        assert {name: getattr(rows[pk], name) for name in fields} == fields
    assert rows[deals[4].pk].title == deals[4].title  # not in the mapping: untouched
    # One statement on PostgreSQL however many rows; SQLite has no arrays, one per chunk.
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)


def test_bulk_set_of_nothing_runs_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert bulk_set(Deal, {}) == 0
    assert len(queries) == 0

"""crm.writes.bulk_set: many rows' values in one statement (PostgreSQL) or a few (SQLite)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from crm.models import Deal
from crm.tests.factories import DealFactory
from crm.writes import bulk_set

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def test_bulk_set_writes_each_row_its_own_values_of_every_type(assert_queries):
    deals = DealFactory.create_batch(5)
    when = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    values = {
        deal.pk: {"amount": Decimal(index) + Decimal("0.25"), "title": f"Deal '{index}'",
                  "updated_at": when + dt.timedelta(days=index)}
        for index, deal in enumerate(deals[:4])
    }  # fmt: skip
    values[deals[0].pk]["amount"] = Decimal("0.10")  # a value the first row alone would mistype

    # One statement on PostgreSQL however many rows; SQLite has no arrays, one per chunk.
    with assert_queries(1 if connection.vendor == "postgresql" else 2):
        updated = bulk_set(Deal, values, chunk=3)

    assert sorted(updated) == sorted(values)
    rows = {row.pk: row for row in Deal.objects.all()}
    for pk, fields in values.items():
        assert {name: getattr(rows[pk], name) for name in fields} == fields
    assert rows[deals[4].pk].title == deals[4].title  # not in the mapping: untouched


def test_bulk_set_of_nothing_runs_nothing(assert_queries):
    with assert_queries(0):
        assert bulk_set(Deal, {}) == []


def test_bulk_set_with_expected_values_leaves_rows_changed_meanwhile():
    kept, changed, unset = DealFactory.create_batch(3, amount=Decimal(10))
    Deal.objects.filter(pk=changed.pk).update(amount=Decimal(99))  # someone else, meanwhile
    Deal.objects.filter(pk=unset.pk).update(closed_at=None)

    written = bulk_set(
        Deal,
        {deal.pk: {"title": "Recounted"} for deal in (kept, changed, unset)},
        expect={
            deal.pk: {"amount": Decimal(10), "closed_at": None} for deal in (kept, changed, unset)
        },
    )

    assert sorted(written) == sorted([kept.pk, unset.pk])
    assert Deal.objects.get(pk=changed.pk).title != "Recounted"

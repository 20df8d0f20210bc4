"""One rule for periods and time zones: a rep's month in the rep's zone, the team's and company's
in TIME_ZONE; the home pages, rep_facts and jobs all follow it."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm import periods, selectors
from crm.models import DealStage
from crm.roles import SystemActor
from crm.tests.factories import DealFactory, SalesRepFactory

UTC = dt.UTC
KIRITIMATI = zoneinfo.ZoneInfo("Pacific/Kiritimati")  # UTC+14
HONOLULU = zoneinfo.ZoneInfo("Pacific/Honolulu")  # UTC-10
# 20:00 UTC on 30 November: already 1 December at UTC+14, still 30 November at UTC-10.
MONTH_END = dt.datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


@pytest.mark.sqlite
def test_month_quarter_and_year_are_whole_local_days():
    november = periods.month(2026, 11, KIRITIMATI)
    assert (november.first_day, november.last_day, november.days) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
        30,
    )
    assert november.start == dt.datetime(2026, 10, 31, 10, 0, tzinfo=UTC)
    assert november.end == dt.datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert periods.quarter(2026, 4, UTC).first_day == dt.date(2026, 10, 1)
    assert periods.quarter(2026, 1, UTC).last_day == dt.date(2026, 3, 31)
    assert periods.year(2028, UTC).days == 366
    with pytest.raises(ValueError):
        periods.quarter(2026, 5, UTC)


@pytest.mark.sqlite
def test_the_same_moment_falls_in_different_months_by_zone():
    assert periods.containing(MONTH_END, "month", KIRITIMATI).first_day == dt.date(2026, 12, 1)
    assert periods.containing(MONTH_END, "month", HONOLULU).first_day == dt.date(2026, 11, 1)
    assert periods.containing(MONTH_END, "year", KIRITIMATI).first_day == dt.date(2026, 1, 1)
    assert MONTH_END in periods.month(2026, 11, HONOLULU)
    assert MONTH_END not in periods.month(2026, 11, KIRITIMATI)


@pytest.mark.sqlite
def test_elapsed_days_count_the_started_day():
    november = periods.month(2026, 11, UTC)
    assert november.elapsed_days(dt.datetime(2026, 10, 31, 23, tzinfo=UTC)) == 0
    assert november.elapsed_days(dt.datetime(2026, 11, 1, 0, 1, tzinfo=UTC)) == 1
    assert november.elapsed_days(MONTH_END) == 30
    assert november.elapsed_days(dt.datetime(2027, 1, 1, tzinfo=UTC)) == 30


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(1, 1, 1, tzinfo=UTC),
        dt.datetime(9999, 12, 31, 23, 30, tzinfo=UTC),
        dt.datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
        dt.datetime(2100, 1, 1, tzinfo=UTC),
        dt.datetime(2030, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=17, minutes=52))),
        dt.datetime(2030, 1, 1, tzinfo=dt.timezone(-dt.timedelta(hours=15))),
        dt.date(1, 1, 1),
    ],
)
def test_dates_outside_the_crms_range_are_refused(value):
    with pytest.raises(ValidationError):
        periods.validate_in_range(value)


@pytest.mark.sqlite
def test_dates_inside_the_range_pass():
    periods.validate_in_range(dt.datetime(1970, 1, 1, tzinfo=UTC))
    periods.validate_in_range(dt.datetime(2099, 12, 31, 23, 59, tzinfo=KIRITIMATI))
    periods.validate_in_range(None)


@pytest.fixture
def reps_across_the_date_line(team):
    east = SalesRepFactory(team=team, timezone="Pacific/Kiritimati")
    west = SalesRepFactory(team=team, timezone="Pacific/Honolulu")

    def won(rep, when):
        DealFactory(rep=rep, stage=DealStage.CLOSED_WON, closed_at=when, amount=Decimal("10"))

    won(east, dt.datetime(2026, 11, 30, 12, tzinfo=UTC))  # 1 Dec 02:00 local: this month
    won(east, dt.datetime(2026, 11, 30, 9, tzinfo=UTC))  # 30 Nov 23:00 local: last month
    won(west, dt.datetime(2026, 11, 1, 9, tzinfo=UTC))  # 31 Oct 23:00 local: last month
    won(west, dt.datetime(2026, 11, 1, 11, tzinfo=UTC))  # 1 Nov 01:00 local: this month
    return east, west


@pytest.mark.django_db
@time_machine.travel(MONTH_END, tick=False)
def test_each_reps_this_month_is_their_own(reps_across_the_date_line, client, settings):
    settings.TIME_ZONE = "UTC"
    east, west = reps_across_the_date_line

    for rep in (east, west):
        client.force_login(rep.user)
        summary = client.get(reverse("home")).context["summary"]
        assert summary["won_this_month"] == 1, rep.timezone

    facts = {
        rep.pk: rep.won_count
        for rep in selectors.rep_facts(reps=selectors.rep_list(user=SystemActor("test")))
    }
    assert facts == {east.pk: 1, west.pk: 1}


@pytest.mark.django_db
@time_machine.travel(MONTH_END, tick=False)
def test_team_and_company_months_are_in_time_zone(
    reps_across_the_date_line, supervisor, client, settings
):
    settings.TIME_ZONE = "UTC"
    client.force_login(supervisor)

    response = client.get(reverse("home"))

    # All four closed in November UTC; each rep's own row still counts the rep's own month.
    assert response.context["summary"]["won_this_month"] == 4
    assert [rep.won_count for rep in response.context["performance"]] == [1, 1]
    company_november = periods.month(2026, 11, periods.company_zone())
    everyone = selectors.rep_list(user=SystemActor("test"))
    assert (
        sum(r.won_count for r in selectors.rep_facts(reps=everyone, period=company_november)) == 4
    )


@pytest.mark.django_db
def test_rep_facts_count_every_fact_in_one_query(rep, assert_queries):
    from django.utils import timezone

    from crm import services

    customer = DealFactory(rep=rep).customer
    services.customer_sign_up(actor=rep.user, customer_id=customer.pk)
    period = periods.current("month", periods.company_zone())
    with assert_queries(1):
        (row,) = selectors.rep_facts(reps=selectors.rep_list(user=rep.user), period=period)
    assert (row.won_count, row.signups, row.activities_completed, row.tasks_completed) == (
        0,
        1,
        0,
        0,
    )
    assert row.period_start <= timezone.now() < row.period_end

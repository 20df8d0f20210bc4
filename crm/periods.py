"""Time zones, periods and the range of dates the CRM accepts: one rule for pages, the API,
selectors and jobs.

- A rep's day, month and year begin at midnight in the rep's own time zone (`SalesRep.timezone`);
  a team's and the company's in `TIME_ZONE`. People see and enter dates in their own zone: a rep
  in the rep's, everyone else in `TIME_ZONE` (`crm.roles.user_zone`).
- A `Period` is the half-open interval [start, end) of the whole days from `first_day` to
  `last_day` in one zone.
- Dates written to the CRM lie between `EARLIEST` and `LATEST`, so that every stored date can be
  shown in every time zone (year 1 or 9999 cannot) and every database can store it.
"""

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
OUT_OF_RANGE = "Enter a date between 1970 and 2099."
# Real UTC offsets lie between -12:00 and +14:00 (±14:00 is accepted); PostgreSQL refuses
# anything past ±15:59.
MAX_UTC_OFFSET = dt.timedelta(hours=14)
OFFSET_OUT_OF_RANGE = "Enter a UTC offset between -14:00 and +14:00."

Span = Literal["day", "month", "quarter", "year"]


def validate_in_range(value: dt.datetime | dt.date | None) -> None:
    """Refuse dates outside [EARLIEST, LATEST) and absurd UTC offsets (a model field validator)."""
    if value is None:
        return
    if isinstance(value, dt.datetime):
        offset = value.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError(OFFSET_OUT_OF_RANGE, code="offset")
        try:
            in_range = EARLIEST <= _aware(value) < LATEST
        except OverflowError:
            in_range = False
    else:
        in_range = EARLIEST.date() <= value < LATEST.date()
    if not in_range:
        raise ValidationError(OUT_OF_RANGE, code="out_of_range")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if timezone.is_aware(value) else timezone.make_aware(value)


# --- Zones ------------------------------------------------------------------------------------


def company_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def zone_named(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone called `name`; the company's when it is empty or unknown."""
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return company_zone()


def local_date(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


# How a moment reads on a page or in a message: day, month, year, time of day, and always its
# zone, so that a rep (in the rep's zone) and a supervisor (in TIME_ZONE) who see the same visit
# at "17:30 CET" and "16:30 UTC" can tell it is the same moment.
MOMENT_FORMAT = "j M Y, H:i"


def format_moment(
    value: dt.datetime, fmt: str = MOMENT_FORMAT, *, zone: zoneinfo.ZoneInfo | None = None
) -> str:
    """`value` in `zone` (default: the active one, the reader's), in the Django date format
    `fmt`, followed by the zone's abbreviation ("6 Dec 2026, 17:30 CET"; a zone without one
    shows its offset, "+0530"). Every time of day the CRM shows goes through here (templates:
    the `moment` filter)."""
    local = timezone.localtime(_aware(value), zone)
    return date_format(local, f"{fmt} T")


# --- Periods ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    first_day: dt.date
    last_day: dt.date
    zone: zoneinfo.ZoneInfo

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError("A period ends on or after the day it starts.")

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time.min, tzinfo=self.zone)

    @property
    def end(self) -> dt.datetime:
        """The first moment after the period (exclusive)."""
        return dt.datetime.combine(
            self.last_day + dt.timedelta(days=1), dt.time.min, tzinfo=self.zone
        )

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def __contains__(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end

    def elapsed_days(self, now: dt.datetime | None = None) -> int:
        """Whole or started days of the period by `now` (0 before it, `days` after it)."""
        today = local_date(now or timezone.now(), self.zone)
        if today < self.first_day:
            return 0
        return min(self.days, (today - self.first_day).days + 1)


def day(on: dt.date, zone: zoneinfo.ZoneInfo) -> Period:
    return Period(on, on, zone)


def month(year: int, month: int, zone: zoneinfo.ZoneInfo) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(dt.date(year, month, 1), dt.date(year, month, last), zone)


def quarter(year: int, number: int, zone: zoneinfo.ZoneInfo) -> Period:
    if not 1 <= number <= 4:
        raise ValueError("A quarter is numbered 1 to 4.")
    first_month = 3 * (number - 1) + 1
    return Period(dt.date(year, first_month, 1), month(year, first_month + 2, zone).last_day, zone)


def year(number: int, zone: zoneinfo.ZoneInfo) -> Period:
    return Period(dt.date(number, 1, 1), dt.date(number, 12, 31), zone)


def containing(moment: dt.datetime, span: Span, zone: zoneinfo.ZoneInfo) -> Period:
    """The day, month, quarter or year (in `zone`) that `moment` falls in."""
    local = local_date(moment, zone)
    if span == "day":
        return day(local, zone)
    if span == "month":
        return month(local.year, local.month, zone)
    if span == "quarter":
        return quarter(local.year, (local.month - 1) // 3 + 1, zone)
    if span == "year":
        return year(local.year, zone)
    raise ValueError(f"Unknown span {span!r}.")


def current(span: Span, zone: zoneinfo.ZoneInfo, *, now: dt.datetime | None = None) -> Period:
    return containing(now or timezone.now(), span, zone)

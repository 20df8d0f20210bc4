"""The demo's months: the last is the current one, seeded up to "now" (the last whole hour);
each weighted by its season. Random moments inside them, drawn from a seeder's own stream."""

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property

# Relative activity per calendar month: busy spring and autumn, quiet August and December.
SEASONALITY = {
    1: 0.85,
    2: 0.95,
    3: 1.15,
    4: 1.2,
    5: 1.15,
    6: 1.0,
    7: 0.8,
    8: 0.5,
    9: 1.1,
    10: 1.2,
    11: 1.1,
    12: 0.65,
}


@dataclass(frozen=True)
class Month:
    start: datetime
    end: datetime  # the next month's start
    age: int  # 0 = the current month
    weight: float  # seasonality of its calendar month

    @cached_property
    def weekdays(self) -> list[date]:
        first = self.start.date()
        days = (first + timedelta(days=n) for n in range((self.end.date() - first).days))
        return [day for day in days if day.weekday() < 5]


@dataclass(frozen=True)
class Calendar:
    as_of: datetime
    months: list[Month]

    @property
    def start(self) -> datetime:
        return self.months[0].start

    @classmethod
    def ending_at(cls, as_of: datetime, months: int) -> "Calendar":
        tz = as_of.tzinfo
        first_of_current = as_of.date().replace(day=1)
        firsts = [_add_months(first_of_current, offset) for offset in range(1 - months, 2)]
        starts = [datetime.combine(day, time.min, tzinfo=tz) for day in firsts]
        return cls(
            as_of=as_of,
            months=[
                Month(
                    start=starts[index],
                    end=starts[index + 1],
                    age=months - 1 - index,
                    weight=SEASONALITY[firsts[index].month],
                )
                for index in range(months)
            ],
        )

    def past_part(self, month: Month) -> tuple[datetime, datetime] | None:
        """The part of `month` that has happened, or None if nothing has yet."""
        end = min(month.end, self.as_of)
        return (month.start, end) if end > month.start else None

    def elapsed_share(self, month: Month) -> float:
        past = self.past_part(month)
        return 0.0 if past is None else (past[1] - past[0]) / (month.end - month.start)


def _add_months(day: date, months: int) -> date:
    years, month_index = divmod(day.month - 1 + months, 12)
    return date(day.year + years, month_index + 1, 1)


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    moment = start + (end - start) * rng.random()
    return moment.replace(microsecond=0)


def working_slot(rng: random.Random, month: Month) -> datetime:
    """A weekday time between 08:00 and 18:00 inside `month`."""
    day = rng.choice(month.weekdays)
    minutes = 8 * 60 + 15 * rng.randrange(40)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=month.start.tzinfo)


def how_many(rng: random.Random, expected: float) -> int:
    """A whole number of events averaging `expected`, with some month-to-month noise."""
    return math.floor(expected * rng.uniform(0.75, 1.25) + rng.random())

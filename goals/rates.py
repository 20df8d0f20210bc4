"""What a goal's figures are counted in, and how its rates read: money stays an amount a day
("1,250.50 a day"); whole things read as people say them ("about 3 signups a day", "about 2
deals a week", "1 more signup by the 31st"), never "0.15 a day".

The rule for what is still needed, N things (or an amount) in the D days left, today included:

- on the last day (D = 1): "<amount> today", "N more <things> today";
- money otherwise: "<amount / D> a day";
- at least one thing a day: "about N/D <things> a day";
- below that, with more than a week left and at least one a week: "about 7N/D a week";
- otherwise: "N more <things> by <the last day>" (the 31st; 31 Mar when that is another month).

The goal's page (the forecast) and the plan's card both read it from `needed`.
"""

import datetime as dt
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.template.defaultfilters import floatformat

from goals import metrics

# What one of a metric is called (singular, plural), for the metrics that count whole things
# (goals.metrics); revenue is money, a custom metric a number in a unit the CRM does not know.
COUNTED_AS = {
    metric: (entry.singular, entry.plural)
    for metric, entry in metrics.REGISTRY.items()
    if entry.is_count
}
MONEY = {metric for metric, entry in metrics.REGISTRY.items() if entry.is_money}
WEEK = 7
MONTH = 30


def unit(metric: str) -> str:
    """What a metric's figures are in, for column headings and CSV: "money", "signups", …"""
    return metrics.unit_name(metric)


def _things(metric: str, count: int, *, more: bool = False) -> str:
    singular, plural = COUNTED_AS.get(metric, ("", ""))
    noun = singular if count == 1 else plural
    return f"{count} {'more ' if more else ''}{noun}".rstrip()


def _about(metric: str, value: Decimal) -> str:
    """A count rounded to whole things, "about" unless it is exact."""
    whole = int(value.to_integral_value(rounding=ROUND_HALF_UP))
    return ("" if value == whole else "about ") + _things(metric, max(whole, 1))


def _money(value: Decimal) -> str:
    return floatformat(value, "-2g")


def amount(metric: str, value: Decimal) -> str:
    """A figure as the metric counts it: money to the cent, things about whole."""
    if metric in COUNTED_AS:
        whole = int(value.to_integral_value(rounding=ROUND_HALF_UP))
        return ("" if value == whole else "about ") + _things(metric, whole)
    return _money(value)


def pace(metric: str, per_day: Decimal) -> str:
    """A velocity in words: "1,250.50 a day", "about 3 signups a day", "about 2 deals a week",
    "about 3 deals a month", "less than 1 signup a month", "no new signups"; "down …" when the
    value falls."""
    if metric not in COUNTED_AS:
        return f"{_money(per_day)} a day"
    if per_day == 0:
        return f"no new {COUNTED_AS[metric][1]}"
    sign, speed = ("down ", -per_day) if per_day < 0 else ("", per_day)
    if speed >= 1:
        return f"{sign}{_about(metric, speed)} a day"
    if speed * WEEK >= 1:
        return f"{sign}{_about(metric, speed * WEEK)} a week"
    if speed * MONTH >= 1:
        return f"{sign}{_about(metric, speed * MONTH)} a month"
    return f"{sign}less than {_things(metric, 1)} a month"


def _by(last_day: dt.date, today: dt.date) -> str:
    if (last_day.year, last_day.month) == (today.year, today.month):
        return f"by the {_ordinal(last_day.day)}"
    return f"by {last_day.day} {last_day:%b}" + (
        f" {last_day.year}" if last_day.year != today.year else ""
    )


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def days_left(today: dt.date, last_day: dt.date) -> int:
    """The days a period still has, today included; 0 once it is over."""
    return max(0, (last_day - today).days + 1)


def needed(
    metric: str,
    *,
    target: Decimal | None,
    actual: Decimal,
    today: dt.date,
    last_day: dt.date,
) -> str:
    """What reaching `target` from `actual` still needs in the days left up to `last_day`
    (today included), in words (the rule at the top). Blank without a target, once it is
    reached, once the period is over, and for a bonus tier (reached by revenue, not day by
    day)."""
    days = days_left(today, last_day)
    if target is None or metrics.spec(metric).tiered or days == 0:
        return ""
    remaining = target - actual
    if remaining <= 0:
        return ""
    if metric not in COUNTED_AS:
        return f"{_money(remaining)} today" if days == 1 else f"{_money(remaining / days)} a day"
    count = int(remaining.to_integral_value(rounding=ROUND_CEILING))
    if days == 1:
        return f"{_things(metric, count, more=True)} today"
    per_day = Decimal(count) / days
    if per_day >= 1:
        return f"{_about(metric, per_day)} a day"
    if days > WEEK and per_day * WEEK >= 1:
        return f"{_about(metric, per_day * WEEK)} a week"
    return f"{_things(metric, count, more=True)} {_by(last_day, today)}"

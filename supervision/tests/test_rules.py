"""The line rules (one implementation for page, form and API) and the day's figures."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from supervision import rules, text
from supervision.models import ReasonCode

pytestmark = pytest.mark.sqlite


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", (12, None)),
        (12, (12, None)),
        (12.0, (12, None)),
        ("  7 ", (7, None)),
        ("", (0, None)),
        (None, (0, None)),
        ("-5", (0, rules.QUANTITY_RESET)),
        (-5, (0, rules.QUANTITY_RESET)),
        ("999999", (999_999, None)),
    ],
)
def test_a_quantity_is_a_whole_number_and_a_negative_one_becomes_0_with_a_notice(raw, expected):
    assert rules.clean_quantity(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1000000", rules.QUANTITY_TOO_LARGE),
        (1_000_000, rules.QUANTITY_TOO_LARGE),
        ("1e309", rules.QUANTITY_TOO_LARGE),
        ("3.5", rules.QUANTITY_NOT_WHOLE),
        (3.5, rules.QUANTITY_NOT_WHOLE),
        ("ten", rules.QUANTITY_NOT_WHOLE),
        (float("inf"), rules.QUANTITY_NOT_WHOLE),
        ("NaN", rules.QUANTITY_NOT_WHOLE),
        (True, rules.QUANTITY_NOT_WHOLE),
        ("-2.5", rules.QUANTITY_NOT_WHOLE),
        ([1], rules.QUANTITY_NOT_WHOLE),
    ],
)
def test_what_is_not_a_whole_number_up_to_999999_is_refused(raw, message):
    with pytest.raises(ValidationError) as refused:
        rules.clean_quantity(raw)
    assert refused.value.messages == [message]


def line(**fields) -> rules.Line:
    return rules.Line(customer_id=1, stop_order=1, planned_quantity=10, **fields)


def test_a_stop_with_a_quantity_is_marked_visited_with_a_notice():
    result, notices, errors = rules.apply_change(line(), rules.Change(1, actual_quantity=4))
    assert (result.visited, result.actual_quantity, notices, errors) == (
        True, 4, [rules.MARKED_VISITED], {},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("start", "change", "field", "message"),
    [
        (line(visited=True, actual_quantity=5), {"reason": ReasonCode.CLOSED}, "reason",
         rules.REASON_FOR_MISSES),
        (line(), {"reason": ReasonCode.OTHER}, "note", rules.NOTE_FOR_OTHER),
        (line(), {"reason": "shrug"}, "reason", rules.REASON_UNKNOWN),
        (line(), {"note": "x" * 501}, "note", rules.NOTE_TOO_LONG),
        (line(), {"actual_quantity": 1_000_000}, "actual_quantity", rules.QUANTITY_TOO_LARGE),
        (line(), {"actual_quantity": -1}, "actual_quantity", rules.QUANTITY_NOT_WHOLE),
    ],
)  # fmt: skip
def test_the_line_rules_refuse_with_the_field_and_keep_the_line(start, change, field, message):
    result, _, errors = rules.apply_change(start, rules.Change(1, **change))
    assert errors == {field: [message]}
    assert result == start


def test_a_reason_explains_a_miss_or_a_visit_without_a_sale():
    missed, _, none = rules.apply_change(line(), rules.Change(1, reason=ReasonCode.CLOSED))
    no_sale, _, also_none = rules.apply_change(
        line(visited=True), rules.Change(1, reason=ReasonCode.STOCK_SUFFICIENT)
    )
    other, _, fine = rules.apply_change(
        line(), rules.Change(1, reason=ReasonCode.OTHER, note="  Road works  ")
    )
    assert (none, also_none, fine) == ({}, {}, {})
    assert missed.reason == ReasonCode.CLOSED and no_sale.reason == ReasonCode.STOCK_SUFFICIENT
    assert other.note == "Road works"


def test_changes_to_customers_not_on_the_route_are_refused_together():
    lines = [line(), rules.Line(customer_id=2, stop_order=2, planned_quantity=5)]
    with pytest.raises(rules.LineErrors) as refused:
        rules.apply_changes(
            lines,
            [rules.Change(2, actual_quantity=3), rules.Change(99, visited=True),
             rules.Change(2, visited=True), rules.Change(1, reason="shrug")],
            route_code="1004",
        )  # fmt: skip
    assert refused.value.by_line == {
        1: {"customer": [rules.NOT_A_STOP.format(route="1004")]},
        2: {"customer": [rules.SAME_CUSTOMER_TWICE]},
        3: {"reason": [rules.REASON_UNKNOWN]},
    }


def test_the_days_figures():
    lines = [
        rules.Line(1, 1, 10, visited=True, actual_quantity=12),
        rules.Line(2, 2, 20, visited=True, actual_quantity=0),
        rules.Line(3, 3, 30, visited=False),
        rules.Line(4, 4, 41, visited=True, actual_quantity=30),
    ]
    figures = rules.figures(lines)

    assert (figures.customers_planned, figures.customers_visited) == (4, 3)
    assert (figures.productive_stops, figures.zero_sale_visits, figures.unvisited_stops) == (
        2,
        1,
        1,
    )
    assert figures.visit_compliance == Decimal("75.00")  # 3 of 4
    assert figures.strike_rate == Decimal("50.00")  # 2 of 4 sold
    assert (figures.planned_total, figures.actual_total, figures.gap) == (101, 42, 59)
    assert all(type(n) is int for n in (figures.planned_total, figures.actual_total, figures.gap))
    assert figures.achievement_percent == Decimal("41.58")  # 42 / 101
    assert figures.drop_size == Decimal("21.00")  # 42 / 2 productive stops


def test_a_day_without_stops_has_figures_of_zero():
    figures = rules.figures([])
    assert figures.visit_compliance == figures.achievement_percent == figures.drop_size == 0


@pytest.mark.parametrize(
    ("number", "word", "said"),
    [(0, "stop", "0 stops"), (1, "stop", "1 stop"), (2, "saved day", "2 saved days"),
     (1, "line", "1 line")],
)  # fmt: skip
def test_counts_are_put_in_words_by_one_helper(number, word, said):
    assert text.counted(number, word) == said
    assert rules.LineErrors({index: {} for index in range(number)}).messages == [
        f"{text.counted(number, 'line')} refused."
    ]

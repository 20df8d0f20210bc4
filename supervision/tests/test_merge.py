"""Two people's changes to one day put together field by field (supervision.merge): what only
one changed is kept, the same value set by both is no conflict, different values are; a line
whose put-together fields break the rules is chosen field by field; lines added meanwhile keep
theirs; a base that is not one never passes for yours."""

import pytest

from supervision import merge, rules
from supervision.models import ReasonCode

pytestmark = pytest.mark.sqlite

UNTOUCHED = merge.Recorded(False, 0, "", "")


def line(customer: int, **fields) -> rules.Line:
    return rules.Line(customer_id=customer, stop_order=customer, planned_quantity=10, **fields)


def change(customer: int, visited=False, qty=0, reason="", note="") -> rules.Change:
    """A line as the page sends it: every field."""
    return rules.Change(customer, visited=visited, actual_quantity=qty, reason=reason, note=note)


def test_lines_only_one_person_changed_keep_that_persons_values():
    theirs = [line(1, visited=True, actual_quantity=7), line(2), line(3)]
    merged = merge.three_way(
        theirs=theirs,
        changes=[change(1), change(2, visited=True, qty=4), change(3, reason=ReasonCode.CLOSED)],
        bases={1: UNTOUCHED, 2: UNTOUCHED, 3: UNTOUCHED},
    )

    assert merged.lines == [
        line(1, visited=True, actual_quantity=7),  # theirs: you left it as you found it
        line(2, visited=True, actual_quantity=4),  # yours
        line(3, reason=ReasonCode.CLOSED),  # yours
    ]
    assert merged.conflicts == {} and merged.dropped == []
    assert set(merged.mine) == {2, 3}


def test_fields_of_one_line_merge_separately():
    theirs = [line(1, visited=True, actual_quantity=7)]
    merged = merge.three_way(
        theirs=theirs,
        changes=[change(1, note="Paid cash")],
        bases={1: UNTOUCHED},
    )
    assert merged.lines == [line(1, visited=True, actual_quantity=7, note="Paid cash")]
    assert merged.conflicts == {}


def test_the_same_value_set_by_both_is_not_a_conflict():
    theirs = [line(1, visited=True, actual_quantity=7)]
    merged = merge.three_way(
        theirs=theirs, changes=[change(1, visited=True, qty=7)], bases={1: UNTOUCHED}
    )
    assert merged.conflicts == {} and merged.lines == theirs


def test_different_values_of_one_field_are_a_choice_and_the_line_keeps_theirs_meanwhile():
    theirs = [line(1, visited=True, actual_quantity=7)]
    merged = merge.three_way(
        theirs=theirs, changes=[change(1, visited=True, qty=9)], bases={1: UNTOUCHED}
    )

    assert merged.conflicts == {1: {"actual_quantity": merge.Clash(9, 7)}}
    assert merged.lines == theirs
    assert merged.conflicting_fields() == [{"customer": 1, "fields": ["actual_quantity"]}]


def test_a_line_that_would_break_the_rules_put_together_is_chosen_field_by_field():
    # They sold 5 there; you say it was closed (a miss): neither half of each makes a line.
    theirs = [line(1, visited=True, actual_quantity=5)]
    merged = merge.three_way(
        theirs=theirs, changes=[change(1, reason=ReasonCode.CLOSED)], bases={1: UNTOUCHED}
    )

    assert merged.lines == theirs
    assert merged.conflicts == {
        1: {
            "visited": merge.Clash(False, True),
            "actual_quantity": merge.Clash(0, 5),
            "reason": merge.Clash(ReasonCode.CLOSED, ""),
        }
    }


def test_your_quantity_marks_the_stop_visited_with_its_notice():
    theirs = [line(1, note="Road works")]
    merged = merge.three_way(theirs=theirs, changes=[change(1, qty=5)], bases={1: UNTOUCHED})

    assert merged.lines == [line(1, visited=True, actual_quantity=5, note="Road works")]
    assert merged.notices == {1: [rules.MARKED_VISITED]}


def test_a_line_added_to_the_route_meanwhile_keeps_theirs():
    theirs = [line(1), line(2, visited=True, actual_quantity=3)]  # 2 was not on your page
    merged = merge.three_way(theirs=theirs, changes=[change(1, visited=True)], bases={1: UNTOUCHED})
    assert merged.lines == [line(1, visited=True), line(2, visited=True, actual_quantity=3)]
    assert merged.conflicts == {}


def test_a_stop_gone_from_the_day_is_dropped_only_if_you_changed_it():
    theirs = [line(1)]
    merged = merge.three_way(
        theirs=theirs,
        changes=[change(1), change(2, visited=True), change(3)],
        bases={1: UNTOUCHED, 2: UNTOUCHED, 3: UNTOUCHED},
    )
    assert merged.dropped == [2]


def test_without_a_base_every_field_you_send_that_differs_is_a_conflict():
    theirs = [line(1, visited=True, actual_quantity=7), line(2, visited=True)]
    merged = merge.three_way(
        theirs=theirs,
        changes=[
            rules.Change(1, actual_quantity=9),  # an API client sends one field
            rules.Change(2, visited=True),  # the same as theirs
        ],
        bases=None,
    )
    assert merged.conflicts == {1: {"actual_quantity": merge.Clash(9, 7)}}


def test_a_base_travels_as_short_json_and_back():
    base = merge.Recorded(True, 12, ReasonCode.OTHER, 'Said "later" 😊')
    assert merge.decode(base.encode()) == base
    assert merge.from_mapping(base.as_dict()) == base


@pytest.mark.parametrize(
    "text",
    [
        "", "nope", "[]", "[true, 1, \"\"]", '{"visited": true}', "[1, 1, \"\", \"\"]",
        '[true, 1e309, "", ""]', '[true, 1.9, "", ""]', '[true, -1, "", ""]',
        '[true, 1000000, "", ""]', '[true, true, "", ""]', '[true, 1, "bored", ""]',
        '[true, 1, [], ""]', '[true, 1, "", ["a"]]', '[true, 1, "", "\\u0000"]',
        '[true, 1, "", "' + "x" * 501 + '"]', "[" * 5000,
    ],
)  # fmt: skip
def test_what_is_not_a_base_is_none(text):
    assert merge.decode(text) is None


@pytest.mark.parametrize(
    "data",
    [None, [], "x", {"visited": True}, {**UNTOUCHED.as_dict(), "extra": 1},
     {**UNTOUCHED.as_dict(), "actual_quantity": "3"}],
)  # fmt: skip
def test_what_an_api_client_sends_that_is_not_a_base_is_none(data):
    assert merge.from_mapping(data) is None


@pytest.mark.parametrize(
    "text",
    ["", "[]", "{}", '{"colour": 1}', '{"actual_quantity": "9"}', '{"visited": 1}', "{" * 5000],
)
def test_choices_that_cannot_be_read_are_none(text):
    assert merge.decode_choices(text) is None


def test_your_side_of_the_choices_travels_and_back():
    clash = {"actual_quantity": merge.Clash(9, 7), "reason": merge.Clash("closed", "")}
    assert merge.decode_choices(merge.encode_choices(clash)) == {
        "actual_quantity": 9,
        "reason": "closed",
    }

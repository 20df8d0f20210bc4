"""The supervision API: the day, saving with its version, lines of a draft, reviews with their
cache and rate limit, sessions, reopening; the bad input the issue names; scope; schema."""

import datetime as dt
import json
import uuid

import pytest

from crm.testing import signed_in_api
from crm.testing.routes import route_with_stops
from supervision import rules, selectors
from supervision.api import views as api
from supervision.models import RouteSummary, SessionLine, SupervisionSession
from supervision.tests.helpers import customers, today

pytestmark = pytest.mark.django_db

API = "/api/supervision/"


def day_url(route, date=None, tail=""):
    return f"{API}days/{route.pk}/{(date or today()).isoformat()}/{tail}"


def body(version=0, lines=(), token=None):
    return {"record_version": version, "client_token": str(token or uuid.uuid4()),
            "lines": list(lines)}  # fmt: skip


def test_a_supervisor_opens_records_and_saves_a_day(supervisor_api, route):
    first, second, _ = customers(route)
    opened = supervisor_api.get(day_url(route))
    saved = supervisor_api.post(
        day_url(route, tail="save/"),
        body(lines=[{"customer": first, "visited": True, "actual_quantity": 12},
                    {"customer": second, "actual_quantity": "-5"}]),
        format="json",
    )  # fmt: skip

    assert opened.status_code == 200
    assert (opened.json()["status"], opened.json()["record_version"]) == ("new", 0)
    assert saved.status_code == 200, saved.json()
    day = saved.json()
    assert (day["status"], day["record_version"], day["read_only"]) == ("saved", 1, True)
    assert day["summary"]["customers_visited"] == 1 and day["summary"]["actual_total"] == 12
    assert [line["planned_quantity"] for line in day["lines"]] == [10, 20, 30]
    assert (day["summary"]["planned_total"], day["summary"]["gap"]) == (60, 48)
    assert {"customer": second, "message": rules.QUANTITY_RESET} in day["notices"]
    assert supervisor_api.get(day_url(route)).json()["id"] == day["id"]


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({"actual_quantity": 1_000_000}, "actual_quantity", rules.QUANTITY_TOO_LARGE),
        ({"actual_quantity": 3.5}, "actual_quantity", rules.QUANTITY_NOT_WHOLE),
        ({"actual_quantity": "ten"}, "actual_quantity", rules.QUANTITY_NOT_WHOLE),
        ({"actual_quantity": "1e309"}, "actual_quantity", rules.QUANTITY_TOO_LARGE),
        ({"reason": "bored"}, "reason", None),
        ({"customer": 987_654_321}, "customer", rules.NOT_A_STOP.format(route="{route}")),
        ({"customer": 1.9}, "customer", None),
        ({"customer": "1e309"}, "customer", None),
    ],
)
def test_bad_lines_are_a_400_on_their_line_and_nothing_is_saved(
    supervisor_api, route, line, field, message
):
    first = customers(route)[0]
    answer = supervisor_api.post(
        day_url(route, tail="save/"),
        body(lines=[{"customer": first, "visited": True}, {"customer": first, **line}]),
        format="json",
    )

    assert answer.status_code == 400, answer.json()
    errors = answer.json()["lines"]  # by the line's index in the request
    assert "0" not in errors and field in errors["1"]
    if message:
        assert errors["1"][field] == [message.format(route=route.code)]
    assert not SupervisionSession.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"record_version": "one", "lines": []},
        {"record_version": -1, "lines": []},
        {"record_version": 0, "lines": {"a": 1}},
        {"record_version": 0},
        [1, 2, 3],
    ],
)
def test_a_malformed_write_is_a_400(supervisor_api, route, payload):
    answer = supervisor_api.post(day_url(route, tail="save/"), payload, format="json")
    assert answer.status_code == 400


def test_a_stale_version_is_a_409_and_the_other_write_is_intact(supervisor_api, admin_api, route):
    first = customers(route)[0]
    supervisor_api.post(
        day_url(route, tail="save/"),
        body(lines=[{"customer": first, "visited": True, "actual_quantity": 7}]),
        format="json",
    )
    late = admin_api.post(
        day_url(route, tail="save/"),
        body(lines=[{"customer": first, "visited": True, "actual_quantity": 1}]),
        format="json",
    )

    assert late.status_code == 409
    answer = late.json()
    assert "after you read it" in answer["detail"] and answer["record_version"] == 1
    assert answer["read_only"] is True  # saved for good: nothing more can be sent
    assert answer["lines"][0]["actual_quantity"] == 7
    assert answer["conflicts"] == [{"customer": first, "fields": ["actual_quantity"]}]
    assert SessionLine.objects.get(customer_id=first).actual_quantity == 7


def test_a_saved_day_refuses_edits_with_403_and_an_old_unsaved_day_too(
    supervisor_api, route, settings
):
    settings.SUPERVISION_REVIEW_DAYS = 7
    saved = supervisor_api.post(day_url(route, tail="save/"), body(), format="json").json()
    again = supervisor_api.post(day_url(route, tail="save/"), body(version=1), format="json")
    old = supervisor_api.post(
        day_url(route, today() - dt.timedelta(days=8), "save/"), body(), format="json"
    )

    assert saved["read_only"] and again.status_code == 403 and old.status_code == 403
    assert "read-only" in again.json()["detail"]
    assert old.json()["detail"] == selectors.READ_ONLY_TOO_OLD.format(days="7 days")


def test_yesterday_is_read_and_saved_through_the_api(supervisor_api, route):
    yesterday = today() - dt.timedelta(days=1)
    first = customers(route)[0]
    read = supervisor_api.get(day_url(route, yesterday)).json()
    saved = supervisor_api.post(
        day_url(route, yesterday, "save/"),
        body(lines=[{"customer": first, "visited": True, "actual_quantity": 2}]),
        format="json",
    )

    assert (read["read_only"], read["read_only_reason"]) == (False, "")
    assert saved.status_code == 200 and saved.json()["status"] == "saved"


def test_lines_keep_a_draft_and_each_write_moves_the_version(supervisor_api, route):
    first = customers(route)[0]
    one = supervisor_api.patch(
        day_url(route, tail="lines/"),
        body(lines=[{"customer": first, "visited": True}]),
        format="json",
    )
    two = supervisor_api.patch(
        day_url(route, tail="lines"),
        body(version=1, lines=[{"customer": first, "actual_quantity": 4}]),
        format="json",
    )

    assert (one.json()["status"], one.json()["record_version"]) == ("draft", 1)
    assert (two.json()["status"], two.json()["record_version"]) == ("draft", 2)
    assert RouteSummary.objects.get().actual_total == 4


def test_the_same_client_token_twice_is_applied_once(supervisor_api, route):
    token = uuid.uuid4()
    first = supervisor_api.post(day_url(route, tail="save/"), body(token=token), format="json")
    second = supervisor_api.post(day_url(route, tail="save/"), body(token=token), format="json")

    assert first.status_code == second.status_code == 200
    assert second.json()["record_version"] == 1


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "2026-13-01", "yesterday"])
def test_odd_days_are_a_404(supervisor_api, route, date):
    assert supervisor_api.get(f"{API}days/{route.pk}/{date}/").status_code == 404
    answer = supervisor_api.post(f"{API}days/{route.pk}/{date}/save/", body(), format="json")
    assert answer.status_code == 404


def test_routes_outside_the_supervisors_teams_are_404_and_reps_get_403(
    route, other_rep, rep_api, supervisor_api
):
    outsider = signed_in_api(other_rep.team.manager)
    assert outsider.get(day_url(route)).status_code == 404
    assert outsider.post(day_url(route, tail="save/"), body(), format="json").status_code == 404
    assert supervisor_api.get(f"{API}days/99999999/{today()}/").status_code == 404
    assert rep_api.get(day_url(route)).status_code == 403
    assert not SupervisionSession.objects.exists()


def test_reviews_answer_from_the_cache_and_limit_new_ones_with_retry_after(supervisor_api, route):
    first, second, _ = customers(route)
    url = day_url(route, tail="analysis/")
    review = supervisor_api.post(url, {"kind": "route"}, format="json")
    cached = supervisor_api.post(url, {"kind": "route"}, format="json")
    other = supervisor_api.post(url, {"kind": "customer", "customer": first}, format="json")
    limited = supervisor_api.post(url, {"kind": "customer", "customer": second}, format="json")
    changed = supervisor_api.post(
        url,
        {"kind": "route", "lines": [{"customer": first, "visited": True, "actual_quantity": 3}]},
        format="json",
    )

    assert review.status_code == 200 and not review.json()["from_cache"]
    assert review.json()["provider"] == "rules" and review.json()["findings"]
    assert cached.status_code == 200 and cached.json()["from_cache"]
    assert other.status_code == 200  # another kind has its own limit
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 10
    assert changed.status_code == 429  # the same kind, new data: a new review, limited


def test_a_review_of_a_customer_not_on_the_route_is_a_400(supervisor_api, route):
    answer = supervisor_api.post(
        day_url(route, tail="analysis/"), {"kind": "customer", "customer": 123456}, format="json"
    )
    assert answer.status_code == 400 and "customer" in answer.json()


def test_sessions_are_listed_for_the_supervisors_routes_and_admins_reopen(
    supervisor_api, admin_api, route, other_rep
):
    supervisor_api.post(day_url(route, tail="save/"), body(), format="json")
    other_route = route_with_stops(other_rep)
    admin_api.post(day_url(other_route, tail="save/"), body(), format="json")
    session = SupervisionSession.objects.get(route=route)

    mine = supervisor_api.get(f"{API}sessions/").json()
    every = admin_api.get(f"{API}sessions/", {"route": other_route.pk}).json()
    refused = supervisor_api.post(
        f"{API}sessions/{session.pk}/reopen/",
        {"reason": "Late figures from the rep"},
        format="json",
    )
    short = admin_api.post(f"{API}sessions/{session.pk}/reopen/", {"reason": "x"}, format="json")
    reopened = admin_api.post(
        f"{API}sessions/{session.pk}/reopen/",
        {"reason": "Late figures from the rep"},
        format="json",
    )

    assert [row["route"]["code"] for row in mine["results"]] == [route.code]
    assert [row["route"]["code"] for row in every["results"]] == [other_route.code]
    assert supervisor_api.get(f"{API}sessions/", {"route": other_route.pk}).status_code == 400
    assert supervisor_api.get(f"{API}sessions/not-a-uuid/").status_code == 404
    assert refused.status_code == 403 and short.status_code == 400
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["record_version"]) == ("draft", 2)


@pytest.mark.parametrize("stops", [3, 60])
def test_the_day_runs_the_same_queries_for_3_or_60_stops(
    supervisor_api, rep, stops, assert_queries
):
    route = route_with_stops(rep, count=stops)
    supervisor_api.post(day_url(route, tail="save/"), body(), format="json")

    # the role, the day (route, session, summary), its lines with their customers
    with assert_queries(3):
        assert supervisor_api.get(day_url(route)).status_code == 200


def test_the_schema_documents_the_supervision_endpoints(rep_client):
    paths = rep_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    day = f"{API}days/{{route}}/{{date}}/"
    assert {"401", "403", "404"} <= set(paths[day]["get"]["responses"])
    assert {"200", "400", "403", "404", "409"} <= set(paths[f"{day}save/"]["post"]["responses"])
    assert "409" in paths[f"{day}lines/"]["patch"]["responses"]
    assert "429" in paths[f"{day}analysis/"]["post"]["responses"]
    assert f"{API}sessions/" in paths and f"{API}sessions/{{id}}/reopen/" in paths


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_version_one_200_the_rest_409(role_groups):
    """Threads, each with its own database connection, post a save of the same version at
    once: one is applied, every other is a 409, and the stored lines are the winner's."""
    import threading

    from django.db import connections

    from crm.tests.factories import SalesRepFactory

    rep = SalesRepFactory()
    route = route_with_stops(rep, count=20)
    every = customers(route)
    supervisor = rep.team.manager
    signed_in_api(supervisor).patch(day_url(route, tail="lines/"), body(), format="json")
    contenders = 8
    barrier = threading.Barrier(contenders)
    statuses: dict[int, int] = {}

    def contender(number: int) -> None:
        client = signed_in_api(supervisor)
        lines = [{"customer": c, "visited": True, "actual_quantity": number + 1} for c in every]
        barrier.wait()
        try:
            answer = client.post(day_url(route, tail="save/"), body(1, lines), format="json")
            statuses[number] = answer.status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses.values()) == [200] + [409] * (contenders - 1)
    winner = next(number for number, code in statuses.items() if code == 200)
    stored = set(
        SessionLine.objects.filter(session__route=route).values_list("actual_quantity", flat=True)
    )
    assert stored == {winner + 1}
    assert RouteSummary.objects.get(session__route=route).record_version == 2


UNTOUCHED = {"visited": False, "actual_quantity": 0, "reason": "", "note": ""}


def test_a_409_names_only_the_fields_both_changed_when_each_line_carries_its_base(
    supervisor_api, admin_api, route
):
    first, second, third = customers(route)
    admin_api.patch(
        day_url(route, tail="lines/"),
        body(lines=[{"customer": first, "visited": True, "actual_quantity": 7},
                    {"customer": third, "visited": True, "actual_quantity": 1}]),
        format="json",
    )  # fmt: skip
    late = supervisor_api.post(
        day_url(route, tail="save/"),
        body(lines=[
            {"customer": first, "visited": True, "actual_quantity": 7, "base": UNTOUCHED},
            {"customer": second, "reason": "closed", "base": UNTOUCHED},
            {"customer": third, "visited": True, "actual_quantity": 2, "base": UNTOUCHED},
        ]),
        format="json",
    )  # fmt: skip

    assert late.status_code == 409
    answer = late.json()
    assert (answer["record_version"], answer["read_only"]) == (1, False)
    assert answer["fields"] == ["record_version"]
    assert answer["written_by"] and answer["written_at"]
    assert {line["customer"]: line["actual_quantity"] for line in answer["lines"]} == {
        first: 7, second: 0, third: 1,
    }  # fmt: skip
    assert answer["conflicts"] == [{"customer": third, "fields": ["actual_quantity"]}]

    # The client merges (yours on the second line, the third chosen) and sends it again.
    again = supervisor_api.post(
        day_url(route, tail="save/"),
        body(version=answer["record_version"],
             lines=[{"customer": second, "reason": "closed"},
                    {"customer": third, "actual_quantity": 2}]),
        format="json",
    )  # fmt: skip
    assert again.status_code == 200
    assert [line["actual_quantity"] for line in again.json()["lines"]] == [7, 0, 2]


@pytest.mark.parametrize(
    "base",
    [
        "x", [], {"visited": True}, {**UNTOUCHED, "actual_quantity": "1e309"},
        {**UNTOUCHED, "actual_quantity": 1.9}, {**UNTOUCHED, "actual_quantity": -1},
        {**UNTOUCHED, "note": "\x00"}, {**UNTOUCHED, "reason": ["closed"]},
        {**UNTOUCHED, "visited": "yes"},
    ],
)  # fmt: skip
def test_a_base_that_is_not_one_is_a_400_on_its_line(supervisor_api, route, base):
    first = customers(route)[0]
    answer = supervisor_api.post(
        day_url(route, tail="save/"),
        body(lines=[{"customer": first, "visited": True, "base": base}]),
        format="json",
    )
    assert answer.status_code == 400
    assert "base" in answer.json()["lines"]["0"]
    assert not SupervisionSession.objects.exists()


@pytest.mark.parametrize("note", ["\x00", "half \ud800 a character", "ok\x00"])
def test_a_note_that_cannot_be_stored_is_a_400_never_a_500(supervisor_api, route, note):
    first = customers(route)[0]
    for tail in ("save/", "analysis/"):
        extra = {"kind": "route"} if tail == "analysis/" else {}
        payload = {**body(lines=[{"customer": first, "visited": True, "note": note}]), **extra}
        answer = supervisor_api.post(
            day_url(route, tail=tail), json.dumps(payload), content_type="application/json"
        )
        assert answer.status_code == 400, (tail, answer.content)
    assert not SupervisionSession.objects.exists()


def test_a_reopen_reason_that_cannot_be_stored_is_a_400(supervisor_api, admin_api, route):
    supervisor_api.post(day_url(route, tail="save/"), body(), format="json")
    session = SupervisionSession.objects.get()
    for reason in ("half \ud800 a character", "with a \x00 NUL in it"):
        answer = admin_api.post(
            f"{API}sessions/{session.pk}/reopen/",
            json.dumps({"reason": reason}),
            content_type="application/json",
        )
        assert answer.status_code == 400, reason
    assert SupervisionSession.objects.get().status == "saved"


def test_planned_quantities_and_totals_are_integers_in_the_schema(rep_client):
    schemas = rep_client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert schemas["Line"]["properties"]["planned_quantity"]["type"] == "integer"
    for name in ("planned_total", "actual_total", "gap"):
        assert schemas["Summary"]["properties"][name]["type"] == "integer"
    conflict = schemas["DayChanged"]["properties"]
    assert {"lines", "conflicts", "record_version"} <= set(conflict)


# Each value raw JSON, as a client could send it (1e309 is a number no float holds): every type
# JSON has (list, object, number, string, null, bool) and the values that broke a field once.
ODD_VALUES = ["[]", "{}", '{"a": [{"b": [1, {"c": null}]}]}', "1e309", '"1e309"', '"1.9"',
              '"\\u0000"', '"\\ud800"', "987654321", "2.5", '"text"', "null", "true",
              "false"]  # fmt: skip
# What each line field accepts among them (else: a 400 naming the field).
ACCEPTED = {
    "note": {'"1e309"', '"1.9"', '"text"'},
    "visited": {"true", "false"},
    "actual_quantity": {"null"},  # nothing typed: 0
}


@pytest.mark.parametrize(
    "field", ["customer", "visited", "actual_quantity", "reason", "note", "base"]
)
@pytest.mark.parametrize("value", ODD_VALUES)
def test_every_line_field_of_an_odd_type_or_value_is_a_400_on_its_line_never_a_500(
    supervisor_api, route, field, value
):
    first = customers(route)[0]
    line = {"customer": first, "visited": True, field: "<odd>"}
    for tail, extra in (("save/", {}), ("analysis/", {"kind": "route"})):
        payload = json.dumps({**body(lines=[line]), **extra}).replace('"<odd>"', value)
        answer = supervisor_api.generic(
            "POST", day_url(route, tail=tail), payload, content_type="application/json"
        )
        if value in ACCEPTED.get(field, ()):
            assert answer.status_code in (200, 429), (tail, answer.content)
            continue
        assert answer.status_code == 400, (tail, answer.content)
        assert field in answer.json()["lines"]["0"], (tail, answer.json())
    assert SupervisionSession.objects.exists() == (value in ACCEPTED.get(field, ()))


def test_a_stale_save_names_the_stops_that_left_the_day_and_keeps_the_rest_merged(
    supervisor_api, admin_api, route
):
    first, second, third = customers(route)
    route.stops.filter(customer_id=third).delete()
    admin_api.patch(
        day_url(route, tail="lines/"),
        body(lines=[{"customer": first, "visited": True, "actual_quantity": 7}]),
        format="json",
    )
    late = supervisor_api.post(
        day_url(route, tail="save/"),
        body(lines=[{"customer": second, "reason": "closed", "base": UNTOUCHED},
                    {"customer": third, "visited": True, "base": UNTOUCHED}]),
        format="json",
    )  # fmt: skip

    assert late.status_code == 409, late.json()
    answer = late.json()
    assert answer["dropped"] == [third] and answer["conflicts"] == []
    assert [line["customer"] for line in answer["lines"]] == [first, second]


def test_an_admin_reopens_an_old_draft_through_the_api(supervisor_api, admin_api, route, settings):
    settings.SUPERVISION_REVIEW_DAYS = 7
    old = today() - dt.timedelta(days=5)
    supervisor_api.patch(day_url(route, old, "lines/"), body(), format="json")
    settings.SUPERVISION_REVIEW_DAYS = 3
    session = SupervisionSession.objects.get()
    locked = supervisor_api.post(day_url(route, old, "save/"), body(version=1), format="json")
    refused = supervisor_api.post(
        f"{API}sessions/{session.pk}/reopen/", {"reason": "Back from leave"}, format="json"
    )
    reopened = admin_api.post(
        f"{API}sessions/{session.pk}/reopen/", {"reason": "Back from leave"}, format="json"
    )
    again = admin_api.post(
        f"{API}sessions/{session.pk}/reopen/", {"reason": "Back from leave"}, format="json"
    )
    saved = supervisor_api.post(day_url(route, old, "save/"), body(version=2), format="json")

    assert locked.status_code == 403 and refused.status_code == 403
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["record_version"]) == ("draft", 2)
    assert again.status_code == 400
    assert saved.status_code == 200 and saved.json()["status"] == "saved"


def test_lines_are_read_by_the_line_serializer_that_documents_them():
    # One reader of a line: what the schema shows is what is checked.
    for serializer in (api.SaveInputSerializer(), api.AnalysisInputSerializer()):
        assert isinstance(serializer.fields["lines"].child, api.LineInputSerializer)
    assert not hasattr(api, "_line") and not hasattr(api, "_visited")

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm import roles, selectors, services
from crm.models import (
    PHONE_INVALID,
    Activity,
    AuditEntry,
    Customer,
    CustomerStatus,
    Deal,
    DealStage,
    RouteStop,
)
from crm.testing import error_body
from crm.tests.factories import (
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    RouteFactory,
    RouteStopFactory,
    SalesRepFactory,
    TaskFactory,
)
from crm.validators import NOT_A_TEXT, NOTHING_VISIBLE, UNSTORABLE_TEXT

DEALS = "/api/deals/"
# The other resources, each with its factory and the field naming its rep.
OTHER_RESOURCES = [
    ("/api/customers/", CustomerFactory, "owner"),
    ("/api/activities/", ActivityFactory, "rep"),
    ("/api/tasks/", TaskFactory, "rep"),
    ("/api/routes/", RouteFactory, "rep"),
]


def _ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


# --- Authentication ---------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_anonymous_gets_401_with_challenge(api_client):
    response = api_client.get(DEALS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_token_authentication_for_scripts(rep):
    token = Token.objects.create(user=rep.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(DEALS).status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(DEALS).status_code == 401


@pytest.mark.django_db
def test_user_without_role_is_refused_everywhere(db):
    from crm.tests.factories import UserFactory

    DealFactory()
    client = APIClient()
    client.force_authenticate(UserFactory())
    assert client.get(DEALS).status_code == 403
    response = client.post("/api/customers/", {"code": "C-9", "name": "Kiosk"})
    assert response.status_code == 403
    assert not Customer.objects.filter(code="C-9").exists()


# --- Role scoping -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_rep_sees_only_own_deals_and_gets_404_for_others(rep, other_rep, rep_api):
    own = DealFactory(rep=rep)
    foreign = DealFactory(rep=other_rep)
    assert _ids(rep_api.get(DEALS)) == {own.pk}
    assert rep_api.get(f"{DEALS}{foreign.pk}/").status_code == 404
    assert rep_api.post(f"{DEALS}{foreign.pk}/close/", {"outcome": "won"}).status_code == 404
    assert rep_api.patch(f"{DEALS}{foreign.pk}/", {"title": "mine"}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.stage == DealStage.PROSPECTING


@pytest.mark.django_db
def test_supervisor_sees_their_teams_deals_only(rep, other_rep, supervisor_api):
    teammate = SalesRepFactory(team=rep.team)
    visible = {DealFactory(rep=rep).pk, DealFactory(rep=teammate).pk}
    foreign = DealFactory(rep=other_rep)
    assert _ids(supervisor_api.get(DEALS)) == visible
    assert supervisor_api.get(f"{DEALS}{foreign.pk}/").status_code == 404


@pytest.mark.django_db
def test_admin_sees_everything(rep, other_rep, admin_api):
    deals = {DealFactory(rep=rep).pk, DealFactory(rep=other_rep).pk}
    assert _ids(admin_api.get(DEALS)) == deals


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "factory", "rep_field"), OTHER_RESOURCES)
def test_every_resource_is_scoped_to_the_rep(endpoint, factory, rep_field, rep, other_rep, rep_api):
    own = factory(**{rep_field: rep})
    foreign = factory(**{rep_field: other_rep})
    assert _ids(rep_api.get(endpoint)) == {own.pk}
    assert rep_api.get(f"{endpoint}{foreign.pk}/").status_code == 404


# --- Deals: happy path ------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_rep_creates_a_deal_for_themselves(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    response = rep_api.post(
        DEALS, {"customer": customer.pk, "title": "Summer order", "amount": "1250.50"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rep"]["id"] == rep.pk
    assert body["stage"] == "prospecting"
    assert body["amount"] == "1250.50"
    assert AuditEntry.objects.filter(action="deal.create", target_id=str(body["id"])).exists()


@pytest.mark.django_db
def test_close_won_sets_closed_at_and_closing_twice_is_400(rep, rep_api):
    deal = DealFactory(rep=rep)
    response = rep_api.post(f"{DEALS}{deal.pk}/close/", {"outcome": "won"})
    assert response.status_code == 200
    assert response.json()["stage"] == "closed_won"
    assert response.json()["closed_at"] is not None
    again = rep_api.post(f"{DEALS}{deal.pk}/close/", {"outcome": "lost"})
    assert again.status_code == 400
    assert error_body(again) == {"non_field_errors": [services.DEAL_ALREADY_CLOSED]}
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON


@pytest.mark.django_db
def test_reopen_clears_closed_at(rep, rep_api):
    deal = DealFactory(rep=rep, stage=DealStage.CLOSED_LOST)
    response = rep_api.post(f"{DEALS}{deal.pk}/reopen/")
    assert response.status_code == 200
    assert response.json()["closed_at"] is None


@pytest.mark.django_db
def test_supervisor_assigns_a_deal_to_a_team_rep_but_not_to_another_team(
    rep, other_rep, supervisor_api
):
    customer = CustomerFactory(owner=rep)
    ok = supervisor_api.post(
        DEALS, {"customer": customer.pk, "rep": rep.pk, "title": "T", "amount": "1"}
    )
    assert ok.status_code == 201
    refused = supervisor_api.post(
        DEALS, {"customer": customer.pk, "rep": other_rep.pk, "title": "T", "amount": "1"}
    )
    assert refused.status_code == 400
    assert "rep" in refused.json()


@pytest.mark.django_db
def test_patch_updates_open_deal_and_refuses_closed_stage(rep, rep_api):
    deal = DealFactory(rep=rep)
    response = rep_api.patch(f"{DEALS}{deal.pk}/", {"stage": "qualified", "amount": "99"})
    assert response.status_code == 200
    assert response.json()["stage"] == "qualified"
    refused = rep_api.patch(f"{DEALS}{deal.pk}/", {"stage": "closed_won"})
    assert refused.status_code == 400
    assert "stage" in refused.json()


@pytest.mark.django_db
def test_deal_filters_by_stage_and_open(rep, rep_api):
    won = DealFactory(rep=rep, stage=DealStage.CLOSED_WON)
    open_deal = DealFactory(rep=rep, stage=DealStage.PROPOSAL)
    assert _ids(rep_api.get(DEALS, {"stage": "closed_won"})) == {won.pk}
    assert _ids(rep_api.get(DEALS, {"open": "true"})) == {open_deal.pk}
    assert rep_api.get(DEALS, {"stage": "nonsense"}).status_code == 400


# --- Deals: bad input -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"amount": "a lot"}, "amount"),
        ({"stage": "negotiating"}, "stage"),
        ({"title": "x" * 201}, "title"),
        ({"title": ""}, "title"),
        ({"customer": "abc"}, "customer"),
        ({"customer": 999_999}, "customer"),
    ],
)
def test_bad_deal_input_is_400_with_field_errors_and_writes_nothing(override, field, rep, rep_api):
    customer = CustomerFactory(owner=rep)
    payload = {"customer": customer.pk, "title": "T", "amount": "10", **override}
    response = rep_api.post(DEALS, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Deal.objects.exists()


@pytest.mark.django_db
def test_customer_the_rep_may_not_see_is_400_not_a_leak(rep, other_rep, rep_api):
    foreign_customer = CustomerFactory(owner=other_rep)
    response = rep_api.post(DEALS, {"customer": foreign_customer.pk, "title": "T", "amount": "10"})
    assert response.status_code == 400
    assert "does not exist" in response.json()["customer"][0]
    assert not Deal.objects.exists()


@pytest.mark.django_db
def test_malformed_json_is_400(rep_api):
    response = rep_api.generic("POST", DEALS, "{not json", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.django_db
@pytest.mark.parametrize("length", ["²", "-1", "1e309", "nan"])
def test_a_content_length_that_is_not_a_number_is_never_a_500(rep_api, length):
    response = rep_api.generic(
        "POST", DEALS, b"{}", content_type="application/json", CONTENT_LENGTH=length
    )
    assert response.status_code < 500


def test_oversized_body_is_413(rep_api, settings):
    response = rep_api.generic(
        "POST", DEALS, '{"title": "' + "x" * 2_000_000 + '"}', content_type="application/json"
    )
    assert response.status_code == 413
    assert not Deal.objects.exists()


def test_throttled_client_gets_429(rep, rep_api, monkeypatch):
    from crm.api.throttling import FailOpenUserRateThrottle

    monkeypatch.setattr(FailOpenUserRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    statuses = [rep_api.get(DEALS).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_negative_amount_is_refused_by_the_database_itself(rep):
    deal = DealFactory(rep=rep)
    with pytest.raises(IntegrityError):
        Deal.objects.filter(pk=deal.pk).update(amount=Decimal("-1"))


def test_unknown_stage_is_refused_by_the_database_itself(rep):
    deal = DealFactory(rep=rep)
    with pytest.raises(IntegrityError):
        Deal.objects.filter(pk=deal.pk).update(stage="bogus")


# --- Query counts -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("deal_count", [3, 60])
def test_deal_list_query_count_is_constant(deal_count, rep, rep_client, assert_queries):
    customer = CustomerFactory(owner=rep)
    DealFactory.create_batch(deal_count, rep=rep, customer=customer)
    # session, user, the user's zone (rep profile), role groups, count, page
    with assert_queries(6):
        response = rep_client.get(DEALS)
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(deal_count, 50)


@pytest.mark.django_db
def test_page_size_is_capped(admin_api, rep):
    DealFactory.create_batch(3, rep=rep)
    assert admin_api.get(DEALS, {"page_size": 5000}).status_code == 200
    assert admin_api.get(DEALS, {"page": 99}).status_code == 404


# --- Activities, tasks, customers -------------------------------------------------------------


@pytest.mark.django_db
def test_activity_create_and_complete(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    created = rep_api.post(
        "/api/activities/",
        {"kind": "visit", "due_at": "2026-12-01T09:00:00Z", "customer": customer.pk},
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    done = rep_api.post(f"/api/activities/{pk}/complete/")
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert error_body(rep_api.post(f"/api/activities/{pk}/complete/")) == {
        "non_field_errors": [services.ACTIVITY_NOT_PLANNED]
    }


@pytest.mark.django_db
def test_activity_bad_kind_and_date(rep_api):
    response = rep_api.post("/api/activities/", {"kind": "fax", "due_at": "tomorrow-ish"})
    assert response.status_code == 400
    assert set(error_body(response)) == {"kind", "due_at"}


@pytest.mark.django_db
def test_task_create_and_mark_done(rep_api):
    created = rep_api.post("/api/tasks/", {"title": "Call back"})
    assert created.status_code == 201
    pk = created.json()["id"]
    done = rep_api.patch(f"/api/tasks/{pk}/", {"status": "done"})
    assert done.json()["status"] == "done"
    assert done.json()["completed_at"] is not None
    assert rep_api.patch(f"/api/tasks/{pk}/", {"status": "maybe"}).status_code == 400


@pytest.mark.django_db
def test_customer_create_and_sign_up(rep, rep_api):
    created = rep_api.post("/api/customers/", {"code": "C-1", "name": "Bar Luna"})
    assert created.status_code == 201, created.json()
    assert created.json()["owner"]["id"] == rep.pk
    pk = created.json()["id"]
    signed = rep_api.post(f"/api/customers/{pk}/sign-up/")
    assert signed.json()["status"] == "active"
    assert signed.json()["signed_up_at"] is not None
    again = rep_api.post(f"/api/customers/{pk}/sign-up/")
    assert again.status_code == 400
    duplicate = rep_api.post("/api/customers/", {"code": "C-1", "name": "Other"})
    assert duplicate.status_code == 400
    assert "code" in duplicate.json()


# --- Routes -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_route_detail_lists_stops_in_order(rep, rep_api):
    route = RouteFactory(rep=rep, code="1004")
    RouteStopFactory(route=route, sequence=2)
    RouteStopFactory(route=route, sequence=1)
    body = rep_api.get(f"/api/routes/{route.pk}/").json()
    assert body["code"] == "1004"
    assert [stop["sequence"] for stop in body["stops"]] == [1, 2]


@pytest.mark.django_db
def test_duplicate_route_stop_is_400_with_field_errors(rep, supervisor_api):
    route = RouteFactory(rep=rep, code="1004")
    customer = CustomerFactory(owner=rep)
    RouteStopFactory(route=route, customer=customer, sequence=1)
    other_customer = CustomerFactory(owner=rep)

    same_sequence = supervisor_api.post(
        f"/api/routes/{route.pk}/stops/", {"customer": other_customer.pk, "sequence": 1}
    )
    assert same_sequence.status_code == 400
    assert error_body(same_sequence) == {
        "sequence": [services.ROUTE_STOP_SEQUENCE_TAKEN.format(route="1004", sequence=1)]
    }
    same_customer = supervisor_api.post(
        f"/api/routes/{route.pk}/stops/", {"customer": customer.pk, "sequence": 2}
    )
    assert same_customer.status_code == 400
    assert "customer" in same_customer.json()
    assert RouteStop.objects.count() == 1

    ok = supervisor_api.post(
        f"/api/routes/{route.pk}/stops/",
        {"customer": other_customer.pk, "sequence": 2, "planned_quantity": "12"},
    )
    assert ok.status_code == 201
    assert ok.json()["planned_quantity"] == 12


@pytest.mark.django_db
def test_duplicate_route_stop_is_refused_by_the_database_itself(rep):
    stop = RouteStopFactory(route=RouteFactory(rep=rep), sequence=1)
    with pytest.raises(IntegrityError):
        RouteStop.objects.create(route=stop.route, customer=CustomerFactory(), sequence=1)


@pytest.mark.django_db
def test_rep_may_not_change_routes(rep, rep_api):
    route = RouteFactory(rep=rep)
    response = rep_api.post(
        f"/api/routes/{route.pk}/stops/", {"customer": CustomerFactory(owner=rep).pk, "sequence": 1}
    )
    assert response.status_code == 403


# --- Schema -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_and_docs_need_a_login(client):
    assert client.get("/api/schema/").status_code == 401
    assert client.get("/api/docs/").status_code == 401


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(rep_client):
    schema = rep_client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ["/api/deals/", "/api/deals/{id}/close/", "/api/routes/{id}/stops/"]:
        assert path in paths
    docs = rep_client.get("/api/docs/")
    assert docs.status_code == 200
    # Everything the docs page loads is served by the app (no CDN).
    external = re.findall(r'(?:src|href)\s*=\s*["\'](https?:)?//', docs.content.decode())
    assert external == []


@pytest.mark.django_db
def test_paging_with_ordering_on_equal_values_neither_repeats_nor_skips(rep, rep_api):
    customer = CustomerFactory(owner=rep)
    created = {deal.pk for deal in DealFactory.create_batch(7, rep=rep, customer=customer)}
    seen = []
    for page in (1, 2, 3):
        response = rep_api.get(DEALS, {"ordering": "amount", "page_size": 3, "page": page})
        seen += [row["id"] for row in response.json()["results"]]
    assert sorted(seen) == sorted(created)


# --- Search and ordering: the pages' rules ------------------------------------------------------

NOW = timezone.now().replace(microsecond=0)


def _a_bit_of_everything(rep) -> None:
    """Rows that sort differently by every ordering: ties, NULLs, every status."""
    customers = [
        CustomerFactory(owner=rep, name=name, code=code, address=address)
        for name, code, address in [
            ("Bar Sol", "B-2", "Calle Mayor 1"), ("Abacería", "B-1", "Plaza Sol 3"),
            ("Kiosko", "A-9", "Calle Luna 5"), ("Bar Sol", "A-7", "Calle Mayor 2"),
        ]
    ]  # fmt: skip
    services.customer_sign_up(actor=rep.user, customer_id=customers[1].pk)
    for index, (amount, stage) in enumerate(
        [(500, "prospecting"), (500, "closed_won"), (900, "closed_lost"), (100, "proposal")]
    ):
        DealFactory(
            rep=rep, customer=customers[index % 3], amount=Decimal(amount), stage=stage,
            title=f"Summer order {index}" if index % 2 else f"Order {index}",
        )  # fmt: skip
    for index, status in enumerate(["planned", "completed", "planned", "cancelled"]):
        ActivityFactory(
            rep=rep, customer=customers[index % 3], status=status,
            due_at=NOW + dt.timedelta(days=index % 2 - 1),
            completed_at=NOW if status == "completed" else None,
        )  # fmt: skip
    for index, status in enumerate(["open", "done", "open", "open"]):
        TaskFactory(
            rep=rep, status=status, title=f"Call Ana {index}" if index % 2 else f"Visit {index}",
            due_at=None if index == 2 else NOW + dt.timedelta(days=index % 2),
            completed_at=NOW if status == "done" else None,
        )  # fmt: skip


LISTS = [
    ("/api/customers/", "customer-list", selectors.CUSTOMER_ORDERINGS, "luna"),
    ("/api/deals/", "deal-list", selectors.DEAL_ORDERINGS, "summer"),
    ("/api/activities/", "activity-list", selectors.ACTIVITY_ORDERINGS, "bar sol"),
    ("/api/tasks/", "task-list", selectors.TASK_ORDERINGS, "call"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "page", "orderings", "text"), LISTS)
def test_the_api_lists_search_and_sort_as_their_pages_do(
    rep, rep_api, rep_client, url, page, orderings, text
):
    _a_bit_of_everything(rep)

    def api(**query) -> list[int]:
        return [row["id"] for row in rep_api.get(url, query).json()["results"]]

    def shown(**query) -> list[int]:
        return [row.pk for row in rep_client.get(reverse(page), query).context["page_obj"]]

    for key in ["", *orderings]:
        assert api(ordering=key) == shown(ordering=key), key
        assert api(ordering=key, search=text) == shown(ordering=key, search=text), key
    assert api() == api(ordering=next(iter(orderings)))  # the first one is the default
    assert 0 < len(api(search=text)) < len(api())


@pytest.mark.django_db
def test_the_api_lists_activities_upcoming_first_unless_asked_otherwise(rep, rep_api):
    done = ActivityFactory(rep=rep, status="completed", due_at=NOW, completed_at=NOW)
    later = ActivityFactory(rep=rep, due_at=NOW + dt.timedelta(days=2))
    sooner = ActivityFactory(rep=rep, due_at=NOW + dt.timedelta(days=1))

    default = rep_api.get("/api/activities/").json()["results"]
    by_due = rep_api.get("/api/activities/", {"ordering": "-due"}).json()["results"]

    assert [row["id"] for row in default] == [sooner.pk, later.pk, done.pk]
    assert [row["id"] for row in by_due] == [later.pk, sooner.pk, done.pk]


@pytest.mark.django_db
def test_customers_are_searched_in_their_address_on_the_page_and_in_the_api(
    rep, rep_api, rep_client
):
    CustomerFactory(owner=rep, name="Kiosko", address="Paseo Marítimo 4")
    CustomerFactory(owner=rep, name="Bar Luna", address="Calle Mayor 1")

    api = rep_api.get("/api/customers/", {"search": "marítimo"}).json()["results"]
    page = rep_client.get(reverse("customer-list"), {"search": "marítimo"}).context["page_obj"]

    assert [row["name"] for row in api] == [customer.name for customer in page] == ["Kiosko"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [row[0] for row in LISTS] + ["/api/routes/"])
@pytest.mark.parametrize(
    ("query", "field"),
    [({"ordering": "created_at"}, "ordering"), ({"ordering": "title"}, "ordering"),
     ({"ordering": "1e309"}, "ordering"), ({"ordering": "due\x00"}, "ordering"),
     ({"ordering": "-"}, "ordering"), ({"search": "sol\x00"}, "search"),
     ({"search": "x" * 101}, "search")],
)  # fmt: skip
def test_a_search_or_ordering_the_list_does_not_have_is_a_400(rep_api, url, query, field):
    response = rep_api.get(url, query)

    assert response.status_code == 400
    assert list(error_body(response)) == [field]


@pytest.mark.django_db
def test_several_orderings_given_take_the_last_never_a_500(rep, rep_api):
    DealFactory(rep=rep)
    response = rep_api.get("/api/deals/?ordering=bogus&ordering=-amount")
    assert response.status_code == 200


@pytest.mark.django_db
def test_routes_are_searched_and_sorted_by_their_selector(rep, rep_api):
    RouteFactory(rep=rep, code="2002", name="Coast")
    RouteFactory(rep=rep, code="1001", name="Hills")
    RouteFactory(rep=rep, code="3003", name="Old coast road")

    by_code = rep_api.get("/api/routes/").json()["results"]
    by_name = rep_api.get("/api/routes/", {"ordering": "-name"}).json()["results"]
    coast = rep_api.get("/api/routes/", {"search": "coast"}).json()["results"]

    assert [row["code"] for row in by_code] == ["1001", "2002", "3003"]
    assert [row["code"] for row in by_name] == ["3003", "1001", "2002"]
    assert [row["code"] for row in coast] == ["2002", "3003"]


@pytest.mark.django_db
def test_the_schema_documents_each_lists_search_and_orderings_with_the_default(rep_client):
    paths = rep_client.get("/api/schema/", {"format": "json"}).json()["paths"]

    for url, orderings in [
        ("/api/customers/", selectors.CUSTOMER_ORDERINGS),
        ("/api/deals/", selectors.DEAL_ORDERINGS),
        ("/api/activities/", selectors.ACTIVITY_ORDERINGS),
        ("/api/tasks/", selectors.TASK_ORDERINGS),
        ("/api/routes/", selectors.ROUTE_ORDERINGS),
    ]:
        parameters = {p["name"]: p for p in paths[url]["get"]["parameters"]}
        ordering = parameters["ordering"]
        assert sorted(ordering["schema"]["enum"]) == sorted(orderings)
        assert f"without it, `{next(iter(orderings))}`" in ordering["description"]
        assert "search" in parameters
        assert [p["name"] for p in paths[url]["get"]["parameters"]].count("ordering") == 1


@pytest.mark.django_db
def test_supervisor_must_name_the_owner_of_a_new_customer(rep, other_rep, supervisor_api):
    missing = supervisor_api.post("/api/customers/", {"code": "C-1", "name": "Kiosk"})
    assert missing.status_code == 400
    assert error_body(missing) == {"owner": [roles.OWNER_REQUIRED]}
    foreign = supervisor_api.post(
        "/api/customers/", {"code": "C-1", "name": "Kiosk", "owner": other_rep.pk}
    )
    assert foreign.status_code == 400
    assert not Customer.objects.exists()
    ok = supervisor_api.post("/api/customers/", {"code": "C-1", "name": "Kiosk", "owner": rep.pk})
    assert ok.status_code == 201
    assert ok.json()["owner"]["id"] == rep.pk


@pytest.mark.django_db
def test_admin_signs_up_an_unowned_prospect_by_naming_its_rep(rep, admin_api):
    created = admin_api.post("/api/customers/", {"code": "C-2", "name": "Kiosk"})
    assert created.status_code == 201
    assert created.json()["owner"] is None
    url = f"/api/customers/{created.json()['id']}/sign-up/"
    missing = admin_api.post(url)
    assert missing.status_code == 400
    assert error_body(missing) == {"owner": [roles.OWNER_REQUIRED]}
    signed = admin_api.post(url, {"owner": rep.pk})
    assert signed.status_code == 200
    assert signed.json()["owner"]["id"] == rep.pk
    assert signed.json()["status"] == "active"


@pytest.mark.django_db
def test_deal_for_a_rep_on_another_reps_customer_is_refused(rep, supervisor_api):
    teammate = SalesRepFactory(team=rep.team)
    customer = CustomerFactory(owner=rep)
    response = supervisor_api.post(
        DEALS, {"customer": customer.pk, "rep": teammate.pk, "title": "T", "amount": "5"}
    )
    assert response.status_code == 400
    assert error_body(response) == {"customer": [services.CUSTOMER_OF_ANOTHER_REP]}
    assert not Deal.objects.exists()


@pytest.mark.django_db
def test_api_keeps_answering_when_the_cache_is_down(rep, rep_api, settings):
    from crm.testing.servers import free_port

    # A real cache client pointed at a port where nothing listens: every call fails.
    # (Changing CACHES makes Django drop its cache connections.)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    assert rep_api.get(DEALS).status_code == 200


@pytest.mark.django_db
def test_malformed_token_is_401_not_500(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token abc\x00def")
    assert api_client.get(DEALS).status_code == 401


@pytest.mark.django_db
def test_filtering_by_a_rep_outside_the_scope_is_refused_like_a_missing_one(
    rep, other_rep, rep_api
):
    outside = rep_api.get(DEALS, {"rep": other_rep.pk})
    missing = rep_api.get(DEALS, {"rep": 999_999})
    assert outside.status_code == missing.status_code == 400
    assert set(error_body(outside)) == set(error_body(missing)) == {"rep"}
    assert rep_api.get(DEALS, {"rep": rep.pk}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "factory", "rep_field"), OTHER_RESOURCES)
@pytest.mark.parametrize("batch", [2, 25])
def test_every_list_runs_the_same_few_queries_whatever_the_row_count(
    endpoint, factory, rep_field, rep, rep_client, batch, assert_queries
):
    factory.create_batch(batch, **{rep_field: rep})

    # session, user, the user's zone (rep profile), role groups, count, page
    with assert_queries(6):
        assert rep_client.get(endpoint).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("stops", [2, 12])
def test_route_detail_query_count_does_not_grow_with_stops(rep, rep_client, stops, assert_queries):
    route = RouteFactory(rep=rep)
    RouteStopFactory.create_batch(stops, route=route)
    # session, user, the user's zone, role groups, route, stops with their customers
    with assert_queries(6):
        assert rep_client.get(f"/api/routes/{route.pk}/").status_code == 200


# --- Customers' contacts, activities logged done, whole planned quantities --------------------

CUSTOMERS = "/api/customers/"
ACTIVITIES = "/api/activities/"


def _an_hour_ago() -> str:
    return (timezone.now() - dt.timedelta(hours=1)).isoformat()


@pytest.mark.django_db
def test_a_customer_is_created_with_its_contact_and_a_code_made_up(rep, rep_api):
    created = rep_api.post(
        CUSTOMERS,
        {
            "name": "Kiosko La Playa",
            "contact_name": "Rosa Vidal",
            "phone": "+34 600 12 34 56",
            "email": "rosa@kiosko.example",
            "address": "Paseo Marítimo 4",
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["code"].startswith("C-")
    assert {key: body[key] for key in ("contact_name", "phone", "email", "status")} == {
        "contact_name": "Rosa Vidal",
        "phone": "+34 600 12 34 56",
        "email": "rosa@kiosko.example",
        "status": "prospect",
    }


@pytest.mark.django_db
def test_a_customer_whose_made_up_codes_are_all_taken_is_a_400_on_the_code(
    rep, rep_api, monkeypatch
):
    CustomerFactory(code="C-AAAAAA", owner=rep)
    monkeypatch.setattr(services, "new_customer_codes", lambda: ["C-AAAAAA"])

    refused = rep_api.post(CUSTOMERS, {"name": "Kiosk"}, format="json")

    assert refused.status_code == 400
    assert error_body(refused) == {"code": [services.CUSTOMER_CODES_TAKEN]}


@pytest.mark.django_db
def test_patch_changes_a_customers_contact_details_only(rep, rep_api):
    customer = CustomerFactory(owner=rep, name="Bar Sol", phone="600 111 222")

    response = rep_api.patch(
        f"{CUSTOMERS}{customer.pk}/", {"phone": "600 333 444", "email": ""}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["phone"]) == ("Bar Sol", "600 333 444")
    entry = AuditEntry.objects.get(action="customer.update")
    assert entry.changes == {"phone": ["600 111 222", "600 333 444"]}
    # Status and owner are not contact details: they are not written here.
    rep_api.patch(f"{CUSTOMERS}{customer.pk}/", {"status": "active", "owner": 1}, format="json")
    customer.refresh_from_db()
    assert (customer.status, customer.owner) == (CustomerStatus.PROSPECT, rep)


@pytest.mark.django_db
def test_a_rep_gets_404_patching_another_reps_customer(rep_api, other_rep):
    customer = CustomerFactory(owner=other_rep, name="Not mine")

    response = rep_api.patch(f"{CUSTOMERS}{customer.pk}/", {"name": "Mine"}, format="json")

    assert response.status_code == 404
    customer.refresh_from_db()
    assert customer.name == "Not mine"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "errors"),
    [
        ("phone", "call me", [PHONE_INVALID]),
        ("phone", "1" * 41, ["Ensure this field has no more than 40 characters."]),
        ("phone", ["600 111 222"], [NOT_A_TEXT]),
        ("email", "nobody", ["Enter a valid email address."]),
        ("contact_name", "a\x00b", [UNSTORABLE_TEXT]),
        ("name", "\u200b\u200b", [NOTHING_VISIBLE]),
        ("name", "", ["This field may not be blank."]),
        ("name", {"first": "Bar"}, [NOT_A_TEXT]),
        ("name", 12, [NOT_A_TEXT]),
        ("address", "x" * 301, ["Ensure this field has no more than 300 characters."]),
    ],
)
def test_bad_contact_details_are_400_on_create_and_patch(rep, rep_api, field, value, errors):
    customer = CustomerFactory(owner=rep, name="Bar Sol")

    created = rep_api.post(CUSTOMERS, {"name": "Kiosk", field: value}, format="json")
    patched = rep_api.patch(f"{CUSTOMERS}{customer.pk}/", {field: value}, format="json")

    assert (created.status_code, patched.status_code) == (400, 400)
    assert error_body(created) == {field: errors}
    assert error_body(patched) == {field: errors}
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_an_activity_done_already_is_logged_with_its_outcome(rep, rep_api):
    when = _an_hour_ago()

    logged = rep_api.post(
        ACTIVITIES,
        {
            "kind": "visit",
            "due_at": when,
            "status": "completed",
            "outcome": "ordered",
            "notes": "Two cases.",
        },
        format="json",
    )

    assert logged.status_code == 201, logged.json()
    body = logged.json()
    assert (body["status"], body["outcome"], body["notes"]) == (
        "completed",
        "ordered",
        "Two cases.",
    )
    assert body["completed_at"] == body["due_at"]
    assert AuditEntry.objects.get(target_id=str(body["id"])).action == "activity.log"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"status": "completed", "due_at": "2099-01-01T10:00:00Z"},
            {"due_at": [services.ACTIVITY_DONE_IN_FUTURE]},
        ),
        ({"outcome": "ordered"}, {"outcome": [services.ACTIVITY_OUTCOME_WHEN_DONE]}),
        ({"status": "cancelled"}, {"status": ['"cancelled" is not a valid choice.']}),
        ({"status": ["completed"]}, {"status": ["\"['completed']\" is not a valid choice."]}),
        (
            {"outcome": "party", "status": "completed"},
            {"outcome": ['"party" is not a valid choice.']},
        ),
        ({"notes": "x" * 2001}, {"notes": ["Ensure this field has no more than 2000 characters."]}),
        ({"notes": "\x00"}, {"notes": [UNSTORABLE_TEXT]}),
        ({"due_at": "1e309"}, None),
        ({"due_at": "0001-01-01T00:00:00Z"}, None),
        ({"due_at": "9999-12-31T23:00:00Z"}, None),
    ],
)
def test_bad_activity_input_is_400(rep_api, body, errors):
    response = rep_api.post(
        ACTIVITIES, {"kind": "call", "due_at": _an_hour_ago(), **body}, format="json"
    )

    assert response.status_code == 400
    if errors is not None:
        assert error_body(response) == errors
    else:
        assert set(error_body(response)) == {"due_at"}
    assert not Activity.objects.exists()


@pytest.mark.django_db
def test_completing_through_the_api_takes_outcome_and_notes(rep, rep_api):
    activity = ActivityFactory(rep=rep, notes="Planned notes.")
    other = ActivityFactory(rep=rep, notes="Keep me.")

    done = rep_api.post(
        f"{ACTIVITIES}{activity.pk}/complete/",
        {"outcome": "no_answer", "notes": "Closed on Mondays."},
        format="json",
    )
    quick = rep_api.post(f"{ACTIVITIES}{other.pk}/complete/", {}, format="json")
    bad = rep_api.post(
        f"{ACTIVITIES}{ActivityFactory(rep=rep).pk}/complete/", {"outcome": "meh"}, format="json"
    )

    assert (done.json()["outcome"], done.json()["notes"]) == ("no_answer", "Closed on Mondays.")
    assert (quick.json()["status"], quick.json()["notes"]) == ("completed", "Keep me.")
    assert bad.status_code == 400 and "outcome" in bad.json()


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", ["1.9", 1.9, "1e309", "nan", -1, 1_000_000, [3], {"n": 3}])
def test_a_planned_quantity_that_is_not_a_whole_number_in_range_is_400(
    rep, supervisor_api, quantity
):
    route = RouteFactory(rep=rep)

    response = supervisor_api.post(
        f"/api/routes/{route.pk}/stops/",
        {"customer": CustomerFactory(owner=rep).pk, "sequence": 1, "planned_quantity": quantity},
        format="json",
    )

    assert response.status_code == 400
    assert set(error_body(response)) == {"planned_quantity"}
    assert not RouteStop.objects.exists()


@pytest.mark.django_db
def test_route_stops_read_whole_planned_quantities(rep, rep_api):
    route = RouteFactory(rep=rep)
    RouteStopFactory(route=route, planned_quantity=30)

    stops = rep_api.get(f"/api/routes/{route.pk}/").json()["stops"]

    assert stops[0]["planned_quantity"] == 30


@pytest.mark.django_db
def test_a_planned_quantity_too_large_for_a_float_is_400(rep, supervisor_api):
    route = RouteFactory(rep=rep)
    customer = CustomerFactory(owner=rep)
    body = f'{{"customer": {customer.pk}, "sequence": 1, "planned_quantity": 1e309}}'

    response = supervisor_api.generic(
        "POST", f"/api/routes/{route.pk}/stops/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert not RouteStop.objects.exists()

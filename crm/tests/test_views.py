"""The server-rendered pages, through HTTP: scope, role gating, form validation, htmx actions and
the number of queries a list page runs."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.models import Activity, ActivityStatus, AuditEntry, Deal, DealStage
from crm.roles import GROUP_ADMIN
from crm.tests.factories import (
    PASSWORD,
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    SalesRepFactory,
    UserFactory,
)
from crm.web import PAGE_SIZE

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep.user)
    return client


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def nav_html(response) -> str:
    match = re.search(r'<nav class="mainnav".*?</nav>', response.content.decode(), re.S)
    assert match, "the page has no main navigation"
    return match.group(0)


def deal_form_data(customer, **overrides) -> dict:
    return {
        "title": "Spring order",
        "customer": customer.pk,
        "amount": "1500.00",
        "stage": DealStage.QUALIFIED,
        **overrides,
    }


# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("name", "args", "path"),
    [
        ("deal-list", [], "/deals/"),
        ("deal-edit", [7], "/deals/7/edit/"),
        ("deal-close", [7], "/deals/7/close/"),
        ("activity-list", [], "/activities/"),
        ("activity-complete", [7], "/activities/7/complete/"),
        ("customer-list", [], "/customers/"),
        ("customer-detail", [7], "/customers/7/"),
    ],
)
def test_page_url_names_lead_to_the_pages(name, args, path):
    # The API router's default route names (deal-list, customer-detail, deal-close, ...) must
    # not shadow the pages' names, or every link and redirect of the pages lands in the API.
    assert reverse(name, args=args) == path


# --- Login ------------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_login_page_renders(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content


@pytest.mark.sqlite
def test_login_form_logs_a_rep_in_and_lands_on_home(client, rep):
    response = client.post(
        reverse("login"), {"username": rep.user.username, "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("home")
    assert b"Open deals" in response.content


@pytest.mark.parametrize(
    "url",
    [
        reverse("home"),
        reverse("deal-list"),
        reverse("deal-create"),
        reverse("deal-edit", args=[1]),
        reverse("activity-list"),
        reverse("activity-create"),
        reverse("customer-list"),
        reverse("customer-detail", args=[1]),
        reverse("goals:index"),
        reverse("supervision:index"),
        reverse("tracking:index"),
    ],
)
def test_pages_redirect_anonymous_users_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_anonymous_htmx_action_redirects_the_whole_page_to_login(client, rep):
    deal = DealFactory(rep=rep)

    response = client.post(reverse("deal-close", args=[deal.pk]), {"outcome": "won"}, headers=HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login"))
    deal.refresh_from_db()
    assert deal.stage == DealStage.PROSPECTING


def test_logout_is_a_post_form_in_the_layout(rep_client):
    response = rep_client.get(reverse("home"))

    assert f'<form method="post" action="{reverse("logout")}">' in response.content.decode()
    assert rep_client.post(reverse("logout")).status_code == 302
    assert rep_client.get(reverse("home")).status_code == 302


# --- Home -------------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_rep_home_shows_their_figures_and_next_activities(rep_client, rep, other_rep):
    DealFactory(rep=rep, amount=Decimal("1200.00"))
    DealFactory(rep=other_rep, amount=Decimal("99999.00"))
    ActivityFactory(rep=rep, subject="Call the buyer")
    ActivityFactory(rep=other_rep, subject="Someone else's visit")

    response = rep_client.get(reverse("home"))

    assert response.status_code == 200
    assert response.context["summary"]["open_count"] == 1
    assert "1,200.00" in response.content.decode()
    assert b"Call the buyer" in response.content
    assert b"Someone else" not in response.content


def test_supervisor_home_shows_each_rep_of_their_teams(supervisor_client, rep, other_rep):
    DealFactory(rep=rep, stage=DealStage.CLOSED_WON, amount=Decimal("700.00"))

    response = supervisor_client.get(reverse("home"))

    assert response.status_code == 200
    content = response.content.decode()
    assert rep.employee_code in content
    assert other_rep.employee_code not in content
    assert response.context["summary"]["won_this_month"] == 1


def test_admin_home_links_to_the_job_platform_in_django_admin(admin_client):
    response = admin_client.get(reverse("home"))

    content = response.content.decode()
    assert reverse("admin:crm_deadletter_changelist") in content
    assert reverse("admin:crm_jobrun_changelist") in content


def test_user_without_a_role_gets_an_explanation_and_no_sales_pages(client):
    client.force_login(UserFactory())

    home = client.get(reverse("home"))

    assert home.status_code == 200
    assert b"No role yet" in home.content
    assert client.get(reverse("deal-list")).status_code == 403


# --- Navigation and role gating ---------------------------------------------------------------


def test_rep_navigation_shows_sales_and_goals_only(rep_client):
    nav = nav_html(rep_client.get(reverse("home")))

    for name in ("deal-list", "activity-list", "customer-list", "goals:index"):
        assert reverse(name) in nav
    for name in ("supervision:index", "tracking:index", "admin:index"):
        assert reverse(name) not in nav


def test_supervisor_navigation_adds_supervision(supervisor_client):
    nav = nav_html(supervisor_client.get(reverse("home")))

    assert reverse("supervision:index") in nav
    assert reverse("tracking:index") not in nav
    assert reverse("admin:index") not in nav


def test_admin_navigation_shows_every_area(admin_client):
    nav = nav_html(admin_client.get(reverse("home")))

    for name in ("deal-list", "goals:index", "supervision:index", "tracking:index", "admin:index"):
        assert reverse(name) in nav


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("rep", {"goals:index": 200, "supervision:index": 403, "tracking:index": 403}),
        ("supervisor", {"goals:index": 200, "supervision:index": 200, "tracking:index": 403}),
        ("admin", {"goals:index": 200, "supervision:index": 200, "tracking:index": 200}),
    ],
)
def test_area_index_pages_are_gated_by_role(client, rep, supervisor, admin_user, who, expected):
    client.force_login({"rep": rep.user, "supervisor": supervisor, "admin": admin_user}[who])

    # An area's entry may send on to its first page (goals: a rep's plan, the managers' list).
    answers = {name: client.get(reverse(name), follow=True) for name in expected}
    assert {name: answer.status_code for name, answer in answers.items()} == expected


def test_admin_group_member_who_is_not_staff_gets_no_admin_link(client):
    user = UserFactory()
    user.groups.add(Group.objects.get(name=GROUP_ADMIN))
    client.force_login(user)

    nav = nav_html(client.get(reverse("home")))

    assert reverse("tracking:index") in nav
    assert reverse("admin:index") not in nav


# --- Deals: scope -----------------------------------------------------------------------------


def test_rep_sees_only_their_deals(rep_client, rep, other_rep):
    DealFactory(rep=rep, title="Mine")
    DealFactory(rep=other_rep, title="Not mine")

    response = rep_client.get(reverse("deal-list"))

    assert [deal.title for deal in response.context["page_obj"]] == ["Mine"]


@pytest.mark.parametrize("view", ["deal-edit", "deal-close"])
def test_rep_gets_404_for_another_reps_deal(rep_client, other_rep, view):
    deal = DealFactory(rep=other_rep)

    if view == "deal-close":
        response = rep_client.post(reverse(view, args=[deal.pk]), {"outcome": "won"})
    else:
        response = rep_client.get(reverse(view, args=[deal.pk]))

    assert response.status_code == 404
    deal.refresh_from_db()
    assert deal.stage == DealStage.PROSPECTING


def test_rep_gets_404_for_another_reps_customer(rep_client, other_rep):
    customer = CustomerFactory(owner=other_rep)

    assert rep_client.get(reverse("customer-detail", args=[customer.pk])).status_code == 404


def test_supervisor_sees_team_deals_but_not_another_teams(supervisor_client, rep, other_rep):
    team_deal = DealFactory(rep=rep, title="Team deal")
    foreign_deal = DealFactory(rep=other_rep, title="Foreign deal")

    listing = supervisor_client.get(reverse("deal-list"))

    assert [deal.title for deal in listing.context["page_obj"]] == ["Team deal"]
    assert supervisor_client.get(reverse("deal-edit", args=[team_deal.pk])).status_code == 200
    assert supervisor_client.get(reverse("deal-edit", args=[foreign_deal.pk])).status_code == 404
    close = reverse("deal-close", args=[foreign_deal.pk])
    assert supervisor_client.post(close, {"outcome": "won"}).status_code == 404


def test_admin_sees_every_deal(admin_client, rep, other_rep):
    DealFactory(rep=rep)
    DealFactory(rep=other_rep)

    response = admin_client.get(reverse("deal-list"))

    assert response.context["page_obj"].paginator.count == 2


def test_deal_list_filters_by_stage(rep_client, rep):
    DealFactory(rep=rep, title="Open one")
    DealFactory(rep=rep, title="Won one", stage=DealStage.CLOSED_WON)

    won = rep_client.get(reverse("deal-list"), {"stage": DealStage.CLOSED_WON})
    still_open = rep_client.get(reverse("deal-list"), {"stage": "open"})
    unknown = rep_client.get(reverse("deal-list"), {"stage": "nonsense"})

    assert [deal.title for deal in won.context["page_obj"]] == ["Won one"]
    assert [deal.title for deal in still_open.context["page_obj"]] == ["Open one"]
    assert unknown.context["page_obj"].paginator.count == 2


def test_deal_list_is_paginated_and_keeps_the_filter_in_page_links(rep_client, rep):
    customer = CustomerFactory(owner=rep)
    DealFactory.create_batch(PAGE_SIZE + 1, rep=rep, customer=customer)

    first = rep_client.get(reverse("deal-list"), {"stage": "open"})
    second = rep_client.get(reverse("deal-list"), {"stage": "open", "page": 2})

    assert len(first.context["page_obj"]) == PAGE_SIZE
    assert "?stage=open&amp;page=2" in first.content.decode()
    assert len(second.context["page_obj"]) == 1


@pytest.mark.parametrize("deal_count", [3, 30])
def test_deal_list_runs_a_fixed_number_of_queries(
    client, supervisor, team, deal_count, django_assert_num_queries
):
    # Several reps and customers, so a missing join would show up as extra queries.
    reps = SalesRepFactory.create_batch(3, team=team)
    for index in range(deal_count):
        DealFactory(rep=reps[index % 3])
    client.force_login(supervisor)

    # session, user, the user's zone (rep profile), role (groups), the rep filter's options,
    # count, page of deals
    with django_assert_num_queries(7):
        response = client.get(reverse("deal-list"))

    assert response.status_code == 200
    assert len(response.context["page_obj"]) == deal_count


# --- Deals: create and edit -------------------------------------------------------------------


@pytest.mark.sqlite
def test_rep_creates_a_deal_for_themselves(rep_client, rep):
    customer = CustomerFactory(owner=rep)

    response = rep_client.post(reverse("deal-create"), deal_form_data(customer))

    assert response.status_code == 302
    deal = Deal.objects.get()
    assert response["Location"] == f"{reverse('deal-list')}?created={deal.pk}#deal-{deal.pk}"
    assert (deal.rep, deal.customer, deal.title) == (rep, customer, "Spring order")
    assert (deal.amount, deal.stage) == (Decimal("1500.00"), DealStage.QUALIFIED)
    assert AuditEntry.objects.filter(action="deal.create", target_id=str(deal.pk)).exists()


def test_rep_is_not_offered_a_rep_field(rep_client):
    response = rep_client.get(reverse("deal-create"))

    assert "rep" not in response.context["form"].fields
    assert b'name="rep"' not in response.content


def test_supervisor_creates_a_deal_for_a_rep_of_their_team(supervisor_client, rep, other_rep):
    customer = CustomerFactory(owner=rep)

    form = supervisor_client.get(reverse("deal-create")).context["form"]
    response = supervisor_client.post(reverse("deal-create"), deal_form_data(customer, rep=rep.pk))

    assert list(form.fields["rep"].queryset) == [rep]
    assert response.status_code == 302
    assert Deal.objects.get().rep == rep


def test_supervisor_must_pick_a_rep(supervisor_client, rep):
    customer = CustomerFactory(owner=rep)

    response = supervisor_client.post(reverse("deal-create"), deal_form_data(customer))

    assert response.status_code == 400
    assert "rep" in response.context["form"].errors
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "-5", "greater than or equal to 0"),
        ("amount", "lots", "Enter a number."),
        ("stage", "bogus", "Select a valid choice."),
        ("stage", DealStage.CLOSED_WON, "Select a valid choice."),
        ("title", "x" * 201, "at most 200 characters"),
        ("title", "", "This field is required."),
    ],
)
def test_deal_create_rejects_bad_input(rep_client, rep, field, value, message):
    customer = CustomerFactory(owner=rep)

    response = rep_client.post(reverse("deal-create"), deal_form_data(customer, **{field: value}))

    assert response.status_code == 400
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors)
    assert message in response.content.decode()
    assert not Deal.objects.exists()


def test_deal_create_rejects_a_customer_the_rep_may_not_see(rep_client, rep, other_rep):
    foreign_customer = CustomerFactory(owner=other_rep)

    response = rep_client.post(reverse("deal-create"), deal_form_data(foreign_customer))

    assert response.status_code == 400
    assert "customer" in response.context["form"].errors
    assert b"Select a valid choice" in response.content
    assert foreign_customer.name.encode() not in response.content
    assert not Deal.objects.exists()


def test_deal_create_preselects_the_customer_from_the_query_string(rep_client, rep):
    customer = CustomerFactory(owner=rep)

    response = rep_client.get(reverse("deal-create"), {"customer": customer.pk})

    assert f'<option value="{customer.pk}" selected>' in response.content.decode()


def test_rep_edits_an_open_deal(rep_client, rep):
    deal = DealFactory(rep=rep)

    response = rep_client.post(
        reverse("deal-edit", args=[deal.pk]),
        deal_form_data(deal.customer, title="Renamed", amount="2500"),
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.amount, deal.stage) == ("Renamed", Decimal("2500"), "qualified")


def test_deal_edit_form_shows_the_current_values(rep_client, rep):
    deal = DealFactory(rep=rep, title="Current title")

    response = rep_client.get(reverse("deal-edit", args=[deal.pk]))

    assert response.status_code == 200
    assert b'value="Current title"' in response.content


def test_closed_deal_cannot_be_edited(rep_client, rep):
    deal = DealFactory(rep=rep, stage=DealStage.CLOSED_LOST, title="Gone")
    url = reverse("deal-edit", args=[deal.pk])

    page = rep_client.get(url)
    submit = rep_client.post(url, deal_form_data(deal.customer, title="Revived"))

    assert page.status_code == 302
    assert submit.status_code == 400
    assert services.DEAL_ALREADY_CLOSED in submit.context["form"].non_field_errors()
    assert services.DEAL_ALREADY_CLOSED in submit.content.decode()
    deal.refresh_from_db()
    assert deal.title == "Gone"


# --- Deals: close -----------------------------------------------------------------------------


def test_mark_won_via_htmx_returns_the_row(rep_client, rep):
    deal = DealFactory(rep=rep, title="Big one")

    response = rep_client.post(
        reverse("deal-close", args=[deal.pk]),
        {"outcome": "won", "next": reverse("deal-list")},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert [t.name for t in response.templates] == ["crm/partials/deal_row.html"]
    content = response.content.decode()
    assert content.lstrip().startswith(f'<tr id="deal-{deal.pk}">')
    assert "Closed won" in content
    assert "Big one" in content
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON
    assert deal.closed_at is not None


def test_mark_lost_without_htmx_redirects_back(rep_client, rep):
    deal = DealFactory(rep=rep)
    back_to = f"{reverse('deal-list')}?stage=open&page=1"

    response = rep_client.post(
        reverse("deal-close", args=[deal.pk]), {"outcome": "lost", "next": back_to}
    )

    assert response.status_code == 302
    assert response["Location"] == back_to
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_LOST


def test_close_never_redirects_off_site(rep_client, rep):
    deal = DealFactory(rep=rep)

    response = rep_client.post(
        reverse("deal-close", args=[deal.pk]), {"outcome": "won", "next": "https://evil.test/"}
    )

    assert response["Location"] == reverse("deal-list")


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_closing_a_deal_twice_is_refused(rep_client, rep, headers):
    deal = DealFactory(rep=rep)
    url = reverse("deal-close", args=[deal.pk])
    rep_client.post(url, {"outcome": "won"}, headers=headers)

    response = rep_client.post(url, {"outcome": "lost"}, headers=headers)

    assert response.status_code == 400
    assert services.DEAL_ALREADY_CLOSED in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON


def test_close_needs_a_known_outcome(rep_client, rep):
    deal = DealFactory(rep=rep)

    response = rep_client.post(
        reverse("deal-close", args=[deal.pk]), {"outcome": "maybe"}, headers=HTMX
    )

    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    deal.refresh_from_db()
    assert deal.stage == DealStage.PROSPECTING


def test_opening_the_close_url_leads_to_the_deals_list(rep_client, rep):
    deal = DealFactory(rep=rep)

    response = rep_client.get(reverse("deal-close", args=[deal.pk]))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('deal-list')}#deal-{deal.pk}"
    deal.refresh_from_db()
    assert deal.stage == DealStage.PROSPECTING


# --- Activities -------------------------------------------------------------------------------


def test_activity_list_is_scoped_and_filters_by_status(rep_client, rep, other_rep):
    ActivityFactory(rep=rep, subject="Planned call")
    ActivityFactory(
        rep=rep, subject="Done visit", status=ActivityStatus.COMPLETED, completed_at=timezone.now()
    )
    ActivityFactory(rep=other_rep, subject="Not mine")

    everything = rep_client.get(reverse("activity-list"))
    planned = rep_client.get(reverse("activity-list"), {"status": ActivityStatus.PLANNED})

    assert {a.subject for a in everything.context["page_obj"]} == {"Planned call", "Done visit"}
    assert [a.subject for a in planned.context["page_obj"]] == ["Planned call"]


def test_rep_plans_an_activity(rep_client, rep):
    customer = CustomerFactory(owner=rep)

    response = rep_client.post(
        reverse("activity-create"),
        {"kind": "call", "subject": "Follow up", "due_at": "2030-05-04T09:30", "customer": ""},
    )

    assert response.status_code == 302
    activity = Activity.objects.get()
    assert (activity.rep, activity.customer, activity.subject) == (rep, None, "Follow up")
    assert activity.status == ActivityStatus.PLANNED
    assert customer.activities.count() == 0


def test_activity_create_rejects_bad_input(rep_client, rep, other_rep):
    foreign_customer = CustomerFactory(owner=other_rep)

    response = rep_client.post(
        reverse("activity-create"),
        {"kind": "party", "due_at": "someday", "customer": foreign_customer.pk},
    )

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"kind", "due_at", "customer"}
    assert not Activity.objects.exists()


def test_complete_activity_via_htmx_returns_the_row(rep_client, rep):
    activity = ActivityFactory(rep=rep)

    response = rep_client.post(reverse("activity-complete", args=[activity.pk]), headers=HTMX)

    assert response.status_code == 200
    assert [t.name for t in response.templates] == ["crm/partials/activity_row.html"]
    assert b"Completed" in response.content
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.COMPLETED
    assert activity.completed_at is not None


def test_completing_twice_is_refused(rep_client, rep):
    activity = ActivityFactory(rep=rep)
    url = reverse("activity-complete", args=[activity.pk])
    rep_client.post(url)

    response = rep_client.post(url)

    assert response.status_code == 400
    assert services.ACTIVITY_NOT_PLANNED in response.content.decode()


def test_rep_gets_404_completing_another_reps_activity(rep_client, other_rep):
    activity = ActivityFactory(rep=other_rep)

    response = rep_client.post(reverse("activity-complete", args=[activity.pk]), headers=HTMX)

    assert response.status_code == 404
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PLANNED


# --- Customers --------------------------------------------------------------------------------


def test_customer_list_is_scoped_and_searchable(rep_client, rep, other_rep):
    CustomerFactory(owner=rep, name="Bakery Sol", code="BK-001")
    CustomerFactory(owner=rep, name="Hardware Luna", code="HW-002")
    CustomerFactory(owner=other_rep, name="Bakery Elsewhere", code="BK-999")

    by_name = rep_client.get(reverse("customer-list"), {"search": "bakery"})
    by_code = rep_client.get(reverse("customer-list"), {"search": "hw-"})

    assert [c.name for c in by_name.context["page_obj"]] == ["Bakery Sol"]
    assert [c.name for c in by_code.context["page_obj"]] == ["Hardware Luna"]


def test_customer_detail_shows_its_deals_and_activities(rep_client, rep):
    customer = CustomerFactory(owner=rep)
    DealFactory(rep=rep, customer=customer, title="Pallet of flour")
    ActivityFactory(rep=rep, customer=customer, subject="Tasting visit")
    DealFactory(rep=rep, title="Other customer's deal")

    response = rep_client.get(reverse("customer-detail", args=[customer.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Pallet of flour" in content
    assert "Tasting visit" in content
    assert "Other customer's deal" not in content


@pytest.mark.parametrize("row_count", [2, 20])
@pytest.mark.parametrize("url_name", ["activity-list", "customer-list"])
def test_other_list_pages_run_a_fixed_number_of_queries(
    client, supervisor, team, url_name, row_count, django_assert_num_queries
):
    reps = SalesRepFactory.create_batch(3, team=team)
    for index in range(row_count):
        ActivityFactory(rep=reps[index % 3])  # each with its own customer
    client.force_login(supervisor)

    # session, user, the user's zone, role (groups), the rep filter's options, count, page
    with django_assert_num_queries(7):
        response = client.get(reverse(url_name))

    assert len(response.context["page_obj"]) == row_count


def test_customer_detail_runs_a_fixed_number_of_queries(client, rep, django_assert_num_queries):
    customer = CustomerFactory(owner=rep)
    DealFactory.create_batch(5, rep=rep, customer=customer)
    ActivityFactory.create_batch(5, rep=rep, customer=customer)
    client.force_login(rep.user)

    # session, user, the user's zone, role (groups), customer, its deals, its activities
    with django_assert_num_queries(7):
        client.get(reverse("customer-detail", args=[customer.pk]))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["rep", "supervisor", "admin_user"])
def test_home_runs_the_same_queries_whatever_the_row_count(request, client, rep, who):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    person = request.getfixturevalue(who)
    client.force_login(person.user if who == "rep" else person)
    counts = []
    for batch in (1, 15):
        DealFactory.create_batch(batch, rep=SalesRepFactory(team=rep.team))
        ActivityFactory.create_batch(batch, rep=rep)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("home")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]

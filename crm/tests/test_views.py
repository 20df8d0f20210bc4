"""The server-rendered pages, through HTTP: scope, role gating, form validation, htmx actions and
the number of queries a list page runs."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from crm import roles, services
from crm.models import (
    PHONE_INVALID,
    Activity,
    ActivityStatus,
    AuditEntry,
    Customer,
    CustomerStatus,
    Deal,
    DealStage,
    Task,
    TaskStatus,
)
from crm.periods import format_moment
from crm.roles import GROUP_ADMIN
from crm.testing import HTMX, signed_in
from crm.tests.factories import (
    PASSWORD,
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    SalesRepFactory,
    TaskFactory,
    UserFactory,
)
from crm.web import PAGE_SIZE

pytestmark = pytest.mark.django_db


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


def test_user_without_a_role_gets_an_explanation_and_no_sales_pages():
    client = signed_in(UserFactory())

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
def test_area_index_pages_are_gated_by_role(request, who, expected):
    client = request.getfixturevalue(f"{who}_client")

    # An area's entry may send on to its first page (goals: a rep's plan, the managers' list).
    answers = {name: client.get(reverse(name), follow=True) for name in expected}
    assert {name: answer.status_code for name, answer in answers.items()} == expected


def test_admin_group_member_who_is_not_staff_gets_no_admin_link():
    user = UserFactory()
    user.groups.add(Group.objects.get(name=GROUP_ADMIN))

    nav = nav_html(signed_in(user).get(reverse("home")))

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
    supervisor_client, team, deal_count, assert_queries
):
    # Several reps and customers, so a missing join would show up as extra queries.
    reps = SalesRepFactory.create_batch(3, team=team)
    for index in range(deal_count):
        DealFactory(rep=reps[index % 3])

    # session, user, the user's zone (rep profile), role (groups), the rep filter's options,
    # count, page of deals
    with assert_queries(7):
        response = supervisor_client.get(reverse("deal-list"))

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


def test_deal_create_rejects_a_customer_the_rep_may_not_see(rep_client, other_rep):
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


def test_activity_create_rejects_bad_input(rep_client, other_rep):
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
    supervisor_client, team, url_name, row_count, assert_queries
):
    reps = SalesRepFactory.create_batch(3, team=team)
    for index in range(row_count):
        ActivityFactory(rep=reps[index % 3])  # each with its own customer

    # session, user, the user's zone, role (groups), the rep filter's options, count, page
    with assert_queries(7):
        response = supervisor_client.get(reverse(url_name))

    assert len(response.context["page_obj"]) == row_count


def test_customer_detail_runs_a_fixed_number_of_queries(rep_client, rep, assert_queries):
    customer = CustomerFactory(owner=rep)
    DealFactory.create_batch(5, rep=rep, customer=customer)
    ActivityFactory.create_batch(5, rep=rep, customer=customer)

    # session, user, the user's zone, role (groups), customer, its deals, its activities
    with assert_queries(7):
        rep_client.get(reverse("customer-detail", args=[customer.pk]))


@pytest.mark.parametrize("batch", [1, 15])
@pytest.mark.parametrize(("who", "queries"), [("rep", 16), ("supervisor", 8), ("admin", 6)])
def test_home_runs_the_same_queries_whatever_the_row_count(
    request, rep, who, queries, batch, assert_queries
):
    client = request.getfixturevalue(f"{who}_client")
    DealFactory.create_batch(batch, rep=SalesRepFactory(team=rep.team))
    ActivityFactory.create_batch(batch, rep=rep)

    # Everyone: session, user, the user's zone, the figures of deals and of activities. A rep:
    # role, the goal card (zones, plans, tiers, snapshots, reminders, achievements), the next
    # activities. A supervisor: role, the zones and the rows of the team's table. An admin:
    # the dead letters waiting.
    with assert_queries(queries):
        assert client.get(reverse("home")).status_code == 200


# --- No dead ends -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "lands_on"),
    [
        ("deal-close", lambda pk: f"{reverse('deal-list')}#deal-{pk}"),
        ("deal-reopen", lambda pk: f"{reverse('deal-list')}#deal-{pk}"),
        ("task-status", lambda pk: f"{reverse('task-list')}#task-{pk}"),
        ("customer-sign-up", lambda pk: reverse("customer-detail", args=[pk])),
    ],
)
def test_every_url_a_row_action_posts_to_answers_get_with_its_page(rep_client, name, lands_on):
    response = rep_client.get(reverse(name, args=[7]))

    assert response.status_code == 302
    assert response["Location"] == lands_on(7)


def test_the_complete_and_edit_pages_refuse_by_the_services_own_rules(rep_client, rep, monkeypatch):
    # The pages ask the services why not (they keep no copy of the rules): here the services
    # refuse an open deal and a planned activity.
    monkeypatch.setattr(services, "deal_edit_refusal", lambda deal: "Frozen for the audit.")
    monkeypatch.setattr(services, "activity_completion_refusal", lambda activity: "Not today.")
    deal, activity = DealFactory(rep=rep), ActivityFactory(rep=rep)

    edit = rep_client.get(reverse("deal-edit", args=[deal.pk]), follow=True)
    complete = rep_client.get(reverse("activity-complete", args=[activity.pk]), follow=True)

    assert edit.redirect_chain == [(reverse("deal-list"), 302)]
    assert [str(m) for m in edit.context["messages"]] == ["Frozen for the audit."]
    assert complete.redirect_chain[0][1] == 302
    assert [str(m) for m in complete.context["messages"]] == ["Not today."]


def test_the_activity_complete_url_opened_is_a_page_with_how_it_went(rep_client, rep):
    activity = ActivityFactory(rep=rep, notes="Bring samples.")
    url = reverse("activity-complete", args=[activity.pk])

    page = rep_client.get(url, {"next": f"{reverse('activity-list')}?status=planned"})

    assert page.status_code == 200
    content = page.content.decode()
    assert "Bring samples." in content  # the notes, to edit
    assert 'name="outcome"' in content
    assert f'value="{reverse("activity-list")}?status=planned"' in content


def test_a_done_activity_opened_at_its_complete_url_leads_back_to_the_list(rep_client, rep):
    activity = ActivityFactory(
        rep=rep, status=ActivityStatus.COMPLETED, completed_at=timezone.now()
    )

    response = rep_client.get(reverse("activity-complete", args=[activity.pk]))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('activity-list')}#activity-{activity.pk}"


def test_a_form_page_never_links_back_off_site(rep_client, rep):
    activity = ActivityFactory(rep=rep)

    page = rep_client.get(
        reverse("activity-complete", args=[activity.pk]), {"next": "javascript:alert(1)"}
    )

    assert "javascript:" not in page.content.decode()


# --- Deals: confirm, reopen, search, filter, sort ---------------------------------------------


def test_won_and_lost_ask_first_and_a_closed_deal_offers_reopen(rep_client, rep):
    DealFactory(rep=rep, title="Open one")
    DealFactory(rep=rep, title="Won one", stage=DealStage.CLOSED_WON)
    DealFactory(rep=rep, title="Lost one", stage=DealStage.CLOSED_LOST)

    content = rep_client.get(reverse("deal-list")).content.decode()

    assert 'hx-confirm="Mark “Open one” as won?"' in content
    assert 'hx-confirm="Mark “Open one” as lost?"' in content
    assert (
        'hx-confirm="Reopen “Won one”? It becomes an open deal again and no longer counts as won."'
        in content
    )
    assert 'hx-confirm="Reopen “Lost one”? It becomes an open deal again."' in content


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_reopening_a_closed_deal(rep_client, rep, headers):
    deal = DealFactory(rep=rep, stage=DealStage.CLOSED_WON, title="Terrace")
    back_to = f"{reverse('deal-list')}?stage=closed_won"

    response = rep_client.post(
        reverse("deal-reopen", args=[deal.pk]), {"next": back_to}, headers=headers
    )

    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at) == (DealStage.PROPOSAL, None)
    if headers:
        assert response.status_code == 200
        content = response.content.decode()
        assert content.lstrip().startswith(f'<tr id="deal-{deal.pk}">')
        assert "Proposal" in content and "Won: Terrace" in content
    else:
        assert response["Location"] == back_to
    assert AuditEntry.objects.filter(action="deal.reopen", target_id=str(deal.pk)).exists()


def test_a_closed_deal_on_a_customers_page_offers_reopen_too(rep_client, rep):
    deal = DealFactory(rep=rep, stage=DealStage.CLOSED_LOST)

    page = rep_client.get(reverse("customer-detail", args=[deal.customer_id]))

    assert reverse("deal-reopen", args=[deal.pk]) in page.content.decode()


def test_rep_gets_404_reopening_another_reps_deal(rep_client, other_rep):
    deal = DealFactory(rep=other_rep, stage=DealStage.CLOSED_WON)

    response = rep_client.post(reverse("deal-reopen", args=[deal.pk]), headers=HTMX)

    assert response.status_code == 404
    deal.refresh_from_db()
    assert deal.stage == DealStage.CLOSED_WON


def test_deals_are_searched_by_title_and_customer(rep_client, rep):
    bakery = CustomerFactory(owner=rep, name="Panadería Sol")
    DealFactory(rep=rep, title="Ovens", customer=bakery)
    DealFactory(rep=rep, title="Bakery shelving")
    DealFactory(rep=rep, title="Cooler")

    by_customer = rep_client.get(reverse("deal-list"), {"search": "panadería"})
    by_title = rep_client.get(reverse("deal-list"), {"search": "BAKERY"})

    assert [d.title for d in by_customer.context["page_obj"]] == ["Ovens"]
    assert [d.title for d in by_title.context["page_obj"]] == ["Bakery shelving"]


def test_a_supervisor_filters_by_the_reps_they_see(supervisor_client, team, rep, other_rep):
    teammate = SalesRepFactory(team=team)
    DealFactory(rep=rep, title="Rep's")
    DealFactory(rep=teammate, title="Teammate's")

    page = supervisor_client.get(reverse("deal-list"), {"rep": teammate.pk})
    foreign = supervisor_client.get(reverse("deal-list"), {"rep": other_rep.pk})

    assert [d.title for d in page.context["page_obj"]] == ["Teammate's"]
    choices = dict(page.context["filters"].fields["rep"].choices)
    assert set(choices) == {"", rep.pk, teammate.pk}
    # A rep they do not see is not a choice: the filter is ignored, never a leak.
    assert foreign.context["page_obj"].paginator.count == 2
    assert str(other_rep) not in foreign.content.decode()


@pytest.mark.parametrize("url_name", ["deal-list", "activity-list", "task-list", "customer-list"])
def test_a_rep_gets_no_rep_filter(rep_client, url_name):
    response = rep_client.get(reverse(url_name))

    assert "rep" not in response.context["filters"].fields
    assert 'name="rep"' not in response.content.decode()


@pytest.mark.parametrize("url_name", ["deal-list", "activity-list", "task-list", "customer-list"])
def test_supervisors_and_admins_get_a_rep_filter(supervisor_client, admin_client, url_name):
    for client in (supervisor_client, admin_client):
        assert 'name="rep"' in client.get(reverse(url_name)).content.decode()


@pytest.mark.sqlite
def test_deals_sort_by_amount_and_closing_date(rep_client, rep):
    small = DealFactory(rep=rep, amount=Decimal("10"), title="Small")
    large = DealFactory(rep=rep, amount=Decimal("900"), title="Large")
    won = DealFactory(rep=rep, amount=Decimal("50"), title="Won", stage=DealStage.CLOSED_WON)

    def titles(ordering):
        response = rep_client.get(reverse("deal-list"), {"ordering": ordering})
        return [deal.title for deal in response.context["page_obj"]]

    assert titles("-amount") == ["Large", "Won", "Small"]
    assert titles("amount") == ["Small", "Won", "Large"]
    assert titles("-closed")[0] == "Won"  # open deals, never closed, come last either way
    assert titles("closed")[0] == "Won"
    assert titles("") == titles("-created") == [won.title, large.title, small.title]
    # An ordering that is not offered filters nothing and sorts as usual.
    assert titles("customer__owner__user__password") == titles("")


def test_sortable_headers_say_their_direction_and_keep_the_filters(rep_client, rep):
    DealFactory(rep=rep)

    default = rep_client.get(reverse("deal-list"), {"stage": "open"}).content.decode()
    by_amount = rep_client.get(
        reverse("deal-list"), {"stage": "open", "ordering": "-amount", "page": "1"}
    ).content.decode()

    assert (
        '<th aria-sort="descending"><a class="sort" href="?stage=open&amp;ordering=created">Created'
        in default
    )
    assert (
        '<th class="num"><a class="sort" href="?stage=open&amp;ordering=-amount">Amount' in default
    )
    assert (
        '<th class="num" aria-sort="descending"><a class="sort" '
        'href="?stage=open&amp;ordering=amount">Amount'
    ) in by_amount
    assert '<th><a class="sort" href="?stage=open&amp;ordering=-created">Created' in by_amount


def test_a_new_deal_is_marked_on_the_list(rep_client, rep):
    customer = CustomerFactory(owner=rep)

    response = rep_client.post(reverse("deal-create"), deal_form_data(customer), follow=True)

    deal = Deal.objects.get()
    assert response.context["created"] == deal.pk
    assert f'<tr id="deal-{deal.pk}" class="just-added">' in response.content.decode()
    assert "Just added" in response.content.decode()


# --- Activities ---------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_activities_list_the_upcoming_first_then_the_latest_done(rep_client, rep):
    now = timezone.now()
    day = dt.timedelta(days=1)
    ActivityFactory(rep=rep, subject="Next week", due_at=now + 7 * day)
    ActivityFactory(rep=rep, subject="Overdue", due_at=now - 2 * day)
    ActivityFactory(rep=rep, subject="Tomorrow", due_at=now + day)
    ActivityFactory(
        rep=rep, subject="Done last month", due_at=now - 30 * day,
        status=ActivityStatus.COMPLETED, completed_at=now - 30 * day,
    )  # fmt: skip
    ActivityFactory(
        rep=rep, subject="Done yesterday", due_at=now - 3 * day,
        status=ActivityStatus.COMPLETED, completed_at=now - day,
    )  # fmt: skip
    ActivityFactory(
        rep=rep, subject="Cancelled", due_at=now - 10 * day, status=ActivityStatus.CANCELLED
    )

    default = rep_client.get(reverse("activity-list"))
    by_due = rep_client.get(reverse("activity-list"), {"ordering": "-due"})

    assert [a.subject for a in default.context["page_obj"]] == [
        "Overdue", "Tomorrow", "Next week", "Done yesterday", "Cancelled", "Done last month",
    ]  # fmt: skip
    assert [a.subject for a in by_due.context["page_obj"]][:2] == ["Next week", "Tomorrow"]
    content = default.content.decode()
    assert content.count(">Overdue</span>") == 1  # said in words, not colour only


def test_activities_are_searched_by_subject_and_customer(rep_client, rep):
    ActivityFactory(rep=rep, subject="Tasting", customer=CustomerFactory(owner=rep, name="Bar Sol"))
    ActivityFactory(rep=rep, subject="Sol de invierno")
    ActivityFactory(rep=rep, subject="Stock check")

    found = rep_client.get(reverse("activity-list"), {"search": "sol"})

    assert {a.subject for a in found.context["page_obj"]} == {"Tasting", "Sol de invierno"}


def test_due_times_on_the_activities_list_carry_their_zone(rep_client, rep):
    ActivityFactory(rep=rep, due_at=dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC))

    content = rep_client.get(reverse("activity-list")).content.decode()

    assert "Tue 1 Dec 2026, 16:00 CET" in content  # the rep's zone: Europe/Madrid


def test_a_rep_logs_a_visit_in_one_step(rep_client, rep):
    customer = CustomerFactory(owner=rep)
    form = rep_client.get(reverse("activity-create"), {"log": "1"})

    response = rep_client.post(
        reverse("activity-create"),
        {
            "kind": "visit",
            "customer": customer.pk,
            "subject": "Tasting",
            "due_at": timezone.localtime(timezone.now() - dt.timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "done": "done",
            "outcome": "ordered",
            "notes": "Two cases.",
        },
    )

    assert b"Log a visit" in form.content and form.context["form"]["done"].value() == "done"
    activity = Activity.objects.get()
    assert (
        response["Location"]
        == f"{reverse('activity-list')}?created={activity.pk}#activity-{activity.pk}"
    )
    assert (activity.status, activity.outcome, activity.notes) == (
        "completed",
        "ordered",
        "Two cases.",
    )
    assert activity.completed_at == activity.due_at


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"done": "done", "due_at": "2099-01-01T10:00"}, "due_at"),
        ({"outcome": "ordered"}, "outcome"),
        ({"done": "done", "outcome": "party"}, "outcome"),
        ({"done": "maybe"}, "done"),
        ({"notes": "x" * 2001}, "notes"),
        ({"notes": "a\x00b"}, "notes"),
        ({"subject": "a\x00b"}, "subject"),
        ({"due_at": "1e309"}, "due_at"),
        ({"due_at": "0001-01-01T00:00"}, "due_at"),
        ({"due_at": "9999-12-31T23:59"}, "due_at"),
    ],
)
def test_the_activity_form_refuses_bad_input(rep_client, data, field):
    response = rep_client.post(
        reverse("activity-create"), {"kind": "call", "due_at": "2026-01-05T10:00", **data}
    )

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Activity.objects.exists()


def test_completing_on_its_page_takes_how_it_went(rep_client, rep):
    activity = ActivityFactory(rep=rep, notes="Bring samples.")
    back_to = f"{reverse('activity-list')}?status=planned"

    response = rep_client.post(
        reverse("activity-complete", args=[activity.pk]),
        {"outcome": "follow_up", "notes": "Call back in May.", "next": back_to},
    )

    assert response["Location"] == back_to
    activity.refresh_from_db()
    assert (activity.status, activity.outcome, activity.notes) == (
        "completed", "follow_up", "Call back in May.",
    )  # fmt: skip


def test_completing_from_the_row_keeps_the_notes(rep_client, rep):
    activity = ActivityFactory(rep=rep, notes="Bring samples.")

    response = rep_client.post(reverse("activity-complete", args=[activity.pk]), headers=HTMX)

    assert response.status_code == 200
    activity.refresh_from_db()
    assert (activity.status, activity.notes) == ("completed", "Bring samples.")


@pytest.mark.parametrize("data", [{"outcome": "party"}, {"notes": "x" * 2001}, {"notes": "\x00"}])
def test_the_complete_page_refuses_bad_input(rep_client, rep, data):
    activity = ActivityFactory(rep=rep)

    response = rep_client.post(reverse("activity-complete", args=[activity.pk]), data)

    assert response.status_code == 400
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PLANNED


def test_rep_gets_404_on_another_reps_activity_page(rep_client, other_rep):
    activity = ActivityFactory(rep=other_rep)

    assert rep_client.get(reverse("activity-complete", args=[activity.pk])).status_code == 404


# --- Tasks ------------------------------------------------------------------------------------


def test_every_sales_role_has_tasks_in_the_navigation(rep_client, supervisor_client, admin_client):
    for client in (rep_client, supervisor_client, admin_client):
        assert reverse("task-list") in nav_html(client.get(reverse("home")))


@pytest.mark.sqlite
def test_tasks_list_open_ones_due_first_and_say_which_are_overdue(rep_client, rep, other_rep):
    now = timezone.now()
    TaskFactory(rep=rep, title="Later", due_at=now + dt.timedelta(days=3))
    TaskFactory(rep=rep, title="No date")
    TaskFactory(rep=rep, title="Late", due_at=now - dt.timedelta(days=1))
    TaskFactory(
        rep=rep, title="Done", due_at=now - dt.timedelta(days=5),
        status=TaskStatus.DONE, completed_at=now,
    )  # fmt: skip
    TaskFactory(rep=other_rep, title="Not mine")

    response = rep_client.get(reverse("task-list"))

    assert [t.title for t in response.context["page_obj"]] == ["Late", "Later", "No date", "Done"]
    content = response.content.decode()
    assert content.count(">Overdue</span>") == 1
    assert "Not mine" not in content
    open_only = rep_client.get(reverse("task-list"), {"status": "open", "ordering": "-due"})
    assert [t.title for t in open_only.context["page_obj"]] == ["Later", "Late", "No date"]


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_a_task_is_done_and_undone_from_its_row(rep_client, rep, headers):
    task = TaskFactory(rep=rep, title="Call back")
    url = reverse("task-status", args=[task.pk])

    done = rep_client.post(url, {"status": "done", "next": reverse("task-list")}, headers=headers)
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    if headers:
        assert "Undo, open again: Call back" in done.content.decode()
    else:
        assert done["Location"] == reverse("task-list")

    rep_client.post(url, {"status": "open"}, headers=headers)
    task.refresh_from_db()
    assert (task.status, task.completed_at) == (TaskStatus.OPEN, None)
    actions = AuditEntry.objects.filter(target_id=str(task.pk)).values_list("action", flat=True)
    assert sorted(actions) == ["task.done", "task.reopen"]


def test_a_task_status_that_is_not_one_is_refused(rep_client, rep):
    task = TaskFactory(rep=rep)

    response = rep_client.post(
        reverse("task-status", args=[task.pk]), {"status": "maybe"}, headers=HTMX
    )

    assert response.status_code == 400
    assert b"Select a valid choice" in response.content


def test_rep_gets_404_on_another_reps_task(rep_client, other_rep):
    task = TaskFactory(rep=other_rep)

    response = rep_client.post(
        reverse("task-status", args=[task.pk]), {"status": "done"}, headers=HTMX
    )

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_a_rep_adds_a_task_and_lands_on_it(rep_client, rep):
    response = rep_client.post(
        reverse("task-create"), {"title": "Send prices", "due_at": "2030-01-07T09:00"}
    )

    task = Task.objects.get()
    assert (task.rep, task.title) == (rep, "Send prices")
    assert response["Location"] == f"{reverse('task-list')}?created={task.pk}#task-{task.pk}"


def test_a_supervisor_names_the_rep_of_a_task(supervisor_client, rep, other_rep):
    form = supervisor_client.get(reverse("task-create")).context["form"]
    missing = supervisor_client.post(reverse("task-create"), {"title": "T"})
    foreign = supervisor_client.post(reverse("task-create"), {"title": "T", "rep": other_rep.pk})
    ok = supervisor_client.post(reverse("task-create"), {"title": "T", "rep": rep.pk})

    assert list(form.fields["rep"].queryset) == [rep]
    assert (missing.status_code, foreign.status_code, ok.status_code) == (400, 400, 302)
    assert Task.objects.get().rep == rep


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"due_at": "1e309"}, "due_at"),
        ({"due_at": "0001-01-01T00:00"}, "due_at"),
        ({"due_at": "9999-12-31T23:59"}, "due_at"),
    ],
)
def test_the_task_form_refuses_bad_input(rep_client, data, field):
    response = rep_client.post(reverse("task-create"), {"title": "Send prices", **data})

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Task.objects.exists()


@pytest.mark.sqlite
def test_a_new_task_lands_on_the_page_that_holds_it(rep_client, rep):
    soon = timezone.now() + dt.timedelta(days=1)
    TaskFactory.create_batch(PAGE_SIZE + 5, rep=rep, due_at=soon)
    rep_client.post(reverse("task-create"), {"title": "Much later", "due_at": "2031-01-07T09:00"})
    task = Task.objects.get(title="Much later")

    page = rep_client.get(reverse("task-list"), {"created": task.pk})

    assert page.context["page_obj"].number == 2
    assert f'<tr id="task-{task.pk}" class="just-added">' in page.content.decode()


@pytest.mark.parametrize("row_count", [2, 30])
@pytest.mark.parametrize(
    ("url_name", "factory"),
    [("deal-list", DealFactory), ("activity-list", ActivityFactory), ("task-list", TaskFactory),
     ("customer-list", CustomerFactory)],
)  # fmt: skip
def test_landing_on_a_new_row_runs_a_fixed_number_of_queries(
    rep_client, rep, url_name, factory, row_count, assert_queries
):
    owner = {"owner": rep} if factory is CustomerFactory else {"rep": rep}
    rows = [factory(**owner) for _ in range(row_count)]

    # session, user, the user's zone, role (groups), the new row's sort keys, the rows
    # before it, count, page
    with assert_queries(8):
        response = rep_client.get(reverse(url_name), {"created": rows[-1].pk})

    assert response.context["created"] == rows[-1].pk
    assert rows[-1] in response.context["page_obj"]


@pytest.mark.parametrize("created", ["1e309", "-1", "abc", "99999999999999999999", "\x00"])
def test_a_created_marker_that_is_not_an_id_is_ignored(rep_client, created):
    assert rep_client.get(reverse("task-list"), {"created": created}).status_code == 200


@pytest.mark.parametrize("row_count", [2, 20])
@pytest.mark.parametrize("url_name", ["task-list", "deal-list"])
def test_the_new_lists_run_a_fixed_number_of_queries_with_filters(
    supervisor_client, team, url_name, row_count, assert_queries
):
    reps = SalesRepFactory.create_batch(3, team=team)
    for index in range(row_count):
        TaskFactory(rep=reps[index % 3], title=f"Visit {index}")
        DealFactory(rep=reps[index % 3], title=f"Visit {index}")
    filters = {"rep": reps[0].pk, "ordering": "-due" if url_name == "task-list" else "-amount"}
    if url_name == "deal-list":
        filters["search"] = "visit"

    # session, user, the user's zone, role (groups), the rep filter's options, count, page
    with assert_queries(7):
        response = supervisor_client.get(reverse(url_name), filters)

    assert len(response.context["page_obj"]) == len(range(0, row_count, 3))


# --- Customers ----------------------------------------------------------------------------------


def customer_form_data(**overrides) -> dict:
    return {
        "name": "Kiosko La Playa", "code": "", "contact_name": "Rosa Vidal",
        "phone": "+34 600 12 34 56", "email": "rosa@kiosko.example",
        "address": "Paseo Marítimo 4, Málaga", **overrides,
    }  # fmt: skip


@pytest.mark.sqlite
def test_a_rep_adds_a_customer_and_lands_on_it_in_the_list(rep_client, rep):
    response = rep_client.post(reverse("customer-create"), customer_form_data())

    customer = Customer.objects.get()
    assert (customer.owner, customer.status, customer.contact_name) == (
        rep,
        "prospect",
        "Rosa Vidal",
    )
    assert customer.code.startswith("C-")
    assert (
        response["Location"]
        == f"{reverse('customer-list')}?created={customer.pk}#customer-{customer.pk}"
    )
    listing = rep_client.get(response["Location"])
    assert f'<tr id="customer-{customer.pk}" class="just-added">' in listing.content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"contact_name": "a\x00b"}, "contact_name"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "1" * 41}, "phone"),
        ({"email": "nobody"}, "email"),
        ({"address": "x" * 301}, "address"),
        ({"code": "TAKEN"}, "code"),
        ({"code": "x" * 31}, "code"),
    ],
)
def test_the_customer_form_refuses_bad_input(rep_client, rep, data, field):
    CustomerFactory(code="TAKEN", owner=rep)

    response = rep_client.post(reverse("customer-create"), customer_form_data(**data))

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert Customer.objects.count() == 1


def test_the_customer_form_asks_for_a_code_when_none_can_be_made_up(rep_client, rep, monkeypatch):
    CustomerFactory(code="C-AAAAAA", owner=rep)
    monkeypatch.setattr(services, "new_customer_codes", lambda: ["C-AAAAAA"])

    response = rep_client.post(reverse("customer-create"), customer_form_data())

    assert response.status_code == 400
    assert response.context["form"].errors == {"code": [services.CUSTOMER_CODES_TAKEN]}


def test_a_supervisor_names_the_owner_of_a_new_customer(supervisor_client, rep):
    missing = supervisor_client.post(reverse("customer-create"), customer_form_data())
    named = supervisor_client.post(reverse("customer-create"), customer_form_data(owner=rep.pk))

    assert missing.status_code == 400
    assert missing.context["form"].errors["owner"] == [roles.OWNER_REQUIRED]
    assert named.status_code == 302
    assert Customer.objects.get().owner == rep


def test_the_customer_page_links_to_call_write_and_find_the_customer(rep_client, rep):
    customer = CustomerFactory(
        owner=rep,
        phone="+34 600 12 34 56",
        email="rosa@kiosko.example",
        address="Calle Mayor 1, Madrid",
    )

    content = rep_client.get(reverse("customer-detail", args=[customer.pk])).content.decode()

    assert 'href="tel:+34600123456"' in content
    assert 'href="mailto:rosa@kiosko.example"' in content
    assert (
        'href="https://www.google.com/maps/search/?api=1&amp;query=Calle+Mayor+1%2C+Madrid"'
        in content
    )
    assert reverse("customer-edit", args=[customer.pk]) in content
    assert reverse("customer-sign-up", args=[customer.pk]) in content  # a prospect


def test_a_rep_edits_a_customers_contact_details(rep_client, rep):
    customer = CustomerFactory(owner=rep, name="Bar Sol", phone="600 111 222")
    url = reverse("customer-edit", args=[customer.pk])

    form = rep_client.get(url)
    response = rep_client.post(url, customer_form_data(name="Bar Sol", phone="600 333 444"))

    assert 'value="600 111 222"' in form.content.decode()
    assert response["Location"] == reverse("customer-detail", args=[customer.pk])
    customer.refresh_from_db()
    assert (customer.phone, customer.email) == ("600 333 444", "rosa@kiosko.example")


def test_the_edit_form_refuses_a_bad_phone(rep_client, rep):
    customer = CustomerFactory(owner=rep, phone="600 111 222")

    response = rep_client.post(
        reverse("customer-edit", args=[customer.pk]), customer_form_data(phone="ring ring")
    )

    assert response.status_code == 400
    assert response.context["form"].errors["phone"] == [PHONE_INVALID]
    customer.refresh_from_db()
    assert customer.phone == "600 111 222"


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_rep_gets_404_editing_another_reps_customer(rep_client, other_rep, method):
    customer = CustomerFactory(owner=other_rep, name="Not mine")

    response = getattr(rep_client, method)(
        reverse("customer-edit", args=[customer.pk]), customer_form_data()
    )

    assert response.status_code == 404
    customer.refresh_from_db()
    assert customer.name == "Not mine"


def test_a_prospect_signs_up_from_its_page(rep_client, rep):
    customer = CustomerFactory(owner=rep, name="Bar Sol")
    back_to = reverse("customer-detail", args=[customer.pk])

    response = rep_client.post(
        reverse("customer-sign-up", args=[customer.pk]), {"next": back_to}, follow=True
    )

    assert response.redirect_chain == [(back_to, 302)]
    assert "Bar Sol signed up." in response.content.decode()
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.ACTIVE
    again = rep_client.post(reverse("customer-sign-up", args=[customer.pk]), follow=True)
    assert services.CUSTOMER_ALREADY_SIGNED_UP in again.content.decode()


def test_a_prospect_signs_up_from_its_row(rep_client, rep):
    customer = CustomerFactory(owner=rep, name="Bar Sol")

    response = rep_client.post(reverse("customer-sign-up", args=[customer.pk]), headers=HTMX)

    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith(f'<tr id="customer-{customer.pk}">')
    assert "Active" in content and "Sign up: Bar Sol" not in content


def test_a_rep_gets_404_signing_up_another_reps_customer(rep_client, other_rep):
    customer = CustomerFactory(owner=other_rep)

    for headers in (HTMX, {}):
        response = rep_client.post(reverse("customer-sign-up", args=[customer.pk]), headers=headers)
        assert response.status_code == 404
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.PROSPECT


def test_an_admin_names_the_owner_of_an_unowned_prospect_when_signing_it_up(admin_client, rep):
    customer = CustomerFactory(owner=None)
    url = reverse("customer-sign-up", args=[customer.pk])

    page = admin_client.get(reverse("customer-detail", args=[customer.pk]))
    refused = admin_client.post(url, follow=True)
    signed = admin_client.post(url, {"owner": rep.pk})

    assert 'name="owner"' in page.content.decode()
    assert roles.OWNER_REQUIRED in refused.content.decode()
    assert signed.status_code == 302
    customer.refresh_from_db()
    assert (customer.owner, customer.status) == (rep, CustomerStatus.ACTIVE)


def test_customers_filter_by_status_and_search_the_contact(rep_client, rep):
    CustomerFactory(owner=rep, name="Bar Sol", contact_name="Rosa Vidal")
    CustomerFactory(
        owner=rep, name="Bar Luna", status=CustomerStatus.ACTIVE, signed_up_at=timezone.now()
    )

    prospects = rep_client.get(reverse("customer-list"), {"status": "prospect"})
    by_contact = rep_client.get(reverse("customer-list"), {"search": "rosa"})

    assert [c.name for c in prospects.context["page_obj"]] == ["Bar Sol"]
    assert [c.name for c in by_contact.context["page_obj"]] == ["Bar Sol"]


def test_customers_sort_by_name_or_code_from_their_headers(rep_client, rep):
    CustomerFactory(owner=rep, name="Bar Sol", code="Z-1")
    CustomerFactory(owner=rep, name="Abacería", code="M-1")

    default = rep_client.get(reverse("customer-list"))
    by_code = rep_client.get(reverse("customer-list"), {"ordering": "-code"})

    assert [c.name for c in default.context["page_obj"]] == ["Abacería", "Bar Sol"]
    assert [c.code for c in by_code.context["page_obj"]] == ["Z-1", "M-1"]
    html = default.content.decode()
    assert '<th aria-sort="ascending"><a class="sort" href="?ordering=-name">Customer' in html
    assert '<th><a class="sort" href="?ordering=code">Code' in html


def test_tasks_are_searched_by_title(rep_client, rep):
    TaskFactory(rep=rep, title="Call Rosa about the terrace")
    TaskFactory(rep=rep, title="Send prices")

    found = rep_client.get(reverse("task-list"), {"search": "rosa"})

    assert [t.title for t in found.context["page_obj"]] == ["Call Rosa about the terrace"]
    assert 'placeholder="Title"' in found.content.decode()


# --- Home: the figures refresh themselves ------------------------------------------------------


def test_the_home_figures_poll_and_listen_to_the_goal_card(rep_client):
    content = rep_client.get(reverse("home")).content.decode()

    assert f'hx-get="{reverse("home-summary")}?since=' in content
    assert 'hx-trigger="every 20s, plan-card-changed from:body"' in content


@pytest.fixture
def stopped_clock(monkeypatch):
    """The clock stands still (at the real now) until the test moves it: `stopped_clock(delta)`."""
    start = timezone.now()
    moment = {"now": start}
    monkeypatch.setattr(timezone, "now", lambda: moment["now"])

    def move(delta: dt.timedelta) -> None:
        moment["now"] = start + delta

    return move


def test_the_home_figures_answer_204_while_unchanged_and_anew_when_they_move(
    rep_client, rep, stopped_clock
):
    deal = DealFactory(rep=rep, amount=Decimal("500.00"))
    version = rep_client.get(reverse("home")).context["summary_version"]

    unchanged = rep_client.get(reverse("home-summary"), {"since": version}, headers=HTMX)
    services.deal_close(actor=rep.user, deal_id=deal.pk, won=True)
    moved = rep_client.get(reverse("home-summary"), {"since": version}, headers=HTMX)

    assert unchanged.status_code == 204
    assert moved.status_code == 200
    assert [t.name for t in moved.templates] == ["crm/partials/summary.html"]
    assert moved.context["summary"]["won_this_month"] == 1
    assert "<form" not in moved.content.decode()  # nothing anyone may be typing in
    assert f"since={moved.context['summary_version']}" in moved.content.decode()


def test_the_home_figures_say_when_they_were_counted_and_move_on_with_the_minute(
    rep_client, rep, stopped_clock
):
    DealFactory(rep=rep)
    home = rep_client.get(reverse("home"))
    version = home.context["summary_version"]
    counted = home.context["summary"]["counted_at"]

    stopped_clock(dt.timedelta(0))
    same_minute = rep_client.get(reverse("home-summary"), {"since": version}, headers=HTMX)
    stopped_clock(dt.timedelta(minutes=1))
    next_minute = rep_client.get(reverse("home-summary"), {"since": version}, headers=HTMX)

    zone = roles.user_zone(rep.user)  # the reader's, with its name
    assert f"Figures as of {format_moment(counted, 'H:i', zone=zone)}" in home.content.decode()
    assert same_minute.status_code == 204
    assert next_minute.status_code == 200
    later = format_moment(counted + dt.timedelta(minutes=1), "H:i", zone=zone)
    assert f"Figures as of {later}" in next_minute.content.decode()


def test_the_goal_card_announces_that_it_changed(rep_client):
    from goals.plans import services as plans

    plans.plans_create(year=timezone.now().year, month=timezone.now().month)
    changed = rep_client.get(reverse("goals:plan-card"), {"since": "stale"}, headers=HTMX)
    same = rep_client.get(
        reverse("goals:plan-card"), {"since": changed.context["card_version"]}, headers=HTMX
    )

    assert changed["HX-Trigger"] == "plan-card-changed"
    assert same.status_code == 204


@pytest.mark.parametrize("row_count", [1, 15])
def test_the_home_figures_run_a_fixed_number_of_queries(rep_client, rep, row_count, assert_queries):
    DealFactory.create_batch(row_count, rep=rep)
    ActivityFactory.create_batch(row_count, rep=rep)

    # session, user, the user's zone, role (groups), the deals' figures, the activities'
    with assert_queries(6):
        rep_client.get(reverse("home-summary"), headers=HTMX)


def test_an_htmx_get_of_the_complete_url_completes_nothing(rep_client, rep):
    activity = ActivityFactory(rep=rep)

    response = rep_client.get(reverse("activity-complete", args=[activity.pk]), headers=HTMX)

    assert response.status_code == 200
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PLANNED


# --- Who reads the rows -----------------------------------------------------------------------

REP_COLUMNS = {
    "deal-list": ("<th>Rep</th>", 'data-label="Rep"'),
    "activity-list": ("<th>Rep</th>", 'data-label="Rep"'),
    "task-list": ("<th>Rep</th>", 'data-label="Rep"'),
    "customer-list": ("<th>Owner</th>", 'data-label="Owner"'),
}


@pytest.mark.parametrize("url_name", list(REP_COLUMNS))
@pytest.mark.parametrize("shows", [True, False])
def test_the_rep_column_follows_the_policy_not_the_role_name(
    supervisor_client, team, url_name, shows, monkeypatch
):
    monkeypatch.setattr("crm.views.may_choose_rep", lambda user: shows)
    rep = SalesRepFactory(team=team)
    customer = CustomerFactory(owner=rep)
    DealFactory(rep=rep, customer=customer)
    ActivityFactory(rep=rep, customer=customer)
    TaskFactory(rep=rep)

    html = supervisor_client.get(reverse(url_name)).content.decode()

    header, cell = REP_COLUMNS[url_name]
    assert (header in html, cell in html) == (shows, shows)


@pytest.mark.parametrize("shows", [True, False])
def test_a_row_an_action_swaps_in_keeps_the_lists_columns(
    supervisor_client, team, shows, monkeypatch
):
    monkeypatch.setattr("crm.views.may_choose_rep", lambda user: shows)
    task = TaskFactory(rep=SalesRepFactory(team=team))
    deal = DealFactory(rep=task.rep)

    row = supervisor_client.post(
        reverse("task-status", args=[task.pk]), {"status": "done"}, headers=HTMX
    ).content.decode()
    page = supervisor_client.get(reverse("customer-detail", args=[deal.customer_id]))

    assert ('data-label="Rep"' in row) == shows
    assert ('data-label="Rep"' in page.content.decode()) == shows


def test_no_core_or_tracking_template_compares_role_names(settings):
    # Who sees what is a policy of crm.roles, which the view passes on as a flag.
    base = settings.BASE_DIR / "templates"
    for template in [*(base / "crm").rglob("*.html"), *(base / "tracking").rglob("*.html")]:
        assert not re.search(r"\brole\s*[!=]=", template.read_text()), template

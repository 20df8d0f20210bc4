"""The one scoping place: rows owned by a rep, a team or the company; who may act for whom; jobs
acting by name."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from crm import services
from crm.models import AuditEntry, SalesRep, Team
from crm.roles import Role, SystemActor, may_choose_rep, role_of, scope_to_user
from crm.tests.factories import (
    CustomerFactory,
    DealFactory,
    RouteFactory,
    SalesRepFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

COMPANY = "Company-wide"


def visible_teams(user) -> set[str]:
    # Teams stand in for team-owned rows (a team's goal): the team owns itself; one row plays
    # the company's.
    rows = scope_to_user(
        Team.objects.all(), user, rep_path=None, team_path="", company_rows=Q(name=COMPANY)
    )
    return set(rows.values_list("name", flat=True))


def test_team_rows_are_seen_by_the_teams_reps_and_supervisor_company_rows_by_all(
    rep, other_rep, admin_user
):
    TeamFactory(name=COMPANY, manager=None)

    assert visible_teams(rep.user) == {rep.team.name, COMPANY}
    assert visible_teams(rep.team.manager) == {rep.team.name, COMPANY}
    assert visible_teams(other_rep.user) == {other_rep.team.name, COMPANY}
    assert visible_teams(admin_user) == set(Team.objects.values_list("name", flat=True))
    assert visible_teams(UserFactory()) == set()  # no role, nothing


def test_a_supervisor_of_two_teams_sees_each_team_once(supervisor, team):
    second = TeamFactory(manager=supervisor)
    SalesRepFactory.create_batch(3, team=team)
    SalesRepFactory.create_batch(2, team=second)

    rows = scope_to_user(Team.objects.all(), supervisor, rep_path=None, team_path="")

    assert sorted(rows.values_list("pk", flat=True)) == sorted([team.pk, second.pk])


def test_a_system_actor_sees_everything_and_is_audited_by_name(rep, other_rep):
    job = SystemActor("job:import_orders")
    assert role_of(job) == Role.SYSTEM
    assert scope_to_user(SalesRep.objects.all(), job, rep_path="").count() == 2

    deal = services.deal_create(
        actor=job,
        customer=CustomerFactory(owner=other_rep),
        rep=other_rep,
        title="Imported",
        amount=Decimal("10"),
    )

    entry = AuditEntry.objects.get(action="deal.create", target_id=str(deal.pk))
    assert (entry.actor, entry.system_actor, entry.actor_name) == (None, job.name, job.name)


def test_an_audit_entry_names_a_user_or_a_job_never_both(rep):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        AuditEntry.objects.create(
            actor=rep.user,
            system_actor="job:x",
            action="x",
            target_type="crm.deal",
            target_id="1",
        )


# --- Routes: re-read through the actor's scope ------------------------------------------------


def test_a_rep_may_not_add_route_stops(rep):
    route = RouteFactory(rep=rep)
    with pytest.raises(PermissionDenied):
        services.route_stop_add(
            actor=rep.user, route_id=route.pk, customer=CustomerFactory(owner=rep), sequence=1
        )


def test_a_supervisor_cannot_add_a_stop_to_another_teams_route(supervisor, rep, other_rep):
    foreign_route = RouteFactory(rep=other_rep)
    with pytest.raises(Http404):
        services.route_stop_add(
            actor=supervisor,
            route_id=foreign_route.pk,
            customer=CustomerFactory(owner=rep),
            sequence=1,
        )
    assert not foreign_route.stops.exists()


def test_route_stop_api_refuses_reps_and_other_teams(rep_api, supervisor_api, rep, other_rep):
    own_route = RouteFactory(rep=rep)
    foreign_route = RouteFactory(rep=other_rep)
    customer = CustomerFactory(owner=rep)
    body = {"customer": customer.pk, "sequence": 1}

    assert rep_api.post(f"/api/routes/{own_route.pk}/stops/", body).status_code == 403
    assert supervisor_api.post(f"/api/routes/{foreign_route.pk}/stops/", body).status_code == 404
    assert supervisor_api.post(f"/api/routes/{own_route.pk}/stops/", body).status_code == 201


def test_deal_services_answer_404_for_a_record_outside_the_scope(rep, other_rep, rep_api):
    foreign = DealFactory(rep=other_rep)
    assert rep_api.post(f"/api/deals/{foreign.pk}/reopen/").status_code == 404
    with pytest.raises(Http404):
        services.deal_reopen(actor=rep.user, deal_id=foreign.pk)


def test_supervisors_admins_and_jobs_choose_a_records_rep_and_reps_do_not(
    rep, supervisor, admin_user
):
    assert [
        may_choose_rep(who) for who in (rep.user, supervisor, admin_user, SystemActor("job:x"))
    ] == [False, True, True, True]

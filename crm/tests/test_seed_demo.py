from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Max, Min, Sum

from crm import demo
from crm.demo import DEMO_PASSWORD
from crm.demo.people import team_name
from crm.models import (
    Activity,
    ActivityStatus,
    Customer,
    CustomerStatus,
    Deal,
    DealStage,
    Product,
    Route,
    RouteStop,
    SalesRep,
    Task,
    TaskStatus,
    Team,
)

# A fixed "now" makes two runs produce identical rows.
AS_OF = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)
WINDOW_START = datetime(2026, 2, 1, tzinfo=UTC)  # two months ending with March 2026
SEEDED_MODELS = [User, Team, SalesRep, Customer, Product, Route, RouteStop, Deal, Activity, Task]


def seed(**options) -> str:
    out = StringIO()
    call_command(
        "seed_demo",
        as_of=AS_OF,
        allow_demo_logins=True,
        stdout=out,
        stderr=StringIO(),
        **options,
    )
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in SEEDED_MODELS}


def fingerprint() -> dict:
    """What the seeded data looks like, by natural keys only (ids differ between runs)."""
    return {
        "counts": counts(),
        "reps": list(
            SalesRep.objects.values_list(
                "employee_code", "user__username", "user__first_name", "team__name", "hire_date"
            )
        ),
        "customers": list(
            Customer.objects.order_by("code").values_list("code", "name", "status", "signed_up_at")
        ),
        "deals": list(
            Deal.objects.order_by("rep__employee_code", "created_at", "title").values_list(
                "rep__employee_code", "customer__code", "title", "amount", "stage", "closed_at"
            )
        ),
        "activities": Activity.objects.aggregate(
            n=Count("id"), first=Min("due_at"), last=Max("due_at"), done=Max("completed_at")
        ),
        "stops": list(
            RouteStop.objects.order_by("route__code", "sequence").values_list(
                "route__code", "sequence", "customer__code", "planned_quantity"
            )
        ),
    }


class _Rollback(Exception):
    pass


def fingerprint_of_fresh_run(**options) -> dict:
    """Seed inside a savepoint, describe the result, then roll it back."""
    try:
        with transaction.atomic():
            seed(**options)
            result = fingerprint()
            raise _Rollback
    except _Rollback:
        pass
    return result


@pytest.mark.django_db
def test_small_run_creates_users_groups_teams_and_data():
    out = seed(reps=3, months=2)

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert list(admin.groups.values_list("name", flat=True)) == ["admin"]
    team = Team.objects.get()
    assert (team.name, team.manager.username) == ("North", "supervisor1")
    assert list(team.manager.groups.values_list("name", flat=True)) == ["supervisor"]
    reps = SalesRep.objects.select_related("user").order_by("employee_code")
    assert [r.user.username for r in reps] == ["rep1", "rep2", "rep3"]
    assert {r.team_id for r in reps} == {team.pk}
    assert User.objects.filter(groups__name="rep").count() == 3
    assert len({r.employee_code for r in reps}) == 3
    assert Product.objects.count() == 20

    per_rep = SalesRep.objects.annotate(n=Count("customers"))
    assert all(20 <= rep.n <= 30 for rep in per_rep)
    assert Customer.objects.filter(status=CustomerStatus.PROSPECT).exists()
    assert Customer.objects.filter(signed_up_at__gte=WINDOW_START).exists()

    for route in Route.objects.annotate(n=Count("stops")):
        assert len(route.code) == 4 and route.code.isdigit()
        assert 8 <= route.n <= 15
        sequences = list(route.stops.order_by("sequence").values_list("sequence", flat=True))
        assert sequences == list(range(1, route.n + 1))

    # History, not the load time: every timestamp sits inside the two months, up to "now".
    deals = Deal.objects.all()
    assert deals.filter(stage=DealStage.CLOSED_WON).exists()
    assert deals.exclude(stage__in=DealStage.closed()).exists()
    span = deals.aggregate(first=Min("created_at"), last=Max("created_at"), closed=Max("closed_at"))
    assert span["first"] >= WINDOW_START and span["last"] <= AS_OF and span["closed"] <= AS_OF
    for deal in deals.filter(stage__in=DealStage.closed()):
        assert deal.created_at <= deal.closed_at
        assert (deal.closed_at.year, deal.closed_at.month) == (
            deal.created_at.year,
            deal.created_at.month,
        )
    activities = Activity.objects.all()
    assert not activities.filter(due_at__gt=AS_OF).exclude(status=ActivityStatus.PLANNED).exists()
    assert activities.filter(due_at__gt=AS_OF).exists()
    assert activities.filter(status=ActivityStatus.COMPLETED, completed_at__lte=AS_OF).exists()
    assert activities.filter(status=ActivityStatus.CANCELLED).exists()
    assert Task.objects.filter(status=TaskStatus.DONE).exists()
    assert Task.objects.filter(status=TaskStatus.OPEN).exists()

    assert f"password {DEMO_PASSWORD}" in out
    assert "supervisor1" in out and "rep1..rep3" in out


@pytest.mark.django_db
def test_teams_hold_six_reps_each_under_their_own_supervisor():
    seed(reps=8, months=1)

    teams = {t.name: t for t in Team.objects.annotate(n=Count("reps")).select_related("manager")}
    assert {name: (t.manager.username, t.n) for name, t in teams.items()} == {
        "North": ("supervisor1", 6),
        "South": ("supervisor2", 2),
    }
    assert SalesRep.objects.get(user__username="rep7").team.name == "South"
    assert [team_name(i) for i in range(6)] == [
        "North",
        "South",
        "East",
        "West",
        "Team 5",
        "Team 6",
    ]


@pytest.mark.django_db
def test_second_run_adds_nothing():
    seed(reps=3, months=2)
    before = counts()

    out = seed(reps=3, months=2)

    assert counts() == before
    assert "nothing to add" in out


@pytest.mark.django_db
def test_more_reps_add_only_the_new_reps_and_their_data():
    seed(reps=2, months=2)
    rep1_deals = list(Deal.objects.filter(rep__user__username="rep1").values_list("id", "amount"))

    seed(reps=3, months=2)

    assert SalesRep.objects.count() == 3
    assert list(Deal.objects.filter(rep__user__username="rep1").values_list("id", "amount")) == (
        rep1_deals
    )
    assert Customer.objects.filter(owner__user__username="rep3").count() >= 20
    assert Deal.objects.filter(rep__user__username="rep3").exists()


@pytest.mark.django_db
def test_same_seed_gives_the_same_data():
    first = fingerprint_of_fresh_run(reps=2, months=2, seed=7)
    second = fingerprint_of_fresh_run(reps=2, months=2, seed=7)
    other = fingerprint_of_fresh_run(reps=2, months=2, seed=8)

    assert first == second
    assert first["counts"]["Deal"] > 0
    assert other["deals"] != first["deals"]


@pytest.mark.django_db
def test_adding_reps_later_gives_what_a_single_run_gives():
    in_one_go = fingerprint_of_fresh_run(reps=3, months=2)
    seed(reps=1, months=2)
    seed(reps=3, months=2)

    assert fingerprint() == in_one_go


@pytest.mark.django_db
def test_seasonality_and_skill_show_in_the_numbers():
    seed(reps=12, months=12)

    won = Deal.objects.filter(stage=DealStage.CLOSED_WON)
    by_rep = sorted(won.values("rep").annotate(total=Sum("amount")).values_list("total", flat=True))
    assert by_rep[-1] > 3 * by_rep[0]  # strong and weak reps
    august = Deal.objects.filter(created_at__month=8).count()
    april = Deal.objects.filter(created_at__month=4).count()
    assert april > 1.5 * august
    assert won.aggregate(total=Sum("amount"))["total"] > Decimal(0)


@pytest.mark.sqlite
@pytest.mark.django_db
def test_demo_users_can_log_in_with_the_demo_password(client):
    seed(reps=1, months=1)

    for username in ("admin", "supervisor1", "rep1"):
        assert client.login(username=username, password=DEMO_PASSWORD), username
        client.logout()


@pytest.mark.django_db
def test_refuses_demo_logins_in_production_unless_asked():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", reps=1, months=1, stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_demo_data_plans_whole_quantities_and_says_how_to_reach_customers():
    seed(reps=2, months=2)

    quantities = list(RouteStop.objects.values_list("planned_quantity", flat=True))
    assert quantities and all(isinstance(q, int) and 1 <= q <= 30 for q in quantities)
    assert not Customer.objects.filter(contact_name="").exists()
    assert Customer.objects.exclude(phone="").count() > Customer.objects.count() // 2
    for email in Customer.objects.exclude(email="").values_list("email", flat=True):
        assert email.endswith("@demo.example") and email.isascii()
    done = Activity.objects.filter(status=ActivityStatus.COMPLETED)
    assert done.exists() and not done.filter(outcome="").exists()
    assert (
        not Activity.objects.exclude(status=ActivityStatus.COMPLETED).exclude(outcome="").exists()
    )
    for customer in Customer.objects.exclude(phone=""):
        customer.full_clean()  # every demo phone and email passes the rules


# --- The seeders ----------------------------------------------------------------------------


def test_the_cores_seeders_run_first_then_each_apps_in_the_order_of_installed_apps():
    assert [seeder.name for seeder in demo.seeders()] == [
        "admin",
        "products",
        "teams",
        "reps",
        "goals",
        "supervision",
        "tracking",
    ]


@pytest.fixture
def extra_seeders(monkeypatch):
    """Seeders registered by a test, forgotten after it (the apps' found before, so that they
    stay registered)."""
    demo.seeders()
    monkeypatch.setattr(demo.registry, "_seeders", dict(demo.registry._seeders))


@pytest.mark.django_db
def test_an_apps_seeder_runs_at_its_order_and_finds_the_reps_and_teams(extra_seeders):
    seen = []

    @demo.demo_seeder("between", order=45)
    def between(context: demo.DemoContext) -> None:
        seen.append(
            (
                [rep.user.username for rep in context.reps],
                [team.name for team in context.teams],
                context.first_month,
                context.as_of,
            )
        )
        context.count("test rows", 2)

    names = [seeder.name for seeder in demo.seeders()]
    out = seed(reps=2, months=2)

    assert names.index("reps") < names.index("between") < names.index("goals")
    assert seen == [(["rep1", "rep2"], ["North"], WINDOW_START.date(), AS_OF)]
    assert "test rows 2" in out


@pytest.mark.django_db
def test_a_seeder_that_fails_leaves_nothing_behind(extra_seeders):
    @demo.demo_seeder("failing")
    def failing(context: demo.DemoContext) -> None:
        raise RuntimeError("the demo broke")

    with pytest.raises(RuntimeError, match="the demo broke"):
        seed(reps=2, months=1)

    assert set(counts().values()) == {0}


def test_two_seeders_cannot_share_a_name(extra_seeders):
    @demo.demo_seeder("twice")
    def first(context: demo.DemoContext) -> None: ...

    with pytest.raises(ValueError, match="twice"):

        @demo.demo_seeder("twice")
        def second(context: demo.DemoContext) -> None: ...


@pytest.mark.django_db
def test_progress_names_each_seeder_and_is_silent_at_verbosity_0():
    err, quiet = StringIO(), StringIO()
    call_command("seed_demo", reps=1, months=1, as_of=AS_OF, allow_demo_logins=True,
                 stdout=StringIO(), stderr=err)  # fmt: skip
    call_command("seed_demo", reps=1, months=1, as_of=AS_OF, allow_demo_logins=True,
                 verbosity=0, stdout=StringIO(), stderr=quiet)  # fmt: skip

    assert "7/7" in err.getvalue()
    assert all(name in err.getvalue() for name in ("reps", "goals", "tracking"))
    assert quiet.getvalue() == ""


@pytest.mark.django_db
def test_no_reps_makes_the_accounts_and_products_only():
    out = seed(reps=0, months=1)

    assert counts() == {**dict.fromkeys(counts(), 0), "User": 1, "Product": 20}
    assert "admin" in out and "supervisor1" not in out and "sales reps" not in out


@pytest.mark.django_db
def test_a_rep_whose_login_is_taken_is_named_and_nothing_is_added():
    from django.core.management import CommandError

    User.objects.create(username="rep2")

    with pytest.raises(CommandError, match="would reuse existing usernames or codes: rep2"):
        seed(reps=2, months=1)

    assert list(User.objects.values_list("username", flat=True)) == ["rep2"]
    assert not SalesRep.objects.exists() and not Product.objects.exists()

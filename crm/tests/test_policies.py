"""Who may do what: each decision one named policy of crm.roles; the areas of the site the apps
register (crm.areas), read alike by pages, endpoints and the navigation; and the structural rules
that keep it so: no role compared outside crm.roles, no template comparing role names, no
endpoint without its area, no feature app named by the core."""

import ast
import dataclasses
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.safestring import mark_safe
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from crm import areas, roles, web
from crm.api.permissions import NO_CRM_ROLE, NOT_FOR_YOUR_ROLE, UsesArea
from crm.roles import Role, SystemActor
from crm.testing import signed_in, signed_in_api, statements
from crm.testing.routes import route_with_stops
from crm.tests.factories import CustomerFactory, SalesRepFactory, UserFactory
from crm.tests.test_views import nav_html
from goals.plans import services as plans
from supervision import services as supervision_services
from supervision.rules import Change
from supervision.selectors import today as supervision_today

BASE = Path(settings.BASE_DIR)
FEATURE_APPS = ("goals", "supervision", "tracking")
# Not the project's own source: tests and their helpers, environments, build output.
NOT_SOURCE = {"tests", "testing", ".venv", "venv", "node_modules", "var", ".git", "test-artifacts"}


@pytest.fixture
def people(db, rep, supervisor, admin_user) -> dict:
    """One of each: a role from a group, staff, a job, no role, nobody signed in."""
    return {
        "rep": rep.user,
        "supervisor": supervisor,
        "admin": admin_user,
        "admin by group": UserFactory(groups=["admin"]),
        "job": SystemActor("job:nightly"),
        "no role": UserFactory(),
        "anonymous": AnonymousUser(),
    }


def admitted(policy, people: dict) -> set[str]:
    return {who for who, actor in people.items() if policy(actor)}


ADMINS = {"admin", "admin by group", "job"}
MANAGERS = {"supervisor"} | ADMINS


# --- The policies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (roles.sees_everything, ADMINS),
        (roles.has_crm_role, {"rep"} | MANAGERS),
        (roles.may_choose_rep, MANAGERS),
        (roles.may_manage_routes, MANAGERS),
        (roles.keeps_own_plan, {"rep"}),
        (roles.may_correct_plans, MANAGERS),
        (roles.may_set_plan_defaults, ADMINS),
        (roles.may_set_company_goals, ADMINS),
        (roles.may_start_jobs, ADMINS),
        (roles.may_reopen_day, ADMINS),
        (roles.may_see_review_cache, ADMINS),
        (roles.may_use_django_admin, {"admin"}),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_each_policy_admits_the_roles_it_names(people, policy, expected):
    assert admitted(policy, people) == expected


def test_the_role_shown_on_the_pages_is_none_without_a_role(people):
    shown = {who: roles.role_name(actor) for who, actor in people.items()}

    assert shown == {
        "rep": "rep",
        "supervisor": "supervisor",
        "admin": "admin",
        "admin by group": "admin",
        "job": "system",
        "no role": None,
        "anonymous": None,
    }


def test_a_rep_is_looked_after_by_their_teams_supervisor_and_admins_never_by_themselves(
    people, rep, other_rep
):
    looking_after = admitted(lambda actor: roles.manages(actor, rep), people)
    assert looking_after == {"supervisor"} | ADMINS
    assert not roles.manages(other_rep.team.manager, rep)
    assert not roles.manages(other_rep.user, rep)


def test_a_supervisor_who_also_sells_does_not_manage_their_own_plan(supervisor, team):
    own = SalesRepFactory(user=supervisor, team=team)

    assert not roles.manages(supervisor, own)
    assert roles.manages(UserFactory(groups=["admin"]), own)


def test_the_administrators_are_the_active_accounts_whose_role_is_admin(people):
    UserFactory(groups=["admin"], is_active=False)
    UserFactory(is_staff=True)

    by_role = {user for user in User.objects.all() if roles.role_of(user) == Role.ADMIN}
    assert set(roles.administrators()) == by_role
    assert len(by_role) == 3  # staff and superuser, the admin group, staff alone


# --- Areas ----------------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    """The area registry, put back as it was after the test."""
    monkeypatch.setattr(areas, "_areas", dict(areas._areas))
    return areas._areas


@pytest.mark.parametrize(
    ("area", "expected"),
    [
        ("sales", {"rep", "supervisor", "admin", "admin by group"}),
        ("goals", {"rep", "supervisor", "admin", "admin by group"}),
        ("supervision", {"supervisor", "admin", "admin by group"}),
        ("tracking", {"admin", "admin by group"}),
        ("ops", {"admin", "admin by group", "job"}),  # a job acts as an administrator
        ("admin", {"admin"}),
    ],
)
def test_each_area_is_opened_by_the_roles_its_app_registered(people, area, expected):
    assert admitted(lambda actor: areas.can_use(actor, area), people) == expected


def test_the_areas_come_from_the_apps_in_their_navigation_order():
    assert [area.name for area in areas.registered_areas()] == [
        "sales",
        "goals",
        "supervision",
        "tracking",
        "ops",
        "admin",
    ]


def test_an_area_registered_twice_alike_is_one_and_two_different_ones_are_a_mistake(registry):
    goals = registry["goals"]
    again = areas.register_area(
        "goals", label=goals.label, order=goals.order, roles=goals.roles, links=goals.links
    )
    assert again == goals
    assert [area.name for area in areas.registered_areas()].count("goals") == 1

    with pytest.raises(ImproperlyConfigured):
        areas.register_area("goals", label="Goals", order=20, roles={Role.ADMIN})
    with pytest.raises(ImproperlyConfigured):  # who may open it: roles or a policy, one of them
        areas.register_area("reports", label="Reports", order=50)
    with pytest.raises(ImproperlyConfigured):
        areas.register_area(
            "reports", label="Reports", order=50, roles={Role.ADMIN}, admits=roles.sees_everything
        )


def test_an_area_nobody_registered_is_a_mistake_not_a_closed_door(rep):
    with pytest.raises(ImproperlyConfigured):
        areas.can_use(rep.user, "reportz")


def main_nav(user, path: str = "/") -> list[tuple[str, bool]]:
    """The main navigation's links as (label, current) on the page at `path`, for `user`."""
    html = nav_html(signed_in(user).get(path))
    links = re.findall(r"<a href=\"[^\"]*\"( aria-current=\"page\")?>([^<]+)</a>", html)
    return [(label, bool(current)) for current, label in links]


SALES_LINKS = ["Deals", "Activities", "Tasks", "Customers"]


def test_the_navigation_lists_the_areas_each_role_may_open(people):
    labels = {
        who: [label for label, _ in main_nav(people[who])]
        for who in ("rep", "supervisor", "admin", "admin by group", "no role")
    }

    assert labels == {
        "rep": [*SALES_LINKS, "Goals"],
        "supervisor": [*SALES_LINKS, "Goals", "Supervision"],
        "admin": [*SALES_LINKS, "Goals", "Supervision", "Tracking", "Ops", "Admin"],
        # Django admin admits staff only: no link that would end on its login page.
        "admin by group": [*SALES_LINKS, "Goals", "Supervision", "Tracking", "Ops"],
        "no role": [],
    }


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", None),
        ("/deals/new/", "Deals"),
        ("/activities/", "Activities"),
        ("/customers/new/", "Customers"),
        ("/goals/list/", "Goals"),
        ("/goals/analytics/", "Goals"),
        ("/supervision/", "Supervision"),
        ("/tracking/", "Tracking"),
    ],
)
def test_the_link_of_the_area_shown_is_the_current_page(admin_user, path, current):
    nav = main_nav(admin_user, path)

    assert [label for label, is_current in nav if is_current] == ([current] if current else [])


def test_a_customers_page_marks_customers(rep):
    customer = CustomerFactory(owner=rep)
    nav = main_nav(rep.user, reverse("customer-detail", args=[customer.pk]))

    assert [label for label, is_current in nav if is_current] == ["Customers"]


def test_an_area_an_app_registers_joins_the_navigation_for_its_roles_only(
    registry, rep, supervisor
):
    areas.register_area(
        "guide",
        label="Guide",
        order=25,
        roles={Role.REP},
        links=[areas.Link("Guide", "goals:guide")],
    )

    assert [label for label, _ in main_nav(rep.user)] == [*SALES_LINKS, "Goals", "Guide"]
    assert "Guide" not in [label for label, _ in main_nav(supervisor)]
    # Its link is the current page's on the page it names, and the whole namespace's link
    # (Goals) is current there too.
    nav = main_nav(rep.user, reverse("goals:guide"))
    assert [label for label, is_current in nav if is_current] == ["Goals", "Guide"]


def test_a_home_panel_shows_to_the_people_its_policy_admits(monkeypatch, rep_client, admin_client):
    monkeypatch.setattr(web, "_home_panels", list(web._home_panels))

    @web.home_panel(roles.may_start_jobs)
    def jobs_panel(request):
        return mark_safe('<section class="panel" id="jobs-panel">Jobs</section>')

    assert 'id="jobs-panel"' in admin_client.get("/").content.decode()
    assert 'id="jobs-panel"' not in rep_client.get("/").content.decode()


def test_the_goals_area_links_to_the_readers_own_plan_or_to_compliance(
    rep_client, supervisor_client
):
    page = rep_client.get(reverse("goals:goal-list")).content.decode()
    assert "My goals" in page and "Compliance" not in page

    page = supervisor_client.get(reverse("goals:goal-list")).content.decode()
    assert "Compliance" in page and "My goals" not in page


# --- Endpoints: every one in an area -------------------------------------------------------------


def api_views() -> list[tuple[str, type, dict]]:
    """Every view under /api/: (path, view class, the arguments it was set up with)."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    found = []
    for path, callback in walk(get_resolver().url_patterns, ""):
        if path.startswith("api/"):
            view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
            found.append((path, view_class, getattr(callback, "initkwargs", None) or {}))
    return found


def test_every_endpoint_names_its_area_and_checks_it():
    views = api_views()
    assert len(views) > 50  # the walk found the API

    unchecked = []
    for path, view_class, setup in views:
        permissions = setup.get("permission_classes", getattr(view_class, "permission_classes", []))
        area = setup.get("area", getattr(view_class, "area", None))
        if view_class is None or not any(issubclass(p, UsesArea) for p in permissions):
            unchecked.append(f"{path}: no area permission")
        elif area is None:
            unchecked.append(f"{path}: names no area")
        else:
            areas.area_named(area)  # registered, or a mistake
    assert unchecked == []


def test_each_apps_endpoints_are_in_its_own_area():
    expected = {"goals": "goals", "supervision": "supervision"}
    for path, view_class, setup in api_views():
        app = path.removeprefix("api/").split("/")[0]
        assert setup.get("area", view_class.area) == expected.get(app, "sales"), path


def test_a_view_that_names_no_area_is_refused_loudly(rep):
    class Nameless(APIView):
        pass

    request = APIRequestFactory().get("/api/nameless/")
    request.user = rep.user
    with pytest.raises(ImproperlyConfigured):
        UsesArea().has_permission(request, Nameless())


@pytest.fixture
def goals_for_admins_only(registry):
    registry["goals"] = dataclasses.replace(registry["goals"], roles=frozenset({Role.ADMIN}))


def test_the_goals_endpoints_and_pages_follow_the_goals_area_not_the_sales_one(
    rep_client, rep_api, rep, goals_for_admins_only
):
    assert rep_api.get("/api/deals/").status_code == 200
    for path in ("/api/goals/", "/api/goals/monthly/current", "/api/goals/analytics/"):
        response = rep_api.get(path)
        assert response.status_code == 403, path
        assert response.json()["detail"] == NOT_FOR_YOUR_ROLE.format(area="Goals")
    assert rep_client.get(reverse("goals:goal-list")).status_code == 403
    assert "Goals" not in [label for label, _ in main_nav(rep.user)]


def test_an_area_a_role_does_not_use_is_refused_saying_so(rep_api):
    response = rep_api.get("/api/supervision/sessions/")

    assert response.status_code == 403
    assert response.json()["detail"] == NOT_FOR_YOUR_ROLE.format(area="Supervision")


def test_an_account_without_a_role_uses_no_endpoint_and_not_the_schema(db):
    nobody = signed_in_api(UserFactory())
    for path in ("/api/", "/api/deals/", "/api/goals/", "/api/supervision/sessions/"):
        response = nobody.get(path)
        assert response.status_code == 403, path
        assert response.json()["detail"] == NO_CRM_ROLE
    assert nobody.get("/api/schema/").status_code == 403


def test_nobody_signed_in_is_asked_to_sign_in_everywhere(api_client, db):
    for path in ("/api/", "/api/goals/", "/api/supervision/sessions/", "/api/schema/"):
        assert api_client.get(path).status_code == 401, path


# --- Writes re-read their target in the actor's scope, locked -----------------------------------


def test_a_plan_set_for_a_rep_outside_ones_teams_is_404_and_the_rep_is_read_locked(
    supervisor, rep, other_rep
):
    targets = {"signup_goal": 3, "revenue_goal": 1000, "bonus_tier_goal": 1}
    with pytest.raises(Http404):
        plans.plan_set(actor=supervisor, rep_id=other_rep.pk, **targets)
    with CaptureQueriesContext(connection) as queries:
        plans.plan_set(actor=supervisor, rep_id=rep.pk, **targets)
    rep_reads = [sql for sql in statements(queries) if 'FROM "crm_salesrep"' in sql]
    assert rep_reads and "FOR UPDATE" in rep_reads[0]


def test_a_day_to_reopen_is_read_locked_and_comes_back_at_its_new_version(
    supervisor, admin_user, rep
):
    route = route_with_stops(rep)
    first = route.stops.order_by("sequence").values_list("customer_id", flat=True)[0]
    saved = supervision_services.session_write(
        actor=supervisor,
        route_id=route.pk,
        date=supervision_today(),
        record_version=0,
        changes=[Change(customer_id=first, visited=True, actual_quantity=1)],
    )
    with pytest.raises(Http404):
        supervision_services.session_reopen(
            actor=admin_user, session_id=uuid.uuid4(), reason="Late figures in"
        )

    with CaptureQueriesContext(connection) as queries:
        reopened = supervision_services.session_reopen(
            actor=admin_user, session_id=saved.day.session.pk, reason="Late figures in"
        )

    session_reads = [
        sql for sql in statements(queries) if 'FROM "supervision_supervisionsession"' in sql
    ]
    assert "FOR UPDATE" in session_reads[0]
    assert reopened.summary.record_version == saved.day.record_version + 1


# --- Structure: nobody else compares roles, the core names no app ------------------------------


def source_files(root: Path = BASE) -> list[Path]:
    return [
        path
        for path in root.rglob("*.py")
        if not NOT_SOURCE & set(path.relative_to(BASE).parts) and path.name != "conftest.py"
    ]


def test_the_source_tree_is_found():
    files = {str(path.relative_to(BASE)) for path in source_files()}
    assert {"crm/roles.py", "goals/services/editing.py", "supervision/views.py"} <= files


def role_decisions(path: Path) -> list[str]:
    """What in a module decides by role rather than by asking crm.roles: role_of used at all,
    a comparison with a Role, or an account's staff or superuser flag read."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        line = f"{path.relative_to(BASE)}:{getattr(node, 'lineno', 0)}"
        if getattr(node, "id", None) == "role_of" or getattr(node, "attr", None) == "role_of":
            found.append(f"{line} role_of")
        elif isinstance(node, ast.alias) and node.name == "role_of":
            found.append(f"{line} imports role_of")
        elif isinstance(node, ast.Attribute) and node.attr in {"is_staff", "is_superuser"}:
            found.append(f"{line} reads {node.attr}")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            named = [
                sub
                for operand in operands
                for sub in ast.walk(operand)
                if isinstance(sub, ast.Attribute)
                and isinstance(sub.value, ast.Name)
                and sub.value.id == "Role"
            ]
            if named:
                found.append(f"{line} compares with Role.{named[0].attr}")
    return found


def test_no_module_but_crm_roles_decides_by_role():
    decisions = [
        found
        for path in source_files()
        if path != BASE / "crm" / "roles.py"
        for found in role_decisions(path)
    ]
    assert decisions == []


def test_the_structural_check_finds_a_role_decision(tmp_path, monkeypatch):
    monkeypatch.setattr("crm.tests.test_policies.BASE", tmp_path)
    module = tmp_path / "view.py"
    module.write_text(
        "from crm.roles import Role, role_of\n"
        "def f(user):\n"
        "    return role_of(user) == Role.REP or user.is_staff or user.role in {Role.ADMIN}\n"
    )
    assert len(role_decisions(module)) == 5


ROLE_NAMES = r"(?:rep|supervisor|admin|system|none)"
TEMPLATE_ROLE_CHECKS = [
    re.compile(r"\brole\w*\s*(?:==|!=|\bin\b|\bnot in\b)"),
    re.compile(r"(?:==|!=)\s*\w*\brole\w*\b"),
    re.compile(rf"(?:==|!=|\bin\b)\s*[\"']{ROLE_NAMES}[\"']"),
    re.compile(rf"[\"']{ROLE_NAMES}[\"']\s*(?:==|!=|\bin\b)"),
    re.compile(r"\buser\.(?:is_staff|is_superuser|groups)\b"),
]


def template_role_checks(text: str) -> list[str]:
    tags = re.findall(r"\{%\s*(?:if|elif|with)\b.*?%\}", text, re.S)
    return [tag for tag in tags if any(check.search(tag) for check in TEMPLATE_ROLE_CHECKS)]


def test_no_template_compares_roles():
    templates = [
        path for path in BASE.rglob("*.html") if not NOT_SOURCE & set(path.relative_to(BASE).parts)
    ]
    assert len(templates) > 30
    found = {
        str(path.relative_to(BASE)): checks
        for path in templates
        if (checks := template_role_checks(path.read_text()))
    }
    assert found == {}


@pytest.mark.parametrize(
    "tag",
    [
        '{% if role == "rep" %}',
        '{% if role != "none" %}',
        '{% if "admin" == role_name %}',
        "{% if user.is_staff %}",
        '{% elif current == "x" or role in roles %}',
    ],
)
def test_the_template_check_finds_a_role_comparison(tag):
    assert template_role_checks(tag) == [tag]


def test_the_template_check_leaves_flags_alone():
    assert (
        template_role_checks("{% if role_name %}{% if may_reopen %}{% if offers.own_plan %}") == []
    )


def test_the_core_names_no_feature_app():
    # The project's config installs the apps (settings) and routes to them (the root URLconf);
    # the core's own code knows them only through what they register.
    config = {BASE / "crm" / "settings.py", BASE / "crm" / "urls.py"}
    app = re.compile(rf"^(?:{'|'.join(FEATURE_APPS)})(?:[.:]|$)")
    found = []
    for path in source_files(BASE / "crm"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            line = f"{path.relative_to(BASE)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                found += [f"{line} {a.name}" for a in node.names if app.match(a.name)]
            elif isinstance(node, ast.ImportFrom) and app.match(node.module or ""):
                found.append(f"{line} {node.module}")
            elif (
                path not in config
                and isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and app.match(node.value)
            ):
                found.append(f"{line} {node.value!r}")
    base_html = (BASE / "templates" / "base.html").read_text()
    found += [f"templates/base.html {name}" for name in FEATURE_APPS if name in base_html]
    assert found == []

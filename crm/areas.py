"""The areas of the site: who may open each, and its entries in the main navigation.

Each app registers its own in `<app>/areas.py`, found at start-up (crm.apps), so that the core
names no app:

    register_area(
        "supervision",
        label="Supervision",
        roles={Role.ADMIN, Role.SUPERVISOR},
        order=30,
        links=[Link("Supervision", "supervision:index")],
    )

An area's name is what its pages (`crm.web.area_required("supervision")`) and endpoints (a
view's `area`, crm.api.permissions) say, and what `can_use(user, name)` below answers for.
The navigation of every page (crm.context_processors) lists, in `order`, the links of the areas
the user may open; a link is the current page's (`aria-current`) on the pages of its URL's
namespace, or on the `pages` it names. The core's own areas, its sales pages and Django admin's
entry, are registered at the bottom of this module.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.urls import ResolverMatch, reverse

from crm.roles import Actor, Role, has_role_in, may_operate, may_use_django_admin

Policy = Callable[[Actor], bool]


@dataclass(frozen=True)
class Link:
    """An entry of the main navigation. `pages`: the URL names (with their namespace) on which
    it is the current page's; none named, every page of its URL's namespace (a page without a
    namespace: its own)."""

    label: str
    url_name: str
    pages: Iterable[str] = frozenset()  # kept as a frozenset

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", frozenset(self.pages))

    def is_current(self, match: ResolverMatch | None) -> bool:
        if match is None:
            return False
        if self.pages:
            return match.view_name in self.pages
        namespace = self.url_name.rpartition(":")[0]
        if namespace:
            return namespace in match.namespaces
        return match.view_name == self.url_name


@dataclass(frozen=True)
class Area:
    name: str
    label: str
    order: int
    roles: frozenset[Role]
    admits: Policy | None
    links: tuple[Link, ...]


@dataclass(frozen=True)
class NavItem:
    """A link as one page shows it."""

    label: str
    url: str
    current: bool


_areas: dict[str, Area] = {}


def register_area(
    name: str,
    *,
    label: str,
    order: int,
    roles: Iterable[Role] = (),
    admits: Policy | None = None,
    links: Iterable[Link] = (),
) -> Area:
    """Register an area: the `roles` that may open it, or, for an area whose door is not a
    role, the crm.roles policy that `admits` a user; its navigation `links`, listed by `order`
    (the core's sales pages come first). Registering the same area again changes nothing; two
    different areas under one name are a mistake, said at start-up."""
    roles = frozenset(roles)
    if bool(roles) == (admits is not None):
        raise ImproperlyConfigured(f"Area {name!r}: give its roles, or the policy that admits.")
    area = Area(name, label, order, roles, admits, tuple(links))
    known = _areas.get(name)
    if known is not None and known != area:
        raise ImproperlyConfigured(f"Two different areas are registered as {name!r}.")
    _areas[name] = area
    return area


def area_named(name: str) -> Area:
    try:
        return _areas[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"No area {name!r} is registered (register_area in the app's areas.py)."
        ) from None


def can_use(user: Actor, area: str) -> bool:
    """Whether `user` may open an area of the site (its pages, endpoints and navigation
    entries), as the area was registered: by role, or by its own crm.roles policy."""
    registered = area_named(area)
    if registered.admits is not None:
        return registered.admits(user)
    return has_role_in(user, registered.roles)


def registered_areas() -> list[Area]:
    """Every area, in navigation order."""
    return sorted(_areas.values(), key=lambda area: (area.order, area.name))


def navigation(user: Actor, match: ResolverMatch | None) -> list[NavItem]:
    """The main navigation's links for `user`, on the page `match` resolved: those of the areas
    they may open, in order, the current page's marked."""
    return [
        NavItem(link.label, reverse(link.url_name), link.is_current(match))
        for area in registered_areas()
        if can_use(user, area.name)
        for link in area.links
    ]


# --- The core's own areas ---------------------------------------------------------------------

register_area(
    "sales",
    label="Sales",
    order=10,
    roles={Role.ADMIN, Role.SUPERVISOR, Role.REP},
    links=[
        Link("Deals", "deal-list", {"deal-list", "deal-create", "deal-edit"}),
        Link(
            "Activities", "activity-list", {"activity-list", "activity-create", "activity-complete"}
        ),
        Link("Tasks", "task-list", {"task-list", "task-create"}),
        Link(
            "Customers",
            "customer-list",
            {"customer-list", "customer-detail", "customer-create", "customer-edit"},
        ),
    ],
)

# The pages of the people who run the CRM: the ops dashboard and the switches for a bad day
# (crm.switches). Never switched off itself.
register_area(
    "ops",
    label="Ops",
    order=900,
    admits=may_operate,
    links=[Link("Ops", "ops:dashboard")],
)

# Last in the navigation, whatever the apps register: it leaves the site for Django admin.
register_area(
    "admin",
    label="Admin",
    order=1000,
    admits=may_use_django_admin,
    links=[Link("Admin", "admin:index")],
)

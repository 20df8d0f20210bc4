"""Reads of core CRM data. Each selector takes the requesting user (or a job's SystemActor) and
returns a role-scoped queryset with its joins already applied, so that a page or endpoint runs a
fixed number of queries whatever the number of rows. `rep_facts` is the one unscoped reader: the
caller hands it reps it has scoped already."""

import operator
from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DecimalField,
    F,
    Func,
    IntegerField,
    OrderBy,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm import periods
from crm.models import (
    Activity,
    ActivityQuerySet,
    ActivityStatus,
    Customer,
    Deal,
    DealQuerySet,
    DealStage,
    Route,
    RouteStop,
    SalesRep,
    Task,
    TaskStatus,
    Team,
)
from crm.roles import Actor, scope_to_user, user_zone

# --- Search and orderings ---------------------------------------------------------------------
# Each list's rules, declared once: its page's filter form and its API endpoint both hand
# `search` and `ordering` to the selector, which applies them.

SEARCH_MAX_LENGTH = 100


@dataclass(frozen=True)
class Search:
    """What a list's search looks in: the text as typed, in any of `fields` (case aside), and
    what people call those fields (the search box's label)."""

    label: str
    fields: tuple[str, ...]

    def apply(self, queryset: QuerySet, text: str) -> QuerySet:
        if not text:
            return queryset
        return queryset.filter(
            reduce(operator.or_, (Q(**{f"{field}__icontains": text}) for field in self.fields))
        )


CUSTOMER_SEARCH = Search(
    "Name, code, contact or address", ("name", "code", "contact_name", "address")
)
DEAL_SEARCH = Search("Title or customer", ("title", "customer__name"))
ACTIVITY_SEARCH = Search("Subject or customer", ("subject", "customer__name"))
TASK_SEARCH = Search("Title", ("title",))
ROUTE_SEARCH = Search("Code or name", ("code", "name"))


@dataclass(frozen=True)
class Ordering:
    """One way a list may be sorted: what people call it and the columns it sorts by (the id
    last, so that pages neither repeat nor skip rows)."""

    label: str
    by: tuple[str | OrderBy, ...]


def _ordered(queryset: QuerySet, orderings: dict[str, Ordering], key: str) -> QuerySet:
    """`queryset` sorted by one of the whitelisted `orderings`, the first one when `key` is
    empty. Any other key is a mistake of the caller's (pages and the API pass only these)."""
    if key and key not in orderings:
        raise ValueError(f"Unknown ordering {key!r}; choose one of {sorted(orderings)}.")
    return queryset.order_by(*orderings[key or next(iter(orderings))].by)


# The first of each is the list's default.
CUSTOMER_ORDERINGS = {
    "name": Ordering("Name, A to Z", ("name", "id")),
    "-name": Ordering("Name, Z to A", ("-name", "-id")),
    "code": Ordering("Code, A to Z", ("code", "id")),
    "-code": Ordering("Code, Z to A", ("-code", "-id")),
    "-signed_up": Ordering(
        "Signed up most recently", (F("signed_up_at").desc(nulls_last=True), "-id")
    ),
    "signed_up": Ordering("Signed up longest ago", (F("signed_up_at").asc(nulls_last=True), "id")),
    "-created": Ordering("Newest first", ("-created_at", "-id")),
    "created": Ordering("Oldest first", ("created_at", "id")),
}
DEAL_ORDERINGS = {
    "-created": Ordering("Newest first", ("-created_at", "-id")),
    "created": Ordering("Oldest first", ("created_at", "id")),
    "-amount": Ordering("Largest amount first", ("-amount", "-id")),
    "amount": Ordering("Smallest amount first", ("amount", "id")),
    "-closed": Ordering("Closed most recently", (F("closed_at").desc(nulls_last=True), "-id")),
    "closed": Ordering("Closed longest ago", (F("closed_at").asc(nulls_last=True), "id")),
}
ACTIVITY_ORDERINGS = {
    # What is coming first (soonest due first), then what happened, the latest first.
    "upcoming": Ordering(
        "Upcoming first",
        (
            Case(When(status=ActivityStatus.PLANNED, then=Value(0)), default=Value(1)).asc(),
            Case(When(status=ActivityStatus.PLANNED, then=F("due_at"))).asc(),
            Coalesce("completed_at", "due_at").desc(),
            F("id").desc(),
        ),
    ),
    "due": Ordering("Due, earliest first", ("due_at", "id")),
    "-due": Ordering("Due, latest first", ("-due_at", "-id")),
}
TASK_ORDERINGS = {
    # Open tasks first, the soonest due first (those with no date after them), then the done
    # ones, the latest done first.
    "upcoming": Ordering(
        "Due first",
        (
            Case(When(status=TaskStatus.OPEN, then=Value(0)), default=Value(1)).asc(),
            Case(When(status=TaskStatus.OPEN, then=F("due_at"))).asc(nulls_last=True),
            F("completed_at").desc(nulls_last=True),
            F("id").desc(),
        ),
    ),
    "due": Ordering("Due, earliest first", (F("due_at").asc(nulls_last=True), "id")),
    "-due": Ordering("Due, latest first", (F("due_at").desc(nulls_last=True), "-id")),
}
ROUTE_ORDERINGS = {
    "code": Ordering("Code, A to Z", ("code", "id")),
    "-code": Ordering("Code, Z to A", ("-code", "-id")),
    "name": Ordering("Name, A to Z", ("name", "id")),
    "-name": Ordering("Name, Z to A", ("-name", "-id")),
}


def team_list(*, user: Actor, for_write: bool = False) -> QuerySet[Team]:
    """The teams `user` may see: a rep their own, a supervisor those they manage (also to
    change, `for_write`), admins all."""
    return scope_to_user(
        Team.objects.order_by("name"), user, rep_path=None, team_path="", for_write=for_write
    )


def rep_list(*, user: Actor) -> QuerySet[SalesRep]:
    return scope_to_user(SalesRep.objects.select_related("user", "team"), user, rep_path="")


def customer_list(
    *,
    user: Actor,
    search: str = "",
    rep: int | None = None,
    status: str = "",
    ordering: str = "",
) -> QuerySet[Customer]:
    """The customers `user` sees; `search` as CUSTOMER_SEARCH says; `rep`: those a rep (by id)
    owns; sorted by one of CUSTOMER_ORDERINGS."""
    customers = scope_to_user(
        Customer.objects.select_related("owner__user"), user, rep_path="owner"
    )
    customers = CUSTOMER_SEARCH.apply(customers, search)
    if rep is not None:
        customers = customers.filter(owner_id=rep)
    if status:
        customers = customers.filter(status=status)
    return _ordered(customers, CUSTOMER_ORDERINGS, ordering)


# `stage` for deal_list: a DealStage value, or this for every open stage.
OPEN_STAGES = "open"


def deal_list(
    *,
    user: Actor,
    stage: str = "",
    search: str = "",
    rep: int | None = None,
    ordering: str = "",
) -> QuerySet[Deal]:
    """The deals `user` sees; `search` as DEAL_SEARCH says; `rep` by id; sorted by one of
    DEAL_ORDERINGS."""
    deals = scope_to_user(
        Deal.objects.select_related("customer", "rep__user"), user, rep_path="rep"
    )
    if stage == OPEN_STAGES:
        deals = deals.open()
    elif stage:
        deals = deals.filter(stage=stage)
    deals = DEAL_SEARCH.apply(deals, search)
    if rep is not None:
        deals = deals.filter(rep_id=rep)
    return _ordered(deals, DEAL_ORDERINGS, ordering)


def activity_list(
    *,
    user: Actor,
    status: str = "",
    search: str = "",
    rep: int | None = None,
    ordering: str = "",
) -> QuerySet[Activity]:
    """The activities `user` sees; `search` as ACTIVITY_SEARCH says; `rep` by id; upcoming
    first unless another of ACTIVITY_ORDERINGS is asked for."""
    activities = scope_to_user(
        Activity.objects.select_related("customer", "rep__user"), user, rep_path="rep"
    )
    if status:
        activities = activities.filter(status=status)
    activities = ACTIVITY_SEARCH.apply(activities, search)
    if rep is not None:
        activities = activities.filter(rep_id=rep)
    return _ordered(activities, ACTIVITY_ORDERINGS, ordering)


def task_list(
    *,
    user: Actor,
    status: str = "",
    search: str = "",
    rep: int | None = None,
    ordering: str = "",
) -> QuerySet[Task]:
    """The tasks `user` sees; `search` as TASK_SEARCH says; `rep` by id; open ones due first
    unless another of TASK_ORDERINGS is asked for."""
    tasks = scope_to_user(Task.objects.select_related("rep__user"), user, rep_path="rep")
    tasks = TASK_SEARCH.apply(tasks, search)
    if status:
        tasks = tasks.filter(status=status)
    if rep is not None:
        tasks = tasks.filter(rep_id=rep)
    return _ordered(tasks, TASK_ORDERINGS, ordering)


def route_list(*, user: Actor, search: str = "", ordering: str = "") -> QuerySet[Route]:
    """The routes `user` sees, with their number of stops; `search` as ROUTE_SEARCH says;
    sorted by one of ROUTE_ORDERINGS."""
    # A subquery, not Count("stops"): without GROUP BY a service may lock the rows it reads.
    stops = RouteStop.objects.filter(route_id=OuterRef("pk"))
    routes = scope_to_user(
        Route.objects.select_related("rep__user").annotate(stop_count=count_subquery(stops)),
        user,
        rep_path="rep",
    )
    return _ordered(ROUTE_SEARCH.apply(routes, search), ROUTE_ORDERINGS, ordering)


# --- Facts per rep and period ------------------------------------------------------------------


def rep_facts(
    *,
    reps: QuerySet[SalesRep],
    period: periods.Period | None = None,
    span: periods.Span = "month",
    now: datetime | None = None,
) -> QuerySet[SalesRep]:
    """`reps` (scoped by the caller), each annotated with the facts of one period, in one query:
    `won_count`, `won_amount`, `signups`, `activities_completed`, `tasks_completed`.

    The period is `period` for every rep (a team's or the company's), or else each rep's own
    current `span` in the rep's time zone (one more query finds the zones in play).
    """
    if period is not None:
        start, end = Value(period.start), Value(period.end)
    else:
        zones = sorted(set(reps.order_by().values_list("timezone", flat=True)))
        bounds = {z: periods.current(span, periods.zone_named(z), now=now) for z in zones}
        start, end = (
            Case(
                *(When(timezone=z, then=Value(getattr(p, edge))) for z, p in bounds.items()),
                default=Value(None),
                output_field=DateTimeField(),
            )
            for edge in ("start", "end")
        )
    start_ref, end_ref = OuterRef("period_start"), OuterRef("period_end")
    rep = OuterRef("pk")
    won = Deal.objects.won_between(start_ref, end_ref).filter(rep_id=rep)
    return reps.annotate(period_start=start, period_end=end).annotate(
        won_count=count_subquery(won),
        won_amount=sum_subquery(won, "amount"),
        signups=count_subquery(
            Customer.objects.signed_up_between(start_ref, end_ref).filter(owner_id=rep)
        ),
        activities_completed=count_subquery(
            Activity.objects.completed_between(start_ref, end_ref).filter(rep_id=rep)
        ),
        tasks_completed=count_subquery(
            Task.objects.completed_between(start_ref, end_ref).filter(rep_id=rep)
        ),
    )


def home_summary(*, user: Actor) -> dict:
    """The figures on a user's home page, over what their role lets them see, in two queries,
    and when they were counted (`counted_at`). "This month" is the user's own month
    (`crm.roles.user_zone`)."""
    now = timezone.now()
    month = periods.current("month", user_zone(user), now=now)
    won = DealQuerySet.won_q(month.start, month.end)
    still_open = ~Q(stage__in=DealStage.closed())
    deals = deal_list(user=user).aggregate(
        open_count=Count("id", filter=still_open),
        open_amount=Sum("amount", filter=still_open),
        won_this_month=Count("id", filter=won),
        won_amount_this_month=Sum("amount", filter=won),
    )
    activities = activity_list(user=user).aggregate(
        due=Count("id", filter=Q(status=ActivityStatus.PLANNED, due_at__lte=now)),
        completed_this_month=Count(
            "id", filter=ActivityQuerySet.completed_q(month.start, month.end)
        ),
    )
    return {**deals, **activities, "month": month, "counted_at": now}


def team_performance(*, user: Actor) -> QuerySet[SalesRep]:
    """Per visible active rep: the facts of the rep's own current month and open tasks."""
    reps = rep_list(user=user).filter(active=True)
    return (
        rep_facts(reps=reps, span="month")
        .annotate(open_tasks=Count("tasks", filter=Q(tasks__status=TaskStatus.OPEN)))
        .order_by("team__name", "employee_code")
    )


# --- Subqueries any app's selectors use ------------------------------------------------------
# COUNT/SUM as plain functions (not aggregates) so Django adds no GROUP BY to the subquery, and
# one subquery per relation so that two aggregates never multiply each other's rows.


def count_subquery(queryset: QuerySet) -> Subquery:
    """COUNT(*) of a correlated queryset, as an expression of the outer row."""
    return Subquery(
        queryset.order_by().annotate(c=Func("id", function="COUNT")).values("c")[:1],
        output_field=IntegerField(),
    )


def sum_subquery(queryset: QuerySet, field: str) -> Subquery:
    """SUM(field) of a correlated queryset (NULL when it has no rows)."""
    return Subquery(
        queryset.order_by().annotate(s=Func(field, function="SUM")).values("s")[:1],
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )

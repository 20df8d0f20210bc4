"""Reads of core CRM data. Each selector takes the requesting user and returns a role-scoped
queryset with its joins already applied, so that a page or endpoint runs a fixed number of
queries whatever the number of rows."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import (
    Count,
    DecimalField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils import timezone

from crm.models import (
    Activity,
    ActivityStatus,
    Customer,
    DeadLetter,
    Deal,
    DealStage,
    Route,
    SalesRep,
    Task,
    TaskStatus,
)
from crm.roles import scope_to_user


def rep_list(*, user: User) -> QuerySet[SalesRep]:
    return scope_to_user(SalesRep.objects.select_related("user", "team"), user, rep_path="")


def customer_list(*, user: User, search: str = "") -> QuerySet[Customer]:
    customers = scope_to_user(
        Customer.objects.select_related("owner__user"), user, rep_path="owner"
    )
    if search:
        customers = customers.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return customers


# `stage` for deal_list: a DealStage value, or this for every open stage.
OPEN_STAGES = "open"


def deal_list(*, user: User, stage: str = "") -> QuerySet[Deal]:
    deals = scope_to_user(
        Deal.objects.select_related("customer", "rep__user"), user, rep_path="rep"
    )
    if stage == OPEN_STAGES:
        return deals.open()
    if stage:
        return deals.filter(stage=stage)
    return deals


def activity_list(*, user: User, status: str = "") -> QuerySet[Activity]:
    activities = scope_to_user(
        Activity.objects.select_related("customer", "rep__user"), user, rep_path="rep"
    )
    return activities.filter(status=status) if status else activities


def task_list(*, user: User) -> QuerySet[Task]:
    return scope_to_user(Task.objects.select_related("rep__user"), user, rep_path="rep")


def route_list(*, user: User) -> QuerySet[Route]:
    return scope_to_user(
        Route.objects.select_related("rep__user")
        .annotate(stop_count=Count("stops"))
        .order_by("code"),
        user,
        rep_path="rep",
    )


def current_month_start() -> datetime:
    """Midnight on the 1st of this month in the company's TIME_ZONE (not UTC)."""
    return timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def home_summary(*, user: User) -> dict:
    """The figures on a user's home page, over what their role lets them see, in two queries."""
    now = timezone.now()
    month_start = current_month_start()
    deals = deal_list(user=user).aggregate(
        open_count=Count("id", filter=~Q(stage__in=DealStage.closed())),
        open_amount=Sum("amount", filter=~Q(stage__in=DealStage.closed())),
        won_this_month=Count(
            "id", filter=Q(stage=DealStage.CLOSED_WON, closed_at__gte=month_start)
        ),
        won_amount_this_month=Sum(
            "amount", filter=Q(stage=DealStage.CLOSED_WON, closed_at__gte=month_start)
        ),
    )
    activities = activity_list(user=user).aggregate(
        due=Count("id", filter=Q(status=ActivityStatus.PLANNED, due_at__lte=now)),
        completed_this_month=Count(
            "id", filter=Q(status=ActivityStatus.COMPLETED, completed_at__gte=month_start)
        ),
    )
    return {**deals, **activities}


def team_performance(*, user: User) -> QuerySet[SalesRep]:
    """Per visible rep: this month's won deals and completed activities, for supervisors."""
    month_start = current_month_start()
    # Subqueries per relation keep the two aggregates from multiplying each other's rows.
    won = Deal.objects.filter(
        rep_id=OuterRef("pk"), stage=DealStage.CLOSED_WON, closed_at__gte=month_start
    )
    completed = Activity.objects.filter(
        rep_id=OuterRef("pk"), status=ActivityStatus.COMPLETED, completed_at__gte=month_start
    )
    return (
        rep_list(user=user)
        .filter(active=True)
        .annotate(
            won_count=_count_subquery(won),
            won_amount=_sum_subquery(won, "amount"),
            completed_activities=_count_subquery(completed),
            open_tasks=Count("tasks", filter=Q(tasks__status=TaskStatus.OPEN)),
        )
        .order_by("team__name", "employee_code")
    )


def dead_letter_pending_count() -> int:
    """Dead letters waiting for a retry (admins' home page)."""
    return DeadLetter.objects.filter(retried=False).count()


# --- helpers ----------------------------------------------------------------------------------
# COUNT/SUM as plain functions (not aggregates) so Django adds no GROUP BY to the subquery.


def _count_subquery(queryset: QuerySet) -> Subquery:
    return Subquery(
        queryset.order_by().annotate(c=Func("id", function="COUNT")).values("c")[:1],
        output_field=IntegerField(),
    )


def _sum_subquery(queryset: QuerySet, field: str) -> Subquery:
    return Subquery(
        queryset.order_by().annotate(s=Func(field, function="SUM")).values("s")[:1],
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )

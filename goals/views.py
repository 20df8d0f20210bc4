"""The goals pages, built from crm.web: the list (live), a goal's page (progress that refreshes
itself, history chart, forecast, recalculation, manual adjustment, audit trail, what counts),
the hierarchy tree with link and unlink, the analytics dashboard, CSV exports."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from crm import charts
from crm.roles import keeps_own_plan, may_start_jobs
from crm.web import (
    ListPage,
    ServiceForm,
    area_required,
    call_service,
    csv_response,
    form_action,
    form_page,
    post_data,
    return_to,
)
from goals import metrics, selectors, services
from goals.forms import (
    AdjustForm,
    AnalyticsFilterForm,
    GoalEditForm,
    GoalFilterForm,
    GoalForm,
    LinkForm,
    StatusForm,
)
from goals.models import Goal, GoalStatus

GOALS = ListPage(
    "goals", "goal", "Goals", selectors.goal_list, GoalFilterForm, namespace="goals", live=True,
    row_version=selectors.goal_version,
)  # fmt: skip
AUDIT_ROWS = 50
TREE_ROOTS = 25


# --- List, export --------------------------------------------------------------------------------


@area_required("goals")
def goals_home(request: HttpRequest) -> HttpResponse:
    """The area's entry: a rep's own goals (their plan), everyone else's list of goals."""
    return redirect("goals:plan" if keeps_own_plan(request.user) else "goals:goal-list")


@area_required("goals")
def goal_list(request: HttpRequest) -> HttpResponse:
    return GOALS.render(request)


@area_required("goals")
def goal_export(request: HttpRequest) -> HttpResponse:
    """The goals list as CSV, with the list's filters."""
    filters = GoalFilterForm(request.GET)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    goals = selectors.goal_list(user=request.user, **criteria).order_by("period_start", "id")
    header = [
        "id", "title", "owner type", "owner", "metric", "period start", "period end",
        "target", "value", "progress %", "original target", "progress % of original", "status",
        "source", "parent id", "as of", "stale",
    ]  # fmt: skip
    rows = (
        [
            *_goal_row(goal),
            *selectors.goal_as_of(goal).cells(),
        ]
        for goal in goals.iterator(chunk_size=2000)
    )
    return csv_response("goals.csv", header, rows)


def _goal_row(goal: Goal) -> list:
    return [
        goal.pk,
        goal.title,
        goal.owner_type,
        goal.owner_name,
        goal.metric,
        goal.period_start,
        goal.period_end,
        metrics.figure(goal.metric, goal.target_value, grouped=False),
        metrics.figure(goal.metric, goal.current_value, grouped=False),
        goal.progress_percent,
        metrics.figure(goal.metric, goal.original_target, grouped=False),
        goal.original_percent,
        goal.status,
        goal.calculation_source,
        goal.parent_id,
    ]


# --- One goal -----------------------------------------------------------------------------------


def _progress_context(progress: selectors.Progress) -> dict[str, Any]:
    goal, history = progress.goal, progress.history
    return {
        "goal": goal,
        "forecast": progress.forecast,
        "alert": progress.alert,
        "chart": charts.history_chart(
            [(point.date, point.value) for point in history],
            target=goal.target_value,
            period=(goal.period_start, goal.period_end),
        ),
        "refresh_seconds": settings.LIVE_REFRESH_SECONDS,
    }


def _goal_context(request: HttpRequest, goal: Goal) -> dict[str, Any]:
    page = selectors.goal_page(goal, user=request.user, audit_rows=AUDIT_ROWS)
    return _progress_context(page.progress) | {
        "writable": page.writable,
        "has_children": page.has_children,
        "ancestors": page.ancestors,
        "parent": page.parent,
        "children": page.children,
        "audit": page.audit,
        "revisions": page.revisions,
        "records_kind": page.records_kind,
        "records": page.records,
        "adjust_form": AdjustForm(initial={"value": goal.current_value}),
        "link_form": LinkForm(candidates=page.link_candidates) if page.writable else None,
    }


@area_required("goals")
def goal_detail(
    request: HttpRequest, pk: int, *, status: int = 200, adjust_form: AdjustForm | None = None
) -> HttpResponse:
    goal = get_object_or_404(selectors.goal_list(user=request.user), pk=pk)
    context = _goal_context(request, goal)
    if adjust_form is not None:  # refused: the dialog open again, with its errors
        context.update(adjust_form=adjust_form, adjust_open=True)
    return render(request, "goals/goal_detail.html", context, status=status)


@area_required("goals")
def goal_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress block, for the page's own polling: 204 when nothing changed since the
    version it shows; else the block and, out of band, the history chart that ends at it."""
    goal = get_object_or_404(selectors.goal_list(user=request.user), pk=pk)
    if request.GET.get("since") == selectors.goal_version(goal):
        return HttpResponse(status=204)
    return render(
        request, "goals/partials/goal_live.html", _progress_context(selectors.progress(goal))
    )


def _goal_page(request: HttpRequest, pk: int) -> str:
    return reverse("goals:goal-detail", args=[pk])


def _tree_page(request: HttpRequest, pk: int) -> str:
    return reverse("goals:tree")


Refused = Callable[[ServiceForm], HttpResponse]


def _goal_action(
    request: HttpRequest, pk: int, act, *, refused: Refused, success: str, form=None
) -> HttpResponse:
    """Run a goal's action (a service call) and go back to the page it was asked from (its
    `next`, else the goal's page); refused, `refused(form)`: the page the form is on, again,
    with the reason (400)."""
    form = form if form is not None else ServiceForm(request.POST)
    if call_service(form, lambda **data: act(data) or True):
        messages.success(request, success)
        return redirect(return_to(request, _goal_page(request, pk)))
    return refused(form)


def _on_goal_page(request: HttpRequest, pk: int) -> Refused:
    """A one-button form of the goal's page refused: that page, the reasons as messages."""

    def show(form: ServiceForm) -> HttpResponse:
        for error in form.all_errors():
            messages.error(request, error)
        return goal_detail(request, pk, status=400)

    return show


def _on_tree(request: HttpRequest) -> Refused:
    """A form of the tree refused: the tree, the reasons as messages."""

    def show(form: ServiceForm) -> HttpResponse:
        for error in form.all_errors():
            messages.error(request, error)
        return goal_tree(request, status=400)

    return show


@area_required("goals")
@form_action(_goal_page)
def goal_recalculate(request: HttpRequest, pk: int) -> HttpResponse:
    return _goal_action(
        request,
        pk,
        lambda data: services.goal_recalculate_one(actor=request.user, goal_id=pk),
        refused=_on_goal_page(request, pk),
        success="Recalculated from the CRM's records.",
    )


@area_required("goals")
@form_action(lambda request, pk: _goal_page(request, pk) + "#adjust")
def goal_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    return _goal_action(
        request,
        pk,
        lambda data: services.goal_adjust(actor=request.user, goal_id=pk, **data),
        form=AdjustForm(request.POST),
        # The dialog open again, its errors next to its fields.
        refused=lambda form: goal_detail(request, pk, status=400, adjust_form=form),
        success="Value set by hand; the reason is in the audit trail.",
    )


@area_required("goals")
@form_action(_goal_page)
def goal_return_to_auto(request: HttpRequest, pk: int) -> HttpResponse:
    return _goal_action(
        request,
        pk,
        lambda data: services.goal_return_to_auto(actor=request.user, goal_id=pk),
        refused=_on_goal_page(request, pk),
        success="Calculated by the CRM again.",
    )


@area_required("goals")
@form_action(_goal_page)
def goal_set_status(request: HttpRequest, pk: int) -> HttpResponse:
    return _goal_action(
        request,
        pk,
        lambda data: services.goal_set_status(actor=request.user, goal_id=pk, **data),
        form=StatusForm(request.POST),
        refused=_on_goal_page(request, pk),
        success="Status changed.",
    )


def _link(request: HttpRequest, pk: int, *, refused: Refused) -> HttpResponse:
    goal = get_object_or_404(selectors.goal_list(user=request.user), pk=pk)
    return _goal_action(
        request,
        pk,
        lambda data: services.goal_link_parent(actor=request.user, goal_id=pk, **data),
        form=LinkForm(request.POST, candidates=selectors.link_candidates(goal, user=request.user)),
        refused=refused,
        success="Linked: the parent now counts this goal.",
    )


def _unlink(request: HttpRequest, pk: int, *, refused: Refused) -> HttpResponse:
    return _goal_action(
        request,
        pk,
        lambda data: services.goal_unlink_parent(actor=request.user, goal_id=pk),
        refused=refused,
        success="Unlinked from its parent.",
    )


@area_required("goals")
@form_action(lambda request, pk: _goal_page(request, pk) + "#hierarchy")
def goal_link(request: HttpRequest, pk: int) -> HttpResponse:
    return _link(request, pk, refused=_on_goal_page(request, pk))


@area_required("goals")
@form_action(lambda request, pk: _goal_page(request, pk) + "#hierarchy")
def goal_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    return _unlink(request, pk, refused=_on_goal_page(request, pk))


@area_required("goals")
@form_action(_tree_page)
def tree_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link, from the tree: refused, the tree again."""
    return _link(request, pk, refused=_on_tree(request))


@area_required("goals")
@form_action(_tree_page)
def tree_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    return _unlink(request, pk, refused=_on_tree(request))


# --- Create, edit -------------------------------------------------------------------------------


@area_required("goals")
def goal_create(request: HttpRequest) -> HttpResponse:
    form = GoalForm(post_data(request), user=request.user)
    if request.method == "POST":
        goal = call_service(form, lambda **data: services.goal_create(actor=request.user, **data))
        if goal is not None:
            messages.success(request, f"Goal “{goal.title}” set.")
            return redirect("goals:goal-detail", pk=goal.pk)
    return form_page(request, "goals/goal_form.html", {"form": form})


@area_required("goals")
def goal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    goal = get_object_or_404(selectors.goal_list(user=request.user, for_write=True), pk=pk)
    initial = {"title": goal.title, "target_value": goal.target_value,
               "description": goal.description, "parent": goal.parent_id}  # fmt: skip
    current = selectors.goal_list(user=request.user).filter(pk=goal.parent_id).first()
    form = GoalEditForm(
        post_data(request),
        initial=initial,
        candidates=selectors.link_candidates(goal, user=request.user),
        current=current,
        parent_id=goal.parent_id,
    )
    if request.method == "POST":
        saved = call_service(
            form,
            lambda **data: services.goal_update(actor=request.user, goal_id=pk, **data),
        )
        if saved is not None:
            messages.success(request, "Goal saved.")
            return redirect("goals:goal-detail", pk=pk)
    return form_page(request, "goals/goal_form.html", {"form": form, "goal": goal})


# --- Hierarchy ----------------------------------------------------------------------------------


@area_required("goals")
def goal_tree(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    """Every root goal the user may see, with its children and theirs, as an outline that opens
    and closes; goals not linked yet can be put under a parent from here."""
    filters = GoalFilterForm(request.GET or {"status": GoalStatus.ACTIVE})
    criteria = filters.cleaned_data if filters.is_valid() else {}
    tree = selectors.goal_tree(user=request.user, roots=TREE_ROOTS, **criteria)
    query = request.GET.urlencode()
    context = {
        # Where the tree's forms come back to (not the action's URL, when a refusal renders it).
        "here": reverse("goals:tree") + (f"?{query}" if query else ""),
        "query": query,
        "filters": filters,
        "roots": tree.roots,
        "children": tree.children,
        "more": tree.more,
        "writable": tree.writable,
        "link_forms": {
            pk: LinkForm(candidates=choices) for pk, choices in tree.link_choices.items() if choices
        },
        "more_roots": len(tree.roots) == TREE_ROOTS,
    }
    return render(request, "goals/goal_tree.html", context, status=status)


@area_required("goals")
def goal_tree_branch(request: HttpRequest, pk: int) -> HttpResponse:
    """The goals below a goal of the tree, which the page asks for when the goal is opened (the
    tree's filters apply). Asked for as a page, the goal's own page, which lists them."""
    goal = get_object_or_404(selectors.goal_list(user=request.user, as_of=False), pk=pk)
    if not request.htmx:
        return redirect(reverse("goals:goal-detail", args=[goal.pk]) + "#hierarchy")
    filters = GoalFilterForm(request.GET or {"status": GoalStatus.ACTIVE})
    criteria = filters.cleaned_data if filters.is_valid() else {}
    branch = selectors.goal_branch(user=request.user, parent_id=goal.pk, **criteria)
    query = request.GET.urlencode()
    context = {
        "here": reverse("goals:tree") + (f"?{query}" if query else ""),
        "query": query,
        "nodes": branch.roots,
        "children": {},
        "writable": branch.writable,
        "link_forms": {},
    }
    return render(request, "goals/partials/tree_branch.html", context)


# --- Analytics ----------------------------------------------------------------------------------


def _analytics(request: HttpRequest) -> tuple[AnalyticsFilterForm, dict]:
    filters = AnalyticsFilterForm(request.GET)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    figures = selectors.analytics(
        user=request.user,
        metric=criteria.get("metric", ""),
        owner_type=criteria.get("owner_type", ""),
        start_date=criteria.get("start_date"),
        attainment=criteria.get("attainment") or selectors.Attainment.CURRENT,
    )
    return filters, figures


@area_required("goals")
def goal_analytics(request: HttpRequest) -> HttpResponse:
    filters, figures = _analytics(request)
    trend = charts.column_chart(
        [
            (
                row["month"][5:] + "/" + row["month"][2:4],
                row["completion_rate"],
                f"{row['completed']} of {row['total']}",
            )
            for row in figures["completion_rate_trend"]
        ]
    )
    breakdown = charts.column_chart(
        [
            (row["label"], row["average_progress"], f"{row['total']} goals")
            for row in figures["metric_breakdown"]
        ],
        scale_max=max(
            [100.0] + [float(r["average_progress"]) for r in figures["metric_breakdown"]]
        ),
    )
    context = {
        "filters": filters,
        "figures": figures,
        "figures_as_of": selectors.AsOf(figures["as_of"], figures["stale"]),
        "trend": trend,
        "breakdown": breakdown,
        "may_recalculate_all": may_start_jobs(request.user),
        # Over every goal, so for those who run the CRM.
        "last_check": selectors.last_check() if may_start_jobs(request.user) else None,
    }
    return render(request, "goals/goal_analytics.html", context)


@area_required("goals")
def goal_analytics_export(request: HttpRequest) -> HttpResponse:
    _, figures = _analytics(request)
    rows = [["summary", name, figures[name]] for name in (
        "total_goals", "completed_goals", "active_goals", "cancelled_goals",
        "overall_completion_rate", "average_progress", "velocity_data_points",
        "team_average_completion_rate", "company_average_completion_rate", "days_of_history",
        "attainment",
    )]  # fmt: skip
    rows.append(["summary", "as_of", *selectors.AsOf(figures["as_of"], figures["stale"]).cells()])
    rows += [
        ["completion rate by month", row["month"], row["completion_rate"], row["total"],
         row["completed"]]
        for row in figures["completion_rate_trend"]
    ]  # fmt: skip
    # Velocities only by metric, each in its unit: money and counts do not average together.
    rows += [
        ["by metric", row["metric"], row["completion_rate"], row["total"], row["completed"],
         row["average_progress"], row["unit"], row["average_velocity"],
         row["velocity_data_points"], row["team_average_velocity"],
         row["company_average_velocity"]]
        for row in figures["metric_breakdown"]
    ]  # fmt: skip
    header = [
        "section", "name", "value", "total", "completed", "average progress", "unit",
        "velocity a day", "goals with history", "team goals' velocity a day",
        "company goals' velocity a day",
    ]  # fmt: skip
    return csv_response("goal-analytics.csv", header, rows)


@area_required("goals")
@form_action(lambda request: reverse("goals:analytics"))
def goal_recalculate_all(request: HttpRequest) -> HttpResponse:
    try:
        services.goals_recalculate_all_later(actor=request.user)
    except PermissionDenied as refused:
        messages.error(request, str(refused))
        return redirect("goals:analytics")
    messages.success(request, "Every goal is being recalculated; its job run shows when.")
    return redirect(return_to(request, "goals:analytics"))

"""The plan pages: a rep's dashboard (this month's card, which refreshes itself; the goal-setting
form with its deadline; the year; 30 days of progress; achievements; reminders to acknowledge),
also opened by the rep's supervisor or an admin to set or correct it (`?rep=`); and the
managers' compliance dashboard (the month's plans with pace and deadline status, the 12-month
compliance trend, repeated misses, a team's defaults, CSV)."""

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

import markdown
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince, timeuntil

from crm import charts, periods
from crm import selectors as crm_selectors
from crm.ids import parse_id
from crm.models import SalesRep
from crm.roles import manages, may_correct_plans, may_set_plan_defaults, own_rep
from crm.web import (
    ListPage,
    MonthField,
    ServiceForm,
    area_required,
    call_service,
    csv_response,
    form_action,
    return_to,
    version_of,
)
from goals.models import Pace, PlanReminder, RepPlan
from goals.plans import selectors, services
from goals.plans.forms import (
    ComplianceFilterForm,
    DefaultsForm,
    PlanForm,
    YearPlanForm,
    team_options,
)

COMPLIANCE = ListPage(
    "goals/plans", "compliance", "Goal compliance", selectors.compliance,
    ComplianceFilterForm, namespace="goals",
)  # fmt: skip
CHART_DAYS = 30
ACHIEVEMENTS_SHOWN = 20
HISTORY_MONTHS = 12


# --- A rep's dashboard -------------------------------------------------------------------------


def _rep_shown(request: HttpRequest) -> SalesRep | None:
    """The rep whose plan the page shows: `?rep=` (one the user may see; 404 otherwise), or
    the user's own; None for a manager who named nobody."""
    named = request.GET.get("rep") or request.POST.get("rep")
    if named:
        pk = parse_id(named)
        if pk is None:
            raise Http404("No such rep.")
        return get_object_or_404(crm_selectors.rep_list(user=request.user), pk=pk)
    return own_rep(request.user)


def _may_set(request: HttpRequest, rep: SalesRep) -> bool:
    """The rep sets their own; their supervisor and admins set anyone's they may see."""
    return rep.user_id == request.user.pk or manages(request.user, rep)


def _month_shown(request: HttpRequest, rep: SalesRep) -> tuple[int, int]:
    """The month the page shows: this month in the rep's zone; a manager may name another
    (`?month=2026-07`; one that is not a month shows this one)."""
    this = selectors.current_month(rep)
    named = request.GET.get("month")
    if named and manages(request.user, rep):
        field = MonthField(required=False)
        try:
            day = field.clean(named)
        except ValidationError:
            return this
        if day is not None:
            return day.year, day.month
    return this


def _countdown(deadline: dt.datetime, now: dt.datetime) -> str:
    if deadline > now:
        return f"in {timeuntil(deadline, now, depth=1)}"
    return f"overdue by {timesince(deadline, now, depth=1)}"


def card_version(
    plan: RepPlan | None, countdown: str = "", verdicts: dict | None = None, as_of=None
) -> str:
    """A digest of what the card shows: equal digests, nothing new to show (the countdown is
    part of it, so "in 2 days" turns into "overdue" without a reload, and so are the bars'
    verdicts, which move with the days as well as the figures, and the figures' "as of", which
    turns stale with time)."""
    if plan is None:
        return "none"
    figures = [getattr(plan, name) for names in selectors.FIGURES.values() for name in names]
    figures += [plan.goal_set_at, plan.pace, plan.days_remaining, plan.deadline_status, countdown]
    figures += sorted((verdicts or {}).items())
    figures += [as_of]
    return version_of(*figures)


def _targets(plan: RepPlan | None, form_class) -> dict:
    """A plan's targets as its form shows them: counts as whole numbers, amounts as they are."""
    if plan is None:
        return {}
    values = {
        name: getattr(plan, name)
        for name in form_class.base_fields
        if name not in ("month", "reason")
    }
    return {
        name: value if name == "revenue_goal" else int(value)
        for name, value in values.items()
        if value is not None
    }


def card_context(request: HttpRequest, rep: SalesRep) -> dict[str, Any]:
    """What the month's card shows: the plan of the month shown, its figures, what a day needs,
    its deadline."""
    now = timezone.now()
    zone = periods.zone_named(rep.timezone)
    year, month = _month_shown(request, rep)
    plan = selectors.plan_list(
        user=request.user, year=year, month=month, rep_id=rep.pk, now=now
    ).first()
    needed, verdicts = {}, {}
    if plan is not None:
        today, period = periods.local_date(now, zone), periods.month(year, month, zone)
        needed = selectors.figures_needed(plan, period=period, today=today)
        verdicts = selectors.figure_verdicts(plan, period=period, today=today)
    deadline = plan.deadline if plan else selectors.deadline_for(year, month, zone)
    countdown = _countdown(deadline, now)
    as_of = selectors.figures_as_of(plan, now=now)
    query = {"rep": rep.pk} if rep.user_id != request.user.pk else {}
    if (year, month) != selectors.current_month(rep, now):
        query["month"] = f"{year:04d}-{month:02d}"
    return {
        "rep": rep,
        "plan": plan,
        "year": year,
        "month": month,
        "month_label": dt.date(year, month, 1).strftime("%B %Y"),
        "deadline": deadline,
        "countdown": countdown,
        "zone": zone.key,
        "needed": needed,
        "verdicts": verdicts,
        "as_of": as_of,
        "card_version": card_version(plan, countdown, verdicts, as_of),
        "own": rep.user_id == request.user.pk,
        "query": f"?{urlencode(query)}" if query else "",
        "now": now,
        "refresh_seconds": settings.LIVE_REFRESH_SECONDS,
    }


def dashboard_context(
    request: HttpRequest,
    rep: SalesRep,
    *,
    form: PlanForm | None = None,
    year_form: YearPlanForm | None = None,
) -> dict[str, Any]:
    """A rep's plan as the plan page and the rep's home page show it."""
    context = card_context(request, rep)
    plan = context["plan"]
    today = periods.local_date(timezone.now(), periods.zone_named(rep.timezone))
    year_plan = selectors.plan_list(
        user=request.user, yearly=True, year=today.year, rep_id=rep.pk
    ).first()
    managed = manages(request.user, rep)
    if form is None:
        initial = _targets(plan, PlanForm)
        if managed:
            initial["month"] = dt.date(context["year"], context["month"], 1)
        form = PlanForm(initial=initial, managed=managed)
    if year_form is None:
        year_form = YearPlanForm(initial=_targets(year_plan, YearPlanForm))
    # The chart follows the month's plan, one point a day (its daily snapshots).
    snapshots = selectors.daily_percents(rep=rep, since=today - dt.timedelta(days=CHART_DAYS))
    window = (today - dt.timedelta(days=CHART_DAYS - 1), today)
    return context | {
        "year_plan": year_plan,
        "year_as_of": selectors.figures_as_of(year_plan),
        "form": form,
        "year_form": year_form,
        "may_set": _may_set(request, rep),
        "revenue_chart": charts.history_chart(
            [(day, revenue) for day, revenue, _ in snapshots], target=Decimal(100), period=window
        ),
        "signup_chart": charts.history_chart(
            [(day, signups) for day, _, signups in snapshots], target=Decimal(100), period=window
        ),
        "achievements": selectors.achievement_list(user=request.user, rep_id=rep.pk)[
            :ACHIEVEMENTS_SHOWN
        ],
        "reminders": selectors.open_reminders(user=request.user) if context["own"] else [],
        "return_to": request.get_full_path() if request.method == "GET" else "",
    }


def _dashboard(request: HttpRequest, rep: SalesRep, *, status: int = 200, **forms) -> HttpResponse:
    context = dashboard_context(request, rep, **forms)
    context["history"] = selectors.past_plans(user=request.user, rep=rep)[:HISTORY_MONTHS]
    return render(request, "goals/plans/dashboard.html", context, status=status)


@area_required("goals")
def plan_dashboard(request: HttpRequest) -> HttpResponse:
    rep = _rep_shown(request)
    if rep is None:
        return redirect("goals:compliance-list")
    return _dashboard(request, rep)


@area_required("goals")
def plan_card(request: HttpRequest) -> HttpResponse:
    """The month's card, for the page's own polling: 204 when nothing changed since `since`."""
    rep = _rep_shown(request)
    if rep is None:
        raise Http404("No such rep.")
    context = card_context(request, rep)
    if request.GET.get("since") == context["card_version"]:
        return HttpResponse(status=204)
    response = render(request, "goals/plans/partials/card.html", context)
    # The home page's figures listen for this, so that they move with the card.
    response["HX-Trigger"] = "plan-card-changed"
    return response


def _set_targets(
    request: HttpRequest, rep: SalesRep, form: ServiceForm, service, form_name: str
) -> HttpResponse:
    """A month's or a year's form posted: the service sets the plan of the rep shown (the
    user's own, or `rep` for a manager); refused, the plan page again with the form's errors.
    Done, back to the page the form was on (the plan page, or the rep's home)."""
    own = rep.user_id == request.user.pk
    plan = call_service(
        form, lambda **data: service(actor=request.user, rep_id=None if own else rep.pk, **data)
    )
    if plan is None:
        return _dashboard(request, rep, status=400, **{form_name: form})
    when = ""
    if plan.month is not None:
        when = " (on time)" if plan.set_by_deadline else " (after the deadline)"
    messages.success(request, f"Goals for {plan.label} saved{when}.")
    return redirect(return_to(request, reverse("goals:plan") + ("" if own else f"?rep={rep.pk}")))


def _rep_posted(request: HttpRequest) -> SalesRep:
    rep = _rep_shown(request)
    if rep is None:
        raise Http404("No such rep.")
    return rep


def _plan_page(request: HttpRequest) -> str:
    """The plan page a plan form posted from: the user's own, or the rep's (`?rep=`) for a
    manager, at the month it showed (`?month=`)."""
    query = {name: request.GET[name] for name in ("rep", "month") if request.GET.get(name)}
    return reverse("goals:plan") + (f"?{urlencode(query)}" if query else "")


@area_required("goals")
@form_action(_plan_page)
def plan_set(request: HttpRequest) -> HttpResponse:
    rep = _rep_posted(request)
    form = PlanForm(request.POST, managed=manages(request.user, rep))
    return _set_targets(request, rep, form, services.plan_set, "form")


@area_required("goals")
@form_action(_plan_page)
def plan_set_year(request: HttpRequest) -> HttpResponse:
    rep = _rep_posted(request)
    form = YearPlanForm(request.POST)
    return _set_targets(request, rep, form, services.plan_set_year, "year_form")


@area_required("goals")
def reminder_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """The link in a reminder's email opens this page; its button (or the dashboard's)
    acknowledges it. Only the rep it was sent to (404 for anyone else)."""
    reminder = get_object_or_404(
        PlanReminder.objects.select_related("plan").filter(plan__rep__user_id=request.user.pk),
        pk=pk,
    )
    if request.method == "POST":
        services.reminder_acknowledge(actor=request.user, reminder_id=pk)
        messages.success(request, "Reminder acknowledged.")
        return redirect(return_to(request, "goals:plan"))
    return render(request, "goals/plans/reminder.html", {"reminder": reminder})


# --- Compliance -----------------------------------------------------------------------------------


def _managers_only(request: HttpRequest) -> None:
    if not may_correct_plans(request.user):
        raise PermissionDenied("The compliance dashboard is for supervisors and administrators.")


def _compliance_page(
    request: HttpRequest,
    *,
    teams: list[tuple[int, str]] | None = None,
    defaults_form: DefaultsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The compliance page: the month's plans with their filters, the 12-month trend, the
    repeated misses and, for an admin, the defaults' form. The teams the filter and the
    defaults' form offer are read once (`teams`, when the caller has read them)."""
    teams = teams if teams is not None else team_options(request.user)
    trend = selectors.compliance_trend(user=request.user)
    chart = charts.column_chart(
        [
            (f"{row['month']:%b %y}", row["rate"] or Decimal(0),
             f"{row['on_time']} of {row['total']} set on time")
            for row in trend
        ]
    )  # fmt: skip
    if defaults_form is None and may_set_plan_defaults(request.user):
        defaults_form = DefaultsForm(
            user=request.user, teams=teams, initial={"month": selectors.this_month()}
        )
    extra = {
        "this_month": selectors.this_month(),  # the month shown, unless the filter names one
        "trend_chart": chart,
        "misses": selectors.repeated_misses(user=request.user)[:50],
        "defaults_form": defaults_form,
        "paces": Pace,
    }
    filters = ComplianceFilterForm(request.GET, user=request.user, teams=teams)
    return COMPLIANCE.render(request, status=status, extra=extra, filters=filters)


@area_required("goals")
def compliance(request: HttpRequest) -> HttpResponse:
    _managers_only(request)
    return _compliance_page(request)


@area_required("goals")
@form_action(lambda request: reverse("goals:compliance-list"))
def plan_defaults(request: HttpRequest) -> HttpResponse:
    """An admin gives a team's plans not set yet default targets."""
    _managers_only(request)
    teams = team_options(request.user)
    form = DefaultsForm(request.POST, user=request.user, teams=teams)
    given = call_service(
        form, lambda **data: services.plans_set_defaults(actor=request.user, **data)
    )
    if given is None:
        return _compliance_page(request, teams=teams, defaults_form=form, status=400)
    messages.success(request, f"Defaults given to {given} plan(s) not set yet.")
    return redirect("goals:compliance-list")


def _compliance_row(plan: RepPlan) -> list:
    return [
        str(plan.rep), plan.rep.employee_code, plan.rep.team.name if plan.rep.team else "",
        plan.label, plan.signup_goal, plan.signups, plan.signup_percent,
        plan.signup_original_goal,
        selectors.original_percent(plan.signups, plan.signup_original_goal),
        plan.revenue_goal, plan.revenue, plan.revenue_percent, plan.revenue_original_goal,
        selectors.original_percent(plan.revenue, plan.revenue_original_goal),
        plan.bonus_tier_goal, plan.bonus_tier,
        Pace(plan.pace).label if plan.pace else "", plan.deadline.isoformat(),
        plan.goal_set_at.isoformat() if plan.goal_set_at else "",
        selectors.DeadlineStatus.LABELS[plan.deadline_status],
        *selectors.figures_as_of(plan).cells(),
    ]  # fmt: skip


@area_required("goals")
def compliance_export(request: HttpRequest) -> HttpResponse:
    """The compliance table as CSV, with its filters."""
    _managers_only(request)
    filters = ComplianceFilterForm(request.GET, user=request.user, teams=team_options(request.user))
    criteria = filters.cleaned_data if filters.is_valid() else {}
    plans = selectors.compliance(user=request.user, **criteria).rows()
    header = [
        "rep", "employee code", "team", "month", "signup goal", "signups", "signup %",
        "signup original goal", "signup % of original", "revenue goal", "revenue", "revenue %",
        "revenue original goal", "revenue % of original", "bonus tier goal", "bonus tier", "pace",
        "deadline", "goals set at", "deadline status", "figures as of", "stale",
    ]  # fmt: skip
    rows = (_compliance_row(plan) for plan in plans.iterator(chunk_size=2000))
    return csv_response("goal-compliance.csv", header, rows)


# --- Guide ---------------------------------------------------------------------------------------

GUIDE = settings.BASE_DIR / "docs" / "goals.md"


@functools.cache
def _guide_html() -> str:
    # The guide is one file, docs/goals.md, read and converted once per process.
    return markdown.markdown(GUIDE.read_text(encoding="utf-8"), extensions=["tables"])


@area_required("goals")
def guide(request: HttpRequest) -> HttpResponse:
    return render(request, "goals/plans/guide.html", {"guide": mark_safe(_guide_html())})

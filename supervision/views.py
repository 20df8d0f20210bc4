"""The supervision pages: choose a route and a day; the day's page (its lines to record, its
summary, reviews, recent days), with in-page checks of each line (htmx), saving with the
version it was opened at (a conflict says who saved meanwhile and keeps what was typed), and
read-only history."""

import datetime as dt
import uuid
from dataclasses import replace

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from crm.errors import Conflict
from crm.ids import parse_id
from crm.roles import sees_everything
from crm.web import area_required
from supervision import analysis, rules, selectors, services
from supervision.forms import LinesForm, OpenDayForm, ReopenForm, ReviewForm, SaveForm
from supervision.models import AnalysisKind, ReasonCode

RECENT_DAYS = 10
SAVED = "Session saved: {route} on {date:%d %b %Y} ({visited} of {planned} visited)."
DRAFT_KEPT = "Draft kept: {route} on {date:%d %b %Y}."


def stops_text(count: int) -> str:
    return f"{count} stop{pluralize(count)}"


def _day_url(route_id: int, date: dt.date) -> str:
    return reverse("supervision:day", args=[route_id, date.isoformat()])


@area_required("supervision")
def index(request: HttpRequest) -> HttpResponse:
    """Choose a route and a day; the latest sessions of the routes one sees; for admins, the
    reviews' cache hit rate."""
    routes = list(selectors.route_list(user=request.user))
    form = OpenDayForm(request.GET or None, routes=routes, initial={"date": selectors.today()})
    if request.GET and form.is_valid():
        return redirect(_day_url(form.cleaned_data["route"], form.cleaned_data["date"]))
    today = selectors.today()
    context = {
        "form": form,
        "routes": routes,
        "latest": selectors.latest_days(user=request.user),
        "today": today,
        "yesterday": today - dt.timedelta(days=1),
        "review_days": selectors.days_text(selectors.review_days()),
        "cache": analysis.cache_stats() if sees_everything(request.user) else None,
    }
    return render(request, "supervision/index.html", context, status=400 if form.errors else 200)


def _page(
    request: HttpRequest,
    day: selectors.Day,
    *,
    status: int = 200,
    conflict: str = "",
    token: uuid.UUID | None = None,
) -> HttpResponse:
    reviews = analysis.latest_reviews(day=day)
    context = {
        "day": day,
        "route": day.route,
        "figures": day.figures,
        "lines": day.lines,
        "errors": day.errors,
        "notices": day.notices,
        "raw": day.typed,
        "check_url": reverse("supervision:check", args=[day.route.pk, day.date.isoformat()]),
        "review_url": reverse("supervision:review", args=[day.route.pk, day.date.isoformat()]),
        "conflict": conflict,
        "client_token": token or uuid.uuid4(),
        "reasons": ReasonCode.choices,
        "recent": selectors.recent_sessions(route=day.route, limit=RECENT_DAYS),
        "route_review": reviews["route"],
        "customer_reviews": reviews["customers"],
        "previous_day": day.date - dt.timedelta(days=1),
        "next_day": day.date + dt.timedelta(days=1),
        "is_admin": sees_everything(request.user),
        "reopen_form": ReopenForm(),
    }
    return render(request, "supervision/day.html", context, status=status)


@area_required("supervision")
def day(request: HttpRequest, route_id: int, date: str) -> HttpResponse:
    """A route's day: its session, or the draft of its stops; read-only when saved or past."""
    return _page(
        request, selectors.day(user=request.user, route_id=route_id, date=selectors.parse_day(date))
    )


@require_POST
@area_required("supervision")
def day_save(request: HttpRequest, route_id: int, date: str) -> HttpResponse:
    """Save the day (or keep a draft: `action=draft`) based on the version it was opened at.
    Refused, the page comes back with what was typed and why: the lines' errors (400), who
    saved meanwhile (409), or that the day is read-only (403)."""
    day_date = selectors.parse_day(date)
    lines = LinesForm(request.POST)
    meta = SaveForm(request.POST)
    finish = request.POST.get("action") != "draft"
    opened = selectors.day(user=request.user, route_id=route_id, date=day_date)
    token = meta.cleaned_data.get("client_token") if meta.is_valid() else None

    def again(status: int, *, conflict: str = "") -> HttpResponse:
        # The page as the supervisor left it: their values on the lines, not the stored ones,
        # at the version they opened (reloading shows the latest).
        shown = _typed(opened, lines)
        if meta.is_valid():
            shown = replace(shown, record_version=meta.cleaned_data["record_version"])
        return _page(request, shown, status=status, conflict=conflict, token=token)

    if not meta.is_valid():
        raise Http404("This form is not one of the session page's.")
    if not lines.is_valid():
        return again(400)
    try:
        written = services.session_write(
            actor=request.user, route_id=route_id, date=day_date,
            record_version=meta.cleaned_data["record_version"], changes=lines.changes,
            client_token=token, finish=finish, parse_notices=lines.notices,
        )  # fmt: skip
    except rules.LineErrors:  # the same rules as the page's own check: shown on the lines
        return again(400)
    except Conflict as conflict:
        return again(409, conflict=conflict.message)
    except PermissionDenied as refused:
        messages.error(request, str(refused) or "This day is read-only.")
        return _page(request, opened, status=403)
    figures = written.day.figures
    message = SAVED if finish else DRAFT_KEPT
    messages.success(
        request,
        message.format(route=opened.route.code, date=day_date, visited=figures.customers_visited,
                       planned=stops_text(figures.customers_planned)),
    )  # fmt: skip
    for customer, said in written.notices.items():
        line = written.day.line(customer)
        for notice in said:
            messages.info(request, f"{line.customer_name if line else customer}: {notice}")
    return redirect(_day_url(route_id, day_date))


def _typed(day: selectors.Day, lines: LinesForm) -> selectors.Day:
    """The day as the page holds it: each line with what the form holds where the rules let
    it (a refused change keeps the stored line), the notices, and the errors by customer (the
    form's and the rules')."""
    result = list(day.lines)
    notices = {customer: list(said) for customer, said in lines.notices.items()}
    errors = {customer: dict(fields) for customer, fields in lines.errors.items()}
    position = {line.customer_id: index for index, line in enumerate(result)}
    for change in lines.changes:
        index = position.get(change.customer_id)
        if index is None:
            errors[change.customer_id] = {
                "customer": [rules.NOT_A_STOP.format(route=day.route.code)]
            }
            continue
        line, said, refused = rules.apply_change(result[index], change)
        if refused:
            errors.setdefault(change.customer_id, {}).update(refused)
            continue
        result[index] = line
        if said:
            notices.setdefault(change.customer_id, []).extend(said)
    return replace(day, lines=result, notices=notices, errors=errors, typed=lines.typed)


@require_POST
@area_required("supervision")
def day_check(request: HttpRequest, route_id: int, date: str) -> HttpResponse:
    """A line's input changed in the page (htmx, nothing saved): that line's messages, the
    input again as the rules leave it (-5 shows 0; 1000000 stays, marked invalid), the visited
    box if the rules ticked it, and the day's figures as the page now holds them. Only what the
    person has left is replaced, never a field they may be typing in."""
    opened = selectors.day(user=request.user, route_id=route_id, date=selectors.parse_day(date))
    shown = _typed(opened, LinesForm(request.POST))
    trigger = request.headers.get("HX-Trigger-Name", "")
    customer = _customer_of(trigger)
    line = shown.line(customer) if customer is not None else None
    meta = SaveForm(request.POST)
    # Someone saved since the page was opened: said now, not only at the save.
    stale = meta.is_valid() and meta.cleaned_data["record_version"] != opened.record_version
    posted_visited = f"visited-{customer}" in request.POST
    context = {
        "day": shown,
        "route": shown.route,
        "figures": shown.figures,
        "line": line,
        "errors": shown.errors,
        "notices": shown.notices,
        "raw": shown.typed,
        "field": trigger.partition("-")[0],
        "ticked": line is not None and line.visited and not posted_visited,
        "conflict": services.conflict_message(opened) if stale else "",
        "check_url": reverse("supervision:check", args=[shown.route.pk, shown.date.isoformat()]),
    }
    status = 400 if customer in shown.errors else 200
    return render(request, "supervision/partials/check.html", context, status=status)


def _customer_of(field_name: str) -> int | None:
    """The customer whose row an input belongs to ("qty-42" → 42)."""
    return parse_id(field_name.rpartition("-")[2])


@require_POST
@area_required("supervision")
def day_review(request: HttpRequest, route_id: int, date: str) -> HttpResponse:
    """A customer or route review of the day as the page holds it (htmx): the kept answer at
    once, a new one at most once per window (else 429 and a countdown)."""
    day_date = selectors.parse_day(date)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return HttpResponse(status=400)
    lines = LinesForm(request.POST)
    kind, customer = form.cleaned_data["kind"], form.cleaned_data["customer"]
    target = "route-review" if kind == AnalysisKind.ROUTE else f"review-{customer}"
    context = {"target": target, "kind": kind, "customer": customer}
    try:
        result = analysis.review(
            actor=request.user, route_id=route_id, date=day_date, kind=kind,
            customer_id=customer, changes=lines.changes if lines.is_valid() else None,
        )  # fmt: skip
    except analysis.RateLimited as limited:
        context["retry_after"] = limited.retry_after
        response = render(request, "supervision/partials/review.html", context, status=429)
        response["Retry-After"] = str(limited.retry_after)
        return response
    except (ValidationError, rules.LineErrors) as error:
        context["error"] = " ".join(error.messages)
        return render(request, "supervision/partials/review.html", context, status=400)
    context |= {"review": result.analysis, "from_cache": result.from_cache}
    return render(request, "supervision/partials/review.html", context)


@require_POST
@area_required("supervision")
def session_reopen(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """An administrator reopens a saved day, saying why (anyone else: 403)."""
    form = ReopenForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else request.POST.get("reason", "")
    try:
        session = services.session_reopen(actor=request.user, session_id=pk, reason=reason)
    except ValidationError as error:
        target = selectors.session_list(user=request.user).filter(pk=pk).first()
        for message in error.messages:
            messages.error(request, message)
        return redirect(_day_url(target.route_id, target.date) if target else "supervision:index")
    messages.success(request, "Reopened: the day can be edited again.")
    return redirect(_day_url(session.route_id, session.date))

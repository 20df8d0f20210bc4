"""The supervision pages: choose a route and a day; the day's page (its lines to record, its
summary, reviews, recent days), with in-page checks of each line (htmx), saving with the
version it was opened at, and read-only history.

A refused save comes back with what was typed and a summary at the top that links to each
line to fix. A save based on a version someone else replaced comes back at the new version
with both people's changes put together (supervision.merge): what only one of them changed is
kept, and where both changed the same field the page asks which value to keep; one Save then
completes it. Every address a form posts to answers GET with the day's page."""

import datetime as dt
import uuid
from dataclasses import replace

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from crm.ids import parse_id
from crm.roles import may_reopen_day, may_see_review_cache
from crm.web import area_required, form_action
from supervision import analysis, merge, rules, selectors, services
from supervision.forms import INPUTS, LinesForm, OpenDayForm, ReopenForm, ReviewForm, SaveForm
from supervision.models import AnalysisKind, ReasonCode
from supervision.text import counted

RECENT_DAYS = 10
SAVED = "Session saved: {route} on {date:%d %b %Y} ({visited} of {planned} visited)."
DRAFT_KEPT = "Draft kept: {route} on {date:%d %b %Y}."
REOPENED = "Reopened: the day can be edited again."
# The summary at the top of a refused save.
PROBLEMS = "There {are} {count} on {lines}"
# Someone wrote the day after the page was opened.
MERGED_TITLE = "{who} {did} this day at {when}, after you opened it"
MERGED = (
    "Nothing is saved yet. Your changes and theirs are together below: where only you "
    "changed something it has your value, where only they did it has theirs."
)
MERGED_CHOOSE = "You both changed {lines}: choose the value to keep on each, then save."
MERGED_SAVE = "Check the day, then save it."
MERGED_READ_ONLY = (
    "The day is read-only now, so your changes were not saved. Here they are, against what "
    "was saved; an administrator can reopen the day."
)
MERGED_DROPPED = "{stops} you changed {are} no longer on this day's route: not kept."
DROPPED_LINE = "no longer on this day's route, not kept ({changes})"
EDITED_MEANWHILE = (
    "{who} {did} this day at {when}, after you opened it. Nothing you type is lost: when you "
    "save, your changes and theirs are put together{this_line}."
)
THIS_LINE_TOO = ", and you choose the value to keep where you both changed this line"
STOP_GONE_MEANWHILE = (
    "{who} {did} this day at {when}, after you opened it, and this stop is no longer on its "
    "route: what you enter here will not be kept."
)


def _day_url(route_id: int, date: dt.date) -> str:
    return reverse("supervision:day", args=[route_id, date.isoformat()])


def _day_page(request: HttpRequest, route_id: int, date: str) -> str:
    """Where a form of a day's page belongs (a reload of its address lands there)."""
    return _day_url(route_id, selectors.parse_day(date))


def _session_page(request: HttpRequest, pk: uuid.UUID) -> str:
    session = selectors.session_list(user=request.user).filter(pk=pk).first()
    if session is None:
        raise Http404("No such session here.")
    return _day_url(session.route_id, session.date)


@area_required("supervision")
def index(request: HttpRequest) -> HttpResponse:
    """Choose a route and a day; the latest days of the routes one sees, each saying who
    wrote it; for admins, the reviews' cache hit rate."""
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
        "review_days": counted(selectors.review_days(), "day"),
        "may_see_review_cache": may_see_review_cache(request.user),
        "cache": analysis.cache_stats() if may_see_review_cache(request.user) else None,
    }
    return render(request, "supervision/index.html", context, status=400 if form.errors else 200)


def _page(
    request: HttpRequest,
    day: selectors.Day,
    *,
    status: int = 200,
    attention: dict | None = None,
    token: uuid.UUID | None = None,
    reopen_form: ReopenForm | None = None,
) -> HttpResponse:
    route_review = analysis.latest_route_review(day=day)
    figures = day.figures
    context = {
        "day": day,
        "route": day.route,
        "figures": figures,
        "lines": day.lines,
        "errors": day.errors,
        "notices": day.notices,
        "raw": day.typed,
        "bases": {
            line.customer_id: (day.base.get(line.customer_id) or merge.Recorded.of(line)).encode()
            for line in day.lines
        },
        "conflicts": day.conflicts,
        "choices": {c: merge.encode_choices(clash) for c, clash in day.conflicts.items()},
        "attention": attention or _problems(day),
        "check_url": reverse("supervision:check", args=[day.route.pk, day.date.isoformat()]),
        "review_url": reverse("supervision:review", args=[day.route.pk, day.date.isoformat()]),
        "client_token": token or uuid.uuid4(),
        "client_rules": rules.client_rules(),
        "reasons": ReasonCode.choices,
        "recent": selectors.recent_sessions(route=day.route, limit=RECENT_DAYS),
        "route_review": route_review,
        "review_current": route_review is not None and analysis.written_for(route_review, day),
        "previous_day": day.date - dt.timedelta(days=1),
        "next_day": day.date + dt.timedelta(days=1),
        "may_reopen": may_reopen_day(request.user) and selectors.reopenable(day.session),
        "may_see_review_cache": may_see_review_cache(request.user),
        "reopen_form": reopen_form or ReopenForm(),
    }
    return render(request, "supervision/day.html", context, status=status)


def _line_name(line: rules.Line | None, customer: int) -> str:
    return f"#{line.stop_order} {line.customer_name}" if line else f"Customer {customer}"


def _problems(day: selectors.Day) -> dict | None:
    """The summary of a refused save: how many lines have problems, and a link to each bad
    field (the first input of the line when the problem is the line's)."""
    if not day.errors:
        return None
    order = {line.customer_id: index for index, line in enumerate(day.lines)}
    items = []
    for customer in sorted(day.errors, key=lambda c: order.get(c, len(order))):
        line = day.line(customer)
        for name, said in day.errors[customer].items():
            target = f"{INPUTS[name]}-{customer}" if name in INPUTS else f"line-{customer}"
            for message in said:
                items.append({"href": f"#{target}" if line else "", "text": message,
                              "line": _line_name(line, customer)})  # fmt: skip
    count = len(day.errors)
    title = PROBLEMS.format(
        are="is" if count == 1 else "are",
        count="a problem" if count == 1 else "problems",
        lines=counted(count, "line"),
    )
    return {"title": title, "items": items, "kind": "error"}


@area_required("supervision")
def day(request: HttpRequest, route_id: int, date: str) -> HttpResponse:
    """A route's day: its session, or the draft of its stops; read-only when saved, when
    never saved and older than the review window, or to come."""
    return _page(
        request, selectors.day(user=request.user, route_id=route_id, date=selectors.parse_day(date))
    )


@area_required("supervision")
@form_action(_day_page)
def day_save(request: HttpRequest, route_id: int, date: str) -> HttpResponse:
    """Save the day (or keep a draft: `action=draft`) based on the version it was opened at.
    Refused, the page comes back with what was typed: with its problems (400), with both
    people's changes put together (409), or read-only (403). Reloaded, the day's page."""
    day_date = selectors.parse_day(date)
    meta = SaveForm(request.POST)
    if not meta.is_valid():
        raise Http404("This form is not one of the session page's.")
    lines = LinesForm(request.POST)
    version, token = meta.cleaned_data["record_version"], meta.cleaned_data["client_token"]
    finish = request.POST.get("action") != "draft"

    def again() -> HttpResponse:
        # The page as the supervisor left it: their values, at the version they opened.
        opened = selectors.day(user=request.user, route_id=route_id, date=day_date)
        shown = replace(_typed(opened, lines), record_version=version)
        return _page(request, shown, status=400, token=token)

    if not lines.is_valid():
        return again()
    try:
        written = services.session_write(
            actor=request.user, route_id=route_id, date=day_date, record_version=version,
            changes=lines.changes, client_token=token, finish=finish,
            parse_notices=lines.notices, bases=lines.bases,
        )  # fmt: skip
    except rules.LineErrors:  # the same rules as the page's own check: shown on the lines
        return again()
    except services.DayChanged as changed:
        return _merged(request, changed, lines)
    except PermissionDenied as refused:
        messages.error(request, str(refused) or "This day is read-only.")
        opened = selectors.day(user=request.user, route_id=route_id, date=day_date)
        return _page(request, opened, status=403)
    figures = written.day.figures
    message = SAVED if finish else DRAFT_KEPT
    messages.success(
        request,
        message.format(route=written.day.route.code, date=day_date,
                       visited=figures.customers_visited,
                       planned=counted(figures.customers_planned, "stop")),
    )  # fmt: skip
    for customer, said in written.notices.items():
        line = written.day.line(customer)
        for notice in said:
            messages.info(request, f"{line.customer_name if line else customer}: {notice}")
    return redirect(_day_url(route_id, day_date))


def _merged(request: HttpRequest, changed: services.DayChanged, lines: LinesForm) -> HttpResponse:
    """The page after someone else wrote the day meanwhile: at their version, with both
    people's changes put together and the fields both changed to choose (409); or, if they
    saved it for good, the read-only day and what was not saved."""
    current, merged = changed.day, changed.merged
    title = MERGED_TITLE.format(**services.who_did(current))
    dropped = _dropped(request, merged, lines)
    if current.read_only:
        attention = {"title": title, "intro": [MERGED_READ_ONLY], "kind": "warn",
                     "items": _unsaved(current, merged) + dropped}  # fmt: skip
        return _page(request, current, status=409, attention=attention)
    notices = {customer: list(said) for customer, said in merged.notices.items()}
    for customer, said in lines.notices.items():
        if customer in merged.mine:
            notices.setdefault(customer, [])[:0] = said
    shown = replace(
        current,
        lines=merged.lines,
        base={line.customer_id: merge.Recorded.of(line) for line in current.lines},
        conflicts=merged.conflicts,
        notices=notices,
    )
    intro = [MERGED]
    if merged.dropped:
        many = len(merged.dropped) > 1
        intro.append(
            MERGED_DROPPED.format(stops=counted(len(merged.dropped), "stop"),
                                  are="are" if many else "is")
        )  # fmt: skip
    items = []
    for customer, clash in merged.conflicts.items():
        line = shown.line(customer)
        first = next(name for name in merge.FIELDS if name in clash)
        fields = ", ".join(merge.LABELS[name].lower() for name in merge.FIELDS if name in clash)
        items.append({"href": f"#{INPUTS[first]}-{customer}", "line": _line_name(line, customer),
                      "text": f"choose the {fields}"})  # fmt: skip
    if items:
        intro.append(MERGED_CHOOSE.format(lines=counted(len(items), "line")))
    else:
        intro.append(MERGED_SAVE)
    attention = {"title": title, "intro": intro, "items": items + dropped, "kind": "warn"}
    return _page(request, shown, status=409, attention=attention)


def _dropped(request: HttpRequest, merged: merge.Merged, lines: LinesForm) -> list[dict]:
    """The changes a person made to stops that left the day meanwhile: per stop, by name, what
    they set (not kept: there is no line to keep it on)."""
    if not merged.dropped:
        return []
    changes = {change.customer_id: change for change in lines.changes}
    names = selectors.customer_names(user=request.user, ids=merged.dropped)
    items = []
    for customer in merged.dropped:
        fields = merge.sent(changes[customer], lines.bases.get(customer))
        said = ", ".join(f"{merge.LABELS[name].lower()} {merge.describe(name, value)}"
                         for name, value in fields.items())  # fmt: skip
        items.append({"href": "", "line": names.get(customer, f"Customer {customer}"),
                      "text": DROPPED_LINE.format(changes=said)})  # fmt: skip
    return items


def _unsaved(current: selectors.Day, merged: merge.Merged) -> list[dict]:
    """What a person changed that a day saved meanwhile does not hold: per line, each field
    with their value and the saved one."""
    items = []
    for customer, mine in merged.mine.items():
        saved = current.line(customer)
        if saved is None:
            continue
        differences = [
            f"{merge.LABELS[name].lower()} {merge.describe(name, getattr(mine, name))} "
            f"(saved: {merge.describe(name, getattr(saved, name))})"
            for name in merge.FIELDS
            if getattr(mine, name) != getattr(saved, name)
        ]
        if differences:
            items.append({"href": f"#line-{customer}", "line": _line_name(saved, customer),
                          "text": "; ".join(differences)})  # fmt: skip
    return items


def _typed(day: selectors.Day, lines: LinesForm) -> selectors.Day:
    """The day as the page holds it: each line with what the form holds (where the rules
    refuse it, as typed, with the errors), the notices, the errors by customer (the form's
    and the rules'), what the lines held in the version the page shows, and the fields to
    choose."""
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
            typed = {
                name: value for name in merge.FIELDS if (value := getattr(change, name)) is not None
            }
            line = replace(result[index], **typed)
        elif said:
            notices.setdefault(change.customer_id, []).extend(said)
        result[index] = line
    # What the page showed each line as (its base), else the line as stored.
    stored = {line.customer_id: merge.Recorded.of(line) for line in day.lines}
    return replace(
        day,
        lines=result,
        notices=notices,
        errors=errors,
        typed=lines.typed,
        base={c: lines.bases.get(c) or recorded for c, recorded in stored.items()},
        conflicts={c: clash for c, clash in lines.clashes.items() if c in position},
    )


@area_required("supervision")
@form_action(_day_page)
def day_check(request: HttpRequest, route_id: int, date: str) -> HttpResponse:
    """A line's input changed in the page (htmx, nothing saved): that line's messages, the
    input again as the rules leave it (-5 shows 0; 1000000 stays, marked invalid), the visited
    box if the rules ticked it, and the day's figures as the page now holds them. Only what the
    person has left is replaced, never a field they may be typing in. If someone wrote the day
    since the page was opened, the line says so (and whether they changed it too, or whether
    the stop left the day meanwhile)."""
    day_date = selectors.parse_day(date)
    opened = selectors.day(user=request.user, route_id=route_id, date=day_date)
    lines = LinesForm(request.POST, choices_required=False)
    shown = _typed(opened, lines)
    trigger = request.headers.get("HX-Trigger-Name", "")
    customer = _customer_of(trigger)
    line = shown.line(customer) if customer is not None else None
    meta = SaveForm(request.POST)
    stale = meta.is_valid() and meta.cleaned_data["record_version"] != opened.record_version
    meanwhile = gone = ""
    if line is not None and stale:
        mine = [change for change in lines.changes if change.customer_id == customer]
        merged = merge.three_way(theirs=opened.lines, changes=mine, bases=lines.bases)
        meanwhile = EDITED_MEANWHILE.format(
            **services.who_did(opened),
            this_line=THIS_LINE_TOO if customer in merged.conflicts else "",
        )
    elif line is None and customer is not None and stale:
        # As the save will say: not a mistake to fix, a stop not kept (supervision.merge).
        gone = STOP_GONE_MEANWHILE.format(**services.who_did(opened))
    route_review = analysis.latest_route_review(day=shown)
    context = {
        "day": shown,
        "route": shown.route,
        "figures": shown.figures,
        "line": line,
        "errors": shown.errors,
        "notices": shown.notices,
        "raw": shown.typed,
        "clash": shown.conflicts.get(customer, {}),
        "field": trigger.partition("-")[0],
        "ticked": line is not None and line.visited and f"visited-{customer}" not in request.POST,
        "meanwhile": meanwhile,
        "gone": gone,
        "stray": [] if line is not None or gone else shown.errors.get(customer, {}).get("customer"),
        "route_review": route_review,
        "review_current": route_review is not None and analysis.written_for(route_review, shown),
        "check_url": reverse("supervision:check", args=[shown.route.pk, shown.date.isoformat()]),
    }
    status = 400 if customer in shown.errors and not gone else 200
    return render(request, "supervision/partials/check.html", context, status=status)


def _customer_of(field_name: str) -> int | None:
    """The customer whose row an input belongs to ("qty-42" → 42)."""
    return parse_id(field_name.rpartition("-")[2])


@area_required("supervision")
@form_action(_day_page)
def day_review(request: HttpRequest, route_id: int, date: str) -> HttpResponse:
    """A customer or route review of the day as the page holds it (htmx): the kept answer at
    once, a new one at most once per window (else 429 and a countdown)."""
    day_date = selectors.parse_day(date)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return HttpResponse(status=400)
    lines = LinesForm(request.POST, choices_required=False)
    kind, customer = form.cleaned_data["kind"], form.cleaned_data["customer"]
    target = "route-review" if kind == AnalysisKind.ROUTE else f"review-{customer}"
    context = {"target": target, "kind": kind, "customer": customer, "swapped": True}
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
    context |= {"review": result.analysis, "from_cache": result.from_cache, "current": True}
    return render(request, "supervision/partials/review.html", context)


@area_required("supervision")
@form_action(lambda request, pk: _session_page(request, pk))
def session_reopen(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """An administrator reopens a day that is read-only history (saved, or a draft past its
    review window), saying why (anyone else: 403). Refused, the day's page with the reason as
    typed and why (400); reloaded, the day's page."""
    target = selectors.session_list(user=request.user).filter(pk=pk).first()
    if target is None:
        raise Http404("No such session here.")
    form = ReopenForm(request.POST)
    if form.is_valid():
        try:
            session = services.session_reopen(
                actor=request.user, session_id=pk, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            if getattr(error, "code", None) == services.NOTHING_TO_REOPEN_CODE:
                # Not about the reason: the day offers no Reopen to show it next to.
                messages.error(request, services.NOTHING_TO_REOPEN)
            else:
                form.add_service_error(error)
        else:
            messages.success(request, REOPENED)
            return redirect(_day_url(session.route_id, session.date))
    elif not may_reopen_day(request.user):
        raise PermissionDenied(services.ONLY_ADMINS_REOPEN)
    day = selectors.day(user=request.user, route_id=target.route_id, date=target.date)
    return _page(request, day, status=400, reopen_form=form)

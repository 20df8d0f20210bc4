"""The core's server-rendered pages: role homes, deals, activities, tasks and customers.

Each view parses its input, calls one selector or service and renders, with the building blocks
of crm.web. Records are looked up in the role-scoped selectors (or re-read by the services), so a
record outside the user's scope is a 404. Every URL a form posts to also answers GET, with the
page the action belongs to; a successful POST redirects (POST/redirect/GET).
"""

import functools
import hashlib
import json
import logging
import sys
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.views.defaults import page_not_found as django_page_not_found

from crm import selectors, services
from crm.api import tokens
from crm.api.exceptions import error_response
from crm.errors import DATABASE_RETRY_AFTER, DATABASE_UNAVAILABLE, database_unavailable
from crm.forms import (
    DONE,
    ActivityCompleteForm,
    ActivityFilterForm,
    ActivityForm,
    CustomerEditForm,
    CustomerForm,
    CustomerSearchForm,
    CustomerSignUpForm,
    DealCloseForm,
    DealEditForm,
    DealFilterForm,
    DealForm,
    TaskFilterForm,
    TaskForm,
    TaskStatusForm,
)
from crm.jobs.selectors import dead_letter_pending_count
from crm.models import ActivityStatus, DealOutcome, TaskStatus
from crm.periods import format_moment
from crm.roles import (
    has_crm_role,
    may_choose_rep,
    may_hold_api_token,
    may_use_django_admin,
    sees_everything,
)
from crm.web import (
    ListPage,
    area_required,
    call_service,
    form_action,
    form_page,
    home_panels,
    post_data,
    return_to,
    version_of,
)

logger = logging.getLogger(__name__)

HOME_NEXT_ACTIVITIES = 10
CUSTOMER_DETAIL_ROWS = 50


def _reader(request: HttpRequest) -> dict[str, Any]:
    """What the core's rows show depending on who reads them: the rep (or owner) column for
    those who work with several reps' records (a rep sees only their own)."""
    return {"shows_reps": may_choose_rep(request.user)}


DEALS = ListPage("crm", "deal", "Deals", selectors.deal_list, DealFilterForm, reader=_reader)
ACTIVITIES = ListPage(
    "crm", "activity", "Activities", selectors.activity_list, ActivityFilterForm, reader=_reader
)
TASKS = ListPage("crm", "task", "Tasks", selectors.task_list, TaskFilterForm, reader=_reader)
CUSTOMERS = ListPage(
    "crm", "customer", "Customers", selectors.customer_list, CustomerSearchForm, reader=_reader
)


# --- Home -------------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not has_crm_role(user):
        return render(request, "crm/home/none.html")
    summary = selectors.home_summary(user=user)
    context: dict[str, Any] = {
        "summary": summary,
        "summary_version": _summary_version(summary),
        "refresh_seconds": settings.LIVE_REFRESH_SECONDS,
        "panels": home_panels(request),  # the feature apps' blocks (crm.web.home_panel)
    }
    if sees_everything(user):
        # Those who run the CRM: its overview, with the background work that needs a person.
        context["pending_dead_letters"] = dead_letter_pending_count()
        context["opens_django_admin"] = may_use_django_admin(user)
        return render(request, "crm/home/admin.html", context)
    if may_choose_rep(user):
        # Those who follow several reps: each rep's month.
        context["performance"] = selectors.team_performance(user=user)
        return render(request, "crm/home/supervisor.html", context)
    context["next_activities"] = selectors.activity_list(user=user, status=ActivityStatus.PLANNED)[
        :HOME_NEXT_ACTIVITIES
    ]
    return render(request, "crm/home/rep.html", context)


@area_required("sales")
def home_summary(request: HttpRequest) -> HttpResponse:
    """The home page's figures, for its own polling (and when the goal card says it moved):
    nothing (204) while they are what the page shows (`since`), else the tiles again."""
    summary = selectors.home_summary(user=request.user)
    version = _summary_version(summary)
    if request.GET.get("since") == version:
        return HttpResponse(status=204)
    context = {
        "summary": summary,
        "summary_version": version,
        "refresh_seconds": settings.LIVE_REFRESH_SECONDS,
    }
    return render(request, "crm/partials/summary.html", context)


def _summary_version(summary: dict) -> str:
    """The figures and the minute they were counted, as the block shows them: a poll answers
    204 while both are the same, so "as of" moves on at most once a minute."""
    figures = sorted((k, v) for k, v in summary.items() if k not in {"month", "counted_at"})
    return version_of(*figures, format_moment(summary["counted_at"], "H:i"))


# --- Deals ------------------------------------------------------------------------------------


@area_required("sales")
def deal_list(request: HttpRequest) -> HttpResponse:
    return DEALS.render(request)


@area_required("sales")
def deal_create(request: HttpRequest) -> HttpResponse:
    form = DealForm(post_data(request), user=request.user, initial=_initial_customer(request))
    if request.method == "POST":
        deal = call_service(form, lambda **data: services.deal_create(actor=request.user, **data))
        if deal is not None:
            messages.success(request, f"Deal “{deal.title}” created.")
            return redirect(DEALS.created_link(deal.pk))
    return form_page(request, "crm/deal_form.html", {"form": form})


@area_required("sales")
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_object_or_404(selectors.deal_list(user=request.user), pk=pk)
    refusal = services.deal_edit_refusal(deal)
    if request.method != "POST" and refusal is not None:
        messages.info(request, refusal)
        return redirect("deal-list")
    initial = DealEditForm.initial_for(deal)
    form = DealEditForm(post_data(request), user=request.user, initial=initial)
    if request.method == "POST":
        saved = call_service(
            form, lambda **data: services.deal_update(actor=request.user, deal_id=pk, **data)
        )
        if saved is not None:
            messages.success(request, f"Deal “{saved.title}” saved.")
            return redirect("deal-list")
    return form_page(request, "crm/deal_form.html", {"form": form, "deal": deal})


@area_required("sales")
@form_action(lambda request, pk: DEALS.row_link(pk))
def deal_close(request: HttpRequest, pk: int) -> HttpResponse:
    return DEALS.row_action(
        request,
        pk,
        lambda data: services.deal_close(
            actor=request.user, deal_id=pk, won=data["outcome"] == DealOutcome.WON
        ),
        form=DealCloseForm(request.POST),
    )


@area_required("sales")
@form_action(lambda request, pk: DEALS.row_link(pk))
def deal_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    """A deal closed by mistake, open again (no longer counted as won)."""
    return DEALS.row_action(
        request, pk, lambda data: services.deal_reopen(actor=request.user, deal_id=pk)
    )


# --- Activities -------------------------------------------------------------------------------


@area_required("sales")
def activity_list(request: HttpRequest) -> HttpResponse:
    return ACTIVITIES.render(request)


@area_required("sales")
def activity_create(request: HttpRequest) -> HttpResponse:
    """Plan an activity, or log one done already ("Log a visit": `?log=1`)."""
    initial = _initial_customer(request)
    if request.GET.get("log"):
        initial |= ActivityForm.initial_for_logging()
    form = ActivityForm(post_data(request), user=request.user, initial=initial)
    if request.method == "POST":
        activity = call_service(
            form, lambda **data: services.activity_create(actor=request.user, **data)
        )
        if activity is not None:
            done = activity.status == ActivityStatus.COMPLETED
            messages.success(
                request, f"{activity.get_kind_display()} {'logged' if done else 'planned'}."
            )
            return redirect(ACTIVITIES.created_link(activity.pk))
    logging = form["done"].value() == DONE
    return form_page(request, "crm/activity_form.html", {"form": form, "logging": logging})


@area_required("sales")
def activity_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a planned activity done: at once from its row (htmx), or on its own page with how it
    went and notes (the same URL, opened)."""
    if request.htmx and request.method == "POST":
        return ACTIVITIES.row_action(
            request,
            pk,
            lambda data: services.activity_complete(actor=request.user, activity_id=pk, **data),
            form=ActivityCompleteForm(request.POST),
        )
    activity = get_object_or_404(selectors.activity_list(user=request.user), pk=pk)
    refusal = services.activity_completion_refusal(activity)
    if request.method != "POST" and refusal is not None:
        messages.info(request, refusal)
        return redirect(ACTIVITIES.row_link(pk))
    form = ActivityCompleteForm(post_data(request), initial={"notes": activity.notes})
    if request.method == "POST":
        done = call_service(
            form,
            lambda **data: services.activity_complete(actor=request.user, activity_id=pk, **data),
        )
        if done is not None:
            messages.success(request, f"“{done}” done.")
            return redirect(return_to(request, "activity-list"))
    context = {"form": form, "activity": activity, "return_to": return_to(request, "activity-list")}
    return form_page(request, "crm/activity_complete.html", context)


# --- Tasks ------------------------------------------------------------------------------------


@area_required("sales")
def task_list(request: HttpRequest) -> HttpResponse:
    return TASKS.render(request)


@area_required("sales")
def task_create(request: HttpRequest) -> HttpResponse:
    form = TaskForm(post_data(request), user=request.user)
    if request.method == "POST":
        task = call_service(form, lambda **data: services.task_create(actor=request.user, **data))
        if task is not None:
            messages.success(request, f"Task “{task.title}” added.")
            return redirect(TASKS.created_link(task.pk))
    return form_page(request, "crm/task_form.html", {"form": form})


@area_required("sales")
@form_action(lambda request, pk: TASKS.row_link(pk))
def task_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Done, or open again: the task's row action."""
    return TASKS.row_action(
        request,
        pk,
        lambda data: services.task_set_done(
            actor=request.user, task_id=pk, done=data["status"] == TaskStatus.DONE
        ),
        form=TaskStatusForm(request.POST),
    )


# --- Customers --------------------------------------------------------------------------------


@area_required("sales")
def customer_list(request: HttpRequest) -> HttpResponse:
    return CUSTOMERS.render(request)


@area_required("sales")
def customer_create(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(post_data(request), user=request.user)
    if request.method == "POST":
        customer = call_service(
            form, lambda **data: services.customer_create(actor=request.user, **data)
        )
        if customer is not None:
            messages.success(request, f"{customer.name} added, as a prospect.")
            return redirect(CUSTOMERS.created_link(customer.pk))
    return form_page(request, "crm/customer_form.html", {"form": form})


@area_required("sales")
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(selectors.customer_list(user=request.user), pk=pk)
    form = CustomerEditForm(post_data(request), initial=CustomerEditForm.initial_for(customer))
    if request.method == "POST":
        saved = call_service(
            form,
            lambda **data: services.customer_update(actor=request.user, customer_id=pk, **data),
        )
        if saved is not None:
            messages.success(request, f"{saved.name} saved.")
            return redirect("customer-detail", pk)
    return form_page(request, "crm/customer_form.html", {"form": form, "customer": customer})


@area_required("sales")
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(selectors.customer_list(user=request.user), pk=pk)
    context = {
        "customer": customer,
        "deals": selectors.deal_list(user=request.user).filter(customer=customer)[
            :CUSTOMER_DETAIL_ROWS
        ],
        "activities": selectors.activity_list(user=request.user).filter(customer=customer)[
            :CUSTOMER_DETAIL_ROWS
        ],
        "sign_up_form": CustomerSignUpForm(user=request.user),
        "row_limit": CUSTOMER_DETAIL_ROWS,
        "return_to": request.get_full_path(),
        **_reader(request),
    }
    return render(request, "crm/customer_detail.html", context)


@area_required("sales")
@form_action(lambda request, pk: reverse("customer-detail", args=[pk]))
def customer_sign_up(request: HttpRequest, pk: int) -> HttpResponse:
    """A prospect signs up: from its row in the list (htmx) or from its page."""
    form = CustomerSignUpForm(request.POST, user=request.user)

    def sign_up(**data: Any):
        return services.customer_sign_up(actor=request.user, customer_id=pk, **data)

    if request.htmx:
        return CUSTOMERS.row_action(request, pk, lambda data: sign_up(**data), form=form)
    customer = call_service(form, sign_up)
    if customer is None:
        for error in form.all_errors():
            messages.error(request, error)
    else:
        messages.success(request, f"{customer.name} signed up.")
    return redirect(return_to(request, reverse("customer-detail", args=[pk])))


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 answer (handler500), except when the database did not answer: then 503
    with Retry-After, a page (JSON for the API) saying to try again, and one line in the log
    instead of a crash's traceback. It reads nothing from the database (a page of base.html
    rendered without the request: no session, user or navigation)."""
    error = sys.exc_info()[1]
    if not database_unavailable(error):
        return _server_error(request)
    logger.warning(
        "database unavailable: %s %s answered 503 (%s)",
        request.method, request.path, type(error).__name__,
    )  # fmt: skip
    if _for_the_api(request) or "json" in request.headers.get("Accept", ""):
        response = error_response(DATABASE_UNAVAILABLE, code="database_unavailable", status=503)
    else:
        context = {"message": DATABASE_UNAVAILABLE, "request_id": _request_id(request)}
        page = render_to_string("database_unavailable.html", context)
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    # Logged above: Django's own log of a 5xx would add the traceback of an outage.
    response._has_been_logged = True
    return response


def favicon(request: HttpRequest) -> HttpResponse:
    """Pages that name no icon (Django admin, the API docs) ask for /favicon.ico: the app's."""
    return redirect(static("favicon.svg"), permanent=True)


def _initial_customer(request: HttpRequest) -> dict[str, str]:
    # "New deal" from a customer's page preselects that customer; the form's scoped queryset
    # ignores an id the user may not see.
    return {"customer": request.GET.get("customer", "")}


# --- Account: the API token -------------------------------------------------------------------

# The new key, kept in the session between the POST that made it and the page that shows it
# (once: the page takes it out).
NEW_API_TOKEN_KEY = "new_api_token"


def _api_token_page_allowed(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_hold_api_token(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@_api_token_page_allowed
def api_token(request: HttpRequest) -> HttpResponse:
    """The signed-in person's API token: whether there is one and since when; a new key is
    shown here once, right after it was made."""
    context = {
        "token": tokens.api_token_of(user=request.user),
        "new_key": request.session.pop(NEW_API_TOKEN_KEY, None),
        "deals_url": request.build_absolute_uri(reverse("api-deal-list")),
    }
    response = render(request, "account/api_token.html", context)
    # The key must not stay in a cache (the browser's back/forward one included).
    response["Cache-Control"] = "no-store"
    return response


@_api_token_page_allowed
@form_action(lambda request: reverse("api-token"))
def api_token_create(request: HttpRequest) -> HttpResponse:
    token = tokens.api_token_create(actor=request.user)
    request.session[NEW_API_TOKEN_KEY] = token.key
    return redirect("api-token")


@_api_token_page_allowed
@form_action(lambda request: reverse("api-token"))
def api_token_revoke(request: HttpRequest) -> HttpResponse:
    if tokens.api_token_revoke(actor=request.user):
        messages.success(request, "Token revoked: scripts using it are refused from now on.")
    else:
        messages.info(request, "There was no token to revoke.")
    return redirect("api-token")


# --- Error answers ----------------------------------------------------------------------------

# Every error answer carries the request's id (crm.logs) for a person to quote: the API's in
# its JSON body (crm.api.exceptions), a page's in small print (partials/request_id.html).
SERVER_ERROR = "Something went wrong on our side. It has been logged."
BAD_REQUEST = "The request could not be read."
NOT_FOUND = "Not found."


def _request_id(request: HttpRequest) -> str:
    return getattr(request, "request_id", "")


def _for_the_api(request: HttpRequest) -> bool:
    """Whether an error answer is the API's JSON rather than a page."""
    return request.path.startswith("/api/")


def _server_error(request: HttpRequest) -> HttpResponse:
    """The 500 answer, with the request id a person can quote: JSON under /api/, else a page.
    Rendered without the request's context processors: whatever failed may fail again there."""
    if _for_the_api(request):
        return error_response(SERVER_ERROR, status=500)
    context = {"request_id": _request_id(request), "message": SERVER_ERROR}
    return HttpResponse(loader.render_to_string("500.html", context), status=500)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (handler400: a suspicious request, too many fields): JSON under /api/,
    else a page (rendered without the request, like Django's own)."""
    if _for_the_api(request):
        return error_response(BAD_REQUEST, status=400)
    context = {"request_id": _request_id(request), "message": BAD_REQUEST}
    return HttpResponse(loader.render_to_string("400.html", context), status=400)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 (handler404): under /api/ an address no endpoint answers gets the API's
    JSON 404, as a record outside the caller's scope does; elsewhere the page."""
    if _for_the_api(request):
        return error_response(NOT_FOUND, status=404)
    return django_page_not_found(request, exception)


# --- Installable and offline: the service worker, the web app manifest, the offline page -----

# What the service worker keeps from its installation on: every page's own files and the page
# shown for a page never opened while there was signal. Named through `static`, so that the
# hashed names of production are the ones kept.
_APP_SHELL_STATIC = [
    "css/app.css",
    "js/app.js",
    "js/offline.js",
    "vendor/htmx.min.js",
    "favicon.svg",
    "icons/icon-192.png",
]


def service_worker(request: HttpRequest) -> HttpResponse:
    """static/js/sw.js at the site's root (a worker controls only the paths below its own URL),
    told the current names of the files to keep (the offline page last). Its bytes change with
    each deployment's files, which is how browsers learn that there is a new worker."""
    response = HttpResponse(_service_worker_script(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


@functools.cache
def _service_worker_script() -> str:
    # Built once a process: browsers ask for it again on every page they open (no-cache), and
    # the files it names change only with a deployment (a new process).
    shell = [static(name) for name in _APP_SHELL_STATIC]
    shell += [reverse("web-app-manifest"), reverse("offline")]
    source = Path(finders.find("js/sw.js")).read_text()
    version = hashlib.sha256((json.dumps(shell) + source).encode()).hexdigest()[:12]
    return f"self.SHELL = {json.dumps(shell)};\nself.VERSION = {json.dumps(version)};\n" + source


def web_app_manifest(request: HttpRequest) -> HttpResponse:
    """What a phone needs to put the CRM on its home screen and open it like an app."""
    manifest = {
        "name": "Field-sales CRM",
        "short_name": "CRM",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        # --accent and --bg of static/css/app.css.
        "theme_color": "#2454c5",
        "background_color": "#f5f6f8",
        "icons": [
            {"src": static(f"icons/icon-{px}.png"), "sizes": f"{px}x{px}", "type": "image/png"}
            for px in (192, 512)
        ],
    }
    return HttpResponse(json.dumps(manifest), content_type="application/manifest+json")


def offline(request: HttpRequest) -> HttpResponse:
    """Shown by the service worker for a page never opened while there was signal. Rendered
    without the request: the same for everyone, so it may be kept in the shared app shell."""
    return HttpResponse(render_to_string("offline.html"))

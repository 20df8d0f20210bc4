"""Server-rendered pages for reps, supervisors and admins.

Each view parses its input, calls one selector or service and renders. Records are looked up in
the role-scoped selectors, so a record outside the user's scope is a 404. Writes go through
crm.services; their ValidationErrors come back as form errors with status 400.

The row actions (close a deal, complete an activity) answer an htmx request with the row's
partial and a plain POST with a redirect back to the page it came from.
"""

from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from crm import selectors, services
from crm.forms import (
    ActivityFilterForm,
    ActivityForm,
    CustomerSearchForm,
    DealCloseForm,
    DealFilterForm,
    DealForm,
    ScopedForm,
)
from crm.models import ActivityStatus, DealOutcome
from crm.pagination import DeferredJoinPaginator
from crm.roles import Role, can_use, role_of

PAGE_SIZE = 50
HOME_NEXT_ACTIVITIES = 10
CUSTOMER_DETAIL_ROWS = 50

View = Callable[..., HttpResponse]


def area_required(area: str) -> Callable[[View], View]:
    """login_required plus crm.roles.can_use(user, area): 403 for a role that may not use it.

    An anonymous htmx request gets a client-side redirect to the login page; a plain redirect
    would be followed by the XHR and the login form swapped into a table row.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                if request.htmx:
                    back_to = request.htmx.current_url_abs_path or request.get_full_path()
                    return HttpResponseClientRedirect(redirect_to_login(back_to).url)
                return redirect_to_login(request.get_full_path())
            if not can_use(request.user, area):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# --- Home -------------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    role = role_of(request.user)
    if role == Role.NONE:
        return render(request, "crm/home/none.html")
    context: dict[str, Any] = {"summary": selectors.home_summary(user=request.user)}
    if role == Role.REP:
        context["next_activities"] = selectors.activity_list(
            user=request.user, status=ActivityStatus.PLANNED
        )[:HOME_NEXT_ACTIVITIES]
    elif role == Role.SUPERVISOR:
        context["performance"] = selectors.team_performance(user=request.user)
    else:
        context["pending_dead_letters"] = selectors.dead_letter_pending_count()
    return render(request, f"crm/home/{role}.html", context)


# --- Deals ------------------------------------------------------------------------------------


@area_required("sales")
def deal_list(request: HttpRequest) -> HttpResponse:
    return _deal_list_page(request)


@area_required("sales")
def deal_create(request: HttpRequest) -> HttpResponse:
    form = DealForm(_post_data(request), user=request.user, initial=_initial_customer(request))
    if request.method == "POST":
        deal = _save(form, partial(services.deal_create, actor=request.user))
        if deal is not None:
            messages.success(request, f"Deal “{deal.title}” created.")
            return redirect("deal-list")
    return _form_page(request, "crm/deal_form.html", {"form": form})


@area_required("sales")
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_object_or_404(selectors.deal_list(user=request.user), pk=pk)
    if request.method != "POST" and deal.is_closed:
        messages.info(request, services.DEAL_ALREADY_CLOSED)
        return redirect("deal-list")
    form = DealForm(_post_data(request), user=request.user, initial=DealForm.initial_for(deal))
    if request.method == "POST":
        saved = _save(form, partial(services.deal_update, actor=request.user, deal=deal))
        if saved is not None:
            messages.success(request, f"Deal “{saved.title}” saved.")
            return redirect("deal-list")
    return _form_page(request, "crm/deal_form.html", {"form": form, "deal": deal})


@area_required("sales")
@require_POST
def deal_close(request: HttpRequest, pk: int) -> HttpResponse:
    deals = selectors.deal_list(user=request.user)
    deal = get_object_or_404(deals, pk=pk)
    form = DealCloseForm(request.POST)
    if form.is_valid():
        won = form.cleaned_data["outcome"] == DealOutcome.WON
        try:
            services.deal_close(actor=request.user, deal=deal, won=won)
        except ValidationError as error:
            form.add_service_error(error)
    return _row_action_answer(
        request,
        errors=form.all_errors(),
        row_template="crm/partials/deal_row.html",
        row={"deal": deals.get(pk=pk)},
        list_url="deal-list",
        list_page=_deal_list_page,
    )


def _deal_list_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    filters = DealFilterForm(request.GET)
    stage = filters.cleaned_data["stage"] if filters.is_valid() else ""
    deals = selectors.deal_list(user=request.user, stage=stage)
    return _list_page(request, "crm/deal_list.html", filters, deals, "deal-list", status)


# --- Activities -------------------------------------------------------------------------------


@area_required("sales")
def activity_list(request: HttpRequest) -> HttpResponse:
    return _activity_list_page(request)


@area_required("sales")
def activity_create(request: HttpRequest) -> HttpResponse:
    form = ActivityForm(_post_data(request), user=request.user, initial=_initial_customer(request))
    if request.method == "POST":
        activity = _save(form, partial(services.activity_create, actor=request.user))
        if activity is not None:
            messages.success(request, f"{activity.get_kind_display()} planned.")
            return redirect("activity-list")
    return _form_page(request, "crm/activity_form.html", {"form": form})


@area_required("sales")
@require_POST
def activity_complete(request: HttpRequest, pk: int) -> HttpResponse:
    activities = selectors.activity_list(user=request.user)
    activity = get_object_or_404(activities, pk=pk)
    errors = []
    try:
        services.activity_complete(actor=request.user, activity=activity)
    except ValidationError as error:
        errors = error.messages
    return _row_action_answer(
        request,
        errors=errors,
        row_template="crm/partials/activity_row.html",
        row={"activity": activities.get(pk=pk)},
        list_url="activity-list",
        list_page=_activity_list_page,
    )


def _activity_list_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    filters = ActivityFilterForm(request.GET)
    activity_status = filters.cleaned_data["status"] if filters.is_valid() else ""
    activities = selectors.activity_list(user=request.user, status=activity_status)
    return _list_page(
        request, "crm/activity_list.html", filters, activities, "activity-list", status
    )


# --- Customers --------------------------------------------------------------------------------


@area_required("sales")
def customer_list(request: HttpRequest) -> HttpResponse:
    search = CustomerSearchForm(request.GET)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    customers = selectors.customer_list(user=request.user, search=query)
    context = {"search": search, "query": query, "page_obj": _page(request, customers)}
    return render(request, "crm/customer_list.html", context)


@area_required("sales")
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(selectors.customer_list(user=request.user), pk=pk)
    context = {
        "customer": customer,
        "deals": selectors.deal_list(user=request.user).filter(customer=customer)[
            :CUSTOMER_DETAIL_ROWS
        ],
        "activities": selectors.activity_list(user=request.user)
        .filter(customer=customer)
        .order_by("-due_at", "-id")[:CUSTOMER_DETAIL_ROWS],
        "row_limit": CUSTOMER_DETAIL_ROWS,
        "return_to": request.get_full_path(),
    }
    return render(request, "crm/customer_detail.html", context)


# --- helpers ----------------------------------------------------------------------------------


def _post_data(request: HttpRequest) -> Any:
    # Not `request.POST or None`: an empty POST must still be a bound (and invalid) form.
    return request.POST if request.method == "POST" else None


def _initial_customer(request: HttpRequest) -> dict[str, str]:
    # "New deal" from a customer's page preselects that customer; the form's scoped queryset
    # ignores an id the user may not see.
    return {"customer": request.GET.get("customer", "")}


def _save(form: ScopedForm, service: Callable[..., Any]) -> Any | None:
    """Call `service` with the form's data; None when the form or the service refused it, with
    the reasons added to the form."""
    if not form.is_valid():
        return None
    try:
        return service(**form.cleaned_data)
    except ValidationError as error:
        form.add_service_error(error)
        return None


def _form_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Render a form page: a submitted form that comes back here was refused, so 400."""
    return render(request, template, context, status=400 if request.method == "POST" else 200)


def _list_page(
    request: HttpRequest,
    template: str,
    filters: forms.Form,
    rows: QuerySet,
    list_url: str,
    status: int,
) -> HttpResponse:
    # A failed POST re-renders the list at the action's URL: row forms must return to the list.
    return_to = request.get_full_path() if request.method == "GET" else reverse(list_url)
    context = {"filters": filters, "page_obj": _page(request, rows), "return_to": return_to}
    return render(request, template, context, status=status)


def _row_action_answer(
    request: HttpRequest,
    *,
    errors: list[str],
    row_template: str,
    row: dict[str, Any],
    list_url: str,
    list_page: Callable[..., HttpResponse],
) -> HttpResponse:
    """After a row action: htmx gets the row (with the errors, 400); a plain POST goes back to
    the page it came from, or sees the list again with the errors (400)."""
    return_to = _return_to(request, list_url)
    if request.htmx:
        context = {**row, "return_to": return_to, "errors": errors}
        return render(request, row_template, context, status=400 if errors else 200)
    if errors:
        for error in errors:
            messages.error(request, error)
        return list_page(request, status=400)
    return redirect(return_to)


def _page(request: HttpRequest, queryset: QuerySet) -> Page:
    return DeferredJoinPaginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _return_to(request: HttpRequest, default: str) -> str:
    """Where a plain (non-htmx) row action sends the user back: the page the form was on."""
    url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse(default)

"""The core's server-rendered pages: role homes, deals, activities and customers.

Each view parses its input, calls one selector or service and renders, with the building blocks
of crm.web. Records are looked up in the role-scoped selectors (or re-read by the services), so a
record outside the user's scope is a 404.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_POST

from crm import selectors, services
from crm.forms import (
    ActivityFilterForm,
    ActivityForm,
    CustomerSearchForm,
    DealCloseForm,
    DealEditForm,
    DealFilterForm,
    DealForm,
)
from crm.jobs.selectors import dead_letter_pending_count
from crm.models import ActivityStatus, DealOutcome
from crm.roles import Role, role_of
from crm.web import ListPage, area_required, call_service, form_page, home_panels, post_data

HOME_NEXT_ACTIVITIES = 10
CUSTOMER_DETAIL_ROWS = 50

DEALS = ListPage("crm", "deal", "Deals", selectors.deal_list, DealFilterForm)
ACTIVITIES = ListPage("crm", "activity", "Activities", selectors.activity_list, ActivityFilterForm)
CUSTOMERS = ListPage("crm", "customer", "Customers", selectors.customer_list, CustomerSearchForm)


# --- Home -------------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    role = role_of(request.user)
    if role == Role.NONE:
        return render(request, "crm/home/none.html")
    context: dict[str, Any] = {
        "summary": selectors.home_summary(user=request.user),
        "panels": home_panels(request, role),  # the feature apps' blocks (crm.web.home_panel)
    }
    if role == Role.REP:
        context["next_activities"] = selectors.activity_list(
            user=request.user, status=ActivityStatus.PLANNED
        )[:HOME_NEXT_ACTIVITIES]
    elif role == Role.SUPERVISOR:
        context["performance"] = selectors.team_performance(user=request.user)
    else:
        context["pending_dead_letters"] = dead_letter_pending_count()
    return render(request, f"crm/home/{role}.html", context)


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
            return redirect("deal-list")
    return form_page(request, "crm/deal_form.html", {"form": form})


@area_required("sales")
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_object_or_404(selectors.deal_list(user=request.user), pk=pk)
    if request.method != "POST" and deal.is_closed:
        messages.info(request, services.DEAL_ALREADY_CLOSED)
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
@require_POST
def deal_close(request: HttpRequest, pk: int) -> HttpResponse:
    return DEALS.row_action(
        request,
        pk,
        lambda data: services.deal_close(
            actor=request.user, deal_id=pk, won=data["outcome"] == DealOutcome.WON
        ),
        form=DealCloseForm(request.POST),
    )


# --- Activities -------------------------------------------------------------------------------


@area_required("sales")
def activity_list(request: HttpRequest) -> HttpResponse:
    return ACTIVITIES.render(request)


@area_required("sales")
def activity_create(request: HttpRequest) -> HttpResponse:
    form = ActivityForm(post_data(request), user=request.user, initial=_initial_customer(request))
    if request.method == "POST":
        activity = call_service(
            form, lambda **data: services.activity_create(actor=request.user, **data)
        )
        if activity is not None:
            messages.success(request, f"{activity.get_kind_display()} planned.")
            return redirect("activity-list")
    return form_page(request, "crm/activity_form.html", {"form": form})


@area_required("sales")
@require_POST
def activity_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return ACTIVITIES.row_action(
        request, pk, lambda data: services.activity_complete(actor=request.user, activity_id=pk)
    )


# --- Customers --------------------------------------------------------------------------------


@area_required("sales")
def customer_list(request: HttpRequest) -> HttpResponse:
    return CUSTOMERS.render(request)


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


def favicon(request: HttpRequest) -> HttpResponse:
    """Pages that name no icon (Django admin, the API docs) ask for /favicon.ico: the app's."""
    return redirect(static("favicon.svg"), permanent=True)


def _initial_customer(request: HttpRequest) -> dict[str, str]:
    # "New deal" from a customer's page preselects that customer; the form's scoped queryset
    # ignores an id the user may not see.
    return {"customer": request.GET.get("customer", "")}

"""Administrators' pages: the ops dashboard, the areas' switches and the rate-limit reset."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from crm.jobs import services as dead_letter_services
from crm.ops.dashboard import read_sections
from crm.ops.forms import DeadLetterActionForm, RateLimitResetForm, SwitchForm
from crm.switches import services
from crm.switches.selectors import switch_board
from crm.web import area_required, call_service, form_action, form_page


def _switch_form(area: str, switch) -> SwitchForm:
    fields = ("jobs_paused", "offline", "reason", "back_at")
    return SwitchForm(initial={name: getattr(switch, name) for name in fields}, prefix=area)


def _page(request: HttpRequest, *, bound: dict | None = None, reset_form=None) -> HttpResponse:
    """The board; a refused form comes back bound, with its errors (400)."""
    bound = bound or {}
    board = [
        {"label": label, "area": area, "switch": switch,
         "form": bound.get(area) or _switch_form(area, switch)}
        for label, area, switch in switch_board()
    ]  # fmt: skip
    context = {"board": board, "reset_form": reset_form or RateLimitResetForm()}
    return form_page(request, "ops/switches.html", context)


@area_required("ops")
def switches(request: HttpRequest) -> HttpResponse:
    return _page(request)


@area_required("ops")
@form_action(lambda request, area: reverse("ops:switches"))
def switch_set(request: HttpRequest, area: str) -> HttpResponse:
    form = SwitchForm(request.POST, prefix=area)
    switch = call_service(
        form, lambda **data: services.switch_set(actor=request.user, area=area, **data)
    )
    if switch is None:
        return _page(request, bound={area: form})
    on = [name for name, flag in (("jobs paused", switch.jobs_paused),
                                  ("offline", switch.offline)) if flag]  # fmt: skip
    messages.success(request, f"{area.capitalize()}: {', '.join(on) or 'back to normal'}.")
    return redirect(f"{reverse('ops:switches')}#switch-{area}")


@area_required("ops")
@form_action(lambda request: reverse("ops:switches"))
def ratelimit_reset(request: HttpRequest) -> HttpResponse:
    form = RateLimitResetForm(request.POST)
    cleared = call_service(
        form, lambda **data: services.ratelimit_reset(actor=request.user, **data)
    )
    if cleared is None:
        return _page(request, reset_form=form)
    messages.success(request, f"Rate limits reset: {cleared} counters cleared.")
    return redirect(reverse("ops:switches"))


# --- The dashboard ------------------------------------------------------------------------------

# The page asks for fresh figures this often (htmx), while it is open.
REFRESH_SECONDS = 30


@area_required("ops")
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {"sections": read_sections(now), "now": now, "refresh_seconds": REFRESH_SECONDS}
    if request.htmx:
        return render(request, "ops/partials/dashboard_body.html", context)
    return render(request, "ops/dashboard.html", context)


@area_required("ops")
@form_action(lambda request: reverse("ops:dashboard"))
def dead_letters_act(request: HttpRequest) -> HttpResponse:
    form = DeadLetterActionForm(request.POST)
    done = call_service(
        form, lambda **data: dead_letter_services.dead_letters_act(actor=request.user, **data)
    )
    if done is None:
        for error in form.all_errors():
            messages.error(request, error)
    else:
        verb = "sent again" if form.cleaned_data["action"] == "retry" else "discarded"
        messages.success(request, f"{form.cleaned_data['task_name']}: {done} dead letters {verb}.")
    return redirect(f"{reverse('ops:dashboard')}#dead-letters")

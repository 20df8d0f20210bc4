"""The goals' block on the home page (crm.web.home_panel): a rep's plan as their plan page
shows it (reminders, the month's card refreshing itself, the goal-setting form, the year, the
last 30 days, achievements); past months are on the plan page."""

from django.http import HttpRequest
from django.template.loader import render_to_string

from crm.roles import keeps_own_plan, own_rep
from crm.web import home_panel
from goals.plans.views import dashboard_context


@home_panel(keeps_own_plan)
def my_month(request: HttpRequest) -> str | None:
    rep = own_rep(request.user)
    if rep is None:
        return None
    context = dashboard_context(request, rep)
    return render_to_string("goals/plans/partials/home.html", context, request=request)

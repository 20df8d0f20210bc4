"""Finds the area of the view a request reached, and answers 503 for the pages and API of an
area taken offline (crm.switches)."""

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from crm.api.exceptions import error_response
from crm.areas import area_named
from crm.periods import format_moment
from crm.switches.selectors import offline_state

OFFLINE = "{label} is offline for a while: {reason}"
BACK_AT = "Expected back at {moment}."


def area_of_view(view_func) -> str | None:
    """The area a view says it belongs to: a page's `crm.web.area_required`, an endpoint's
    `area` (crm.api.permissions)."""
    area = getattr(view_func, "area", None)
    if area is None:
        area = getattr(getattr(view_func, "cls", None), "area", None)
    return area


class ViewAreaMiddleware:
    """Sets `request.crm_area`, the area of the view the request reached (None for a view of no
    area, or a request that reached none), once for every middleware below it that asks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.crm_area = None
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        request.crm_area = area_of_view(view_func)


class OfflineAreasMiddleware:
    """Below ViewAreaMiddleware: its process_view has set `request.crm_area` by then."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        state = offline_state(request.crm_area)
        if state is None:
            return None
        label = area_named(state.area).label
        message = OFFLINE.format(label=label, reason=state.reason)
        back = BACK_AT.format(moment=format_moment(state.back_at)) if state.back_at else ""
        if getattr(view_func, "cls", None) is not None:  # an endpoint: the API's error body
            response = error_response(f"{message} {back}".strip(), code="offline", status=503)
        else:
            response = TemplateResponse(
                request, "503.html", {"area_label": label, "state": state}, status=503
            ).render()
        response["Retry-After"] = str(state.retry_after())
        return response

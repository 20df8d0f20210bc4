"""Counts the requests answered 409 (a conflict) or 429 (a rate limit), in all and by the area
of the view (crm.ops.counters), for the ops dashboard."""

from django.http import HttpRequest, HttpResponse

from crm.ops import counters
from crm.switches.middleware import area_of_view

COUNTED = frozenset({409, 429})


class RefusalCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code in COUNTED:
            counters.count(f"refused:{response.status_code}")
            area = getattr(request, "crm_area", None)
            if area:
                counters.count(f"refused:{response.status_code}:{area}")
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        request.crm_area = area_of_view(view_func)

"""Counts the requests answered 409 (a conflict) or 429 (a rate limit), in all and by the area
of the view (crm.ops.counters), for the ops dashboard."""

from django.http import HttpRequest, HttpResponse

from crm.ops import counters

COUNTED = frozenset({409, 429})


class RefusalCountMiddleware:
    """Below ViewAreaMiddleware, which names the area (`request.crm_area`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code in COUNTED:
            counters.count(f"refused:{response.status_code}")
            if request.crm_area:
                counters.count(f"refused:{response.status_code}:{request.crm_area}")
        return response

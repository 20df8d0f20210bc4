from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connections
from django.utils import timezone

from crm.api.exceptions import error_response
from crm.logs import accepted_request_id, bind_request_id
from crm.roles import user_zone

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Every request has an id: the proxy's `X-Request-ID` when it is well formed (crm.logs),
    else one made here. It is on every log line written while serving the request, in the
    answer's `X-Request-ID` header, on the error pages, and in Sentry's report of an error.
    First in the stack, so that every answer carries it (redirects and refusals included)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.report_to_sentry = bool(settings.SENTRY_DSN)

    def __call__(self, request):
        request.request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
        bind_request_id(request.request_id)
        if self.report_to_sentry:
            import sentry_sdk

            sentry_sdk.set_tag("request_id", request.request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class RequestTooLargeMiddleware:
    """Answer 413 instead of Django's generic 400 when a body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE.

    Django raises RequestDataTooBig lazily, when the view first reads the body; the view's
    exception reaches process_exception.
    """

    MESSAGE = "Request body too large."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length.isascii() and length.isdigit() and int(length) > limit:
            return error_response(self.MESSAGE, status=413)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return error_response(self.MESSAGE, status=413)
        return None


class TimezoneMiddleware:
    """Show and read dates in the signed-in user's zone (crm.roles.user_zone: a rep's own, anyone
    else's TIME_ZONE). Token-authenticated API calls get theirs in crm.api.base, once DRF knows
    the caller. A request without a session costs no query here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(user_zone(user))
        else:
            timezone.deactivate()
        return self.get_response(request)


class TrustedConnectionMiddleware:
    """For the lean paths (crm.wsgi): no per-request health check of a reused database
    connection (a `SELECT 1` before the request's one statement, a third of its database
    time). A connection that broke makes that request fail (the ingestion answers 503: send
    again) and Django drops it at the request's end; the next request gets a new one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for connection in connections.all(initialized_only=True):
            connection.health_check_done = True
        return self.get_response(request)

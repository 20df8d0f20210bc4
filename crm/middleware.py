import zoneinfo

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils import timezone

from crm.auth import SESSION_TIMEZONE_KEY


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
        if limit is not None and length.isdigit() and int(length) > limit:
            return JsonResponse({"detail": self.MESSAGE}, status=413)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse({"detail": self.MESSAGE}, status=413)
        return None


class TimezoneMiddleware:
    """Show and read dates in the rep's own time zone, chosen at login (crm.auth.LoginView);
    everyone else, and API clients, use TIME_ZONE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.session.get(SESSION_TIMEZONE_KEY) if hasattr(request, "session") else None
        try:
            zone = zoneinfo.ZoneInfo(name) if name else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)

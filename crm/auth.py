"""Login with a brake on password guessing, and the rep's own time zone for the session.

After LOGIN_FAILURE_LIMIT failed attempts for one username within LOGIN_FAILURE_WINDOW, further
attempts for it answer 429 until the window passes, right password or not. Counting by username
(not IP) because behind the company's proxy every user shares one address. Each attempt is
counted atomically *before* its password is checked (and uncounted if it succeeds), so parallel
guesses cannot slip past the limit. The counter lives in the cache (Redis in production); if the
cache is down, logins are not blocked.
"""

import contextlib
import hashlib
import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache

from crm.models import SalesRep

logger = logging.getLogger(__name__)

LOGIN_THROTTLED = "Too many failed logins for this user. Try again in {minutes} minutes."
SESSION_TIMEZONE_KEY = "timezone"


def _failure_key(username: str) -> str:
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return f"login-failures:{digest}"


def _count_attempt(key: str) -> int:
    """Count one attempt; return the attempts in the window so far (0 if the cache is down)."""
    try:
        # add() starts the window; incr() is atomic in Redis, so parallel guesses all count.
        cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
        try:
            return cache.incr(key)
        except ValueError:  # the window ended between add() and incr()
            cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
            return cache.incr(key)
    except Exception:
        logger.warning("login attempt not counted: cache unavailable", exc_info=True)
        return 0


def _uncount_attempt(key: str) -> None:
    """A successful login was no failure. (Expired meanwhile, or the cache is down: nothing to
    take back.)"""
    with contextlib.suppress(Exception):
        cache.decr(key)


class LoginView(auth_views.LoginView):
    def post(self, request, *args, **kwargs):
        key = _failure_key(request.POST.get("username", ""))
        if _count_attempt(key) > settings.LOGIN_FAILURE_LIMIT:
            form = self.get_form()
            form.errors.clear()
            minutes = settings.LOGIN_FAILURE_WINDOW // 60
            form.add_error(None, LOGIN_THROTTLED.format(minutes=minutes))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if response.status_code != 200:  # not the form again: logged in
            _uncount_attempt(key)
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        # Read once per login, so that no request pays a query for it (see TimezoneMiddleware).
        rep_timezone = (
            SalesRep.objects.filter(user=form.get_user()).values_list("timezone", flat=True).first()
        )
        if rep_timezone:
            self.request.session[SESSION_TIMEZONE_KEY] = rep_timezone
        return response

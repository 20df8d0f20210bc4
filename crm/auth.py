"""Login with a brake on password guessing.

After LOGIN_FAILURE_LIMIT failed attempts for one username within LOGIN_FAILURE_WINDOW, further
attempts for it answer 429 until the window passes, right password or not. Counting by username
(not IP) because behind the company's proxy every user shares one address. Each attempt is
counted atomically *before* its password is checked (and uncounted if it succeeds), so parallel
guesses cannot slip past the limit, and an attempt over the limit is refused without checking
its password (each check costs a deliberately slow hash). The counter lives in the cache (Redis
in production); if the cache is down, logins are not blocked.
"""

import contextlib
import hashlib
import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.shortcuts import render

logger = logging.getLogger(__name__)

LOGIN_THROTTLED = "Too many failed logins for this user. Try again in {minutes} minutes."


def _failure_key(username: str) -> str:
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return f"login-failures:{digest}"


def _count_attempt(key: str) -> int:
    """Count one attempt; return the attempts in the window so far (0 if the cache is down)."""
    window = settings.LOGIN_FAILURE_WINDOW
    try:
        # add() starts the window; incr() is atomic in Redis, so parallel guesses all count.
        cache.add(key, 0, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # the window ended between add() and incr()
            cache.add(key, 0, timeout=window)
            count = cache.incr(key)
        if count == 1:
            # Redis' INCR creates a key without expiry if the window ended just before it:
            # the first attempt of a window (re)starts the clock, so no lockout is forever.
            cache.touch(key, timeout=window)
        return count
    except Exception:
        logger.warning("login attempt not counted: cache unavailable", exc_info=True)
        return 0


def _uncount_attempt(key: str) -> None:
    """A successful login was no failure. (Expired meanwhile, or the cache is down: nothing to
    take back; a count that a late DECR took below one is dropped rather than kept forever.)"""
    with contextlib.suppress(Exception):
        if cache.decr(key) <= 0:
            cache.delete(key)


class LoginView(auth_views.LoginView):
    def post(self, request, *args, **kwargs):
        key = _failure_key(request.POST.get("username", ""))
        if _count_attempt(key) > settings.LOGIN_FAILURE_LIMIT:
            # An unbound form: binding it would check the password.
            form = self.get_form_class()(
                request, initial={"username": request.POST.get("username", "")}
            )
            refusal = LOGIN_THROTTLED.format(minutes=settings.LOGIN_FAILURE_WINDOW // 60)
            context = self.get_context_data(form=form, refusal=refusal)
            return self.render_to_response(context, status=429)
        response = super().post(request, *args, **kwargs)
        if response.status_code != 200:  # not the form again: logged in
            _uncount_attempt(key)
        return response


class LogoutView(auth_views.LogoutView):
    """Logging out is a POST (a link cannot log anyone out); a GET, after a reload or going
    back, shows a page instead of the browser's 405: the log-out button when signed in, else
    the login page."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(settings.LOGIN_REDIRECT_URL)
        return render(request, "registration/logout.html")

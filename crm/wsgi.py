"""The WSGI application: Django, with the paths of settings.LEAN_PATHS (machine-to-machine
endpoints with a public key of their own: no session, user, CSRF, messages or pages) served
through settings.LEAN_MIDDLEWARE only. The hottest path of the CRM (event ingestion) then pays
for none of what a page needs; every other path goes through the full stack."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

full = get_wsgi_application()

from django.conf import settings  # noqa: E402  (configured by get_wsgi_application)
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402


class LeanHandler(WSGIHandler):
    """Django's handler with LEAN_MIDDLEWARE in place of MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        everything = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.LEAN_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = everything


lean = LeanHandler()
_LEAN_PATHS = tuple(settings.LEAN_PATHS)


def application(environ, start_response):
    handler = lean if environ.get("PATH_INFO", "").startswith(_LEAN_PATHS) else full
    return handler(environ, start_response)

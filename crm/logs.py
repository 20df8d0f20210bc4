"""The request id every log line carries, and the formatter of production's JSON lines.

`crm.middleware.RequestIdMiddleware` sets the id of the request being served (the proxy's
`X-Request-ID` when it is well formed, else a new one); log records made while serving it carry
it as `request_id` ("-" outside a request: a worker, beat, a command)."""

import logging
import re
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished
from django.dispatch import receiver
from pythonjsonlogger.json import JsonFormatter

NO_REQUEST = "-"
# What a proxy's id may be before it is logged or echoed: letters, digits and - _ . : + / =
# (UUIDs, hex, base64, "Root=1-…"-style trace ids), at most 128 of them. Anything else (a
# newline, a quote, a NUL, a megabyte) is replaced by an id of our own.
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:+/=-]{1,128}")

_current: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


def accepted_request_id(offered: str | None) -> str:
    """The proxy's id if it is one we may log and echo, else a new one."""
    if offered and ACCEPTED_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def current_request_id() -> str:
    return _current.get()


def bind_request_id(request_id: str) -> None:
    """Make `request_id` the current one, until the request's answer has been sent (Django
    logs an answer's status after the middleware returned it)."""
    _current.set(request_id)


@receiver(request_finished)
def _request_served(**kwargs) -> None:
    _current.set(NO_REQUEST)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (a handler's filter: every logger's records pass)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class CrmJsonFormatter(JsonFormatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, request id, and
    whatever the call passed in `extra`; a traceback as `exc_info`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__("%(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)

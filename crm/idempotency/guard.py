"""`Idempotency-Key` on the API's writes (POST, PUT, PATCH, DELETE under /api/), optional.

A keyed write runs in one transaction:

1. The key's row is inserted first. Another request with the same key sent meanwhile waits on
   the unique index until the first one ends: committed, it answers the first one's result;
   rolled back, it runs the write itself. It waits rather than answering 409 "in progress"
   because the client that sent it again (its first answer was lost) then gets that answer in
   one round trip, and exactly one of them writes either way. The wait lasts as long as the first
   request, which the server's request timeout bounds (a request cut off rolls back and frees
   the key).
2. The view runs, in a savepoint of its own (an error it answers never breaks the transaction).
3. Its answer (status, content type, body) is stored on the row and commits with the write. An
   answer that says "try again" (any 5xx, or 429) is not kept: the write and the key are rolled
   back together, and a retry runs the write again.

A key is the user's for KEPT_FOR (24 hours); after that it is free again, and the hourly
`purge_idempotency_keys` job deletes it. Sent again with another method, path or body, a key
is a 422 naming it (a client bug: one key per write); a key that is not 1 to 255 visible ASCII
characters is a 400. Authentication, permissions and throttling come first (DRF's `initial`),
so a refused request never touches the store.
"""

import hashlib
import re
from dataclasses import asdict, dataclass

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.exceptions import with_request_id
from crm.idempotency.models import KEPT_FOR, KEY_MAX_LENGTH, KEYED_METHODS, IdempotencyKey

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

KEY_INVALID = (
    f"{KEY_HEADER} must be 1 to {KEY_MAX_LENGTH} visible ASCII characters (letters, digits, "
    "punctuation; no spaces)."
)
KEY_BUSY = f"Another request with this {KEY_HEADER} is under way: send it again in a moment."
KEY_REUSED_ELSEWHERE = (
    "The {header} {key} was used within the last 24 hours for {method} {path}: send each write "
    "with a key of its own."
)
KEY_REUSED_OTHER_BODY = (
    "The {header} {key} was used within the last 24 hours with another body: send each write "
    "with a key of its own."
)

_KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}")


@dataclass(frozen=True)
class Fingerprint:
    """What makes two requests with one key the same request."""

    method: str
    path: str
    body_sha256: str


def once_per_key(view: APIView, request: Request) -> None:
    """Makes the write `view` is about to run happen once per `Idempotency-Key` of the user.

    Called at the end of the view's `initial` (the caller is authenticated, allowed and not
    throttled): DRF looks the handler up after that, so the handler is wrapped here. A request
    without the header, or that is not a write, is left as it is."""
    if request.method not in KEYED_METHODS or KEY_HEADER not in request.headers:
        return
    if not request.user.is_authenticated:
        return  # keys are a user's: an open endpoint has none
    key = parse_key(request.headers[KEY_HEADER])
    name = request.method.lower()
    handler = getattr(view, name, None)
    if handler is None:
        return  # DRF answers 405
    fingerprint = Fingerprint(
        method=request.method,
        path=request.get_full_path(),
        body_sha256=hashlib.sha256(request.body).hexdigest(),
    )

    def run_once(request: Request, *args, **kwargs) -> HttpResponseBase:
        with transaction.atomic():
            claimed = _claim(user=request.user, key=key, fingerprint=fingerprint)
            if not isinstance(claimed, IdempotencyKey):
                return claimed  # the first answer, or the key's misuse
            try:
                with transaction.atomic():
                    response = handler(request, *args, **kwargs)
            except Exception as error:
                response = view.handle_exception(error)  # re-raises what it cannot answer
            response = view.finalize_response(request, response, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()
            if kept(response.status_code):
                _record(claimed, response)
            else:
                transaction.set_rollback(True)
            return response

    setattr(view, name, run_once)


def parse_key(value: str) -> str:
    """The header's key, or a 400 naming the header."""
    if not _KEY.fullmatch(value):
        raise ValidationError({KEY_HEADER: [KEY_INVALID]})
    return value


def kept(code: int) -> bool:
    """Whether an answer is final, to be given again: any but a 5xx or a 429 (the API's writes
    answer 2xx or 4xx)."""
    return 200 <= code < 500 and code != status.HTTP_429_TOO_MANY_REQUESTS


def _claim(*, user, key: str, fingerprint: Fingerprint) -> IdempotencyKey | HttpResponseBase:
    """The key's new row (the write is to run), or the answer to give instead of running it."""
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(user=user, key=key, **asdict(fingerprint))
        except IntegrityError:
            pass  # the key is taken: a committed row (another request's waited for)
        earlier = IdempotencyKey.objects.filter(user=user, key=key).first()
        if earlier is None:
            continue  # purged in between
        if earlier.created_at > timezone.now() - KEPT_FOR:
            return _answer_again(earlier, key=key, fingerprint=fingerprint)
        # Expired but not purged yet: the key is free again, for whoever takes the row first.
        taken = IdempotencyKey.objects.filter(
            pk=earlier.pk, created_at__lte=timezone.now() - KEPT_FOR
        ).update(**asdict(fingerprint), created_at=timezone.now(), status=None)
        if taken:
            return earlier
    # Taken and freed again between every look: only a storm of retries with one key does that.
    return Response(
        with_request_id({"detail": KEY_BUSY, "fields": [KEY_HEADER]}),
        status=status.HTTP_409_CONFLICT,
    )


def _answer_again(
    earlier: IdempotencyKey, *, key: str, fingerprint: Fingerprint
) -> HttpResponseBase:
    sent = Fingerprint(method=earlier.method, path=earlier.path, body_sha256=earlier.body_sha256)
    if sent != fingerprint:
        same_address = (sent.method, sent.path) == (fingerprint.method, fingerprint.path)
        reused = KEY_REUSED_OTHER_BODY if same_address else KEY_REUSED_ELSEWHERE
        message = reused.format(
            header=KEY_HEADER, key=key, method=earlier.method, path=earlier.path
        )
        return Response(
            with_request_id({KEY_HEADER: [message]}), status=status.HTTP_422_UNPROCESSABLE_ENTITY
        )

    answer = HttpResponse(bytes(earlier.body), status=earlier.status)
    if earlier.content_type:
        answer["Content-Type"] = earlier.content_type
    else:
        del answer["Content-Type"]  # a 204 has none
    answer[REPLAYED_HEADER] = "true"
    return answer


def _record(claimed: IdempotencyKey, response: HttpResponseBase) -> None:
    IdempotencyKey.objects.filter(pk=claimed.pk).update(
        status=response.status_code,
        content_type=response.get("Content-Type", ""),
        body=response.content,
    )

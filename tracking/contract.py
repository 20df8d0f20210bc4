"""The event contract, and reading a request's body into events: limits first, then JSON, then
each event on its own (a batch keeps its good events and says why each bad one was refused).

An event is a JSON object:

    {"evt_type": "page_view",            # required: a string of 1 to 64 characters
     "uuid": "…",                        # optional: the client's id of it (1-64 characters)
     "timestamp": "2026-12-01T10:00:00Z",  # optional: when it happened (ISO 8601, or epoch ms)
     "session_id": "…", "url": "…", "referrer": "…",
     "props": {…}}                       # optional: an object

A batch is {"batch": [event, …], "sent_at": "…"} with at most 500 events. Limits: a body of
1 MB (5 MB once decompressed), an event of 32 KB, strings of 8 KB, nesting of 20 levels.

Bot filtering is for browsers' traffic only: `"skip_bot_filter": true` (in the event sent to
/t/e, or in the batch's object beside "batch") says that a browser whose user agent announces
a bot (a headless browser running an integrator's tests) sends real events.
"""

import datetime as dt
import json
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

# The event type the dashboards count as a page view (its url's path is the page).
PAGE_VIEW = "page_view"
MAX_BODY = 1_048_576
MAX_DECOMPRESSED = 5 * 1_048_576
MAX_EVENT = 32 * 1024
MAX_STRING = 8 * 1024
MAX_DEPTH = 20
MAX_BATCH = 500
MAX_EVT_TYPE = 64
MAX_ID = 64
MAX_SESSION = 128
# A client clock this far ahead of ours, or behind, is flagged (its events are kept).
SKEW_AHEAD = dt.timedelta(minutes=5)
SKEW_BEHIND = dt.timedelta(days=7)
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

# Why a request or an event is refused: what the integrator reads.
BODY_TOO_LARGE = "The body is larger than 1 MB."
DECOMPRESSED_TOO_LARGE = "The body is larger than 5 MB once decompressed."
BAD_GZIP = "The body is not valid gzip."
NOT_UTF8 = "The body is not valid UTF-8."
NOT_JSON = "The body is not JSON: {error}."
TOO_DEEP = "The body is nested deeper than 20 levels."
NO_DATA = "A form body carries the events in its 'data' field."
TOO_MANY_FIELDS = "A form body has at most 10 fields (the events go in 'data')."
MAX_FORM_FIELDS = 10
NOT_AN_OBJECT = "An event is a JSON object."
NOT_A_BATCH = 'A batch is an object: {"batch": [events]}.'
BATCH_TOO_LARGE = "A batch holds at most 500 events."
BATCH_EMPTY = "The batch has no events."
EVENT_TOO_LARGE = "The event is larger than 32 KB."
STRING_TOO_LONG = "A string of the event is longer than 8 KB."
NUMBER_BAD = "A number of the event is out of range (JSON has no Infinity or NaN)."
NUL_CHARACTER = "A string of the event holds the NUL character (\\u0000)."
NOT_UNICODE = (
    "A string of the event holds half a character (an unpaired \\ud800-\\udfff escape), "
    "which is not Unicode text."
)
EVENT_TOO_DEEP = "The event is nested deeper than 20 levels."
EVT_TYPE_MISSING = "evt_type is required."
EVT_TYPE_NOT_STRING = "evt_type must be a string."
EVT_TYPE_EMPTY = "evt_type is empty."
EVT_TYPE_TOO_LONG = "evt_type is longer than 64 characters."
UUID_BAD = "uuid must be a string of 1 to 64 characters."
TIMESTAMP_BAD = "timestamp must be an ISO 8601 date and time, or milliseconds since 1970."
SESSION_BAD = "session_id must be a string of at most 128 characters."
TEXT_BAD = "{field} must be a string."
PROPS_BAD = "props must be an object."
SKIP_BOT_FILTER = "skip_bot_filter"
SKIP_BOT_FILTER_BAD = "skip_bot_filter must be true or false."


class Refused(Exception):
    """The request as a whole is refused: `status` (400, 413) and the reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def decode_body(body: bytes, *, content_type: str, content_encoding: str) -> Any:
    """The request's JSON: gzip undone (by its header or its magic bytes) within 5 MB, a form's
    `data` field read, UTF-8 and JSON checked. Refused otherwise."""
    if len(body) > MAX_BODY:
        raise Refused(413, BODY_TOO_LARGE)
    if "gzip" in content_encoding.lower() or body[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_DECOMPRESSED + 1)
        except zlib.error:
            raise Refused(400, BAD_GZIP) from None
        if len(body) > MAX_DECOMPRESSED or inflater.unconsumed_tail:
            raise Refused(413, DECOMPRESSED_TOO_LARGE)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, NOT_UTF8) from None
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            data = parse_qs(text, max_num_fields=MAX_FORM_FIELDS).get("data")
        except ValueError:  # more fields than that: a form no snippet sends
            raise Refused(400, TOO_MANY_FIELDS) from None
        if not data:
            raise Refused(400, NO_DATA)
        text = data[0]
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise Refused(400, TOO_DEEP) from None
    except ValueError as error:
        raise Refused(400, NOT_JSON.format(error=error)) from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def batch_events(document: Any) -> tuple[list, Any]:
    """The events of a batch body, and its sent_at."""
    if not isinstance(document, dict) or not isinstance(document.get("batch"), list):
        raise Refused(400, NOT_A_BATCH)
    events = document["batch"]
    if not events:
        raise Refused(400, BATCH_EMPTY)
    if len(events) > MAX_BATCH:
        raise Refused(400, BATCH_TOO_LARGE)
    return events, document.get("sent_at")


def skips_bot_filter(document: dict) -> bool:
    """Whether the request says its events are not a bot's, whatever its user agent says (one
    look at the body's top level, not at each event)."""
    flag = document.get(SKIP_BOT_FILTER)
    if flag is None or flag is False:
        return False
    if flag is True:
        return True
    raise Refused(400, SKIP_BOT_FILTER_BAD)


@dataclass(frozen=True, slots=True)
class Event:
    """A valid event, as the raw layer stores it."""

    payload: str  # the event as received, serialized once
    evt_type: str
    event_id: str | None
    timestamp: dt.datetime | None
    clock_skew: bool


def _surely_within_limits(payload: str) -> bool:
    """What the serialized event shows without walking it (C string methods only): no string
    longer than the limit if the whole is not; no nesting past the limit with so few brackets
    (a bracket inside a string only over-counts); no NUL, which JSON always escapes, if no
    escape of one appears (a string with the text \\u0000 in it only looks like one). When
    in doubt, the event is walked."""
    return (
        len(payload) <= MAX_STRING
        and payload.count("{") + payload.count("[") <= MAX_DEPTH
        and "\\u0000" not in payload
    )


def _deep_or_long(value: Any, depth: int = 0) -> str | None:
    """Why `value` breaks the nesting or string limits, or None."""
    if depth > MAX_DEPTH:
        return EVENT_TOO_DEEP
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return STRING_TOO_LONG
        return NUL_CHARACTER if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if len(key) > MAX_STRING:
                return STRING_TOO_LONG
            if "\x00" in key:
                return NUL_CHARACTER
            if isinstance(item, dict | list | str) and (why := _deep_or_long(item, depth + 1)):
                return why
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list | str) and (why := _deep_or_long(item, depth + 1)):
                return why
    return None


def parse_time(value: Any) -> dt.datetime | None:
    """A client's time: ISO 8601 (an offset or Z; none is UTC) or milliseconds since 1970.
    None if it is not one, or lies outside 1970-2099."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        elif isinstance(value, str) and 10 <= len(value) <= 40:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00", 1))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            moment = moment.astimezone(dt.UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return moment if EARLIEST <= moment < LATEST else None


# One encoder for every event (json.dumps with options builds a new one each call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def serialize(event: Any) -> str:
    """An event as the raw layer stores it, serialized once; raises ValueError(reason) for
    what JSON or PostgreSQL cannot hold."""
    try:
        payload = _ENCODER.encode(event)
    except ValueError:  # 1e309 reads as infinity, which JSON (and jsonb) cannot hold
        raise ValueError(NUMBER_BAD) from None
    except RecursionError:
        raise ValueError(EVENT_TOO_DEEP) from None
    if not payload.isascii():
        try:
            payload.encode()
        except UnicodeEncodeError:  # "\ud800" reads as half a character: UTF-8 has none
            raise ValueError(NOT_UNICODE) from None
    return payload


def check_event(event: Any, *, received_at: dt.datetime) -> Event:
    """The event if it keeps to the contract; raises ValueError(reason) otherwise."""
    if not isinstance(event, dict):
        raise ValueError(NOT_AN_OBJECT)
    payload = serialize(event)
    if len(payload) > MAX_EVENT:
        raise ValueError(EVENT_TOO_LARGE)
    if not _surely_within_limits(payload) and (why := _deep_or_long(event)):
        raise ValueError(why)
    evt_type = event.get("evt_type")
    if evt_type is None:
        raise ValueError(EVT_TYPE_MISSING)
    if not isinstance(evt_type, str):
        raise ValueError(EVT_TYPE_NOT_STRING)
    if not evt_type.strip():
        raise ValueError(EVT_TYPE_EMPTY)
    if len(evt_type) > MAX_EVT_TYPE:
        raise ValueError(EVT_TYPE_TOO_LONG)
    event_id = event.get("uuid")
    if event_id is not None and not (isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID):
        raise ValueError(UUID_BAD)
    timestamp, skew = None, False
    if "timestamp" in event:
        timestamp = parse_time(event["timestamp"])
        if timestamp is None:
            raise ValueError(TIMESTAMP_BAD)
        skew = not (received_at - SKEW_BEHIND <= timestamp <= received_at + SKEW_AHEAD)
    session = event.get("session_id")
    if session is not None and not (isinstance(session, str) and len(session) <= MAX_SESSION):
        raise ValueError(SESSION_BAD)
    for field in ("url", "referrer"):
        if event.get(field) is not None and not isinstance(event[field], str):
            raise ValueError(TEXT_BAD.format(field=field))
    if event.get("props") is not None and not isinstance(event["props"], dict):
        raise ValueError(PROPS_BAD)
    return Event(payload, evt_type, event_id, timestamp, skew)

"""Every hostile class of input, sent to every API endpoint (read from the OpenAPI schema), every
page and every form on it (read from the URL patterns and the pages themselves) and every
ingestion path of crm, supervision and tracking: never a 500.

The classes: a NUL, half a character, 1e309, 1.9, years 0001 and 9999, lists and objects
where a scalar belongs, 50-deep nested JSON, 10,001 form fields, a body over the limit. A new
endpoint, page or form is swept as soon as it exists; one whose path names a record this file
does not know how to make fails the sweep until it is taught (RECORDS below)."""

import datetime as dt
import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from drf_spectacular.generators import SchemaGenerator

from crm.api import throttling
from crm.testing.routes import route_with_stops
from crm.tests.factories import (
    PASSWORD,
    ActivityFactory,
    CustomerFactory,
    DealFactory,
    TaskFactory,
)
from supervision import selectors as supervision_selectors
from supervision import services as supervision_services
from supervision.tests.helpers import customers
from tracking.tests.helpers import ORIGIN, make_tenant

pytestmark = pytest.mark.django_db

APPS = ("crm", "supervision", "tracking")

# Each as raw JSON (1e309 is a number no float holds; "\ud800" half a character).
JSON_VALUES = [
    '"a\\u0000b"', '"a\\ud800b"', "1e309", '"1e309"', "1.9", '"1.9"', "-1",
    "99999999999999999999999", '"0001-01-01T00:00:00Z"', '"9999-12-31T23:59:59Z"',
    '"0001-01-01"', '"9999-12-31"', "[]", '[1, "a"]', "{}", '{"a": [1]}', "null", "true", '""',
    '"\\u200b\\u200b"',
]  # fmt: skip
# The same, as a form or a query string carries them (the bytes of half a character: Django
# reads them as U+FFFD; a list is a field sent twice).
FORM_VALUES = [
    "a\x00b", b"a\xed\xa0\x80b", "1e309", "1.9", "-1", "99999999999999999999999",
    "0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01", "9999-12-31", "0001-01",
    "9999-12", "", "\u200b\u200b", ["1", "2"], "x" * 5000,
]  # fmt: skip
# For a query string's parameters: the classes, once each.
QUERY_VALUES = ["a\x00b", "a\ud800b", "1e309", "1.9", "0001-01-01T00:00:00Z", "9999-12-31",
                ["1", "2"], "\u200b"]  # fmt: skip
DEEP = "[" * 50 + "]" * 50
DEEP_OBJECT = '{"a": ' * 50 + "1" + "}" * 50
MANY_FIELDS = "&".join(f"f{index}=1" for index in range(10_001))
HUGE = "x" * 1_100_000
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def world(admin_user, rep, supervisor):
    """One of each record the endpoints and pages name, in the admin's and the supervisor's
    scope."""
    customer = CustomerFactory(owner=rep)
    route = route_with_stops(rep)
    day = supervision_selectors.today()
    # Yesterday saved (there is a day to reopen), today open (its page has a form).
    saved = supervision_services.session_write(
        actor=supervisor, route_id=route.pk, date=day - dt.timedelta(days=1), record_version=0,
        changes=[], finish=True,
    )  # fmt: skip
    session = saved.day.session
    return {
        "customer": customer,
        "deal": DealFactory(rep=rep, customer=customer),
        "activity": ActivityFactory(rep=rep, customer=customer),
        "task": TaskFactory(rep=rep),
        "route": route,
        "stops": customers(route),
        "day": day.isoformat(),
        "session": session,
        "tenant": make_tenant(),
    }


# What a path's record is, by the words of the path before it.
RECORDS = {
    "customers": "customer",
    "deals": "deal",
    "activities": "activity",
    "tasks": "task",
    "routes": "route",
    "sessions": "session",
    "days": "route",
    "tracking": "tenant",
}


@pytest.fixture(autouse=True)
def _no_throttling(monkeypatch):
    # Thousands of requests a minute: the sweep is about answers, not about rates.
    monkeypatch.setattr(throttling._FailOpen, "allow_request", lambda self, request, view: True)


def _admin(world, *, raise_request_exception: bool = True) -> Client:
    # Raised, an exception fails the test with its trace; else its 500 is listed.
    client = Client(raise_request_exception=raise_request_exception)
    client.post(reverse("login"), {"username": "boss", "password": PASSWORD})
    return client


def _never_500(answer, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.content[:300]!r}"


def _record_for(segments: list[str], world) -> object:
    for segment in reversed(segments):
        if segment in RECORDS:
            return world[RECORDS[segment]]
    raise AssertionError(f"teach the sweep the record of {'/'.join(segments)} (RECORDS)")


# --- The API, from its schema ------------------------------------------------------------------


def _operations() -> tuple[list[tuple[str, str, dict]], dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, methods in schema["paths"].items():
        if path.startswith("/api/goals/") or path == "/api/schema/":
            continue  # goals' endpoints are swept by goals' own tests
        for method, operation in methods.items():
            found.append((path, method, operation))
    return found, schema["components"]["schemas"]


def _api_path(path: str, world) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name == "date":
            return world["day"]
        before = [part for part in path[: match.start()].split("/") if part and "{" not in part]
        return str(_record_for(before, world).pk)

    return re.sub(r"\{(\w+)\}", fill, path)


def _properties(operation: dict, components: dict) -> list[str]:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not body:
        return []
    schema = body["schema"]
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return list(schema.get("properties", {}))


def _sweep_operation(client, url: str, method: str, operation: dict, components: dict):
    send = getattr(client, method)
    what = f"{method.upper()} {url}"
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "query":
            continue
        for value in QUERY_VALUES:
            query = urlencode({parameter["name"]: value}, doseq=True, errors="surrogatepass")
            yield send(f"{url}?{query}"), f"{what} ?{parameter['name']}={value!r:.40}"
    if method in ("get", "delete", "head"):
        return
    for name in _properties(operation, components) or ["value"]:
        for value in JSON_VALUES:
            body = f'{{"{name}": {value}}}'
            yield send(url, body, content_type="application/json"), f"{what} {body:.80}"
    bodies = [DEEP, DEEP_OBJECT, '{"a\\u0000": 1}', "[1, 2]", '"text"', "1e309", "\x00", "{"]
    for body in bodies:
        yield send(url, body, content_type="application/json"), f"{what} {body[:40]!r}"
    yield send(url, MANY_FIELDS, content_type=FORM), f"{what} with 10,001 fields"
    yield send(url, HUGE, content_type="application/json"), f"{what} over the limit"


def test_no_hostile_input_is_a_500_on_any_api_endpoint(world):
    operations, components = _operations()
    paths = {path for path, _, _ in operations}
    assert {"/api/deals/{id}/close/", "/api/supervision/days/{route}/{date}/save/",
            "/api/supervision/sessions/{id}/reopen/", "/api/routes/{id}/stops/",
            "/api/customers/"} <= paths  # fmt: skip
    client = _admin(world, raise_request_exception=False)
    failures, sent = [], 0
    for path, method, operation in operations:
        url = _api_path(path, world)
        for answer, what in _sweep_operation(client, url, method, operation, components):
            sent += 1
            if answer.status_code >= 500:
                failures.append(f"{what}: {answer.status_code} {answer.content[:200]!r}")
    assert not failures, "\n".join(failures)
    assert sent > 1500  # the sweep did sweep


# --- Pages and their forms, from the URL patterns -----------------------------------------------


def _page_patterns() -> list[tuple[str, URLPattern]]:
    def walk(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    pages = []
    for route, pattern in walk(get_resolver()):
        module = getattr(pattern.callback, "__module__", "")
        if route.startswith(("api/", "admin/", "t/")) or module.split(".")[0] not in APPS:
            continue
        if route in ("accounts/logout/",):
            continue  # signs the sweeper out
        pages.append((route, pattern))
    return pages


PAGES = _page_patterns()


def _page_paths(route: str, world) -> list[str]:
    """The page's address with its parameters filled with a record of the world, and, for a
    date, with dates no calendar page should choke on."""
    segments = [part for part in route.strip("/").split("/") if not part.startswith("<")]
    dates = [world["day"], "0001-01-01", "9999-12-31", "1e309", "2026-02-30"]
    paths = [""]
    for part in re.split(r"(<[^>]+>)", route):
        if not part.startswith("<"):
            paths = [path + part for path in paths]
            continue
        name = part.strip("<>").rpartition(":")[2]
        if name == "date":
            paths = [path + day for path in paths for day in dates]
        elif name == "area":  # an area of the site by name (the ops switches): known or not
            paths = [path + area for path in paths for area in ("goals", "ops", "nowhere")]
        else:
            before = route[: route.index(part)].strip("/").split("/")
            record = _record_for([s for s in before if not s.startswith("<")] or segments, world)
            paths = [path + str(record.pk) for path in paths]
    return ["/" + path for path in paths]


class _Forms(HTMLParser):
    """The forms of a page: where each goes, how, and the values its fields hold; an element
    that posts by itself (htmx) posts its form's fields, or every field of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.fields: dict[str, str] = {}
        self._form: dict | None = None
        self._posts: list[tuple[str, dict | None]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            self._form = {"action": attrs.get("action") or "", "method": method, "fields": {}}
            self.forms.append(self._form)
        if tag in ("input", "select", "textarea", "button"):
            name = attrs.get("name")
            if name and name != "csrfmiddlewaretoken":
                self.fields.setdefault(name, attrs.get("value") or "")
                if self._form is not None:
                    self._form["fields"].setdefault(name, attrs.get("value") or "")
        for attribute in ("hx-post", "formaction"):
            if attrs.get(attribute):
                self._posts.append((attrs[attribute], self._form))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None

    def close(self):
        super().close()
        for action, form in self._posts:
            fields = form["fields"] if form is not None else self.fields
            self.forms.append({"action": action, "method": "post", "fields": dict(fields)})


def _encoded(fields: dict) -> bytes:
    parts = []
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            raw = one if isinstance(one, bytes) else str(one).encode()
            parts.append(urlencode({name: b""}) + _quote(raw))
    return "&".join(parts).encode()


_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _quote(raw: bytes) -> str:
    return "".join(chr(b) if b in _PLAIN else f"%{b:02X}" for b in raw)


# The forms swept so far, by kind: a form that many pages show (a row's action, the day's form
# behind four addresses) is swept on the first of them.
SWEPT: set[tuple] = set()


def _form_kind(action: str, form: dict) -> tuple:
    try:
        route = resolve(action).route
    except Resolver404:
        route = action
    names = tuple(sorted({re.sub(r"[0-9]+", "N", name) for name in form["fields"]}))
    return route, form["method"], names


def test_the_sweep_reaches_the_pages_of_every_app():
    modules = {pattern.callback.__module__.split(".")[0] for _, pattern in PAGES}
    assert modules == set(APPS)


@pytest.mark.parametrize(("route", "pattern"), PAGES, ids=[route or "/" for route, _ in PAGES])
def test_no_hostile_input_is_a_500_on_a_page_or_its_forms(world, route, pattern):
    client = _admin(world)
    for path in _page_paths(route, world):
        page = client.get(path, follow=True)
        _never_500(page, f"GET {path}")
        reader = _Forms()
        if page.status_code == 200 and "html" in page.get("Content-Type", ""):
            reader.feed(page.content.decode())
            reader.close()
        targets = reader.forms or [{"action": path, "method": "post", "fields": {"value": ""}}]
        for form in targets:
            action = urlsplit(form["action"]).path or path
            seen = _form_kind(action, form)
            if action == reverse("logout") or seen in SWEPT:
                continue  # (the sweeper stays signed in; a form on many pages is swept once)
            SWEPT.add(seen)
            for value in FORM_VALUES:
                hostile = dict.fromkeys(form["fields"], value)
                what = f"{form['method'].upper()} {action} (from {path}) all={value!r:.30}"
                if form["method"] == "get":
                    answer = client.get(action, hostile)
                else:
                    answer = client.post(action, _encoded(hostile), content_type=FORM)
                _never_500(answer, what)
            if form["method"] == "post":
                for name in form["fields"]:
                    for value in ("a\x00b", b"a\xed\xa0\x80b"):
                        fields = {**form["fields"], name: value}
                        answer = client.post(action, _encoded(fields), content_type=FORM)
                        _never_500(answer, f"POST {action} {name}={value!r:.30}")
                _never_500(client.post(action, MANY_FIELDS, content_type=FORM), f"{action} many")
                _never_500(client.post(action, HUGE, content_type=FORM), f"{action} huge")
                _never_500(
                    client.post(action, DEEP_OBJECT, content_type="application/json"), action
                )


# --- Ingestion -----------------------------------------------------------------------------------

EVENT_FIELDS = ["evt_type", "uuid", "timestamp", "session_id", "url", "referrer", "props",
                "skip_bot_filter", "sent_at", "batch"]  # fmt: skip


def _ingestion_paths(key: str) -> list[str]:
    """Every public path under /t/ (the URL patterns of tracking.ingest), with the key."""
    paths = []
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLResolver) and str(pattern.pattern) == "t/":
            for inner in pattern.url_patterns:
                route = str(inner.pattern).replace("<str:provider>", "stripe")
                route = route.replace("<str:key>", key)
                paths.append(f"/t/{route}" if key in route else f"/t/{route}?key={key}")
    return paths


def test_no_hostile_input_is_a_500_on_an_ingestion_path(world):
    client = Client(raise_request_exception=True)
    tenant = world["tenant"]
    key = tenant.ingestion_key
    webhook = f"/t/webhooks/stripe/{key}"
    paths = _ingestion_paths(key)
    assert {f"/t/e?key={key}", f"/t/batch?key={key}", webhook} <= set(paths)
    for path in paths:
        for name in EVENT_FIELDS:
            for value in JSON_VALUES:
                event = f'{{"evt_type": "x", "{name}": {value}}}'
                for body in (event, f'{{"batch": [{event}], "{name}": {value}}}'):
                    for origin in ({}, {"HTTP_ORIGIN": ORIGIN}):
                        answer = client.post(path, body, content_type="application/json", **origin)
                        _never_500(answer, f"{path} {body:.60}")
        for body in (DEEP, DEEP_OBJECT, "\x00", "[1]", "1e309", '{"batch": {}}', HUGE):
            _never_500(client.post(path, body, content_type="application/json"), f"{path} body")
        for body in (MANY_FIELDS, "data=" + DEEP, "data=%00", "data=%ED%A0%80"):
            _never_500(client.post(path, body, content_type=FORM), f"{path} form")
        _never_500(client.options(path, HTTP_ORIGIN=ORIGIN), f"OPTIONS {path}")
        _never_500(client.get(path), f"GET {path}")
    for key in ("pk_%00", "%ED%A0%80", "x" * 100, "%20"):
        for path in _ingestion_paths(key):
            _never_500(client.post(path, "{}", content_type="application/json"), path)
            _never_500(client.options(path, HTTP_ORIGIN=ORIGIN), f"OPTIONS {path}")
    for stamp in ("1e309", "\x00", "-1", "99999999999999999999999", ""):
        answer = client.post(
            webhook, "{}", content_type="application/json", HTTP_X_WEBHOOK_TIMESTAMP=stamp,
            HTTP_X_WEBHOOK_SIGNATURE="sha256=00", HTTP_X_WEBHOOK_ID="\x00",
        )  # fmt: skip
        _never_500(answer, f"webhook stamp {stamp!r}")

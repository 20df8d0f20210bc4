"""Every page a person can reach from the menu, walked as each role on the demo data: it
answers (no 500), every form's address answers GET too (a reload after a POST, or going back,
shows a page, never the browser's 405), and every time of day it shows carries its zone.

The walk follows the links of each page, as a person clicking would, from the home page; it
stays out of Django admin's forms (admin is walked for its lists only) and of downloads."""

import re
from collections import deque
from html.parser import HTMLParser
from io import StringIO
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from crm.management.commands.seed_demo import DEMO_PASSWORD

ROLES = ["admin", "supervisor1", "rep1"]
PAGES_PER_ROLE = 160

# Paths a person never opens by clicking through pages, or that are not pages.
SKIP = re.compile(
    r"^/(accounts/logout|t/|api/|static/|health|favicon|admin/(logout|password_change|jsi18n)"
    r"|admin/r/)"
)
# Django admin: its index and its lists (their filters and add/change forms are Django's).
ADMIN_PAGE = re.compile(r"^/admin/([a-z_]+/([a-z_]+/)?)?$")
# A time of day (16:30, 16:30:05) and what must follow it: a zone's abbreviation or an offset.
TIME_OF_DAY = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?(?![\d:])")
ZONE_AFTER = re.compile(
    r"^(:[0-5]\d)?(\s?(UTC|GMT|[A-Z]{2,5}\b|[+-]\d{2}(:?\d{2})?\b)"
    r"|,? in (your|their|the rep's|each rep's)( own)? (time )?zone)"
)


class Page(HTMLParser):
    """What a walker reads off a page: its links, where its forms post, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.posts: list[str] = []
        self.text: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"script", "style", "template"}:
            self._hidden += 1
        if tag == "a" and attrs.get("href") and "download" not in attrs:
            self.links.append(attrs["href"])
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self.posts.append(attrs.get("action") or "")
        for attribute in ("hx-post", "hx-patch", "hx-put", "hx-delete"):
            if attrs.get(attribute):
                self.posts.append(attrs[attribute])
        for attribute in ("formaction",):
            if attrs.get(attribute):
                self.posts.append(attrs[attribute])

    def handle_endtag(self, tag):
        if tag in {"script", "style", "template"}:
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def times_without_zone(text: str) -> list[str]:
    missing = []
    for match in TIME_OF_DAY.finditer(text):
        after = text[match.end() : match.end() + 40]
        if not ZONE_AFTER.match(after):
            missing.append(text[max(0, match.start() - 30) : match.end() + 8].strip())
    return missing


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo data (a small company), once for the module, in a transaction rolled back
    afterwards: the tests after this module find the database as the migrations left it."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command(
            "seed_demo", reps=4, months=2, allow_demo_logins=True,
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def walks(demo, django_db_blocker):
    """Each role's walk: {role: {path: (status, Page)}} and the form addresses it met."""
    result = {}
    with django_db_blocker.unblock():
        for username in ROLES:
            result[username] = _walk(username)
    return result


def _walk(username: str) -> dict:
    client = Client()
    assert client.login(username=username, password=DEMO_PASSWORD)
    seen: dict[str, tuple[int, Page | None]] = {}
    posts: dict[str, str] = {}  # form address → the page it was on
    queue = deque(["/"])
    while queue and len(seen) < PAGES_PER_ROLE:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url)
        page = None
        if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            page = Page()
            page.feed(response.content.decode())
            for href in page.links:
                target = _local(url, href)
                if target and target not in seen and _walkable(target):
                    queue.append(target)
            for action in page.posts:
                target = _local(url, action) if action else url
                if target:
                    posts.setdefault(target, url)
        seen[url] = (response.status_code, page)
    return {"pages": seen, "posts": posts, "client": client}


def _local(base: str, href: str) -> str | None:
    absolute = urljoin("http://testserver" + base, href)
    parts = urlsplit(absolute)
    if parts.netloc != "testserver" or parts.scheme not in {"http", "https"}:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _walkable(url: str) -> bool:
    path, _, query = url.partition("?")
    if SKIP.match(path) or "export" in path or path.endswith(".csv"):
        return False
    if path.startswith("/admin/"):
        return bool(ADMIN_PAGE.match(path)) and not query
    # One page of each list (its filters and later pages show the same rows' kind).
    return "page=" not in query


pytestmark = [pytest.mark.django_db]


@pytest.mark.parametrize("username", ROLES)
def test_every_page_a_role_reaches_answers(walks, username):
    pages = walks[username]["pages"]

    failed = {url: status for url, (status, _) in pages.items() if status >= 500}
    assert len(pages) > 10
    assert failed == {}


@pytest.mark.parametrize("username", ROLES)
def test_every_form_address_answers_a_get_with_a_page(walks, username, django_db_blocker):
    walk = walks[username]
    client = walk["client"]

    dead_ends = {}
    with django_db_blocker.unblock():
        for url, on_page in walk["posts"].items():
            response = client.get(url, follow=True)
            if response.status_code != 200:
                dead_ends[url] = (response.status_code, on_page)
    assert walk["posts"]
    assert dead_ends == {}


@pytest.mark.parametrize("username", ROLES)
def test_every_time_of_day_on_a_page_carries_its_zone(walks, username):
    missing = {
        url: found
        for url, (_, page) in walks[username]["pages"].items()
        if page is not None and (found := times_without_zone(" ".join(page.text)))
    }

    assert missing == {}


def test_the_time_check_finds_a_bare_time_and_accepts_zones():
    assert times_without_zone("Due Sat 6 Dec, 17:30.") == ["Due Sat 6 Dec, 17:30."]
    assert times_without_zone("17:30 CET, 09:05 UTC, 22:00 +0530, 13:30 -03, 10:00:05 GMT") == []
    assert times_without_zone("Score 3:2 at 12.30 and 1:200 scale") == []
    assert times_without_zone("Due by the 5th at 23:59:59, in your own time zone.") == []

"""What the supervision tests share besides a route with its stops (crm.testing.routes, and
the root conftest's `route`): its customers, line changes, today, the day form as a browser
sends it."""

import datetime as dt
from html.parser import HTMLParser

from supervision import rules, selectors


def customers(route) -> list[int]:
    return list(route.stops.order_by("sequence").values_list("customer_id", flat=True))


def change(customer: int, **fields) -> rules.Change:
    return rules.Change(customer_id=customer, **fields)


def today() -> dt.date:
    return selectors.today()


class _FormReader(HTMLParser):
    """The values a browser would send from the page's day form (#day-form)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self._select: str | None = None
        self._inside = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "day-form":
            self._inside = True
        if not self._inside or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind == "radio":
                self.radios.setdefault(name, []).append(attrs.get("value", ""))
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "")
            elif kind == "checkbox":
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            else:
                self.values[name] = attrs.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._inside = False


def page_form(html: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What the page's day form sends as it stands (as a browser would), and the choices
    (radio groups) it offers, by name."""
    reader = _FormReader()
    reader.feed(html)
    return reader.values, reader.radios

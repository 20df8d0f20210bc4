"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the tests of what a
person does in a page. Each page records console errors, uncaught exceptions and
Content-Security-Policy violations; `check_page` adds the phone and accessibility checks that every
page must pass."""

from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}

# Listens before any page script runs; init scripts are not subject to the page's CSP.
_RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""

# Every element's box against the viewport: nothing may stick out sideways.
_WIDER_THAN_VIEWPORT = """
() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 1 || box.left < -1) {
      const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + (typeof element.className === "string" && element.className
           ? "." + element.className.trim().split(/\\s+/).join(".") : "");
      wide.push(`${name} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10)};
}
"""

_axe = Axe()


@dataclass
class BrowserPage:
    """A Playwright page that records every console error and uncaught exception."""

    page: object
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.add_init_script(_RECORD_CSP_VIOLATIONS)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location})")

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations || []")


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def open_page(chromium, device: dict, user=None) -> BrowserPage:
    """A new page on `device`, signed in as `user` (a session made by Django's test client)."""
    from django.test import Client

    context = chromium.new_context(**device)
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "domain": "localhost", "path": "/"}]
        )
    return BrowserPage(context.new_page())


@dataclass
class PageReport:
    url: str
    wider_than_viewport: dict
    accessibility: list[str]
    csp: list[str]

    @property
    def problems(self) -> list[str]:
        found = []
        size = self.wider_than_viewport
        if size["scrollWidth"] > size["width"] or size["wide"]:
            found.append(f"{self.url}: wider than the screen: {size}")
        found += [f"{self.url}: {violation}" for violation in self.accessibility]
        found += [f"{self.url}: CSP violation {violation}" for violation in self.csp]
        return found


def check_page(browser_page: BrowserPage, *, screenshot: str | None = None) -> PageReport:
    """The checks every page passes: nothing wider than the screen, no serious or critical
    accessibility violation (axe-core), no CSP violation. Saves a full-page screenshot."""
    page = browser_page.page
    page.wait_for_load_state("networkidle")
    results = _axe.run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    report = PageReport(
        url=page.url,
        wider_than_viewport=page.evaluate(_WIDER_THAN_VIEWPORT),
        accessibility=serious,
        csp=browser_page.csp_violations(),
    )
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{screenshot}.png", full_page=True)
    return report


def page_problems(chromium, base_url: str, device: str, pages, *, prefix: str = "") -> list[str]:
    """Every page of `pages` ((user, name, path), each opened as that user on a "phone" or
    "desktop") through check_page: what is wrong with them, empty when nothing is. A page
    that does not answer 200, or logs an error, fails at once."""
    problems = []
    for user, name, path in pages:
        browser_page = open_page(chromium, PHONE if device == "phone" else DESKTOP, user)
        response = browser_page.page.goto(base_url + path)
        assert response.status == 200, path
        problems += check_page(browser_page, screenshot=f"{device}-{prefix}{name}").problems
        assert browser_page.errors == [], path
    return problems

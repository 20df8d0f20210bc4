"""Who sent a request: the client's address (from trusted proxies' headers only, then as the
tenant keeps it), whether it is a bot, and the device and browser family of its user agent."""

import ipaddress
import re
from functools import cache, lru_cache

from django.conf import settings

from tracking.models import IPHandling

# Crawlers, monitors, headless browsers and HTTP libraries that announce themselves (the usual
# words of Plausible's and Umami's lists).
_BOTS = re.compile(
    r"bot\b|bot/|crawler|spider|slurp|crawling|headlesschrome|phantomjs|lighthouse|"
    r"pingdom|uptimerobot|statuscake|facebookexternalhit|embedly|preview|curl/|wget/|"
    r"python-requests|httpclient|go-http-client|java/|okhttp",
    re.IGNORECASE,
)


@lru_cache(maxsize=1024)  # a handful of browsers send nearly every request
def is_bot(user_agent: str) -> bool:
    return not user_agent or bool(_BOTS.search(user_agent))


@cache
def _trusted() -> list:
    return [ipaddress.ip_network(net, strict=False) for net in settings.TRACKING_TRUSTED_PROXIES]


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted())


@lru_cache(maxsize=8192)  # a client sends many requests
def client_ip(remote_addr: str, forwarded_for: str) -> str | None:
    """The client's address: REMOTE_ADDR, unless that is a trusted proxy; then the last address
    of X-Forwarded-For that is not one (a client may put anything at the front of the header,
    only what our proxies appended counts)."""
    address = remote_addr
    if forwarded_for and _is_trusted(remote_addr):
        for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
            address = hop
            if not _is_trusted(hop):
                break
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


@lru_cache(maxsize=8192)
def kept_ip(address: str | None, handling: str) -> str | None:
    """The address as the tenant keeps it."""
    if address is None or handling == IPHandling.DROP:
        return None
    if handling == IPHandling.STORE:
        return address
    ip = ipaddress.ip_address(address)
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


_DEVICES = [
    ("tablet", re.compile(r"ipad|tablet|kindle|silk|(android(?!.*mobile))", re.IGNORECASE)),
    ("mobile", re.compile(r"mobi|iphone|ipod|android|phone", re.IGNORECASE)),
]
_BROWSERS = [
    ("Edge", re.compile(r"edg(e|a|ios)?/", re.IGNORECASE)),
    ("Opera", re.compile(r"opr/|opera", re.IGNORECASE)),
    ("Samsung Internet", re.compile(r"samsungbrowser", re.IGNORECASE)),
    ("Firefox", re.compile(r"firefox|fxios", re.IGNORECASE)),
    ("Chrome", re.compile(r"chrome|crios|chromium", re.IGNORECASE)),
    ("Safari", re.compile(r"safari", re.IGNORECASE)),
]


@lru_cache(maxsize=4096)  # the same few browsers, again and again
def device_and_browser(user_agent: str) -> tuple[str, str]:
    """("desktop" | "mobile" | "tablet" | "bot", browser family or "Other")."""
    if is_bot(user_agent):
        return "bot", "Bot"
    device = next((name for name, pattern in _DEVICES if pattern.search(user_agent)), "desktop")
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), "Other")
    return device, browser

"""A tenant's allowed origins: the one set of rules for the admin form, the model and the
services. An origin is what a browser sends in its Origin header, `scheme://host[:port]`, and
the ingestion endpoints compare it as a plain string (tracking.ingest): so each one is kept in
the form a browser writes it (lower case, the host in ASCII, no default port, no trailing
slash), or it would never match.

`*` alone allows every origin (a public demo); wildcards inside a host are not supported.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

ANY_ORIGIN = "*"
MAX_ORIGINS = 100
MAX_ORIGIN_LENGTH = 300
SCHEMES = {"http": 80, "https": 443}

# Why a line is not an origin: what the administrator reads next to the field.
NOT_AN_ORIGIN = (
    "Line {line}: “{value}” is not an origin: write scheme://host[:port], e.g. {example}."
)
NO_SCHEME = "Line {line}: “{value}” has no scheme: write it with http:// or https://."
BAD_SCHEME = "Line {line}: “{value}”: an origin starts with http:// or https://."
HAS_PATH = (
    "Line {line}: “{value}” has a path, query or fragment: an origin is only "
    "scheme://host[:port] ({suggestion})."
)
HAS_USER = "Line {line}: “{value}” holds a user name or password: an origin never does."
BAD_PORT = "Line {line}: “{value}” has a port that is not a number from 1 to 65535."
BAD_HOST = "Line {line}: “{value}” has no valid host name."
WILDCARD = (
    "Line {line}: “{value}”: wildcards are not supported inside an origin; list each origin, "
    "or write * alone on a line to allow every origin."
)
TOO_LONG = "Line {line} is longer than 300 characters."
TOO_MANY = "At most 100 origins."
DUPLICATE = "Line {line}: “{value}” is listed twice."
NOT_A_LIST = "Allowed origins are a list of origins."

EXAMPLE = "https://shop.example.com"
# Labels of letters, digits, hyphens (and underscores, which some real hosts have), dot-separated.
_HOST = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)


def origin_of(value: str, *, line: int = 1) -> str:
    """`value` as a browser writes it in the Origin header; raises ValidationError naming
    `line` and what is wrong."""
    text = value.strip()
    context = {"line": line, "value": text, "example": EXAMPLE}
    if len(text) > MAX_ORIGIN_LENGTH:
        raise ValidationError(TOO_LONG.format(**context), code="too_long")
    if text == ANY_ORIGIN:
        return ANY_ORIGIN
    if "*" in text:
        raise ValidationError(WILDCARD.format(**context), code="wildcard")
    if "://" not in text:
        raise ValidationError(NO_SCHEME.format(**context), code="no_scheme")
    if any(character.isspace() or ord(character) < 32 for character in text):
        raise ValidationError(NOT_AN_ORIGIN.format(**context), code="invalid")
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise ValidationError(BAD_PORT.format(**context), code="port") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValidationError(BAD_SCHEME.format(**context), code="scheme")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(HAS_USER.format(**context), code="user")
    if port == 0 or parts.netloc.endswith(":"):
        raise ValidationError(BAD_PORT.format(**context), code="port")
    if not host:
        raise ValidationError(BAD_HOST.format(**context), code="host")
    try:
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(BAD_HOST.format(**context), code="host") from None
    ascii_host = ascii_host.lower()
    if ":" in ascii_host:  # an IPv6 address, written in brackets
        try:
            ascii_host = f"[{ipaddress.IPv6Address(ascii_host).compressed}]"
        except ValueError:
            raise ValidationError(BAD_HOST.format(**context), code="host") from None
    elif not _HOST.fullmatch(ascii_host):
        raise ValidationError(BAD_HOST.format(**context), code="host")
    origin = f"{scheme}://{ascii_host}" + ("" if port in (None, SCHEMES[scheme]) else f":{port}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValidationError(HAS_PATH.format(**context, suggestion=origin), code="path")
    return origin


def parse_origins(text: str) -> list[str]:
    """The origins of a text of one origin per line (blank lines skipped), each as a browser
    writes it; raises ValidationError with a message for every bad line."""
    origins, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            origin = origin_of(line, line=number)
        except ValidationError as error:
            errors.append(error)
            continue
        if origin in origins:
            errors.append(
                ValidationError(DUPLICATE.format(line=number, value=line.strip()), code="twice")
            )
            continue
        origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        errors.append(ValidationError(TOO_MANY, code="too_many"))
    if errors:
        raise ValidationError(errors)
    return origins


def normalised(value: object) -> list[str]:
    """The stored list as browsers write each origin (what the model keeps, whoever wrote it);
    raises ValidationError for anything else."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(NOT_A_LIST, code="not_a_list")
    if any("\n" in item or "\r" in item for item in value):
        raise ValidationError(NOT_A_LIST, code="not_a_list")
    return parse_origins("\n".join(value))

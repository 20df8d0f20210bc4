"""The one JSON parser of the API: whatever the body, a bad one is a 400, never a 500."""

import json
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NESTED_TOO_DEEPLY = "JSON parse error - the body is nested too deeply."


def loads(text: str | bytes) -> Any:
    """json.loads that reports every malformed body as ParseError (a 1,000-deep `[[[…` makes
    the decoder raise RecursionError, which DRF does not expect)."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ParseError(NESTED_TOO_DEEPLY) from None
    except ValueError as error:
        raise ParseError(f"JSON parse error - {error}") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        body = stream.read() if stream is not None else b""
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not valid UTF-8.") from None
        return loads(text)

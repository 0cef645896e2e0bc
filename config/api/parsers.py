"""Request parsers that never turn hostile input into a 500.

A JSON document nested a thousand levels deep (2 KB) makes Python's parser raise RecursionError,
which DRF's JSONParser does not catch; anything that walks the parsed value later (a JSONField,
the renderer) recurses as deep. Documents are refused past MAX_JSON_DEPTH with a 400 instead.
"""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config.safejson import TooDeep, loads


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with a nesting limit and a 400 for every malformed document."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            return loads(raw.decode(encoding))
        except UnicodeDecodeError:
            raise ParseError("The JSON body is not valid text.") from None
        except TooDeep as exc:
            raise ParseError(str(exc), code="too_deep") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None

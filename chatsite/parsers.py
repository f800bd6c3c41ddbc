"""The REST API's JSON parser: DRF's, minus two inputs that would otherwise reach a 500.

- Nesting deeper than Python's recursion limit (`[[[[...]]]]` fits easily in the body size
  limit): the decoder raises RecursionError, which DRF does not catch.
- Strings with an unpaired UTF-16 surrogate (`"\\ud800"`): valid JSON syntax, but not text
  that UTF-8 (MongoDB's BSON, password hashing) can hold, so the first write fails.

Both answer 400 `malformed_json`, like any other unreadable body."""

from __future__ import annotations

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            # Re-encoding finds unpaired surrogates anywhere in the document, keys included.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError(
                "JSON parse error - a string holds an unpaired surrogate (\\ud800-\\udfff)."
            ) from None
        return data

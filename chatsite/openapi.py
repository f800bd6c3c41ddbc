"""What the OpenAPI schema (`/api/schema/`) says about errors, built from the code.

Client generators and gateways trust the schema, so every operation lists every status it can
answer, each with the one error shape (`chatsite.errors`) narrowed to the `code` values that
status can carry. A view declares only its own failures, from the exception classes it raises:

    @extend_schema(request=..., responses={201: MessageSerializer, **raises(ReceiverNotFound)})

`ChatAutoSchema` adds the failures every view of a kind shares, read from the view itself
(authentication, throttles, a request body, query or path parameters), so a route added later
is described without anyone remembering to. `chatsite/tests/test_contract.py` runs schemathesis
against a live server to hold the schema to what the server does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from django.conf import settings
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated

from chatsite.errors import ChatError

# Human titles of the statuses the API answers, for the response descriptions.
STATUS_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    406: "Not acceptable",
    410: "Gone",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
    503: "Database unavailable",
}

OBJECT_ID_PATTERN = "^[0-9a-f]{24}$"


def character_class(predicate: Callable[[str], bool], up_to: int = 0x10FFFF) -> str:
    """The characters up to `up_to` for which `predicate` is true, as the inside of a regex
    class. Spelled out because `\\s` and `\\p{...}` mean other sets, or nothing, in ECMA-262
    (the schema's regex dialect) than in Python. Characters past U+FFFF are written as
    themselves: with the `u` flag (which JSON Schema validators use) and in Python they are one
    character each. (Every process builds these classes when it starts: a predicate true only
    in the Basic Multilingual Plane is asked of 65,536 characters with `up_to=0xFFFF`, not of
    1,114,112.)"""
    ranges: list[list[int]] = []
    for c in range(up_to + 1):
        if 0xD800 <= c <= 0xDFFF or not predicate(chr(c)):
            continue
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])

    def char(c: int) -> str:
        return chr(c) if c > 0xFFFF else f"\\u{c:04x}"

    return "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges)


# What `StrictCharField` accepts, as ECMA-262 patterns: no NUL anywhere, and when blanks are
# refused after trimming, one character that is neither whitespace nor NUL. Written so that no
# input makes them backtrack more than linearly.
# What `str.strip()` removes: every such character is in the Basic Multilingual Plane
# (chatsite/tests/test_openapi_patterns.py checks it against the whole of Unicode).
WHITESPACE = character_class(str.isspace, up_to=0xFFFF)
# Not empty: drf-spectacular offers "" as a `oneOf` branch of its own where blanks are allowed.
NO_NUL_PATTERN = "^[^\\u0000]+$"
NOT_BLANK_PATTERN = f"^[{WHITESPACE}]*[^{WHITESPACE}\\u0000][^\\u0000]*$"


class ErrorSerializer(serializers.Serializer):
    """Every error answer (`chatsite.errors`): programs branch on `code`, people read `error`."""

    error = serializers.CharField(help_text="A message for people; may change.")
    code = serializers.CharField(help_text="Stable: what programs branch on.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors: field name -> messages.",
    )
    retryAfter = serializers.IntegerField(
        required=False, min_value=0, help_text="429: whole seconds to wait (also `Retry-After`)."
    )

    class Meta:
        ref_name = "Error"


class ErrorResponse(OpenApiResponse):
    """One status of an operation and the error codes it can carry."""

    def __init__(self, status: int, codes: Iterable[str]):
        self.status = status
        self.codes = sorted(set(codes))
        super().__init__(response=ErrorSerializer)


def raises(*errors: type[ChatError] | tuple[int, str]) -> dict[int, ErrorResponse]:
    """`responses` entries for the failures a view raises: `ChatError` subclasses (their `status`
    and `code`) or `(status, code)` pairs for failures that come from elsewhere."""
    by_status: dict[int, set[str]] = defaultdict(set)
    for error in errors:
        status, code = error if isinstance(error, tuple) else (int(error.status), error.code)
        by_status[status].add(code)
    return {status: ErrorResponse(status, codes) for status, codes in by_status.items()}


def links(status: int, **targets: dict):
    """OpenAPI links from an answer to the operations that can use its values (the stateful
    phase of schemathesis follows them, and so can client generators): operation id -> the
    target's `parameters` and `requestBody`, in runtime expressions (`$response.body#/_id`)."""

    def decorate(method):
        method.openapi_links = {**getattr(method, "openapi_links", {}), status: targets}
        return method

    return decorate


def object_id_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "string", "pattern": OBJECT_ID_PATTERN},
        OpenApiParameter.PATH,
        required=True,
        description=description,
    )


def integer_parameter(name: str, minimum: int, maximum: int, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "integer", "minimum": minimum, "maximum": maximum},
        description=description,
    )


TOKEN_CODES = (
    "not_authenticated", "token_invalid", "token_expired", "user_inactive", "session_ended",
)  # fmt: skip
_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "required": True,
        "description": "Whole seconds to wait before retrying.",
    }
}
_RESPONSE_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": 'On a refused access token: `Bearer realm="api"`.',
        }
    },
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}


class ChatAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers each operation can give."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        if "requestBody" in operation and getattr(
            self.get_request_serializer(), "body_required", False
        ):
            # A body whose fields are each optional, one of them being required (`anyOf`).
            operation["requestBody"]["required"] = True
        error_ref = self.resolve_serializer(ErrorSerializer, "response").ref
        for status, codes in sorted(self._error_codes(operation).items()):
            operation["responses"][str(status)] = self._error_response(status, codes, error_ref)
        handler = getattr(self.view, self.method.lower(), None)
        for status, targets in getattr(handler, "openapi_links", {}).items():
            operation["responses"][str(status)]["links"] = {
                operation_id: {"operationId": operation_id, **target}
                for operation_id, target in targets.items()
            }
        return operation

    def _get_request_body(self, direction="request"):
        # drf-spectacular describes bodies of PUT, PATCH and POST only; a view whose DELETE
        # takes one (a password to confirm) says so with `delete_has_body`.
        if self.method == "DELETE" and getattr(self.view, "delete_has_body", False):
            self.method = "POST"
            try:
                return super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        return super()._get_request_body(direction)

    def _error_codes(self, operation: dict) -> dict[int, set[str]]:
        codes: dict[int, set[str]] = defaultdict(set)
        declared = self.get_response_serializers()
        if isinstance(declared, dict):
            for value in declared.values():
                if isinstance(value, ErrorResponse):
                    codes[value.status].update(value.codes)

        # Every answer is rendered as JSON (or the browsable API's HTML); any other `Accept`.
        codes[406].add("not_acceptable")
        # Every route reads the database (the caller's user, at least).
        codes[503].add("database_unavailable")
        parameters = operation.get("parameters", [])
        if any(p["in"] == "path" for p in parameters):
            # A path value with a `/` in it matches no route.
            codes[404].add("not_found")
        if any(p["in"] == "query" for p in parameters):
            codes[400].add("validation_error")
        if "requestBody" in operation:
            codes[400].update({"validation_error", "malformed_json"})
            codes[413].add("request_too_large")
            codes[415].add("unsupported_media_type")
        authenticators = self.view.get_authenticators()
        if any(isinstance(p, IsAuthenticated) for p in self.view.get_permissions()):
            codes[401].update(TOKEN_CODES)
        if self.method not in ("GET", "HEAD", "OPTIONS") and any(
            isinstance(a, SessionAuthentication) for a in authenticators
        ):
            # Session-authenticated writes need the CSRF token.
            codes[403].add("permission_denied")
        if self.method not in ("GET", "HEAD", "OPTIONS") and any(
            getattr(a, "refuses_foreign_origins", False) for a in authenticators
        ):
            # Cookie-authenticated writes from a page of another site.
            codes[403].add("origin_not_allowed")
        if self.view.get_throttles():
            codes[429].add("rate_limited")
        return codes

    def _error_response(self, status: int, codes: set[str], error_ref: dict) -> dict:
        ordered = sorted(codes)
        listed = ", ".join(f"`{code}`" for code in ordered)
        response = {
            "description": f"{STATUS_TITLES.get(status, 'Error')}: {listed}.",
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [error_ref],
                        "properties": {"code": {"type": "string", "enum": ordered}},
                    },
                    "examples": {code: {"value": {"error": "…", "code": code}} for code in ordered},
                }
            },
        }
        if status in _RESPONSE_HEADERS:
            response["headers"] = _RESPONSE_HEADERS[status]
        return response


class StrictCharFieldExtension(OpenApiSerializerFieldExtension):
    """`chatsite.fields.StrictCharField` refuses NUL characters and, unless blanks are allowed,
    strings that are blank once trimmed: say so with a pattern (a `RegexValidator` on the field
    says it instead)."""

    target_class = "chatsite.fields.StrictCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        field = self.target
        if not any(hasattr(v, "regex") for v in field.validators):
            blank_refused = not field.allow_blank and field.trim_whitespace
            schema["pattern"] = NOT_BLANK_PATTERN if blank_refused else NO_NUL_PATTERN
        schema.update(getattr(field, "schema_constraints", {}))
        return schema


def password_min_length() -> int:
    """The minimum length Django's `MinimumLengthValidator` applies, if it is configured."""
    for validator in settings.AUTH_PASSWORD_VALIDATORS:
        if validator["NAME"].endswith(".MinimumLengthValidator"):
            return int(validator.get("OPTIONS", {}).get("min_length", 8))
    return 1


class SessionCookieScheme(SessionScheme):
    """Django's session cookie (a user logged in to the admin, in the browsable API)."""

    priority = 0  # above drf-spectacular's own description of SessionAuthentication

    def get_security_definition(self, auto_schema):
        return {
            **super().get_security_definition(auto_schema),
            "description": (
                f"Django's session cookie (`{settings.SESSION_COOKIE_NAME}`), set by logging in "
                f"to `/admin/`. Writes (POST) also need the CSRF token in `X-CSRFToken` "
                f"(`{settings.CSRF_COOKIE_NAME}` cookie), or they answer 403 `permission_denied`."
            ),
        }

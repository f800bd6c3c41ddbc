"""One error shape for the whole REST API.

Every error answers `{"error": "<human message>", "code": "<stable code>"}`, plus `"fields"`
(field name → list of messages) for validation errors. `error` stays a string, as in the
reference design, so its clients keep working; `code` is what programs should branch on.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from pymongo.errors import ConnectionFailure, PyMongoError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler
from rest_framework_simplejwt.exceptions import InvalidToken

logger = logging.getLogger(__name__)


class ChatError(Exception):
    """A failure the client can act on. Subclasses set `code` and `status`."""

    code = "error"
    status = status.HTTP_400_BAD_REQUEST
    default_detail = "The request could not be processed."

    def __init__(self, detail: str | None = None, *, fields: dict | None = None):
        self.detail = detail or self.default_detail
        self.fields = fields
        super().__init__(self.detail)

    def as_dict(self) -> dict:
        payload = {"error": self.detail, "code": self.code}
        if self.fields:
            payload["fields"] = self.fields
        return payload


class ValidationFailed(ChatError):
    code = "validation_error"
    default_detail = "Some fields are invalid."


class NotFound(ChatError):
    code = "not_found"
    status = status.HTTP_404_NOT_FOUND
    default_detail = "Not found."


class DatabaseUnavailable(ChatError):
    code = "database_unavailable"
    status = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; try again shortly."


class RequestTooLarge(ChatError):
    code = "request_too_large"
    status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(f"The request body is larger than {limit} bytes.")


# DRF's own exception classes mapped to our stable codes.
_DRF_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "token_invalid",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "validation_error",
}


def database_down(exc: BaseException | None) -> bool:
    """Whether this failure means "the database is unreachable, try again" (503 over REST,
    `database_unavailable` over a socket): a connection failure or a timeout (server selection,
    a network read, a transaction's time budget) anywhere in the chain (the ORM wraps
    pymongo's errors). Any other database error is a bug: 500, or `internal_error`."""
    while exc is not None:
        if isinstance(exc, ConnectionFailure) or (isinstance(exc, PyMongoError) and exc.timeout):
            return True
        exc = exc.__cause__
    return False


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail)


def _first_problem(detail) -> tuple[str | None, object]:
    """The first field that failed and its first message (an `ErrorDetail`, with its code)."""
    if isinstance(detail, dict) and detail:
        field, messages = next(iter(detail.items()))
        while isinstance(messages, (list, dict)) and messages:
            messages = messages[0] if isinstance(messages, list) else next(iter(messages.values()))
        return str(field), messages
    return None, _first_message(detail)


def _field_label(field: str) -> str:
    """`fullName` → "Full name", `confirm_password` → "Confirm password": the words a form
    shows beside the field."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", field).replace("_", " ").strip().lower()
    return words[:1].upper() + words[1:]


# Library messages that need the field named (DRF's and Django's codes); the project's own
# messages ("Passwords don't match.", "That username is taken.") are sentences already.
_BY_CODE = {
    "required": "{field} is required.",
    "null": "{field} is required.",
    "blank": "{field} is required.",
    "null_char": "{field} must not contain NUL characters.",
    "invalid_choice": "{field}: {message}",
}
_AT_LEAST = re.compile(r"at least (\d+) character")
_AT_MOST = re.compile(r"no more than (\d+) character")
_SUBJECT = re.compile(r"^(?:This|The) (?:field|value|password)\b")
_ENSURE = re.compile(r"^Ensure this (?:field|value) (has|is)\b")


def _in_words(field: str, message) -> str:
    """A validation failure as one sentence a person understands, naming the field: the
    reference design's clients show only `error` (`fields` keeps the messages as they were)."""
    label, code, text = _field_label(field), getattr(message, "code", None), str(message)
    if code in _BY_CODE:
        return _BY_CODE[code].format(field=label, message=text)
    if code in {"min_length", "password_too_short"} and (found := _AT_LEAST.search(text)):
        return f"{label} must be at least {found[1]} characters."
    if code == "max_length" and (found := _AT_MOST.search(text)):
        return f"{label} must be at most {found[1]} characters."
    if _SUBJECT.match(text):
        return _SUBJECT.sub(label, text, count=1)
    if found := _ENSURE.match(text):
        verb = "have" if found[1] == "has" else "be"
        return f"{label} must {verb}{text[found.end() :]}"
    if text.startswith("Must "):
        return f"{label} m{text[1:]}"
    return text


def _fields(detail) -> dict:
    if not isinstance(detail, dict):
        return {}
    return {
        name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
        for name, msgs in detail.items()
    }


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every failure leaves in the documented shape, never a 500 page."""
    if database_down(exc):
        logger.warning("database unavailable: %s", exc)
        exc = DatabaseUnavailable()
    if isinstance(exc, RequestDataTooBig):
        # Django answers it through handler400 only with DEBUG off; with DEBUG on, its debug page.
        exc = RequestTooLarge()
    if isinstance(exc, DatabaseUnavailable):
        return Response(exc.as_dict(), status=exc.status, headers={"Retry-After": "5"})
    if isinstance(exc, ChatError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500

    code = getattr(exc, "stable_code", None) or next(
        (c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error"
    )
    message = _first_message(exc.detail)
    if isinstance(exc, (InvalidToken, exceptions.AuthenticationFailed)):
        code = _token_error_code(exc)
        # simplejwt's words ("Given token not valid for any token type") are shown to people
        # by clients that display `error` as it is (the reference design's front end).
        message = _TOKEN_WORDS.get(code, message)
    payload = {"error": message, "code": code}
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(exc.detail)
        if fields:
            payload["fields"] = fields
            field, message = _first_problem(exc.detail)
            if field == "non_field_errors":
                payload["error"] = str(message)
            else:
                payload["error"] = _in_words(field, message)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        payload["retryAfter"] = int(exc.wait + 0.999)
    response.data = payload
    return response


_TOKEN_WORDS = {
    "token_expired": "Your session has expired. Log in again.",
    "token_invalid": "You are not logged in (the session token is invalid). Log in again.",
    "user_inactive": "This account is deactivated.",
    "session_ended": "This login session has ended. Log in again.",
}


def _token_error_code(exc) -> str:
    codes = exc.get_codes()
    if isinstance(codes, dict):
        detail = exc.detail if isinstance(exc.detail, dict) else {}
        messages = " ".join(str(m.get("message", "")) for m in detail.get("messages", []))
        if "expired" in messages.lower():
            return "token_expired"
        # simplejwt puts its own code in the detail ("user_inactive"); DRF's get_codes() only
        # knows the class's generic "authentication_failed".
        codes = str(detail.get("code", "token_invalid"))
    if codes in {"user_inactive", "user_not_found"}:
        return "user_inactive"
    if codes == "session_ended":
        return "session_ended"
    return "token_invalid"


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    """The same shape for errors raised outside DRF (404/500 handlers, middleware)."""
    return JsonResponse({"error": message, "code": code}, status=status_code)


# Failures Django answers before (or instead of) a DRF view, by status.
_HTTP_ERRORS = {
    400: ("bad_request", "Bad request."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    500: ("internal_error", "Internal server error."),
}


def http_error(status_code: int) -> JsonResponse:
    """The JSON answer for a failure known only by its HTTP status."""
    fallback = _HTTP_ERRORS[500 if status_code >= 500 else 400]
    code, message = _HTTP_ERRORS.get(status_code, fallback)
    return json_error(status_code, code, message)

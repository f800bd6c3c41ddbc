"""schemathesis hooks for the API contract test (`test_contract.py`), also usable from the CLI:
`SCHEMATHESIS_HOOKS=chatsite.tests.contract_hooks st run ...`.

A schema states the shape of a request, not the state it meets. These are the refusals of a
schema-valid request that depend on state or on rules no JSON Schema can state; each has its own
documented code (docs/api.md), so the `positive_data_acceptance` failures they raise are dropped
and every other one is kept.
"""

from __future__ import annotations

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

STATE_REFUSALS = {
    (400, "username_taken"): "the username exists (in any letter case)",
    (400, "email_taken"): "another account has the email (in any letter case)",
    (400, "wrong_password"): "the password given is not the caller's",
    (400, "reset_link_invalid"): "a well-formed uid and token that this server did not mail",
    (400, "cannot_message_self"): "the user id is the caller's own",
    (400, "seq_invalid"): "the seq is above the conversation's last one",
    (400, "reply_not_found"): "the replyTo id names no message of that conversation",
    (400, "emoji_invalid"): "one emoji of Unicode's list or its short name: a list of thousands, "
    "not a pattern (docs/api.md, Message actions)",
    (400, "search_query_invalid"): "q has no letter or digit (Unicode classes, which no "
    "pattern the schema tools compile can state)",
    (410, "cursor_invalid"): "a well-formed cursor that this server did not issue to the caller",
    # What a file is comes from its bytes (docs/api.md, "Attachments"); no schema reads them.
    (400, "attachment_type_not_allowed"): "the file's bytes are not one of the allowed types",
    (400, "attachment_image_too_large"): "the image's header counts more pixels than allowed",
}
# Django's password validators: "too common" and "too similar to the username or full name"
# have no JSON Schema form; the schema's description says them. Django's `EmailValidator` is
# stricter than JSON Schema's `format: email` (which allows quoted local parts, IP literals and
# domains without a dot, for instance).
VALIDATOR_FIELDS = {"password", "newPassword", "email"}
# Operations whose body repeats a new password in `confirmPassword`.
CONFIRMED_PASSWORD = {
    "/api/auth/signup": "password",
    "/api/auth/password": "newPassword",
    "/api/auth/password/reset/confirm": "newPassword",
}


def _body(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    if not isinstance(failure, RejectedPositiveData):
        return True
    body = _body(response)
    if (response.status_code, body.get("code")) in STATE_REFUSALS:
        return False
    sent = case.body.get("message") if isinstance(case.body, dict) else None
    if (
        body.get("code") == "message_empty"
        and isinstance(sent, str)
        and any(ord(char) > 0xFFFF for char in sent)
    ):
        return False  # invisible characters past U+FFFF: see MESSAGE_TEXT_PATTERN
    fields = set(body.get("fields") or {})
    return not (body.get("code") == "validation_error" and fields and fields <= VALIDATOR_FIELDS)


@schemathesis.hook
def map_case(context, case):
    """`confirmPassword` equals `password` in a valid signup (`newPassword` in a password change
    or reset): an equality between two fields, which JSON Schema cannot state. Copied in positive
    cases, so that signups succeed and the stateful phase can follow signup -> send -> history."""
    body = case.body
    field = CONFIRMED_PASSWORD.get(case.operation.path)
    if (
        field is not None
        and case.meta is not None
        and case.meta.generation.mode.is_positive
        and isinstance(body, dict)
        and isinstance(body.get(field), str)
    ):
        case.body = {**body, "confirmPassword": body[field]}
    return case

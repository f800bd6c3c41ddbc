"""Test data, created through the same services as the product, and the helpers every app's
tests share (users, tokens, `Authorization` headers, signup bodies)."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import timedelta

import jwt
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from accounts.services import tokens_issue, user_create

PASSWORD = "a-long-test-password-42"
_numbers = itertools.count(1)


def user_factory(
    *,
    username: str | None = None,
    full_name: str = "Test User",
    password: str = PASSWORD,
    gender: str = "",
) -> User:
    return user_create(
        username=username or f"user{next(_numbers)}",
        full_name=full_name,
        password=password,
        gender=gender,
    )


def tokens_for(user: User) -> dict[str, str]:
    """A fresh login session's token pair."""
    return tokens_issue(user=user)


def bearer(token: str) -> str:
    """The `Authorization` header value for an access token."""
    return f"Bearer {token}"


def bearer_for(user: User) -> str:
    """The `Authorization` header value for a fresh login session of `user`."""
    return bearer(tokens_for(user)["access"])


def signup_payload(**overrides) -> dict:
    """A valid `POST /api/auth/signup` body; `overrides` change or add fields."""
    return {
        "fullName": "Dana Scully",
        "username": "dana",
        "password": PASSWORD,
        "confirmPassword": PASSWORD,
        "gender": "female",
        **overrides,
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def forged_token(kind: str, *, user: User, other: User, of: str = "access") -> str | None:
    """A token an attacker could make for `user`'s account (or to become `other`), where an
    `of` ("access" or "refresh") token is expected; the server must refuse each one:

    - `missing`: no token at all (None);
    - `alg_none`: a real token's claims under the header `{"alg": "none"}`, no signature;
    - `other_key`: a real token's claims signed with a key that is not the server's;
    - `edited_user_id`: a real token whose payload now names `other`, original signature kept;
    - `expired`: a real token, signed by the server, that expired an hour ago;
    - `wrong_type`: a real token of the other type (a refresh token used as access token)."""
    real = tokens_issue(user=user)
    wanted, wrong = (real["access"], real["refresh"])[:: 1 if of == "access" else -1]
    header, payload, signature = wanted.split(".")
    claims = _claims(wanted)
    if kind == "missing":
        return None
    if kind == "alg_none":
        none_header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{none_header}.{payload}."
    if kind == "other_key":
        return jwt.encode(claims, "not-the-server-key-but-long-enough-for-hs256", "HS256")
    if kind == "edited_user_id":
        edited = _b64(json.dumps({**claims, "user_id": str(other.pk)}).encode())
        return f"{header}.{edited}.{signature}"
    if kind == "expired":
        token = (AccessToken if of == "access" else RefreshToken)(wanted)
        token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=1))
        return str(token)
    if kind == "wrong_type":
        return wrong
    raise ValueError(kind)


FORGED_TOKEN_KINDS = ["missing", "alg_none", "other_key", "edited_user_id", "expired", "wrong_type"]


def assert_error(response, status: int, code: str) -> dict:
    """An API error answer: this status, this stable code, a readable message."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str)
    return body

"""Test data, created through the same services as the product."""

from __future__ import annotations

import itertools

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
    return f"Bearer {token}"

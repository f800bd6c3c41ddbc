"""Account writes: signup, tokens, logout, deactivation."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import IntegrityError
from pymongo.errors import DuplicateKeyError
from rest_framework_simplejwt.exceptions import TokenError

from accounts import tokens
from accounts.models import User
from accounts.signals import session_ended, user_deactivated
from chatsite.errors import ChatError, ValidationFailed
from chatsite.signals import send_after_commit


class InvalidCredentials(ChatError):
    code = "invalid_credentials"
    status = 401
    default_detail = "Invalid username or password"


class UsernameTaken(ValidationFailed):
    code = "username_taken"
    default_detail = "That username is taken."


class InvalidRefreshToken(ChatError):
    code = "token_invalid"
    status = 401
    default_detail = "The refresh token is invalid, expired or revoked."


def user_create(*, username: str, full_name: str, password: str, gender: str = "") -> User:
    if User.objects.filter(username_key=username.lower()).exists():
        raise UsernameTaken(fields={"username": ["That username is taken."]})
    user = User(username=username, full_name=full_name, gender=gender or "")
    user.set_password(password)
    try:
        user.save()
    except (IntegrityError, DuplicateKeyError):
        # Two signups raced past the check above; the unique index decided.
        raise UsernameTaken(fields={"username": ["That username is taken."]}) from None
    return user


def user_authenticate(*, request, username: str, password: str) -> User:
    """One answer for unknown users and wrong passwords, so usernames can't be probed."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise InvalidCredentials()
    return user


def tokens_issue(*, user: User) -> dict[str, str]:
    """A new login session: an access and a refresh token."""
    return tokens.issue_for(user)


def tokens_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate: the refresh token is revoked and a new pair of the same session issued. A
    refresh token used a second time ends its whole session (someone else holds a copy)."""
    try:
        token = tokens.parse_refresh(refresh)
    except tokens.RefreshTokenReused as reuse:
        session_end(user_id=reuse.token["user_id"], session_id=reuse.token.get("sid", ""))
        raise InvalidRefreshToken() from None
    except TokenError:
        raise InvalidRefreshToken() from None
    user = User.objects.filter(pk=token["user_id"], is_active=True).first()
    if user is None:
        raise InvalidRefreshToken()
    token.revoke(logout=False)
    return tokens.issue_for(user, session_id=token.get("sid"))


def tokens_revoke(*, refresh: str) -> None:
    """Logout: revoke the refresh token and end its session. Holding the token is the proof
    of ownership."""
    try:
        token = tokens.parse_refresh(refresh)
    except TokenError:
        raise InvalidRefreshToken() from None
    token.revoke(logout=True)
    session_end(user_id=token["user_id"], session_id=token.get("sid", ""))


def session_end(*, user_id: str, session_id: str) -> None:
    """End a login session on every device and process: its refresh tokens are refused from
    now on and its open sockets are closed (`session_ended`)."""
    if not session_id:
        return  # a token from before sessions existed: nothing to end beyond the token
    tokens.session_revoke(user_id=user_id, session_id=session_id)
    send_after_commit(session_ended, sender=User, user_id=str(user_id), session_id=session_id)


def user_deactivate(*, user: User) -> None:
    """The user can no longer log in; their tokens stop working; realtime drops their sockets."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    send_after_commit(user_deactivated, sender=User, user=user)

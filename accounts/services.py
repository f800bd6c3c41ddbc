"""Account writes: signup, tokens, login sessions, profile, passwords, deactivation and
deletion."""

from __future__ import annotations

import logging
import threading

from bson import ObjectId
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from pymongo.errors import DuplicateKeyError
from rest_framework_simplejwt.exceptions import TokenError

from accounts import tokens
from accounts.models import LoginSession, User
from accounts.signals import session_ended, user_deactivated, user_deleting
from chatsite import ratelimit
from chatsite.errors import ChatError, NotFound, ValidationFailed
from chatsite.signals import send_after_commit

logger = logging.getLogger(__name__)
DELETED_FULL_NAME = "Deleted user"
MAIL_THREAD = "password-reset-mail"


class InvalidCredentials(ChatError):
    code = "invalid_credentials"
    status = 401
    default_detail = "Invalid username or password"


class UsernameTaken(ValidationFailed):
    code = "username_taken"
    default_detail = "That username is taken."


class EmailTaken(ValidationFailed):
    code = "email_taken"
    default_detail = "That email is in use."


class WrongPassword(ChatError):
    code = "wrong_password"
    default_detail = "The password is wrong."

    def __init__(self, field: str = "currentPassword"):
        super().__init__(fields={field: ["The password is wrong."]})


class ResetLinkInvalid(ChatError):
    code = "reset_link_invalid"
    default_detail = "This password reset link is invalid, was already used or has expired."


class SessionNotFound(NotFound):
    default_detail = "No such login session."


class InvalidRefreshToken(ChatError):
    code = "token_invalid"
    status = 401
    default_detail = "The refresh token is invalid, expired or revoked."


def _username_taken() -> UsernameTaken:
    return UsernameTaken(fields={"username": ["That username is taken."]})


def _email_taken() -> EmailTaken:
    return EmailTaken(fields={"email": ["That email is in use."]})


def _check_free(*, username: str | None, email: str | None, user: User | None = None) -> None:
    others = User.objects.exclude(pk=user.pk) if user is not None else User.objects.all()
    if username is not None and others.filter(username_key=username.lower()).exists():
        raise _username_taken()
    if email and others.filter(email_key=email.lower()).exists():
        raise _email_taken()


def _save_unique(user: User, **kwargs) -> None:
    """Save; a race past `_check_free` is decided by the unique indexes."""
    try:
        user.save(**kwargs)
    except (IntegrityError, DuplicateKeyError) as error:
        if "email" in str(error):
            raise _email_taken() from None
        raise _username_taken() from None


def user_create(
    *, username: str, full_name: str, password: str, gender: str = "", email: str | None = None
) -> User:
    _check_free(username=username, email=email)
    user = User(username=username, full_name=full_name, gender=gender or "", email=email or None)
    user.set_password(password)
    _save_unique(user)
    return user


def user_update(
    *,
    user: User,
    full_name: str | None = None,
    gender: str | None = None,
    username: str | None = None,
    email: str | None = "",
) -> User:
    """Change the given parts of a profile (None: unchanged; for `email`, "" keeps it and None
    removes it). Usernames and emails stay unique, ignoring case."""
    changed = []
    if username is not None and username != user.username:
        user.username = username
        changed += ["username", "username_key"]
    else:
        username = None
    if email != "" and (email or None) != user.email:
        user.email = email or None
        changed += ["email", "email_key"]
    else:
        email = None
    _check_free(username=username, email=email, user=user)
    if full_name is not None and full_name != user.full_name:
        user.full_name = full_name
        changed.append("full_name")
    if gender is not None and gender != user.gender:
        user.gender = gender
        changed.append("gender")
    if changed:
        _save_unique(user, update_fields=changed)
    return user


def user_authenticate(*, request, username: str, password: str) -> User:
    """One answer for unknown users and wrong passwords, so usernames can't be probed."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise InvalidCredentials()
    return user


def tokens_issue(*, user: User, user_agent: str = "") -> dict[str, str]:
    """A new login session (a `LoginSession`, with the client's `User-Agent`): an access and a
    refresh token."""
    return tokens.issue_for(user, user_agent=user_agent)


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


def session_end_for_user(*, user: User, session_id: str) -> None:
    """The user ends one of their own live login sessions (another device, say)."""
    if not LoginSession.objects.filter(sid=session_id, user=user, ended_at=None).exists():
        raise SessionNotFound()
    session_end(user_id=str(user.pk), session_id=session_id)


def sessions_end_all(*, user: User, keep: str = "") -> int:
    """End every live login session of the user but `keep`; returns how many ended."""
    live = LoginSession.objects.filter(user=user, ended_at=None)
    if keep:
        live = live.exclude(sid=keep)
    ended = 0
    for session_id in list(live.values_list("sid", flat=True)):
        session_end(user_id=str(user.pk), session_id=session_id)
        ended += 1
    return ended


def _set_password(user: User, password: str, field: str) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as error:
        raise ValidationFailed(fields={field: list(error.messages)}) from None
    user.set_password(password)
    user.save(update_fields=["password"])


def password_check(*, user: User, password: str, field: str) -> None:
    if not user.check_password(password):
        raise WrongPassword(field)


def password_change(*, user: User, current: str, new: str, session_id: str) -> None:
    """Set a new password (checked by Django's validators) after checking the current one;
    every other login session of the user ends (their sockets close), this one stays."""
    password_check(user=user, password=current, field="currentPassword")
    _set_password(user, new, "newPassword")
    sessions_end_all(user=user, keep=session_id)


def user_find_for_reset(*, login: str) -> User | None:
    """The active user with this username or email (ignoring case), if they have an email."""
    key = login.strip().lower()
    # Two indexed reads, always both (the same work whoever asks); an `$or` of the two would
    # scan every user on the embedded database.
    by_username = User.objects.filter(username_key=key).first()
    by_email = User.objects.filter(email_key=key).first()
    user = by_username or by_email
    if user is None or not user.is_active or not user.email:
        return None
    return user


def password_reset_link(*, user: User, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(str(user.pk)))
    token = default_token_generator.make_token(user)
    return f"{base_url.rstrip('/')}/reset/{uid}/{token}/"


def password_reset_request(*, login: str, base_url: str) -> None:
    """Mail a one-time link to set a new password (valid PASSWORD_RESET_TIMEOUT seconds) to the
    active user with this username or email, if they have an email. Says nothing either way,
    and the mail leaves in a thread of its own, so the answer takes as long whether or not the
    account exists (an SMTP server may be slow). Limited to PASSWORD_RESET_RATE mails per
    account."""
    user = user_find_for_reset(login=login)
    if user is None:
        default_token_generator.make_token(User(password="", last_login=None))  # same work
        return
    # Per account too, whichever of its names is asked: nobody fills a mailbox from many
    # addresses. Over the limit nothing is sent and the answer stays the same.
    if ratelimit.hit("password_reset_account", str(user.pk), settings.CHAT["PASSWORD_RESET_RATE"]):
        return
    context = {
        "user": user,
        "link": password_reset_link(user=user, base_url=base_url),
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    mail = EmailMultiAlternatives(
        subject="Set a new password",
        body=render_to_string("accounts/password_reset_email.txt", context),
        to=[user.email],
    )
    threading.Thread(target=_send, args=(mail,), name=MAIL_THREAD, daemon=True).start()


def _send(mail: EmailMultiAlternatives) -> None:
    try:
        mail.send()
    except Exception:
        logger.exception("could not send the password reset mail")


def password_reset_user(*, uid: str, token: str) -> User:
    """The user a reset link is for, if the link is genuine, unused and not expired."""
    try:
        user_id = force_str(urlsafe_base64_decode(uid))
    except (ValueError, TypeError):
        raise ResetLinkInvalid() from None
    if not ObjectId.is_valid(user_id):
        raise ResetLinkInvalid()
    user = User.objects.filter(pk=ObjectId(user_id), is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise ResetLinkInvalid()
    return user


def password_reset_confirm(*, uid: str, token: str, new: str, field: str = "newPassword") -> User:
    """Set a new password through a reset link; the link stops working (the token covers the
    password's hash) and every login session of the user ends."""
    user = password_reset_user(uid=uid, token=token)
    _set_password(user, new, field)
    sessions_end_all(user=user)
    return user


def user_delete(*, user: User) -> None:
    """Delete an account: the person can no longer log in, every session ends and its sockets
    close, messaging erases what they wrote (`user_deleting`), and the row stays, anonymised,
    so conversations still refer to it ("Deleted user"). Safe to run again on a user whose
    deletion stopped half-way."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    sessions_end_all(user=user)
    # Sessions from before login sessions were stored have no row: their sockets close too.
    send_after_commit(user_deactivated, sender=User, user=user)
    user_deleting.send(sender=User, user=user)
    user.username = f"del:{user.pk}"
    user.full_name = DELETED_FULL_NAME
    user.email = None
    user.gender = ""
    user.is_staff = False
    user.is_superuser = False
    user.set_unusable_password()
    user.deleted_at = user.deleted_at or timezone.now()
    user.save()
    # Which devices they used is theirs too; the `RevokedToken` rows still refuse the tokens.
    LoginSession.objects.filter(user=user).delete()


def user_deactivate(*, user: User) -> None:
    """The user can no longer log in; their tokens stop working; realtime drops their sockets."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    send_after_commit(user_deactivated, sender=User, user=user)

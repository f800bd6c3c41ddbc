"""Account writes: signup, tokens, login sessions, profile, passwords, deactivation and
deletion."""

from __future__ import annotations

import logging
import threading

from bson import ObjectId
from django.conf import settings
from django.contrib.auth import authenticate, password_validation, user_logged_in
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connections, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from pymongo.errors import DuplicateKeyError
from rest_framework_simplejwt.exceptions import TokenError

from accounts import selectors, tokens
from accounts.models import DELETED_USERNAME_PREFIX, LoginSession, RevokedToken, User
from accounts.signals import session_ended, user_deactivated, user_deleting, user_signed_up
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


def _duplicate_key_fields(error: BaseException) -> set[str]:
    """The fields of the unique index a duplicate-key error names (from the driver's `details`:
    `keyPattern`, else `keyValue`), found on the error or on the one it wraps."""
    seen: BaseException | None = error
    while seen is not None:
        details = getattr(seen, "details", None)
        if isinstance(details, dict):
            found = [details, *details.get("writeErrors", [])]
            for entry in found:
                key = entry.get("keyPattern") or entry.get("keyValue")
                if isinstance(key, dict) and key:
                    return set(key)
        seen = seen.__cause__ or seen.__context__
    return set()


def _save_unique(user: User, **kwargs) -> None:
    """Save; a race past `_check_free` is decided by the unique indexes."""
    try:
        user.save(**kwargs)
    except (IntegrityError, DuplicateKeyError) as error:
        fields = _duplicate_key_fields(error)
        if fields & {"email", "email_key"}:
            raise _email_taken() from None
        if fields & {"username", "username_key"}:
            raise _username_taken() from None
        # No index named (another driver): the row that won the race answers.
        _check_free(username=user.username, email=user.email, user=user if user.pk else None)
        raise


def user_create(
    *, username: str, full_name: str, password: str, gender: str = "", email: str | None = None
) -> User:
    _check_free(username=username, email=email)
    user = User(username=username, full_name=full_name, gender=gender or "", email=email or None)
    user.set_password(password)
    _save_unique(user)
    send_after_commit(user_signed_up, sender=User, user=user)
    return user


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


# `user_update(email=UNCHANGED)`: the email stays as it is (None removes it).
UNCHANGED = _Unchanged()


def user_update(
    *,
    user: User,
    full_name: str | None = None,
    gender: str | None = None,
    username: str | None = None,
    email: str | _Unchanged | None = UNCHANGED,
    current_password: str | None = None,
) -> User:
    """Change the given parts of a profile (None: unchanged; `email`: UNCHANGED keeps it, None
    or "" removes it). Usernames and emails stay unique, ignoring case.

    A new email (or none) takes the current password: the email is where reset links go, so a
    stolen token must not be able to point them elsewhere. The password is checked before
    whether the address is free, so nobody learns which addresses have accounts without it.
    The old address, if any, is told of the change."""
    changed = []
    old_email = user.email
    if username is not None and username != user.username:
        user.username = username
        changed += ["username", "username_key"]
    else:
        username = None
    if not isinstance(email, _Unchanged) and (email or None) != user.email:
        if current_password is None:
            raise ValidationFailed(
                "Changing the email takes the current password.",
                fields={"currentPassword": ["Required to change the email."]},
            )
        password_check(user=user, password=current_password, field="currentPassword")
        user.email = email or None
        changed += ["email", "email_key"]
        new_email = user.email
    else:
        new_email = None
    _check_free(username=username, email=new_email, user=user)
    if full_name is not None and full_name != user.full_name:
        user.full_name = full_name
        changed.append("full_name")
    if gender is not None and gender != user.gender:
        user.gender = gender
        changed.append("gender")
    if changed:
        _save_unique(user, update_fields=changed)
    if "email" in changed and old_email:
        _email_changed_notice(user=user, old_email=old_email)
    return user


def _email_changed_notice(*, user: User, old_email: str) -> None:
    """Tell the old address that the account's email changed (after the commit, in a thread of
    its own: an SMTP server may be slow): if the owner did not do it, they know whom to ask."""
    context = {"user": user, "new_email": user.email}
    mail = EmailMultiAlternatives(
        subject="The email of your chat account changed",
        body=render_to_string("accounts/email_changed_email.txt", context),
        to=[old_email],
    )
    transaction.on_commit(
        lambda: threading.Thread(target=_send, args=(mail,), name=MAIL_THREAD, daemon=True).start()
    )


def user_authenticate(*, request, username: str, password: str) -> User:
    """One answer for unknown users and wrong passwords, so usernames can't be probed."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise InvalidCredentials()
    # As Django's `login()` does: `last_login` moves (Django's receiver), so reset links
    # issued before this login stop working (their token covers `last_login`).
    user_logged_in.send(sender=user.__class__, request=request, user=user)
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
    """End every live login session of the user but `keep`; returns how many ended. Bulk
    writes (one for the revocations, one for the rows); one announcement for all of the user's
    sockets when none is kept, else one per ended session (the kept one's sockets stay).
    Sessions past their expiry are over already: not counted, not announced."""
    live = LoginSession.objects.filter(
        user=user, ended_at=None, last_used_at__gte=selectors.login_session_expiry()
    )
    if keep:
        live = live.exclude(sid=keep)
    session_ids = list(live.values_list("sid", flat=True))
    if not session_ids:
        return 0
    tokens.sessions_revoke(user_id=str(user.pk), session_ids=session_ids)
    if keep:
        for session_id in session_ids:
            send_after_commit(
                session_ended, sender=User, user_id=str(user.pk), session_id=session_id
            )
    else:
        send_after_commit(session_ended, sender=User, user_id=str(user.pk), session_id=None)
    return len(session_ids)


def login_sessions_prune() -> int:
    """Delete the login-session rows that ended, or expired unused, longer than the refresh
    tokens' lifetime ago (a token of theirs is refused as expired by then), and the revoked
    tokens past their `expires_at`. Returns how many session rows went."""
    expiry = selectors.login_session_expiry()
    ended = LoginSession.objects.filter(ended_at__lt=expiry)
    expired = LoginSession.objects.filter(ended_at=None, last_used_at__lt=expiry)
    pruned = ended.delete()[0] + expired.delete()[0]
    RevokedToken.objects.filter(expires_at__lt=timezone.now()).delete()
    return pruned


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
    active user with this username or email, if they have an email. Says nothing either way:
    the lookup, the per-account limit and the mail all happen in a thread of its own, so the
    answer takes as long whether or not the account exists (an SMTP server may be slow)."""
    threading.Thread(
        target=_password_reset_mail, args=(login, base_url), name=MAIL_THREAD, daemon=True
    ).start()


def _password_reset_mail(login: str, base_url: str) -> None:
    try:
        user = user_find_for_reset(login=login)
        # Per account too, whichever of its names is asked (PASSWORD_RESET_RATE): nobody fills
        # a mailbox from many addresses. Over the limit nothing is sent.
        rate = settings.CHAT["PASSWORD_RESET_RATE"]
        if user is None or ratelimit.hit("password_reset_account", str(user.pk), rate):
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
        _send(mail)
    except Exception:
        logger.exception("could not handle a password reset request")
    finally:
        connections.close_all()  # this thread's own; it ends here


def _send(mail: EmailMultiAlternatives) -> None:
    try:
        mail.send()
    except Exception:
        logger.exception("could not send a mail")


def password_reset_user_of_uid(*, uid: str) -> User | None:
    """The active user a reset link's `uid` names, if any (the token is checked apart)."""
    try:
        user_id = force_str(urlsafe_base64_decode(uid))
    except (ValueError, TypeError):
        return None
    if not ObjectId.is_valid(user_id):
        return None
    return User.objects.filter(pk=ObjectId(user_id), is_active=True).first()


def password_reset_user(*, uid: str, token: str) -> User:
    """The user a reset link is for, if the link is genuine, unused and not expired."""
    user = password_reset_user_of_uid(uid=uid)
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
    so conversations still refer to it ("Deleted user").

    The first write makes the account inactive and marks it deleted (`deleted_at`) at once;
    the last one gives it its placeholder username (`del:<id>`). A deletion that stopped in
    between is pending (`selectors.user_list_deletion_pending`): running this again finishes
    it (`manage.py finish_account_deletions`, the admin's "Finish deletions" action)."""
    if user.is_active or user.deleted_at is None:
        user.is_active = False
        user.deleted_at = user.deleted_at or timezone.now()
        user.save(update_fields=["is_active", "deleted_at"])
    sessions_end_all(user=user)
    # Sessions from before login sessions were stored have no row: their sockets close too.
    send_after_commit(user_deactivated, sender=User, user=user)
    user_deleting.send(sender=User, user=user)
    # Which devices they used is theirs too; the `RevokedToken` rows still refuse the tokens.
    LoginSession.objects.filter(user=user).delete()
    user.username = f"{DELETED_USERNAME_PREFIX}{user.pk}"
    user.full_name = DELETED_FULL_NAME
    user.email = None
    user.gender = ""
    user.is_staff = False
    user.is_superuser = False
    user.set_unusable_password()
    user.save()


def user_deletions_finish() -> int:
    """Finish every pending account deletion (`user_delete` again); returns how many."""
    pending = selectors.user_list_deletion_pending()
    for user in pending:
        user_delete(user=user)
    return len(pending)


def user_deactivate(*, user: User) -> None:
    """The user can no longer log in; their tokens stop working; realtime drops their sockets."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    send_after_commit(user_deactivated, sender=User, user=user)

"""JWTs: simplejwt's tokens plus rotation and revocation stored in MongoDB.

Every login starts a *session* (`sid` claim, copied into each access token and kept across
refreshes). Refreshing revokes the old refresh token and issues a new pair; logging out revokes
the refresh token and ends the session, which lets the realtime layer close its sockets. A
refresh token presented again after it was exchanged means a copy of it is in other hands
(refresh-token reuse detection): the whole session ends, so the newer tokens of the chain stop
working too. (simplejwt's own token_blacklist app declares BigAutoField ids, which MongoDB
cannot store.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import Q
from django.utils import timezone
from pymongo.errors import DuplicateKeyError
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import cookies
from accounts.models import LoginSession, RevokedToken, User


class RefreshTokenReused(TokenError):
    """A refresh token that was already exchanged for a newer pair."""

    def __init__(self, token: ChatRefreshToken):
        super().__init__("Token was already used")
        self.token = token


class ChatRefreshToken(RefreshToken):
    def verify(self) -> None:
        super().verify()
        revoked = Q(jti=self["jti"])
        if session_id := self.get("sid", ""):
            revoked |= Q(session_id=session_id, logout=True)
        found = list(RevokedToken.objects.filter(revoked).values_list("logout", flat=True)[:2])
        if any(found):
            raise TokenError("The session has ended")
        if found:
            raise RefreshTokenReused(self)

    def revoke(self, *, logout: bool) -> None:
        RevokedToken.objects.get_or_create(
            jti=self["jti"],
            defaults={
                "user_id": self["user_id"],
                "session_id": self.get("sid", ""),
                "logout": logout,
                "expires_at": datetime.fromtimestamp(self["exp"], tz=UTC),
            },
        )


# `last_used_at` of a login session moves at most this often: a write per request would cost
# more than the read that checks the session.
TOUCH_INTERVAL = timedelta(minutes=5)


def issue_for(user: User, *, session_id: str | None = None, user_agent: str = "") -> dict[str, str]:
    """A token pair: of a new login session (a `LoginSession` row, with the client's
    `user_agent`), or of the existing `session_id` (a refresh, which touches its row)."""
    refresh = ChatRefreshToken.for_user(user)
    now = timezone.now()
    if session_id:
        row = _sessions().find_one_and_update(
            {"sid": session_id, "ended_at": None},
            {"$set": {"last_used_at": now}},
            projection={"created_at": 1},
        )
        started = row["created_at"].replace(tzinfo=UTC) if row else None
    else:
        session_id, started = uuid.uuid4().hex, now
        LoginSession.objects.create(
            sid=session_id,
            user=user,
            created_at=now,
            last_used_at=now,
            user_agent=clean_user_agent(user_agent),
        )
    refresh["sid"] = session_id
    if started is not None:
        # When the login session began (copied into its access tokens): the access cookie is
        # renewed without a refresh only within the refresh lifetime of it (accounts/cookies.py).
        refresh[cookies.SESSION_START_CLAIM] = int(started.timestamp())
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def clean_user_agent(raw: object) -> str:
    """What is kept of a `User-Agent` header: printable, at most 256 characters."""
    if not isinstance(raw, str):
        return ""
    text = "".join(c if c.isprintable() else " " for c in raw).strip()
    return text[: LoginSession.USER_AGENT_MAX]


def _sessions():
    return connection.get_collection(LoginSession._meta.db_table)


def parse_refresh(raw: str) -> ChatRefreshToken:
    """Raises TokenError if the token is forged, expired, of another type or revoked."""
    return ChatRefreshToken(raw)


def session_revoke(*, user_id: str, session_id: str) -> None:
    """Mark a login session as ended: its refresh tokens are refused, its sockets closed."""
    sessions_revoke(user_id=user_id, session_ids=[session_id])


def sessions_revoke(*, user_id: str, session_ids: list[str]) -> None:
    """`session_revoke` for many sessions of one user, in bulk writes: `ended_at` on their
    rows first (what every request's check reads, `session_has_ended`, so a failure between the
    writes leaves them refused, not half-ended), then the `session:<sid>` rows that refuse their
    refresh tokens (and end sessions from before the rows existed)."""
    now = timezone.now()
    _sessions().update_many(
        {"sid": {"$in": session_ids}, "ended_at": None}, {"$set": {"ended_at": now}}
    )
    jtis = [f"session:{sid}" for sid in session_ids]
    present = set(RevokedToken.objects.filter(jti__in=jtis).values_list("jti", flat=True))
    rows = [
        RevokedToken(
            jti=f"session:{sid}",
            user_id=ObjectId(user_id),
            session_id=sid,
            logout=True,
            # Every refresh token of the session expires before this.
            expires_at=now + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"],
        )
        for sid in session_ids
        if f"session:{sid}" not in present
    ]
    try:
        RevokedToken.objects.bulk_create(rows)
    except (IntegrityError, DuplicateKeyError):
        # A row appeared meanwhile (a logout racing this): one at a time, the unique `jti`
        # decides, and the session is ended either way.
        for row in rows:
            RevokedToken.objects.get_or_create(
                jti=row.jti,
                defaults={
                    "user_id": row.user_id, "session_id": row.session_id, "logout": True,
                    "expires_at": row.expires_at,
                },
            )  # fmt: skip


def ended_sessions(session_ids: list[str]) -> set[str]:
    """Which of these login sessions were logged out."""
    ended = RevokedToken.objects.filter(session_id__in=session_ids, logout=True)
    return set(ended.values_list("session_id", flat=True))


def session_is_live(*, user_id: str, session_id: str) -> bool:
    """True if the user exists and is active and this login session was not ended.

    `sessions_live` for one pair (the serving process asks it for many connects at once)."""
    return (user_id, session_id) in sessions_live([(user_id, session_id)])


def sessions_live(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Of these (user id, session id) pairs, those whose user exists and is active and whose
    login session was not ended: three indexed reads for all of them (users, sessions, and the
    `RevokedToken` rows of sessions without a row), however many, instead of two per pair.
    Touches `last_used_at` as `session_has_ended` does.

    For many socket connects at once (`realtime.batching`): each read costs this process more
    CPU than the answer it carries, and a reconnect storm asks thousands a second (measured:
    docs/benchmarks.md, "Profile of a connect")."""
    pairs = {(u, s) for u, s in pairs if ObjectId.is_valid(u)}
    if not pairs:
        return set()
    users = connection.get_collection(User._meta.db_table)
    active = {
        str(doc["_id"])
        for doc in users.find(
            {"_id": {"$in": sorted({ObjectId(u) for u, _ in pairs})}}, {"is_active": 1}
        )
        if doc.get("is_active") is True
    }
    sids = sorted({s for u, s in pairs if s and u in active})
    rows = {}
    if sids:
        for row in _sessions().find(
            {"sid": {"$in": sids}}, {"sid": 1, "ended_at": 1, "last_used_at": 1}
        ):
            rows[row["sid"]] = row
    ended = {sid for sid, row in rows.items() if row.get("ended_at") is not None}
    unknown = [sid for sid in sids if sid not in rows]
    if unknown:
        revoked = connection.get_collection(RevokedToken._meta.db_table)
        found = revoked.find({"session_id": {"$in": unknown}, "logout": True}, {"session_id": 1})
        ended.update(row["session_id"] for row in found)
    now = timezone.now()
    stale = [
        row["_id"]
        for sid, row in rows.items()
        if sid not in ended
        and (
            row.get("last_used_at") is None
            or row["last_used_at"].replace(tzinfo=UTC) < now - TOUCH_INTERVAL
        )
    ]
    if stale:
        # One write for them all: a write per session made a storm's batches wait on as many
        # round trips (and the embedded database's retryable-write bookkeeping costs it a scan
        # per write: docs/benchmarks.md, "Connect storms").
        _sessions().update_many({"_id": {"$in": stale}}, {"$set": {"last_used_at": now}})
    return {(u, s) for u, s in pairs if u in active and s not in ended}


def session_has_ended(session_id: str) -> bool:
    """Whether this login session has ended (asked on every authenticated request and socket
    connect); if not, it was used now: `last_used_at` moves when older than `TOUCH_INTERVAL`
    (at most one write per session per interval).

    One indexed read of the `LoginSession` row by sid, through the driver (see
    `session_is_live`). A session from before that table existed has no row: the `RevokedToken`
    written when it ended answers instead."""
    if not session_id:
        return False  # a token from before sessions existed
    row = _sessions().find_one({"sid": session_id}, {"ended_at": 1, "last_used_at": 1})
    if row is None:
        revoked = connection.get_collection(RevokedToken._meta.db_table)
        return revoked.find_one({"session_id": session_id, "logout": True}, {"_id": 1}) is not None
    if row.get("ended_at") is not None:
        return True
    now = timezone.now()
    last = row.get("last_used_at")
    if last is None or last.replace(tzinfo=UTC) < now - TOUCH_INTERVAL:
        # Conditional, so concurrent requests of one session write it once.
        _sessions().update_one(
            {"_id": row["_id"], "last_used_at": last}, {"$set": {"last_used_at": now}}
        )
    return False


def session_named_by(raw_access: str) -> tuple[str, str] | None:
    """`(user_id, session_id)` of a genuine access token, expired or not (logout ends the
    session of an expired token too); None if the token is forged or not an access token."""
    try:
        try:
            token = AccessToken(raw_access)
        except ExpiredTokenError:
            # PyJWT checks the signature before the expiry: the token is genuine, only old.
            token = AccessToken(raw_access, verify=False)
            token.verify_token_type()
    except TokenError:
        return None
    user_id, session_id = token.get("user_id"), token.get("sid", "")
    if not isinstance(user_id, str) or not isinstance(session_id, str):
        return None
    return user_id, session_id

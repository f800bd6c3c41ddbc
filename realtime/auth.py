"""Socket authentication: the same simplejwt access token as the REST API.

The token comes from the Socket.IO `auth` payload (`{token}`), or, for clients that cannot send
one, the `?token=` query parameter, or else from the browser's `jwt` cookie (the Origin check
of the handshake, `chatsite.origins.origin_allowed`, keeps other sites' pages from using it).
A client-claimed `?userId=` never decides who the socket is: a handshake that sends it without
an `auth` token is an original-mode socket (the reference design's front end, with its event
semantics, docs/realtime.md), refused unless it names the token's own user."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from urllib.parse import parse_qs

from bson import ObjectId
from django.http.cookie import parse_cookie
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts import cookies, selectors, tokens
from accounts.models import User
from realtime import events


@dataclasses.dataclass(frozen=True)
class Identity:
    user_id: str
    session_id: str
    # When the socket must re-authenticate. A socket opened with the cookie lives as long as
    # its login session (the browser renews the cookie without the socket's knowledge; ending
    # the session or deactivating the user still closes it): no expiry.
    expires_at: float
    via_cookie: bool = False
    # Connected as the reference design's front end does (`?userId=`, no `auth` token).
    original: bool = False

    def user(self) -> User:
        """The socket's user, as checked at connect (active, session not ended) and rechecked
        every REALTIME_AUTH_RECHECK_SECONDS, without a database lookup per event."""
        return User(pk=ObjectId(self.user_id), is_active=True)


def _raw_token(environ: dict, auth: object) -> tuple[str | None, bool]:
    """The access token and whether it came from the cookie."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"].removeprefix("Bearer ").strip(), False
    values = parse_qs(environ.get("QUERY_STRING", "")).get("token")
    if values:
        return values[0], False
    # Django's parser, as for requests: lenient with other sites' malformed cookies.
    cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(cookies.ACCESS_COOKIE)
    return (cookie, True) if cookie else (None, False)


def authenticate(
    environ: dict, auth: object, is_live: Callable[[str, str], bool] | None = None
) -> Identity:
    """Raise ConnectionRefusedError(`unauthorized` | `token_expired`) unless the token is a
    valid access token of an active user whose session has not been logged out.

    `is_live(user_id, session_id)` reads the latter (by default `tokens.session_is_live`; the
    serving process reads it for many connects at once, `realtime.batching`)."""
    from socketio.exceptions import ConnectionRefusedError

    raw, via_cookie = _raw_token(environ, auth)
    if not raw or len(raw) > 4096:
        raise ConnectionRefusedError(events.UNAUTHORIZED)
    try:
        token = AccessToken(raw)
    except ExpiredTokenError:
        raise ConnectionRefusedError(events.TOKEN_EXPIRED) from None
    except TokenError:
        raise ConnectionRefusedError(events.UNAUTHORIZED) from None
    user_id, session_id = token.get("user_id"), token.get("sid", "")
    if not isinstance(user_id, str) or not isinstance(session_id, str):
        raise ConnectionRefusedError(events.UNAUTHORIZED)
    claimed = _claimed_user_ids(environ, auth)
    if claimed is not None and claimed != [user_id]:
        raise ConnectionRefusedError(events.UNAUTHORIZED)
    if is_live is None:
        is_live = lambda u, s: tokens.session_is_live(user_id=u, session_id=s)  # noqa: E731
    if not is_live(user_id, session_id):
        raise ConnectionRefusedError(events.UNAUTHORIZED)
    expires_at = float("inf") if via_cookie else float(token["exp"])
    return Identity(
        user_id=user_id,
        session_id=session_id,
        expires_at=expires_at,
        via_cookie=via_cookie,
        original=claimed is not None,
    )


def _claimed_user_ids(environ: dict, auth: object) -> list[str] | None:
    """The `userId` values of an original-mode handshake (the query names the user and no
    `auth` token is sent), or None for any other handshake, whose query is not looked at."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return None
    return parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get("userId")


def sockets_to_disconnect(identities: dict[str, Identity], now: float) -> set[str]:
    """Of these sockets (sid → identity), the sids that must be disconnected: expired token,
    deactivated user or logged-out session."""
    if not identities:
        return set()
    active = selectors.user_ids_active(i.user_id for i in identities.values())
    ended = tokens.ended_sessions([i.session_id for i in identities.values() if i.session_id])
    return {
        sid
        for sid, i in identities.items()
        if i.expires_at <= now or i.user_id not in active or i.session_id in ended
    }

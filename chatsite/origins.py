"""Which origins a browser may call us from with our cookies, for REST and Socket.IO alike.

A browser sends `Origin` on cross-origin requests, on every WebSocket handshake and on every
unsafe request (POST, PATCH, DELETE, ...). Allowed: the server's own origin (`scheme://Host`,
as the client reached it) and CORS_ALLOWED_ORIGINS."""

from __future__ import annotations

from django.conf import settings


def own_origin(environ: dict) -> str:
    """`scheme://Host` of this request; the scheme from `X-Forwarded-Proto` only when
    TRUST_X_FORWARDED_PROTO says a TLS-terminating proxy in front sets it."""
    scheme = environ.get("wsgi.url_scheme", "http")
    if settings.REALTIME["TRUST_X_FORWARDED_PROTO"]:
        scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme)
    return f"{scheme.split(',')[0].strip()}://{environ.get('HTTP_HOST', '')}"


def origin_trusted(origin: str | None, environ: dict) -> bool:
    """Whether `origin` (a header value) is our own origin or one of CORS_ALLOWED_ORIGINS."""
    if not origin:
        return False
    return origin in settings.CORS_ALLOWED_ORIGINS or origin == own_origin(environ)


def origin_allowed(origin: str | None, environ: dict) -> bool:
    """The Socket.IO handshake's check: browsers send Origin; allow our own origin and the CORS
    list. Clients that send none (mobile apps, servers) are not subject to the same-origin
    policy and authenticate by token (or by a cookie they hold themselves)."""
    return not origin or origin_trusted(origin, environ)


def same_origin_browser(environ: dict) -> bool:
    """A request a browser made from a page of our own origin (Fetch metadata, or Origin)."""
    if environ.get("HTTP_SEC_FETCH_SITE") == "same-origin":
        return True
    origin = environ.get("HTTP_ORIGIN")
    return bool(origin) and origin == own_origin(environ)

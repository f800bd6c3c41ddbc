"""Browser sessions in httpOnly cookies: the access token in `jwt` (the reference design's
name), the refresh token in `jwt_refresh`, sent only to the refresh route.

No script of the page ever holds a token: the browser sends the cookies, the server renews
them (`POST /api/auth/refresh` with no body, and a fresh access cookie on any request once
the current one is past half its life)."""

from __future__ import annotations

import time

from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

ACCESS_COOKIE = "jwt"
REFRESH_COOKIE = "jwt_refresh"
REFRESH_PATH = "/api/auth/refresh"
# The claim of every token that says when its login session began (epoch seconds; set by
# accounts.tokens, which DRF's start-up cannot import before this module).
SESSION_START_CLAIM = "sst"
# Where `AccessCookieRenewalMiddleware` finds a renewed access token (on the Django request).
_RENEWED = "renewed_access_cookie"


def _max_age() -> int:
    # The access cookie outlives its token: a browser that comes back with an expired token
    # gets `token_expired` (refresh and retry) rather than `not_authenticated` (log in).
    return int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds())


def _set(response, name: str, value: str, *, path: str, samesite: str) -> None:
    response.set_cookie(
        name, value, max_age=_max_age(), path=path, httponly=True,
        secure=settings.AUTH_COOKIES["SECURE"], samesite=samesite,
    )  # fmt: skip


def set_session_cookies(response, tokens: dict[str, str]) -> None:
    """Both cookies of a new or refreshed login session."""
    set_access_cookie(response, tokens["access"])
    _set(response, REFRESH_COOKIE, tokens["refresh"], path=REFRESH_PATH, samesite="Strict")


def set_access_cookie(response, access: str) -> None:
    _set(response, ACCESS_COOKIE, access, path="/", samesite=settings.AUTH_COOKIES["SAMESITE"])


def clear_session_cookies(response) -> None:
    response.delete_cookie(ACCESS_COOKIE, path="/", samesite=settings.AUTH_COOKIES["SAMESITE"])
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, samesite="Strict")


def renew_if_old(request, token: AccessToken) -> None:
    """Past half its life, the access cookie is renewed with the response (same login
    session), so a page that keeps using the API keeps its session without refreshing (the
    reference design's front end never refreshes).

    Only within the refresh-token lifetime of the session's start: a copied access token
    replayed as a cookie is not renewed forever. Past that, the page refreshes (or logs in)."""
    now = time.time()
    lifetime = AccessToken.lifetime.total_seconds()
    started = token.get(SESSION_START_CLAIM)
    if token["exp"] - now > lifetime / 2 or not token.get("sid") or not isinstance(started, int):
        return
    if now + lifetime > started + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds():
        return
    fresh = AccessToken()
    for claim in ("user_id", "sid", SESSION_START_CLAIM):
        fresh[claim] = token[claim]
    setattr(request, _RENEWED, str(fresh))


class AccessCookieRenewalMiddleware:
    """Sets the access cookie `renew_if_old` prepared during the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        renewed = getattr(request, _RENEWED, None)
        if renewed and response.status_code < 400:
            set_access_cookie(response, renewed)
        return response

"""REST authentication: the access token from `Authorization: Bearer` (API and mobile clients)
or, without that header, from the `jwt` cookie (browsers; accounts/cookies.py). Both refuse
expired and forged tokens, deactivated users and ended login sessions alike."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from accounts import cookies
from chatsite.origins import origin_trusted


class OriginNotAllowed(PermissionDenied):
    # A DRF exception, not a ChatError: DRF imports this module while chatsite.errors is
    # still importing DRF. `stable_code` is the code the error handler answers.
    stable_code = "origin_not_allowed"
    default_detail = (
        "A request that changes something with the session cookie must come from a page of "
        "this site (or of an allowed origin)."
    )


class BearerAuthentication(JWTAuthentication):
    """simplejwt's access-token check (`Authorization: Bearer <token>`).

    Refuses tokens of deactivated users (simplejwt's `CHECK_USER_IS_ACTIVE`) and of ended login
    sessions, and answers 401 with `WWW-Authenticate: Bearer` so clients know to refresh."""

    www_authenticate_realm = "api"

    def get_user(self, validated_token):
        """simplejwt's lookup of the token's user, made through the driver: it runs on every
        API request, and as an ORM query its query building would cost more CPU than the read
        (measured: docs/benchmarks.md, "Measurements behind the code")."""
        from accounts import tokens  # DRF imports this module at start-up, before the apps
        from accounts.selectors import user_get_by_id

        if api_settings.USER_ID_CLAIM not in validated_token:
            raise InvalidToken(_("Token contained no recognizable user identification"))
        user = user_get_by_id(validated_token[api_settings.USER_ID_CLAIM])
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        session_id = validated_token.get("sid", "")
        if not isinstance(session_id, str) or tokens.session_has_ended(session_id):
            raise AuthenticationFailed(_("This login session has ended"), code="session_ended")
        return user


class CookieAuthentication(BearerAuthentication):
    """The access token from the `jwt` cookie, when the request has no `Authorization` header.

    A cookie travels with every request the browser makes to us, whichever page caused it, so
    an unsafe method authenticated by it must come from a trusted `Origin` (ours or
    CORS_ALLOWED_ORIGINS): a cross-site form or fetch is refused `origin_not_allowed`."""

    refuses_foreign_origins = True  # the OpenAPI schema lists `origin_not_allowed`

    def authenticate(self, request):
        if self.get_header(request) is not None:
            return None  # the Authorization header decides (BearerAuthentication)
        raw = request.COOKIES.get(cookies.ACCESS_COOKIE)
        if not raw:
            return None
        if request.method not in SAFE_METHODS and not origin_trusted(
            request.META.get("HTTP_ORIGIN"), request.META
        ):
            raise OriginNotAllowed()
        token = self.get_validated_token(raw.encode())
        user = self.get_user(token)
        cookies.renew_if_old(request._request, token)
        return user, token


class BearerAuthenticationScheme(SimpleJWTScheme):
    """Describes `BearerAuthentication` in the OpenAPI schema, as simplejwt's own scheme (without
    it drf-spectacular warns and `check --deploy` is not clean)."""

    target_class = BearerAuthentication

    def get_security_definition(self, auto_schema):
        return {
            **super().get_security_definition(auto_schema),
            "description": (
                "`Authorization: Bearer <access>`, the access token of signup, login or "
                "refresh. A refused token answers 401 `token_expired` (refresh and retry), "
                "`token_invalid`, `user_inactive` or `session_ended`."
            ),
        }


class CookieAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = CookieAuthentication
    name = "jwtCookieAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": cookies.ACCESS_COOKIE,
            "description": (
                "The httpOnly `jwt` cookie that signup, login and refresh set for browsers "
                "(used when there is no `Authorization` header). Unsafe methods need a trusted "
                "`Origin` (403 `origin_not_allowed`). Refusals as for bearerAuth."
            ),
        }

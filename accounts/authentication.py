from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings


class BearerAuthentication(JWTAuthentication):
    """simplejwt's access-token check (`Authorization: Bearer <token>`).

    Refuses tokens of deactivated users (simplejwt's `CHECK_USER_IS_ACTIVE`), and answers 401
    with `WWW-Authenticate: Bearer` so clients know to refresh."""

    www_authenticate_realm = "api"

    def get_user(self, validated_token):
        """simplejwt's lookup of the token's user, made through the driver: it runs on every
        API request, and as an ORM query its query building would cost more CPU than the read
        (measured: docs/benchmarks.md, "Measurements behind the code")."""
        # DRF imports this module at start-up, before the models can be.
        from accounts.selectors import user_get_by_id
        from accounts.tokens import session_not_ended

        if api_settings.USER_ID_CLAIM not in validated_token:
            raise InvalidToken(_("Token contained no recognizable user identification"))
        user = user_get_by_id(validated_token[api_settings.USER_ID_CLAIM])
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        session_id = validated_token.get("sid", "")
        if not isinstance(session_id, str) or not session_not_ended(
            user_id=str(user.pk), session_id=session_id
        ):
            raise AuthenticationFailed(_("The login session has ended"), code="session_ended")
        return user


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
                "`token_invalid`, `user_inactive` or `session_ended` (logged out, ended from "
                "another device, by a password change or by an admin)."
            ),
        }

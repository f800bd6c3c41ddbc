from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication


class BearerAuthentication(JWTAuthentication):
    """simplejwt's access-token check (`Authorization: Bearer <token>`).

    Refuses tokens of deactivated users (simplejwt's `CHECK_USER_IS_ACTIVE`), and answers 401
    with `WWW-Authenticate: Bearer` so clients know to refresh."""

    www_authenticate_realm = "api"


class BearerAuthenticationScheme(SimpleJWTScheme):
    """Describes `BearerAuthentication` in the OpenAPI schema, as simplejwt's own scheme (without
    it drf-spectacular warns and `check --deploy` is not clean)."""

    target_class = BearerAuthentication

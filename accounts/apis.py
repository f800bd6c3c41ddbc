import contextlib

from django.contrib.auth import logout as session_logout
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

from accounts import cookies, selectors, services, tokens
from accounts.authentication import OriginNotAllowed
from accounts.serializers import (
    AuthResultSerializer,
    LoginSerializer,
    LogoutSerializer,
    MessageResultSerializer,
    RefreshSerializer,
    SignupSerializer,
    TokenPairSerializer,
    UserListQuerySerializer,
    UserSerializer,
)
from accounts.throttles import LoginRateThrottle, SignupRateThrottle
from chatsite.openapi import integer_parameter, links, raises
from chatsite.origins import origin_trusted

USER_LIST_LIMIT = 1000


def _auth_result(user, tokens) -> dict:
    return {**UserSerializer(user).data, **tokens}


FOREIGN_PAGE = (403, OriginNotAllowed.stable_code)


def _refuse_foreign_pages(request) -> None:
    """A browser page of another site must not log someone in or out, nor renew their session
    (the answer sets cookies: login CSRF). Clients that send no `Origin` are not browsers."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin and not origin_trusted(origin, request.META):
        raise OriginNotAllowed()


def _session_response(user, tokens, *, status_code=status.HTTP_200_OK) -> Response:
    response = Response(_auth_result(user, tokens), status=status_code)
    cookies.set_session_cookies(response, tokens)
    return response


class SignupApi(APIView):
    """Create an account and log it in: answers the user and a token pair."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [SignupRateThrottle]

    @extend_schema(
        operation_id="auth_signup",
        request=SignupSerializer,
        responses={201: AuthResultSerializer, **raises(services.UsernameTaken, FOREIGN_PAGE)},
    )
    @links(
        201,
        messages_send={"parameters": {"user_id": "$response.body#/_id"}},
        messages_list={"parameters": {"id": "$response.body#/_id"}},
    )
    def post(self, request):
        _refuse_foreign_pages(request)
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.user_create(
            username=data["username"],
            full_name=data["fullName"],
            password=data["password"],
            gender=data.get("gender", ""),
        )
        pair = services.tokens_issue(user=user)
        return _session_response(user, pair, status_code=status.HTTP_201_CREATED)


class LoginApi(APIView):
    """Exchange a username and password for a token pair."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=LoginSerializer,
        responses={200: AuthResultSerializer, **raises(services.InvalidCredentials, FOREIGN_PAGE)},
    )
    def post(self, request):
        _refuse_foreign_pages(request)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_authenticate(request=request, **serializer.validated_data)
        pair = services.tokens_issue(user=user)
        return _session_response(user, pair)


class RefreshApi(APIView):
    """Exchange a refresh token for a new access token and a new refresh token (the old
    refresh token is revoked). Browsers send no body: the `jwt_refresh` cookie is the refresh
    token, and both cookies are set anew."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **raises(services.InvalidRefreshToken, FOREIGN_PAGE)},
    )
    def post(self, request):
        _refuse_foreign_pages(request)
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refresh = serializer.validated_data.get("refresh")
        if refresh:
            return Response(services.tokens_refresh(refresh=refresh))
        refresh = request.COOKIES.get(cookies.REFRESH_COOKIE)
        if not refresh:
            raise services.InvalidRefreshToken("No refresh token: send one, or its cookie.")
        pair = services.tokens_refresh(refresh=refresh)
        response = Response(pair)
        cookies.set_session_cookies(response, pair)
        return response


class LogoutApi(APIView):
    """End a login session: the one of the given refresh token or, without a body, the one the
    access token names (`Authorization` header or `jwt` cookie; expired tokens too). Clears
    the session cookies; the session's sockets close on every process."""

    permission_classes = [AllowAny]

    def perform_authentication(self, request):
        # The refresh token is the proof: an expired access token sent along (clients send
        # theirs on every call) must not stop the logout.
        with contextlib.suppress(AuthenticationFailed):
            request.user  # noqa: B018

    @extend_schema(
        request=LogoutSerializer,
        responses={
            200: MessageResultSerializer,
            **raises(services.InvalidRefreshToken, FOREIGN_PAGE),
        },
    )
    def post(self, request):
        _refuse_foreign_pages(request)
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refresh = serializer.validated_data.get("refresh")
        if refresh:
            services.tokens_revoke(refresh=refresh)
        elif session := _session_of_access_token(request):
            services.session_end(user_id=session[0], session_id=session[1])
        if request.user.is_authenticated:
            session_logout(request._request)
        response = Response({"message": "Logged out successfully"})
        cookies.clear_session_cookies(response)
        return response


def _session_of_access_token(request) -> tuple[str, str] | None:
    """The login session the request's access token names, even if the token has expired."""
    if isinstance(request.auth, AccessToken):
        return str(request.user.pk), request.auth.get("sid", "")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    raw = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    raw = raw or request.COOKIES.get(cookies.ACCESS_COOKIE, "")
    return tokens.session_named_by(raw) if raw and len(raw) <= 4096 else None


class MeApi(APIView):
    """The authenticated user."""

    @extend_schema(responses={200: UserSerializer})
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class UserListApi(APIView):
    """Active users other than the caller, for the sidebar (reference: GET /api/users)."""

    @extend_schema(
        parameters=[
            UserListQuerySerializer,
            integer_parameter("limit", 1, USER_LIST_LIMIT, "At most this many (default 500)."),
        ],
        responses={200: UserSerializer(many=True)},
    )
    def get(self, request):
        query = UserListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        search = query.validated_data.get("search", "")
        limit = selectors.parse_limit(
            request.query_params.get("limit"), default=500, maximum=USER_LIST_LIMIT
        )
        users = selectors.user_list_for_sidebar(user=request.user, search=search, limit=limit)
        return Response(UserSerializer(users, many=True).data)

import contextlib

from django.contrib.auth import logout as session_logout
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

from accounts import selectors, services
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

USER_LIST_LIMIT = 1000


def _auth_result(user, tokens) -> dict:
    return {**UserSerializer(user).data, **tokens}


class SignupApi(APIView):
    """Create an account and log it in: answers the user and a token pair."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [SignupRateThrottle]

    @extend_schema(
        operation_id="auth_signup",
        request=SignupSerializer,
        responses={201: AuthResultSerializer, **raises(services.UsernameTaken)},
    )
    @links(
        201,
        messages_send={"parameters": {"user_id": "$response.body#/_id"}},
        messages_list={"parameters": {"id": "$response.body#/_id"}},
    )
    def post(self, request):
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.user_create(
            username=data["username"],
            full_name=data["fullName"],
            password=data["password"],
            gender=data.get("gender", ""),
        )
        tokens = services.tokens_issue(user=user)
        return Response(_auth_result(user, tokens), status=status.HTTP_201_CREATED)


class LoginApi(APIView):
    """Exchange a username and password for a token pair."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=LoginSerializer,
        responses={200: AuthResultSerializer, **raises(services.InvalidCredentials)},
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_authenticate(request=request, **serializer.validated_data)
        tokens = services.tokens_issue(user=user)
        return Response(_auth_result(user, tokens))


class RefreshApi(APIView):
    """Exchange a refresh token for a new access token and a new refresh token (the old
    refresh token is blacklisted)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **raises(services.InvalidRefreshToken)},
    )
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.tokens_refresh(refresh=serializer.validated_data["refresh"]))


class LogoutApi(APIView):
    """Revoke the given refresh token (and end the browser session, if any)."""

    permission_classes = [AllowAny]

    def perform_authentication(self, request):
        # The refresh token is the proof: an expired access token sent along (clients send
        # theirs on every call) must not stop the logout.
        with contextlib.suppress(AuthenticationFailed):
            request.user  # noqa: B018

    @extend_schema(
        request=LogoutSerializer,
        responses={200: MessageResultSerializer, **raises(services.InvalidRefreshToken)},
    )
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refresh = serializer.validated_data.get("refresh")
        if refresh:
            services.tokens_revoke(refresh=refresh)
        elif isinstance(request.auth, AccessToken):
            # No refresh token: the access token names the session to end.
            services.session_end(
                user_id=str(request.user.pk), session_id=request.auth.get("sid", "")
            )
        if request.user.is_authenticated:
            session_logout(request._request)
        return Response({"message": "Logged out successfully"})


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

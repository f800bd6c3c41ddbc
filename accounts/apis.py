import contextlib

from django.conf import settings
from django.contrib.auth import logout as session_logout
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

from accounts import cookies, selectors, services, tokens
from accounts.authentication import OriginNotAllowed
from accounts.serializers import (
    AccountDeleteSerializer,
    AuthResultSerializer,
    LoginSerializer,
    LoginSessionSerializer,
    LogoutSerializer,
    MeSerializer,
    MessageResultSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    RefreshSerializer,
    SignupSerializer,
    TokenPairSerializer,
    UserListQuerySerializer,
    UserSerializer,
)
from accounts.throttles import (
    LoginRateThrottle,
    PasswordCheckRateThrottle,
    PasswordResetConfirmRateThrottle,
    PasswordResetRateThrottle,
    SignupRateThrottle,
)
from chatsite.openapi import integer_parameter, links, raises
from chatsite.origins import origin_trusted, same_origin_browser

USER_LIST_LIMIT = 1000


def _auth_result(user, tokens) -> dict:
    return {**UserSerializer(user).data, **tokens}


def _user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")


def current_session_id(request) -> str:
    """The login session of the token this request was authenticated with ("" for others,
    such as the admin's session cookie)."""
    if isinstance(request.auth, AccessToken):
        sid = request.auth.get("sid", "")
        return sid if isinstance(sid, str) else ""
    return ""


FOREIGN_PAGE = (403, OriginNotAllowed.stable_code)


def _refuse_foreign_pages(request) -> None:
    """A browser page of another site must not log someone in or out, nor renew their session
    (the answer sets cookies: login CSRF). Clients that send no `Origin` are not browsers."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin and not origin_trusted(origin, request.META):
        raise OriginNotAllowed()


def _session_response(request, user, tokens, *, status_code=status.HTTP_200_OK) -> Response:
    """The user, the session cookies, and the tokens in the body for every client but a page
    of our own origin: a script there (an injected one, an extension) can't leak what the page
    never receives."""
    body = _auth_result(user, tokens)
    if same_origin_browser(request.META):
        body = UserSerializer(user).data
    response = Response(body, status=status_code)
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
        responses={
            201: AuthResultSerializer,
            **raises(services.UsernameTaken, services.EmailTaken, FOREIGN_PAGE),
        },
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
            email=data.get("email"),
        )
        pair = services.tokens_issue(user=user, user_agent=_user_agent(request))
        return _session_response(request, user, pair, status_code=status.HTTP_201_CREATED)


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
        pair = services.tokens_issue(user=user, user_agent=_user_agent(request))
        return _session_response(request, user, pair)


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
        from_cookie = not refresh
        if from_cookie:
            refresh = request.COOKIES.get(cookies.REFRESH_COOKIE)
        if not refresh:
            raise services.InvalidRefreshToken("No refresh token: send one, or its cookie.")
        pair = services.tokens_refresh(refresh=refresh)
        # A page of our own origin gets the new pair as cookies only (see _session_response).
        browser = same_origin_browser(request.META)
        response = Response({} if browser else pair)
        if from_cookie or browser:
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
    """The authenticated user's own account: read it, change it, delete it."""

    # DELETE carries a body (the password); the schema says so (chatsite.openapi).
    delete_has_body = True

    def get_throttles(self):
        # A change may check the password (a new email) and answers whether a username or
        # email is taken: limited per user, as the password checks are.
        if self.request.method in ("PATCH", "DELETE"):
            return [PasswordCheckRateThrottle()]
        return super().get_throttles()

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(
        operation_id="auth_me_update",
        request=MeUpdateSerializer,
        responses={
            200: MeSerializer,
            **raises(services.UsernameTaken, services.EmailTaken, services.WrongPassword),
        },
    )
    def patch(self, request):
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.user_update(
            user=request.user,
            full_name=data.get("fullName"),
            gender=data.get("gender"),
            username=data.get("username"),
            email=(data["email"] or None) if "email" in data else services.UNCHANGED,
            current_password=data.get("currentPassword"),
        )
        return Response(MeSerializer(user).data)

    @extend_schema(
        operation_id="auth_me_delete",
        request=AccountDeleteSerializer,
        responses={204: None, **raises(services.WrongPassword)},
    )
    def delete(self, request):
        serializer = AccountDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_check(
            user=request.user, password=serializer.validated_data["password"], field="password"
        )
        services.user_delete(user=request.user)
        if request.user.is_authenticated:
            session_logout(request._request)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        cookies.clear_session_cookies(response)
        return response


SESSION_ID_PARAMETER = OpenApiParameter(
    "session_id",
    {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    OpenApiParameter.PATH,
    required=True,
    description="A login session's `id` (from `GET /api/auth/sessions`).",
)


class SessionListApi(APIView):
    """The caller's live login sessions (devices), most recently used first."""

    @extend_schema(
        operation_id="auth_sessions_list", responses={200: LoginSessionSerializer(many=True)}
    )
    def get(self, request):
        sessions = selectors.login_session_list_for_user(user=request.user)
        context = {"current_sid": current_session_id(request)}
        return Response(LoginSessionSerializer(sessions, many=True, context=context).data)


class SessionEndApi(APIView):
    """End one of the caller's login sessions: its tokens stop working, its sockets close."""

    @extend_schema(
        operation_id="auth_sessions_end",
        parameters=[SESSION_ID_PARAMETER],
        responses={204: None, **raises(services.SessionNotFound)},
    )
    def delete(self, request, session_id: str):
        services.session_end_for_user(user=request.user, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    """Change the caller's password; every other login session ends, this one stays."""

    throttle_classes = [PasswordCheckRateThrottle]

    @extend_schema(
        operation_id="auth_password_change",
        request=PasswordChangeSerializer,
        responses={200: MessageResultSerializer, **raises(services.WrongPassword)},
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.password_change(
            user=request.user,
            current=data["currentPassword"],
            new=data["newPassword"],
            session_id=current_session_id(request),
        )
        return Response({"message": "Password changed"})


PASSWORD_RESET_ANSWER = {
    "message": "If an account with an email address matches, a link to set a new password "
    "has been sent to it."
}


class PasswordResetApi(APIView):
    """Ask for a password reset link by email. The answer is the same whether or not the
    account exists."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [PasswordResetRateThrottle]

    @extend_schema(
        operation_id="auth_password_reset",
        request=PasswordResetRequestSerializer,
        responses={202: MessageResultSerializer},
    )
    def post(self, request):
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        base_url = settings.PUBLIC_URL or request.build_absolute_uri("/")
        services.password_reset_request(login=serializer.validated_data["login"], base_url=base_url)
        return Response(PASSWORD_RESET_ANSWER, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(APIView):
    """Set a new password with the `uid` and `token` of a reset link (for API clients; people
    open the link's page). Every login session of the user ends."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [PasswordResetConfirmRateThrottle]

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        request=PasswordResetConfirmSerializer,
        responses={200: MessageResultSerializer, **raises(services.ResetLinkInvalid)},
    )
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.password_reset_confirm(
            uid=data["uid"], token=data["token"], new=data["newPassword"]
        )
        return Response({"message": "Password changed; log in with the new password"})


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

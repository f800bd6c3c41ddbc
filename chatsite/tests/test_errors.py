"""Errors under /api/ answer the documented JSON shape (`{"error", "code"}`) whatever DEBUG is,
and no error page prints the password of a connection string.

With DEBUG on (the `make run` default), Django answers some failures itself with its debug
page, before any of the project's handlers run: an oversized body, an unknown URL, a `Host`
not in ALLOWED_HOSTS, a crash. These tests start the real server with DEBUG on."""

from __future__ import annotations

import sys

import pytest
import requests
from django.urls import include, path
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter
from rest_framework.views import APIView

from realtime.tests.clients import TIMEOUT

# Anything that would show the response is Django's debug page.
DEBUG_PAGE_MARKS = ("<html", "Traceback", "MONGODB_URI", "SECRET_KEY", "DATABASES")


@pytest.fixture(scope="module", params=["eventlet", "asgi"])
def debug_server(request, chat_server_factory):
    """The real server with DEBUG on, under WSGI (eventlet) and ASGI (uvicorn)."""
    return chat_server_factory(request.param, DEBUG="true", MAX_REQUEST_BYTES="1024")


def assert_json_error(response, status: int, body: dict) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == body
    for mark in DEBUG_PAGE_MARKS:
        assert mark not in response.text


# --- with DEBUG on, over HTTP ----------------------------------------------------------------


def test_an_oversized_body_is_413(debug_server):
    payload = {"username": "a" * 2000, "password": "irrelevant"}

    response = requests.post(f"{debug_server.url}/api/auth/login", json=payload, timeout=TIMEOUT)

    assert_json_error(
        response,
        413,
        {"error": "The request body is larger than 1024 bytes.", "code": "request_too_large"},
    )


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("url", ["/api/no-such-thing", "/api/messages/a/b/c", "/api/auth/"])
def test_an_unknown_api_route_is_404(debug_server, method, url):
    response = requests.request(method, debug_server.url + url, timeout=TIMEOUT)

    assert_json_error(response, 404, {"error": "Not found.", "code": "not_found"})


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "bad host", "[::2]"])
@pytest.mark.parametrize("url", ["/api/users", "/api/no-such-thing", "/api/auth/login"])
def test_a_host_not_in_allowed_hosts_is_400(debug_server, host, url):
    response = requests.get(debug_server.url + url, headers={"Host": host}, timeout=TIMEOUT)

    assert_json_error(response, 400, {"error": "Bad request.", "code": "bad_request"})


def test_the_api_itself_still_answers(debug_server):
    response = requests.get(f"{debug_server.url}/api/users", timeout=TIMEOUT)

    assert_json_error(
        response,
        401,
        {"error": "Authentication credentials were not provided.", "code": "not_authenticated"},
    )


# --- a crash, in process ---------------------------------------------------------------------


def crash(request):
    raise RuntimeError("a bug")


class CrashApi(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError("a bug in an API view")


urlpatterns = [
    path("api/crash", crash),
    path("api/crash-api", CrashApi.as_view()),
    path("", include("chatsite.urls")),
]
handler500 = "chatsite.views.internal_error"


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("url", ["/api/crash", "/api/crash-api"])
def test_a_crash_under_api_is_500_json(client, settings, debug, url):
    settings.DEBUG = debug
    client.raise_request_exception = False

    response = client.get(url)

    assert_json_error(response, 500, {"error": "Internal server error.", "code": "internal_error"})


# --- what error pages show -------------------------------------------------------------------

MONGODB = "mongodb://chat:mongo-pw-1@db1.example:27017,db2.example:27017/chat?replicaSet=rs0"
REDIS = "redis://:redis-pw-2@cache.example:6379/0"
AMQP = "amqp://guest:local-pw-3@queue.example/"
NOT_A_PASSWORD = "https://example.com:8443/@someone"


def error_pages(request, connection_string: str) -> tuple[str, str]:
    """The debug page (HTML) and the report mailed to ADMINS (text) of an error in a function
    with a connection string in a local variable."""
    try:
        raise RuntimeError("could not connect")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    return reporter.get_traceback_html(), reporter.get_traceback_text()


def test_error_pages_hide_the_password_of_connection_strings(rf, settings):
    settings.MONGODB_URI = MONGODB
    settings.REDIS_URL = REDIS
    settings.CHAT_TEST_BACKENDS = {"default": {"HOST": MONGODB}, "caches": [REDIS]}
    settings.CHAT_TEST_LINK = NOT_A_PASSWORD
    request = rf.get("/api/users", HTTP_X_UPSTREAM=REDIS)

    html, text = error_pages(request, AMQP)

    for page in (html, text):
        for password in ("mongo-pw-1", "redis-pw-2"):
            assert password not in page
        # The rest stays readable: which hosts, which user, which database.
        assert "mongodb://chat:********************@db1.example:27017,db2.example:27017" in page
        assert "redis://:********************@cache.example:6379/0" in page
        assert NOT_A_PASSWORD in page
    # Local variables are shown on the debug page only.
    assert "local-pw-3" not in html
    assert "amqp://guest:********************@queue.example/" in html


def test_the_filter_is_a_safe_exception_reporter_filter(rf):
    from django.views.debug import get_exception_reporter_filter

    reporter_filter = get_exception_reporter_filter(rf.get("/"))

    assert isinstance(reporter_filter, SafeExceptionReporterFilter)
    assert type(reporter_filter) is not SafeExceptionReporterFilter
    # Settings named like secrets are still hidden whole, as Django does.
    assert reporter_filter.cleanse_setting("API_TOKEN", "abc") == "********************"
    assert reporter_filter.cleanse_setting("URL", "https://example.com/a:b@c") == (
        "https://example.com/a:b@c"
    )
    assert reporter_filter.cleanse_setting("URLS", ["https://u:p@example.com/"]) == [
        "https://u:********************@example.com/"
    ]

"""Answers to a page of the server's own origin carry no token: signup, login and refresh set
the session cookies and leave `access` and `refresh` out of the body, so a script on the page
never sees them. Every other client (no browser headers, another origin) gets them as before.
Deleting the account clears the cookies. (Over real HTTP and in Chromium:
realtime/tests/test_chat_page_tokens.py.)"""

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, signup_payload

pytestmark = pytest.mark.django_db

OWN_ORIGIN = "http://testserver"  # Django's test client's host
SAME_ORIGIN = [
    pytest.param({"HTTP_SEC_FETCH_SITE": "same-origin"}, id="fetch-metadata"),
    pytest.param({"HTTP_ORIGIN": OWN_ORIGIN}, id="own-origin"),
]
OTHER_CLIENTS = [
    pytest.param({}, id="no-browser-headers"),
    pytest.param({"HTTP_SEC_FETCH_SITE": "cross-site"}, id="cross-site"),
    pytest.param({"HTTP_SEC_FETCH_SITE": "none"}, id="typed-in-the-address-bar"),
]


@pytest.fixture
def api():
    """A client whose requests name their host, as a browser's do (the own-origin check)."""
    return APIClient(HTTP_HOST="testserver")


def signup(api, headers: dict):
    return api.post("/api/auth/signup", signup_payload(), format="json", **headers)


def login(api, headers: dict):
    body = {"username": "dana", "password": PASSWORD}
    return api.post("/api/auth/login", body, format="json", **headers)


def assert_cookies_set(response) -> None:
    assert response.cookies["jwt"].value and response.cookies["jwt"]["httponly"]
    assert response.cookies["jwt_refresh"].value and response.cookies["jwt_refresh"]["httponly"]


@pytest.mark.parametrize("headers", SAME_ORIGIN)
def test_our_own_page_gets_cookies_and_no_tokens(api, headers):
    answers = [signup(api, headers), login(api, headers)]
    api.cookies.pop("jwt")  # the refresh cookie alone renews the session
    # (A browser sends its Origin with every POST.)
    answers.append(api.post("/api/auth/refresh", **{"HTTP_ORIGIN": OWN_ORIGIN, **headers}))

    for response in answers:
        assert response.status_code in (200, 201), response.content
        body = response.json()
        assert "access" not in body and "refresh" not in body, body
        assert b"eyJ" not in response.content
        assert_cookies_set(response)
    assert answers[0].json()["username"] == answers[1].json()["username"] == "dana"
    assert api.get("/api/auth/me").json()["username"] == "dana"


@pytest.mark.parametrize("headers", SAME_ORIGIN)
def test_a_refresh_token_sent_by_our_page_comes_back_as_cookies(api, headers):
    pair = signup(api, {}).json()
    api.cookies.clear()

    response = api.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json", **headers)

    assert response.status_code == 200, response.content
    assert response.json() == {}
    assert_cookies_set(response)


@pytest.mark.parametrize("headers", OTHER_CLIENTS)
def test_other_clients_get_the_tokens_in_the_body(api, headers):
    answers = [signup(api, headers), login(api, headers)]
    api.cookies.clear()
    refresh = answers[1].json()["refresh"]
    answers.append(api.post("/api/auth/refresh", {"refresh": refresh}, format="json", **headers))

    for response in answers:
        assert response.status_code in (200, 201), response.content
        body = response.json()
        assert body["access"].startswith("eyJ") and body["refresh"].startswith("eyJ"), body
    # A refresh with a token in the body sets no cookies for those clients.
    assert "jwt" not in answers[2].cookies


def test_another_origin_is_not_our_page(api):
    response = signup(api, {"HTTP_ORIGIN": "http://elsewhere.example"})
    # A foreign page may not log anyone in at all (login CSRF).
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "origin_not_allowed"


def test_deleting_the_account_clears_the_cookies(api):
    signup(api, {"HTTP_SEC_FETCH_SITE": "same-origin"})

    response = api.delete(
        "/api/auth/me", {"password": PASSWORD}, format="json", HTTP_ORIGIN=OWN_ORIGIN
    )

    assert response.status_code == 204, response.content
    for name in ("jwt", "jwt_refresh"):
        assert response.cookies[name].value == ""
        assert response.cookies[name]["max-age"] == 0
    assert api.get("/api/auth/me").status_code == 401

"""Browser sessions in httpOnly cookies, over real HTTP and real sockets: what a browser's
cookie jar does with signup, login, refresh and logout, how the API and the Socket.IO handshake
accept the `jwt` cookie, and what a page of another site can't do with it."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
import requests
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import user_deactivate
from accounts.tests.factories import PASSWORD, signup_payload
from realtime.tests.clients import TIMEOUT

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

EVIL = "https://evil.example"


class Browser:
    """A cookie jar that behaves like a browser's: it sends `Origin` (this page's) on unsafe
    requests, never an `Authorization` header."""

    def __init__(self, server, origin: str | None = None):
        self.url = server.url
        self.origin = origin or server.url
        self.jar = requests.Session()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if method != "GET":
            headers.setdefault("Origin", self.origin)
        return self.jar.request(
            method, f"{self.url}{path}", headers=headers, timeout=TIMEOUT, **kwargs
        )

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def login(self, username: str) -> requests.Response:
        response = self.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response

    def cookie(self, name: str) -> str | None:
        return self.jar.cookies.get(name)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar.cookies)


def set_cookies(response: requests.Response) -> dict[str, dict]:
    """name → the attributes of each `Set-Cookie` of the answer (lowercased keys)."""
    found = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            found[name] = {
                "value": morsel.value,
                **{k: v for k, v in morsel.items() if v},
                "httponly": "httponly" in header.lower(),
                "secure": "; secure" in header.lower(),
            }
    return found


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


@pytest.fixture(scope="module")
def server(chat_server_factory):
    return chat_server_factory("eventlet")


# --- cookies on signup, login, refresh, logout -----------------------------------------------


def test_signup_and_login_set_both_cookies_httponly(server, alice):
    browser = Browser(server)
    signup = browser.post("/api/auth/signup", json=signup_payload(username="cookiesignup"))
    assert signup.status_code == 201, signup.text
    login = Browser(server).login("alice")

    for response in (signup, login):
        cookies = set_cookies(response)
        access, refresh = cookies["jwt"], cookies["jwt_refresh"]
        assert access["httponly"] and refresh["httponly"]
        assert (access["path"], access["samesite"]) == ("/", "Lax")
        assert (refresh["path"], refresh["samesite"]) == ("/api/auth/refresh", "Strict")
        assert not access["secure"], "development serves plain HTTP"
        assert int(access["max-age"]) == 14 * 24 * 3600
        # The access cookie holds an access token of the new login session.
        token = AccessToken(access["value"])
        assert token["sid"]


def test_the_cookie_authenticates_requests_without_an_authorization_header(server, alice, bob):
    browser = Browser(server)
    browser.login("alice")

    users = browser.get("/api/users")
    assert users.status_code == 200, users.text
    assert [u["username"] for u in users.json()] == ["bob"]
    sent = browser.post(f"/api/messages/send/{bob.id}", json={"message": "by cookie"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["senderId"] == alice.id


def test_a_bearer_header_wins_over_the_cookie(server, alice, bob):
    browser = Browser(server)
    browser.login("alice")

    me = browser.get("/api/auth/me", headers={"Authorization": f"Bearer {bob.access}"})
    assert me.json()["username"] == "bob"


@pytest.mark.parametrize(
    "origin", [None, EVIL, "http://127.0.0.1:1"], ids=["none", "other-site", "other-port"]
)
def test_unsafe_requests_by_cookie_need_a_trusted_origin(server, alice, bob, origin):
    browser = Browser(server)
    browser.login("alice")
    headers = {"Origin": origin} if origin else {}
    if origin is None:
        browser.origin = ""  # a client that sends no Origin at all

    refused = browser.jar.post(
        f"{server.url}/api/messages/send/{bob.id}", json={"message": "forged"},
        headers=headers, timeout=TIMEOUT,
    )  # fmt: skip

    assert_error(refused, 403, "origin_not_allowed")
    history = browser.get(f"/api/messages/{bob.id}")
    assert history.status_code == 200 and history.json() == []


def test_a_cross_site_form_post_is_refused(server, alice, bob):
    """What `<form method=post action=.../api/messages/send/<id>>` on another site sends."""
    browser = Browser(server)
    browser.login("alice")

    forged = browser.jar.post(
        f"{server.url}/api/messages/send/{bob.id}",
        data="message=forged",
        headers={"Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=TIMEOUT,
    )
    assert_error(forged, 403, "origin_not_allowed")
    plain = browser.jar.post(
        f"{server.url}/api/auth/logout", data="{}",
        headers={"Origin": EVIL, "Content-Type": "text/plain"}, timeout=TIMEOUT,
    )  # fmt: skip
    assert_error(plain, 403, "origin_not_allowed")
    assert browser.get("/api/auth/me").status_code == 200, "the session survived"


def test_an_allowed_cross_origin_page_may_use_the_cookie(server, alice, bob):
    # CORS_ALLOWED_ORIGINS in development: a front end's dev server on port 3000.
    browser = Browser(server, origin="http://localhost:3000")
    browser.login("alice")

    sent = browser.post(f"/api/messages/send/{bob.id}", json={"message": "from the dev server"})
    assert sent.status_code == 201, sent.text
    assert sent.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_other_sites_cannot_log_someone_in_or_out(server, alice):
    browser = Browser(server)
    browser.login("alice")

    login = browser.post(
        "/api/auth/login", json={"username": "alice", "password": PASSWORD},
        headers={"Origin": EVIL},
    )  # fmt: skip
    assert_error(login, 403, "origin_not_allowed")
    assert "jwt" not in set_cookies(login)
    logout = browser.post("/api/auth/logout", headers={"Origin": EVIL})
    assert_error(logout, 403, "origin_not_allowed")
    assert browser.get("/api/auth/me").status_code == 200


def test_refresh_with_no_body_uses_the_refresh_cookie(server, alice):
    browser = Browser(server)
    browser.login("alice")
    first_refresh = browser.cookie("jwt_refresh")

    renewed = browser.post("/api/auth/refresh")

    assert renewed.status_code == 200, renewed.text
    cookies = set_cookies(renewed)
    assert cookies["jwt_refresh"]["value"] != first_refresh
    assert cookies["jwt"]["path"] == "/"
    assert browser.get("/api/auth/me").json()["username"] == "alice"
    # The refresh token was rotated: the old one is refused (and, reused, ends the session).
    replay = requests.post(
        f"{server.url}/api/auth/refresh", json={"refresh": first_refresh}, timeout=TIMEOUT
    )
    assert_error(replay, 401, "token_invalid")


def test_refresh_without_a_token_or_cookie_is_refused(server):
    assert_error(Browser(server).post("/api/auth/refresh"), 401, "token_invalid")


def test_logout_with_the_cookie_ends_the_session_and_clears_both_cookies(
    server, make_client, alice
):
    browser = Browser(server)
    browser.login("alice")
    refresh = browser.cookie("jwt_refresh")
    socket = make_client(server).connect(headers={"Cookie": browser.cookie_header})
    stale_access = browser.cookie("jwt")

    logout = browser.post("/api/auth/logout")

    assert logout.status_code == 200, logout.text
    cleared = set_cookies(logout)
    assert cleared["jwt"]["value"] == "" and cleared["jwt"]["max-age"] == "0"
    assert cleared["jwt_refresh"]["value"] == ""
    assert cleared["jwt_refresh"]["path"] == "/api/auth/refresh"
    assert browser.cookie("jwt") is None
    assert socket.wait_for("sessionEnded") == {"reason": "session_ended"}
    socket.wait_disconnected()
    # A copy of the cookies is worth nothing now.
    copied = requests.get(
        f"{server.url}/api/auth/me", cookies={"jwt": stale_access}, timeout=TIMEOUT
    )
    assert_error(copied, 401, "session_ended")
    reused = requests.post(
        f"{server.url}/api/auth/refresh", json={"refresh": refresh}, timeout=TIMEOUT
    )
    assert_error(reused, 401, "token_invalid")


def test_logout_with_an_expired_access_cookie_still_ends_the_session(server, alice):
    token = AccessToken(alice.access)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=1))
    browser = Browser(server)
    browser.jar.cookies.set("jwt", str(token))

    assert browser.post("/api/auth/logout").status_code == 200

    refused = requests.post(
        f"{server.url}/api/auth/refresh", json={"refresh": alice.refresh}, timeout=TIMEOUT
    )
    assert_error(refused, 401, "token_invalid")


# --- the same checks as Bearer ----------------------------------------------------------------


def _expired(access: str) -> str:
    token = AccessToken(access)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=1))
    return str(token)


def test_refused_cookies_answer_the_bearer_codes(server, alice, bob):
    def me(cookie: str) -> requests.Response:
        return requests.get(f"{server.url}/api/auth/me", cookies={"jwt": cookie}, timeout=TIMEOUT)

    assert_error(me(_expired(alice.access)), 401, "token_expired")
    assert_error(me(alice.access[:-4] + "AAAA"), 401, "token_invalid")
    assert_error(me(alice.refresh), 401, "token_invalid")
    user_deactivate(user=bob.user)
    assert_error(me(bob.access), 401, "user_inactive")


def test_an_ended_session_refuses_its_access_token_by_header_too(server, alice):
    """Before, an access token outlived the logout of its session until it expired."""
    headers = {"Authorization": f"Bearer {alice.access}"}
    assert requests.get(f"{server.url}/api/auth/me", headers=headers, timeout=TIMEOUT).ok

    logout = requests.post(
        f"{server.url}/api/auth/logout", json={"refresh": alice.refresh}, timeout=TIMEOUT
    )
    assert logout.status_code == 200

    after = requests.get(f"{server.url}/api/auth/me", headers=headers, timeout=TIMEOUT)
    assert_error(after, 401, "session_ended")


def test_an_old_access_cookie_is_renewed_with_the_answer(chat_server_factory, alice):
    # 20 s tokens: past half their life after 10 s; the test waits for that.
    short = chat_server_factory("eventlet", JWT_ACCESS_LIFETIME_SECONDS="20")
    browser = Browser(short)
    browser.login("alice")
    fresh = browser.get("/api/auth/me")
    assert "jwt" not in set_cookies(fresh), "a young cookie is left alone"
    first = AccessToken(browser.cookie("jwt"), verify=False)

    import time

    time.sleep(max(0.0, first["exp"] - 9.5 - time.time()))
    renewed = browser.get("/api/auth/me")

    assert renewed.status_code == 200
    token = AccessToken(set_cookies(renewed)["jwt"]["value"], verify=False)
    assert token["exp"] > first["exp"]
    assert (token["sid"], token["user_id"]) == (first["sid"], first["user_id"])
    assert token["sst"] == first["sst"], "the renewed token keeps its session's start"


@pytest.mark.parametrize("kind", ["session-too-old", "no-session"])
def test_no_renewal_beyond_the_refresh_lifetime_of_the_session(server, alice, kind):
    """A copied access token replayed as a cookie is not renewed forever."""
    token = AccessToken(alice.access)
    token.set_exp(lifetime=timedelta(seconds=60))  # past half its life
    if kind == "session-too-old":
        token["sst"] = int((timezone.now() - timedelta(days=15)).timestamp())
    else:
        del token["sid"]

    answer = requests.get(f"{server.url}/api/auth/me", cookies={"jwt": str(token)}, timeout=TIMEOUT)

    assert answer.status_code == 200, answer.text
    assert "jwt" not in set_cookies(answer)


def test_a_refreshed_pair_keeps_the_start_of_its_session(server, alice):
    first = AccessToken(alice.access)
    renewed = requests.post(
        f"{server.url}/api/auth/refresh", json={"refresh": alice.refresh}, timeout=TIMEOUT
    )
    assert renewed.status_code == 200
    token = AccessToken(renewed.json()["access"])
    assert (token["sid"], token["sst"]) == (first["sid"], first["sst"])


# --- the socket handshake ---------------------------------------------------------------------


@pytest.fixture
def cookie_of(chat_server):
    def login(person) -> str:
        browser = Browser(chat_server)
        browser.login(person.user.username)
        return browser.cookie_header

    return login


def test_a_socket_authenticates_with_the_cookie(chat_server, make_client, cookie_of, alice, bob):
    alice_socket = make_client(chat_server).connect(headers={"Cookie": cookie_of(alice)})
    bob_socket = make_client(chat_server).connect(token=bob.access)

    sent = bob_socket.call("sendMessage", {"to": alice.id, "message": "to your cookie"})

    assert sent["ok"], sent
    assert alice_socket.wait_for("newMessage")["message"] == "to your cookie"


def test_a_socket_by_cookie_over_long_polling(chat_server, make_client, cookie_of, alice):
    socket = make_client(chat_server).connect(
        headers={"Cookie": cookie_of(alice)}, transports=("polling",)
    )
    assert socket.wait_for("getOnlineUsers") == [alice.id]


def test_a_page_of_another_site_cannot_open_a_socket_with_the_cookie(
    chat_server, make_client, cookie_of, alice
):
    import socketio

    client = make_client(chat_server)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(headers={"Cookie": cookie_of(alice), "Origin": EVIL})


def test_the_handshake_refuses_an_expired_or_ended_cookie(
    chat_server, make_client, cookie_of, alice
):
    import socketio

    expired = make_client(chat_server)
    with pytest.raises(socketio.exceptions.ConnectionError):
        expired.connect(headers={"Cookie": f"jwt={_expired(alice.access)}"})
    assert expired.connect_errors[-1] == {"message": "token_expired"}

    browser = Browser(chat_server)
    browser.login("alice")
    header = browser.cookie_header
    assert browser.post("/api/auth/logout").status_code == 200
    ended = make_client(chat_server)
    with pytest.raises(socketio.exceptions.ConnectionError):
        ended.connect(headers={"Cookie": header})
    assert ended.connect_errors[-1] == {"message": "unauthorized"}

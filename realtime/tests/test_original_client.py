"""The reference design's React front end, call for call, against two of our processes sharing
Redis: its `fetch` calls through a browser-like cookie jar and socket.io-client with
`query: {userId}`. It reads only `error` from a failed answer, keeps the whole login answer as
its user, appends its own sends from the REST answer and every `newMessage` to the open chat,
and replaces its online list with each `getOnlineUsers`."""

from __future__ import annotations

import pytest
import requests

from realtime.tests.clients import TIMEOUT, ChatClient
from realtime.tests.test_multiprocess import REDIS_URL, _redis_or_skip

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-42"


@pytest.fixture(scope="module")
def servers(chat_server_factory):
    _redis_or_skip()
    return (
        chat_server_factory("eventlet", REDIS_URL=REDIS_URL, REALTIME_PRESENCE_FANOUT="contacts"),
        chat_server_factory("gevent", REDIS_URL=REDIS_URL, REALTIME_PRESENCE_FANOUT="contacts"),
    )


class FrontEnd:
    """One browser tab of the reference front end (its hooks and contexts, in Python)."""

    def __init__(self, server, make_client):
        self.server = server
        self.url = server.url
        self.make_client = make_client
        self.http = requests.Session()  # the browser's cookie jar
        self.auth_user: dict | None = None  # what it keeps in localStorage ("chat-user")
        self.socket: ChatClient | None = None
        self.toasts: list[str] = []

    # --- fetch() ----------------------------------------------------------------------------

    def _fetch(self, method: str, path: str, body: dict | None = None):
        headers = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if method != "GET":
            headers["Origin"] = self.url  # a browser sends it on every POST
        response = self.http.request(
            method, self.url + path, json=body, headers=headers, timeout=TIMEOUT
        )
        data = response.json()
        if isinstance(data, dict) and data.get("error"):
            self.toasts.append(data["error"])  # toast.error(data.error)
            return None
        return data

    def signup(self, full_name: str, username: str, password=PASSWORD, confirm=None) -> bool:
        data = self._fetch(
            "POST",
            "/api/auth/signup",
            {
                "fullName": full_name,
                "username": username,
                "password": password,
                "confirmPassword": password if confirm is None else confirm,
                "gender": "female",
            },
        )
        if data is not None:
            self.auth_user = data
        return data is not None

    def login(self, username: str, password=PASSWORD) -> bool:
        data = self._fetch("POST", "/api/auth/login", {"username": username, "password": password})
        if data is not None:
            self.auth_user = data
        return data is not None

    def logout(self) -> None:
        # useLogout: POST with a JSON content type and no body.
        response = self.http.post(
            self.url + "/api/auth/logout",
            headers={"Content-Type": "application/json", "Origin": self.url},
            timeout=TIMEOUT,
        )
        assert response.json() == {"message": "Logged out successfully"}, response.text
        self.auth_user = None

    def sidebar(self) -> list[dict]:
        return self._fetch("GET", "/api/users")

    def open_chat(self, other: FrontEnd) -> list[dict]:
        self.chat_with = other.auth_user["_id"]
        self.messages = self._fetch("GET", f"/api/messages/{self.chat_with}")
        return self.messages

    def send(self, text: str) -> dict:
        data = self._fetch("POST", f"/api/messages/send/{self.chat_with}", {"message": text})
        self.messages = [*self.messages, data]
        return data

    # --- io(url, {query: {userId}}) -----------------------------------------------------------

    def connect(self) -> ChatClient:
        # The cookies a browser sends to this path (`jwt_refresh` is for /api/auth/refresh only).
        cookie = "; ".join(
            f"{c.name}={c.value}" for c in self.http.cookies if c.path in ("/", "/socket.io")
        )
        self.socket = self.make_client(self.server)
        self.socket.connect(query=f"userId={self.auth_user['_id']}", headers={"Cookie": cookie})
        return self.socket

    @property
    def online(self) -> list[str]:
        """`onlineUsers`: the last `getOnlineUsers` list."""
        lists = self.socket.received("getOnlineUsers")
        return lists[-1] if lists else []

    def chat(self) -> list[str]:
        """The open chat as the page shows it: its messages, then every `newMessage`."""
        return [m["message"] for m in self.messages + self.socket.received("newMessage")]


def test_two_people_sign_up_chat_live_see_each_other_online_and_log_out(
    servers, make_client, transactional_db
):
    a, b = servers
    ana, ben, cleo = FrontEnd(a, make_client), FrontEnd(b, make_client), FrontEnd(b, make_client)

    assert not ana.signup("Ana Lima", "ana", password="short", confirm="short")
    assert ana.toasts == ["Password must be at least 8 characters."]
    assert not ana.signup("Ana Lima", "ana", confirm="something-else-42")
    assert ana.toasts[-1] == "Passwords don't match."
    assert ana.signup("Ana Lima", "ana")
    assert ben.signup("Ben Okafor", "ben")
    assert not cleo.signup("", "cleo")
    assert cleo.toasts == ["Full name is required."]
    assert cleo.signup("Cleo Park", "cleo")
    assert "jwt" in ana.http.cookies  # the session: an httpOnly cookie

    ana.connect()
    assert ana.socket.wait_for("getOnlineUsers") == [ana.auth_user["_id"]]
    assert {u["username"] for u in ana.sidebar()} >= {"ben", "cleo"}
    assert ana.open_chat(ben) == []
    ana.send("hi ben")

    ben.connect()  # on the other process
    both = sorted([ana.auth_user["_id"], ben.auth_user["_id"]])
    assert ben.socket.wait_for("getOnlineUsers") == both
    ana.socket.wait_for("getOnlineUsers", lambda ids: ids == both)
    assert ben.open_chat(ana) == [ana.messages[0]]
    ben.send("hi ana, ben here")

    assert ana.socket.wait_for("newMessage")["message"] == "hi ana, ben here"
    ben.socket.barrier()
    assert ben.chat() == ["hi ben", "hi ana, ben here"]  # its own message once, no echo
    ana.socket.barrier()
    assert ana.chat() == ["hi ben", "hi ana, ben here"]

    cleo.connect()  # a stranger to both: their lists do not change
    assert cleo.socket.wait_for("getOnlineUsers") == [cleo.auth_user["_id"]]
    ana.socket.assert_silent("getOnlineUsers", within=1.2)
    assert ana.online == both

    bens_id = ben.auth_user["_id"]
    ben.logout()
    assert "jwt" not in ben.http.cookies
    assert ben.socket.wait_for("sessionEnded") == {"reason": "session_ended"}
    ben.socket.wait_disconnected()
    assert ana.socket.wait_count("getOnlineUsers", 3)[-1] == [ana.auth_user["_id"]]
    assert ben.sidebar() is None  # logged out: the page would show its login form

    assert ben.login("BEN")
    assert ben.auth_user["_id"] == bens_id
    ben.connect()
    assert ana.socket.wait_count("getOnlineUsers", 4)[-1] == both
    ana.socket.barrier()
    assert ana.socket.received("getOnlineUsers") == [
        [ana.auth_user["_id"]],
        both,
        [ana.auth_user["_id"]],
        both,
    ]
    assert ana.socket.received("userOnline") == ana.socket.received("userOffline") == []
    assert [m["message"] for m in ana.socket.received("newMessage")] == ["hi ana, ben here"]

"""An ended session closes its sockets on every process within 2 seconds: two processes share
Redis, and their periodic recheck (30 s) is far away, so only the announcement can do it."""

import threading
import time

import pytest
import requests
from django.test import override_settings

from accounts.services import user_deactivate
from accounts.tests.factories import PASSWORD
from messaging.models import Message
from realtime.tests.clients import TIMEOUT
from realtime.tests.test_multiprocess import REDIS_URL, _redis_or_skip

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PROMPT = 2.0  # seconds


@pytest.fixture(scope="module")
def servers(chat_server_factory):
    _redis_or_skip()
    env = {"REDIS_URL": REDIS_URL, "REALTIME_AUTH_RECHECK_SECONDS": "30"}
    return chat_server_factory("eventlet", **env), chat_server_factory("asgi", **env)


@pytest.fixture
def on(make_client):
    def open_socket(server, token):
        return make_client(server).connect(token=token)

    return open_socket


def assert_closed_promptly(socket, reason: str, since: float) -> None:
    assert socket.wait_for("sessionEnded", timeout=PROMPT) == {"reason": reason}
    socket.wait_disconnected(timeout=PROMPT)
    assert time.monotonic() - since < PROMPT + 0.5


def post(server, path: str, body: dict, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{server.url}{path}", json=body, headers=headers, timeout=TIMEOUT)


def test_deactivation_elsewhere_closes_sockets_on_every_process(servers, on, alice, bob):
    a, b = servers
    phone, laptop, bystander = on(a, alice.access), on(b, alice.access), on(b, bob.access)
    # Alice's laptop keeps sending while she is deactivated.
    stop, sending = threading.Event(), threading.Event()

    def keep_sending():
        while not stop.is_set() and laptop.connected:
            try:
                laptop.call("sendMessage", {"to": bob.id, "message": "still here?"}, timeout=2)
            except Exception:
                return
            sending.set()

    sender = threading.Thread(target=keep_sending, daemon=True)
    sender.start()
    assert sending.wait(TIMEOUT), "the laptop's first send got no answer"

    # As the admin in a separate web process does: the news goes through Redis.
    with override_settings(REDIS_URL=REDIS_URL):
        since = time.monotonic()
        user_deactivate(user=alice.user)
    deactivated_at = time.time()

    assert_closed_promptly(phone, "deactivated", since)
    assert_closed_promptly(laptop, "deactivated", since)
    stop.set()
    sender.join(10)
    assert bystander.connected
    last = Message.objects.filter(sender=alice.user).order_by("-created_at").first()
    assert last is not None
    assert last.created_at.timestamp() < deactivated_at + PROMPT


def test_logout_on_one_process_closes_that_sessions_sockets_on_the_other(servers, on, alice):
    a, b = servers
    other = post(a, "/api/auth/login", {"username": "alice", "password": PASSWORD})
    logged_out, still_logged_in = on(b, alice.access), on(b, other.json()["access"])

    since = time.monotonic()
    assert post(a, "/api/auth/logout", {"refresh": alice.refresh}).status_code == 200

    assert_closed_promptly(logged_out, "session_ended", since)
    still_logged_in.assert_silent("sessionEnded", within=1.0)
    assert still_logged_in.connected


def test_logout_with_only_the_access_token_ends_its_session(servers, on, alice):
    a, b = servers
    socket = on(b, alice.access)

    since = time.monotonic()
    assert post(a, "/api/auth/logout", {}, token=alice.access).status_code == 200

    assert_closed_promptly(socket, "session_ended", since)
    refused = post(a, "/api/auth/refresh", {"refresh": alice.refresh})
    assert (refused.status_code, refused.json()["code"]) == (401, "token_invalid")


def test_a_reused_refresh_token_ends_its_session_everywhere(servers, on, alice):
    a, b = servers
    rotated = post(a, "/api/auth/refresh", {"refresh": alice.refresh})
    assert rotated.status_code == 200
    socket = on(b, rotated.json()["access"])

    since = time.monotonic()
    reused = post(b, "/api/auth/refresh", {"refresh": alice.refresh})  # a stolen copy

    assert (reused.status_code, reused.json()["code"]) == (401, "token_invalid")
    assert_closed_promptly(socket, "session_ended", since)
    # The newer tokens of that session are refused too: the thief got nothing, and neither
    # did whoever held the newer refresh token (they log in again).
    newer = post(a, "/api/auth/refresh", {"refresh": rotated.json()["refresh"]})
    assert (newer.status_code, newer.json()["code"]) == (401, "token_invalid")

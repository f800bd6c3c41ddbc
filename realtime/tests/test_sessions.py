"""Open sockets follow their session: the server rechecks tokens every
REALTIME_AUTH_RECHECK_SECONDS (1 s here) and closes those that are no longer valid."""

from datetime import timedelta

import pytest
import socketio
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import tokens_issue, tokens_revoke, user_deactivate

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 6  # seconds: a few recheck intervals


@pytest.fixture(scope="module", params=["eventlet", "gevent", "asgi"])
def server(request, chat_server_factory):
    return chat_server_factory(request.param, REALTIME_AUTH_RECHECK_SECONDS="1")


@pytest.fixture
def connect(server, make_client):
    def open_socket(token: str):
        return make_client(server).connect(token=token)

    return open_socket


def assert_ended(socket) -> None:
    assert socket.wait_for("sessionEnded", timeout=WITHIN) == {"reason": "session_ended"}
    socket.wait_disconnected(timeout=WITHIN)
    assert not socket.connected


def test_deactivated_users_sockets_are_closed(connect, make_client, server, alice, bob):
    phone, laptop = connect(alice.access), connect(alice.access)
    bystander = connect(bob.access)

    user_deactivate(user=alice.user)

    assert_ended(phone)
    assert_ended(laptop)
    assert bystander.connected
    assert bystander.call("markRead", None)["error"]["code"] == "invalid_payload"
    with pytest.raises(socketio.exceptions.ConnectionError):
        make_client(server).connect(token=alice.access)


def test_logged_out_sessions_sockets_are_closed(connect, make_client, server, alice):
    other_session = tokens_issue(user=alice.user)
    logged_out = connect(alice.access)
    still_logged_in = connect(other_session["access"])

    tokens_revoke(refresh=alice.refresh)

    assert_ended(logged_out)
    assert still_logged_in.connected
    still_logged_in.assert_silent("sessionEnded", within=2.5)  # survives two rechecks
    assert still_logged_in.connected


def test_socket_is_closed_when_its_access_token_expires(connect, alice):
    token = AccessToken(alice.access)
    token.set_exp(from_time=timezone.now(), lifetime=timedelta(seconds=2))

    socket = connect(str(token))

    assert socket.connected
    assert_ended(socket)


def test_every_socket_is_rechecked_when_there_are_many(connect, server, alice, bob):
    # Sockets are rechecked a slice at a time (realtime.handlers.RECHECK_SLICE): the last
    # socket to connect sits in the last of three slices.
    others = [connect(bob.access) for _ in range(60)]
    late = connect(alice.access)

    user_deactivate(user=alice.user)

    assert_ended(late)
    assert all(socket.connected for socket in others)

"""ALLOWED_HOSTS on the Socket.IO endpoint, against the real server process in every async mode.

/socket.io/ is served before Django sees the request, and the origin check allows the server's
own origin, `scheme://Host`. A page on an attacker's domain that resolves to this server (DNS
rebinding) sends a `Host` and an `Origin` that both name that domain: only the Host check,
as Django does it for every other URL, refuses it."""

from __future__ import annotations

import json

import pytest
import requests
import websocket

from realtime.tests.clients import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

BAD_REQUEST = {"error": "Bad request.", "code": "bad_request"}
FORGED_HOSTS = ["rebound.example", "127.0.0.1.rebound.example", "bad host", "[::2]"]
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def host_of(server, name: str) -> str:
    return f"{name}:{server.port}" if name != "bad host" else name


def poll(server, host: str, *, query: str = "", method: str = "GET", data: str | None = None):
    return requests.request(
        method,
        server.url + HANDSHAKE + query,
        headers={"Host": host, "Origin": f"http://{host}"},
        data=data,
        timeout=TIMEOUT,
    )


def handshake_sid(response) -> str:
    assert response.status_code == 200, response.text
    assert response.text.startswith("0{"), response.text  # Engine.IO OPEN
    return json.loads(response.text[1:])["sid"]


def test_the_servers_own_hosts_are_served(chat_server):
    for name in ("127.0.0.1", "localhost"):
        handshake_sid(poll(chat_server, host_of(chat_server, name)))


@pytest.mark.parametrize("name", FORGED_HOSTS)
def test_a_polling_handshake_for_another_host_is_400(chat_server, name):
    response = poll(chat_server, host_of(chat_server, name))

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == BAD_REQUEST


def test_every_request_of_a_session_is_checked(chat_server):
    """Not only the handshake: a session opened through the right host can't be used through
    another one."""
    own = host_of(chat_server, "127.0.0.1")
    sid = handshake_sid(poll(chat_server, own))
    forged = host_of(chat_server, "rebound.example")

    post = poll(chat_server, forged, query=f"&sid={sid}", method="POST", data="40")
    get = poll(chat_server, forged, query=f"&sid={sid}")

    assert (post.status_code, post.json()) == (400, BAD_REQUEST)
    assert (get.status_code, get.json()) == (400, BAD_REQUEST)
    # The session itself is untouched: through the right host it goes on.
    assert poll(chat_server, own, query=f"&sid={sid}", method="POST", data="40").text == "OK"


def websocket_url(server) -> str:
    return server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"


@pytest.mark.parametrize("name", FORGED_HOSTS)
def test_a_websocket_upgrade_for_another_host_is_refused(chat_server, name):
    host = host_of(chat_server, name)

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            websocket_url(chat_server), host=host, origin=f"http://{host}", timeout=TIMEOUT
        )

    assert refused.value.status_code == 400
    assert json.loads(refused.value.resp_body) == BAD_REQUEST


def test_a_websocket_upgrade_for_the_servers_host_is_served(chat_server):
    host = host_of(chat_server, "localhost")
    ws = websocket.create_connection(
        websocket_url(chat_server), host=host, origin=f"http://{host}", timeout=TIMEOUT
    )
    try:
        assert ws.recv().startswith("0{")  # Engine.IO OPEN
    finally:
        ws.close()

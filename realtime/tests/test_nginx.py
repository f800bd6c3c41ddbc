"""The shipped nginx configuration (deploy/nginx/chat.conf, run as it is) in front of two
`serve` processes sharing Redis and the database: REST, WebSocket and long-polling through it,
polling clients kept on their process by the `chat_node` cookie, every socket of both users
reached once wherever it is, presence across the processes.

nginx runs as this user (realtime/tests/nginx.py); `make test` installs Debian's
(`make nginx-deps`)."""

from __future__ import annotations

import pytest
import requests

from chatsite.testing import wait_until
from realtime.tests.clients import TIMEOUT, Api
from realtime.tests.nginx import NGINX, Nginx
from realtime.tests.test_multiprocess import REDIS_URL, _redis_or_skip

NODES = ("node1", "node2")

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        NGINX is None, reason="nginx is not installed (`make nginx-deps` installs Debian's)"
    ),
]


@pytest.fixture(scope="module")
def processes(chat_server_factory):
    _redis_or_skip()
    return {
        name: chat_server_factory(
            "eventlet", REDIS_URL=REDIS_URL, ACCESS_LOG="true", PROCESS_NAME=name
        )
        for name in NODES
    }


@pytest.fixture(scope="module")
def nginx(processes, tmp_path_factory):
    addresses = {name: f"127.0.0.1:{server.port}" for name, server in processes.items()}
    proxy = Nginx(tmp_path_factory.mktemp("nginx"), addresses).start()
    yield proxy
    proxy.stop()


def _on(make_client, nginx, person, *, node=None, transports=("websocket",)):
    """A socket of `person` through nginx; `node`: sent with a `chat_node` cookie naming it,
    as a browser that was answered by that process before. Polling clients keep cookies."""
    http = requests.Session()
    if node:
        http.cookies.set("chat_node", node, domain="127.0.0.1")
    client = make_client(nginx, http_session=http)
    # The Origin of a browser on the page nginx served, port included (websocket-client sends
    # it by itself for the WebSocket: `http://` and the host and port of the URL).
    headers = {"Origin": nginx.url} if transports == ("polling",) else {}
    if node and transports == ("websocket",):
        headers["Cookie"] = f"chat_node={node}"
    client.http = http
    return client.connect(token=person.access, headers=headers, transports=transports)


def _process_of(processes, client) -> str:
    """The process whose access log has the socket's connect."""
    line = f"socket connect sid={client.sio.get_sid()} "

    def found():
        return [n for n, server in processes.items() if line in server.log_path.read_text()]

    return wait_until(found, what=line)[0]


def test_rest_and_both_transports_work_through_nginx(nginx, make_client, alice, bob):
    assert requests.get(f"{nginx.url}/healthz", timeout=TIMEOUT).json() == {"status": "ok"}
    sent = Api(nginx.url).send(alice, bob, "through nginx")
    assert requests.get(f"{nginx.url}/api/sync", headers=bob.headers, timeout=TIMEOUT).ok

    for transports in (("websocket",), ("polling",), ("polling", "websocket")):
        client = _on(make_client, nginx, bob, transports=transports)
        assert client.connect_errors == []
        read = {"conversationId": sent["conversationId"], "seq": sent["seq"]}
        assert client.call("markRead", read)["ok"] is True
        # A browser's way: long-polling first, then the upgrade to WebSocket, which must reach
        # the process holding the session too.
        upgraded = transports[-1]
        wait_until(lambda c=client, t=upgraded: c.sio.transport() == t, what="the upgrade")


def test_polling_clients_stay_on_their_process(nginx, processes, make_client, alice):
    """Clients without the cookie land on either process, and every later request of their
    session reaches the same one (round-robin would break most of them)."""
    clients = [_on(make_client, nginx, alice, transports=("polling",)) for _ in range(4)] + [
        _on(make_client, nginx, alice, transports=("polling", "websocket")) for _ in range(2)
    ]
    for client in clients:
        for _ in range(3):
            client.barrier()

    placements = nginx.placements()  # a WebSocket's line is written when it closes
    nodes = []
    for client in clients:
        node = client.http.cookies["chat_node"]
        if client.sio.transport() == "polling":
            assert placements[client.sio.eio.sid] == {node}
        else:  # the upgrade names the session: it would be refused by the other process
            assert client.sio.transport() == "websocket"
        assert _process_of(processes, client) == node
        nodes.append(node)
    assert set(nodes) == set(NODES)


def test_a_message_reaches_every_socket_of_both_users_once(
    nginx, processes, make_client, alice, bob
):
    sockets = {
        ("alice", "node1"): _on(make_client, nginx, alice, node="node1"),
        ("alice", "node2"): _on(make_client, nginx, alice, node="node2", transports=("polling",)),
        ("bob", "node2"): _on(make_client, nginx, bob, node="node2"),
        ("bob", "node1"): _on(make_client, nginx, bob, node="node1", transports=("polling",)),
    }
    for (_, node), client in sockets.items():
        assert _process_of(processes, client) == node

    by_rest = Api(nginx.url).send(alice, bob, "one")
    by_socket = sockets["bob", "node2"].call("sendMessage", {"to": alice.id, "message": "two"})
    assert by_socket["ok"] is True

    for client in sockets.values():
        client.wait_count("newMessage", 2)
        client.barrier()
        received = client.received("newMessage")
        assert sorted(m["_id"] for m in received) == sorted(
            [by_rest["_id"], by_socket["message"]["_id"]]
        )


def test_presence_crosses_the_processes(nginx, processes, make_client, alice, bob):
    watcher = _on(make_client, nginx, alice, node="node1")
    newcomer = _on(make_client, nginx, bob, node="node2", transports=("polling",))
    assert _process_of(processes, newcomer) == "node2"

    assert watcher.wait_for("userOnline", lambda e: e["userId"] == bob.id)
    assert alice.id in newcomer.wait_for("getOnlineUsers")
    newcomer.close()
    assert watcher.wait_for("userOffline", lambda e: e["userId"] == bob.id)

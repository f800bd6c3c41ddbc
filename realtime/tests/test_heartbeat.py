"""A tab that dies without closing its connection goes offline through the heartbeat.

The servers here ping every second and wait one second for the answer, so the bound the docs
give (REALTIME_PING_INTERVAL + 2 * REALTIME_PING_TIMEOUT after the last answered ping) is 3 s."""

import signal
import subprocess
import sys

import pytest

from realtime.tests.clients import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

PING_INTERVAL = 1
PING_TIMEOUT = 1
# The documented bound, plus a second for a loaded machine to deliver the event.
OFFLINE_WITHIN = PING_INTERVAL + 2 * PING_TIMEOUT + 1

# A tab in its own process: connects, says so, then waits to be killed.
TAB = """
import sys, time
import socketio
sio = socketio.Client(reconnection=False)
sio.connect(sys.argv[1], auth={"token": sys.argv[2]}, transports=["websocket"])
print("connected", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module", params=["eventlet", "gevent", "asgi"])
def server(request, chat_server_factory):
    server = chat_server_factory(
        request.param,
        REALTIME_PING_INTERVAL=str(PING_INTERVAL),
        REALTIME_PING_TIMEOUT=str(PING_TIMEOUT),
    )
    yield server
    server.stop()


def test_a_tab_that_stops_answering_pings_goes_offline(
    server, make_client, make_raw_socket, alice, bob
):
    watcher = make_client(server).connect(token=alice.access)
    tab = make_raw_socket(server).connect(bob.access)
    watcher.wait_for("userOnline", lambda e: e["userId"] == bob.id)

    tab.wait_pings(3)  # answering, it stays online past PING_INTERVAL + PING_TIMEOUT
    assert watcher.received("userOffline") == []
    assert not tab.closed.is_set()

    tab.answering = False  # the network is gone: no pong, no close frame, no FIN

    assert watcher.wait_for("userOffline", timeout=OFFLINE_WITHIN) == {"userId": bob.id}
    assert tab.closed.wait(TIMEOUT)  # the server dropped the connection too
    assert bob.id not in make_client(server).connect(token=alice.access).wait_for("getOnlineUsers")


def test_a_killed_tab_process_goes_offline(server, make_client, alice, bob):
    watcher = make_client(server).connect(token=alice.access)
    tab = subprocess.Popen(
        [sys.executable, "-c", TAB, server.url, bob.access],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert tab.stdout.readline().strip() == "connected"
        watcher.wait_for("userOnline", lambda e: e["userId"] == bob.id)

        tab.send_signal(signal.SIGKILL)  # no Socket.IO or WebSocket goodbye
        tab.wait(TIMEOUT)
    finally:
        if tab.poll() is None:
            tab.kill()
            tab.wait()
        tab.stdout.close()

    assert watcher.wait_for("userOffline", timeout=OFFLINE_WITHIN) == {"userId": bob.id}

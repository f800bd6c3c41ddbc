"""Contract tests of `realtime.patches`: each patch to a library's private part, run through
the real library (a real server on a real TCP port, real WebSockets), so that a new version of
python-engineio, python-socketio, eventlet, gevent or simple-websocket that no longer takes a
patch fails here, loudly, instead of quietly costing memory or behaving differently.

Each mode runs in a process of its own (the green-thread library patched in), with the
server's own configuration (`realtime.server.configure`) and the patched server classes
(`realtime.patches.eventlet.Protocol`, `realtime.patches.gevent.handler_class`)."""

import json
import os
import subprocess
import sys

import pytest

from chatsite.testing import GREEN_PROCESS

pytestmark = pytest.mark.live

SOCKETS = 10
PING_INTERVAL = 1

PROBE = (
    GREEN_PROCESS
    + """
import gc, json, socket as stdlib_socket
import django
django.setup()
import greenlet, socketio, websocket
from django.conf import settings
from chatsite.embedded_db import free_port
from realtime import server
from realtime.patches import engineio as engineio_patches
from realtime.patches import socketio as socketio_patches

LIMIT = settings.REALTIME["MAX_HTTP_BUFFER_SIZE"]
sio = server.configure(mode)


@sio.on("burst")
def burst(sid, count):
    for i in range(count):
        sio.emit("n", i, to=sid)


@sio.on("bye")
def bye(sid):
    # python-socketio's disconnect leaves the Engine.IO session to the client; this ends it.
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
    sio.disconnect(sid)
    sio.eio.disconnect(eio_sid)


app = socketio.WSGIApp(sio)
port = free_port()
listener = stdlib_socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM)
listener.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(128)
between_requests = set()
unmasked = []
if mode == "eventlet":
    import eventlet.wsgi
    from realtime.patches import eventlet as eventlet_patches
    from realtime.patches.eventlet import Protocol

    fast_mask = eventlet_patches.apply_mask

    def counted_mask(*args, **kwargs):
        unmasked.append(1)
        return fast_mask(*args, **kwargs)

    eventlet_patches.apply_mask = counted_mask
    spawn(eventlet.wsgi.server, listener, app, protocol=Protocol, log_output=False)
    readers_per_socket = 1  # the connection's green thread reads the WebSocket
else:
    from gevent import pywsgi
    from realtime.patches.gevent import handler_class
    handler = handler_class(between_requests)
    spawn(pywsgi.WSGIServer(listener, app, handler_class=handler, log=None).serve_forever)
    readers_per_socket = 2  # the connection's, and simple-websocket's reader
sleep(0.2)
URL = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"


def active_green_threads():
    # Started and not finished: each one holds a saved stack. (A timer's green thread that has
    # not started yet holds none.)
    # (gevent's Greenlet counts as true once scheduled: ask greenlet itself.)
    return sum(
        1 for o in gc.get_objects()
        if issubclass(type(o), greenlet.greenlet) and greenlet.greenlet.__bool__(o)
    )


def open_socket():
    ws = websocket.create_connection(URL, timeout=10)
    assert ws.recv().startswith("0")  # Engine.IO OPEN
    ws.send("40")
    assert ws.recv().startswith("40")  # Socket.IO CONNECT
    return ws


def receive(ws):
    # The next packet that is not a ping (pings are answered).
    while True:
        packet = ws.recv()
        if packet != "2":
            return packet
        ws.send("3")


def close_code(ws):
    # The close code the server sent, or None if the connection ended without one.
    try:
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            if data == b"2":
                ws.send("3")
    except websocket.WebSocketTimeoutException:
        return "still open"
    except (websocket.WebSocketException, OSError):
        return None


result = {"engineio_server": type(sio.eio).__name__, "readers_per_socket": readers_per_socket}
gc.collect()
idle = active_green_threads()
sockets = [open_socket() for _ in range(__SOCKETS__)]
sleep(0.3)
result["green_threads_per_socket"] = (active_green_threads() - idle) / len(sockets)
result["writers_taken"] = sio.eio.writers_taken

# Pings come from timers, and are answered.
first = sockets[0]
first.settimeout(5)
pings = 0
while pings < 2:
    if first.recv() == "2":
        first.send("3")
        pings += 1
result["pinged"] = pings
result["green_threads_per_socket_after_pings"] = (active_green_threads() - idle) / len(sockets)

# Packets go out in order.
first.send('42["burst",200]')
result["burst"] = [json.loads(receive(first)[2:])[1] for _ in range(200)]

# A server-side disconnect: DISCONNECT, then the session's CLOSE, then the WebSocket closes.
second = sockets[1]
second.send('42["bye"]')
result["bye"] = receive(second)
result["bye_closed"] = close_code(second) != "still open"

# Malformed packets are struck out (python-socketio's handlers are wrapped).
third = sockets[2]
for _ in range(3):
    third.send('42["x')
result["strikes_closed"] = close_code(third) != "still open"

# A binary frame closes the connection with 1003.
fourth = sockets[3]
fourth.send_binary(b"\\x00binary")
result["binary_close"] = close_code(fourth)

# A message over the limit in frames under it closes with 1009 before it is all received:
# five frames of a quarter of the limit, and the rest never comes.
fifth = sockets[4]
fifth.settimeout(5)
packet = "42" + json.dumps(["x", "y" * 2 * LIMIT])
step = LIMIT // 4
frames = [packet[i : i + step] for i in range(0, len(packet), step)]
for number, frame in enumerate(frames[:5]):
    opcode = websocket.ABNF.OPCODE_CONT if number else websocket.ABNF.OPCODE_TEXT
    try:
        fifth.send_frame(websocket.ABNF.create_frame(frame, opcode, fin=0))
    except (websocket.WebSocketException, OSError):
        break
result["oversized_close"] = close_code(fifth)

# The client manager's room index is left empty by the sockets that went.
for ws in sockets[5:] + [first]:
    ws.close()
deadline = 0
while (sio.eio.sockets or sio.manager.rooms_of) and deadline < 50:
    sleep(0.1)
    deadline += 1
manager = sio.manager
result["left_behind"] = {
    "eio_sockets": len(sio.eio.sockets),
    "rooms_of": len(manager.rooms_of),
    "rooms": sum(len(rooms) for rooms in manager.rooms.values()),
    "callbacks": len(manager.callbacks),
    "pending": len(manager.pending_connect) + len(manager.pending_disconnect),
}
sleep(0.3)
gc.collect()
result["green_threads_after_all_left"] = active_green_threads() - idle

if mode == "eventlet":
    result["websocket_buffers_swapped"] = Protocol.websocket_upgrades
    result["frames_unmasked_by_the_patch"] = len(unmasked)
    # apply_mask gives what eventlet's own `_apply_mask` gives, for any frame, length and
    # offset into the mask.
    import random
    from eventlet.websocket import RFC6455WebSocket
    rng = random.Random(23)
    disagreements = 0
    for _ in range(500):
        data = rng.randbytes(rng.randrange(0, 700))
        mask = tuple(rng.randrange(256) for _ in range(4))
        offset = rng.randrange(0, 9)
        length = rng.choice([None, len(data), max(0, len(data) - rng.randrange(0, 5))])
        expected = RFC6455WebSocket._apply_mask(data, mask, length, offset)
        disagreements += fast_mask(data, mask, length=length, offset=offset) != expected
    result["mask_disagreements"] = disagreements
else:
    # A keep-alive connection waiting for its next request is known (read_requestline).
    http = stdlib_socket.create_connection(("127.0.0.1", port))
    http.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
    http.recv(65536)
    sleep(0.2)
    result["waiting_between_requests"] = len(between_requests)
    http.close()
print(json.dumps(result))
""".replace("__SOCKETS__", str(SOCKETS))
)


def _probe(mode: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatsite.settings",
        "REALTIME_PING_INTERVAL": str(PING_INTERVAL),
    }
    run = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "patch no longer applies" not in run.stderr, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def probe(request) -> dict:
    return {"mode": request.param, **_probe(request.param)}


def test_the_servers_are_the_patched_ones(probe):
    """realtime.patches.socketio: python-socketio builds its Engine.IO server through
    `_engineio_server_class`."""
    assert probe["engineio_server"] == "Server"
    assert probe["writers_taken"] == SOCKETS


def test_a_websocket_parks_no_writer_and_no_ping_green_thread(probe):
    """realtime.patches.engineio: only the green threads that read a WebSocket stay; the
    writer runs on demand and the ping is a timer. Stock python-engineio parks two more per
    socket (its writer on the queue, its ping asleep)."""
    readers = probe["readers_per_socket"]
    assert readers <= probe["green_threads_per_socket"] <= readers + 0.2
    assert readers <= probe["green_threads_per_socket_after_pings"] <= readers + 0.2
    assert probe["pinged"] == 2


def test_packets_are_delivered_in_order_and_a_disconnect_closes_the_websocket(probe):
    assert probe["burst"] == list(range(200))
    assert probe["bye"] == "41"
    assert probe["bye_closed"]


def test_malformed_packets_reach_the_packet_guard(probe):
    """realtime.patches.socketio.engineio_handlers: `realtime.packets` stands in front of
    python-socketio's handlers, so the third malformed packet closes the connection."""
    assert probe["strikes_closed"]


def test_binary_and_oversized_messages_are_refused_by_the_websocket(probe):
    """realtime.patches.eventlet / gevent `websocket_class`, installed with
    `realtime.patches.engineio.use_websocket_class`."""
    assert probe["binary_close"] == 1003
    assert probe["oversized_close"] == 1009


def test_the_sockets_that_left_leave_nothing_behind(probe):
    """realtime.patches.socketio.RoomIndex clears what python-socketio's own disconnect
    clears; the green threads of the sockets end."""
    assert probe["left_behind"] == {
        "eio_sockets": 0,
        "rooms_of": 0,
        "rooms": 0,
        "callbacks": 0,
        "pending": 0,
    }
    assert probe["green_threads_after_all_left"] <= 1


def test_the_server_hooks_are_called(probe):
    """realtime.patches.eventlet.Protocol swaps a WebSocket's buffers in `get_environ`, and
    `websocket_class` unmasks the clients' frames with `apply_mask` (the same bytes as
    eventlet's `_apply_mask`); realtime.patches.gevent.handler_class sees connections wait in
    `read_requestline`."""
    if probe["mode"] == "eventlet":
        assert probe["websocket_buffers_swapped"] == SOCKETS
        # Every frame the clients sent was unmasked by `apply_mask` (one CONNECT each at least).
        assert probe["frames_unmasked_by_the_patch"] >= SOCKETS
        assert probe["mask_disagreements"] == 0
    else:
        assert probe["waiting_between_requests"] == 1


ASGI_PROBE = """
import json, threading, time
import django
django.setup()
import socketio, uvicorn, websocket
from chatsite.embedded_db import free_port
from realtime.patches import socketio as socketio_patches

sio = socketio_patches.AsyncServer(async_mode="asgi")


@sio.on("bye")
async def bye(sid):
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
    await sio.disconnect(sid)
    await sio.eio.disconnect(eio_sid)


port = free_port()
app = socketio.ASGIApp(sio)
server = uvicorn.Server(
    uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
)
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.05)
url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
ws = websocket.create_connection(url, timeout=5)
ws.recv()
ws.send("40")
ws.recv()
ws.send('42["bye"]')
received, closed = [], "still open"
try:
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            closed = "closed"
            break
        received.append(data.decode())
except websocket.WebSocketTimeoutException:
    pass
except (websocket.WebSocketException, OSError):
    closed = "closed"
result = {"engineio_server": type(sio.eio).__name__, "received": received, "closed": closed}
print(json.dumps(result))
"""


def test_asgi_a_server_side_disconnect_closes_the_websocket():
    """realtime.patches.engineio.AsyncServer (through realtime.patches.socketio.AsyncServer):
    python-engineio's asyncio `Socket.close` leaves its writer waiting, so without the patch
    the WebSocket stays open after the session ends, until the client leaves."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings"}
    run = subprocess.run(
        [sys.executable, "-c", ASGI_PROBE],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {"engineio_server": "AsyncServer", "received": ["41", "1"], "closed": "closed"}

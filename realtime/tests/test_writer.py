"""realtime.patches.engineio.OnDemandWriter: a WebSocket's packets, sent in order by a green
thread that runs only while there is something to send (eventlet and gevent, each in a process
of its own).

Delivery, disconnects and heartbeats through it are covered against real servers by the other
realtime tests; this checks the rules a busy server can't be made to show on demand."""

import json
import os
import subprocess
import sys

import pytest

from chatsite.testing import GREEN_PROCESS

PROBE = (
    GREEN_PROCESS
    + """
import gc, json, time
import django
django.setup()
from engineio.packet import MESSAGE, Packet
import greenlet
from realtime.patches.engineio import OnDemandWriter, Server, _spawn

server = Server(async_mode=mode)


class Socket:
    def __init__(self):
        self.queue = server.create_queue()


def on_demand_writer(socket, ws):
    return OnDemandWriter(socket.queue, ws, _spawn(mode), server.create_event)


class WebSocket:
    def __init__(self, fail_at=None):
        self.sent, self.closed, self.fail_at = [], 0, fail_at

    def send(self, data):
        sleep(0.001)  # a write that waits for the network, as a real one may
        if len(self.sent) == self.fail_at:
            raise OSError("connection reset")
        self.sent.append(data)

    def close(self):
        self.closed += 1


def live_green_threads():
    threads = [o for o in gc.get_objects() if issubclass(type(o), greenlet.greenlet)]
    return sum(1 for o in threads if not o.dead)


# Yield to the other green threads until `condition()` holds, or `timeout` seconds pass (then
# the assertions on what happened by then fail).
def until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        sleep(0.001)


result = {}
idle = live_green_threads()

# Packets queued before the writer took over go first; three green threads then put 50 each.
socket, ws = Socket(), WebSocket()
socket.queue.put(Packet(MESSAGE, data="open"))
writer = on_demand_writer(socket, ws)
def put_many(name):
    for i in range(50):
        socket.queue.put(Packet(MESSAGE, data=f"{name}{i}"))
        if i % 7 == 0:
            sleep(0)
putters = [spawn(put_many, name) for name in "abc"]
for putter in putters:
    putter.wait() if mode == "eventlet" else putter.join()
until(lambda: len(ws.sent) == 151 and live_green_threads() == idle)
result["sent"] = list(ws.sent)
result["green_threads_left"] = live_green_threads() - idle
result["closed_while_open"] = ws.closed

# The end of the session: the WebSocket is closed once, join() returns, later packets go nowhere.
socket.queue.put(Packet(MESSAGE, data="last"))
socket.queue.put(None)
writer.join()
socket.queue.put(Packet(MESSAGE, data="after the end"))
socket.queue.join()  # what close(wait=True) does: nothing left unaccounted for
# A window in which "after the end" would go out if it were going to: it must not.
sleep(0.05)
result["after_end"] = ws.sent[-1]
result["closed_after_end"] = ws.closed

# A send that fails closes the WebSocket and drops what was queued and what comes later.
socket, ws = Socket(), WebSocket(fail_at=2)
writer = on_demand_writer(socket, ws)
for i in range(5):
    socket.queue.put(Packet(MESSAGE, data=str(i)))
until(lambda: ws.closed)  # the third send failed
socket.queue.put(Packet(MESSAGE, data="5"))
socket.queue.put(None)
writer.join()
socket.queue.join()
result["failed_sent"] = ws.sent
result["failed_closed"] = ws.closed
print(json.dumps(result))
"""
)


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_packets_go_out_in_order_and_no_green_thread_waits_between_them(mode):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])

    sent = result["sent"]
    assert sent[0] == "4open"
    assert len(sent) == 151
    for name in "abc":
        assert [s for s in sent if s[1] == name] == [f"4{name}{i}" for i in range(50)]
    assert result["green_threads_left"] == 0  # nothing parked once the queue is empty
    assert result["closed_while_open"] == 0

    assert result["after_end"] == "4last"
    assert result["closed_after_end"] == 1

    assert result["failed_sent"] == ["40", "41"]
    assert result["failed_closed"] == 1

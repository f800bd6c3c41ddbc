"""python-engineio, written against python-engineio 4.15.1.

What changes, and through which hook (each checked by `realtime/tests/test_patches.py`):

- `Server` (and `AsyncServer`) `disconnect`: a session closed by the server does not wait for
  the client to fetch the CLOSE packet (a bug fix; uses `Server.sockets`).
- `Server.start_background_task`, under eventlet and gevent:
  - the ping of each socket is a timer instead of a green thread asleep through the ping
    interval. The task is recognised by identity with `Socket._send_ping` (private), and
    `_ping` does what `_send_ping` does once its sleep is over.
  - a WebSocket's packets are sent by a green thread that runs only while some are queued
    (`OnDemandWriter`), instead of python-engineio's writer, a green thread per WebSocket
    parked on the socket's queue for the whole connection. python-engineio's
    `Socket._websocket_handler` (private) starts its writer as the first background task
    after the upgrade; the WebSocket classes of `realtime.patches.eventlet` and
    `realtime.patches.gevent` wrap that handler (`Server.on_demand_writer`), which marks the
    green thread running it, and the first task that green thread starts once the socket is
    upgraded is taken to be the writer. If it never comes, a warning says the patch no
    longer applies.
- `Server.create_queue` (public): each socket's queue tells its `OnDemandWriter` about a packet.
- `use_websocket_class`: the WebSocket class python-engineio upgrades with, replaced in the
  server's private `_async` table (for message limits and no compression).

Both memory changes are measured in docs/benchmarks.md ("Measurements behind the code")."""

from __future__ import annotations

import logging
import time
import weakref

import engineio
import engineio.packet
import engineio.socket
import greenlet

logger = logging.getLogger(__name__)

# Raises AttributeError at import if python-engineio no longer has it.
_SEND_PING = engineio.socket.Socket._send_ping


def _spawn_later(async_mode: str):
    if async_mode == "eventlet":
        import eventlet

        return eventlet.spawn_after
    if async_mode == "gevent":
        import gevent

        return gevent.spawn_later
    return None


def _spawn(async_mode: str):
    if async_mode == "eventlet":
        import eventlet

        return eventlet.spawn_n
    if async_mode == "gevent":
        import gevent

        return gevent.spawn
    return None


def _ping(socket_ref: weakref.ref) -> None:
    # What `Socket._send_ping` does once its sleep is over.
    socket = socket_ref()
    if socket is not None and not socket.closing and not socket.closed:
        socket.last_ping = time.time()
        socket.send(engineio.packet.Packet(engineio.packet.PING))


class Server(engineio.Server):
    """The Engine.IO server of `realtime.server` (through `realtime.patches.socketio`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Green thread running a WebSocket handler → (socket, ws), until it starts its writer.
        self.writer_pending: dict[greenlet.greenlet, tuple] = {}
        self.writers_taken = 0  # WebSockets whose writer is an OnDemandWriter (for the tests)
        self._queue_class = None

    def disconnect(self, sid=None):
        """Close a session without waiting for the client to fetch the CLOSE packet.

        python-engineio closes a session this way when it refuses a request (a long-polling
        POST over REALTIME_MAX_PACKET_BYTES), and waits until the client has fetched the CLOSE
        packet before answering that request. But it refuses every poll of a closed session,
        so unless a poll was already pending the CLOSE packet is never fetched and the POST
        waited forever, holding its green thread and connection. The client learns that the
        session ended from its pending poll (CLOSE) or from the refusal of its next one."""
        socket = self.sockets.get(sid) if sid is not None else None
        if socket is None:
            return super().disconnect(sid)
        socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
        self.sockets.pop(sid, None)
        return None

    def create_queue(self, *args, **kwargs):
        if self._queue_class is None:
            self._queue_class = _writer_queue_class(type(super().create_queue()))
        return self._queue_class(*args, **kwargs)

    def on_demand_writer(self, handler):
        """Wrap python-engineio's WebSocket handler (a bound method of the session's `Socket`)
        so that the WebSocket's writer becomes an `OnDemandWriter`."""
        socket = handler.__self__
        if not isinstance(socket, engineio.socket.Socket):
            raise TypeError("realtime.patches.engineio: the WebSocket handler is not a Socket's")

        def handler_with_on_demand_writer(ws):
            current = greenlet.getcurrent()
            self.writer_pending[current] = (socket, ws)
            try:
                return handler(ws)
            finally:
                if self.writer_pending.pop(current, None) is not None and socket.upgraded:
                    logger.warning(
                        "python-engineio started no writer for an upgraded WebSocket as "
                        "realtime.patches.engineio expects: the patch no longer applies"
                    )

        return handler_with_on_demand_writer

    def start_background_task(self, target, *args, **kwargs):
        """Under eventlet and gevent, the ping as a timer and the WebSocket writer on demand
        (see the module's docstring)."""
        if getattr(target, "__func__", None) is _SEND_PING:
            spawn_later = _spawn_later(self.async_mode)
            if spawn_later is not None:
                # A weak reference: a socket that closes meanwhile is not kept until then.
                return spawn_later(self.ping_interval, _ping, weakref.ref(target.__self__))
        current = greenlet.getcurrent()
        pending = self.writer_pending.get(current)
        spawn = _spawn(self.async_mode)
        if pending is not None and pending[0].upgraded and spawn is not None:
            del self.writer_pending[current]
            socket, ws = pending
            self.writers_taken += 1
            return OnDemandWriter(socket.queue, ws, spawn, self.create_event)
        return super().start_background_task(target, *args, **kwargs)


def _writer_queue_class(base):
    class WriterQueue(base):
        """A socket's queue: once an `OnDemandWriter` sends its packets, a put wakes it."""

        writer = None

        def put(self, item, *args, **kwargs):
            writer = self.writer
            if writer is None:
                return super().put(item, *args, **kwargs)
            if writer.finished:
                return None
            super().put(item, *args, **kwargs)
            writer.start()
            return None

    return WriterQueue


class OnDemandWriter:
    """Sends one WebSocket's queued packets in order, from a green thread that runs only while
    there are packets to send.

    python-engineio keeps a writer green thread per WebSocket for the whole connection, asleep
    on the socket's queue between packets (with a 45 s timer re-armed on every wait); with
    thousands of idle sockets those are thousands of parked green threads with their saved
    stacks. This takes its place: a packet put into the socket's queue starts a sender unless
    one is running, and the sender ends once the queue is empty. A `None` in the queue (the
    session ended) closes the WebSocket, as the writer did; so does a failed send, after which
    packets are dropped. `join()` waits for that close."""

    def __init__(self, queue, ws, spawn, create_event):
        self.queue = queue
        self.ws = ws
        self.sending = False
        self.finished = False  # no more packets are sent
        self.closed = False  # the WebSocket is closed
        self._create_event = create_event
        self._close_waiter = None  # an event, made only when someone waits for the close
        self._spawn = spawn
        queue.writer = self
        self.start()  # packets queued before the upgrade

    def start(self) -> None:
        if not self.sending and not self.queue.empty():
            self.sending = True
            self._spawn(self._send_queued)

    def _send_queued(self) -> None:
        # Nothing yields between the check that finds the queue empty and `sending` going back
        # to False, so a packet put meanwhile is never left behind.
        try:
            while not self.finished and not self.queue.empty():
                pkt = self.queue.get(block=False)
                self.queue.task_done()
                if pkt is None:
                    self._finish()
                    return
                try:
                    self.ws.send(pkt.encode())
                except Exception:
                    self._finish()
                    return
        finally:
            self.sending = False

    def _finish(self) -> None:
        self.finished = True
        while not self.queue.empty():  # dropped, as the writer left them
            self.queue.get(block=False)
            self.queue.task_done()
        try:
            self.ws.close()
        finally:
            self.closed = True
            if self._close_waiter is not None:
                self._close_waiter.set()

    def join(self) -> None:
        if not self.closed:
            self._close_waiter = self._close_waiter or self._create_event()
            self._close_waiter.wait()


class AsyncServer(engineio.AsyncServer):
    """The Engine.IO server of the ASGI mode (`realtime.asgi`)."""

    async def disconnect(self, sid=None):
        """Close a session without waiting for the client to fetch the CLOSE packet (see
        `Server.disconnect`). Here the race is even likelier: the disconnect handler runs in a
        worker thread, so the pending poll is often answered with the handler's own events
        before CLOSE is queued."""
        socket = self.sockets.get(sid) if sid is not None else None
        if socket is None:
            return await super().disconnect(sid)
        await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
        # Unlike the synchronous Socket.close, the asyncio one leaves the writer waiting, so a
        # WebSocket stayed open until the client left: the `None` ends the writer, which then
        # closes the WebSocket.
        await socket.queue.put(None)
        self.sockets.pop(sid, None)
        return None


def use_websocket_class(eio: engineio.Server, websocket_class) -> None:
    """Upgrade `eio`'s WebSockets with `websocket_class` (constructed as python-engineio
    constructs its own: `websocket_class(handler, server)`)."""
    if "websocket" not in eio._async:
        raise RuntimeError("realtime.patches.engineio: python-engineio has no WebSocket class")
    eio._async = {**eio._async, "websocket": websocket_class}


def session_is_open(eio, sid: str) -> bool:
    """Whether `eio` still has the session `sid` (closed sessions leave `sockets`)."""
    return sid in eio.sockets


def abort_sessions(eio: engineio.Server) -> None:
    """End every session of `eio` as a lost connection ends: the disconnect handlers run and
    the WebSocket closes, without a CLOSE packet (which would tell python-socketio clients not
    to reconnect)."""
    for socket in list(eio.sockets.values()):
        try:
            socket.close(wait=False, abort=True)
        except Exception:
            logger.exception("could not close a socket")

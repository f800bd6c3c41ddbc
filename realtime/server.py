"""The one Socket.IO server of this process.

`manage.py serve` configures it for its async mode and serves it with Django. Any other process
(a separate web process, a management command, the shell) gets a server that can only emit:
through Redis when `REDIS_URL` is set, so its events reach the serving processes' clients."""

from __future__ import annotations

import contextlib
import socket
import time
import weakref

import engineio
import engineio.packet
import engineio.socket
import socketio
from django.conf import settings

from realtime import packets
from realtime.rooms import RoomIndex

_server: socketio.Server | None = None


def origin_allowed(origin: str | None, environ: dict) -> bool:
    """Browsers send Origin: allow our own origin and the CORS list. Clients that send none
    (mobile apps, servers) are not subject to the same-origin policy and authenticate by token."""
    if not origin:
        return True
    if origin in settings.CORS_ALLOWED_ORIGINS:
        return True
    scheme = environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http"))
    if not settings.REALTIME["TRUST_X_FORWARDED_PROTO"]:
        scheme = environ.get("wsgi.url_scheme", "http")
    return origin == f"{scheme.split(',')[0].strip()}://{environ.get('HTTP_HOST', '')}"


class _EngineIOServer(engineio.Server):
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

    def start_background_task(self, target, *args, **kwargs):
        """python-engineio waits out each socket's ping interval in a green thread of its own
        (`Socket._send_ping` sleeps, then pings), whose saved stack stays in memory for every
        socket (measured: docs/benchmarks.md, "Measurements behind the code"). Under eventlet
        and gevent the ping is scheduled as a timer instead, whose green thread starts only
        when the ping is due."""
        if getattr(target, "__func__", None) is engineio.socket.Socket._send_ping:
            spawn_later = _spawn_later(self.async_mode)
            if spawn_later is not None:
                # A weak reference: a socket that closes meanwhile is not kept until then.
                return spawn_later(self.ping_interval, _ping, weakref.ref(target.__self__))
        spawn = _spawn(self.async_mode)
        if getattr(target, "__qualname__", None) == _WRITER and spawn is not None:
            closure = dict(zip(target.__code__.co_freevars, target.__closure__, strict=True))
            if {"self", "ws"} <= closure.keys():
                socket, ws = closure["self"].cell_contents, closure["ws"].cell_contents
                return _OnDemandWriter(socket, ws, spawn)
        return super().start_background_task(target, *args, **kwargs)


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


# python-engineio's green thread that sends a WebSocket's queued packets.
_WRITER = "Socket._websocket_handler.<locals>.writer"


class _OnDemandWriter:
    """Sends one WebSocket's queued packets in order, from a green thread that runs only while
    there are packets to send.

    python-engineio keeps a writer green thread per WebSocket for the whole connection, asleep
    on the socket's queue between packets (with a 45 s timer re-armed on every wait); with
    thousands of idle sockets those are thousands of parked green threads with their saved
    stacks. This takes its place: a packet put into the socket's queue starts a sender unless
    one is running, and the sender ends once the queue is empty. A `None` in the queue (the
    session ended) closes the WebSocket, as the writer did; so does a failed send, after which
    packets are dropped. `join()` waits for that close."""

    def __init__(self, socket, ws, spawn):
        self.queue = socket.queue
        self.ws = ws
        self.sending = False
        self.finished = False  # no more packets are sent
        self.closed = False  # the WebSocket is closed
        self._create_event = socket.server.create_event
        self._close_waiter = None  # an event, made only when someone waits for the close
        self._spawn = spawn
        socket.queue = _WriterQueue(self.queue, self)
        self._start()  # packets queued before the upgrade

    def put(self, pkt, *args, **kwargs) -> None:
        if self.finished:
            return
        self.queue.put(pkt, *args, **kwargs)
        self._start()

    def _start(self) -> None:
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


class _WriterQueue:
    """A socket's queue once an `_OnDemandWriter` sends its packets: putting goes through it."""

    def __init__(self, queue, writer: _OnDemandWriter):
        self._queue = queue
        self.put = writer.put

    def __getattr__(self, name):
        return getattr(self._queue, name)


class _SocketIOServer(socketio.Server):
    def _engineio_server_class(self):
        return _EngineIOServer


class _Manager(RoomIndex, socketio.Manager):
    pass


class _RedisManager(RoomIndex, socketio.RedisManager):
    pass


def _client_manager(write_only: bool):
    if settings.REDIS_URL:
        return _RedisManager(settings.REDIS_URL, channel="chat-socketio", write_only=write_only)
    return _Manager()


def configure(async_mode: str) -> socketio.Server:
    """Create the serving server (called once by `manage.py serve`)."""
    global _server
    options = settings.REALTIME
    _server = _SocketIOServer(
        async_mode=async_mode,
        client_manager=_client_manager(write_only=False),
        cors_allowed_origins=origin_allowed,
        max_http_buffer_size=options["MAX_HTTP_BUFFER_SIZE"],
        ping_interval=options["PING_INTERVAL"],
        ping_timeout=options["PING_TIMEOUT"],
        logger=False,
        engineio_logger=False,
    )
    _configure_websockets(_server, async_mode, options["MAX_HTTP_BUFFER_SIZE"])
    packets.guard(_server)
    return _server


def _without_compression(environ: dict) -> dict:
    """Negotiate no permessage-deflate: each socket's zlib streams held more memory than the
    rest of the socket, for frames of a few hundred bytes that hardly compress (measured:
    docs/benchmarks.md, "Measurements behind the code"). The ASGI mode turns it off in
    uvicorn's options."""
    environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    return environ


BINARY_OPCODE = 2  # RFC 6455


def _configure_websockets(sio: socketio.Server, async_mode: str, limit: int) -> None:
    """WebSockets without compression (see `_without_compression`), a message refused as soon
    as it passes `limit` bytes (close code 1009), as uvicorn does in the ASGI mode, and binary
    frames refused (1003: the chat protocol has none; see `realtime.packets`).

    As python-engineio sets them up, eventlet checks each frame against the limit but not a
    message sent in many frames, and gevent's simple-websocket checks nothing: either read a
    message into memory whole, however big, before python-engineio compared its length in
    characters with the limit (so non-ASCII text up to 4x the limit in bytes got through)."""
    if async_mode == "eventlet":
        from engineio.async_drivers.eventlet import WebSocketWSGI
        from eventlet.websocket import FailedConnectionError, RFC6455WebSocket

        class LimitedMessage(RFC6455WebSocket.Message):
            received = 0

            def push(self, data, final=False):
                if self.opcode == BINARY_OPCODE:
                    raise FailedConnectionError(1003, "Binary frames are not accepted")
                self.received += len(data)
                if self.received > limit:
                    raise FailedConnectionError(1009, "Message is too big")
                super().push(data, final=final)

        class LimitedEventletWebSocketWSGI(WebSocketWSGI):
            def __init__(self, handler, server):
                def limited_handler(ws):
                    ws.Message = LimitedMessage  # before the first frame is read
                    return handler(ws)

                super().__init__(limited_handler, server)

            def __call__(self, environ, start_response):
                return super().__call__(_without_compression(environ), start_response)

        websocket_class = LimitedEventletWebSocketWSGI
    elif async_mode == "gevent":
        from engineio.async_drivers.gevent import WebSocketWSGI

        class LimitedGeventWebSocketWSGI(WebSocketWSGI):
            def __init__(self, handler, server):
                super().__init__(handler, server)
                # simple-websocket counts characters: this bounds what it buffers...
                self.server_args["max_message_size"] = limit
                # With a ping interval its reader waits on a gevent selector between reads, so
                # it yields to the greenlet that consumes (and checks) messages. Without one, a
                # client that sends without pause keeps it reading and buffering (a flood of
                # binary frames was held before the first was looked at; measured:
                # docs/benchmarks.md, "Measurements behind the code"). A WebSocket ping
                # every ten minutes costs nothing; Engine.IO pings do the liveness check.
                self.server_args["ping_interval"] = 600

            def __call__(self, environ, start_response):
                return super().__call__(_without_compression(environ), start_response)

            def close(self):
                self._end_connection()

            def _end_connection(self, code=None, reason=None):
                """Close, and shut the connection down under simple-websocket's reader, which
                would otherwise go on reading (and buffering) whatever the client still sends.
                (Closing closes its own copy of the socket: shut down through another.)"""
                sock = None
                with contextlib.suppress(OSError):
                    sock = self.ws.sock.dup()
                if self.ws.connected:
                    self.ws.close(code, reason)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()

            def wait(self):
                data = super().wait()
                if isinstance(data, (bytes, bytearray)):
                    self._end_connection(1003, "Binary frames are not accepted")
                    return None
                # ...and this holds text to the limit in bytes.
                if isinstance(data, str) and not data.isascii() and len(data.encode()) > limit:
                    if self.ws.connected:
                        self.ws.close(1009, "Message is too big")
                    return None  # python-engineio then closes the session
                return data

        websocket_class = LimitedGeventWebSocketWSGI
    else:
        return
    sio.eio._async = {**sio.eio._async, "websocket": websocket_class}


def use(server_like) -> None:
    """Make `server_like` this process's server (the ASGI mode's bridge to its AsyncServer)."""
    global _server
    _server = server_like


def get_server() -> socketio.Server:
    global _server
    if _server is None:
        _server = socketio.Server(
            async_mode="threading", client_manager=_client_manager(write_only=True)
        )
    return _server


_namespace = None


def set_current_namespace(namespace) -> None:
    global _namespace
    _namespace = namespace


def current_namespace():
    """The serving process's handlers (None in processes that only emit)."""
    return _namespace

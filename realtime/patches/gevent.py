"""gevent, written against gevent 26.9.0, simple-websocket 1.1.0 and python-engineio 4.15.1's
gevent driver (which upgrades with simple-websocket).

- `websocket_class`: python-engineio's gevent WebSocket with each message limited in bytes,
  binary frames refused, and the connection shut down under simple-websocket's reader when it
  closes (through the driver's `server_args`, `ws`, and simple-websocket's `Server.sock`); its
  handler is given to `realtime.patches.engineio.Server.on_demand_writer`.
- `handler_class`: pywsgi's `WSGIHandler` overriding `read_requestline` (to know which
  connections wait between requests) and `run_application` (to end the connection after a
  WebSocket, by setting `close_connection`); both are methods of its request loop, which a
  new gevent may reorganise.

Checked by `realtime/tests/test_patches.py`."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

import gevent
from engineio.async_drivers.gevent import WebSocketWSGI
from gevent import pywsgi


def websocket_class(limit: int, prepare_environ: Callable[[dict], dict]):
    """A WebSocket class for `realtime.patches.engineio.use_websocket_class`: a message is
    refused as soon as it passes `limit` bytes (close code 1009), binary data at once (1003).
    simple-websocket checks nothing as python-engineio sets it up: it read a message into
    memory whole, however big, before python-engineio compared its length in characters with
    the limit (so non-ASCII text up to 4x the limit in bytes got through).
    `prepare_environ` sees the upgrade request first."""

    class LimitedGeventWebSocketWSGI(WebSocketWSGI):
        def __init__(self, handler, server):
            super().__init__(server.on_demand_writer(handler), server)
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
            return super().__call__(prepare_environ(environ), start_response)

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

    return LimitedGeventWebSocketWSGI


def handler_class(between_requests: set[gevent.Greenlet]):
    """pywsgi's handler with `TCP_NODELAY` (small Socket.IO frames must leave at once, not
    wait for Nagle's algorithm), whose keep-alive connections are in `between_requests` while
    they wait for their next request (stopping closes those), and which ends a connection once
    the WebSocket on it has ended."""

    class NoDelayHandler(pywsgi.WSGIHandler):
        def __init__(self, sock, address, server, rfile=None):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().__init__(sock, address, server, rfile)

        def read_requestline(self):
            current = gevent.getcurrent()
            between_requests.add(current)
            try:
                return super().read_requestline()
            finally:
                between_requests.discard(current)

        def run_application(self):
            try:
                super().run_application()
            finally:
                # The WebSocket took the connection over; once it ends, the connection is
                # done. Kept alive, pywsgi would read the client's close frame as an HTTP
                # request and never complete the closing handshake (clients hang in close()).
                if (self.environ or {}).get("HTTP_UPGRADE", "").lower() == "websocket":
                    self.close_connection = True

    return NoDelayHandler

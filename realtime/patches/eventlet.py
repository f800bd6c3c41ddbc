"""eventlet, written against eventlet 0.41.3 (with python-engineio 4.15.1's eventlet driver).

- `websocket_class`: python-engineio's eventlet WebSocket with each message limited in bytes
  and binary frames refused, through `RFC6455WebSocket.Message` (a nested class, replaced on
  each WebSocket before its first frame is read), and its handler given to
  `realtime.patches.engineio.Server.on_demand_writer`; and its `_apply_mask` (a static method
  that unmasks every frame a client sends, a byte at a time in a Python generator) with
  `apply_mask`, the same XOR done on whole integers.
- `Protocol`: eventlet's `HttpProtocol` with smaller connection buffers, and a WebSocket
  request's buffers swapped for tiny ones in `get_environ` (its `rfile` and `wfile`).

Checked by `realtime/tests/test_patches.py`; the memory they save is measured in
docs/benchmarks.md ("Measurements behind the code")."""

from __future__ import annotations

from collections.abc import Callable

import eventlet.wsgi
from engineio.async_drivers.eventlet import WebSocketWSGI
from eventlet.websocket import FailedConnectionError, RFC6455WebSocket

BINARY_OPCODE = 2  # RFC 6455


def websocket_class(limit: int, prepare_environ: Callable[[dict], dict]):
    """A WebSocket class for `realtime.patches.engineio.use_websocket_class`: a message is
    refused as soon as it passes `limit` bytes (close code 1009), a binary frame at once
    (1003). eventlet checks each frame against the limit, but not a message sent in many
    frames, which it reads into memory whole. `prepare_environ` sees the upgrade request
    first."""

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
            handler = server.on_demand_writer(handler)

            def limited_handler(ws):
                ws.Message = LimitedMessage  # before the first frame is read
                ws._apply_mask = apply_mask
                return handler(ws)

            super().__init__(limited_handler, server)

        def __call__(self, environ, start_response):
            return super().__call__(prepare_environ(environ), start_response)

    return LimitedEventletWebSocketWSGI


def apply_mask(data: bytes, mask, length: int | None = None, offset: int = 0) -> bytes:
    """`RFC6455WebSocket._apply_mask`: the first `length` bytes of `data` XORed with the
    four-byte `mask`, starting `offset` bytes into it. eventlet builds a one-byte `bytes` per
    byte of every frame a client sends; here it is one XOR of two integers: 1.8 µs instead of
    48 µs for a 300-byte frame such as a connect with its token, 5 µs instead of 160 µs for a
    1,000-byte message (docs/benchmarks.md, "Connect storms")."""
    if length is None:
        length = len(data)
    if length == 0:
        return b""
    key = bytes(mask[(offset + i) % 4] for i in range(4))
    repeated = (key * (length // 4 + 1))[:length]
    xored = int.from_bytes(data[:length], "big") ^ int.from_bytes(repeated, "big")
    return xored.to_bytes(length, "big")


# What an upgraded connection keeps for HTTP: a refused upgrade is answered through them.
WEBSOCKET_BUFSIZE = 64


class Protocol(eventlet.wsgi.HttpProtocol):
    """For `eventlet.wsgi.server(protocol=...)`.

    A connection keeps its read and write buffers for as long as it lives: 4 KB each instead
    of 8 KB and 16 KB. Larger bodies go through them in several reads; eventlet flushes after
    every write."""

    rbufsize = wbufsize = 4 << 10
    websocket_upgrades = 0  # requests whose buffers were swapped (for the tests)

    def get_environ(self):
        environ = super().get_environ()
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            # A WebSocket reads and writes its socket directly for as long as the
            # connection lasts: its buffers shrink to a few bytes (8 KB less per socket).
            # (New ones before the old close: the socket closes with its last file.)
            old = self.rfile, self.wfile
            self.rfile = self.connection.makefile("rb", WEBSOCKET_BUFSIZE)
            self.wfile = self.connection.makefile("wb", WEBSOCKET_BUFSIZE)
            for buffered in old:
                buffered.close()
            type(self).websocket_upgrades += 1
        return environ

"""What a client may put on the wire, checked before python-socketio reads it.

The chat protocol has no binary events, so binary input closes the connection at once:
python-socketio would otherwise keep every attachment of a binary event in memory until the
last one arrived. A WebSocket's binary frame is refused where the frame is read (close code
1003: `realtime.server` for eventlet and gevent, `TextOnlyWebSockets` for ASGI), so its
connection ends; over long-polling, a binary packet or a binary-event header (`451-[...]`)
ends the session here. A packet python-socketio
cannot read (bad JSON, an unknown type, an event without a name) is a strike: the first one is
logged as one warning line, and the connection is closed at the `MAX_STRIKES`th. Before this,
every malformed packet logged a full traceback: a client could write megabytes of log a
second.

Installed with python-engineio's public `on("message")` / `on("disconnect")` registration,
around the handlers python-socketio registered there (`realtime.patches.socketio` finds
them)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from realtime.patches import engineio as engineio_patches
from realtime.patches import socketio as socketio_patches

logger = logging.getLogger(__name__)

MAX_STRIKES = 3
# However many connections misbehave, at most this many warnings a minute (then one line that
# says how many were left out).
LOG_BUDGET = 10
LOG_WINDOW = 60.0
# Socket.IO packet types 5 and 6: an event or an ack followed by binary attachments.
BINARY_PACKET_TYPES = ("5", "6")
# What python-socketio raises for a packet it cannot read.
MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)


class PacketGuard:
    """Per connection: refuse binary input, count malformed packets, warn once."""

    def __init__(self, eio, handle_message: Callable, handle_disconnect: Callable):
        self.eio = eio
        self.handle_message = handle_message
        self.handle_disconnect = handle_disconnect
        self.strikes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._window_started = 0.0
        self._logged = 0
        self._left_out = 0

    def admit(self, eio_sid: str, data) -> bool:
        """False if the message must not reach python-socketio: binary input (the caller
        closes the connection), or a message of a session that was closed already."""
        if not engineio_patches.session_is_open(self.eio, eio_sid):
            return False
        if not isinstance(data, str) or data[:1] in BINARY_PACKET_TYPES:
            self._count(eio_sid, MAX_STRIKES, "binary packet refused; connection closed")
            return False
        return True

    def strike(self, eio_sid: str, error: BaseException) -> bool:
        """Count a malformed packet; True once the connection must be closed."""
        what = f"malformed packet ({type(error).__name__}); {MAX_STRIKES} close the connection"
        return self._count(eio_sid, 1, what) >= MAX_STRIKES

    def forget(self, eio_sid: str) -> None:
        self.strikes.pop(eio_sid, None)

    def _count(self, eio_sid: str, strikes: int, what: str) -> int:
        with self._lock:
            first = eio_sid not in self.strikes
            self.strikes[eio_sid] = total = self.strikes.get(eio_sid, 0) + strikes
            if not first:
                return total
            now = time.monotonic()
            if now - self._window_started > LOG_WINDOW:
                if self._left_out:
                    logger.warning("%d more sockets sent refused packets", self._left_out)
                self._window_started, self._logged, self._left_out = now, 0, 0
            if self._logged >= LOG_BUDGET:
                self._left_out += 1
                return total
            self._logged += 1
        logger.warning("socket %s: %s", eio_sid, what)
        return total


def guard(sio) -> PacketGuard:
    """Put a PacketGuard in front of a `socketio.Server`'s Engine.IO message handler."""
    eio = sio.eio
    packet_guard = PacketGuard(eio, *socketio_patches.engineio_handlers(sio))

    def on_message(eio_sid: str, data) -> None:
        if not packet_guard.admit(eio_sid, data):
            eio.disconnect(eio_sid)
            return
        try:
            packet_guard.handle_message(eio_sid, data)
        except MALFORMED as error:
            if packet_guard.strike(eio_sid, error):
                eio.disconnect(eio_sid)

    def on_disconnect(eio_sid: str, *reason) -> None:
        packet_guard.forget(eio_sid)
        return packet_guard.handle_disconnect(eio_sid, *reason)

    eio.on("message", on_message)
    eio.on("disconnect", on_disconnect)
    return packet_guard


def guard_async(sio) -> PacketGuard:
    """The same for a `socketio.AsyncServer` (the ASGI mode)."""
    eio = sio.eio
    packet_guard = PacketGuard(eio, *socketio_patches.engineio_handlers(sio))

    async def on_message(eio_sid: str, data) -> None:
        if not packet_guard.admit(eio_sid, data):
            await eio.disconnect(eio_sid)
            return
        try:
            await packet_guard.handle_message(eio_sid, data)
        except MALFORMED as error:
            if packet_guard.strike(eio_sid, error):
                await eio.disconnect(eio_sid)

    async def on_disconnect(eio_sid: str, *reason) -> None:
        packet_guard.forget(eio_sid)
        return await packet_guard.handle_disconnect(eio_sid, *reason)

    eio.on("message", on_message)
    eio.on("disconnect", on_disconnect)
    return packet_guard


class TextOnlyWebSockets:
    """ASGI middleware: a binary WebSocket frame closes the connection (1003) before the
    Socket.IO app sees it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        refused = False

        async def receive_text():
            nonlocal refused
            if refused:
                return {"type": "websocket.disconnect", "code": 1003}
            message = await receive()
            if message["type"] == "websocket.receive" and message.get("bytes") is not None:
                refused = True
                await send({"type": "websocket.close", "code": 1003})
                return {"type": "websocket.disconnect", "code": 1003}
            return message

        return await self.app(scope, receive_text, send)

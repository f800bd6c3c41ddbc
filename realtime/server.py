"""The one Socket.IO server of this process.

`manage.py serve` configures it for its async mode and serves it with Django. Any other process
(a separate web process, a management command, the shell) gets a server that can only emit:
through Redis when `REDIS_URL` is set, so its events reach the serving processes' clients."""

from __future__ import annotations

import socketio
from django.conf import settings

from chatsite.origins import origin_allowed
from realtime import packets
from realtime.patches import engineio as engineio_patches
from realtime.patches import socketio as socketio_patches
from realtime.patches.socketio import RoomIndex

_server: socketio.Server | None = None


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
    _server = socketio_patches.Server(
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


def _configure_websockets(sio: socketio.Server, async_mode: str, limit: int) -> None:
    """WebSockets without compression (see `_without_compression`), a message refused as soon
    as it passes `limit` bytes (close code 1009), as uvicorn does in the ASGI mode, and binary
    frames refused (1003: the chat protocol has none; see `realtime.packets`). As
    python-engineio sets them up, neither eventlet nor gevent's simple-websocket holds a
    message to a limit in bytes; the WebSocket classes that do are patches
    (`realtime.patches.eventlet`, `realtime.patches.gevent`)."""
    if async_mode == "eventlet":
        from realtime.patches import eventlet as library
    elif async_mode == "gevent":
        from realtime.patches import gevent as library
    else:
        return
    engineio_patches.use_websocket_class(
        sio.eio, library.websocket_class(limit, _without_compression)
    )


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

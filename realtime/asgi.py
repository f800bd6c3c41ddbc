"""The same Socket.IO server for ASGI deployments (uvicorn, daphne, Django Channels).

The handlers, authentication, presence and delivery are the ones the eventlet/gevent server
uses (`realtime.handlers.ChatNamespace`): they are synchronous Django code, so each event runs
in a worker thread (`sync_to_async`), and their calls to the Socket.IO server go through
`LoopBridge`, which hands each coroutine of python-socketio's `AsyncServer` to the event loop and
waits for it. Messages saved anywhere in the process (REST, admin, a Channels consumer, a
management command with Redis) reach clients through the same `post_save` receiver."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import socketio
from asgiref.sync import sync_to_async
from django.conf import settings

from chatsite.origins import origin_allowed
from realtime import (
    access_log,
    events,
    handlers,
    news,
    online_lists,
    packets,
    presence,
    revocations,
    server,
)
from realtime.hosts import AllowedHostsASGIApp
from realtime.patches import socketio as socketio_patches
from realtime.patches.socketio import RoomIndex

BRIDGE_TIMEOUT = 30


class LoopBridge:
    """The synchronous face of an `AsyncServer`, callable from any thread but the loop's."""

    def __init__(self, sio: socketio.AsyncServer):
        self.sio = sio
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self, coroutine):
        if self.loop is None:
            coroutine.close()
            raise RuntimeError("the ASGI server has not started")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(BRIDGE_TIMEOUT)

    def emit(self, *args, **kwargs):
        return self._run(self.sio.emit(*args, **kwargs))

    def enter_room(self, sid, room, namespace=None):
        return self._run(self.sio.enter_room(sid, room, namespace=namespace))

    def leave_room(self, sid, room, namespace=None):
        return self._run(self.sio.leave_room(sid, room, namespace=namespace))

    def disconnect(self, sid, namespace=None):
        return self._run(self.sio.disconnect(sid, namespace=namespace))

    @property
    def manager(self):
        return self.sio.manager

    def sleep(self, seconds: float = 0) -> None:
        time.sleep(seconds)

    def start_background_task(self, target, *args, **kwargs):
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        return thread


class _Manager(RoomIndex, socketio.AsyncManager):
    pass


class _RedisManager(RoomIndex, socketio.AsyncRedisManager):
    pass


def _client_manager():
    if settings.REDIS_URL:
        return _RedisManager(settings.REDIS_URL, channel="chat-socketio")
    return _Manager()


def _in_thread(handler, executor: ThreadPoolExecutor):
    run = sync_to_async(handler, thread_sensitive=False, executor=executor)

    async def wrapper(sid, *args):
        return await run(sid, *args)

    return wrapper


def build_socketio_app(django_app=None):
    """An ASGI app serving Socket.IO at /socket.io/ (for the hosts in ALLOWED_HOSTS) and passing
    other traffic to `django_app`."""
    options = settings.REALTIME
    sio = socketio_patches.AsyncServer(
        async_mode="asgi",
        client_manager=_client_manager(),
        cors_allowed_origins=origin_allowed,
        max_http_buffer_size=options["MAX_HTTP_BUFFER_SIZE"],
        ping_interval=options["PING_INTERVAL"],
        ping_timeout=options["PING_TIMEOUT"],
    )
    bridge = LoopBridge(sio)
    server.use(bridge)
    who = presence.build()
    namespace = handlers.ChatNamespace(bridge, who)
    server.set_current_namespace(namespace)

    # The handlers' own threads. A handler spends most of its time waiting: for a database
    # read shared with the other connects in flight (`realtime.batching`), for the event loop
    # to emit. asyncio's default pool (6 threads on two CPUs, at most 32) let only that many
    # connects wait, and so share a read, at once (docs/benchmarks.md, "The ASGI mode in a
    # storm").
    threads = ThreadPoolExecutor(options["ASGI_HANDLER_THREADS"], "socketio-handler")
    sio.on("connect", _in_thread(namespace.connect, threads))
    sio.on("disconnect", _in_thread(namespace.disconnect, threads))
    for name, handler in handlers.client_events(namespace).items():
        sio.on(name, _in_thread(handler, threads))
    sio.on("*", _in_thread(handlers.unknown_events(namespace), threads))
    packets.guard_async(sio)

    async def startup():
        bridge.loop = asyncio.get_running_loop()
        bridge.start_background_task(namespace.watch_sessions)
        bridge.start_background_task(namespace.watch_memory)
        bridge.start_background_task(namespace.purge_attachments)
        if settings.REDIS_URL:
            revocations.hear(namespace)
            online_lists.hear(namespace.lists)
            bridge.start_background_task(news.listen, bridge.sleep)
            bridge.start_background_task(namespace.watch_nodes)

    async def shutdown():
        # The handlers still running (the disconnects of the sockets just closed) end first,
        # with the loop still serving their calls; those not started are dropped.
        await sync_to_async(threads.shutdown, thread_sensitive=False)(cancel_futures=True)
        await sync_to_async(who.shutdown, thread_sensitive=False)()

    return access_log.asgi(
        packets.TextOnlyWebSockets(
            AllowedHostsASGIApp(
                sio, other_asgi_app=django_app, on_startup=startup, on_shutdown=shutdown
            )
        )
    )


__all__ = ["LoopBridge", "build_socketio_app", "events"]

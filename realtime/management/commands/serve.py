"""`manage.py serve`: Django and Socket.IO from one process (`socketio.WSGIApp`, with the
Host check of `realtime.hosts`).

Under eventlet by default; `REALTIME_ASYNC_MODE=gevent`, `asgi` or `threading` pick the others
(manage.py monkey-patches before anything is imported).

SIGTERM (and Ctrl-C) stop the server gracefully: it stops accepting connections, closes every
Socket.IO connection (its disconnect handlers run, clients see the connection end and reconnect
with their backoff), lets requests in progress finish for up to `--shutdown-timeout` seconds,
then returns, so `manage.py` stops the embedded database it started, cleanly.

With `--reuse-port` a new process can listen on the port of a running one (SO_REUSEPORT): the
kernel spreads new connections over both until the old one, sent SIGTERM, closes its listener,
so its clients reconnect to the new one at their first attempt (docs/operations.md)."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable

import socketio
from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.wsgi import get_wsgi_application

from realtime import (
    access_log,
    handlers,
    memory,
    news,
    online_lists,
    presence,
    revocations,
    server,
)
from realtime.hosts import AllowedHostsWSGIApp
from realtime.patches import engineio as engineio_patches

logger = logging.getLogger("realtime.serve")


class Command(BaseCommand):
    help = "Serve the chat server (HTTP API, admin, demo page and Socket.IO) from one process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true", help="Skip `migrate` at start.")
        parser.add_argument(
            "--shutdown-timeout",
            type=float,
            default=10.0,
            help="On SIGTERM, seconds to let requests in progress finish (default 10).",
        )
        parser.add_argument(
            "--access-log",
            action="store_true",
            default=None,
            help="Log every HTTP request and socket connect/disconnect (or ACCESS_LOG=true).",
        )
        parser.add_argument(
            "--reuse-port",
            action="store_true",
            default=None,
            help="Share the port with another serve process started the same way, for a "
            "restart without a gap (or REUSE_PORT=true).",
        )
        parser.add_argument(
            "--name",
            default=None,
            help="This process's name in the access log (or PROCESS_NAME; default host:port).",
        )

    def handle(self, *args, host: str, port: int, no_migrate: bool, **options):
        mode = settings.REALTIME["ASYNC_MODE"]
        timeout = options["shutdown_timeout"]
        access_log.configure(
            enabled=options["access_log"] or settings.REALTIME["ACCESS_LOG"],
            name=options["name"] or settings.REALTIME["PROCESS_NAME"] or f"{host}:{port}",
        )
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        memory.tune()
        reuse_port = bool(options["reuse_port"] or settings.REALTIME["REUSE_PORT"])
        if reuse_port and mode == "threading":
            raise CommandError("--reuse-port (REUSE_PORT) needs eventlet, gevent or asgi.")
        if mode == "asgi":

            def say_serving() -> None:
                self.stdout.write(f"Chat server (asgi, uvicorn) on http://{host}:{port}/")
                self.stdout.flush()

            serve_asgi(listen(host, port, reuse_port=reuse_port), timeout, say_serving)
            self.stdout.write("Chat server stopped.")
            return
        sio = server.configure(mode)
        who = presence.build()
        namespace = handlers.register(sio, who)
        server.set_current_namespace(namespace)
        sio.start_background_task(namespace.watch_sessions)
        sio.start_background_task(namespace.watch_memory)
        sio.start_background_task(namespace.purge_attachments)
        if settings.REDIS_URL:
            revocations.hear(namespace)
            online_lists.hear(namespace.lists)
            sio.start_background_task(news.listen, sio.sleep)
            sio.start_background_task(namespace.watch_nodes)
        app = access_log.wsgi(AllowedHostsWSGIApp(sio, StaticFilesHandler(get_wsgi_application())))
        listener = None if mode == "threading" else listen(host, port, reuse_port=reuse_port)
        self.stdout.write(f"Chat server ({mode}) on http://{host}:{port}/", ending="\n")
        self.stdout.flush()

        def close_sockets() -> None:
            with namespace.departing_together():
                close_socketio_connections(sio)

        serve = {"eventlet": serve_eventlet, "gevent": serve_gevent}.get(mode)
        try:
            if serve is None:
                serve_threading(app, host, port)
            else:
                serve(app, listener, close_sockets=close_sockets, timeout=timeout)
        except KeyboardInterrupt:
            pass
        finally:
            who.shutdown()
            self.stdout.write("Chat server stopped.")


def listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """The listening socket, bound before the process says it serves; green under eventlet and
    gevent (the process is monkey-patched). IPv6 for a host written with colons (`::`), as
    uvicorn decides."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(2048)
    return listener


def close_socketio_connections(sio: socketio.Server) -> None:
    """End every Socket.IO connection of this process as a lost connection ends: the server
    runs its disconnect handlers (presence) and closes the WebSocket, and clients reconnect
    with their backoff. (An Engine.IO CLOSE packet would tell python-socketio clients that the
    server wants them gone for good; a Socket.IO DISCONNECT would tell every client.)"""
    engineio_patches.abort_sessions(sio.eio)


def _stop_on_sigterm() -> None:
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


class _StopRequest:
    """SIGTERM and SIGINT only set a flag: raising from a signal handler would interrupt
    whichever green thread happens to run, a request in progress included."""

    def __init__(self):
        self.requested = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request)

    def _request(self, signum, frame) -> None:
        self.requested = True


def serve_asgi(listener: socket.socket, timeout: float, say_serving: Callable[[], None]) -> None:
    """`chatsite.asgi:application` under uvicorn (the same app runs under daphne).

    uvicorn shuts down gracefully on SIGTERM itself (WebSockets closed with 1012, requests in
    progress finished, lifespan shutdown), then raises the signal again for the handler that
    was installed before it: ours turns it into a return, so the embedded database is stopped."""
    import uvicorn

    _stop_on_sigterm()
    config = uvicorn.Config(
        "chatsite.asgi:application",
        log_level="warning",
        ws_max_size=settings.REALTIME["MAX_HTTP_BUFFER_SIZE"],
        ws_per_message_deflate=False,  # as the other modes: see server._without_compression
        lifespan="on",
        timeout_graceful_shutdown=timeout,
    )
    server = uvicorn.Server(config)

    def once_started() -> None:  # after the app's import and lifespan startup
        while not (server.started or server.should_exit):
            time.sleep(0.05)
        if server.started:
            say_serving()

    threading.Thread(target=once_started, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])


def serve_eventlet(
    app, listener: socket.socket, *, close_sockets: Callable[[], None], timeout: float
) -> None:
    import eventlet
    import eventlet.wsgi

    from realtime.patches.eventlet import Protocol

    # Accepted sockets inherit it: small Socket.IO frames leave at once instead of waiting for
    # the client's delayed ACK (Nagle's algorithm), which delayed every connect (measured:
    # docs/benchmarks.md, "Measurements behind the code"). (gevent: `patches.gevent`.)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pool = eventlet.GreenPool(settings.REALTIME["MAX_CONNECTIONS"])

    server_thread = eventlet.spawn(
        eventlet.wsgi.server,
        listener,
        app,
        custom_pool=pool,
        protocol=Protocol,
        log_output=False,
        socket_timeout=None,
    )
    stop = _StopRequest()
    while not stop.requested and not server_thread.dead:
        eventlet.sleep(0.2)
    # Stop accepting (eventlet's accept loop ends on KeyboardInterrupt and closes idle
    # keep-alive connections; requests in progress go on). Closing the listener refuses new
    # connections at once.
    server_thread.kill(KeyboardInterrupt)
    listener.close()
    close_sockets()
    with eventlet.Timeout(timeout, False):
        pool.waitall()
    for green_thread in list(pool.coroutines_running):
        green_thread.kill()
    server_thread.wait()


def serve_gevent(
    app, listener: socket.socket, *, close_sockets: Callable[[], None], timeout: float
) -> None:
    import gevent
    from gevent import pool, pywsgi

    from realtime.patches.gevent import handler_class

    between_requests: set[gevent.Greenlet] = set()

    # A pool, so that stopping waits for the requests in progress (and caps connections).
    handlers = pool.Pool(settings.REALTIME["MAX_CONNECTIONS"])
    wsgi = pywsgi.WSGIServer(
        listener, app, handler_class=handler_class(between_requests), log=None, spawn=handlers
    )

    def stop() -> None:
        wsgi.close()  # stop accepting; serve_forever() then waits for the pool
        close_sockets()
        gevent.killall(list(between_requests))

    for signum in (signal.SIGTERM, signal.SIGINT):
        # gevent runs the callback in the hub, outside any request's greenlet.
        gevent.signal_handler(signum, gevent.spawn, stop)
    wsgi.serve_forever(stop_timeout=timeout)


def serve_threading(app, host: str, port: int) -> None:
    """Threads and HTTP long-polling only (no WebSocket upgrade); for debugging."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    httpd = make_server(host, port, app, ThreadingWSGIServer, QuietHandler)
    _stop_on_sigterm()
    httpd.serve_forever()

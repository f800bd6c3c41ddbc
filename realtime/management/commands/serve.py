"""`manage.py serve`: Django and Socket.IO from one process (`socketio.WSGIApp`).

Under eventlet by default; `REALTIME_ASYNC_MODE=gevent` or `threading` pick the others
(manage.py monkey-patches before anything is imported)."""

from __future__ import annotations

import logging
import signal
import socket

import socketio
from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.wsgi import get_wsgi_application

from realtime import handlers, presence, server

logger = logging.getLogger("realtime.serve")


class Command(BaseCommand):
    help = "Serve the chat server (HTTP API, admin, demo page and Socket.IO) from one process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true", help="Skip `migrate` at start.")

    def handle(self, *args, host: str, port: int, no_migrate: bool, **options):
        mode = settings.REALTIME["ASYNC_MODE"]
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        if mode == "asgi":
            self.stdout.write(f"Chat server (asgi, uvicorn) on http://{host}:{port}/")
            self.stdout.flush()
            serve_asgi(host, port)
            self.stdout.write("Chat server stopped.")
            return
        sio = server.configure(mode)
        who = presence.build()
        namespace = handlers.register(sio, who)
        server.set_current_namespace(namespace)
        sio.start_background_task(namespace.watch_sessions)
        app = socketio.WSGIApp(sio, StaticFilesHandler(get_wsgi_application()))
        self.stdout.write(f"Chat server ({mode}) on http://{host}:{port}/", ending="\n")
        self.stdout.flush()
        try:
            {"eventlet": serve_eventlet, "gevent": serve_gevent, "threading": serve_threading}[
                mode
            ](app, host, port)
        except KeyboardInterrupt:
            pass
        finally:
            who.shutdown()
            self.stdout.write("Chat server stopped.")


def _stop_on_sigterm() -> None:
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def serve_asgi(host: str, port: int) -> None:
    """`chatsite.asgi:application` under uvicorn (the same app runs under daphne)."""
    import uvicorn

    uvicorn.run(
        "chatsite.asgi:application",
        host=host,
        port=port,
        log_level="warning",
        ws_max_size=settings.REALTIME["MAX_HTTP_BUFFER_SIZE"],
        lifespan="on",
    )


def serve_eventlet(app, host: str, port: int) -> None:
    import eventlet
    import eventlet.wsgi

    listener = eventlet.listen((host, port), backlog=2048)
    _stop_on_sigterm()
    eventlet.wsgi.server(
        listener,
        app,
        max_size=settings.REALTIME["MAX_CONNECTIONS"],
        log_output=False,
        socket_timeout=None,
    )


def serve_gevent(app, host: str, port: int) -> None:
    from gevent import pywsgi

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)

    class NoDelayHandler(pywsgi.WSGIHandler):
        # Small Socket.IO frames must leave at once, not wait for Nagle's algorithm.
        def __init__(self, sock, address, server, rfile=None):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().__init__(sock, address, server, rfile)

        def run_application(self):
            try:
                super().run_application()
            finally:
                # The WebSocket took the connection over; once it ends, the connection is
                # done. Kept alive, pywsgi would read the client's close frame as an HTTP
                # request and never complete the closing handshake (clients hang in close()).
                if self._connection_upgrade_requested():
                    self.close_connection = True

    wsgi = pywsgi.WSGIServer(listener, app, handler_class=NoDelayHandler, log=None)
    _stop_on_sigterm()
    wsgi.serve_forever()


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

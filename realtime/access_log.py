"""The access log (`serve --access-log`, or `ACCESS_LOG=true`; off by default): one line per
HTTP request and per socket connect and disconnect, each naming the process (`serve --name`,
`PROCESS_NAME`, or `host:port`), so that an operator running several processes behind a load
balancer sees which process served whom (docs/operations.md, "Logs").

Lines go to the `realtime.access` logger as the events happen; nothing is buffered. A request's
line is written when its answer starts (a long poll's after its wait). No header is logged (no
cookie, no Authorization), and of a query string only Engine.IO's own parameters (`EIO`,
`transport`, `sid`) keep their values: every other one, a `token=` above all, is logged as
`name=-`."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import parse_qsl, quote

from django.conf import settings

logger = logging.getLogger("realtime.access")

# Query parameters whose values are logged: Engine.IO's, none of them a secret.
SHOWN_PARAMETERS = frozenset({"EIO", "transport", "sid"})

_process: str | None = None  # the process's name while the log is on


def configure(*, enabled: bool, name: str) -> None:
    """Turn the log on (as process `name`) or off, for this process."""
    global _process
    _process = name if enabled else None


def _configured_by_settings() -> None:
    """For servers started without `serve` (`uvicorn chatsite.asgi:application`)."""
    if _process is None and settings.REALTIME["ACCESS_LOG"]:
        configure(enabled=True, name=settings.REALTIME["PROCESS_NAME"] or socket.gethostname())


def enabled() -> bool:
    return _process is not None


def loggable_target(path: str, query_string: str) -> str:
    """`path?query` with every parameter value but Engine.IO's replaced by `-`."""
    target = quote(path, safe="/:@!$&'()*+,;=-._~%")
    if not query_string:
        return target
    parameters = parse_qsl(query_string, keep_blank_values=True)
    shown = [
        f"{quote(name, safe='')}={quote(value, safe='') if name in SHOWN_PARAMETERS else '-'}"
        for name, value in parameters
    ]
    return f"{target}?{'&'.join(shown)}" if shown else target


def request_answered(method: str, target: str, status: int | str, started: float) -> None:
    milliseconds = (time.monotonic() - started) * 1000
    logger.info("%s %s %s %s %.0fms", _process, method, target, status, milliseconds)


def socket_connected(sid: str, user_id: str, environ: dict) -> None:
    if _process is None:
        return
    transport = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("transport", "-")
    logger.info("%s socket connect sid=%s user=%s transport=%s", _process, sid, user_id, transport)


def socket_disconnected(sid: str, user_id: str) -> None:
    if _process is None:
        return
    logger.info("%s socket disconnect sid=%s user=%s", _process, sid, user_id)


class AccessLogWSGIApp:
    """Logs each request of `app` when its answer starts (a WebSocket, whose upgrade answers
    outside WSGI, is logged by its socket's connect and disconnect)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.monotonic()
        method = environ.get("REQUEST_METHOD", "-")
        target = loggable_target(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))

        def logging_start_response(status, headers, exc_info=None):
            request_answered(method, target, status.split(" ", 1)[0], started)
            return start_response(status, headers, exc_info)

        return self.app(environ, logging_start_response)


class AccessLogASGIApp:
    """The same for an ASGI app: HTTP requests, when their answer starts."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.monotonic()
        method = scope.get("method", "-")
        query = scope.get("query_string", b"").decode("latin-1")
        target = loggable_target(scope.get("path", ""), query)

        async def logging_send(message):
            if message["type"] == "http.response.start":
                request_answered(method, target, message["status"], started)
            await send(message)

        return await self.app(scope, receive, logging_send)


def wsgi(app):
    """`app`, logged when the access log is on."""
    _configured_by_settings()
    return AccessLogWSGIApp(app) if enabled() else app


def asgi(app):
    _configured_by_settings()
    return AccessLogASGIApp(app) if enabled() else app

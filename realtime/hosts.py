"""ALLOWED_HOSTS for the Socket.IO endpoint.

`socketio.WSGIApp` and `socketio.ASGIApp` hand /socket.io/ to python-engineio before Django
sees the request, so Django's check of the `Host` header never ran there. The origin check
(`chatsite.origins.origin_allowed`) allows the server's own origin, `scheme://Host`: a page on
an attacker's domain that resolves to this server (DNS rebinding) sends a `Host` and an
`Origin` that both name that domain, and was let in. These apps check the `Host` of every
Socket.IO request (polling and WebSocket) with Django's own `HttpRequest.get_host()`, so the
rules are Django's (ALLOWED_HOSTS, its DEBUG defaults, USE_X_FORWARDED_HOST), and refuse with
400 and the API's error shape."""

from __future__ import annotations

import json

import socketio
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest

BAD_REQUEST = json.dumps({"error": "Bad request.", "code": "bad_request"}).encode()


def host_allowed(meta: dict) -> bool:
    """Whether Django would serve a request with these WSGI-style variables (`HTTP_HOST`,
    `SERVER_NAME`, `SERVER_PORT`...)."""
    request = HttpRequest()
    request.META = meta
    try:
        request.get_host()
    except DisallowedHost:
        return False
    return True


def _asgi_meta(scope: dict) -> dict:
    # As Django's ASGIRequest builds META: the server's address, then the headers.
    server = scope.get("server") or ("unknown", "0")
    meta = {"SERVER_NAME": server[0], "SERVER_PORT": str(server[1])}
    for raw_name, raw_value in scope.get("headers", []):
        name = "HTTP_" + raw_name.decode("latin1").upper().replace("-", "_")
        value = raw_value.decode("latin1")
        meta[name] = f"{meta[name]},{value}" if name in meta else value
    return meta


class AllowedHostsWSGIApp(socketio.WSGIApp):
    """`socketio.WSGIApp` that refuses Socket.IO requests for a host not in ALLOWED_HOSTS."""

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or ""
        if path.startswith(self.engineio_path) and not host_allowed(environ):
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/json"), ("Content-Length", str(len(BAD_REQUEST)))],
            )
            return [BAD_REQUEST]
        return super().__call__(environ, start_response)


class AllowedHostsASGIApp(socketio.ASGIApp):
    """`socketio.ASGIApp` that refuses Socket.IO requests for a host not in ALLOWED_HOSTS."""

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] in ("http", "websocket")
            and self._socketio_path(scope["path"])
            and not host_allowed(_asgi_meta(scope))
        ):
            await _refuse(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _socketio_path(self, path: str) -> bool:
        # As python-engineio routes: with or without the trailing slash, or everything.
        if self.engineio_path is None:
            return True
        return (path if path.endswith("/") else path + "/").startswith(self.engineio_path)


async def _refuse(scope, receive, send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BAD_REQUEST)).encode()),
    ]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": BAD_REQUEST})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send({"type": "websocket.http.response.start", "status": 400, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": BAD_REQUEST})
    else:
        # A server without the denial response extension answers the handshake with 403.
        await send({"type": "websocket.close", "code": 1008})

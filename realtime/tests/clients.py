"""Real Socket.IO clients and REST calls for the realtime tests.

`ChatClient` records every event it receives, in the order the server sent them, so tests wait
for an event with a timeout instead of sleeping, and prove that an event did *not* arrive with
`barrier()`: a round trip on the same socket whose answer comes after anything the server sent
to that socket before it.

Every event a `ChatClient` receives and every ack it gets is checked against the event contract
(`event_schema.py`, docs/realtime-events.schema.json); what breaks it is kept in
`contract_problems`, and the `make_client` fixture fails the test that received it."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import engineio
import pytest
import requests
import socketio
import websocket

from accounts.models import User
from accounts.tests.factories import bearer, tokens_for, user_factory
from realtime.tests.event_schema import ack_problem, event_problem, frame_problem

TIMEOUT = 10
_numbers = iter(range(1, 1_000_000))


class _InOrderEngineIOClient(engineio.Client):
    """python-engineio hands each received message to a new thread, so two events can reach
    the handlers out of order. The tests assert order, so handle messages in the read loop."""

    def _trigger_event(self, event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class _InOrderClient(socketio.Client):
    def _engineio_client_class(self):
        return _InOrderEngineIOClient


class ChatClient:
    """One socket. `events` is the list of (name, payload) received, oldest first."""

    def __init__(self, url: str, *, http_session: requests.Session | None = None):
        """`http_session`: the long-polling requests' session, and its cookie jar (a browser's)."""
        self.url = url
        self.sio = _InOrderClient(reconnection=False, http_session=http_session)
        self.events: list[tuple[str, Any]] = []
        self.connect_errors: list[Any] = []
        self.disconnects: list[Any] = []
        # Events and acks that break docs/realtime-events.schema.json (see `assert_contract_kept`).
        self.contract_problems: list[str] = []
        self._changed = threading.Condition()
        self.sio.on("*", self._on_event)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)

    # --- recording -------------------------------------------------------------------------

    def _record(self, target: list, item) -> None:
        with self._changed:
            target.append(item)
            self._changed.notify_all()

    def _on_event(self, event: str, *args) -> None:
        # On the client's reader thread: a failed assertion here would only be logged.
        problem = event_problem(event, args)
        if problem:
            self._record(self.contract_problems, problem)
        self._record(self.events, (event, args[0] if args else None))

    def _on_connect_error(self, data: Any = None) -> None:
        self._record(self.connect_errors, data)

    def _on_disconnect(self, reason: Any = None) -> None:
        self._record(self.disconnects, reason)

    # --- connecting ------------------------------------------------------------------------

    def connect(
        self,
        *,
        token: str | None = None,
        query: str = "",
        auth: Any = None,
        headers: dict[str, str] | None = None,
        transports: tuple[str, ...] = ("websocket",),
    ) -> ChatClient:
        """`headers` go with the handshake (a browser's `Cookie` and `Origin`, say)."""
        if token is not None and auth is None:
            auth = {"token": token}
        url = f"{self.url}/?{query}" if query else self.url
        self.sio.connect(
            url, auth=auth, headers=headers or {}, transports=list(transports),
            wait_timeout=TIMEOUT,
        )  # fmt: skip
        return self

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()

    @property
    def connected(self) -> bool:
        return self.sio.connected

    # --- waiting ---------------------------------------------------------------------------

    def _wait(self, ready: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = ready()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {self.events!r}")
                self._changed.wait(left)

    def received(self, event: str) -> list[Any]:
        with self._changed:
            return [data for name, data in self.events if name == event]

    def wait_for(
        self,
        event: str,
        match: Callable[[Any], bool] = lambda data: True,
        *,
        timeout: float = TIMEOUT,
    ) -> Any:
        """The first `event` received (now or within `timeout`) whose payload matches."""

        def ready():
            return next(([d] for d in self.received(event) if match(d)), None)

        return self._wait(ready, timeout, f"{event!r}")[0]

    def wait_count(self, event: str, count: int, *, timeout: float = TIMEOUT) -> list[Any]:
        """Wait until `count` `event`s have arrived; returns them all."""

        def ready():
            received = self.received(event)
            return received if len(received) >= count else None

        return self._wait(ready, timeout, f"{count} {event!r}")

    def wait_disconnected(self, *, timeout: float = TIMEOUT) -> Any:
        return self._wait(lambda: self.disconnects, timeout, "disconnect")[0]

    def call(self, event: str, data: Any = None, *, timeout: float = TIMEOUT) -> Any:
        """Emit `event` and return the server's ack; an ack that breaks the contract fails
        here (and at the fixture's teardown, should the caller swallow the error)."""
        ack = self.sio.call(event, data, timeout=timeout)
        self._check_ack(event, ack)
        return ack

    def emit(self, event: str, data: Any, callback: Callable[[Any], None]) -> None:
        """Emit without waiting; `callback` gets the ack, which is checked like `call`'s."""

        def checked(ack: Any = None, *extra) -> None:
            # On the reader thread: recorded for the fixture's teardown, not raised.
            problem = ack_problem(event, (ack, *extra) if extra else ack)
            if problem:
                self._record(self.contract_problems, problem)
            callback(ack)

        self.sio.emit(event, data, callback=checked)

    def _check_ack(self, event: str, ack: Any) -> None:
        problem = ack_problem(event, ack)
        if problem:
            self._record(self.contract_problems, problem)
            raise AssertionError(problem)

    def assert_silent(self, event: str, *, within: float = 0.5) -> None:
        """No new `event` for `within` seconds. Only for what a barrier cannot order (events
        caused by another socket's disconnect, which the server handles in its own task)."""
        before = len(self.received(event))
        with self._changed:
            self._changed.wait_for(lambda: len(self.received(event)) > before, timeout=within)
        assert self.received(event)[before:] == []

    def barrier(self) -> None:
        """Return once everything the server emitted to this socket so far has been received:
        the server answers an invalid `markRead` on the same socket, after those events."""
        answer = self.call("markRead", "barrier")
        assert answer["ok"] is False


def assert_contract_kept(clients: Iterable) -> None:
    """Fail (the current test) if any of `clients` (each with a `contract_problems` list)
    received an event or an ack that breaks docs/realtime-events.schema.json."""
    problems = [problem for client in clients for problem in client.contract_problems]
    if problems:
        pytest.fail(
            "the server broke docs/realtime-events.schema.json:\n" + "\n".join(problems),
            pytrace=False,
        )


class Person:
    """A user of the test database with a login session."""

    def __init__(self, user: User, tokens: dict[str, str]):
        self.user = user
        self.id = str(user.pk)
        self.access = tokens["access"]
        self.refresh = tokens["refresh"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": bearer(self.access)}


def person_create(username: str | None = None) -> Person:
    user = user_factory(username=username or f"rt{next(_numbers)}", full_name="Realtime Tester")
    return Person(user, tokens_for(user))


class Api:
    """The server's REST API, called over HTTP like any client."""

    def __init__(self, url: str):
        self.url = url

    def send(self, sender: Person, to: Person, body: str, **extra) -> dict:
        response = requests.post(
            f"{self.url}/api/messages/send/{to.id}",
            json={"message": body, **extra},
            headers=sender.headers,
            timeout=TIMEOUT,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, person: Person, path: str, **params) -> dict:
        response = requests.get(
            f"{self.url}{path}", params=params, headers=person.headers, timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        return response.json()


class ConnectionRefused(Exception):
    """The server answered a `RawSocket`'s CONNECT with CONNECT_ERROR (its message in args)."""


class RawSocket:
    """One Socket.IO connection spoken by hand over a bare WebSocket (websocket-client), for
    what a well-behaved client never does: stop answering the server's pings (a tab whose
    network died without closing anything) or send a frame of any size.

    A reader thread records every Engine.IO packet and answers pings while `answering`."""

    def __init__(self, url: str):
        self.url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.WebSocket()
        self.answering = True
        self.packets: list[str] = []
        self.contract_problems: list[str] = []  # see `assert_contract_kept`
        self.pings = 0
        self.closed = threading.Event()
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    def connect(self, token: str) -> RawSocket:
        self.ws.connect(self.url, timeout=TIMEOUT)
        opening = self.ws.recv()
        assert opening.startswith("0{"), opening  # Engine.IO OPEN
        self.ws.send("40" + json.dumps({"token": token}))  # Socket.IO CONNECT with auth
        while True:  # events the connect handler emits may come before the CONNECT answer
            packet = self.ws.recv()
            assert packet.startswith("4"), packet
            if packet.startswith("40"):
                break
            if packet.startswith("44"):  # CONNECT_ERROR: refused
                self.closed.set()
                raise ConnectionRefused(json.loads(packet[2:]).get("message"))
            self._check(packet)
            self.packets.append(packet)
        self.ws.settimeout(None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        try:
            while True:
                packet = self.ws.recv()
                if not packet:  # a close frame
                    break
                self._check(packet)
                with self._changed:
                    self.packets.append(packet)
                    if packet == "2":  # Engine.IO PING
                        self.pings += 1
                    self._changed.notify_all()
                if packet == "2" and self.answering:
                    self.ws.send("3")  # PONG
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.closed.set()
            with self._changed:
                self._changed.notify_all()

    def _check(self, packet: str) -> None:
        problem = frame_problem(packet, {})
        if problem:
            self.contract_problems.append(problem)

    def wait_pings(self, count: int, *, timeout: float = TIMEOUT) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.pings >= count, timeout=timeout), (
                f"{self.pings} pings, expected {count}"
            )

    def send_text(self, text: str, *, withhold: int = 0) -> None:
        """Send one text frame; with `withhold`, its last bytes are never sent (the frame
        header still announces the whole length)."""
        frame = websocket.ABNF.create_frame(text, websocket.ABNF.OPCODE_TEXT).format()
        self.ws.sock.sendall(frame[: len(frame) - withhold])

    def close(self) -> None:
        with contextlib.suppress(websocket.WebSocketException, OSError):
            if self.closed.is_set():
                self.ws.shutdown()
            else:
                self.ws.close(timeout=1)
        self.closed.set()

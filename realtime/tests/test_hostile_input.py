"""What an attacker can send to the Socket.IO endpoint, against the real server process: forged
tokens, packets no Socket.IO client would send (before and after the namespace connect), event
names reserved for the server, wrong types and operators in every field, and a flood of events.
Each gets a refusal or an error ack with a stable code; the server goes on serving everyone
else; nothing is stored half-way (`assert_invariants`).

Oversized packets are in test_limits.py; the ordinary validation errors in test_delivery.py."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import websocket

from accounts.tests.factories import FORGED_TOKEN_KINDS, forged_token
from messaging.models import Message
from messaging.tests.invariants import assert_invariants, database
from realtime.tests.clients import TIMEOUT, assert_contract_kept
from realtime.tests.event_schema import frame_problem

# The users are made in this process and log in with tokens: the real hasher is not tested.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]


# Socket.IO packets as Engine.IO "message" (4) frames: 0 CONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR.
CONNECT, EVENT, ACK, CONNECT_ERROR = "40", "42", "43", "44"


class RawConnection:
    """One Engine.IO connection over a bare WebSocket (websocket-client). It sends exactly the
    frames a test writes, which a Socket.IO client never would, and records every frame the
    server sends, answering its pings. What the server sends must still keep the event contract
    (docs/realtime-events.schema.json): events, and the acks of events sent with an ack id."""

    def __init__(self, server):
        url = server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(url, timeout=TIMEOUT)
        opening = self.ws.recv()
        assert opening.startswith("0"), opening  # Engine.IO OPEN
        self.frames: list[str | bytes] = []
        self.closed = False
        self.acks: dict[int, object] = {}  # ack id → the name of the event sent with it
        self.contract_problems: list[str] = []  # see `assert_contract_kept`

    def send(self, frame: str | bytes, *, binary: bool = False) -> None:
        sent_with_ack = re.match(rf"{EVENT}(\d+)\[", frame) if isinstance(frame, str) else None
        if sent_with_ack:
            # Garbage on purpose, nested too deeply for json included.
            with contextlib.suppress(ValueError, TypeError, IndexError, RecursionError):
                name = json.loads(frame[sent_with_ack.end() - 1 :])[0]
                self.acks[int(sent_with_ack.group(1))] = name
        opcode = websocket.ABNF.OPCODE_BINARY if binary else websocket.ABNF.OPCODE_TEXT
        try:
            self.ws.send(frame, opcode)
        except (websocket.WebSocketException, OSError):
            self.closed = True

    def emit(self, event: str, data: object = None, *, ack: int | None = None) -> None:
        self.send(EVENT + ("" if ack is None else str(ack)) + json.dumps([event, data]))

    def read(self, until=None, *, within: float = TIMEOUT) -> list[str | bytes]:
        """Frames received from now on: up to and including the first for which `until` is
        true (AssertionError if none comes within `within` seconds), or, without `until`, all
        that arrive in `within` seconds."""
        got: list[str | bytes] = []
        deadline = time.monotonic() + within
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.ws.settimeout(left)
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                break
            except (websocket.WebSocketException, OSError):
                self.closed = True
                break
            if frame in ("", b""):  # a close frame
                self.closed = True
                break
            if frame == "2":  # Engine.IO PING
                self.send("3")
                continue
            problem = frame_problem(frame, self.acks)
            if problem:
                self.contract_problems.append(problem)
            got.append(frame)
            self.frames.append(frame)
            if until is not None and until(frame):
                return got
        assert until is None, f"nothing matching within {within} s; got {got!r}"
        return got

    def ack(self, number: int) -> object:
        prefix = f"{ACK}{number}"
        frame = self.read(lambda f: isinstance(f, str) and f.startswith(prefix + "["))[-1]
        answer = json.loads(frame[len(prefix) :])
        return answer[0] if answer else None

    def namespace_connect(self, token: str | None) -> str:
        """Send CONNECT (with `{token}` as auth unless None); returns CONNECT or CONNECT_ERROR
        with its payload."""
        self.send(CONNECT + ("" if token is None else json.dumps({"token": token})))
        return self.read(lambda f: isinstance(f, str) and f[:2] in (CONNECT, CONNECT_ERROR))[-1]

    def close(self) -> None:
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self.ws.close(timeout=1)
        self.closed = True


@pytest.fixture
def raw(chat_server):
    """`raw()` → a RawConnection to `chat_server`; all are closed after the test."""
    opened: list[RawConnection] = []

    def open_connection() -> RawConnection:
        connection = RawConnection(chat_server)
        opened.append(connection)
        return connection

    yield open_connection
    for connection in opened:
        connection.close()
    assert_contract_kept(opened)


def socket_io_packets(frames) -> list:
    return [f for f in frames if not isinstance(f, str) or f.startswith("4")]


def messages_from(person) -> list[str]:
    return list(Message.objects.filter(sender_id=person.user.pk).values_list("body", flat=True))


# --- authentication ------------------------------------------------------------------------


def test_refused_connections_get_connect_error_and_nothing_else(
    raw, connect, api, alice, bob, carol
):
    intruders = {}
    for kind in FORGED_TOKEN_KINDS:
        intruder = intruders[kind] = raw()
        reply = intruder.namespace_connect(forged_token(kind, user=alice.user, other=bob.user))

        assert reply.startswith(CONNECT_ERROR), (kind, reply)
        expected = "token_expired" if kind == "expired" else "unauthorized"
        assert json.loads(reply[2:])["message"] == expected, kind
        # Events on a refused connection are not handled: no ack, nothing stored.
        intruder.emit("sendMessage", {"to": carol.id, "message": f"sneaked in: {kind}"}, ack=1)
        intruder.emit("markRead", {"conversationId": "x", "seq": 1}, ack=2)

    # What alice (or bob, whom the edited token names) is sent while they stay open.
    watcher = connect(bob)
    api.send(carol, alice, "for alice")
    api.send(carol, bob, "for bob")
    watcher.wait_for("newMessage")
    for kind, intruder in intruders.items():
        after = intruder.read(within=0.2)
        assert socket_io_packets(after) == [], (kind, after)
    assert messages_from(alice) == []
    assert_invariants(database())


def test_a_connected_client_cannot_fake_a_connect_or_disconnect(raw, connect, alice, bob, carol):
    """python-socketio hands a client event *named* "connect" or "disconnect" to the server's
    connect and disconnect handlers. Here they are refused: they must neither count a socket
    twice in presence (the user would never go offline) nor end its session."""
    watcher = connect(bob)
    tab = raw()
    assert tab.namespace_connect(alice.access).startswith(CONNECT)
    watcher.wait_for("userOnline", lambda e: e["userId"] == alice.id)

    for number in range(1, 4):
        tab.emit("connect", {"QUERY_STRING": f"token={carol.access}"}, ack=number)
        assert tab.ack(number)["error"]["code"] == "invalid_event"
    tab.send(f'{EVENT}4["connect",{{}},{json.dumps({"token": carol.access})}]')
    assert tab.ack(4)["error"]["code"] == "invalid_event"
    tab.emit("disconnect", "client namespace disconnect", ack=5)
    assert tab.ack(5)["error"]["code"] == "invalid_event"

    # Still alice, still connected, still allowed to send; carol's room was not joined.
    tab.emit("sendMessage", {"to": bob.id, "message": "still me"}, ack=6)
    sent = tab.ack(6)
    assert sent["ok"] is True and sent["message"]["senderId"] == alice.id
    watcher.barrier()
    assert watcher.received("userOffline") == []
    # Closing the one real socket takes alice offline.
    tab.close()
    watcher.wait_for("userOffline", lambda e: e["userId"] == alice.id)


# --- packets no client would send ----------------------------------------------------------


def test_a_refused_websocket_upgrade_gets_a_whole_http_answer(chat_server, raw, alice):
    # The connection of a WebSocket request keeps only small buffers (manage.py serve); a
    # refusal still goes out through them, whole.
    host, port = chat_server.url.split("//")[1].split(":")
    request = (
        "GET /socket.io/?EIO=4&transport=websocket&sid=no-such-session HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(request.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, f"no whole answer: {answer!r}"
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(body) < length:
            chunk = sock.recv(4096)
            assert chunk, "the answer was cut short"
            body += chunk
    assert re.match(rb"HTTP/1.1 4\d\d ", head), head  # 400; uvicorn (asgi) answers 403
    assert len(body) == length

    assert raw().namespace_connect(alice.access).startswith(CONNECT)  # others are served


def test_garbage_before_the_namespace_connect_closes_the_connection(raw, connect, alice, bob):
    tab = raw()
    garbage: list[tuple[str | bytes, bool]] = [
        (b"\x00\x01\x02\xff", True),  # binary frame: an attachment nobody announced
        (b"\x04" + json.dumps(["sendMessage", {"to": bob.id, "message": "bin"}]).encode(), True),
        ('451-["sendMessage",{"_placeholder":true,"num":0}]', False),  # binary event
        (b"\xde\xad\xbe\xef" * 64, True),
        (EVENT + json.dumps(["sendMessage", {"to": bob.id, "message": "before connect"}]), False),
        ("43[]", False),  # an ack of nothing
        ("4", False),
        ("49", False),  # no such packet type
        ("4x{}", False),
        ("42[", False),
        ("9", False),  # no such Engine.IO packet type
        ("6", False),  # NOOP
        ("5", False),  # UPGRADE, not during an upgrade
    ]
    for frame, binary in garbage:
        tab.send(frame, binary=binary)
    tab.read(within=3)

    assert tab.closed  # binary frames are refused outright
    receiver = connect(bob)
    ack = connect(alice).call("sendMessage", {"to": bob.id, "message": "served"})
    assert ack["ok"] is True
    assert receiver.wait_for("newMessage")["message"] == "served"
    assert messages_from(alice) == ["served"]
    assert_invariants(database())


def test_text_that_is_not_utf8_closes_only_its_connection(raw, connect, alice, bob):
    tab = raw()
    assert tab.namespace_connect(alice.access).startswith(CONNECT)
    bystander = connect(bob)

    tab.send(b'42["sendMessage",{"message":"\xff\xfe"}]')  # a text frame that is not UTF-8
    tab.read(within=3)

    assert tab.closed
    assert bystander.connected
    ack = connect(alice).call("sendMessage", {"to": bob.id, "message": "served"})
    assert ack["ok"] is True
    assert bystander.wait_for("newMessage") == ack["message"]
    assert messages_from(alice) == ["served"]


def test_malformed_event_packets_close_the_socket_and_store_nothing(raw, connect, alice, bob):
    tab = raw()
    assert tab.namespace_connect(alice.access).startswith(CONNECT)
    receiver = connect(bob)
    nested = "[" * 20_000 + "]" * 20_000  # deeper than Python's recursion limit, under 64 KiB
    for frame in [
        f'{EVENT}1["sendMessage",{nested}]',
        f'{EVENT}2["sendMessage",{{"to":"{bob.id}","message":{nested}}}]',
        EVENT + "{}",
        EVENT + "3[]",
        EVENT + '5{"0":"sendMessage"}',
        EVENT + '["sendMessage"',
        EVENT + "99999999999999999999999999",
    ]:
        tab.send(frame)
    tab.read(within=3)

    assert tab.closed  # at the third malformed packet
    ack = connect(alice).call("sendMessage", {"to": bob.id, "message": "still served"})
    assert ack["ok"] is True, ack
    assert receiver.wait_for("newMessage") == ack["message"]
    receiver.barrier()
    assert receiver.received("newMessage") == [ack["message"]]
    assert messages_from(alice) == ["still served"]
    assert_invariants(database())


def test_events_a_client_must_not_send_are_answered_unknown_event(raw, connect, alice, bob):
    tab = raw()
    assert tab.namespace_connect(alice.access).startswith(CONNECT)
    receiver = connect(bob)
    names = ["__proto__", "constructor", "getOnlineUsers", "newMessage", "deleteEverything", 7]
    for number, name in enumerate(names, start=1):
        tab.send(f"{EVENT}{number}" + json.dumps([name, {"message": "fake", "to": bob.id}]))
        assert tab.ack(number) == {
            "ok": False,
            "error": {"code": "unknown_event", "detail": f"There is no event named {str(name)!r}."},
        }

    tab.emit("sendMessage", {"to": bob.id, "message": "still works"}, ack=10)
    ack = tab.ack(10)
    assert ack["ok"] is True, ack
    assert receiver.wait_for("newMessage") == ack["message"]
    receiver.barrier()
    assert receiver.received("newMessage") == [ack["message"]]
    assert messages_from(alice) == ["still works"]


# --- wrong types, operators and unknown fields in every event field --------------------------

OPERATORS = [{"$gt": ""}, {"$ne": None}, {"$where": "1"}, ["x"], 12, 1.5, True, None]


def test_wrong_types_and_operators_in_every_field_get_error_acks(connect, api, alice, bob, carol):
    conversation_id = api.send(alice, bob, "first")["conversationId"]
    sender, receiver = connect(alice), connect(bob)
    expectations = []
    for value in OPERATORS:
        expectations += [
            ("sendMessage", {"to": bob.id, "message": value}, "message_invalid"),
            (
                "sendMessage",
                {"conversationId": conversation_id, "message": value},
                "message_invalid",
            ),
            ("markRead", {"conversationId": conversation_id, "seq": value}, "seq_invalid"),
            (
                "typing",
                {"conversationId": conversation_id, "isTyping": value},
                None if isinstance(value, bool) else "invalid_payload",
            ),
        ]
        if value is not None:
            expectations += [
                (
                    "sendMessage",
                    {"to": bob.id, "message": "hi", "clientMsgId": value},
                    "client_msg_id_invalid",
                ),
                ("sendMessage", {"to": value, "message": "hi"}, "receiver_not_found"),
                (
                    "sendMessage",
                    {"conversationId": value, "message": "hi"},
                    "conversation_not_found",
                ),
                ("markRead", {"conversationId": value, "seq": 1}, "conversation_not_found"),
                ("typing", {"conversationId": value, "isTyping": True}, "conversation_not_found"),
            ]
    expectations += [
        ("sendMessage", {"to": bob.id, "message": "a\x00b"}, "message_invalid"),
        ("sendMessage", {"to": bob.id, "message": "half \ud83d"}, "message_invalid"),
        ("markRead", "not an object", "invalid_payload"),
        ("typing", ["x"], "invalid_payload"),
    ]

    for event, data, code in expectations:
        ack = sender.call(event, data)
        if code is None:
            assert ack["ok"] is True, (event, data, ack)
            continue
        assert ack["ok"] is False and ack["error"]["code"] == code, (event, data, ack)
        assert isinstance(ack["error"]["detail"], str)

    receiver.barrier()
    assert receiver.received("newMessage") == []
    assert messages_from(alice) == ["first"]
    assert_invariants(database())


def test_unknown_fields_cannot_choose_sender_seq_or_visibility(connect, api, alice, bob, carol):
    elsewhere = api.send(carol, bob, "carol's")
    sender, receiver = connect(alice), connect(bob)

    ack = sender.call(
        "sendMessage",
        {
            "to": bob.id,
            "message": "plain",
            "senderId": carol.id,
            "receiverId": carol.id,
            "_id": elsewhere["_id"],
            "seq": 99,
            "version": 99,
            "hidden": True,
            "createdAt": "2000-01-01T00:00:00.000Z",
        },
    )

    assert ack["ok"] is True
    message = ack["message"]
    assert (message["senderId"], message["receiverId"]) == (alice.id, bob.id)
    assert message["_id"] != elsewhere["_id"]
    assert (message["seq"], message["hidden"]) == (1, False)
    assert not message["createdAt"].startswith("2000")
    assert receiver.wait_for("newMessage", lambda m: m["_id"] == message["_id"]) == message
    assert_invariants(database())


def test_a_non_participant_cannot_mark_a_conversation_read(connect, api, alice, bob, carol):
    conversation_id = api.send(alice, bob, "private")["conversationId"]
    alice_socket, intruder = connect(alice), connect(carol)

    ack = intruder.call("markRead", {"conversationId": conversation_id, "seq": 1})

    assert ack["error"]["code"] == "conversation_not_found"
    alice_socket.barrier()
    assert alice_socket.received("messagesRead") == []


# --- a flood of events from one client -----------------------------------------------------

EVENT_LIMIT = 40  # per connection per day: a window that does not end during the test


@pytest.fixture(scope="module", params=["eventlet", "gevent", "asgi"])
def flood_server(request, chat_server_factory):
    server = chat_server_factory(request.param, REALTIME_EVENT_RATE=f"{EVENT_LIMIT}/day")
    yield server
    server.stop()


def test_a_flooding_client_is_rate_limited_and_others_are_served_meanwhile(
    flood_server, make_client, alice, bob, carol
):
    flooder = make_client(flood_server).connect(token=alice.access)
    sender = make_client(flood_server).connect(token=bob.access)
    receiver = make_client(flood_server).connect(token=carol.access)
    acks: list[dict] = []
    done = threading.Condition()

    def record(answer=None):
        with done:
            acks.append(answer)
            done.notify_all()

    flood = 600
    for i in range(flood):
        flooder.emit("sendMessage", {"to": carol.id, "message": f"flood {i}"}, record)
    # While the server works through the flood, another user's send is answered and delivered.
    ack = sender.call("sendMessage", {"to": carol.id, "message": "not drowned"}, timeout=TIMEOUT)
    assert ack["ok"] is True
    assert receiver.wait_for("newMessage", lambda m: m["_id"] == ack["message"]["_id"])

    with done:
        # Every flooded event is answered, unless the server chose to drop the connection.
        done.wait_for(lambda: len(acks) == flood or not flooder.connected, timeout=30)
    codes = [a["error"]["code"] for a in acks if not a["ok"]]
    accepted = [a["message"]["_id"] for a in acks if a["ok"]]
    assert len(accepted) <= EVENT_LIMIT
    assert set(codes) <= {"rate_limited"}
    assert len(codes) >= (len(acks) - EVENT_LIMIT)
    if flooder.connected:
        assert len(acks) == flood
        assert codes, "the flood was never limited"
    # What was accepted is stored once each; the rest left nothing behind.
    stored = Message.objects.filter(sender_id=alice.user.pk).values_list("pk", flat=True)
    assert sorted(map(str, stored)) == sorted(accepted)
    acknowledged = [a["message"] for a in acks if a["ok"]] + [ack["message"]]
    assert_invariants(database(), acknowledged=acknowledged)


# --- binary input and malformed packets --------------------------------------------------------


def server_rss_kb(chat_server) -> int:
    status = Path(f"/proc/{chat_server.process.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


@pytest.mark.parametrize(
    "header",
    ['451000000-["sendMessage",{"_placeholder":true,"num":0}]', None],
    ids=["binary-event", "bare-attachments"],
)
def test_binary_input_closes_the_socket_and_memory_stays_flat(chat_server, raw, alice, header):
    """The chat protocol has no binary events: python-socketio would keep every attachment of
    one in memory until the last arrived (a million announced here)."""
    tab = raw()
    assert tab.namespace_connect(alice.access).startswith(CONNECT)
    before = server_rss_kb(chat_server)
    if header is not None:
        tab.send(header)
    chunk, sent = b"\xab" * 60_000, 0
    while sent < 100_000_000 and not tab.closed:
        tab.send(chunk, binary=True)
        sent += len(chunk)
    tab.read(within=3)

    assert tab.closed
    assert server_rss_kb(chat_server) - before < 8_000  # KB


def test_malformed_frames_write_a_bounded_log(chat_server):
    """2,000 frames no client should send, from connections that never authenticate (each
    one closed by the server and opened again): the log grows by a few lines."""
    log_before = chat_server.log_path.stat().st_size
    frames = [(b"\x00", True)] * 1_000 + [("4", False)] * 1_000
    tab = RawConnection(chat_server)
    try:
        for frame, binary in frames:
            tab.send(frame, binary=binary)
            if tab.closed:
                tab.close()
                tab = RawConnection(chat_server)
    finally:
        tab.close()
    # The server logs after reading: a window for lines still on their way. What is checked
    # is how little is written, and no event marks "nothing more will come".
    time.sleep(1)
    written = chat_server.log_path.read_bytes()[log_before:]
    assert len(written) < 10_000, written[:2000]
    assert b"Traceback" not in written

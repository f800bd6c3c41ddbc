"""Faults: real processes (the database, chat servers, Redis) are stopped, killed and restarted
while real clients use them. Afterwards nothing acknowledged is lost, nothing is stored twice
and the data invariants hold (`messaging/tests/invariants.py`).

The tests run on a database of their own, an on-disk SecantusDB that can be stopped and
restarted with its data, never on the test run's shared one; Redis is a `redis-server` of their
own on a free port, never the machine's."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pymongo
import pytest
import requests
from bson import ObjectId

from accounts.models import User
from accounts.tests.factories import PASSWORD
from chatsite.embedded_db import EmbeddedDB, free_port, process_alive
from chatsite.testing import ARTIFACTS, BASE_DIR, ChatServer
from messaging.tests.invariants import assert_invariants
from realtime.tests.clients import TIMEOUT, Api, ChatClient, Person
from realtime.tests.conftest import make_client  # noqa: F401 (a fixture)

pytestmark = pytest.mark.faults

DATABASE_NAME = "faults"
# The servers' MONGODB_TIMEOUT_MS: short, so that waiting for a stopped database is quick.
DATABASE_TIMEOUT = 2.0
# The documented bound (docs/api.md, "Failure behaviour"): a request waits for an unreachable
# database at most MONGODB_TIMEOUT_MS. A request started while the database was shutting down
# waits for the shutdown too (SecantusDB takes about 2 s). The slack is for a loaded machine.
ANSWER_BOUND = DATABASE_TIMEOUT + 2.5
ANSWER_BOUND_DURING_SHUTDOWN = 2 * DATABASE_TIMEOUT + 3.0
RECONNECT_TIMEOUT = 30.0
_names = itertools.count(1)


# --- processes -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Iterator[EmbeddedDB]:
    """A SecantusDB process with its data on disk and the chat schema migrated."""
    db = EmbeddedDB(
        str(tmp_path_factory.mktemp("faults") / "db"),
        log_path=str(ARTIFACTS / "secantusdb-faults.log"),
    ).start()
    subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "migrate", "--verbosity", "0"],
        env={**os.environ, **db.environment, "MONGODB_NAME": DATABASE_NAME},
        cwd=BASE_DIR,
        check=True,
        timeout=120,
    )
    yield db
    db.stop()


@pytest.fixture
def db(database) -> EmbeddedDB:
    """The fault database, running (a test before may have stopped it)."""
    if database.process.poll() is not None:
        database.start()
    return database


def mongo(db: EmbeddedDB) -> pymongo.database.Database:
    return pymongo.MongoClient(db.uri, serverSelectionTimeoutMS=10_000)[DATABASE_NAME]


@pytest.fixture
def start_server(db) -> Iterator:
    """`start_server(mode, **env)` → a chat server on the fault database; all stopped after.
    `beside=server`: on that server's port, beside it."""
    servers: list[ChatServer] = []

    def start(async_mode: str = "eventlet", beside: ChatServer | None = None, **extra_env):
        env = {**db.environment, "MONGODB_TIMEOUT_MS": str(int(DATABASE_TIMEOUT * 1000))}
        server = ChatServer(
            DATABASE_NAME, async_mode, {**env, **extra_env}, shares_port_with=beside
        ).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(signal.SIGKILL)


class RedisServer:
    """A `redis-server` of our own on a free port, without persistence."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        import redis

        log = open(ARTIFACTS / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()


# --- clients ---------------------------------------------------------------------------------


def signup(server: ChatServer, prefix: str) -> Person:
    """A new account, created over the API of `server`."""
    username = f"{prefix}{next(_names)}x{os.getpid()}"
    response = requests.post(
        f"{server.url}/api/auth/signup",
        json={
            "username": username,
            "fullName": "Fault Tester",
            "password": PASSWORD,
            "confirmPassword": PASSWORD,
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    data = response.json()
    return Person(User(pk=ObjectId(data["_id"]), username=username), data)


def reconnecting(client: ChatClient) -> ChatClient:
    """Let the client reconnect by itself, with python-socketio's defaults: delays from 1 s
    doubling up to 5 s, each randomized by ±50 % (jitter)."""
    client.sio.reconnection = True
    return client


def wait_reconnected(client: ChatClient) -> None:
    """Until the client is connected again and the server greeted the new connection."""
    deadline = time.monotonic() + RECONNECT_TIMEOUT
    while not (client.connected and len(client.received("getOnlineUsers")) >= 2):
        assert time.monotonic() < deadline, f"no reconnection; got {client.events!r}"
        time.sleep(0.05)


def send(server: ChatServer, sender: Person, to: Person, body: str, **extra):
    """POST a message; the response (or the exception) and the seconds it took."""
    started = time.monotonic()
    try:
        response = requests.post(
            f"{server.url}/api/messages/send/{to.id}",
            json={"message": body, **extra},
            headers=sender.headers,
            timeout=60,
        )
    except requests.RequestException as error:
        return error, time.monotonic() - started
    return response, time.monotonic() - started


def wait_healthy(server: ChatServer, timeout: float = 30) -> None:
    """Until the server reaches its database again (`/healthz` answers 200)."""
    deadline = time.monotonic() + timeout
    while requests.get(f"{server.url}/healthz", timeout=TIMEOUT).status_code != 200:
        assert time.monotonic() < deadline, "the server did not reach the database again"
        time.sleep(0.2)


def sync_all(server: ChatServer, person: Person, cursor: str) -> list[dict]:
    """Every message `GET /api/sync?since=` answers, following `hasMore`."""
    messages: list[dict] = []
    while True:
        page = Api(server.url).get(person, "/api/sync", since=cursor)
        messages += page["messages"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return messages


def history(server: ChatServer, person: Person, other: Person) -> list[dict]:
    return Api(server.url).get(person, f"/api/messages/{other.id}", limit=200)


def stored_ids(db: EmbeddedDB, conversation_id: str) -> set[str]:
    messages = mongo(db)["messaging_message"].find(
        {"conversation_id": ObjectId(conversation_id)}, {"_id": 1}
    )
    return {str(m["_id"]) for m in messages}


class Outcome(NamedTuple):
    client_msg_id: str
    result: requests.Response | requests.RequestException
    started: float  # time.monotonic()
    seconds: float


class Sender(threading.Thread):
    """Sends REST messages one after another (each with a clientMsgId) until stopped, and
    records every outcome."""

    def __init__(self, server: ChatServer, sender: Person, to: Person, prefix: str):
        super().__init__(daemon=True)
        self.server, self.sender, self.to, self.prefix = server, sender, to, prefix
        self.outcomes: list[Outcome] = []
        self.stopping = threading.Event()
        self._changed = threading.Condition()

    def run(self) -> None:
        for n in itertools.count(1):
            if self.stopping.is_set():
                return
            client_msg_id = f"{self.prefix}-{n}"
            started = time.monotonic()
            result, seconds = send(
                self.server, self.sender, self.to, f"{self.prefix} {n}", clientMsgId=client_msg_id
            )
            with self._changed:
                self.outcomes.append(Outcome(client_msg_id, result, started, seconds))
                self._changed.notify_all()
            if not isinstance(result, requests.Response):
                time.sleep(0.2)  # the server is down: don't spin

    def wait_outcomes(self, count: int, timeout: float = 60) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.outcomes) >= count, timeout), (
                f"only {len(self.outcomes)} sends in {timeout} s"
            )

    def finish(self) -> list[Outcome]:
        self.stopping.set()
        self.join(90)
        assert not self.is_alive(), "a send hung"
        return self.outcomes


def acknowledged(outcomes: list[Outcome]) -> list[dict]:
    return [
        o.result.json()
        for o in outcomes
        if isinstance(o.result, requests.Response) and o.result.status_code == 201
    ]


class InFlightRequest:
    """A send whose body is held back: with `Expect: 100-continue` the server answers
    `100 Continue` once the view starts reading the body (before the message is written), so
    the request is known to be in progress inside the server until `finish()` sends the body."""

    def __init__(self, server: ChatServer, sender: Person, to: Person, body: str, **fields):
        self.body = json.dumps({"message": body, **fields}).encode()
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        self.sock.sendall(
            (
                f"POST /api/messages/send/{to.id} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                f"Authorization: Bearer {sender.access}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(self.body)}\r\n"
                "Expect: 100-continue\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        )
        interim = self.sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100"), interim

    def finish(self) -> tuple[int, dict] | None:
        """Send the body; the answer's status and JSON, or None if the connection closed
        without one."""
        answer = b""
        try:
            self.sock.sendall(self.body)
            while chunk := self.sock.recv(65536):
                answer += chunk
        except OSError:
            pass
        finally:
            self.sock.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        while head.startswith(b"HTTP/1.1 100"):  # the interim answer, maybe repeated
            head, _, body = body.partition(b"\r\n\r\n")
        if not head:
            return None
        return int(head.split()[1]), json.loads(body)


# --- the database stops ----------------------------------------------------------------------


@pytest.mark.parametrize("async_mode", ["eventlet", "asgi"])
def test_database_stopped_while_users_send(db, start_server, make_client, async_mode):  # noqa: F811
    server = start_server(async_mode)
    alice, bob = signup(server, "dbstop-a"), signup(server, "dbstop-b")
    receiver = make_client(server).connect(token=bob.access)
    sender_tab = make_client(server).connect(token=alice.access)
    cursor = Api(server.url).get(bob, "/api/sync")["cursor"]

    prefix = f"dbstop-{async_mode}"
    sender = Sender(server, alice, bob, prefix)
    sender.start()
    sender.wait_outcomes(3)
    # A send that has read its sender and receiver and is about to write: it meets the stopped
    # database in its transaction.
    in_flight = InFlightRequest(server, alice, bob, "in flight", clientMsgId=f"{prefix}-in-flight")
    db.stop()
    stopped_at, stopped = time.monotonic(), len(sender.outcomes)
    sender.wait_outcomes(stopped + 3)  # sends while the database is down
    socket_ack = sender_tab.call("sendMessage", {"to": bob.id, "message": "via the socket"})
    outcomes = sender.finish()
    started = time.monotonic()
    answer = in_flight.finish()
    assert time.monotonic() - started < ANSWER_BOUND
    assert answer is not None, "the send in progress got no answer"
    assert (answer[0], answer[1]["code"]) == (503, "database_unavailable"), answer

    # 201 or 503 database_unavailable, each within the bound: never a 500, never a hang.
    for o in outcomes:
        assert isinstance(o.result, requests.Response), f"{o.client_msg_id}: {o.result!r}"
        assert o.result.status_code in (201, 503), (o.client_msg_id, o.result.text)
        bound = ANSWER_BOUND if o.started > stopped_at else ANSWER_BOUND_DURING_SHUTDOWN
        assert o.seconds < bound, f"{o.client_msg_id} took {o.seconds:.1f} s"
        if o.result.status_code == 503:
            assert o.result.json()["code"] == "database_unavailable"
            assert o.result.headers["Retry-After"] == "5"
    failed = [o.client_msg_id for o in outcomes if o.result.status_code == 503]
    assert len(failed) >= 3
    failed.append(f"{prefix}-in-flight")
    assert socket_ack["ok"] is False
    assert socket_ack["error"]["code"] == "database_unavailable"

    # Nothing was emitted for a message that was not stored: the sockets got exactly the
    # acknowledged ones.
    sent = acknowledged(outcomes)
    receiver.barrier()
    sender_tab.barrier()
    assert [m["_id"] for m in receiver.received("newMessage")] == [m["_id"] for m in sent]
    assert [m["_id"] for m in sender_tab.received("newMessage")] == [m["_id"] for m in sent]

    db.start()  # same port, same data directory
    wait_healthy(server)

    # Retries of the failed sends, with the same clientMsgId, succeed; a second retry answers
    # the same message (stored once).
    retried = []
    for client_msg_id in failed:
        response, _ = send(server, alice, bob, "retry", clientMsgId=client_msg_id)
        assert response.status_code == 201, response.text
        retried.append(response.json())
    again, _ = send(server, alice, bob, "retry", clientMsgId=failed[0])
    assert again.status_code == 201
    assert again.json()["_id"] == retried[0]["_id"]
    fresh = Api(server.url).send(alice, bob, "after the database came back")
    assert receiver.wait_for("newMessage", lambda m: m["_id"] == fresh["_id"])

    everything = sent + retried + [fresh]
    caught_up = sync_all(server, bob, cursor)
    ids = [m["_id"] for m in caught_up]
    assert len(ids) == len(set(ids))
    assert set(ids) == {m["_id"] for m in everything} == stored_ids(db, fresh["conversationId"])
    assert_invariants(mongo(db), acknowledged=everything)


class SocketSender(threading.Thread):
    """Sends `sendMessage` events one after another (each with a clientMsgId) until stopped,
    and records every ack."""

    def __init__(self, client: ChatClient, to: Person, prefix: str):
        super().__init__(daemon=True)
        self.client, self.to, self.prefix = client, to, prefix
        self.acks: list[dict] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        for n in itertools.count(1):
            if self.stopping.is_set():
                return
            ack = self.client.call(
                "sendMessage",
                {
                    "to": self.to.id,
                    "message": f"{self.prefix} {n}",
                    "clientMsgId": f"{self.prefix}-{n}",
                },
                timeout=60,
            )
            self.acks.append(ack)
            if not ack["ok"]:
                time.sleep(0.2)

    def finish(self) -> list[dict]:
        self.stopping.set()
        self.join(90)
        assert not self.is_alive(), "a socket send hung"
        return [ack["message"] for ack in self.acks if ack["ok"]]


def test_database_killed_mid_burst(db, start_server, make_client):  # noqa: F811
    """kill -9 of the database while users send over REST and sockets: every acknowledged
    message survives the restart, stored once, and no seq is handed out twice."""
    server = start_server("eventlet")
    alice, bob = signup(server, "dbkill-a"), signup(server, "dbkill-b")
    alice_tab = make_client(server).connect(token=alice.access)
    cursor = Api(server.url).get(bob, "/api/sync")["cursor"]
    rest = [Sender(server, alice, bob, "dbkill-rest"), Sender(server, bob, alice, "dbkill-back")]
    sockets = SocketSender(alice_tab, bob, "dbkill-socket")
    for sender in (*rest, sockets):
        sender.start()
    for sender in rest:
        sender.wait_outcomes(40)

    db.process.send_signal(signal.SIGKILL)  # mid-burst: commits are in flight
    db.process.wait()
    killed = [len(sender.outcomes) for sender in rest]
    for sender, count in zip(rest, killed, strict=True):
        sender.wait_outcomes(count + 2)  # answered 503 while the database is gone
    db.start()  # same port, same data directory
    wait_healthy(server)
    for sender, count in zip(rest, killed, strict=True):
        sender.wait_outcomes(count + 10)  # and sending again
    acknowledged_messages = [m for sender in rest for m in acknowledged(sender.finish())]
    acknowledged_messages += sockets.finish()
    assert len(acknowledged_messages) > 80

    # Every acknowledged message is stored once, with the seq it was acknowledged with.
    stored = {
        str(m["_id"]): m
        for m in mongo(db)["messaging_message"].find(
            {"conversation_id": ObjectId(acknowledged_messages[0]["conversationId"])}
        )
    }
    lost = [m["_id"] for m in acknowledged_messages if m["_id"] not in stored]
    assert lost == [], f"{len(lost)} acknowledged messages lost"
    for message in acknowledged_messages:
        assert stored[message["_id"]]["seq"] == message["seq"]
    seqs = sorted(m["seq"] for m in stored.values())
    assert seqs == list(range(1, len(seqs) + 1)), "a seq was reused or skipped"

    # /api/sync hands the receiver every stored message once, without gaps.
    caught_up = sync_all(server, bob, cursor)
    assert sorted(m["seq"] for m in caught_up) == seqs
    assert {m["_id"] for m in caught_up} == set(stored)
    assert_invariants(mongo(db), acknowledged=acknowledged_messages)


# --- the chat server is killed ---------------------------------------------------------------


def test_chat_server_killed_and_restarted(db, start_server, make_client):  # noqa: F811
    server = start_server("eventlet")
    alice, bob, carol = (signup(server, p) for p in ("kill-a", "kill-b", "kill-c"))
    api = Api(server.url)
    alice_socket = reconnecting(make_client(server)).connect(token=alice.access)
    bob_socket = reconnecting(make_client(server)).connect(token=bob.access)
    bob_cursor = api.get(bob, "/api/sync")["cursor"]
    carol_cursor = api.get(carol, "/api/sync")["cursor"]  # carol stays offline

    before = [api.send(alice, bob, f"before {i}") for i in range(3)]
    before += [
        alice_socket.call("sendMessage", {"to": bob.id, "message": f"socket {i}"})["message"]
        for i in range(2)
    ]
    before.append(api.send(bob, alice, "a reply"))
    to_carol = [api.send(alice, carol, f"while you were away {i}") for i in range(2)]
    for message in before:
        bob_socket.wait_for("newMessage", lambda m, i=message["_id"]: m["_id"] == i)

    # Killed while a send is in progress (it has read its receiver, not yet written anything).
    in_flight = InFlightRequest(server, alice, bob, "lost in the kill", clientMsgId="kill-1")
    server.stop(signal.SIGKILL)
    assert in_flight.finish() is None  # the client never learns whether it was stored
    bob_socket.wait_disconnected()
    alice_socket.wait_disconnected()
    server.start()  # same port

    # The sockets come back by themselves: the server greets each reconnection with the list.
    for client in (alice_socket, bob_socket):
        wait_reconnected(client)

    # The send whose answer was lost is retried with its clientMsgId: stored once.
    retried = [api.send(alice, bob, "lost in the kill", clientMsgId="kill-1")]
    assert api.send(alice, bob, "lost in the kill", clientMsgId="kill-1") == retried[0]

    shown = {m["_id"] for m in history(server, alice, bob)}
    assert {m["_id"] for m in before + retried} <= shown

    caught_up = sync_all(server, bob, bob_cursor)
    ids = [m["_id"] for m in caught_up]
    assert len(ids) == len(set(ids)), "sync repeated a message"
    assert set(ids) == {m["_id"] for m in before + retried} == shown

    carol_socket = make_client(server).connect(token=carol.access)
    assert [m["_id"] for m in sync_all(server, carol, carol_cursor)] == [m["_id"] for m in to_carol]

    live = api.send(alice, bob, "live after the restart")
    assert bob_socket.wait_for("newMessage", lambda m: m["_id"] == live["_id"])
    carol_socket.barrier()
    assert carol_socket.received("newMessage") == []
    assert_invariants(mongo(db), acknowledged=before + retried + to_carol + [live])


# --- Redis stops between two processes -------------------------------------------------------


def _log_since(server: ChatServer, offset: int) -> str:
    return server.log_path.read_bytes()[offset:].decode(errors="replace")


def test_redis_stopped_between_two_processes(db, start_server, make_client, redis_server):  # noqa: F811
    one = start_server("eventlet", REDIS_URL=redis_server.url)
    two = start_server("gevent", REDIS_URL=redis_server.url)
    alice, bob, carol = (signup(one, p) for p in ("redis-a", "redis-b", "redis-c"))
    alice_socket = make_client(one).connect(token=alice.access)
    bob_socket = make_client(two).connect(token=bob.access)
    bob_cursor = Api(two.url).get(bob, "/api/sync")["cursor"]
    first = Api(one.url).send(alice, bob, "through Redis")
    assert bob_socket.wait_for("newMessage") == first

    offsets = {server: server.log_path.stat().st_size for server in (one, two)}
    redis_server.stop()

    # Sends still succeed and are stored, on both processes, over REST and the socket.
    during = [Api(one.url).send(alice, bob, f"Redis is down {i}") for i in range(2)]
    during.append(Api(two.url).send(bob, alice, "a reply while Redis is down"))
    ack = alice_socket.call("sendMessage", {"to": bob.id, "message": "socket, Redis down"})
    assert ack["ok"] is True, ack
    during.append(ack["message"])
    # Presence degrades to this process's own sockets instead of refusing connections.
    carol_socket = make_client(one).connect(token=carol.access)
    assert carol.id in carol_socket.wait_for("getOnlineUsers")
    shown = {m["_id"] for m in history(two, bob, alice)}
    assert {m["_id"] for m in during} <= shown
    logs = _log_since(one, offsets[one]) + _log_since(two, offsets[two])
    assert "Cannot publish to redis" in logs or "could not emit" in logs, logs[-2000:]

    redis_server.start()  # same port, empty

    # Delivery across processes resumes (python-socketio's Redis listener reconnects with its
    # own backoff of 1, 2, 4... s).
    deadline = time.monotonic() + 45
    probes = []
    while True:
        probes.append(Api(one.url).send(alice, bob, f"probe {len(probes)}"))
        try:
            bob_socket.wait_for("newMessage", lambda m: m["_id"] == probes[-1]["_id"], timeout=2)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise

    # What the sockets missed comes back through sync, each message once.
    caught_up = sync_all(two, bob, bob_cursor)
    ids = [m["_id"] for m in caught_up]
    assert len(ids) == len(set(ids))
    assert set(ids) == {m["_id"] for m in [first, *during, *probes]}
    assert_invariants(mongo(db), acknowledged=[first, *during, *probes])


# --- a process dies between a send's commit and its delivery ---------------------------------

# The exit status of a process that the after-commit fault hook ended (messaging/transactions.py).
FAULT_EXIT = 70
# How soon the retry's delivery reaches a socket on the other process (slack for a loaded machine).
REDELIVERY_BOUND = 3.0


@pytest.mark.parametrize(("transport", "dying_mode"), [("rest", "eventlet"), ("socket", "asgi")])
def test_a_send_whose_process_died_after_the_commit_is_delivered_by_its_retry(
    db,
    start_server,
    make_client,  # noqa: F811
    redis_server,
    transport,
    dying_mode,
):
    """The process that stores a send exits right after the commit, before its emit
    (`CHAT_FAULT_AFTER_COMMIT=exit`): the message is stored and nobody heard of it. The sender
    retries with the same clientMsgId through the other process, which answers the stored
    message and delivers it: the receiver's socket gets it live."""
    dying = start_server(
        dying_mode,
        REDIS_URL=redis_server.url,
        CHAT_FAULT_HOOKS="true",
        CHAT_FAULT_AFTER_COMMIT="exit",
    )
    other = start_server("gevent", REDIS_URL=redis_server.url)
    alice, bob = signup(other, "crash-a"), signup(other, "crash-b")
    receiver = make_client(other).connect(token=bob.access)
    sender_elsewhere = make_client(other).connect(token=alice.access)
    key = f"died-{transport}"
    payload = {"to": bob.id, "message": "stored, then the process died", "clientMsgId": key}

    if transport == "rest":
        result, _ = send(dying, alice, bob, payload["message"], clientMsgId=key)
        assert isinstance(result, requests.RequestException), result
    else:
        dying_socket = make_client(dying).connect(token=alice.access)
        dying_socket.emit("sendMessage", payload, lambda ack: None)
        dying_socket.wait_disconnected()
    assert dying.process.wait(TIMEOUT) == FAULT_EXIT
    stored = mongo(db)["messaging_message"].find_one(
        {"sender_id": alice.user.pk, "client_msg_id": key}
    )
    assert stored is not None, "the send did not commit before the process exited"
    receiver.barrier()
    assert receiver.received("newMessage") == []

    if transport == "rest":
        retried = Api(other.url).send(alice, bob, payload["message"], clientMsgId=key)
    else:
        ack = sender_elsewhere.call("sendMessage", payload)
        assert ack["ok"] is True, ack
        retried = ack["message"]

    assert retried["_id"] == str(stored["_id"])
    for client in (receiver, sender_elsewhere):
        assert client.wait_for("newMessage", timeout=REDELIVERY_BOUND) == retried
        client.barrier()
        assert client.received("newMessage") == [retried]
    assert_invariants(mongo(db), acknowledged=[retried])


# --- presence after a process dies -----------------------------------------------------------

# REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS of the presence drill, and the slack a loaded machine
# may add to it.
NODE_TIMEOUT = 3
NODE_TIMEOUT_SLACK = 2.0


def _meet(server: ChatServer, person: Person, *others: Person) -> None:
    """Make them contacts (a direct message each)."""
    for other in others:
        Api(server.url).send(person, other, "hello")


@pytest.mark.parametrize("survivor_mode", ["eventlet", "gevent", "asgi"])
def test_users_of_a_killed_process_are_announced_offline_within_the_bound(
    db,
    start_server,
    make_client,  # noqa: F811
    redis_server,
    survivor_mode,
):
    """Two processes share Redis; one is killed (-9). Its users who are online nowhere else are
    announced offline to their contacts on the other within REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS:
    bob (only there), and dave, who also had a tab on the survivor and closed it just after the
    kill. carol, still on the survivor, stays online until she leaves it, which is announced at
    once. The original front end's lists follow."""
    env = {
        "REDIS_URL": redis_server.url,
        "REALTIME_PRESENCE_FANOUT": "contacts",
        "REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS": str(NODE_TIMEOUT),
    }
    dying = start_server("eventlet", **env)
    survivor = start_server(survivor_mode, **env)
    alice, bob, carol, dave = (
        signup(survivor, p) for p in ("node-a", "node-b", "node-c", "node-d")
    )
    _meet(survivor, alice, bob, carol, dave)
    watcher = make_client(survivor).connect(token=alice.access)
    original = make_client(survivor).connect(query=f"token={alice.access}&userId={alice.id}")

    make_client(dying).connect(token=bob.access)
    make_client(dying).connect(token=carol.access)
    make_client(dying).connect(token=dave.access)
    carol_here = make_client(survivor).connect(token=carol.access)
    dave_here = make_client(survivor).connect(token=dave.access)
    everyone = sorted([alice.id, bob.id, carol.id, dave.id])
    original.wait_for("getOnlineUsers", lambda ids: ids == everyone)
    for person in (bob, carol, dave):
        watcher.wait_for("userOnline", lambda e, p=person: e["userId"] == p.id)

    dying.stop(signal.SIGKILL)
    killed = time.monotonic()
    dave_here.close()

    bound = NODE_TIMEOUT + NODE_TIMEOUT_SLACK
    for person in (bob, dave):
        watcher.wait_for("userOffline", lambda e, p=person: e["userId"] == p.id, timeout=bound)
    assert time.monotonic() - killed <= bound
    expected = sorted([alice.id, carol.id])
    assert original.wait_for("getOnlineUsers", lambda ids: ids == expected, timeout=TIMEOUT)
    watcher.barrier()
    assert carol.id not in [e["userId"] for e in watcher.received("userOffline")]

    carol_here.close()
    assert watcher.wait_for("userOffline", lambda e: e["userId"] == carol.id, timeout=TIMEOUT)
    assert original.wait_for("getOnlineUsers", lambda ids: ids == [alice.id], timeout=TIMEOUT)
    assert [e["userId"] for e in watcher.received("userOffline")].count(bob.id) == 1


def test_users_of_a_stopping_process_are_announced_offline_as_it_stops(
    db,
    start_server,
    make_client,  # noqa: F811
    redis_server,
):
    """SIGTERM: a process that stops announces offline, as it closes its sockets, its users
    who are online nowhere else (their contacts read together, `departing_together`), long
    before the bound in which a killed process's users are; dave, who has a tab on the other
    process, stays online."""
    env = {
        "REDIS_URL": redis_server.url,
        "REALTIME_PRESENCE_FANOUT": "contacts",
        "REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS": "45",  # only the stopping process can do it
    }
    stopping = start_server("eventlet", **env)
    survivor = start_server("eventlet", **env)
    alice, bob, carol, dave = (
        signup(survivor, p) for p in ("stop-a", "stop-b", "stop-c", "stop-d")
    )
    _meet(survivor, alice, bob, carol, dave)
    watcher = make_client(survivor).connect(token=alice.access)
    for person in (bob, carol, dave):
        make_client(stopping).connect(token=person.access)
    make_client(survivor).connect(token=dave.access)
    for person in (bob, carol, dave):
        watcher.wait_for("userOnline", lambda e, p=person: e["userId"] == p.id)

    stopped = time.monotonic()
    stopping.stop()  # SIGTERM, and waits for the exit
    for person in (bob, carol):
        watcher.wait_for("userOffline", lambda e, p=person: e["userId"] == p.id, timeout=TIMEOUT)
    assert time.monotonic() - stopped < 30
    watcher.barrier()
    gone = [e["userId"] for e in watcher.received("userOffline")]
    assert sorted(gone) == sorted([bob.id, carol.id])


def test_a_process_taken_for_dead_announces_its_users_again_when_it_wakes(
    db,
    start_server,
    make_client,  # noqa: F811
    redis_server,
):
    """A process that stalls (SIGSTOP) longer than the bound is taken for dead, and its users
    are announced offline; when it runs again (SIGCONT), its sockets still connected, it
    announces them online again."""
    env = {
        "REDIS_URL": redis_server.url,
        "REALTIME_PRESENCE_FANOUT": "contacts",
        "REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS": str(NODE_TIMEOUT),
    }
    stalling = start_server("gevent", **env)
    survivor = start_server("eventlet", **env)
    alice, bob = signup(survivor, "stall-a"), signup(survivor, "stall-b")
    _meet(survivor, alice, bob)
    watcher = make_client(survivor).connect(token=alice.access)
    make_client(stalling).connect(token=bob.access)
    watcher.wait_for("userOnline", lambda e: e["userId"] == bob.id)

    stalling.process.send_signal(signal.SIGSTOP)
    try:
        bound = NODE_TIMEOUT + NODE_TIMEOUT_SLACK
        watcher.wait_for("userOffline", lambda e: e["userId"] == bob.id, timeout=bound)
    finally:
        stalling.process.send_signal(signal.SIGCONT)
    assert watcher.wait_for("userOnline", lambda e: len(watcher.received("userOnline")) > 1)
    assert watcher.received("userOnline") == [{"userId": bob.id}] * 2


# --- graceful shutdown -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory) -> Path:
    """A VAR_DIR for servers that start the embedded database themselves."""
    return tmp_path_factory.mktemp("var")


def _embedded_database(var: Path) -> dict:
    return json.loads((var / "embedded-db.json").read_text())


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent", "asgi"])
def test_graceful_shutdown(var_dir, make_client, async_mode):  # noqa: F811
    # No MONGODB_URI: serve starts the embedded database in VAR_DIR, migrates, and stops it.
    server = ChatServer(
        "chat", async_mode, {"MONGODB_URI": None, "VAR_DIR": str(var_dir)}, migrate=True
    )
    server.start()
    try:
        database = _embedded_database(var_dir)
        alice, bob = signup(server, "term-a"), signup(server, "term-b")
        stored = Api(server.url).send(alice, bob, "stored before the shutdown")
        bob_socket = reconnecting(make_client(server)).connect(token=bob.access)
        in_flight = InFlightRequest(server, alice, bob, "in flight during the shutdown")

        server.process.send_signal(signal.SIGTERM)
        # The sockets are closed at once, not left to the ping timeout (45 s), after the
        # listener: new connections are refused.
        bob_socket.wait_disconnected(timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.url}/healthz", timeout=TIMEOUT)
        # The request in progress is still served a while into the shutdown, and finishes.
        time.sleep(1)
        answered = in_flight.finish()
        assert answered is not None, "the request in progress was dropped"
        status, answer = answered
        assert status == 201, answer
        assert server.process.wait(15) == 0
        # The embedded database was stopped cleanly: not killed, its record removed.
        assert not process_alive(database["pid"])
        assert not (var_dir / "embedded-db.json").exists()
        assert "did not stop" not in server.log_path.read_text()  # EmbeddedDB.stop() kills

        server.migrate = False
        server.start()  # the same data directory
        shown = [m["_id"] for m in history(server, alice, bob)]
        assert shown[-2:] == [stored["_id"], answer["_id"]]
        wait_reconnected(bob_socket)
        database = _embedded_database(var_dir)
        assert_invariants(
            pymongo.MongoClient(f"mongodb://127.0.0.1:{database['port']}/?directConnection=true")[
                "chat"
            ],
            acknowledged=[stored, answer],
        )
    finally:
        server.stop()
    assert server.process.returncode == 0
    assert not process_alive(database["pid"])


class Poller:
    """GET /healthz on new connections, one after another, in a thread: what a client trying
    to reach the port meanwhile gets (each answer or refusal, with when it was asked)."""

    def __init__(self, url: str):
        self.url = url
        self.outcomes: list[tuple[float, bool]] = []  # (asked at, answered)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            asked = time.monotonic()
            try:
                answer = requests.get(f"{self.url}/healthz", timeout=TIMEOUT)
                self.outcomes.append((asked, answer.status_code == 200))
            except requests.RequestException:
                self.outcomes.append((asked, False))
            time.sleep(0.01)

    def stop(self) -> None:
        self.running = False
        self.thread.join()

    def refused(self, start: float, end: float = float("inf")) -> tuple[int, int]:
        """(refused or failed, asked) among the requests asked between `start` and `end`."""
        window = [answered for asked, answered in self.outcomes if start <= asked < end]
        return window.count(False), len(window)


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent", "asgi"])
def test_a_new_process_takes_over_the_port_before_the_old_one_stops(
    db,
    start_server,
    make_client,  # noqa: F811
    async_mode,
):
    """REUSE_PORT: a new process listens beside the running one, then the old one gets
    SIGTERM. Its clients reconnect to the new one by themselves, nothing is refused while both
    listen nor after the old one is gone, and a message sent after arrives live. (While the old
    one stops, a connection queued for it and not yet accepted can be reset: not checked.)"""
    old = start_server(async_mode, REUSE_PORT="true")
    alice, bob = signup(old, "over-a"), signup(old, "over-b")
    api = Api(old.url)
    bob_socket = reconnecting(make_client(old)).connect(token=bob.access)
    before = api.send(alice, bob, "before the takeover")
    bob_socket.wait_for("newMessage", lambda m: m["_id"] == before["_id"])
    poller = Poller(old.url)
    try:
        new = start_server(async_mode, beside=old, REUSE_PORT="true")
        both = time.monotonic()
        time.sleep(0.5)
        stopping = time.monotonic()
        old.stop()  # SIGTERM, and waits for the exit
        gone = time.monotonic()
        assert old.process.returncode == 0
        wait_reconnected(bob_socket)
        time.sleep(0.5)
    finally:
        poller.stop()
    # (A margin before the SIGTERM: gevent drops the connections it has not read yet at once.)
    assert poller.refused(both, stopping - 0.1)[0] == 0, "refused while both processes listened"
    refused, asked = poller.refused(gone)
    assert asked >= 5 and refused == 0, "refused after the old process stopped"

    after = Api(new.url).send(alice, bob, "after the takeover")
    bob_socket.wait_for("newMessage", lambda m: m["_id"] == after["_id"])
    assert {m["_id"] for m in history(new, alice, bob)} >= {before["_id"], after["_id"]}


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent", "asgi"])
def test_a_second_process_on_a_port_in_use_fails_to_start_without_reuse_port(
    db, start_server, async_mode
):
    """Without REUSE_PORT a process started by mistake on a port in use does not quietly take
    half of its connections: it fails to start, and the running one keeps serving."""
    running = start_server(async_mode)
    with pytest.raises(RuntimeError, match="exited"):
        start_server(async_mode, beside=running)
    assert (
        b"Address already in use"
        in (ARTIFACTS / f"chat-server-{async_mode}-{running.port}-beside.log").read_bytes()
    )
    assert requests.get(f"{running.url}/healthz", timeout=TIMEOUT).status_code == 200

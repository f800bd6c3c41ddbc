"""A user deactivated in the middle of a connect storm: the serving process reads the connects'
sessions many at a time (`realtime.batching`), and none of that user's sockets may come through
it. Those connected before are closed, those connecting then are refused or closed, within
2 seconds; one connecting afterwards is refused. The periodic recheck (60 s here) is far away,
so only the connect's own check and the announcement can do it. Under eventlet, and in the ASGI
mode, where the connects wait for the shared read in the handlers' own threads, many at once."""

import concurrent.futures
import threading
import time

import pytest
from django.test import override_settings

from accounts.services import user_deactivate
from accounts.tests.factories import tokens_for
from realtime.tests.clients import ConnectionRefused, person_create
from realtime.tests.test_multiprocess import REDIS_URL, _redis_or_skip

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PROMPT = 2.0  # seconds
OTHERS, SOCKETS_EACH = 24, 10  # 240 sockets of other users
ALICE_SESSIONS, ALICE_SOCKETS_EACH = 3, 5  # 15 of hers, spread over the storm


def _disconnected(socket, timeout: float) -> bool:
    """Whether the server ended the socket's Socket.IO connection (DISCONNECT, or the
    WebSocket closed) within `timeout` seconds."""
    with socket._changed:
        return socket._changed.wait_for(
            lambda: socket.closed.is_set() or "41" in socket.packets, timeout=timeout
        )


@pytest.fixture(scope="module", params=["eventlet", "asgi"])
def server(request, chat_server_factory):
    _redis_or_skip()
    server = chat_server_factory(
        request.param, REDIS_URL=REDIS_URL, REALTIME_AUTH_RECHECK_SECONDS="60"
    )
    yield server
    server.stop()  # before the other mode's: both would hear the revocations


def test_a_user_deactivated_during_a_connect_storm_keeps_no_socket(server, make_raw_socket, alice):
    others = [person_create() for _ in range(OTHERS)]
    alice_tokens = [alice.access] + [
        tokens_for(alice.user)["access"] for _ in range(ALICE_SESSIONS - 1)
    ]
    plan = [("other", p.access) for p in others for _ in range(SOCKETS_EACH)]
    hers = [("alice", t) for t in alice_tokens for _ in range(ALICE_SOCKETS_EACH)]
    step = len(plan) // len(hers)
    for i, item in enumerate(hers):  # hers spread evenly through the storm
        plan.insert(i * (step + 1) + step // 2, item)
    sockets = [(whose, make_raw_socket(server), token) for whose, token in plan]
    outcome: dict[int, str] = {}
    connected = threading.Semaphore(0)

    def open_one(index: int) -> None:
        _, socket, token = sockets[index]
        try:
            started = time.monotonic()
            socket.connect(token)
            outcome[index] = f"connected {started:.3f}-{time.monotonic():.3f}"
        except ConnectionRefused as refused:
            outcome[index] = f"refused:{refused.args[0]}"
        connected.release()

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        futures = [pool.submit(open_one, i) for i in range(len(sockets))]
        for _ in range(len(sockets) // 3):  # a third through the storm, her sockets among them
            assert connected.acquire(timeout=60), "the storm stalled"
        # As the admin in a separate web process does: the news goes through Redis.
        with override_settings(REDIS_URL=REDIS_URL):
            since = time.monotonic()
            user_deactivate(user=alice.user)
        for future in futures:
            future.result(timeout=120)

    hers_connected = [i for i, (whose, _, _) in enumerate(sockets) if whose == "alice"]
    before = sum(1 for i in hers_connected if outcome[i].startswith("connected"))
    assert before, "none of her sockets connected before the deactivation: no test"
    assert any(outcome[i].startswith("refused") for i in hers_connected), (
        "none of her sockets was connecting during the deactivation: no test"
    )
    for index in hers_connected:
        _, socket, _ = sockets[index]
        left = since + PROMPT - time.monotonic()
        assert _disconnected(socket, max(left, 0.1)), (
            f"her socket #{index} ({outcome[index]}) still connected "
            f"{time.monotonic() - since:.1f} s after the deactivation"
        )
    for index, (whose, socket, _) in enumerate(sockets):
        if whose == "other":
            assert outcome[index].startswith("connected"), outcome[index]
            assert not _disconnected(socket, 0), f"a bystander's socket #{index} was closed"

    late = make_raw_socket(server)
    with pytest.raises(ConnectionRefused, match="unauthorized"):
        late.connect(alice.access)

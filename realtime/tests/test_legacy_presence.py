"""REALTIME_LEGACY_PRESENCE: the reference design's full online list to everyone, debounced.

Off (the default), clients get the list once, on connect, then one-id deltas."""

import threading

import pytest

from realtime.tests.clients import ChatClient, person_create

pytestmark = pytest.mark.django_db(transaction=True)

DEBOUNCE_MS = 1000
BURST = 10
# Longer than one debounce interval: a pending list would have arrived by then.
QUIET = DEBOUNCE_MS / 1000 + 0.5


@pytest.fixture(scope="module", params=["eventlet", "gevent", "asgi"])
def legacy_server(request, chat_server_factory):
    server = chat_server_factory(
        request.param,
        REALTIME_LEGACY_PRESENCE="true",
        REALTIME_LEGACY_PRESENCE_DEBOUNCE_MS=str(DEBOUNCE_MS),
    )
    yield server
    server.stop()


def _connect_all(server, make_client, people) -> list[ChatClient]:
    """Connect one socket per person, all at once (a connect storm)."""
    clients = [make_client(server) for _ in people]
    errors = []

    def open_socket(client, person):
        try:
            client.connect(token=person.access)
        except Exception as error:
            errors.append(error)

    threads = [
        threading.Thread(target=open_socket, args=pair)
        for pair in zip(clients, people, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return clients


# Only this process hashes these passwords (the sockets log in with tokens).
@pytest.mark.usefixtures("fast_password_hashing")
def test_legacy_mode_sends_the_full_list_to_everyone_debounced(legacy_server, make_client, alice):
    watcher = make_client(legacy_server).connect(token=alice.access)
    assert watcher.wait_for("getOnlineUsers") == [alice.id]
    crowd = [person_create() for _ in range(BURST)]

    sockets = _connect_all(legacy_server, make_client, crowd)

    everyone = sorted([alice.id, *(p.id for p in crowd)])
    watcher.wait_for("getOnlineUsers", lambda ids: ids == everyone)
    watcher.assert_silent("getOnlineUsers", within=QUIET)
    lists = watcher.received("getOnlineUsers")[1:]
    assert lists[-1] == everyone  # the last list is the current one
    assert len(lists) < BURST  # the burst was merged, not one list per connect
    assert all(ids == sorted(ids) for ids in lists)
    assert sockets[0].received("getOnlineUsers")[-1] == everyone  # newcomers get it too
    assert watcher.received("userOnline") == []  # no deltas in this mode

    for socket in sockets[: BURST // 2]:
        socket.close()

    remaining = sorted([alice.id, *(p.id for p in crowd[BURST // 2 :])])
    watcher.wait_for("getOnlineUsers", lambda ids: ids == remaining)
    watcher.assert_silent("getOnlineUsers", within=QUIET)
    assert watcher.received("getOnlineUsers")[-1] == remaining
    assert sockets[-1].received("getOnlineUsers")[-1] == remaining
    assert watcher.received("userOffline") == []


def test_without_legacy_mode_clients_get_the_list_once_then_deltas(connect, alice, bob, carol):
    watcher = connect(alice)
    watcher.wait_for("getOnlineUsers")

    connect(bob)
    connect(carol).close()

    watcher.wait_for("userOffline", lambda e: e["userId"] == carol.id)
    # A debounced full list would come within 500 ms (the default interval); none does.
    watcher.assert_silent("getOnlineUsers", within=1.5)
    # One list, on connect. (It may name sockets of earlier tests on this server that are still
    # being closed; these three people were not online yet.)
    (snapshot,) = watcher.received("getOnlineUsers")
    assert alice.id in snapshot and bob.id not in snapshot and carol.id not in snapshot
    assert [e["userId"] for e in watcher.received("userOnline")] == [bob.id, carol.id]

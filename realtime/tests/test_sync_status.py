"""A client that sends its sync cursor with the handshake learns at once whether it missed
anything (`syncStatus`), and skips `/api/sync` when it did not: after a restart most clients
missed nothing (docs/realtime.md, "Reconnecting without losing messages")."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reconnect(chat_server, make_client):
    """`reconnect(person, since)` → a socket of `person` whose handshake carries `since`."""

    def open_socket(person, since):
        return make_client(chat_server).connect(auth={"token": person.access, "since": since})

    return open_socket


def test_nothing_missed_is_up_to_date(reconnect, api, alice, bob):
    api.send(alice, bob, "seen live")
    cursor = api.get(bob, "/api/sync")["cursor"]
    socket = reconnect(bob, cursor)
    assert socket.wait_for("syncStatus") == {"since": cursor, "upToDate": True}
    assert api.get(bob, "/api/sync", since=cursor)["messages"] == []


def test_a_message_missed_is_not_up_to_date_and_sync_brings_it(reconnect, api, alice, bob):
    cursor = api.get(bob, "/api/sync")["cursor"]
    missed = api.send(alice, bob, "while you were away")
    socket = reconnect(bob, cursor)
    assert socket.wait_for("syncStatus") == {"since": cursor, "upToDate": False}
    assert api.get(bob, "/api/sync", since=cursor)["messages"] == [missed]


def test_a_read_marker_missed_is_not_up_to_date(reconnect, connect, api, alice, bob):
    sent = api.send(alice, bob, "hi")
    cursor = api.get(alice, "/api/sync")["cursor"]
    ack = connect(bob).call("markRead", {"conversationId": sent["conversationId"], "seq": 1})
    assert ack == {"ok": True, "seq": 1}
    socket = reconnect(alice, cursor)
    assert socket.wait_for("syncStatus") == {"since": cursor, "upToDate": False}
    assert api.get(alice, "/api/sync", since=cursor)["reads"]


@pytest.mark.parametrize("since", ["0" * 24, "nope", "", 42, None, "x" * 65])
def test_an_unknown_or_malformed_cursor_is_not_up_to_date(reconnect, api, alice, since):
    socket = reconnect(alice, since)
    echoed = since if isinstance(since, str) and len(since) <= 64 else None
    assert socket.wait_for("syncStatus") == {"since": echoed, "upToDate": False}


def test_someone_elses_cursor_is_not_up_to_date(reconnect, api, alice, bob):
    api.send(alice, bob, "hi")
    bobs = api.get(bob, "/api/sync")["cursor"]
    socket = reconnect(alice, bobs)
    assert socket.wait_for("syncStatus") == {"since": bobs, "upToDate": False}


def test_without_a_cursor_no_status_is_sent(connect, api, alice, bob):
    socket = connect(bob)
    api.send(alice, bob, "hello")
    socket.wait_for("newMessage")
    assert socket.received("syncStatus") == []


def test_many_reconnecting_at_once_each_get_their_own_answer(reconnect, api, alice, bob, carol):
    """Connects in flight share the reads (realtime/batching.py): each still gets the answer
    for its own cursor."""
    api.send(alice, bob, "before")
    api.send(alice, carol, "before")
    cursors = {p.id: api.get(p, "/api/sync")["cursor"] for p in (alice, bob, carol)}
    missed = api.send(alice, bob, "bob missed this")
    expected = {alice.id: False, bob.id: False, carol.id: True}  # alice's own send moved hers
    sockets = [(p, reconnect(p, cursors[p.id])) for p in (alice, bob, carol) for _ in range(5)]
    for person, socket in sockets:
        status = socket.wait_for("syncStatus")
        assert status == {"since": cursors[person.id], "upToDate": expected[person.id]}
    assert api.get(bob, "/api/sync", since=cursors[bob.id])["messages"] == [missed]

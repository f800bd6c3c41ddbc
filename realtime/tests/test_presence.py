"""Presence: a snapshot on connect, then deltas; a user is online while any of their sockets is."""

import time

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_snapshot_on_connect_lists_who_is_online(connect, alice, bob, carol):
    connect(alice)

    snapshot = connect(bob).wait_for("getOnlineUsers")

    assert alice.id in snapshot
    assert bob.id in snapshot
    assert carol.id not in snapshot
    assert snapshot == sorted(snapshot)


def test_others_get_user_online_when_a_user_connects(connect, alice, bob):
    watcher = connect(alice)

    newcomer = connect(bob)

    assert watcher.wait_for("userOnline") == {"userId": bob.id}
    newcomer.barrier()
    assert newcomer.received("userOnline") == []  # the snapshot already says so


def test_closing_one_of_two_tabs_keeps_the_user_online(connect, alice, bob):
    watcher = connect(alice)
    first_tab = connect(bob)
    watcher.wait_for("userOnline", lambda e: e["userId"] == bob.id)
    second_tab = connect(bob)
    watcher.barrier()
    assert watcher.received("userOnline") == [{"userId": bob.id}]  # no second userOnline

    first_tab.close()
    watcher.assert_silent("userOffline")
    assert bob.id in connect(alice).wait_for("getOnlineUsers")

    second_tab.close()
    assert watcher.wait_for("userOffline") == {"userId": bob.id}
    assert bob.id not in connect(alice).wait_for("getOnlineUsers")
    watcher.assert_silent("userOffline")
    assert watcher.received("userOffline") == [{"userId": bob.id}]


def test_reconnecting_tab_comes_back_online(connect, alice, bob):
    watcher = connect(alice)
    connect(bob).close()
    watcher.wait_for("userOffline", lambda e: e["userId"] == bob.id)

    connect(bob)

    assert watcher.wait_count("userOnline", 2)[-1] == {"userId": bob.id}


def test_closing_a_socket_completes_the_close_handshake(connect, alice):
    """The gevent server used to keep the connection open after the WebSocket ended, so a
    client's close() waited seconds for the server's answer."""
    socket = connect(alice)
    started = time.monotonic()
    socket.close()
    assert time.monotonic() - started < 1.0

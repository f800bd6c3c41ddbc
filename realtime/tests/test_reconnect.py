"""What a client missed while disconnected comes back through /api/sync, once."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("cursor_from", ["/api/conversations", "/api/sync"])
def test_missed_messages_come_back_through_sync(connect, api, alice, bob, cursor_from):
    before = api.send(alice, bob, "seen live")
    receiver = connect(bob)
    answer = api.get(bob, cursor_from)
    cursor = answer["syncCursor"] if cursor_from == "/api/conversations" else answer["cursor"]
    receiver.close()

    missed = [api.send(alice, bob, f"missed {i}") for i in range(10)]
    receiver = connect(bob)
    sync = api.get(bob, "/api/sync", since=cursor)

    assert sync["messages"] == missed
    assert sync["hasMore"] is False
    assert before["_id"] not in {m["_id"] for m in sync["messages"]}
    assert receiver.received("newMessage") == []  # nothing replayed on the socket

    live = api.send(alice, bob, "live again")
    assert receiver.wait_for("newMessage") == live
    again = api.get(bob, "/api/sync", since=sync["cursor"])
    assert again["messages"] == [live]


def test_sync_reports_read_markers_missed_while_away(connect, api, alice, bob):
    sent = api.send(alice, bob, "hi")
    cursor = api.get(alice, "/api/sync")["cursor"]
    connect(alice).close()

    ack = connect(bob).call("markRead", {"conversationId": sent["conversationId"], "seq": 1})
    assert ack == {"ok": True, "seq": 1}

    sync = api.get(alice, "/api/sync", since=cursor)
    assert sync["messages"] == []
    assert {"conversationId": sent["conversationId"], "userId": bob.id, "seq": 1} in sync["reads"]

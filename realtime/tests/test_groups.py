"""Groups over a real server: every member's sockets get the group's messages and changes; a
removed member's sockets learn it at once and get nothing of the group afterwards."""

import pytest
import requests

from realtime.tests.clients import TIMEOUT, person_create

pytestmark = pytest.mark.django_db(transaction=True)


def rest(chat_server, person, method: str, path: str, **body) -> dict:
    response = requests.request(
        method,
        f"{chat_server.url}{path}",
        json=body or None,
        headers=person.headers,
        timeout=TIMEOUT,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_group_messages_and_changes_reach_every_member_and_stop_at_removal(
    chat_server, connect, alice, bob, carol
):
    dave = person_create("dave")
    sockets = {p.id: connect(p) for p in (alice, bob, carol, dave)}
    group = rest(
        chat_server,
        alice,
        "POST",
        "/api/conversations",
        kind="group",
        name="Trip",
        participantIds=[bob.id, carol.id],
    )
    members = (alice, bob, carol)
    for person in members:
        assert sockets[person.id].wait_for("conversationUpdated") == group
        created = sockets[person.id].wait_for("newMessage")
        assert created["system"]["action"] == "created" and created["seq"] == 1

    ack = sockets[bob.id].call("sendMessage", {"conversationId": group["_id"], "message": "hi all"})
    assert ack["ok"] is True and ack["message"]["seq"] == 2
    for person in members:
        assert sockets[person.id].wait_for("newMessage", lambda m: m["seq"] == 2) == ack["message"]

    # Typing reaches the other members only.
    sockets[carol.id].call("typing", {"conversationId": group["_id"], "isTyping": True})
    for person in (alice, bob):
        assert sockets[person.id].wait_for("typing")["userId"] == carol.id

    # carol is removed: she is told at once, and the others see the change.
    after = rest(
        chat_server, alice, "DELETE", f"/api/conversations/{group['_id']}/members/{carol.id}"
    )
    assert after["memberIds"] == [alice.id, bob.id]
    assert sockets[carol.id].wait_for("removedFromConversation") == {"conversationId": group["_id"]}
    for person in (alice, bob):
        assert sockets[person.id].wait_for("conversationUpdated", lambda g: g == after) == after
        removal = sockets[person.id].wait_for("newMessage", lambda m: m["seq"] == 3)
        assert removal["system"] == {
            "action": "removed", "actorId": alice.id, "userIds": [carol.id]
        }  # fmt: skip

    # From now on nothing of the group reaches her, and she can neither read nor send.
    ack = sockets[alice.id].call(
        "sendMessage", {"conversationId": group["_id"], "message": "without carol"}
    )
    assert ack["ok"] is True
    sockets[bob.id].wait_for("newMessage", lambda m: m["seq"] == 4)
    sockets[carol.id].barrier()
    assert [m["seq"] for m in sockets[carol.id].received("newMessage")] == [1, 2]
    refused = sockets[carol.id].call(
        "sendMessage", {"conversationId": group["_id"], "message": "still here?"}
    )
    assert refused["error"]["code"] == "conversation_not_found"
    history = requests.get(
        f"{chat_server.url}/api/conversations/{group['_id']}/messages",
        headers=carol.headers,
        timeout=TIMEOUT,
    )
    assert history.status_code == 404
    sockets[dave.id].barrier()
    assert sockets[dave.id].received("newMessage") == []
    assert sockets[dave.id].received("conversationUpdated") == []

"""Edit, delete, reply and reactions over a real server: each action, by socket event or REST,
reaches every socket of every participant (the actor's other tabs too) once, and nobody else."""

import pytest
import requests

from realtime.tests.clients import TIMEOUT, person_create

pytestmark = pytest.mark.django_db(transaction=True)


def rest(chat_server, person, method: str, path: str, body=None) -> dict:
    response = requests.request(
        method, f"{chat_server.url}{path}", json=body, headers=person.headers, timeout=TIMEOUT
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_edit_delete_and_reactions_reach_every_participant_socket(
    chat_server, connect, api, alice, bob, carol
):
    alice_tabs = [connect(alice), connect(alice)]
    bobs, carols = connect(bob), connect(carol)
    everyone = [*alice_tabs, bobs]
    sent = alice_tabs[0].call("sendMessage", {"to": bob.id, "message": "helo"})["message"]
    for socket in everyone:
        socket.wait_for("newMessage", lambda m: m["_id"] == sent["_id"])

    # Edit by socket event: every participant socket gets the message as edited.
    ack = alice_tabs[0].call("editMessage", {"messageId": sent["_id"], "message": "hello"})
    assert ack["ok"] is True and ack["message"]["message"] == "hello"
    for socket in everyone:
        assert socket.wait_for("messageUpdated") == ack["message"]

    # Reactions by REST and socket.
    liked = rest(chat_server, bob, "POST", f"/api/messages/{sent['_id']}/reactions/thumbs_up")
    for socket in everyone:
        event = socket.wait_for("reactionsUpdated")
        assert (
            event["reactions"]
            == liked["reactions"]
            == [{"emoji": "👍", "count": 1, "userIds": [bob.id]}]
        )
        assert (event["userId"], event["emoji"], event["added"]) == (bob.id, "👍", True)
    ack = bobs.call("unreact", {"messageId": sent["_id"], "emoji": "👍"})
    assert ack["ok"] is True and ack["message"]["reactions"] == []
    for socket in everyone:
        socket.wait_for("reactionsUpdated", lambda e: e["added"] is False)

    # A reply carries its preview; the original's deletion reaches everyone as a tombstone.
    reply = bobs.call("sendMessage", {"to": alice.id, "message": "what?", "replyTo": sent["_id"]})[
        "message"
    ]
    assert reply["replyTo"]["message"] == "hello"
    gone = rest(chat_server, alice, "DELETE", f"/api/messages/{sent['_id']}")
    for socket in everyone:
        event = socket.wait_for("messageDeleted")
        assert event == {
            "messageId": sent["_id"],
            "conversationId": sent["conversationId"],
            "seq": sent["seq"],
            "message": gone,
        }
        assert event["message"]["deleted"] is True and event["message"]["message"] == ""
    history = api.get(bob, f"/api/messages/{alice.id}")
    assert [(m["message"], m["deleted"]) for m in history] == [("", True), ("what?", False)]
    assert history[1]["replyTo"]["deleted"] is True

    # Repeats change nothing and announce nothing; a stranger hears none of it.
    again = alice_tabs[1].call("deleteMessage", {"messageId": sent["_id"]})
    assert again["ok"] is True and again["message"] == gone
    for socket in [*everyone, carols]:
        socket.barrier()
    for socket in everyone:
        assert len(socket.received("messageDeleted")) == 1
        assert len(socket.received("messageUpdated")) == 1
    for event in ("messageUpdated", "messageDeleted", "reactionsUpdated", "newMessage"):
        assert carols.received(event) == []


def test_refusals_answer_stable_codes_and_change_nothing(chat_server, connect, alice, bob, carol):
    alices, bobs, carols = connect(alice), connect(bob), connect(carol)
    sent = alices.call("sendMessage", {"to": bob.id, "message": "mine"})["message"]
    cases = [
        (bobs, "editMessage", {"messageId": sent["_id"], "message": "yours?"}, "message_not_found"),
        (bobs, "deleteMessage", {"messageId": sent["_id"]}, "message_not_found"),
        (carols, "react", {"messageId": sent["_id"], "emoji": "👍"}, "message_not_found"),
        (alices, "react", {"messageId": sent["_id"], "emoji": "not an emoji"}, "emoji_invalid"),
        (alices, "editMessage", {"messageId": sent["_id"], "message": "  "}, "message_empty"),
        (alices, "editMessage", {"messageId": "nope", "message": "x"}, "message_not_found"),
        (alices, "editMessage", ["not", "an", "object"], "invalid_payload"),
        (alices, "sendMessage", {"to": bob.id, "message": "x", "replyTo": "0" * 24},
         "reply_not_found"),
    ]  # fmt: skip
    for socket, event, payload, code in cases:
        ack = socket.call(event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == code, (event, payload, ack)
    alices.barrier()
    assert alices.received("messageUpdated") == alices.received("reactionsUpdated") == []
    history = requests.get(
        f"{chat_server.url}/api/messages/{bob.id}", headers=alice.headers, timeout=TIMEOUT
    ).json()
    assert [m["message"] for m in history] == ["mine"]


def test_group_members_get_actions_and_a_removed_member_does_not(
    chat_server, connect, alice, bob, carol
):
    dave = person_create("dave")
    group = rest(
        chat_server,
        alice,
        "POST",
        "/api/conversations",
        {"kind": "group", "name": "Trip", "participantIds": [bob.id, carol.id, dave.id]},
    )
    sockets = {p.id: connect(p) for p in (alice, bob, carol, dave)}
    said = sockets[bob.id].call("sendMessage", {"conversationId": group["_id"], "message": "hi"})
    rest(chat_server, alice, "DELETE", f"/api/conversations/{group['_id']}/members/{dave.id}")
    sockets[dave.id].wait_for("removedFromConversation")

    ack = sockets[carol.id].call("react", {"messageId": said["message"]["_id"], "emoji": "🎉"})
    assert ack["ok"] is True
    for person in (alice, bob, carol):
        event = sockets[person.id].wait_for("reactionsUpdated")
        assert event["reactions"] == [{"emoji": "🎉", "count": 1, "userIds": [carol.id]}]
    sockets[dave.id].barrier()
    assert sockets[dave.id].received("reactionsUpdated") == []
    refused = sockets[dave.id].call("react", {"messageId": said["message"]["_id"], "emoji": "👍"})
    assert refused["error"]["code"] == "message_not_found"

"""Groups over a real server: every member's sockets get the group's messages and changes; a
removed member's sockets learn it at once and get nothing of the group afterwards."""

import pytest
import requests

from realtime.tests.clients import TIMEOUT, Api, person_create

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


@pytest.fixture(scope="module", params=["eventlet", "asgi"])
def contacts_server(request, chat_server_factory):
    """Presence to contacts, the default in production (the suite's `chat_server` sends it
    to everyone)."""
    return chat_server_factory(request.param, REALTIME_PRESENCE_FANOUT="contacts")


def test_new_group_members_and_the_members_learn_who_is_online_at_once(
    contacts_server, make_client, alice, bob, carol
):
    """Joining a group makes its members contacts: the new member's sockets get a fresh
    `getOnlineUsers`, the members' sockets `userOnline` for the new member, without
    reconnecting; a member who was a contact already hears nothing twice."""
    dave = person_create("dave")
    Api(contacts_server.url).send(carol, bob, "we have met")
    sockets = {p.id: make_client(contacts_server).connect(token=p.access) for p in (alice, carol)}
    sockets[bob.id] = make_client(contacts_server).connect(token=bob.access)
    assert sockets[carol.id].wait_for("userOnline") == {"userId": bob.id}
    sockets[alice.id].barrier()
    assert sockets[alice.id].received("userOnline") == []  # strangers so far

    group = rest(
        contacts_server,
        alice,
        "POST",
        "/api/conversations",
        kind="group",
        name="Trip",
        participantIds=[carol.id],
    )
    # Each snapshot lists all their online contacts: carol's has bob, whom she knew before.
    snapshot = sockets[alice.id].wait_for("getOnlineUsers", lambda ids: carol.id in ids)
    assert snapshot == sorted([alice.id, carol.id])
    snapshot = sockets[carol.id].wait_for("getOnlineUsers", lambda ids: alice.id in ids)
    assert snapshot == sorted([alice.id, bob.id, carol.id])

    rest(
        contacts_server,
        alice,
        "POST",
        f"/api/conversations/{group['_id']}/members",
        userIds=[bob.id, dave.id],
    )
    assert sockets[bob.id].wait_for("getOnlineUsers", lambda ids: alice.id in ids) == sorted(
        [alice.id, bob.id, carol.id]
    )
    assert sockets[alice.id].wait_for("userOnline") == {"userId": bob.id}
    for socket in sockets.values():
        socket.barrier()
    assert sockets[carol.id].received("userOnline") == [{"userId": bob.id}]  # from bob's connect
    assert sockets[alice.id].received("userOnline") == [{"userId": bob.id}]  # dave is offline

    # And dave, online now, is announced to all of them as their contact.
    make_client(contacts_server).connect(token=dave.access)
    for socket in sockets.values():
        assert socket.wait_for("userOnline", lambda d: d["userId"] == dave.id)


@pytest.fixture(scope="module")
def small_receipts_server(chat_server_factory):
    return chat_server_factory("eventlet", REALTIME_READ_RECEIPTS_MAX_MEMBERS="2")


def test_in_a_large_group_read_receipts_go_to_the_readers_own_sockets(
    small_receipts_server, make_client, alice, bob, carol
):
    """Above REALTIME_READ_RECEIPTS_MAX_MEMBERS, `messagesRead` reaches only the reader's
    sockets (their other tabs); the markers stay readable through the API."""
    server = small_receipts_server
    group = rest(
        server, alice, "POST", "/api/conversations",
        kind="group", name="Big", participantIds=[bob.id, carol.id],
    )  # fmt: skip
    sockets = {p.id: make_client(server).connect(token=p.access) for p in (alice, bob, carol)}
    bobs_other_tab = make_client(server).connect(token=bob.access)
    ack = sockets[bob.id].call("markRead", {"conversationId": group["_id"], "seq": 1})
    assert ack == {"ok": True, "seq": 1}
    expected = {"conversationId": group["_id"], "userId": bob.id, "seq": 1}
    assert bobs_other_tab.wait_for("messagesRead") == expected
    for person in (alice, carol):
        sockets[person.id].barrier()
        assert sockets[person.id].received("messagesRead") == []
    read = rest(server, alice, "GET", f"/api/conversations/{group['_id']}")["readSeqs"]
    assert read[bob.id] == 1

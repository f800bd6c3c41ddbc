"""Message delivery, acks, typing and read receipts, on a real server under eventlet and gevent."""

import threading

import pytest

from realtime.tests.clients import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

MISSING_ID = "0" * 24


def test_rest_send_reaches_every_socket_of_both_participants_only(connect, api, alice, bob, carol):
    alice_phone, alice_laptop = connect(alice), connect(alice)
    bob_phone, bob_laptop = connect(bob), connect(bob)
    carol_socket = connect(carol)

    sent = api.send(alice, bob, "hello bob")

    for socket in (bob_phone, bob_laptop, alice_laptop, alice_phone):
        assert socket.wait_for("newMessage") == sent
        assert socket.received("newMessage") == [sent]
    carol_socket.barrier()
    assert carol_socket.received("newMessage") == []
    assert sent["senderId"] == alice.id
    assert sent["receiverId"] == bob.id
    assert sent["message"] == "hello bob"
    assert sent["seq"] == 1


def test_socket_send_acks_with_the_stored_message(connect, api, alice, bob):
    sender, receiver = connect(alice), connect(bob)

    ack = sender.call("sendMessage", {"to": bob.id, "message": "  hi  ", "clientMsgId": "c-1"})

    assert ack["ok"] is True
    message = ack["message"]
    assert message["message"] == "hi"
    assert message["clientMsgId"] == "c-1"
    assert (message["senderId"], message["receiverId"], message["seq"]) == (alice.id, bob.id, 1)
    assert receiver.wait_for("newMessage") == message
    assert sender.wait_for("newMessage") == message
    history = api.get(bob, f"/api/messages/{alice.id}")
    assert history == [message]


def test_socket_send_into_a_conversation(connect, api, alice, bob):
    first = api.send(alice, bob, "first")
    receiver = connect(bob)

    ack = connect(alice).call(
        "sendMessage", {"conversationId": first["conversationId"], "message": "second"}
    )

    assert ack["ok"] is True
    assert ack["message"]["seq"] == 2
    assert receiver.wait_for("newMessage") == ack["message"]


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"to": "BOB", "message": {"$ne": None}}, "message_invalid"),
        ({"to": "BOB", "message": ["a"]}, "message_invalid"),
        ({"to": "BOB", "message": "   "}, "message_empty"),
        ({"to": "BOB", "message": "x" * 4001}, "message_too_long"),
        ({"to": "BOB", "message": "hi", "clientMsgId": "no spaces"}, "client_msg_id_invalid"),
        ({"to": "ALICE", "message": "hi"}, "cannot_message_self"),
        ({"to": MISSING_ID, "message": "hi"}, "receiver_not_found"),
        ({"to": {"$gt": ""}, "message": "hi"}, "receiver_not_found"),
        ({"conversationId": MISSING_ID, "message": "hi"}, "conversation_not_found"),
        ({"conversationId": "not-an-id", "message": "hi"}, "conversation_not_found"),
        ({"message": "hi"}, "invalid_payload"),
        ("hello", "invalid_payload"),
        (["to", "message"], "invalid_payload"),
        (None, "invalid_payload"),
    ],
)
def test_bad_send_gets_an_error_ack_and_the_socket_stays_usable(connect, alice, bob, payload, code):
    if isinstance(payload, dict):
        ids = {"BOB": bob.id, "ALICE": alice.id}
        payload = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    sender, receiver = connect(alice), connect(bob)

    ack = sender.call("sendMessage", payload)

    assert ack["ok"] is False
    assert ack["error"]["code"] == code
    assert isinstance(ack["error"]["detail"], str)
    assert sender.connected
    good = sender.call("sendMessage", {"to": bob.id, "message": "still here"})
    assert good["ok"] is True
    assert good["message"]["seq"] == 1  # the bad send stored nothing
    assert receiver.wait_for("newMessage") == good["message"]
    assert receiver.received("newMessage") == [good["message"]]


def test_a_non_participant_cannot_send_into_a_conversation(connect, api, alice, bob, carol):
    conversation_id = api.send(alice, bob, "private")["conversationId"]
    receiver = connect(bob)

    ack = connect(carol).call("sendMessage", {"conversationId": conversation_id, "message": "hi"})

    assert ack["error"]["code"] == "conversation_not_found"
    receiver.barrier()
    assert receiver.received("newMessage") == []


def test_rapid_sends_arrive_in_seq_order(connect, alice, bob):
    sender, receiver = connect(alice), connect(bob)
    count = 100
    acks = []
    all_acked = threading.Event()

    def on_ack(answer):
        acks.append(answer)
        if len(acks) == count:
            all_acked.set()

    for i in range(count):
        sender.emit(
            "sendMessage", {"to": bob.id, "message": f"m{i}", "clientMsgId": f"rapid-{i}"}, on_ack
        )

    received = receiver.wait_count("newMessage", count, timeout=60)
    assert [m["seq"] for m in received] == list(range(1, count + 1))
    assert all_acked.wait(TIMEOUT)
    assert all(a["ok"] for a in acks)
    assert sorted(m["message"] for m in received) == sorted(f"m{i}" for i in range(count))
    sender.wait_count("newMessage", count)
    assert [m["seq"] for m in sender.received("newMessage")] == list(range(1, count + 1))


def test_a_retry_with_the_same_client_msg_id_stores_once_and_delivers_again(
    connect, api, make_client, chat_server, alice, bob
):
    """A retry finds the message stored and delivers it again, the same message with the same
    `_id` (the process that stored it may have died before delivering it: test_faults.py);
    clients drop the copy they hold. The original front end keeps no ids: it gets it once."""
    sender, receiver = connect(alice), connect(bob)
    original = make_client(chat_server).connect(query=f"token={bob.access}&userId={bob.id}")
    payload = {"to": bob.id, "message": "only once", "clientMsgId": "retry-1"}

    first = sender.call("sendMessage", payload)
    retry = sender.call("sendMessage", payload)
    by_rest = api.send(alice, bob, "only once", clientMsgId="retry-1")
    after = sender.call("sendMessage", {"to": bob.id, "message": "next", "clientMsgId": "retry-2"})

    assert first["ok"] and retry["ok"]
    assert retry["message"] == first["message"]
    assert by_rest == first["message"]
    assert after["message"]["seq"] == 2
    for socket in (receiver, sender):
        socket.wait_for("newMessage", lambda m: m["_id"] == after["message"]["_id"])
        assert socket.received("newMessage") == [first["message"]] * 3 + [after["message"]]
    original.wait_for("newMessage", lambda m: m["_id"] == after["message"]["_id"])
    assert original.received("newMessage") == [first["message"], after["message"]]


def test_typing_is_relayed_to_the_other_participant_only(connect, api, alice, bob, carol):
    conversation_id = api.send(alice, bob, "hi")["conversationId"]
    alice_typing, alice_other = connect(alice), connect(alice)
    bob_phone, bob_laptop = connect(bob), connect(bob)
    carol_socket = connect(carol)

    ack = alice_typing.call("typing", {"conversationId": conversation_id, "isTyping": True})

    assert ack == {"ok": True}
    expected = {"conversationId": conversation_id, "userId": alice.id, "isTyping": True}
    assert bob_phone.wait_for("typing") == expected
    assert bob_laptop.wait_for("typing") == expected
    for socket in (alice_typing, alice_other, carol_socket):
        socket.barrier()
        assert socket.received("typing") == []


def test_typing_into_someone_elses_conversation_is_refused(connect, api, alice, bob, carol):
    conversation_id = api.send(alice, bob, "hi")["conversationId"]
    bob_socket = connect(bob)

    ack = connect(carol).call("typing", {"conversationId": conversation_id, "isTyping": True})
    bad = connect(carol).call("typing", {"conversationId": conversation_id, "isTyping": "yes"})

    assert ack["error"]["code"] == "conversation_not_found"
    assert bad["error"]["code"] == "invalid_payload"
    bob_socket.barrier()
    assert bob_socket.received("typing") == []


def test_mark_read_tells_the_peer(connect, api, alice, bob):
    sent = [api.send(alice, bob, f"m{i}") for i in range(3)]
    conversation_id = sent[0]["conversationId"]
    alice_socket, bob_socket = connect(alice), connect(bob)

    ack = bob_socket.call("markRead", {"conversationId": conversation_id, "seq": 2})

    assert ack == {"ok": True, "seq": 2}
    expected = {"conversationId": conversation_id, "userId": bob.id, "seq": 2}
    assert alice_socket.wait_for("messagesRead") == expected
    again = bob_socket.call("markRead", {"conversationId": conversation_id, "seq": 1})
    assert again == {"ok": True, "seq": 2}  # never moves back
    too_far = bob_socket.call("markRead", {"conversationId": conversation_id, "seq": 99})
    assert too_far["error"]["code"] == "seq_invalid"
    alice_socket.barrier()
    assert alice_socket.received("messagesRead") == [expected]

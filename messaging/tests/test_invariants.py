"""`assert_invariants` passes on data written by the services and catches each kind of
corruption, written on purpose with raw pymongo."""

import pytest
from bson import ObjectId

from messaging.models import Conversation, Message
from messaging.serializers import MessageSerializer
from messaging.services import conversation_mark_read, message_hide
from messaging.tests.factories import message_factory, messages_factory
from messaging.tests.invariants import assert_invariants, database, violations

pytestmark = pytest.mark.django_db


@pytest.fixture
def scratch():
    """A scratch copy of the messaging collections, without their indexes, so the tests can
    write what the unique indexes of the real ones would refuse."""
    real = database()
    copy = real.client[f"{real.name}_invariants"]
    real.client.drop_database(copy.name)
    yield copy
    real.client.drop_database(copy.name)


@pytest.fixture
def chat(scratch, alice, bob, carol):
    """Real data written by the services (sends both ways, a client id, a read marker, a
    hidden message), copied into the scratch database. Returns alice and bob's messages."""
    messages = messages_factory(sender=alice, receiver=bob, count=4)
    message_factory(sender=carol, receiver=alice, body="hi", client_msg_id="carol-1")
    conversation_mark_read(user=bob, conversation=messages[0].conversation, seq=3)
    message_hide(message=messages[1], by=None)
    real = database()
    for model in (Conversation, Message):
        scratch[model._meta.db_table].insert_many(real[model._meta.db_table].find({}))
    return messages


def collection(db, model):
    return db[model._meta.db_table]


def one_violation(db, contains: str) -> None:
    found = violations(db)
    assert any(contains in p for p in found), found
    with pytest.raises(AssertionError, match="invariant violation"):
        assert_invariants(db)


def test_data_written_by_the_services_holds_every_invariant(scratch, chat):
    acks = [MessageSerializer(m).data for m in chat]
    assert_invariants(database(), acknowledged=acks)
    assert_invariants(scratch, acknowledged=acks)
    assert violations(scratch) == []


def test_an_empty_database_holds_every_invariant(scratch):
    assert_invariants(scratch)


def test_a_sender_outside_the_conversation_is_caught(scratch, chat, carol):
    collection(scratch, Message).update_one({"_id": chat[0].pk}, {"$set": {"sender_id": carol.pk}})
    one_violation(scratch, f"sender {carol.pk} is not a participant")


def test_a_wrong_receiver_is_caught(scratch, chat, alice):
    collection(scratch, Message).update_one(
        {"_id": chat[0].pk}, {"$set": {"receiver_id": alice.pk}}
    )
    one_violation(scratch, "is not the other participant")


def test_a_message_without_its_conversation_is_caught(scratch, chat):
    collection(scratch, Message).update_one(
        {"_id": chat[0].pk}, {"$set": {"conversation_id": ObjectId()}}
    )
    one_violation(scratch, "does not exist")


def test_a_repeated_seq_is_caught(scratch, chat):
    collection(scratch, Message).update_one({"_id": chat[1].pk}, {"$set": {"seq": 1}})
    found = violations(scratch)
    assert any("seqs [1] are repeated" in p for p in found), found
    assert any("seqs [2] missing" in p for p in found), found


def test_a_gap_in_seqs_is_caught(scratch, chat):
    collection(scratch, Message).delete_one({"_id": chat[2].pk})
    one_violation(scratch, "seqs [3] missing")


def test_a_counter_behind_the_messages_is_caught(scratch, chat):
    collection(scratch, Conversation).update_one(
        {"_id": chat[0].conversation_id}, {"$inc": {"last_seq": -1}}
    )
    one_violation(scratch, "beyond last_seq 3")


def test_a_counter_ahead_of_the_messages_is_caught(scratch, chat):
    collection(scratch, Conversation).update_one(
        {"_id": chat[0].conversation_id}, {"$inc": {"last_seq": 1}}
    )
    found = violations(scratch)
    assert any("seqs [5] missing" in p for p in found), found
    # Bob's badge would count a message that does not exist.
    assert any("unread count" in p and "but 1 messages follow" in p for p in found), found


def test_a_read_marker_beyond_the_last_seq_is_caught(scratch, chat, bob):
    collection(scratch, Conversation).update_one(
        {"_id": chat[0].conversation_id}, {"$set": {f"read_markers.{bob.pk}.seq": 9}}
    )
    one_violation(scratch, "has read up to 9")


def test_a_stray_read_marker_is_caught(scratch, chat, carol):
    collection(scratch, Conversation).update_one(
        {"_id": chat[0].conversation_id},
        {"$set": {f"read_markers.{carol.pk}": {"seq": 1, "version": 1}}},
    )
    one_violation(scratch, f"non-participants ['{carol.pk}']")


def test_a_read_marker_behind_its_users_own_message_is_caught(scratch, chat, bob):
    collection(scratch, Conversation).update_one(
        {"_id": chat[0].conversation_id}, {"$set": {f"read_markers.{bob.pk}.seq": 3}}
    )
    one_violation(scratch, "before their own message 4")


def test_a_duplicate_client_msg_id_is_caught(scratch, chat, carol):
    original = collection(scratch, Message).find_one({"client_msg_id": "carol-1"})
    # The scratch copy has no unique index, so the duplicate goes in (under the next seq).
    collection(scratch, Message).insert_one({**original, "_id": ObjectId(), "seq": 2})
    collection(scratch, Conversation).update_one(
        {"_id": original["conversation_id"]}, {"$inc": {"last_seq": 1}}
    )
    collection(scratch, Conversation).update_one(
        {"_id": original["conversation_id"]}, {"$inc": {f"read_markers.{carol.pk}.seq": 1}}
    )
    assert violations(scratch) == [
        f"client_msg_id 'carol-1' of sender {carol.pk} is stored 2 times"
    ]


def test_a_direct_key_that_does_not_match_the_participants_is_caught(scratch, chat, carol):
    collection(scratch, Conversation).update_one(
        {"_id": chat[0].conversation_id}, {"$set": {"direct_key": f"{carol.pk}:x"}}
    )
    one_violation(scratch, "direct_key")


def test_an_acknowledged_message_that_was_lost_is_caught(scratch, chat):
    acks = [MessageSerializer(m).data for m in chat]
    collection(scratch, Message).delete_one({"_id": chat[3].pk})
    found = violations(scratch, acknowledged=acks)
    assert any(f"acknowledged message {chat[3].pk} (seq 4) is not stored" in p for p in found)


def test_an_acknowledged_message_stored_elsewhere_is_caught(scratch, chat):
    ack = {**MessageSerializer(chat[0]).data, "seq": 2}
    found = violations(scratch, acknowledged=[ack])
    assert any("acknowledged as seq 2" in p for p in found), found

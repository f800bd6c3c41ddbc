"""Real threads, each on its own database connection (Django's connections are per thread),
racing through the send transaction."""

from collections.abc import Callable

import pytest

from messaging.models import Conversation, Message
from messaging.services import message_send
from messaging.tests.factories import message_factory, run_at_once
from messaging.transactions import TransactionTurns

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(workers: int, job: Callable[[int], object]) -> list:
    """Run `job(i)` in `workers` threads released at the same moment; re-raise any failure."""
    results, failures = run_at_once([lambda i=i: job(i) for i in range(workers)])
    if failures:
        raise failures[0]
    return results


def assert_markers_at_last_sends(conversation: Conversation) -> None:
    """Each sender's read marker is at their last message, under that message's version."""
    last = {}
    for message in Message.objects.filter(conversation=conversation).order_by("seq"):
        last[str(message.sender_id)] = {"seq": message.seq, "version": message.version}
    assert conversation.read_markers == last


def test_parallel_first_messages_create_one_conversation(alice, bob):
    def send(i: int):
        sender, receiver = (alice, bob) if i % 2 == 0 else (bob, alice)
        return message_send(sender=sender, receiver=receiver, body=f"hello {i}")

    messages = run_together(20, send)

    conversation = Conversation.objects.get()
    assert {m.conversation_id for m in messages} == {conversation.pk}
    assert sorted(m.seq for m in messages) == list(range(1, 21))
    assert Message.objects.count() == 20
    assert sorted(Message.objects.values_list("seq", flat=True)) == list(range(1, 21))
    assert conversation.last_seq == 20
    assert_markers_at_last_sends(conversation)


def test_concurrent_sends_get_distinct_consecutive_seqs(alice, bob):
    conversation = Conversation.objects.get(
        pk=message_factory(sender=alice, receiver=bob).conversation_id
    )

    def send_ten(i: int):
        sender = alice if i % 2 == 0 else bob
        return [
            message_send(sender=sender, conversation=conversation, body=f"{i}-{n}").seq
            for n in range(10)
        ]

    seqs = [seq for batch in run_together(10, send_ten) for seq in batch]

    assert sorted(seqs) == list(range(2, 102))
    stored = sorted(Message.objects.values_list("seq", flat=True))
    assert stored == list(range(1, 102))
    conversation.refresh_from_db()
    assert conversation.last_seq == 101
    # Every change got its own version, so sync can't miss or repeat one.
    versions = list(Message.objects.values_list("version", flat=True))
    assert len(set(versions)) == len(versions) == 101


def test_concurrent_retries_store_one_message(alice, bob):
    message_factory(sender=alice, receiver=bob)

    def retry(i: int):
        return message_send(sender=alice, receiver=bob, body="only once", client_msg_id="retry-1")

    messages = run_together(10, retry)

    assert len({m.pk for m in messages}) == 1
    assert {m.seq for m in messages} == {2}
    assert Message.objects.filter(client_msg_id="retry-1").count() == 1
    assert Message.objects.count() == 2
    assert Conversation.objects.get().last_seq == 2


@pytest.fixture
def no_process_lock(monkeypatch):
    """Each writer gets its own turns (writer lock and transaction limit), as if every thread
    were a separate server process: then only the database's unique indexes and write-conflict
    detection keep the data right."""
    monkeypatch.setattr("messaging.transactions.transaction_turns", lambda: TransactionTurns(1))


def test_first_messages_across_processes_create_one_conversation(alice, bob, no_process_lock):
    def send(i: int):
        sender, receiver = (alice, bob) if i % 2 == 0 else (bob, alice)
        return message_send(sender=sender, receiver=receiver, body=f"hello {i}")

    messages = run_together(20, send)

    assert Conversation.objects.count() == 1
    assert sorted(m.seq for m in messages) == list(range(1, 21))
    assert sorted(Message.objects.values_list("seq", flat=True)) == list(range(1, 21))
    assert_markers_at_last_sends(Conversation.objects.get())


def test_sends_across_processes_get_consecutive_seqs(alice, bob, no_process_lock):
    conversation = Conversation.objects.get(
        pk=message_factory(sender=alice, receiver=bob).conversation_id
    )

    def send_five(i: int):
        return [
            message_send(sender=alice, conversation=conversation, body=f"{i}-{n}").seq
            for n in range(5)
        ]

    seqs = [seq for batch in run_together(8, send_five) for seq in batch]

    assert sorted(seqs) == list(range(2, 42))
    assert sorted(Message.objects.values_list("seq", flat=True)) == list(range(1, 42))
    assert_markers_at_last_sends(Conversation.objects.get())


def test_retries_across_processes_store_one_message(alice, bob, no_process_lock):
    message_factory(sender=alice, receiver=bob)

    def retry(i: int):
        return message_send(sender=alice, receiver=bob, body="only once", client_msg_id="retry-2")

    messages = run_together(10, retry)

    assert len({m.pk for m in messages}) == 1
    assert Message.objects.filter(client_msg_id="retry-2").count() == 1
    assert Conversation.objects.get().last_seq == 2

"""messaging.transactions: how many transactions of a process run at once, who goes next,
and what a transaction that fails leaves behind."""

import threading

import pytest
from django.db import transaction

from chatsite.errors import DatabaseUnavailable
from chatsite.testing import wait_until
from messaging.models import Conversation, Message
from messaging.services import message_send
from messaging.tests.factories import message_factory
from messaging.transactions import TransactionTurns, run_in_transaction


def test_no_more_than_the_limit_get_in():
    turns = TransactionTurns(2)
    assert turns.acquire(timeout=1)
    assert turns.acquire(timeout=1)
    assert turns.acquire(timeout=0.05) is False
    turns.release()
    assert turns.acquire(timeout=1)


def test_waiters_get_in_in_the_order_they_arrived():
    turns = TransactionTurns(1)
    assert turns.acquire()
    entered: list[int] = []

    def wait_then_enter(n: int) -> None:
        assert turns.acquire(timeout=10)
        entered.append(n)
        turns.release()

    threads = []
    for n in range(5):
        thread = threading.Thread(target=wait_then_enter, args=(n,))
        thread.start()
        threads.append(thread)
        # Queued one after the other: the next starts once this one waits at the gate.
        wait_until(lambda n=n: turns.waiting == n + 1, what=f"waiter {n} queued")
    # A newcomer while they wait does not take the freed place ahead of them.
    turns.release()
    assert turns.acquire(timeout=10)
    for thread in threads:
        thread.join(timeout=10)
    assert entered == [0, 1, 2, 3, 4]
    turns.release()


def test_a_waiter_that_gave_up_does_not_hold_up_the_next():
    turns = TransactionTurns(1)
    assert turns.acquire()
    assert turns.acquire(timeout=0.05) is False  # gave up
    got_in = threading.Event()

    def enter() -> None:
        if turns.acquire(timeout=10):
            got_in.set()

    thread = threading.Thread(target=enter)
    thread.start()
    wait_until(lambda: turns.waiting, what="the next waiter queued")
    turns.release()
    assert got_in.wait(10)
    thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_send_that_waits_too_long_for_its_turn_is_refused_and_stores_nothing(
    monkeypatch, alice, bob
):
    full = TransactionTurns(1)
    assert full.acquire()  # another transaction holds the only place
    monkeypatch.setattr("messaging.transactions.transaction_turns", lambda: full)
    monkeypatch.setattr("messaging.transactions.turn_timeout", lambda: 0.1)

    with pytest.raises(DatabaseUnavailable):
        message_send(sender=alice, receiver=bob, body="hello")

    assert not Message.objects.exists()
    full.release()
    assert message_send(sender=alice, receiver=bob, body="hello").seq == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_stores_nothing_and_runs_none_of_its_callbacks(alice, bob):
    ran: list[str] = []

    def write():
        message_send(sender=alice, receiver=bob, body="rolled back")
        transaction.on_commit(lambda: ran.append("callback"))
        raise RuntimeError("after the writes")

    with pytest.raises(RuntimeError):
        run_in_transaction(write, lock_key="test")

    assert ran == []
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()
    # The connection is out of the transaction: the next write stands on its own.
    assert message_send(sender=alice, receiver=bob, body="stored").seq == 1


@pytest.mark.django_db(transaction=True)
def test_callbacks_run_once_after_the_commit_of_the_attempt_that_committed(alice, bob):
    """A first attempt that conflicts with another writer is tried again; only the callbacks of
    the attempt that committed run."""
    message_factory(sender=alice, receiver=bob, body="hello")
    conversation = Conversation.objects.get()
    attempts: list[int] = []
    ran: list[int] = []
    other = threading.Thread(
        target=lambda: message_send(sender=bob, conversation=conversation, body="the other")
    )

    def write():
        attempts.append(len(attempts) + 1)
        n = len(attempts)
        if n == 1:
            # The transaction reads the conversation, then another writer commits a change to
            # it before this one writes it: this write conflicts.
            Conversation.objects.get(pk=conversation.pk)
            other.start()
            other.join(timeout=30)
        message_send(sender=alice, conversation=conversation, body="mine")
        transaction.on_commit(lambda: ran.append(n))

    run_in_transaction(write, lock_key="a key the other writer does not take")

    assert len(attempts) >= 2
    assert ran == [attempts[-1]]
    assert sorted(Message.objects.values_list("body", flat=True)) == ["hello", "mine", "the other"]

"""messaging.transactions.FairGate: how many transactions of a process run at once, and who
goes next."""

import threading

import pytest

from chatsite.errors import DatabaseUnavailable
from chatsite.testing import wait_until
from messaging.models import Message
from messaging.services import message_send
from messaging.transactions import FairGate


def test_no_more_than_the_limit_get_in():
    gate = FairGate(2)
    assert gate.acquire(timeout=1)
    assert gate.acquire(timeout=1)
    assert gate.acquire(timeout=0.05) is False
    gate.release()
    assert gate.acquire(timeout=1)


def test_waiters_get_in_in_the_order_they_arrived():
    gate = FairGate(1)
    assert gate.acquire()
    entered: list[int] = []

    def wait_then_enter(n: int) -> None:
        assert gate.acquire(timeout=10)
        entered.append(n)
        gate.release()

    threads = []
    for n in range(5):
        thread = threading.Thread(target=wait_then_enter, args=(n,))
        thread.start()
        threads.append(thread)
        # Queued one after the other: the next starts once this one waits at the gate.
        wait_until(lambda n=n: len(gate._waiting) == n + 1, what=f"waiter {n} queued")
    # A newcomer while they wait does not take the freed place ahead of them.
    gate.release()
    assert gate.acquire(timeout=10)
    for thread in threads:
        thread.join(timeout=10)
    assert entered == [0, 1, 2, 3, 4]
    gate.release()


def test_a_waiter_that_gave_up_does_not_hold_up_the_next():
    gate = FairGate(1)
    assert gate.acquire()
    assert gate.acquire(timeout=0.05) is False  # gave up
    got_in = threading.Event()

    def enter() -> None:
        if gate.acquire(timeout=10):
            got_in.set()

    thread = threading.Thread(target=enter)
    thread.start()
    wait_until(lambda: gate._waiting, what="the next waiter queued")
    gate.release()
    assert got_in.wait(10)
    thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_send_that_waits_too_long_for_its_turn_is_refused_and_stores_nothing(
    monkeypatch, alice, bob
):
    full = FairGate(1)
    assert full.acquire()  # another transaction holds the only place
    monkeypatch.setattr("messaging.transactions._transaction_gate", lambda: full)
    monkeypatch.setattr("messaging.transactions._turn_timeout", lambda: 0.1)

    with pytest.raises(DatabaseUnavailable):
        message_send(sender=alice, receiver=bob, body="hello")

    assert not Message.objects.exists()
    full.release()
    assert message_send(sender=alice, receiver=bob, body="hello").seq == 1

"""Test data, created through the same services as the product. Users and tokens come from
accounts/tests/factories.py, shared by every app's tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence

from django.db import close_old_connections, connection

from accounts.models import User
from messaging.models import Conversation, Message
from messaging.services import message_send

_numbers = itertools.count(1)


def message_factory(
    *,
    sender: User,
    receiver: User | None = None,
    conversation: Conversation | None = None,
    body: str | None = None,
    client_msg_id: str | None = None,
) -> Message:
    return message_send(
        sender=sender,
        receiver=receiver,
        conversation=conversation,
        body=body if body is not None else f"message {next(_numbers)}",
        client_msg_id=client_msg_id,
    )


def messages_factory(*, sender: User, receiver: User, count: int) -> list[Message]:
    """`count` messages between two users, alternating senders."""
    return [
        message_factory(
            sender=sender if i % 2 == 0 else receiver,
            receiver=receiver if i % 2 == 0 else sender,
            body=f"m{i + 1}",
        )
        for i in range(count)
    ]


def run_at_once(jobs: Sequence[Callable[[], object]]) -> tuple[list, list[BaseException]]:
    """Run each job in a thread of its own (so on a database connection of its own), all
    released at the same moment; returns their results and the failures."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    failures: list[BaseException] = []

    def work(i: int) -> None:
        close_old_connections()
        try:
            barrier.wait(timeout=30)
            results[i] = jobs[i]()
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a job hung"
    return results, failures

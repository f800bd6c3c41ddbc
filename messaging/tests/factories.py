"""Test data, created through the same services as the product. Users and tokens come from
accounts/tests/factories.py, shared by every app's tests."""

from __future__ import annotations

import itertools

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

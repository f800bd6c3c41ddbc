"""Test data, created through the same services as the product."""

from __future__ import annotations

import itertools

from accounts.models import User
from accounts.services import tokens_issue, user_create
from messaging.models import Conversation, Message
from messaging.services import message_send

PASSWORD = "a-long-test-password-42"
_numbers = itertools.count(1)


def user_factory(*, username: str | None = None, full_name: str = "Test User") -> User:
    return user_create(
        username=username or f"user{next(_numbers)}", full_name=full_name, password=PASSWORD
    )


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


def bearer(user: User) -> str:
    return f"Bearer {tokens_issue(user=user)['access']}"

"""Does the embedded database still need the flattened filters of `chatsite.mongodb`?

    .venv/bin/python bench/query_rewrite.py [--users 2000] [--conversations 5000]
        [--messages 10000] [--repeat 30]

Starts its own in-memory SecantusDB, stores users, two-person conversations and one long
conversation (in bulk, through the ORM), and times the queries the flattening exists for, each
run through django-mongodb-backend's compiler and through `chatsite.mongodb`'s, alternately, on
the same connection. Prints the rows each answers and the median milliseconds per query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from chatsite.embedded_db import EmbeddedDB  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    db = EmbeddedDB(":memory:").start()
    os.environ.update(db.environment, MONGODB_NAME="bench_rewrite", DEBUG="false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    try:
        run(args)
    finally:
        db.stop()


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_mongodb_backend import compiler as stock

    from accounts.models import User
    from chatsite.mongodb import compiler as flat
    from messaging.models import Conversation, Message

    call_command("migrate", verbosity=0)
    users = User.objects.bulk_create(
        User(username=f"u{n}", username_key=f"u{n}", full_name=f"User {n}", password="!")
        for n in range(args.users)
    )
    conversations = Conversation.objects.bulk_create(
        Conversation(participants=[users[n % len(users)].pk, users[(n * 7 + 1) % len(users)].pk])
        for n in range(args.conversations)
    )
    long = conversations[0]
    alice, bob = long.participants
    Message.objects.bulk_create(
        Message(
            conversation=long,
            sender_id=(alice, bob)[seq % 2],
            receiver_id=(bob, alice)[seq % 2],
            body=f"message {seq}",
            seq=seq,
            version=seq,
        )
        for seq in range(1, args.messages + 1)
    )
    Conversation.objects.filter(pk=long.pk).update(last_seq=args.messages)
    someone = users[len(users) // 2]
    top = args.messages
    queries = {
        # Every send and socket connect read the user by id when they went through the ORM.
        "user by id and is_active": User.objects.filter(pk=someone.pk, is_active=True),
        # The conversation list.
        "conversations of a user": Conversation.objects.filter(
            participants__contains=[someone.pk]
        ).order_by("-last_message_at", "-pk"),
        # The latest page of the history (messaging.selectors.message_page).
        "latest 50 messages by seq range": Message.objects.filter(
            conversation=long, seq__gte=top - 49, seq__lte=top
        ).order_by("seq"),
        # A conversation's last message (conversation_list_for_user).
        "message by conversation and seq": Message.objects.filter(conversation=long, seq=top),
    }
    print(
        f"{args.users} users, {args.conversations} conversations, "
        f"{args.messages} messages in one; median of {args.repeat} runs each"
    )
    print("| query | rows | stock ms | flattened ms | stock / flattened |")
    print("|---|---:|---:|---:|---:|")
    for name, queryset in queries.items():
        times: dict = {stock: [], flat: []}
        rows: dict = {}
        for _ in range(args.repeat):
            for compilers in (stock, flat):
                compiler = compilers.SQLCompiler(queryset.query.clone(), connection, "default")
                start = time.perf_counter()
                rows[compilers] = len(list(compiler.results_iter()))
                times[compilers].append((time.perf_counter() - start) * 1000)
        assert rows[stock] == rows[flat], name
        before, after = statistics.median(times[stock]), statistics.median(times[flat])
        print(f"| {name} | {rows[flat]} | {before:.1f} | {after:.1f} | {before / after:.1f}× |")


if __name__ == "__main__":
    main()

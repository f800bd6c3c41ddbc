"""How long the moderation admin pages take with a large message collection.

    .venv/bin/python bench/admin_pages.py [--messages 100000]

Starts its own in-memory SecantusDB, stores one conversation with N messages, one a second over
the last N seconds, every 1000th hidden (inserted in bulk, in the shape the ORM writes), and
times the admin pages a moderator opens, with Django's test client in this process. Prints
milliseconds per page and the number of database queries; `--queries` also prints the queries.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from chatsite.embedded_db import EmbeddedDB  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--queries", action="store_true", help="print each page's queries")
    args = parser.parse_args()
    db = EmbeddedDB(":memory:").start()
    os.environ.update(
        db.environment, MONGODB_NAME="bench_admin", DEBUG="false", ALLOWED_HOSTS="testserver"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    try:
        run(args.messages, show_queries=args.queries)
    finally:
        db.stop()


def run(count: int, *, show_queries: bool = False) -> None:
    import django

    django.setup()
    from bson import Int64, ObjectId
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from messaging.models import Conversation, Message
    from messaging.services import message_send

    call_command("migrate", verbosity=0)
    alice = User.objects.create_user("alice", "pw-123456789", full_name="Alice")
    bob = User.objects.create_user("bob", "pw-123456789", full_name="Bob")
    moderator = User.objects.create_superuser("mod", "pw-123456789", full_name="Mod")
    first = message_send(sender=alice, receiver=bob, body="hello")
    conversation_id = first.conversation_id
    # Timestamps as a real history has them: the conversation first, then one message a second.
    start = datetime.now(UTC) - timedelta(seconds=count + 1)
    Message.objects.filter(pk=first.pk).update(created_at=start + timedelta(seconds=1))
    collection = connection.get_collection(Message._meta.db_table)
    t0 = time.perf_counter()
    batch = []
    for seq in range(2, count + 1):
        sender, receiver = (alice, bob) if seq % 2 else (bob, alice)
        at = start + timedelta(seconds=seq)
        hidden_at = at + timedelta(seconds=1) if seq % 1000 == 0 else None
        batch.append(
            {"_id": ObjectId(), "conversation_id": conversation_id, "sender_id": sender.pk,
             "receiver_id": receiver.pk, "body": f"message number {seq}", "seq": Int64(seq),
             "version": Int64(seq), "client_msg_id": None, "created_at": at, "updated_at": at,
             "edited_at": None, "hidden_at": hidden_at,
             "hidden_by_id": moderator.pk if hidden_at else None}
        )  # fmt: skip
        if len(batch) == 5000:
            collection.insert_many(batch)
            batch = []
    if batch:
        collection.insert_many(batch)
    Conversation.objects.filter(pk=conversation_id).update(
        last_seq=count, version=count, created_at=start,
        last_message_at=start + timedelta(seconds=count),
    )  # fmt: skip
    print(f"stored {Message.objects.count():,} messages in {time.perf_counter() - t0:.1f} s")

    client = Client()
    client.force_login(moderator)
    last_page = (count + 99) // 100
    # The "Past 7 days" link of the date filter.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    past_week = urlencode(
        {"created_at__gte": today - timedelta(days=7), "created_at__lt": today + timedelta(days=1)}
    )
    pages = {
        "message changelist": "/admin/messaging/message/",
        "message changelist, page 10": "/admin/messaging/message/?p=10",
        "message changelist, page 500": "/admin/messaging/message/?p=500",
        f"message changelist, last page ({last_page})": f"/admin/messaging/message/?p={last_page}",
        "message changelist, hidden filter": "/admin/messaging/message/?hidden=yes",
        "message changelist, date filter (7 days)": f"/admin/messaging/message/?{past_week}",
        "message search (body)": "/admin/messaging/message/?q=number+99999",
        "conversation changelist": "/admin/messaging/conversation/",
        "conversation change page (inline)": (
            f"/admin/messaging/conversation/{conversation_id}/change/"
        ),
        "message change page": f"/admin/messaging/message/{first.pk}/change/",
        "conversation thread (newest)": f"/admin/messaging/conversation/{conversation_id}/thread/",
        "conversation thread (oldest)": (
            f"/admin/messaging/conversation/{conversation_id}/thread/?before=51"
        ),
        "message changelist, one conversation": (
            f"/admin/messaging/message/?conversation={conversation_id}"
        ),
    }
    print(f"{'page':40} {'ms':>8} {'queries':>8} status")
    for name, url in pages.items():
        client.get(url)  # warm up
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            response = client.get(url)
            ms = (time.perf_counter() - t) * 1000
        print(f"{name:40} {ms:8.0f} {len(queries):8} {response.status_code}")
        if show_queries:
            for query in queries.captured_queries:
                print(f"    {float(query['time']) * 1000:7.0f} ms  {query['sql'][:300]}")


if __name__ == "__main__":
    main()

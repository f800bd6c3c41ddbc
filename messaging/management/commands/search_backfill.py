"""`manage.py search_backfill`: give search the words of messages stored before it existed.

Messages stored since are indexed as they are sent, edited, hidden and deleted; this fills
`search_terms` of those that have none (null), in batches, and can run while the server serves:
a message changed meanwhile already has its terms and is left alone."""

from django.core.management.base import BaseCommand
from django.db import connection
from pymongo import UpdateOne

from messaging.models import Message
from messaging.search import message_terms

BATCH = 1000


class Command(BaseCommand):
    help = "Index the words of messages stored before search existed (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=BATCH)

    def handle(self, *args, batch: int, **options):
        collection = connection.get_collection(Message._meta.db_table)
        pending = {"search_terms": None}  # null or missing
        fields = {"body": 1, "system": 1, "hidden_at": 1, "deleted_at": 1}
        done = 0
        while rows := list(collection.find(pending, fields).limit(batch)):
            collection.bulk_write(
                [
                    UpdateOne(
                        {"_id": row["_id"], **pending},  # not if it was indexed meanwhile
                        {"$set": {"search_terms": _terms(row)}},
                    )
                    for row in rows
                ]
            )
            done += len(rows)
            self.stdout.write(f"indexed {done} messages")
        self.stdout.write(self.style.SUCCESS(f"done: {done} messages indexed"))


def _terms(row: dict) -> list[str]:
    if row.get("system") or row.get("hidden_at") or row.get("deleted_at"):
        return []
    return message_terms(row.get("body") or "")

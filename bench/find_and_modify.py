"""Does the embedded database still scan the collection for `findAndModify`?

    .venv/bin/python bench/find_and_modify.py [--documents 20000] [--repeat 50]

Starts its own in-memory SecantusDB, stores `--documents` conversation-like documents with a
plain index on `direct_key`, and times, alternately, pymongo's `find_one_and_update` and an
`update_one` followed by a `find_one` of the same document (what `messaging.services._bump`
does), by `_id` and by `direct_key`, outside and inside a transaction. Prints the median
milliseconds of each; a scan grows with `--documents`, an index lookup does not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bson import Int64, ObjectId  # noqa: E402
from pymongo import ASCENDING, MongoClient, ReturnDocument  # noqa: E402

from chatsite.embedded_db import EmbeddedDB  # noqa: E402

UPDATE = {"$inc": {"version": Int64(1)}}


def find_one_and_update(collection, filter_, session):
    return collection.find_one_and_update(
        filter_, UPDATE, return_document=ReturnDocument.AFTER, session=session
    )


def update_then_find(collection, filter_, session):
    if not collection.update_one(filter_, UPDATE, session=session).matched_count:
        return None
    return collection.find_one(filter_, session=session)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    db = EmbeddedDB(":memory:").start()
    try:
        run(MongoClient(db.uri), args)
    finally:
        db.stop()


def run(client: MongoClient, args: argparse.Namespace) -> None:
    collection = client["bench_find_and_modify"]["conversations"]
    ids = [ObjectId() for _ in range(args.documents)]
    collection.insert_many(
        {"_id": pk, "direct_key": f"k{n}", "version": Int64(0), "last_seq": Int64(0)}
        for n, pk in enumerate(ids)
    )
    collection.create_index([("direct_key", ASCENDING)])
    print(f"SecantusDB, {args.documents:,} documents, median of {args.repeat} runs (ms)")
    print(f"{'filter':<12} {'transaction':<12} {'find_one_and_update':>20} {'update + find':>14}")
    for name, filter_of in [
        ("_id", lambda n: {"_id": ids[n]}),
        ("direct_key", lambda n: {"direct_key": f"k{n}"}),
    ]:
        for in_transaction in (False, True):
            times: dict = {find_one_and_update: [], update_then_find: []}
            for run_number in range(args.repeat):
                n = (run_number * 7919) % args.documents
                for function in times:
                    with client.start_session() as session:
                        started = time.perf_counter()
                        if in_transaction:
                            with session.start_transaction():
                                doc = function(collection, filter_of(n), session)
                        else:
                            doc = function(collection, filter_of(n), session)
                        times[function].append((time.perf_counter() - started) * 1000)
                    assert doc is not None and doc["_id"] == ids[n]
            medians = [statistics.median(t) for t in times.values()]
            print(
                f"{name:<12} {'yes' if in_transaction else 'no':<12} "
                f"{medians[0]:>20.1f} {medians[1]:>14.1f}"
            )


if __name__ == "__main__":
    main()

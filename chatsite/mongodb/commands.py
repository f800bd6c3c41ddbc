"""Driver commands that the embedded database can't serve from an index, for code that talks to
the collections through pymongo.

`find_ids_holding_all` is one `find` with `$all`, sorted and limited by the database, on
MongoDB. SecantusDB 0.7.0b3 uses an index only for a filter made of equalities alone: `$all`, a
range or a null check beside them and it scans the collection (seconds at 100,000 messages), so
with the embedded database it is asked for the equalities and one of the values, and the rest
is checked here (it reads the whole index range whatever the limit anyway).

`find_one_and_update` is pymongo's `Collection.find_one_and_update(...,
return_document=ReturnDocument.AFTER)` wherever the stock backend runs (MongoDB). With the
embedded database (the adapter's `DatabaseWrapper`), SecantusDB 0.7.0b3 answers
`findAndModify` with a scan of the whole collection whatever the indexes, so there the same
change is sent as an indexed `update` and a `find` of the same document, inside a transaction.
`bench/find_and_modify.py` measures both ("Measurements behind the code" in
docs/benchmarks.md); `chatsite/tests/test_mongodb_commands.py` checks that both answer the
same documents and which commands each sends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from bson import ObjectId
from django.db import DEFAULT_DB_ALIAS, connections
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from chatsite.mongodb.base import DatabaseWrapper


def find_one_and_update(
    collection: Collection,
    filter: Mapping[str, Any],
    update: Mapping[str, Any],
    *,
    session: ClientSession | None = None,
    projection: Mapping[str, Any] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> dict | None:
    """Apply `update` to one document matching `filter`, atomically, and return the document
    as it is after the update (`projection` applied), or None if none matched.

    `using` names the Django database `collection` belongs to: it decides whether this is the
    embedded database. There, a `session` outside a transaction gets one for the call, so the
    update and the read stay one atomic change."""
    if not isinstance(connections[using], DatabaseWrapper):
        return collection.find_one_and_update(
            filter,
            update,
            projection=projection,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
    with _transaction(collection, session) as session:
        pk = filter.get("_id")
        if pk is None or isinstance(pk, Mapping):
            found = collection.find_one(filter, {"_id": 1}, session=session)
            if found is None:
                return None
            pk = found["_id"]
            # The same document, by the index. `_id` never changes, so this replaces the
            # filter's condition on it exactly; its other conditions are checked again.
            filter = {**filter, "_id": pk}
        if not collection.update_one(filter, update, session=session).matched_count:
            return None
        # By `_id`: the update may have changed the fields `filter` matched on.
        return collection.find_one({"_id": pk}, projection, session=session)


@contextlib.contextmanager
def _transaction(collection: Collection, session: ClientSession | None) -> Iterator:
    if session is not None and session.in_transaction:
        yield session
        return
    with contextlib.ExitStack() as stack:
        if session is None:
            session = stack.enter_context(collection.database.client.start_session())
        stack.enter_context(session.start_transaction())
        yield session


def find_ids_holding_all(
    collection: Collection,
    *,
    field: str,
    values: list,
    equal: Mapping[str, Any],
    below: ObjectId | None = None,
    limit: int,
    using: str = DEFAULT_DB_ALIAS,
) -> list[ObjectId]:
    """Ids of the documents that match `equal` and whose array `field` holds every one of
    `values`, with an `_id` below `below` if given: the highest `_id`s first, at most `limit`.
    An index on (`field`, the fields of `equal`, ...) serves it on both databases."""
    if not isinstance(connections[using], DatabaseWrapper):
        filter_ = {**equal, field: {"$all": values}}
        if below is not None:
            filter_["_id"] = {"$lt": below}
        rows = collection.find(filter_, {"_id": 1}, sort=[("_id", -1)], limit=limit)
        return [row["_id"] for row in rows]
    # The longest value is likely the rarest: the fewest index entries to read.
    first = max(values, key=len)
    rest = set(values) - {first}
    rows = collection.find({field: first, **equal}, {"_id": 1, field: 1})
    ids = [
        row["_id"]
        for row in rows
        if (below is None or row["_id"] < below) and rest <= set(row.get(field) or ())
    ]
    return sorted(ids, reverse=True)[:limit]

"""Driver commands that the embedded database can't serve from an index, for code that talks to
the collections through pymongo.

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

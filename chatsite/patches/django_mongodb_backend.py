"""django-mongodb-backend (written against 5.2.4): the ORM joins a transaction the caller runs.

The backend's public API, `django_mongodb_backend.transaction.atomic()`, can't be used for the
messaging services' transactions in 5.2.4:

- Inside Django's own `atomic()`, which the admin wraps every add and change view in, its commit
  ends in Django's `run_and_clear_commit_hooks()`, which raises `TransactionManagementError`
  after the data is committed; `atomic()` then drops the `on_commit` callbacks, so a message
  posted from the admin was stored, never delivered, and the page answered 500.
- When the commit itself fails with a driver error (the database gone), the connection keeps its
  session, and the next `atomic()` on that thread starts no transaction (a session is already
  set): its writes would run outside any transaction.

`orm_in_transaction(session)` makes this thread's connection run its ORM queries in the
caller's pymongo session and collects the `on_commit` callbacks registered meanwhile, through the
three attributes the backend's own `atomic()` uses. The contract tests
(`chatsite/tests/test_patches.py`) check that the ORM still joins the session that way and that
both problems above still exist: when one is fixed upstream, the test says to use the public API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection


def in_transaction() -> bool:
    """Whether this thread's ORM queries run in a transaction now."""
    return connection.in_atomic_block_mongo


def current_session():
    """The pymongo session of the transaction this thread's ORM queries run in (None outside
    one): driver calls pass it as `session=` to take part in the same transaction."""
    return connection.session


@contextlib.contextmanager
def orm_in_transaction(session) -> Iterator[list]:
    """Run this thread's ORM queries in `session` (a pymongo session with a transaction started)
    for the duration of the block. Yields a list that, once the block ends, holds the
    `on_commit` callbacks registered in it, as `(savepoint_ids, callback, robust)`, for the
    caller to run after it commits; none of them has run."""
    callbacks: list = []
    connection.session = session
    connection.in_atomic_block_mongo = True
    connection.run_on_commit = []
    try:
        yield callbacks
    finally:
        callbacks[:] = connection.run_on_commit
        connection.run_on_commit = []
        connection.in_atomic_block_mongo = False
        connection.session = None

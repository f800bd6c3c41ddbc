"""Multi-document transactions for the messaging services.

pymongo's `ClientSession.with_transaction` retries the whole callback on transient errors (write
conflicts between concurrent sends) and retries the commit when its outcome is unknown; the ORM
calls made inside the callback run in the transaction because django-mongodb-backend reads the
session from `connection.session`. `on_commit` callbacks registered by the last attempt run after
the commit, never for an attempt that was rolled back.

When the database is unreachable the transaction fails at once with `DatabaseUnavailable`
(503) instead of being retried: pymongo's `with_transaction` would retry it, and a commit whose
outcome is unknown, for two minutes while the request waits and holds the conversation's lock.
The caller learns nothing about a commit cut off that way; a retry with the same `clientMsgId`
returns the stored message or stores it. (No client-side timeout cuts a transaction short:
cut off mid-way it could stay open on the server and block the conversation's later writes.)

Transactions need a replica set (SecantusDB advertises itself as one; production MongoDB must
be a replica set or a sharded cluster)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from django.db import connection
from django.db.backends.utils import logger
from pymongo.errors import ConnectionFailure

from chatsite.errors import DatabaseUnavailable

T = TypeVar("T")

_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


def _lock_for(key: str) -> threading.Lock:
    # Writers of one conversation in this process take turns, so they don't make each other
    # retry on write conflicts; across processes the database's conflict detection decides.
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = threading.Lock()
            _locks[key] = lock
        return lock


def run_in_transaction(fn: Callable[[], T], *, lock_key: str) -> T:
    if connection.in_atomic_block_mongo:
        return fn()  # already inside a transaction: join it
    connection.ensure_connection()
    hooks: list = []

    def attempt(session) -> T:
        connection.session = session
        connection.in_atomic_block_mongo = True
        connection.run_on_commit = []
        try:
            result = fn()
            # Committed here, not by with_transaction, which retries an unknown commit result.
            session.commit_transaction()
            return result
        except ConnectionFailure as error:
            raise DatabaseUnavailable() from error
        finally:
            hooks[:] = connection.run_on_commit
            connection.run_on_commit = []
            connection.in_atomic_block_mongo = False
            connection.session = None

    with _lock_for(lock_key), connection.connection.start_session() as session:
        result = session.with_transaction(attempt)
    for _sids, func, robust in hooks:
        if robust:
            try:
                func()
            except Exception:
                logger.exception("on_commit callback %s failed", func)
        else:
            func()
    return result

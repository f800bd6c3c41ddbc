"""Multi-document transactions for the messaging services: `run_in_transaction(fn, lock_key=...)`.

`fn` runs in a MongoDB transaction that its ORM and driver calls join (`current_session()`, see
`chatsite.patches.django_mongodb_backend` for why not the backend's `atomic()`), then the
transaction commits and the `on_commit` callbacks `fn` registered run, as with Django's
`atomic()`; an attempt that fails is aborted and its callbacks never run.

- A transient error (a write conflict with another process's transaction on the same document)
  runs `fn` again after a short random pause, for as long as the database may take to answer
  (`MONGODB_TIMEOUT_MS`), then `DatabaseUnavailable`.
- The database unreachable: `DatabaseUnavailable` (503) at once, never a retry. A commit whose
  outcome is unknown is not retried either: the caller learns nothing, and a retry with the same
  `clientMsgId` returns the stored message or stores it.
- Within one process, writers of one conversation take turns (`lock_key`, one per conversation),
  so they never make each other retry; across processes the database's conflict detection
  decides.
- At most `CHAT["MAX_TRANSACTIONS"]` transactions of a process run at once (`TransactionTurns`).

Transactions need a replica set (SecantusDB advertises itself as one; production MongoDB must be
a replica set or a sharded cluster)."""

from __future__ import annotations

import collections
import os
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import connection
from django.db.backends.utils import logger
from pymongo.errors import ConnectionFailure, PyMongoError

from chatsite.errors import DatabaseUnavailable
from chatsite.patches.django_mongodb_backend import in_transaction, orm_in_transaction

T = TypeVar("T")

# The longest pause before a transaction that conflicted with another is tried again.
RETRY_PAUSE_SECONDS = 0.01


class TransactionTurns:
    """Who of this process may run a transaction now: one writer per conversation at a time,
    and at most `limit` transactions at once, granted in order of arrival (a plain semaphore lets
    a newcomer take a freed place ahead of those already waiting).

    The limit exists for the embedded database: with dozens of concurrent transactions it
    answered every statement slowly for seconds at a time, and it stored more sends per second
    with four at once (docs/benchmarks.md, "Measurements behind the code"). Four keep any
    database busy: a send's transaction is a few milliseconds of database work, and the
    process's own CPU runs out first."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._inside = 0
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._writers: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )

    def writer_lock(self, key: str) -> threading.Lock:
        with self._lock:
            lock = self._writers.get(key)
            if lock is None:
                lock = self._writers[key] = threading.Lock()
            return lock

    def acquire(self, timeout: float | None = None) -> bool:
        with self._lock:
            if self._inside < self.limit and not self._waiting:
                self._inside += 1
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True  # a leaving holder handed its place over
        with self._lock:
            if turn.is_set():  # handed over just as the wait timed out
                return True
            self._waiting.remove(turn)
            return False

    @property
    def waiting(self) -> int:
        """How many are waiting for a place now."""
        with self._lock:
            return len(self._waiting)

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the place passes on; the count stays
            else:
                self._inside -= 1


_turns: TransactionTurns | None = None


def transaction_turns() -> TransactionTurns:
    global _turns
    limit = settings.CHAT["MAX_TRANSACTIONS"]
    if _turns is None or _turns.limit != limit:
        _turns = TransactionTurns(limit)
    return _turns


def turn_timeout() -> float:
    """How long a transaction waits for its turn: as long as for an unreachable database."""
    options = settings.DATABASES["default"].get("OPTIONS", {})
    return options.get("serverSelectionTimeoutMS", 5000) / 1000


def run_in_transaction(fn: Callable[[], T], *, lock_key: str) -> T:
    if in_transaction():
        return fn()  # already inside a transaction: join it
    turns = transaction_turns()
    with turns.writer_lock(lock_key):
        if not turns.acquire(timeout=turn_timeout()):
            raise DatabaseUnavailable()
        try:
            result, callbacks = _attempt_until_committed(fn)
        finally:
            turns.release()
    if settings.FAULT_AFTER_COMMIT == "exit":
        os._exit(70)  # a fault drill: committed, and nothing announced (settings.FAULT_HOOKS)
    for _savepoints, callback, robust in callbacks:
        if robust:
            try:
                callback()
            except Exception:
                logger.exception("on_commit callback %s failed", callback)
        else:
            callback()
    return result


def _attempt_until_committed(fn: Callable[[], T]) -> tuple[T, list]:
    connection.ensure_connection()
    give_up_at = time.monotonic() + turn_timeout()
    while True:
        try:
            # Leaving the session's block aborts a transaction that did not commit.
            with connection.connection.start_session() as session:
                session.start_transaction()
                with orm_in_transaction(session) as callbacks:
                    result = fn()
                    session.commit_transaction()
                return result, callbacks
        except ConnectionFailure as error:
            raise DatabaseUnavailable() from error
        except PyMongoError as error:
            if not error.has_error_label("TransientTransactionError"):
                raise
            if time.monotonic() >= give_up_at:
                raise DatabaseUnavailable() from error
            # Writers of other processes conflicting on the same conversation: let them pass.
            time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS))

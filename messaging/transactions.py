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

At most `CHAT["MAX_TRANSACTIONS"]` (`MONGODB_MAX_TRANSACTIONS`, default 4) transactions of one
process run at once; the others wait their turn, in order of arrival, for up to
`MONGODB_TIMEOUT_MS` (then `DatabaseUnavailable`). Four keep the database busy: a send's
transaction is a few milliseconds of database work, and a process's own CPU runs out first.
More at once only made the embedded database slower: with many concurrent send transactions
it answered every statement slowly for seconds at a time (its threads queued on the lock of
its transaction registry, which every statement takes and which is held while the registry
goes through all transactions); with four at once it did not, and it stored more sends per
second (measured: docs/benchmarks.md, "Measurements behind the code").

Transactions need a replica set (SecantusDB advertises itself as one; production MongoDB must
be a replica set or a sharded cluster)."""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
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


class FairGate:
    """At most `limit` holders at once; waiters get in in the order they arrived (a plain
    semaphore lets a newcomer take a freed place ahead of those already waiting)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._inside = 0
        self._waiting: collections.deque[threading.Event] = collections.deque()

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

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the place passes on; the count stays
            else:
                self._inside -= 1


_gate: FairGate | None = None


def _transaction_gate() -> FairGate:
    global _gate
    limit = settings.CHAT["MAX_TRANSACTIONS"]
    if _gate is None or _gate.limit != limit:
        _gate = FairGate(limit)
    return _gate


def _turn_timeout() -> float:
    """How long a transaction waits for its turn: as long as for an unreachable database."""
    options = settings.DATABASES["default"].get("OPTIONS", {})
    return options.get("serverSelectionTimeoutMS", 5000) / 1000


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

    gate = _transaction_gate()
    with _lock_for(lock_key):
        if not gate.acquire(timeout=_turn_timeout()):
            raise DatabaseUnavailable()
        try:
            with connection.connection.start_session() as session:
                result = session.with_transaction(attempt)
        finally:
            gate.release()
    for _sids, func, robust in hooks:
        if robust:
            try:
                func()
            except Exception:
                logger.exception("on_commit callback %s failed", func)
        else:
            func()
    return result

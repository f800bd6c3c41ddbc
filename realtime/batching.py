"""One database read for many socket connects in flight at once.

A connect reads whether its user is active and its login session live, and its user's
contacts: small indexed reads whose round trip costs the serving process more CPU than the
answer (measured: docs/benchmarks.md, "Profile of a connect"). In a connect storm hundreds of
connects ask at the same time; `Batcher` answers all that are waiting with one read.

Nothing is remembered: each question is answered by a read that starts after it was asked, so
an answer is as fresh as a read of its own (a deactivation committed before the connect asked is
seen). There is no timer either: the first question is read at once; the questions asked while
a read is in flight wait for it to end and then go together in the next read, so an idle server
answers as fast as before and a busy one makes fewer, larger reads.

Works under every async mode: `threading` primitives are green under eventlet and gevent (the
process is monkey-patched) and real in the ASGI mode's worker threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

# At most this many questions per read: the embedded database answers an `$in` in a time that
# grows with the square of its length (see `accounts.selectors.user_ids_active`).
LIMIT = 100


class _Question:
    __slots__ = ("answer", "asked", "error", "key", "lead", "ready")

    def __init__(self, key: Hashable):
        self.key = key
        self.ready = threading.Event()
        self.lead = False  # woken to read for the questions waiting, not with an answer
        self.answer: Any = None
        self.error: BaseException | None = None


class Batcher:
    """`ask(key)` → `read([keys])[key]`, with the keys of concurrent callers read together."""

    def __init__(self, read: Callable[[list], dict], *, limit: int = LIMIT, default=None):
        self.read = read
        self.limit = limit
        self.default = default  # the answer for a key `read` leaves out
        self.lock = threading.Lock()
        self.waiting: list[_Question] = []
        self.reading = False
        self.reads = 0  # how many reads so far (for tests and measurements)

    def ask(self, key: Hashable):
        question = _Question(key)
        with self.lock:
            self.waiting.append(question)
            lead = not self.reading
            self.reading = True
        if not lead:
            question.ready.wait()
            if question.lead:  # the previous reader handed over: read for the waiting ones
                self._lead()  # this question is the first of them
        else:
            self._lead()
        if question.error is not None:
            raise question.error
        return question.answer

    def _lead(self) -> None:
        """Read for the questions waiting now (this caller's first among them), answer them,
        then hand the next read to the first question asked meanwhile."""
        with self.lock:
            batch, self.waiting = self.waiting[: self.limit], self.waiting[self.limit :]
        try:
            answers = self.read([q.key for q in batch])
            for question in batch:
                question.answer = answers.get(question.key, self.default)
        except Exception as error:  # every caller of the batch gets the failure
            for question in batch:
                question.error = error
        except BaseException:  # this caller was killed mid-read: the others fail, not hang
            for question in batch:
                question.error = RuntimeError("the read for this batch was interrupted")
            raise
        finally:
            with self.lock:
                self.reads += 1
                nxt = self.waiting[0] if self.waiting else None
                if nxt is None:
                    self.reading = False
                else:
                    nxt.lead = True
            for question in batch:
                question.ready.set()
            if nxt is not None:
                nxt.ready.set()


def answers_for(keys: Iterable, found: Iterable) -> dict:
    """`{key: key in found}` for each key: a `read` for yes/no questions."""
    found = set(found)
    return {key: key in found for key in keys}

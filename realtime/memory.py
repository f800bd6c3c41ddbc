"""Garbage collection and memory of a serving process that holds thousands of sockets.

Each socket brings Python objects that live as long as it does (Engine.IO's socket, its
green threads, queues, timers, rooms), and CPython's cyclic collector walks every object it
tracks: with the default thresholds, a storm of sockets connecting at once triggered full
collection after full collection of every live object, with long pauses while every socket
waited. `tune()` collects less often and leaves the start-up objects out;
`Reclaimer` leaves the connected sockets' objects out too and gives memory back once most
sockets have left (measured: docs/benchmarks.md, "Measurements behind the code", and
scenarios S2, S4 and L)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time

logger = logging.getLogger(__name__)

# Young collections a little less often than CPython's default (700): each request leaves
# objects in reference cycles (Django's request and messages storage, DRF's view, request,
# response and serializers), which only a collection frees, so a young collection's pause grows
# with its threshold (measured: docs/benchmarks.md, "Measurements behind the code"). The
# full collection, whose pause grows with every live socket that is not frozen yet, comes
# after 1,000 x 10 x 100 = a million new objects, not every 70,000.
THRESHOLDS = (1_000, 10, 100)


def tune() -> None:
    """Call once, when the process has loaded everything it serves with."""
    gc.collect()
    gc.freeze()  # Django, DRF and the rest are never garbage
    gc.set_threshold(*THRESHOLDS)


def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc
        return None


# How often the serving process counts its sockets for the Reclaimer.
CHECK_SECONDS = 5


class Reclaimer:
    """Keeps the cyclic collector's pauses short while thousands of sockets stay connected, and
    gives memory back once most of them have left. Called every CHECK_SECONDS with the number
    of sockets; returns what it did ("frozen", "reclaimed", "reclaimed again",
    "refreshed") or None.

    - Once at least `min_joined` sockets have arrived since the last freeze and they have
      stopped arriving, everything alive is frozen (`gc.freeze()`, no pause): full collections
      then walk only what is newer, instead of every connected socket's objects (a full
      collection with thousands of sockets paused the whole process; measured:
      docs/benchmarks.md, "Measurements behind the code").
    - Once at least half of the sockets, and at least `min_left` of them, are gone and they
      have stopped leaving, everything is unfrozen and collected at once, the freed heap is
      handed back to the operating system (glibc keeps it otherwise) and the survivors are
      frozen again. The pause is proportional to what is still alive, hence the waiting.
    - Frozen objects are never collected, so garbage cycles left by sockets that came and went
      one by one would stay: `refresh_seconds` after a freeze, while sockets are connected, the
      same unfreeze, collect and freeze runs anyway (one full pause every ten minutes at most).
    - What the departed sockets leave behind after that collection (green threads finishing,
      pending timers) would wait for the next full collection, which a quiet process may not
      run for hours: `again_seconds` after a reclaim, it collects and trims once more."""

    def __init__(
        self,
        min_left: int = 500,
        min_joined: int = 500,
        refresh_seconds: float = 600.0,
        again_seconds: float = 30.0,
        clock=time.monotonic,
    ):
        self.min_left = min_left
        self.min_joined = min_joined
        self.refresh_seconds = refresh_seconds
        self.again_seconds = again_seconds
        self.again_at: float | None = None  # when to collect once more after a reclaim
        self.clock = clock
        self.peak = 0
        self.last = 0
        self.frozen_with = 0  # sockets connected at the last freeze
        self.frozen_at: float | None = None  # when objects were first frozen since a collection
        self.trim = _malloc_trim()

    def check(self, sockets: int) -> str | None:
        previous, self.last = self.last, sockets
        self.peak = max(self.peak, sockets)
        gone = self.peak - sockets
        if sockets >= previous and gone >= self.min_left and sockets <= self.peak // 2:
            self._collect()
            logger.info("reclaimed memory: %d sockets of %d left", gone, self.peak)
            self.peak = sockets
            self.again_at = self.clock() + self.again_seconds
            return "reclaimed"
        if self.again_at is not None and self.clock() >= self.again_at:
            self.again_at = None
            if sockets - self.frozen_with < self.min_joined:  # not in the middle of a new storm
                self._collect()
                return "reclaimed again"
        if sockets <= previous and sockets - self.frozen_with >= self.min_joined:
            gc.freeze()
            self.frozen_with = sockets
            if self.frozen_at is None:
                self.frozen_at = self.clock()
            return "frozen"
        if self.frozen_at is not None and self.clock() - self.frozen_at >= self.refresh_seconds:
            self._collect()
            return "refreshed"
        return None

    def _collect(self) -> None:
        gc.unfreeze()
        unreachable = gc.collect()
        if self.trim is not None:
            self.trim(0)
        gc.freeze()  # the sockets still here: their objects are frozen again
        self.frozen_with = self.last
        self.frozen_at = self.clock() if self.last else None
        logger.debug("%d unreachable objects collected", unreachable)

"""Garbage collection and memory of a serving process that holds thousands of sockets.

Each socket is about 170 Python objects that live as long as it does (Engine.IO's socket, its
green threads, queues, timers, rooms), and CPython's cyclic collector walks every object it
tracks: with the default thresholds, 5,000 sockets connecting at once triggered 17 full
collections of up to a million objects each (8 s of CPU, pauses up to 3 s, every socket
waiting). `tune()` collects less often and leaves the start-up objects out; `Reclaimer` gives
memory back once most sockets have left (measured in docs/benchmarks.md, scenarios S4 and L)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

logger = logging.getLogger(__name__)

# A young collection every 20,000 new objects instead of 700: its pause stays around 10 ms,
# and the full collection (whose pause grows with every live socket) comes after at least
# a million new objects rather than every 70,000.
THRESHOLDS = (20_000, 5, 10)


def tune() -> None:
    """Call once, when the process has loaded everything it serves with."""
    gc.collect()
    gc.freeze()  # Django, DRF and the rest (~130,000 objects) are never garbage
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
    """After most sockets have left, collect their garbage at once and hand the freed heap
    back to the operating system (glibc keeps it otherwise). Called every CHECK_SECONDS with
    the number of sockets; collecting costs a pause proportional to what is still alive, so it
    waits until at least half of the sockets, and at least `min_left` of them, are gone, and
    until they have stopped leaving (not in the middle of a disconnect storm)."""

    def __init__(self, min_left: int = 500):
        self.min_left = min_left
        self.peak = 0
        self.last = 0
        self.trim = _malloc_trim()

    def check(self, sockets: int) -> bool:
        leaving, self.last = sockets < self.last, sockets
        self.peak = max(self.peak, sockets)
        if leaving or self.peak - sockets < self.min_left or sockets > self.peak // 2:
            return False
        unreachable = gc.collect()
        if self.trim is not None:
            self.trim(0)
        logger.info("reclaimed memory: %d sockets of %d left", self.peak - sockets, self.peak)
        logger.debug("%d unreachable objects collected", unreachable)
        self.peak = sockets
        return True

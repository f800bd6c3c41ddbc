"""Password hashing that does not stop a serving process's other work.

Under eventlet or gevent every request and socket of the process shares one OS thread, and
Django's PBKDF2, slow on purpose, holds it for the whole hash at every login or signup: every
socket of the process waited that long for each one (measured: docs/benchmarks.md,
"Measurements behind the code"). The hash itself is computed by OpenSSL without the GIL, so
it runs in the green-thread library's pool of OS threads instead, while the process goes on
serving. Same algorithm and same stored hashes as Django's hasher; in ASGI and threading
mode the views already run in threads and the hash is computed in place."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.hashers import PBKDF2PasswordHasher as DjangoPBKDF2PasswordHasher

T = TypeVar("T")


def off_the_event_loop(fn: Callable[..., T], *args) -> T:
    """`fn(*args)` in an OS thread of eventlet's or gevent's pool when this process is
    monkey-patched by one of them; in place otherwise. For work that releases the GIL."""
    eventlet = sys.modules.get("eventlet.patcher")
    if eventlet is not None and eventlet.is_monkey_patched("socket"):
        from eventlet import tpool

        return tpool.execute(fn, *args)
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)


class PBKDF2PasswordHasher(DjangoPBKDF2PasswordHasher):
    """Django's `pbkdf2_sha256`, computed off the event loop (see the module)."""

    def encode(self, password, salt, iterations=None):
        return off_the_event_loop(super().encode, password, salt, iterations)

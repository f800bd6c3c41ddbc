"""Fixed-window rate limits kept in Django's cache (Redis when REDIS_URL is set, so every
process shares the count). Used by the REST throttles and the Socket.IO event handlers."""

from __future__ import annotations

import logging
import re
import time

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
          "hour": 3600, "d": 86400, "day": 86400}  # fmt: skip
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/10s' → (60, 10); '10/minute' → (10, 60)."""
    match = _RATE.match(rate or "")
    if not match or match.group(3) not in _UNITS:
        raise ImproperlyConfigured(f"Bad rate {rate!r}: use e.g. '10/minute' or '60/10s'")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _UNITS[unit]


def hit(scope: str, ident: str, rate: str) -> float:
    """Count one event; return 0 if allowed, else the seconds until the window resets.

    When the cache is unreachable (Redis down) the event is allowed and a warning logged: a
    rate limit must not turn every request into a server error."""
    limit, period = parse_rate(rate)
    now = time.time()
    window = int(now // period)
    key = f"ratelimit:{scope}:{ident}:{window}"
    try:
        count = _count(key, period)
    except Exception as error:
        logger.warning("rate limit %s not applied, the cache is unavailable: %r", scope, error)
        return 0.0
    if count <= limit:
        return 0.0
    return (window + 1) * period - now


def _count(key: str, period: int) -> int:
    cache.add(key, 0, timeout=period + 1)
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between add() and incr()
        cache.add(key, 1, timeout=period + 1)
        return 1


class ScopedRateThrottle(BaseThrottle):
    """DRF throttle over `hit()`. Subclasses name the scope and the `CHAT` setting with the rate.

    By default the client address is the identity; `per_user = True` counts per account."""

    scope = ""
    rate_setting = ""
    per_user = False

    def allow_request(self, request, view):
        from django.conf import settings

        if self.per_user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        self.wait_seconds = hit(self.scope, ident, settings.CHAT[self.rate_setting])
        return self.wait_seconds == 0

    def wait(self):
        return self.wait_seconds

"""News between serving processes on Redis channels: ended sessions (`realtime.revocations`)
and presence news for the `getOnlineUsers` lists (`realtime.online_lists`).

Each serving process holds one subscription for every channel (`listen`, a background task)
and publishes on one pooled connection. A process skips its own news: it has acted on it
already. After a Redis outage the listener subscribes again and tells each channel's
`on_resubscribe`, since whatever was published meanwhile was lost."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)
# This process.
NODE = uuid.uuid4().hex


@dataclasses.dataclass
class _Channel:
    act: Callable[[dict], None]
    on_resubscribe: Callable[[], None] | None


_channels: dict[str, _Channel] = {}
_publisher = None


def handle(channel: str, act: Callable[[dict], None], on_resubscribe=None) -> None:
    """Call `act(news)` for each news of other processes on `channel` (registered before
    `listen` starts)."""
    _channels[channel] = _Channel(act, on_resubscribe)


def publish(channel: str, news: dict) -> None:
    """One PUBLISH, when several processes share Redis; a failure is logged, never raised (the
    news is a shortcut: every receiver has a slower way to catch up)."""
    global _publisher
    if not settings.REDIS_URL:
        return
    try:
        if _publisher is None:
            _publisher = _redis(timeout=2)
        _publisher.publish(channel, json.dumps({**news, "node": NODE}))
    except Exception:
        logger.warning("could not publish on %s through Redis", channel)


def listen(sleep: Callable[[float], None]) -> None:
    """Hear the registered channels for as long as the process serves; `sleep` is the async
    mode's (eventlet, gevent, or a thread's)."""
    first = True
    while True:
        pubsub = None
        try:
            pubsub = _redis(timeout=None).pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(*_channels)
            if not first:
                _resubscribed()
            first = False
            while True:
                message = pubsub.get_message(timeout=5.0)
                if message is not None:
                    _act_on(message["channel"], message["data"])
        except Exception:
            logger.warning("not hearing other processes: Redis unavailable; retrying in 1 s")
            sleep(1)
        finally:
            if pubsub is not None:
                try:
                    pubsub.close()
                except Exception:
                    logger.debug("closing a broken subscription failed", exc_info=True)


def _act_on(raw_channel: bytes, data: bytes) -> None:
    channel = raw_channel.decode() if isinstance(raw_channel, bytes) else raw_channel
    target = _channels.get(channel)
    try:
        news = json.loads(data)
        if not isinstance(news, dict) or target is None or news.get("node") == NODE:
            return
        target.act(news)
    except (ValueError, KeyError, TypeError):
        logger.warning("ignored a malformed message on %s", channel)
    except Exception:
        # A bug in one handler must not cost the subscription.
        logger.exception("acting on news from %s failed", channel)


def _resubscribed() -> None:
    for channel, target in _channels.items():
        if target.on_resubscribe is not None:
            try:
                target.on_resubscribe()
            except Exception:
                logger.exception("catching up on %s failed", channel)


def _redis(timeout: float | None):
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=2
    )

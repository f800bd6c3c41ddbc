"""Ended login sessions reach every serving process at once.

When a session ends (logout, a reused refresh token) or a user is deactivated, the process
where it happened closes its own affected sockets and publishes the news on a Redis channel;
every other serving process listens on that channel and closes its own. A process that only
emits (a management command, a separate admin process) just publishes. The periodic recheck
(`ChatNamespace.watch_sessions`) stays as the backstop for a missed message (Redis down)."""

from __future__ import annotations

import json
import logging
import uuid

from django.conf import settings

from realtime import server

logger = logging.getLogger(__name__)
CHANNEL = "chat:sessions-ended"
# This process, so that it skips its own announcements (it has acted on them already).
NODE = uuid.uuid4().hex


def announce(*, user_id: str, session_id: str | None, reason: str) -> None:
    """Close the sockets of `user_id` (of that login session only, if `session_id` is given)
    on every serving process."""
    namespace = server.current_namespace()
    if namespace is not None:
        namespace.end_sessions(user_id=user_id, session_id=session_id, reason=reason)
    if not settings.REDIS_URL:
        return
    news = {"node": NODE, "user": user_id, "session": session_id, "reason": reason}
    try:
        with _redis(timeout=2) as client:
            client.publish(CHANNEL, json.dumps(news))
    except Exception:
        logger.warning(
            "could not announce an ended session through Redis; other processes close its "
            "sockets at their next recheck"
        )


def listen(namespace) -> None:
    """Close this process's sockets of the sessions other processes announce (a background
    task of each serving process; it resubscribes after a Redis outage)."""
    while True:
        try:
            pubsub = _redis(timeout=None).pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            while True:
                message = pubsub.get_message(timeout=5.0)
                if message is not None:
                    _act_on(namespace, message["data"])
        except Exception:
            logger.warning("not hearing ended sessions: Redis unavailable; retrying in 1 s")
            namespace.sio.sleep(1)


def _act_on(namespace, data: bytes) -> None:
    try:
        news = json.loads(data)
        if news["node"] == NODE:
            return
        user_id, session_id, reason = news["user"], news["session"], news["reason"]
    except (ValueError, KeyError, TypeError):
        logger.warning("ignored a malformed message on %s", CHANNEL)
        return
    namespace.end_sessions(user_id=user_id, session_id=session_id, reason=reason)


def _redis(timeout: float | None):
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=2
    )

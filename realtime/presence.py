"""Who is online: sockets are counted per user, so closing one tab keeps a user online and
closing the last one takes them offline.

Each process counts its own sockets. With `REDIS_URL` set, each process also keeps its counts
in a Redis hash that expires unless the process refreshes it, so the online list is the union
over live processes and a crashed process's users go offline when its hash expires."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter

from django.conf import settings

from realtime import server

logger = logging.getLogger(__name__)
NODES_KEY = "chat:presence:nodes"


class Presence:
    def __init__(self, redis_url: str = "", ttl: int = 60):
        self.local: Counter[str] = Counter()
        self.node = uuid.uuid4().hex
        self.ttl = ttl
        self.lock = threading.Lock()
        self.redis = None
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    @property
    def _key(self) -> str:
        return f"chat:presence:node:{self.node}"

    def add(self, user_id: str) -> bool:
        """Count a socket; True if the user was offline everywhere before it."""
        with self.lock:
            self.local[user_id] += 1
            first_here = self.local[user_id] == 1
        if not self.redis:
            return first_here
        try:
            elsewhere = first_here and self._online_elsewhere(user_id)
            pipe = self.redis.pipeline()
            pipe.hincrby(self._key, user_id, 1)
            pipe.expire(self._key, self.ttl)
            pipe.sadd(NODES_KEY, self.node)
            pipe.execute()
            return first_here and not elsewhere
        except Exception:
            logger.exception("presence: Redis unavailable")
            return first_here

    def remove(self, user_id: str) -> bool:
        """Uncount a socket; True if the user is now offline everywhere."""
        with self.lock:
            self.local[user_id] -= 1
            last_here = self.local[user_id] <= 0
            if last_here:
                del self.local[user_id]
        if not self.redis:
            return last_here
        try:
            if last_here:
                self.redis.hdel(self._key, user_id)
            else:
                self.redis.hincrby(self._key, user_id, -1)
            return last_here and not self._online_elsewhere(user_id)
        except Exception:
            logger.exception("presence: Redis unavailable")
            return last_here

    def online_users(self) -> list[str]:
        online = set(self.local)
        if self.redis:
            try:
                for node in self._live_nodes():
                    online.update(
                        k.decode() for k in self.redis.hkeys(f"chat:presence:node:{node}")
                    )
            except Exception:
                logger.exception("presence: Redis unavailable")
        return sorted(online)

    def online_among(self, user_ids) -> list[str]:
        """Which of these users are online: one Redis round trip per other live process,
        however many ids."""
        ids = sorted(set(user_ids))
        online = {user_id for user_id in ids if user_id in self.local}
        if self.redis and ids:
            try:
                for node in self._live_nodes():
                    if node != self.node:
                        found = self.redis.hmget(f"chat:presence:node:{node}", ids)
                        online.update(u for u, count in zip(ids, found, strict=True) if count)
            except Exception:
                logger.exception("presence: Redis unavailable")
        return sorted(online)

    def is_online(self, user_id: str) -> bool:
        return user_id in self.local or (self.redis is not None and self._online_elsewhere(user_id))

    def refresh(self) -> None:
        """Keep this process's hash alive (called periodically)."""
        if not self.redis:
            return
        try:
            with self.lock:
                counts = dict(self.local)
            pipe = self.redis.pipeline()
            pipe.delete(self._key)
            if counts:
                pipe.hset(self._key, mapping=counts)
                pipe.expire(self._key, self.ttl)
            pipe.sadd(NODES_KEY, self.node)
            pipe.execute()
        except Exception:
            logger.exception("presence: Redis unavailable")

    def shutdown(self) -> None:
        if self.redis:
            try:
                self.redis.delete(self._key)
                self.redis.srem(NODES_KEY, self.node)
            except Exception:
                logger.exception("presence: Redis unavailable")

    def _live_nodes(self) -> list[str]:
        nodes = [n.decode() for n in self.redis.smembers(NODES_KEY)]
        live = []
        for node in nodes:
            if node == self.node or self.redis.exists(f"chat:presence:node:{node}"):
                live.append(node)
            else:
                self.redis.srem(NODES_KEY, node)  # that process stopped or died
        return live

    def _online_elsewhere(self, user_id: str) -> bool:
        for node in self._live_nodes():
            if node != self.node and self.redis.hexists(f"chat:presence:node:{node}", user_id):
                return True
        return False


def build() -> Presence:
    return Presence(settings.REDIS_URL, settings.REALTIME["PRESENCE_TTL_SECONDS"])


def to_everyone() -> bool:
    """Whether every socket hears every change (`REALTIME_PRESENCE_FANOUT=everyone`, or the
    legacy broadcast), rather than the user's contacts and watchers."""
    realtime = settings.REALTIME
    return realtime["PRESENCE_FANOUT"] == "everyone" or realtime["LEGACY_PRESENCE_BROADCAST"]


_readonly: Presence | None = None


def current() -> Presence | None:
    """Who is online, as this process can tell: the serving process's counts (with Redis,
    the union over every process); in a process that serves no sockets, the Redis counts
    alone, or None without Redis (then no process has sockets this one could reach)."""
    namespace = server.current_namespace()
    if namespace is not None:
        return namespace.presence
    global _readonly
    if _readonly is None and settings.REDIS_URL:
        _readonly = build()
    return _readonly

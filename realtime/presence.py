"""Who is online: sockets are counted per user, so closing one tab keeps a user online and
closing the last one takes them offline.

Each process counts its own sockets. With `REDIS_URL` set, each process also keeps its counts
in a Redis hash that expires unless the process refreshes it, so the online list is the union
over live processes, and a heartbeat: the processes that stay notice one that died (no beat
within REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS), one of them takes its hash (`reap`) and
announces offline those of its users who are online nowhere else."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter

from django.conf import settings

from realtime import server

logger = logging.getLogger(__name__)
NODES_KEY = "chat:presence:nodes"
# Sorted set: each live process → the Redis server's time of its last beat (one clock for all).
BEATS_KEY = "chat:presence:beats"

# KEYS: beats, this node's mark of having been taken for dead; ARGV: this node, seconds of
# silence after which a node is dead. Answers whether survivors took this node for dead since
# its last beat, and the nodes silent for longer than that.
BEAT_SCRIPT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZADD', KEYS[1], t, ARGV[1])
local reaped = redis.call('DEL', KEYS[2])
local silent = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t - tonumber(ARGV[2]))
return {reaped, silent}
"""
# KEYS: beats, nodes, the silent node's hash, its mark; ARGV: the node, seconds of silence,
# seconds to keep the mark. Takes the node's users and drops its entries, if it is still
# silent; of several processes that try at once, one gets the users (the script runs alone),
# the others nothing. The mark tells the node, should it beat again, that its users were
# announced offline (a Redis that lost its data, by contrast, announced nothing).
REAP_SCRIPT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local beat = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not beat or tonumber(beat) > t - tonumber(ARGV[2]) then
  return false
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
local users = redis.call('HKEYS', KEYS[3])
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[4], '1', 'EX', ARGV[3])
return users
"""


def _node_key(node: str) -> str:
    return f"chat:presence:node:{node}"


def _reaped_key(node: str) -> str:
    return f"chat:presence:reaped:{node}"


class Presence:
    def __init__(self, redis_url: str = "", ttl: int = 60, node_timeout: float = 15):
        self.local: Counter[str] = Counter()
        self.node = uuid.uuid4().hex
        self.ttl = ttl
        # A process beats every fifth of the timeout and is dead after three missed beats, so
        # a survivor's check (at its own beat) finds it within the timeout of its death.
        self.beat_seconds = node_timeout / 5
        self.silence_seconds = 3 * self.beat_seconds
        self.lock = threading.Lock()
        self.redis = None
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            self._beat = self.redis.register_script(BEAT_SCRIPT)
            self._reap = self.redis.register_script(REAP_SCRIPT)

    @property
    def _key(self) -> str:
        return _node_key(self.node)

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

    def is_here(self, user_id: str) -> bool:
        """Whether a socket of this process counts for the user now."""
        with self.lock:
            return self.local.get(user_id, 0) > 0

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

    def beat(self) -> tuple[bool, list[str]]:
        """Tell the other processes this one is alive (called every `beat_seconds`). Answers
        whether they took it for dead meanwhile (a stall longer than `silence_seconds`: they
        dropped its counts and announced its users offline; its hash is written again here, and
        the caller announces them online again), and the processes that fell silent, for
        `reap`."""
        reaped, silent = self._beat(
            keys=[BEATS_KEY, _reaped_key(self.node)], args=[self.node, self.silence_seconds]
        )
        if reaped:
            logger.warning("presence: this process was taken for dead (it did not beat for "
                           "%.1f s); announcing its users again", self.silence_seconds)  # fmt: skip
            self.refresh()
        return bool(reaped), [n.decode() for n in silent if n.decode() != self.node]

    def reap(self, node: str) -> list[str]:
        """Drop a silent process's counts: the users it had, if this process took them (of
        several survivors, one does), else []. Who of them is still online elsewhere is the
        caller's question (`online_among`)."""
        users = self._reap(
            keys=[BEATS_KEY, NODES_KEY, _node_key(node), _reaped_key(node)],
            args=[node, self.silence_seconds, self.ttl],
        )
        return sorted(u.decode() for u in users or [])

    def shutdown(self) -> None:
        if self.redis:
            try:
                self.redis.delete(self._key)
                self.redis.srem(NODES_KEY, self.node)
                self.redis.zrem(BEATS_KEY, self.node)
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
    realtime = settings.REALTIME
    return Presence(
        settings.REDIS_URL,
        realtime["PRESENCE_TTL_SECONDS"],
        realtime["PRESENCE_NODE_TIMEOUT_SECONDS"],
    )


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

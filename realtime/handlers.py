"""Socket.IO event handlers. Each handler checks its input with the REST API's serializers and
calls the same messaging services, so both paths answer the same error codes.

Acks are `{"ok": true, ...}` or `{"ok": false, "error": {"code", "detail"}}`."""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import threading
import time

import socketio
from bson import ObjectId
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from pymongo.errors import PyMongoError

from accounts import tokens
from chatsite.errors import ChatError, DatabaseUnavailable, database_down
from chatsite.ratelimit import hit
from messaging import selectors, services
from messaging.serializers import MessageSerializer
from realtime import access_log, auth, batching, events, memory, online_lists
from realtime.online_lists import OnlineLists
from realtime.presence import Presence, to_everyone
from realtime.rooms import DIRECTORY_ROOM, original_room, presence_room, user_room

logger = logging.getLogger(__name__)

# Sockets rechecked per query by `watch_sessions` (see there).
RECHECK_SLICE = 25
# How long an ended session is remembered for the connects that were checking it meanwhile:
# longer than any connect's reads take (they time out well before).
ENDED_KEPT_SECONDS = 120
# How long a socket whose session ended while it was connecting may take to finish connecting.
PENDING_CONNECT_SECONDS = 30


def _release_db_connection() -> None:
    """Forget this green thread's Django connection object (the MongoDB client is shared).

    `connect` runs in the green thread that reads the socket, which lives as long as the
    socket, and Django keeps one connection object (and the Python objects it holds) per
    thread: each socket kept one for every full garbage collection to walk through (measured:
    docs/benchmarks.md, "Measurements behind the code"). (Not in `disconnect`:
    it also runs inside requests, the admin's deactivation for one, mid-transaction.)"""
    with contextlib.suppress(AttributeError):
        del connections[DEFAULT_DB_ALIAS]


def _takes_lists(identity: auth.Identity) -> bool:
    """Whether the socket hears presence as whole `getOnlineUsers` lists (the reference
    design's front end) rather than `userOnline`/`userOffline` deltas."""
    return identity.original or settings.REALTIME["LEGACY_PRESENCE_BROADCAST"]


def _sessions_live(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    return batching.answers_for(pairs, tokens.sessions_live(pairs))


def _contacts_of(user_ids: list[str]) -> dict[str, set[str]]:
    return selectors.contact_ids_for_users(user_ids=sorted(set(user_ids)))


def _cursors_current(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    return batching.answers_for(pairs, selectors.sync_cursors_current(pairs))


def _error(code: str, detail: str) -> dict:
    return {"ok": False, "error": {"code": code, "detail": detail}}


class ChatNamespace:
    """State and handlers of the default namespace in one serving process."""

    def __init__(self, sio: socketio.Server, presence: Presence):
        self.sio = sio
        self.presence = presence
        self.identities: dict[str, auth.Identity] = {}
        # Sockets whose session ended and that are being disconnected: their events are refused.
        self.ended: set[str] = set()
        self.watching: dict[str, set[str]] = {}  # sid → users it asked to watch
        self.lists = OnlineLists(sio, presence)  # `getOnlineUsers` on every change, for some
        self.reclaimer = memory.Reclaimer()
        # The database reads of a connect, for all connects in flight at once.
        self.live_sessions = batching.Batcher(_sessions_live, default=False)
        self.contact_reads = batching.Batcher(_contacts_of, default=frozenset())
        self.cursor_reads = batching.Batcher(_cursors_current, default=False)
        # Users gone offline while every socket of this process is being closed (shutdown),
        # announced together afterwards (see `departing_together`).
        self.departed: list[str] | None = None
        # Sessions ended lately (numbered), for the connects that read before the news came
        # (see `_ended_since`); `lock` orders them against the sockets registered.
        self.lock = threading.Lock()
        self.ended_count = 0
        self.ended_lately: collections.deque[tuple[int, float, str, str | None]] = (
            collections.deque()
        )

    # --- connection lifecycle --------------------------------------------------------------

    def connect(self, sid: str, environ: dict, auth_payload: object = None) -> dict | None:
        if sid in self.identities:
            # python-socketio hands a connected client's event *named* "connect" to this
            # handler, with the client's data as `environ`. The real connect of a socket runs
            # once, before any event of it is dispatched.
            return _error("invalid_event", "connect is not an event a client can send.")
        close_old_connections()
        with self.lock:
            asked_at = self.ended_count
        try:
            identity = auth.authenticate(environ, auth_payload, self._session_is_live)
            contacts = set() if to_everyone() else set(self.contact_reads.ask(identity.user_id))
        except PyMongoError:
            logger.warning("socket refused: database unavailable")
            raise socketio.exceptions.ConnectionRefusedError("unavailable") from None
        finally:
            _release_db_connection()
        with self.lock:
            # A session that ended after the read began was not closed with the others
            # (this socket was not registered yet): refused, as a connect after it is.
            if self._ended_since(asked_at, identity):
                raise socketio.exceptions.ConnectionRefusedError(events.UNAUTHORIZED)
            self.identities[sid] = identity
        access_log.socket_connected(sid, identity.user_id, environ)
        takes_lists = _takes_lists(identity)
        if identity.original:
            self.sio.enter_room(sid, original_room(identity.user_id))
        else:
            self.sio.enter_room(sid, user_room(identity.user_id))
            self.sio.enter_room(sid, DIRECTORY_ROOM)
        if takes_lists:
            self.lists.add(sid, identity.user_id, contacts)
        came_online = self.presence.add(identity.user_id)
        if to_everyone():
            snapshot = self.presence.online_users()
        else:
            snapshot = self.presence.online_among(contacts | {identity.user_id})
        self.sio.emit(events.GET_ONLINE_USERS, snapshot, to=sid)
        if takes_lists:
            self.lists.snapshot_sent(identity.user_id, snapshot)
        if came_online:
            online_lists.announce_changed(identity.user_id)
            if not settings.REALTIME["LEGACY_PRESENCE_BROADCAST"]:
                self._announce(events.USER_ONLINE, identity.user_id, contacts, skip_sid=sid)
        if isinstance(auth_payload, dict) and "since" in auth_payload:
            self._sync_status(sid, identity.user_id, auth_payload["since"])

    def _sync_status(self, sid: str, user_id: str, since: object) -> None:
        """`syncStatus` for a handshake that carried the client's sync cursor: whether
        `/api/sync` from it would answer nothing. Read after the socket joined its rooms, so a
        change the read does not see reaches the socket live; one read for all the connects
        in flight."""
        up_to_date = False
        if isinstance(since, str):
            close_old_connections()
            try:
                up_to_date = self.cursor_reads.ask((user_id, since))
            except PyMongoError:
                logger.warning("sync status unknown: database unavailable")
            finally:
                _release_db_connection()
        echoed = since if isinstance(since, str) and len(since) <= 64 else None
        self.sio.emit(events.SYNC_STATUS, {"since": echoed, "upToDate": up_to_date}, to=sid)

    def disconnect(self, sid: str, *reason) -> dict | None:
        if self.sio.manager.is_connected(sid, "/"):
            # An event named "disconnect" from a client that is still connected (for a real
            # disconnect python-socketio has already marked the socket as leaving).
            return _error("invalid_event", "disconnect is not an event a client can send.")
        identity = self.identities.pop(sid, None)
        self.watching.pop(sid, None)
        self.ended.discard(sid)
        if identity is None:
            return None
        access_log.socket_disconnected(sid, identity.user_id)
        if _takes_lists(identity):
            self.lists.remove(sid, identity.user_id)
        if self.presence.remove(identity.user_id):
            self._went_offline(identity.user_id)
        return None

    def _went_offline(self, user_id: str, contacts: set[str] | None = None) -> None:
        """`user_id` has no socket left on any live process: `userOffline` to their contacts
        (read here unless given) and watchers, and the `getOnlineUsers` lists that name them."""
        online_lists.announce_changed(user_id)
        if settings.REALTIME["LEGACY_PRESENCE_BROADCAST"]:
            return
        if contacts is None and self.departed is not None:
            self.departed.append(user_id)
            return
        if contacts is None:
            # Read with the contacts of the others leaving at the same moment (a network blip
            # drops thousands of sockets at once, and a read each was most of a disconnect's
            # CPU: docs/benchmarks.md, "Storms, continued").
            contacts = self._read_contacts(lambda: self.contact_reads.ask(user_id)) or ()
            if self.presence.is_here(user_id):
                # A new socket of theirs connected during the read, and its `userOnline` may
                # have gone out already: a `userOffline` now would contradict it.
                return
        self._announce(events.USER_OFFLINE, user_id, set(contacts))

    def _read_contacts(self, read):
        """`read()`'s contacts; None when presence goes to everyone (no read) or the read failed
        (logged: the announcement then reaches only watchers; a disconnect must not raise)."""
        if to_everyone():
            return None
        close_old_connections()
        try:
            return read()
        except PyMongoError:
            logger.warning("presence news reach only watchers: database unavailable")
        except Exception:
            logger.exception("presence news reach only watchers: the contacts read failed")
        return None

    @contextlib.contextmanager
    def departing_together(self):
        """While every socket of this process is closed (shutdown): the `userOffline`s of the
        users who leave wait until all have left, then go out with their contacts read
        `batching.LIMIT` users at a time instead of a read each, which made a process with
        thousands of users take seconds longer to stop while its clients waited to reconnect
        (docs/benchmarks.md, "Connect storms")."""
        self.departed = []
        try:
            yield
        finally:
            departed, self.departed = self.departed, None
            for user_id, contacts in self._with_contacts(departed):
                self._announce(events.USER_OFFLINE, user_id, contacts)

    def _with_contacts(self, user_ids: list[str]):
        """`(user id, their contacts)` for each of `user_ids`, the contacts read
        `batching.LIMIT` users at a time (none when presence goes to everyone; none, with a
        warning, when the database is unreachable: the announcement reaches only watchers)."""
        for start in range(0, len(user_ids), batching.LIMIT):
            chunk = user_ids[start : start + batching.LIMIT]
            found = self._read_contacts(lambda chunk=chunk: _contacts_of(chunk)) or {}
            for user_id in chunk:
                yield user_id, set(found.get(user_id, ()))

    def _contacts(self, user_id: str) -> set[str]:
        return selectors.contact_ids_for_user(user_id=user_id)

    def _session_is_live(self, user_id: str, session_id: str) -> bool:
        return self.live_sessions.ask((user_id, session_id))

    def _ended_since(self, count: int, identity: auth.Identity) -> bool:
        """Whether a session of `identity` ended after the `count`-th (with `lock` held)."""
        return any(
            number > count
            and user_id == identity.user_id
            and session_id in (None, identity.session_id)
            for number, _, user_id, session_id in self.ended_lately
        )

    def _announce(self, event: str, user_id: str, contacts: set[str], skip_sid=None) -> None:
        """`userOnline`/`userOffline` to everyone, or to the user's contacts and watchers: a
        connect costs O(contacts) frames instead of O(connected sockets)."""
        payload = {"userId": user_id}
        if to_everyone():
            self.sio.emit(event, payload, skip_sid=skip_sid)
        else:
            rooms = [user_room(c) for c in sorted(contacts)] + [presence_room(user_id)]
            self.sio.emit(event, payload, to=rooms, skip_sid=skip_sid)

    # --- client events ---------------------------------------------------------------------

    def send_message(self, sid: str, data: object) -> dict:
        identity = self.identities[sid]
        if not isinstance(data, dict):
            return _error("invalid_payload", "Send an object.")
        wait = hit("send", f"user:{identity.user_id}", settings.CHAT["SEND_RATE"])
        if wait:
            return {**_error("rate_limited", "Too many messages."), "retryAfter": int(wait + 1)}
        sender = identity.user()
        target = {}
        if data.get("conversationId") is not None:
            target["conversation"] = selectors.conversation_get_for_user(
                user=sender, conversation_id=data["conversationId"]
            )
        elif data.get("to") is not None:
            target["receiver"] = selectors.user_get_active(user_id=data["to"])
        else:
            return _error("invalid_payload", "Give `to` (a user id) or `conversationId`.")
        message = services.message_send(
            sender=sender, body=data.get("message"), client_msg_id=data.get("clientMsgId"),
            reply_to=data.get("replyTo"), attachments=data.get("attachments"), **target,
        )  # fmt: skip
        return {"ok": True, "message": MessageSerializer(message).data}

    def _change_message(self, sid: str, data: object, change, **arguments) -> dict:
        """Edit, delete, react, unreact: `{messageId, ...}` → `{ok, message}`."""
        identity = self.identities[sid]
        if not isinstance(data, dict):
            return _error("invalid_payload", "Send an object with messageId.")
        wait = hit("action", f"user:{identity.user_id}", settings.CHAT["ACTION_RATE"])
        if wait:
            return {**_error("rate_limited", "Too many changes."), "retryAfter": int(wait + 1)}
        user = identity.user()
        message = selectors.message_get_for_user(user=user, message_id=data.get("messageId"))
        arguments = {name: data.get(key) for name, key in arguments.items()}
        changed = change(message=message, user=user, **arguments)
        return {"ok": True, "message": MessageSerializer(changed).data}

    def edit_message(self, sid: str, data: object) -> dict:
        return self._change_message(sid, data, services.message_edit, body="message")

    def delete_message(self, sid: str, data: object) -> dict:
        return self._change_message(sid, data, services.message_delete)

    def react(self, sid: str, data: object) -> dict:
        return self._change_message(sid, data, services.message_react, emoji="emoji")

    def unreact(self, sid: str, data: object) -> dict:
        return self._change_message(sid, data, services.message_unreact, emoji="emoji")

    def watch_presence(self, sid: str, data: object) -> dict:
        """Also hear `userOnline`/`userOffline` of these users (say, the ones a contact list
        shows); replaces the socket's previous list. Answers which of them are online now.

        Presence is not a tracking tool: unless REALTIME_PRESENCE_WATCH is `anyone` (or
        presence goes to everyone anyway), only users who share a conversation with the
        socket's user are watched; the others are answered as offline and never announced."""
        limit = settings.REALTIME["PRESENCE_WATCH_MAX"]
        ids = data.get("userIds") if isinstance(data, dict) else None
        if (
            not isinstance(ids, list)
            or len(ids) > limit
            or not all(isinstance(i, str) and ObjectId.is_valid(i) for i in ids)
        ):
            return _error("invalid_payload", f"Send {{userIds: [...]}}: at most {limit} user ids.")
        wanted = {str(ObjectId(i)) for i in ids}
        if wanted and settings.REALTIME["PRESENCE_WATCH"] == "contacts" and not to_everyone():
            wanted &= self._contacts(self.identities[sid].user_id)
        before = self.watching.get(sid, set())
        for user_id in before - wanted:
            self.sio.leave_room(sid, presence_room(user_id))
        for user_id in wanted - before:
            self.sio.enter_room(sid, presence_room(user_id))
        self.watching[sid] = wanted
        return {"ok": True, "online": self.presence.online_among(wanted)}

    def typing(self, sid: str, data: object) -> dict:
        identity = self.identities[sid]
        if not isinstance(data, dict) or not isinstance(data.get("isTyping"), bool):
            return _error("invalid_payload", "Send {conversationId, isTyping: true|false}.")
        user = identity.user()
        conversation = selectors.conversation_get_for_user(
            user=user, conversation_id=data.get("conversationId")
        )
        payload = {
            "conversationId": str(conversation.pk),
            "userId": identity.user_id,
            "isTyping": data["isTyping"],
        }
        others = [user_room(p) for p in conversation.participants if str(p) != identity.user_id]
        self.sio.emit(events.TYPING, payload, to=others)
        return {"ok": True}

    def mark_read(self, sid: str, data: object) -> dict:
        identity = self.identities[sid]
        if not isinstance(data, dict):
            return _error("invalid_payload", "Send {conversationId, seq}.")
        user = identity.user()
        conversation = selectors.conversation_get_for_user(
            user=user, conversation_id=data.get("conversationId")
        )
        seq = services.conversation_mark_read(
            user=user, conversation=conversation, seq=data.get("seq")
        )
        return {"ok": True, "seq": seq}

    def unknown_event(self, sid: str, event: object) -> dict:
        return _error("unknown_event", f"There is no event named {str(event)[:64]!r}.")

    # --- housekeeping ----------------------------------------------------------------------

    def watch_sessions(self) -> None:
        """Disconnect sockets whose token expired, whose user was deactivated or whose session
        was logged out; keep this process's presence alive in Redis.

        Each round checks every socket once, RECHECK_SLICE sockets at a time spread evenly over
        REALTIME_AUTH_RECHECK_SECONDS: asked all at once, thousands of sockets' users kept the
        embedded database busy in one stretch, and every send waited behind it
        (measured: docs/benchmarks.md, "Measurements behind the code")."""
        interval = settings.REALTIME["AUTH_RECHECK_SECONDS"]
        while True:
            sids = list(self.identities)
            slices = [sids[i : i + RECHECK_SLICE] for i in range(0, len(sids), RECHECK_SLICE)]
            for part in slices or [[]]:
                self.sio.sleep(interval / max(len(slices), 1))
                try:
                    close_old_connections()
                    still = {
                        sid: identity
                        for sid in part
                        if (identity := self.identities.get(sid)) is not None
                    }
                    for sid in auth.sockets_to_disconnect(still, time.time()):
                        self.end_session(sid)
                except Exception:
                    logger.exception("session watch failed; retrying")
            self.presence.refresh()  # logs and carries on when Redis is down

    def watch_nodes(self) -> None:
        """With Redis: beat, and act for the processes that stopped beating (killed, frozen, cut
        off). Of their users, those online on no live process are announced offline, as their
        last disconnect would have (`Presence.beat`, `Presence.reap`). If this process was the
        one taken for dead, its users are announced online again."""
        while True:
            try:
                rejoined, silent = self.presence.beat()
                if rejoined:
                    self._came_back()
                for node in silent:
                    users = self.presence.reap(node)
                    if not users:
                        continue  # another process took it, or it had no users
                    logger.warning("presence: process %s stopped beating; %d users were on it",
                                   node, len(users))  # fmt: skip
                    online = set(self.presence.online_among(users))
                    gone = [user_id for user_id in users if user_id not in online]
                    for user_id, contacts in self._with_contacts(gone):
                        self._went_offline(user_id, contacts)
            except Exception:
                logger.exception("presence heartbeat failed; retrying")
            self.sio.sleep(self.presence.beat_seconds)

    def _came_back(self) -> None:
        with self.presence.lock:
            users = sorted(self.presence.local)
        for user_id in users:
            online_lists.announce_changed(user_id)
        if settings.REALTIME["LEGACY_PRESENCE_BROADCAST"]:
            return
        for user_id, contacts in self._with_contacts(users):
            self._announce(events.USER_ONLINE, user_id, contacts)

    def watch_memory(self) -> None:
        """Keep connected sockets out of full collections and give memory back once most of
        them have left (`realtime.memory.Reclaimer`)."""
        while True:
            self.sio.sleep(memory.CHECK_SECONDS)
            try:
                self.reclaimer.check(len(self.identities))
            except Exception:
                logger.exception("memory check failed; retrying")

    def purge_attachments(self) -> None:
        """Delete the uploads no message took within ATTACHMENT_UNUSED_SECONDS, every
        ATTACHMENT_PURGE_SECONDS (`manage.py purge_attachments` does the same once). Every
        serving process runs it; two at once delete each upload once."""
        while True:
            self.sio.sleep(settings.CHAT["ATTACHMENT_PURGE_SECONDS"])
            try:
                close_old_connections()
                services.attachments_purge_unused()
            except Exception:
                logger.exception("attachment purge failed; retrying")

    def end_session(self, sid: str, reason: str = "session_ended") -> None:
        if sid in self.ended or sid not in self.identities:
            return  # being closed already, or gone
        self.ended.add(sid)
        self.sio.emit(events.SESSION_ENDED, {"reason": reason}, to=sid)
        if self.sio.manager.is_connected(sid, "/"):
            self.sio.disconnect(sid)
        else:
            # Its connect handler has not returned yet, and python-socketio ignores a
            # disconnect until it has: once more when the socket is connected.
            self.sio.start_background_task(self._disconnect_when_connected, sid)

    def _disconnect_when_connected(self, sid: str) -> None:
        for _ in range(int(PENDING_CONNECT_SECONDS / 0.05)):
            self.sio.sleep(0.05)
            if sid not in self.identities:
                return  # refused or gone
            if self.sio.manager.is_connected(sid, "/"):
                self.sio.disconnect(sid)
                return
        logger.warning("a socket whose session ended did not finish connecting")

    def end_sessions(self, *, user_id: str, session_id: str | None, reason: str) -> None:
        """Close this process's sockets of `user_id`: all of them, or those of one login
        session. From this call on, their events are refused, and a connect whose check of the
        session began before it is refused too."""
        with self.lock:
            self.ended_count += 1
            now = time.monotonic()
            self.ended_lately.append((self.ended_count, now, user_id, session_id))
            while self.ended_lately and self.ended_lately[0][1] < now - ENDED_KEPT_SECONDS:
                self.ended_lately.popleft()
            sids = [
                sid
                # A copy: in the ASGI mode a disconnect in another thread may pop meanwhile.
                for sid, identity in list(self.identities.items())
                if identity.user_id == user_id and session_id in (None, identity.session_id)
            ]
        for sid in sids:
            self.end_session(sid, reason)


def _with_acks(handler):
    """Turn exceptions into error acks: a bad event never kills the connection."""

    @functools.wraps(handler)
    def wrapper(sid, data=None, *extra):
        close_old_connections()
        try:
            return handler(sid, data)
        except ChatError as error:
            return {"ok": False, "error": {"code": error.code, "detail": error.detail}}
        except Exception as exc:
            if database_down(exc):
                error = DatabaseUnavailable()
                return {"ok": False, "error": {"code": error.code, "detail": error.detail}}
            logger.exception("socket event failed")
            return _error("internal_error", "The event could not be processed.")
        finally:
            close_old_connections()

    return wrapper


def _rate_limited(namespace: ChatNamespace, handler):
    @functools.wraps(handler)
    def wrapper(sid, data=None, *extra):
        if sid not in namespace.identities:
            return _error("unauthorized", "Not connected.")
        if sid in namespace.ended:
            return _error("session_ended", "This session has ended.")
        if hit("event", sid, settings.REALTIME["EVENT_RATE"]):
            return _error("rate_limited", "Too many events.")
        return handler(sid, data)

    return wrapper


def client_events(namespace: ChatNamespace) -> dict:
    """The client → server events, each wrapped with the rate limit and error acks."""
    return {
        name: _rate_limited(namespace, _with_acks(handler))
        for name, handler in (
            (events.SEND_MESSAGE, namespace.send_message),
            (events.EDIT_MESSAGE, namespace.edit_message),
            (events.DELETE_MESSAGE, namespace.delete_message),
            (events.REACT, namespace.react),
            (events.UNREACT, namespace.unreact),
            (events.TYPING, namespace.typing),
            (events.MARK_READ, namespace.mark_read),
            (events.WATCH_PRESENCE, namespace.watch_presence),
        )
    }


def unknown_events(namespace: ChatNamespace):
    """The catch-all handler (`sio.on("*")`): an event nobody handles is answered
    `unknown_event` (an ack the client waits for), under the same rate limit."""
    handler = _rate_limited(namespace, _with_acks(namespace.unknown_event))

    def any_event(event, sid, *args) -> dict:
        return handler(sid, event)

    return any_event


def register(sio: socketio.Server, presence: Presence) -> ChatNamespace:
    namespace = ChatNamespace(sio, presence)
    sio.on("connect", namespace.connect)
    sio.on("disconnect", namespace.disconnect)
    for name, handler in client_events(namespace).items():
        sio.on(name, handler)
    sio.on("*", unknown_events(namespace))
    return namespace

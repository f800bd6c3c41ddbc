"""`getOnlineUsers` lists for the sockets that take them: original-mode sockets (the reference
design's front end, which keeps no presence of its own and replaces its whole list with each
`getOnlineUsers`) and, with `REALTIME_LEGACY_PRESENCE`, every socket.

The reference design sent the full online list to every client on every change: O(N²) frames
in a connect storm. Here a list goes only to the sockets whose list changed, at most once per
`REALTIME_LEGACY_PRESENCE_DEBOUNCE_MS`, and lists what presence lets that user see (their online
contacts and themselves, or everyone online with `REALTIME_PRESENCE_FANOUT=everyone`).

Each serving process keeps, for the users of its list-taking sockets, their contacts and the
reverse index (who here has this user as a contact), so a user coming or going marks only the
lists that name them. News crosses processes on a Redis channel: a user came online or went
offline everywhere (`changed`), and users started sharing a conversation (`met`: a first direct
message, a group created or joined). A process that hears news for nobody it serves drops it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.conf import settings

from messaging import selectors
from realtime import events, news, server
from realtime.presence import Presence, to_everyone

logger = logging.getLogger(__name__)
CHANNEL = "chat:presence-news"


class OnlineLists:
    """The list-taking sockets of one serving process and the lists they were sent."""

    def __init__(self, sio, presence: Presence):
        self.sio = sio
        self.presence = presence
        self.lock = threading.Lock()
        self.sids: dict[str, set[str]] = {}  # user → their list-taking sockets here
        self.contacts: dict[str, set[str]] = {}  # user → who shares a conversation with them
        self.audience: dict[str, set[str]] = {}  # anyone → users here who have them as contact
        self.sent: dict[str, list[str] | None] = {}  # user → the list their sockets last got
        self.dirty: set[str] = set()
        self.pending = False

    # --- sockets ---------------------------------------------------------------------------

    def add(self, sid: str, user_id: str, contacts: set[str]) -> None:
        """Register a list-taking socket before its first list is computed, so that a change
        in between marks it (see `snapshot_sent`). `contacts` are ignored when presence goes to
        everyone."""
        with self.lock:
            sockets = self.sids.setdefault(user_id, set())
            sockets.add(sid)
            if len(sockets) == 1:
                self.sent[user_id] = None
            if not to_everyone():
                self._meet(user_id, contacts)

    def snapshot_sent(self, user_id: str, snapshot: list[str]) -> None:
        """A new socket of `user_id` got `snapshot`. If the user's other sockets here got
        another list, or presence changed since the socket was registered, all of them get
        the current list at the next flush."""
        with self.lock:
            if user_id not in self.sids or self.sent.get(user_id) == snapshot:
                return
            alone = len(self.sids[user_id]) == 1 and user_id not in self.dirty
            if alone and self.sent.get(user_id) is None:
                self.sent[user_id] = snapshot
                return
            self.sent[user_id] = None  # the next flush sends, whatever it finds
            self.dirty.add(user_id)
        self._schedule()

    def remove(self, sid: str, user_id: str) -> None:
        with self.lock:
            sockets = self.sids.get(user_id)
            if sockets is None:
                return
            sockets.discard(sid)
            if sockets:
                return
            del self.sids[user_id]
            self.sent.pop(user_id, None)
            self.dirty.discard(user_id)
            for contact in self.contacts.pop(user_id, ()):
                users = self.audience.get(contact)
                if users is not None:
                    users.discard(user_id)
                    if not users:
                        del self.audience[contact]

    # --- news ------------------------------------------------------------------------------

    def changed(self, user_id: str) -> None:
        """`user_id` came online or went offline (on any process)."""
        with self.lock:
            marked = set(self.sids) if to_everyone() else self.audience.get(user_id, set())
            if not marked:
                return
            self.dirty |= marked
        self._schedule()

    def met(self, members: Iterable[str], added: Iterable[str]) -> None:
        """The `added` users now share a conversation with all of `members` (`added` among
        them): a first direct message (both are added), a group created or joined."""
        if to_everyone():
            return
        members, added = set(members), set(added)
        with self.lock:
            marked = set()
            for user_id in members & self.sids.keys():
                new = (members if user_id in added else added) - {user_id}
                new -= self.contacts.get(user_id, set())
                if new:
                    self._meet(user_id, new)
                    marked.add(user_id)
            if not marked:
                return
            self.dirty |= marked
        self._schedule()

    def parted(self, users: Iterable[str]) -> None:
        """Work out again, from the database, the contacts of these users' (served here) and
        of the users here who had them as contacts: a removal can end contacts."""
        with self.lock:
            affected = set()
            for user_id in users:
                if user_id in self.sids:
                    affected.add(user_id)
                affected |= self.audience.get(user_id, set())
        if to_everyone() or not affected:
            return
        fresh = selectors.contact_ids_for_users(user_ids=sorted(affected))
        with self.lock:
            for user_id, contacts in fresh.items():
                if user_id not in self.sids:
                    continue
                for gone in self.contacts.get(user_id, set()) - contacts:
                    audience = self.audience.get(gone)
                    if audience is not None:
                        audience.discard(user_id)
                        if not audience:
                            del self.audience[gone]
                self.contacts[user_id] = set()
                self._meet(user_id, contacts)
                self.dirty.add(user_id)
        self._schedule()

    def refresh_all(self) -> None:
        """Send every list-taking socket here its current list, if it changed."""
        with self.lock:
            if not self.sids:
                return
            self.dirty |= set(self.sids)
        self._schedule()

    def _meet(self, user_id: str, contacts: set[str]) -> None:
        self.contacts.setdefault(user_id, set()).update(contacts)
        for contact in contacts:
            self.audience.setdefault(contact, set()).add(user_id)

    # --- sending ---------------------------------------------------------------------------

    def _schedule(self) -> None:
        with self.lock:
            if self.pending:
                return
            self.pending = True
        self.sio.start_background_task(self._flush_later)

    def _flush_later(self) -> None:
        """The first change starts the interval; the lists leave at its end and list who is
        online then, so a burst of changes costs each socket one list at most."""
        self.sio.sleep(settings.REALTIME["LEGACY_PRESENCE_DEBOUNCE_MS"] / 1000)
        with self.lock:
            self.pending = False
            dirty, self.dirty = self.dirty, set()
        try:
            self.flush(dirty)
        except Exception:
            logger.exception("could not send getOnlineUsers lists")

    def flush(self, users: set[str]) -> None:
        """Send each of these users' sockets here their list, if it is not the one they have.
        Who is online is asked once for all of them (one Redis round trip per other process)."""
        with self.lock:
            scopes = {
                u: self.contacts.get(u, set()) | {u} for u in users if u in self.sids
            }  # fmt: skip
        if not scopes:
            return
        if to_everyone():
            everyone = self.presence.online_users()
            lists = dict.fromkeys(scopes, everyone)
        else:
            online = set(self.presence.online_among(set().union(*scopes.values())))
            lists = {u: sorted(scope & online) for u, scope in scopes.items()}
        by_list: dict[tuple[str, ...], list[str]] = {}
        with self.lock:
            for user_id, ids in lists.items():
                if user_id not in self.sids or self.sent.get(user_id) == ids:
                    continue
                self.sent[user_id] = ids
                by_list.setdefault(tuple(ids), []).extend(self.sids[user_id])
        for ids, sids in by_list.items():
            # This process's sockets only: every process sends its own sockets their lists.
            self.sio.emit(events.GET_ONLINE_USERS, list(ids), to=sids, ignore_queue=True)


# --- news between processes --------------------------------------------------------------------


def _namespace_lists() -> OnlineLists | None:
    namespace = server.current_namespace()
    return None if namespace is None else namespace.lists


def announce_changed(user_id: str) -> None:
    """`user_id` came online or went offline everywhere: every process's lists that name them."""
    lists = _namespace_lists()
    if lists is not None:
        lists.changed(user_id)
    news.publish(CHANNEL, {"kind": "changed", "user": user_id})


def announce_met(members: Iterable[str], added: Iterable[str]) -> None:
    """`added` now share a conversation with `members`, from any process (a web process or
    the shell publishes only). With presence to everyone, lists do not depend on it."""
    if to_everyone():
        return
    members, added = sorted({str(m) for m in members}), sorted({str(a) for a in added})
    lists = _namespace_lists()
    if lists is not None:
        lists.met(members, added)
    news.publish(CHANNEL, {"kind": "met", "members": members, "added": added})


def announce_parted(user_ids: Iterable[str]) -> None:
    """These users may no longer share a conversation with some of their contacts (someone
    left or was removed from a group, an account was deleted): their lists are worked out
    again from the database, on every process."""
    if to_everyone():
        return
    users = sorted({str(u) for u in user_ids})
    lists = _namespace_lists()
    if lists is not None:
        lists.parted(users)
    news.publish(CHANNEL, {"kind": "parted", "users": users})


def hear(lists: OnlineLists) -> None:
    """Act on the news of other processes; after a Redis outage, whatever was missed is made
    good by sending every list-taking socket here its list again (if it changed)."""

    def act(item: dict) -> None:
        if item["kind"] == "changed":
            lists.changed(str(item["user"]))
        elif item["kind"] == "met":
            lists.met([str(m) for m in item["members"]], [str(a) for a in item["added"]])
        elif item["kind"] == "parted":
            lists.parted([str(u) for u in item["users"]])

    news.handle(CHANNEL, act, on_resubscribe=lists.refresh_all)

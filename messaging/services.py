"""Every write of the messaging app. `message_send` is the only code that creates a message:
the REST API, the `sendMessage` socket event and the admin all call it."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict

from bson import Int64
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pymongo.errors import DuplicateKeyError

from accounts.models import User
from chatsite.errors import DatabaseUnavailable
from messaging import errors
from messaging.models import Conversation, Message
from messaging.signals import message_visibility_changed, messages_read
from messaging.transactions import run_in_transaction

CLIENT_MSG_ID = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")  # \Z: no newline after
# A lone UTF-16 surrogate: JSON can carry one (`"\ud800"`), UTF-8 (BSON) cannot store it.
SURROGATE = re.compile("[\ud800-\udfff]")
# Characters that show nothing: controls, format characters (zero-width space, joiners, bidi
# marks), space and line separators, the Hangul fillers and the blank braille pattern, which
# fonts draw as blank. A message made only of them would be an empty bubble.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
INVISIBLE_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def invisible_character(char: str) -> bool:
    return char in INVISIBLE_CHARACTERS or unicodedata.category(char) in INVISIBLE_CATEGORIES


def _invisible(text: str) -> bool:
    return all(invisible_character(char) for char in text)


def clean_body(body: object) -> str:
    if not isinstance(body, str):
        raise errors.MessageInvalid()
    if "\x00" in body:
        raise errors.MessageInvalid("The message must not contain NUL characters.")
    if SURROGATE.search(body):
        raise errors.MessageInvalid("The message must be valid Unicode text.")
    # The length as sent, before trimming: the schema's `maxLength` counts it that way.
    limit = settings.CHAT["MESSAGE_MAX_LENGTH"]
    if len(body) > limit:
        raise errors.MessageTooLong(f"The message is longer than {limit} characters.")
    body = body.strip()
    # A visible first character (the usual case) ends the look at once.
    if not body or _invisible(body):
        raise errors.MessageEmpty()
    return body


def clean_client_msg_id(client_msg_id: object) -> str | None:
    if client_msg_id is None:
        return None
    if not isinstance(client_msg_id, str) or not CLIENT_MSG_ID.match(client_msg_id):
        raise errors.ClientMsgIdInvalid()
    return client_msg_id


def _conversations():
    return connection.get_collection(Conversation._meta.db_table)


def _bump(filter_: dict) -> dict | None:
    """Atomically advance a conversation's version (for a change that is not a new message).
    Returns the updated document.

    An update then a read of the same document, inside the caller's transaction (which sees
    its own write), rather than one `findAndModify`: the embedded database answers
    `findAndModify` with a scan of the whole collection whatever the indexes, so it grows
    with the number of conversations, while an indexed update and find stay flat
    (measured: docs/benchmarks.md, "Measurements behind the code")."""
    now = timezone.now()
    update = {"$inc": {"version": Int64(1)}, "$set": {"updated_at": now}}
    conversations = _conversations()
    if not conversations.update_one(filter_, update, session=connection.session).matched_count:
        return None
    return conversations.find_one(filter_, session=connection.session)


# What a send needs to know of its conversation.
STATE_FIELDS = {"last_seq": 1, "version": 1, "kind": 1, "participants": 1, "direct_key": 1}


class ConversationStates:
    """The last committed state (`STATE_FIELDS`) of the conversations this process sent to
    recently, by conversation id and by direct key, the `size` most recently used.

    A send starts from the state kept here instead of reading the conversation, and writes on
    condition that the conversation's `version` is still the one it started from: a state made
    stale by another process, or by a read marker or a moderator, costs that send one update
    that matches nothing and a read; nothing is decided on a kept state alone."""

    def __init__(self, size: int):
        self.size = size
        self._states: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(state: dict) -> list[str]:
        return [str(state["_id"])] + ([state["direct_key"]] if state.get("direct_key") else [])

    def get(self, key: str) -> dict | None:
        with self._lock:
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
            return state

    def remember(self, state: dict) -> None:
        with self._lock:
            for key in self._keys(state):
                kept = self._states.get(key)
                # Commits of one conversation can finish out of order across threads.
                if kept is None or kept["version"] < state["version"]:
                    self._states[key] = state
                self._states.move_to_end(key)
            while len(self._states) > self.size:
                self._states.popitem(last=False)

    def forget(self, conversation_id, direct_key: str | None = None) -> None:
        with self._lock:
            self._states.pop(str(conversation_id), None)
            if direct_key:
                self._states.pop(direct_key, None)


conversation_states = ConversationStates(size=10_000)


def _allocate_seq(*, key: str, filter_: dict, sender_id, new_conversation: dict | None) -> dict:
    """In the caller's transaction: allocate the next seq of the conversation `filter_` finds
    (creating it from `new_conversation` if given and none exists), advance its version and
    move the sender's read marker to the new seq, in one update of the conversation document.
    Returns the conversation's new state; raises ConversationNotFound.

    The update is conditional on the version it starts from (the kept state, or the stored
    one), so two sends never allocate the same seq: a stale start matches nothing and the
    stored state is read and tried instead."""
    conversations = _conversations()
    session = connection.session
    state = conversation_states.get(key)
    for _attempt in range(4):
        if state is None:
            state = conversations.find_one(filter_, STATE_FIELDS, session=session)
        if state is None:
            if new_conversation is None:
                raise errors.ConversationNotFound()
            created = _create_conversation(filter_, sender_id, new_conversation)
            if created is not None:
                return created
            continue  # created meanwhile by another send: read it and go on
        seq, version = state["last_seq"] + 1, state["version"] + 1
        now = timezone.now()
        result = conversations.update_one(
            {"_id": state["_id"], "version": state["version"], "participants": sender_id},
            {
                "$set": {
                    "last_seq": Int64(seq),
                    "version": Int64(version),
                    "last_message_at": now,
                    "updated_at": now,
                    f"read_markers.{sender_id}": {"seq": seq, "version": version},
                }
            },
            session=session,
        )
        if result.matched_count:
            return {**state, "last_seq": seq, "version": version}
        state = None
    # Only when other writers kept changing the conversation between each read and update.
    raise DatabaseUnavailable()


def _create_conversation(filter_: dict, sender_id, fields: dict) -> dict | None:
    """Insert the conversation `filter_` (a direct key) names, holding its first seq; None if
    it exists already."""
    now = timezone.now()
    document = {
        **fields,
        "last_seq": Int64(1),
        "version": Int64(1),
        "last_message_at": now,
        "read_markers": {str(sender_id): {"seq": 1, "version": 1}},
        "created_at": now,
        "updated_at": now,
    }
    try:
        result = _conversations().update_one(
            filter_, {"$setOnInsert": document}, upsert=True, session=connection.session
        )
    except DuplicateKeyError as error:
        raise IntegrityError(str(error)) from error
    if result.upserted_id is None:
        return None
    return {"_id": result.upserted_id, **filter_, **document}


def message_send(
    *,
    sender: User,
    body: object,
    receiver: User | None = None,
    conversation: Conversation | None = None,
    client_msg_id: object = None,
) -> Message:
    """Validate, find or create the conversation, allocate the next seq, move the sender's
    read marker and store the message, all in one transaction. A retry with the same
    `client_msg_id` returns the message stored the first time and creates nothing."""
    if (receiver is None) == (conversation is None):
        raise TypeError("message_send needs exactly one of receiver or conversation")
    body = clean_body(body)
    client_msg_id = clean_client_msg_id(client_msg_id)
    if not sender.is_active:
        raise errors.ConversationNotFound()

    if receiver is not None:
        if receiver.pk == sender.pk:
            raise errors.CannotMessageSelf()
        if not receiver.is_active:
            raise errors.ReceiverNotFound()
        key = Conversation.direct_key_for(sender.pk, receiver.pk)
        conversation_filter = {"direct_key": key}
        new_conversation = {
            "kind": Conversation.Kind.DIRECT.value,
            "participants": sorted([sender.pk, receiver.pk], key=str),
            "title": "",
        }
    else:
        key = str(conversation.pk)
        conversation_filter = {"_id": conversation.pk, "participants": sender.pk}
        new_conversation = None

    def write() -> Message:
        state = _allocate_seq(
            key=key,
            filter_=conversation_filter,
            sender_id=sender.pk,
            new_conversation=new_conversation,
        )
        other = receiver
        if other is None and state["kind"] == Conversation.Kind.DIRECT:
            other = User(pk=next(p for p in state["participants"] if p != sender.pk))
        message = Message(
            conversation_id=state["_id"],
            sender=sender,
            receiver=other,
            body=body,
            seq=state["last_seq"],
            version=state["version"],
            client_msg_id=client_msg_id,
        )
        message.save()
        transaction.on_commit(lambda: conversation_states.remember(state))
        return message

    try:
        return run_in_transaction(write, lock_key=key)
    except IntegrityError:
        if client_msg_id:
            original = Message.objects.filter(sender=sender, client_msg_id=client_msg_id).first()
            if original is not None:
                return original
        if new_conversation:
            # Another process created the same direct conversation at the same moment; it
            # exists now, so the next attempt finds it.
            return run_in_transaction(write, lock_key=key)
        raise


def conversation_mark_read(*, user: User, conversation: Conversation, seq: object) -> int:
    """Move `user`'s read marker forward to `seq`; returns the marker (never moves back).

    One update of the conversation document, conditional on the marker being behind `seq`:
    the version advances and the marker takes the new version, atomically."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise errors.SeqInvalid()
    if user.pk not in conversation.participants:
        raise errors.ConversationNotFound()
    if seq > conversation.last_seq:
        raise errors.SeqInvalid()
    if seq <= (current := conversation.last_read_seq(user.pk)):
        return current
    marker = f"read_markers.{user.pk}"
    moved = _conversations().update_one(
        {
            "_id": conversation.pk,
            "participants": user.pk,
            f"{marker}.seq": {"$not": {"$gte": seq}},
        },
        [
            {"$set": {"version": {"$add": ["$version", 1]}, "updated_at": timezone.now()}},
            {"$set": {marker: {"seq": {"$literal": seq}, "version": "$version"}}},
        ],
    )
    if moved.matched_count:
        # The version moved: a send of this process must not start from the kept state.
        conversation_states.forget(conversation.pk, conversation.direct_key)
        messages_read.send(sender=Conversation, conversation=conversation, user=user, seq=seq)
        return seq
    # Moved as far or further meanwhile, or the user is no longer a participant.
    stored = (
        Conversation.objects.filter(pk=conversation.pk, participants__contains=[user.pk])
        .only("read_markers")
        .first()
    )
    if stored is None:
        raise errors.ConversationNotFound()
    return stored.last_read_seq(user.pk)


def _message_set_hidden(*, message: Message, by: User | None, hidden: bool) -> Message:
    def write() -> Message:
        doc = _bump({"_id": message.conversation_id})
        if doc is None:
            raise errors.MessageNotFound()
        message.hidden_at = timezone.now() if hidden else None
        message.hidden_by = by if hidden else None
        message.version = doc["version"]
        Message.objects.filter(pk=message.pk).update(
            hidden_at=message.hidden_at,
            hidden_by=message.hidden_by,
            version=message.version,
            updated_at=timezone.now(),
        )
        transaction.on_commit(lambda: conversation_states.forget(doc["_id"], doc.get("direct_key")))
        transaction.on_commit(
            lambda: message_visibility_changed.send(sender=Message, message=message)
        )
        return message

    return run_in_transaction(write, lock_key=str(message.conversation_id))


def message_hide(*, message: Message, by: User | None) -> Message:
    """Moderation soft-delete: participants see the message as hidden; moderators still can."""
    if message.is_hidden:
        return message
    return _message_set_hidden(message=message, by=by, hidden=True)


def message_unhide(*, message: Message, by: User | None) -> Message:
    if not message.is_hidden:
        return message
    return _message_set_hidden(message=message, by=by, hidden=False)

"""Every write of the messaging app. `message_send` is the only code that creates a message:
the REST API, the `sendMessage` socket event and the admin all call it."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from datetime import timedelta

from bson import Int64, ObjectId
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, connection, transaction
from django.dispatch import Signal
from django.utils import timezone
from emoji import EMOJI_DATA, emojize, is_emoji
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from accounts.models import User
from accounts.selectors import user_ids_active
from accounts.services import DELETED_FULL_NAME
from chatsite.errors import DatabaseUnavailable
from chatsite.mongodb import find_one_and_update
from chatsite.patches.django_mongodb_backend import current_session
from chatsite.signals import send_after_commit
from messaging import errors, files
from messaging.models import Attachment, Conversation, Message, SyncCheckpoint
from messaging.search import message_terms
from messaging.signals import (
    conversation_changed,
    message_changed,
    message_sent_again,
    message_visibility_changed,
    messages_read,
)
from messaging.transactions import run_in_transaction, transaction_turns, turn_timeout

logger = logging.getLogger(__name__)

CLIENT_MSG_ID = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")  # \Z: no newline after
ATTACHMENT_ID = re.compile(r"\A[0-9a-f]{24}\Z")
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


def clean_body(body: object, *, optional: bool = False) -> str:
    """The text of a message, trimmed. `optional` (a message with attachments): no text, or
    text that shows nothing, is "" instead of `message_empty`."""
    if optional and body is None:
        return ""
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
        if optional:
            return ""
        raise errors.MessageEmpty()
    return body


ATTACHMENTS_MAX = 10


def clean_attachment_ids(raw: object) -> list[ObjectId]:
    """At most ATTACHMENTS_MAX attachment ids, in the order given, without duplicates."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise errors.AttachmentNotFound("attachments must be a list of attachment ids.")
    if len(raw) > ATTACHMENTS_MAX:
        raise errors.TooManyAttachments()
    if not all(ATTACHMENT_ID.match(item) for item in raw):
        raise errors.AttachmentNotFound()
    return [ObjectId(item) for item in dict.fromkeys(raw)]


def clean_client_msg_id(client_msg_id: object) -> str | None:
    if client_msg_id is None:
        return None
    if not isinstance(client_msg_id, str) or not CLIENT_MSG_ID.match(client_msg_id):
        raise errors.ClientMsgIdInvalid()
    return client_msg_id


def _conversations():
    return connection.get_collection(Conversation._meta.db_table)


def writer_key(conversation: Conversation) -> str:
    """The one key writers of a conversation take turns on (`run_in_transaction`): the direct
    key of a direct conversation (a first message knows nothing else), else the id."""
    return conversation.direct_key or str(conversation.pk)


def _bump(filter_: dict, update: dict) -> dict | None:
    """In the caller's transaction: apply `update` to the conversation `filter_` finds and
    return it as updated, or None if there is none."""
    return find_one_and_update(_conversations(), filter_, update, session=current_session())


# What a send needs to know of its conversation.
STATE_FIELDS = {"last_seq": 1, "version": 1, "kind": 1, "participants": 1}


def _allocate_seq(conversation_filter: dict, sender_id) -> dict | None:
    """In the caller's transaction: the next seq and version of the conversation
    `conversation_filter` finds, if the sender is one of its participants, with the sender's
    read marker moved to the new seq. Returns the conversation's new state, or None.

    A read, then an update to values computed from it: the transaction makes the pair atomic
    (a concurrent writer's commit in between makes this update conflict, and the transaction
    is tried again). The update sets plain values rather than computing them in an update
    pipeline, which cost the embedded database more than the read (docs/benchmarks.md,
    "Measurements behind the code")."""
    conversations = _conversations()
    session = current_session()
    # By one field (`_id` or `direct_key`), membership checked here: the embedded database
    # served `{direct_key, participants}` without the direct_key index (docs/benchmarks.md,
    # "Measurements behind the code").
    state = conversations.find_one(conversation_filter, STATE_FIELDS, session=session)
    if state is None or sender_id not in state["participants"]:
        return None
    seq, version = state["last_seq"] + 1, state["version"] + 1
    now = timezone.now()
    changes = {
        "last_seq": Int64(seq),
        "version": Int64(version),
        "last_message_at": now,
        "updated_at": now,
        f"read_markers.{sender_id}": {"seq": seq, "version": version},
    }
    conversations.update_one({"_id": state["_id"]}, {"$set": changes}, session=session)
    return {**state, "last_seq": seq, "version": version}


def _create_conversation(fields: dict, sender_id) -> dict:
    """Insert a direct conversation holding its first seq. A duplicate key (the same pair's
    first message from another process at the same moment) is an IntegrityError."""
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
        _conversations().insert_one(document, session=current_session())
    except DuplicateKeyError as error:
        raise IntegrityError(str(error)) from error
    return document


def message_send(
    *,
    sender: User,
    body: object,
    receiver: User | None = None,
    conversation: Conversation | None = None,
    client_msg_id: object = None,
    reply_to: object = None,
    attachments: object = None,
) -> Message:
    """Validate, then in one transaction: allocate the conversation's next seq and move the
    sender's read marker (one update; the first message of a direct pair creates the
    conversation instead), insert the message and claim its attachments. A retry with the same
    `client_msg_id` returns the message stored the first time (as it is now), creates nothing
    and delivers it again (`_sent_again`).

    `reply_to`: the id of the message this one answers, of the same conversation.
    `attachments`: ids of the sender's uploads that no message uses yet (at most 10); with
    them, the text may be empty."""
    if (receiver is None) == (conversation is None):
        raise TypeError("message_send needs exactly one of receiver or conversation")
    attachment_ids = clean_attachment_ids(attachments)
    body = clean_body(body, optional=bool(attachment_ids))
    client_msg_id = clean_client_msg_id(client_msg_id)
    if not sender.is_active:
        raise errors.ConversationNotFound()
    claimed = _own_attachments(sender, attachment_ids)
    if any(attachment.message_id for attachment in claimed):
        # Used already: by the first try of this very send (a retry), or not claimable.
        original = _sent_before(sender, client_msg_id)
        if original is None:
            raise errors.AttachmentNotFound()
        return _sent_again(original)

    if receiver is not None:
        if receiver.pk == sender.pk:
            raise errors.CannotMessageSelf()
        if not receiver.is_active:
            raise errors.ReceiverNotFound()
        key = Conversation.direct_key_for(sender.pk, receiver.pk)
        conversation_filter = {"direct_key": key}
        new_conversation = {
            "kind": Conversation.Kind.DIRECT.value,
            "direct_key": key,
            "participants": sorted([sender.pk, receiver.pk], key=str),
            "title": "",
        }
    else:
        key = writer_key(conversation)
        conversation_filter = {"_id": conversation.pk}
        new_conversation = None
    replied = _reply_target(reply_to, conversation_filter) if reply_to is not None else None
    terms = message_terms(body)

    def write() -> Message:
        state = _allocate_seq(conversation_filter, sender.pk)
        if state is None:
            if new_conversation is None:
                raise errors.ConversationNotFound()
            state = _create_conversation(new_conversation, sender.pk)
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
            reply_to=replied,
            attachment_ids=attachment_ids,
            search_terms=terms,
        )
        # Loaded already: the payload (the answer, `newMessage`) needs no query for them.
        message.attachment_rows = claimed
        message.save()
        if claimed:
            # Still the sender's and unused, in this transaction: of two sends of one upload
            # at once, one conflicts, is tried again and finds it used.
            won = Attachment.objects.filter(
                pk__in=attachment_ids, uploader=sender, message__isnull=True
            ).update(message=message)
            if won != len(claimed):
                raise errors.AttachmentNotFound()
            for attachment in claimed:
                attachment.message = message
        return message

    try:
        return run_in_transaction(write, lock_key=key)
    except IntegrityError:
        if original := _sent_before(sender, client_msg_id):
            return _sent_again(original)
        if new_conversation:
            # Another process created the same direct conversation at the same moment; it
            # exists now, so the next attempt finds it.
            return run_in_transaction(write, lock_key=key)
        raise


def _sent_again(message: Message) -> Message:
    """A retry found `message` stored: it is announced again (`message_sent_again`). The
    process that stored it may have died between the commit and the delivery, and the retry is
    the only news of it left; clients drop the copy they hold already by its `_id`."""
    send_after_commit(message_sent_again, sender=Message, message=message)
    return message


def _sent_before(sender: User, client_msg_id: str | None) -> Message | None:
    if not client_msg_id:
        return None
    return Message.objects.filter(sender=sender, client_msg_id=client_msg_id).first()


def _own_attachments(sender: User, ids: list[ObjectId]) -> list[Attachment]:
    """The attachments `ids` names, in order, each uploaded by `sender`; else
    `attachment_not_found` (another user's upload is not told apart from a missing one)."""
    if not ids:
        return []
    found = Attachment.objects.in_bulk(ids)
    attachments = [found.get(pk) for pk in ids]
    if any(a is None or a.uploader_id != sender.pk for a in attachments):
        raise errors.AttachmentNotFound()
    return attachments


def _reply_target(raw: object, conversation_filter: dict) -> Message:
    """The message `raw` names, if it belongs to the conversation `conversation_filter` finds."""
    pk = raw if isinstance(raw, ObjectId) else None
    if isinstance(raw, str) and re.fullmatch(r"[0-9a-f]{24}", raw):
        pk = ObjectId(raw)
    target = Message.objects.filter(pk=pk).first() if pk else None
    if target is None or not _conversations().count_documents(
        {**conversation_filter, "_id": target.conversation_id}, limit=1
    ):
        raise errors.ReplyNotFound()
    return target


class _MarkerBatch:
    """Read markers of one conversation waiting to be written together."""

    def __init__(self):
        self.seqs: dict = {}  # user id -> seq
        self.written = threading.Event()
        self.stored: dict | None = None  # the conversation's members and markers, as written
        self.error: BaseException | None = None


# Conversation id -> the batch its next marker write takes (this process).
_marker_batches: dict = {}
_marker_batches_lock = threading.Lock()


def conversation_mark_read(*, user: User, conversation: Conversation, seq: object) -> int:
    """Move `user`'s read marker forward to `seq`; returns the marker (never moves back).

    One update of the conversation document moves the markers of every member of it who marks
    read at the same moment (in this process): the first of them waits for the conversation's
    writer turn, the others join its batch meanwhile. Each marker moves only if it is behind
    its seq and its user still a member; the version advances once and the markers that moved
    take it. In a busy group hundreds of members mark read after each message: one update for
    them all, in turn with the sends, instead of hundreds conflicting with the sends' own
    updates (docs/benchmarks.md, "Group fan-out (S8)")."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise errors.SeqInvalid()
    if user.pk not in conversation.participants:
        raise errors.ConversationNotFound()
    if seq > conversation.last_seq:
        raise errors.SeqInvalid()
    if seq <= (current := conversation.last_read_seq(user.pk)):
        return current
    with _marker_batches_lock:
        batch = _marker_batches.get(conversation.pk)
        leader = batch is None
        if leader:
            batch = _marker_batches[conversation.pk] = _MarkerBatch()
        batch.seqs[user.pk] = max(seq, batch.seqs.get(user.pk, 0))
    if leader:
        _write_markers(conversation, batch)
    elif not batch.written.wait(2 * turn_timeout()):  # the leader's turn, then its write
        raise DatabaseUnavailable()
    if batch.error is not None:
        raise batch.error
    marker = (batch.stored or {}).get("read_markers", {}).get(str(user.pk))
    if batch.stored is None or user.pk not in batch.stored["participants"] or marker is None:
        raise errors.ConversationNotFound()
    # Moved by this batch (or to the same seq by the user's other tab meanwhile: one more
    # `messagesRead`, which clients take as the same news).
    if marker["seq"] == seq and marker["version"] > conversation.version:
        send_after_commit(
            messages_read, sender=Conversation, conversation=conversation, user=user, seq=seq
        )
    return marker["seq"]


def _write_markers(conversation: Conversation, batch: _MarkerBatch) -> None:
    """The leader's part: in the conversation's writer turn, read the markers, then move in one
    update those still behind (by `_id` alone: a filter with more conditions is a collection scan
    on the embedded database). Each move is conditional in the update too, for writers of other
    processes. Fails the batch, followers included, when the turn doesn't come in time."""
    lock = transaction_turns().writer_lock(writer_key(conversation))
    try:
        if not lock.acquire(timeout=turn_timeout()):
            raise DatabaseUnavailable()
        try:
            _detach(conversation.pk, batch)  # later markers start the next batch
            conversations = _conversations()
            state = conversations.find_one(
                {"_id": conversation.pk}, {"version": 1, "participants": 1, "read_markers": 1}
            )
            if state is None:
                raise errors.ConversationNotFound()
            markers = state.setdefault("read_markers", {})
            moving = {
                user_id: seq
                for user_id, seq in batch.seqs.items()
                if user_id in state["participants"]
                and markers.get(str(user_id), {}).get("seq", -1) < seq
            }
            if moving:
                conversations.update_one(
                    {"_id": conversation.pk},
                    [
                        {
                            "$set": {
                                "version": {"$add": ["$version", 1]},
                                "updated_at": timezone.now(),
                            }
                        },
                        {
                            "$set": {
                                f"read_markers.{u}": _marker_move(u, seq)
                                for u, seq in moving.items()
                            }
                        },
                    ],
                )
                for user_id, seq in moving.items():
                    markers[str(user_id)] = {"seq": seq, "version": state["version"] + 1}
            batch.stored = state
        finally:
            lock.release()
    except BaseException as error:
        batch.error = error
    finally:
        _detach(conversation.pk, batch)
        batch.written.set()


def _marker_move(user_id, seq: int) -> dict:
    """The marker at `seq` under the new version, unless it is there or further already."""
    return {
        "$cond": [
            {"$lt": [{"$ifNull": [f"$read_markers.{user_id}.seq", -1]}, seq]},
            {"seq": {"$literal": seq}, "version": "$version"},
            f"$read_markers.{user_id}",
        ]
    }


def _detach(conversation_id, batch: _MarkerBatch) -> None:
    with _marker_batches_lock:
        if _marker_batches.get(conversation_id) is batch:
            del _marker_batches[conversation_id]


# --- changes to a stored message -------------------------------------------------------------
#
# Edit, delete, reactions and moderation (hide/unhide) change a message in place. Each is one
# transaction that reads the message as stored, decides, and writes the change with the
# conversation's next version, so `/api/sync` hands it out exactly once; the event follows the
# commit. A change that changes nothing (the same text again, a reaction already there, a
# second delete) writes nothing and announces nothing: a retry is harmless.

EDIT_HISTORY_MAX = 50
REACTIONS_MAX = 20
REPLY_PREVIEW_LENGTH = 100


def _message_change(
    *,
    message: Message,
    actor: User | None,
    decide: Callable[[Message], dict | None],
    signal: Signal,
    **announce,
) -> Message:
    """In one transaction: read `message` as stored, let `decide(stored)` return the fields to
    change (or None: nothing to do; or raise), take the conversation's next version (`actor`,
    unless None — a moderator — must still be a participant) and write the fields with it.
    After the commit, `signal` is sent with the message as stored and `announce`. Returns the
    message as stored."""
    # Loaded with the message by `selectors.message_get_for_user` (the admin's hide: a query).
    key = writer_key(message.conversation)

    def write() -> Message:
        stored = Message.objects.filter(pk=message.pk).first()
        if stored is None:
            raise errors.MessageNotFound()
        changes = decide(stored)
        if not changes:
            return stored
        conversations = _conversations()
        session = current_session()
        state = conversations.find_one(
            {"_id": stored.conversation_id}, {"version": 1, "participants": 1}, session=session
        )
        if state is None or (actor is not None and actor.pk not in state["participants"]):
            raise errors.MessageNotFound()
        now = timezone.now()
        changes.update(version=state["version"] + 1, updated_at=now)
        conversations.update_one(
            {"_id": state["_id"]},
            {"$set": {"version": Int64(changes["version"]), "updated_at": now}},
            session=session,
        )
        Message.objects.filter(pk=stored.pk).update(**changes)
        for field, value in changes.items():
            setattr(stored, field, value)
        send_after_commit(signal, sender=Message, message=stored, **announce)
        return stored

    return run_in_transaction(write, lock_key=key)


def _terms_of(message: Message) -> list[str]:
    """What search finds `message` by as it is: nothing for a system or deleted message."""
    if message.system is not None or message.is_deleted:
        return []
    return message_terms(message.body)


def _set_hidden(hidden: bool, by: User | None) -> Callable[[Message], dict | None]:
    def decide(stored: Message) -> dict | None:
        if stored.is_hidden == hidden:
            return None
        now = timezone.now()
        return {
            "hidden_at": now if hidden else None,
            "hidden_by": by if hidden else None,
            # A hidden message is found by nobody; unhidden, by its words again.
            "search_terms": [] if hidden else _terms_of(stored),
        }

    return decide


def message_hide(*, message: Message, by: User | None) -> Message:
    """Moderation soft-delete: participants see the message as hidden; moderators still can."""
    return _message_change(
        message=message, actor=None, decide=_set_hidden(True, by), signal=message_visibility_changed
    )


def message_unhide(*, message: Message, by: User | None) -> Message:
    return _message_change(
        message=message,
        actor=None,
        decide=_set_hidden(False, by),
        signal=message_visibility_changed,
    )


def _check_authors_message(stored: Message, user: User) -> None:
    """What the author may still change: not a system message, nor one a moderator hid."""
    if stored.sender_id != user.pk:
        raise errors.MessageNotFound()
    if stored.system is not None:
        raise errors.SystemMessage()
    if stored.is_hidden:
        raise errors.MessageHiddenByModerator()


def message_edit(*, message: Message, user: User, body: object) -> Message:
    """The author replaces the text, within `MESSAGE_EDIT_WINDOW_SECONDS` of sending (0: any
    time). The text it replaces goes to the edit history, which only moderators see."""
    body = clean_body(body)
    window = settings.CHAT["MESSAGE_EDIT_WINDOW_SECONDS"]

    def decide(stored: Message) -> dict | None:
        _check_authors_message(stored, user)
        if stored.is_deleted:
            raise errors.MessageDeleted()
        now = timezone.now()
        if window and now - stored.created_at > timedelta(seconds=window):
            raise errors.EditWindowPassed()
        if stored.body == body:
            return None
        replaced = {"body": stored.body, "replacedAt": now.isoformat()}
        history = [*(stored.edit_history or []), replaced]
        if len(history) > EDIT_HISTORY_MAX:
            raise errors.EditLimitReached()
        return {
            "body": body,
            "edited_at": now,
            "edit_history": history,
            "search_terms": message_terms(body),
        }

    return _message_change(
        message=message, actor=user, decide=decide, signal=message_changed, action="edited"
    )


def message_delete(*, message: Message, user: User) -> Message:
    """The author deletes the message for everyone: it keeps its seq as a tombstone, and its
    text, edit history, reactions and attachments (their files too) are erased (moderators
    can't see them either)."""

    def decide(stored: Message) -> dict | None:
        _check_authors_message(stored, user)
        if stored.is_deleted:
            return None
        if stored.attachment_ids:
            _attachments_erase(Attachment.objects.filter(message=stored))
        return {
            "deleted_at": timezone.now(),
            "body": "",
            "edit_history": [],
            "reactions": [],
            "attachment_ids": [],
            "search_terms": [],
        }

    return _message_change(
        message=message, actor=user, decide=decide, signal=message_changed, action="deleted"
    )


# --- attachments ------------------------------------------------------------------------------
#
# An upload is stored at once (its files through the attachments storage, then its row) and
# belongs to its uploader until `message_send` claims it in the send's transaction. Files live
# outside the database's transactions (GridFS has none; another storage neither), so their
# rows go first and the files after the commit: a row never names a missing file for longer
# than that.


def attachment_upload(*, uploader: User, upload: File) -> Attachment:
    """Check and store one uploaded file (a Django `UploadedFile`): its type read from the bytes
    (`messaging.files`), an image stored without its metadata and with a thumbnail. Nothing is
    stored when any step fails."""
    limit = settings.CHAT["ATTACHMENT_MAX_BYTES"]
    if upload.size > limit:
        raise errors.AttachmentTooLarge(f"The file is larger than {limit} bytes.")
    if not upload.size:
        raise errors.AttachmentTypeNotAllowed("The file is empty.")
    inspected = files.inspect_upload(
        upload,
        name=files.clean_file_name(upload.name),
        max_pixels=settings.CHAT["ATTACHMENT_MAX_PIXELS"],
    )
    content = upload if inspected.data is None else ContentFile(inspected.data)
    digest, size = hashlib.sha256(), 0
    content.seek(0)
    for chunk in content.chunks():
        digest.update(chunk)
        size += len(chunk)
    attachment = Attachment(
        uploader=uploader,
        name=inspected.name,
        size=size,
        content_type=inspected.content_type,
        width=inspected.width,
        height=inspected.height,
        sha256=digest.hexdigest(),
    )
    try:
        attachment.file.save(inspected.name, content, save=False)
        if inspected.thumbnail is not None:
            attachment.thumbnail.save(
                f"thumbnail.{inspected.thumbnail_extension}",
                ContentFile(inspected.thumbnail),
                save=False,
            )
        attachment.save()
    except BaseException:
        _attachment_files_delete([attachment])
        raise
    return attachment


def _attachment_files_delete(attachments) -> None:
    for attachment in attachments:
        for field in (attachment.file, attachment.thumbnail):
            if field.name:
                try:
                    field.storage.delete(field.name)
                except Exception:
                    logger.exception("could not delete the attachment file %s", field.name)


def _attachments_erase(queryset) -> None:
    """Delete the rows `queryset` finds (in the caller's transaction) and, once it commits,
    their files."""
    doomed = list(queryset)
    if doomed:
        Attachment.objects.filter(pk__in=[a.pk for a in doomed]).delete()
        transaction.on_commit(lambda: _attachment_files_delete(doomed), robust=True)


def attachments_purge_unused(*, older_than: timedelta | None = None) -> int:
    """Delete the uploads that no message took within `older_than` (ATTACHMENT_UNUSED_SECONDS,
    a day by default), files and all; returns how many. Safe beside sends and other processes
    purging: a row is deleted only while still unused, and its files only by whoever deleted
    it."""
    if older_than is None:
        older_than = timedelta(seconds=settings.CHAT["ATTACHMENT_UNUSED_SECONDS"])
    cutoff = timezone.now() - older_than
    purged = 0
    for attachment in Attachment.objects.filter(message__isnull=True, created_at__lt=cutoff):
        deleted, _ = Attachment.objects.filter(pk=attachment.pk, message__isnull=True).delete()
        if deleted:
            _attachment_files_delete([attachment])
            purged += 1
    return purged


def attachment_delete(*, attachment: Attachment) -> None:
    """A moderator deletes an attachment (the admin): its message, if any, no longer carries
    it (participants get `messageUpdated`), and its files are deleted."""
    if attachment.message_id is None:
        if Attachment.objects.filter(pk=attachment.pk).delete()[0]:
            _attachment_files_delete([attachment])
        return
    message = Message.objects.get(pk=attachment.message_id)

    def decide(stored: Message) -> dict | None:
        _attachments_erase(Attachment.objects.filter(pk=attachment.pk))
        if attachment.pk not in (stored.attachment_ids or []):
            return None
        return {"attachment_ids": [pk for pk in stored.attachment_ids if pk != attachment.pk]}

    _message_change(
        message=message, actor=None, decide=decide, signal=message_changed, action="edited"
    )


SHORT_NAME = re.compile(r"\A:?([A-Za-z0-9_+-]{1,60}):?\Z")


def clean_emoji(raw: object) -> str:
    """One emoji, given as itself or by its short name (`thumbs_up`, `:+1:`: the CLDR names and
    aliases the `emoji` package knows), in one form per emoji (`❤` and `❤️` are one reaction)."""
    if not isinstance(raw, str) or len(raw) > 64:
        raise errors.EmojiInvalid()
    if name := SHORT_NAME.match(raw):
        raw = emojize(f":{name.group(1)}:", language="alias")
    if not is_emoji(raw):
        raise errors.EmojiInvalid()
    return emojize(EMOJI_DATA[raw]["en"])


def _reacting(user: User, shown: str, add: bool) -> Callable[[Message], dict | None]:
    me = str(user.pk)

    def decide(stored: Message) -> dict | None:
        if stored.is_deleted:
            raise errors.MessageDeleted()
        if stored.is_hidden:
            raise errors.MessageHiddenByModerator()
        reactions = [dict(r, userIds=list(r["userIds"])) for r in stored.reactions or []]
        entry = next((r for r in reactions if r["emoji"] == shown), None)
        if add:
            if entry is None:
                if len(reactions) >= REACTIONS_MAX:
                    raise errors.TooManyReactions()
                reactions.append(entry := {"emoji": shown, "userIds": []})
            if me in entry["userIds"]:
                return None
            entry["userIds"].append(me)
        else:
            if entry is None or me not in entry["userIds"]:
                return None
            entry["userIds"].remove(me)
            if not entry["userIds"]:
                reactions.remove(entry)
        return {"reactions": reactions}

    return decide


def message_react(*, message: Message, user: User, emoji: object) -> Message:
    """Add the user's reaction `emoji` (one per user per emoji; at most 20 emoji a message)."""
    return _set_reaction(message, user, emoji, added=True)


def message_unreact(*, message: Message, user: User, emoji: object) -> Message:
    return _set_reaction(message, user, emoji, added=False)


def _set_reaction(message: Message, user: User, emoji: object, *, added: bool) -> Message:
    shown = clean_emoji(emoji)
    return _message_change(
        message=message,
        actor=user,
        decide=_reacting(user, shown, add=added),
        signal=message_changed,
        action="reactions",
        user=user,
        emoji=shown,
        added=added,
    )


def sync_checkpoint_create(*, user: User, versions: dict[str, int]) -> str:
    """Store the conversation versions a client has seen; returns the cursor that names them."""
    return str(SyncCheckpoint.objects.create(user=user, versions=versions).pk)


# --- groups -----------------------------------------------------------------------------------
#
# A group is a conversation of kind "group" with a name, an owner, admins and 2 to
# GROUP_MAX_MEMBERS members. Each change of its name or members is one transaction that updates
# the conversation and appends a system message with the conversation's next seq and version,
# so every client orders it with the messages and `/api/sync` returns it. Events follow from
# the commit: `newMessage` for the system message (to the members after the change) and
# `conversation_changed` (realtime: `conversationUpdated`, `removedFromConversation` to
# whoever is no longer a member, presence between new members and the others). A removed
# member no longer reads the group at all.

ROLES = ("member", "admin", "owner")


GROUP_NAME_MAX_LENGTH = 100


def clean_group_name(name: object) -> str:
    """As a message's text (`clean_body`), at most 100 characters as sent."""
    if not isinstance(name, str) or "\x00" in name or SURROGATE.search(name):
        raise errors.GroupNameInvalid()
    if len(name) > GROUP_NAME_MAX_LENGTH:
        raise errors.GroupNameInvalid()
    name = name.strip()
    if not name or _invisible(name):
        raise errors.GroupNameInvalid()
    return name


def _active_user_ids(raw_ids: object) -> list:
    """The ids, in the order given, without duplicates; each an active user, else
    UserNotFound naming the first that isn't."""
    if not isinstance(raw_ids, list):
        raise errors.UserNotFound()
    ids = list(dict.fromkeys(_user_id(raw) for raw in raw_ids))
    if len(ids) > settings.CHAT["GROUP_MAX_MEMBERS"]:
        raise errors.TooManyMembers()
    active = user_ids_active(str(user_id) for user_id in ids)
    for user_id in ids:
        if str(user_id) not in active:
            raise errors.UserNotFound(user_id)
    return ids


def _user_id(raw: object):
    if isinstance(raw, ObjectId):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"[0-9a-f]{24}", raw):
        return ObjectId(raw)
    raise errors.UserNotFound(raw if isinstance(raw, str) and len(raw) <= 64 else None)


def _shown_name(user: User) -> str:
    """How a system line names a person: their username, or "Deleted user" once their account
    is being deleted (the username is free again, and a new account may take it)."""
    return DELETED_FULL_NAME if user.deleted_at is not None else user.username


def _names(user_ids, known: dict | None = None) -> str:
    shown = {str(pk): name for pk, name in (known or {}).items()}
    missing = [ObjectId(i) for i in map(str, user_ids) if i not in shown and ObjectId.is_valid(i)]
    for user in User.objects.filter(pk__in=missing):
        shown[str(user.pk)] = _shown_name(user)
    names = [shown.get(str(user_id), "someone") for user_id in user_ids]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


ROLE_WORDS = {"owner": "the owner", "admin": "an admin", "member": "a member"}


def system_text(system: dict, *, moderator: bool = False, known: dict | None = None) -> str:
    """The English `body` of a system line from what it records (`system`), naming people as
    they are shown now (`_shown_name`). `known`: names already at hand, by user id."""
    action, user_ids = system["action"], system.get("userIds", [])
    actor = _names([system["actorId"]], known)
    if action == "created":
        return f"{actor} created the group {system['name']}"
    if action == "renamed":
        return f"{actor} renamed the group to {system['name']}"
    if action == "added":
        return f"{actor} added {_names(user_ids, known)}"
    if action == "left":
        return f"{actor} left"
    if action == "removed":
        return f"{'a moderator' if moderator else actor} removed {_names(user_ids, known)}"
    return f"{actor} made {_names(user_ids, known)} {ROLE_WORDS[system['role']]}"


def _group_change(
    *,
    conversation: Conversation,
    actor: User,
    change,
    system: dict,
    moderator: bool = False,
) -> Conversation:
    """In one transaction: read the group's current state, let `change(state)` return the
    `$set` (and `$unset`) of the conversation update (or raise), apply it in one update with
    the next seq and version (the actor's marker moves to it), and append the system message.
    Returns the group as stored. A `moderator` (from the admin) need not be a member."""
    system = {**system, "actorId": str(actor.pk)}
    text = system_text(system, moderator=moderator, known={actor.pk: _shown_name(actor)})

    def write() -> Conversation:
        conversations = _conversations()
        session = current_session()
        state = conversations.find_one(
            {"_id": conversation.pk, "kind": Conversation.Kind.GROUP.value}, session=session
        )
        if state is None or not (moderator or actor.pk in state["participants"]):
            raise errors.ConversationNotFound()
        update = change(state)
        seq, version = state["last_seq"] + 1, state["version"] + 1
        now = timezone.now()
        changes = update.setdefault("$set", {})
        changes.update(
            last_seq=Int64(seq), version=Int64(version), last_message_at=now, updated_at=now
        )
        members = changes.get("participants", state["participants"])
        removed = [p for p in state["participants"] if p not in members]
        added = [p for p in members if p not in state["participants"]]
        if actor.pk in members:  # the actor has read their own change
            changes[f"read_markers.{actor.pk}"] = {"seq": seq, "version": version}
        conversations.update_one({"_id": conversation.pk}, update, session=session)
        Message(
            conversation_id=conversation.pk,
            sender=actor,
            body=text,
            system=system,
            seq=seq,
            version=version,
            search_terms=[],  # found by what people wrote, not by who joined
        ).save()
        stored = Conversation.objects.get(pk=conversation.pk)
        send_after_commit(
            conversation_changed,
            sender=Conversation,
            conversation=stored,
            added_user_ids=added,
            removed_user_ids=removed,
        )
        return stored

    return run_in_transaction(write, lock_key=writer_key(conversation))


def _require_admin(state: dict, actor: User) -> None:
    if actor.pk != state.get("owner_id") and actor.pk not in state.get("admins", []):
        raise errors.GroupAdminRequired()


def group_create(*, creator: User, name: object, member_ids: object) -> Conversation:
    """A new group named `name` with the creator (its owner) and `member_ids`."""
    name = clean_group_name(name)
    others = [p for p in _active_user_ids(member_ids) if p != creator.pk]
    if not others:
        raise errors.TooFewMembers()
    members = [creator.pk, *others]
    if len(members) > settings.CHAT["GROUP_MAX_MEMBERS"]:
        raise errors.TooManyMembers()
    system = {
        "action": "created",
        "actorId": str(creator.pk),
        "userIds": [str(p) for p in members],
        "name": name,
    }
    text = system_text(system, known={creator.pk: _shown_name(creator)})

    def write() -> Conversation:
        now = timezone.now()
        conversation = Conversation(
            kind=Conversation.Kind.GROUP,
            title=name,
            participants=members,
            owner=creator,
            admins=[],
            last_seq=1,
            version=1,
            last_message_at=now,
            read_markers={str(creator.pk): {"seq": 1, "version": 1}},
        )
        conversation.save()
        Message(
            conversation=conversation,
            sender=creator,
            body=text,
            system=system,
            seq=1,
            version=1,
            search_terms=[],
        ).save()
        send_after_commit(
            conversation_changed,
            sender=Conversation,
            conversation=conversation,
            added_user_ids=members,
            removed_user_ids=[],
        )
        return conversation

    # A new group has no other writer yet: its own key is as good as any.
    return run_in_transaction(write, lock_key=f"new group of {creator.pk}")


def group_rename(*, conversation: Conversation, actor: User, name: object) -> Conversation:
    name = clean_group_name(name)

    def change(state: dict) -> dict:
        _require_admin(state, actor)
        return {"$set": {"title": name}}

    return _group_change(
        conversation=conversation,
        actor=actor,
        change=change,
        system={"action": "renamed", "userIds": [], "name": name},
    )


def group_members_add(*, conversation: Conversation, actor: User, user_ids: object) -> Conversation:
    """Add the users (duplicates and current members are ignored)."""
    ids = [p for p in _active_user_ids(user_ids) if p not in conversation.participants]

    def change(state: dict) -> dict:
        _require_admin(state, actor)
        new = [p for p in ids if p not in state["participants"]]
        members = state["participants"] + new
        if len(members) > settings.CHAT["GROUP_MAX_MEMBERS"]:
            raise errors.TooManyMembers()
        # What was said before they joined doesn't count as unread for them.
        joined = {"seq": state["last_seq"], "version": state["version"] + 1}
        return {"$set": {"participants": members, **{f"read_markers.{p}": joined for p in new}}}

    if not ids:  # all of them members already
        if actor.pk not in conversation.participants:
            raise errors.ConversationNotFound()
        return conversation
    return _group_change(
        conversation=conversation,
        actor=actor,
        change=change,
        system={"action": "added", "userIds": [str(p) for p in ids]},
    )


def _without(state: dict, user_id) -> dict:
    """The update that takes `user_id` out of the group: members, admins, marker, ownership
    (to the first admin, else the longest-standing member); the last one out archives it."""
    members = [p for p in state["participants"] if p != user_id]
    admins = [p for p in state.get("admins", []) if p != user_id]
    owner = state.get("owner_id")
    update = {"$set": {"participants": members, "admins": admins}}
    update["$unset"] = {f"read_markers.{user_id}": ""}
    if owner == user_id:
        owner = admins[0] if admins else (members[0] if members else None)
        update["$set"]["owner_id"] = owner
        update["$set"]["admins"] = [p for p in admins if p != owner]
    if not members:
        update["$set"]["archived_at"] = timezone.now()
    return update


def group_member_remove(
    *, conversation: Conversation, actor: User, user_id: object, moderator: bool = False
) -> Conversation:
    """The owner removes anyone; an admin removes members who are neither owner nor admin;
    anyone removes themselves (leaving); a `moderator` (the admin, with the
    `messaging.remove_member` permission, checked by the caller) removes anyone."""
    target = _user_id(user_id)
    leaving = target == actor.pk

    def change(state: dict) -> dict:
        if target not in state["participants"]:
            raise errors.MemberNotFound()
        if not leaving and not moderator:
            _require_admin(state, actor)
            protected = target == state.get("owner_id") or target in state.get("admins", [])
            if protected and actor.pk != state.get("owner_id"):
                raise errors.GroupOwnerRequired()
        return _without(state, target)

    system = {"action": "left" if leaving else "removed", "userIds": [str(target)]}
    return _group_change(
        conversation=conversation,
        actor=actor,
        change=change,
        system=system,
        moderator=moderator,
    )


def group_member_set_role(
    *, conversation: Conversation, actor: User, user_id: object, role: object
) -> Conversation:
    """The owner makes a member an admin or a plain member again, or hands over ownership (the
    old owner stays on as an admin)."""
    if role not in ROLES:
        raise errors.RoleInvalid()
    target = _user_id(user_id)

    def change(state: dict) -> dict:
        if actor.pk != state.get("owner_id"):
            raise errors.GroupOwnerRequired()
        if target not in state["participants"]:
            raise errors.MemberNotFound()
        admins = [p for p in state.get("admins", []) if p != target]
        if role == "owner":
            if target == actor.pk:
                return {"$set": {}}
            return {"$set": {"owner_id": target, "admins": [*admins, actor.pk]}}
        if target == actor.pk:
            raise errors.GroupOwnerRequired("Hand ownership over to another member first.")
        return {"$set": {"admins": [*admins, target] if role == "admin" else admins}}

    return _group_change(
        conversation=conversation,
        actor=actor,
        change=change,
        system={"action": "role_changed", "userIds": [str(target)], "role": role},
    )


# --- a deleted account (accounts.services.user_delete sends `user_deleting`) ------------------

ERASE_BATCH = 200


def user_data_erase(*, user: User) -> int:
    """What a deleted account leaves in messaging: they leave every group (as if they had
    left: ownership passes on, a "Deleted user left" line in its history), every message they
    wrote is erased as their own delete would (text, edit history, reactions on it,
    attachments and their files; the tombstone keeps its place, attributed to the anonymised
    "Deleted user"), the group system lines that name them say "Deleted user" instead (their
    username is free for someone else), their unsent uploads and sync cursors go. Their
    reactions on others' messages and their place in direct conversations stay, under
    "Deleted user". Returns how many messages were erased. `user.deleted_at` is set (the
    account's deletion has begun): the system lines name them by it."""
    groups = Conversation.objects.filter(
        participants__contains=[user.pk], kind=Conversation.Kind.GROUP
    )
    group_ids = []
    for group in list(groups):
        group_ids.append(group.pk)
        with contextlib.suppress(errors.MemberNotFound):  # left meanwhile
            group_member_remove(conversation=group, actor=user, user_id=user.pk)
    erased = messages_erase_of_sender(user=user)
    system_lines_rename(user=user, conversation_ids=group_ids)
    _attachments_erase(Attachment.objects.filter(message__isnull=True, uploader=user))
    SyncCheckpoint.objects.filter(user=user).delete()
    # Once more, last: a send that was under way on another process when the sessions ended
    # (the news takes milliseconds with Redis, up to the recheck interval without) may have
    # been stored after the first pass. Usually one query that finds nothing.
    return erased + messages_erase_of_sender(user=user)


def system_lines_rename(*, user: User, conversation_ids: list) -> int:
    """Say the system lines that name `user` (as actor or in `userIds`) again from what they
    record (`system_text`), now that the account is being deleted: found among the lines they
    caused (by sender) and the system lines of `conversation_ids` and of the groups where they
    caused one. Each rewritten line takes a new version (`/api/sync` hands it out again).
    Returns how many lines changed."""
    uid = str(user.pk)
    own = Message.objects.filter(sender=user, system__isnull=False)
    conversations = set(conversation_ids) | set(own.values_list("conversation_id", flat=True))
    lines = Message.objects.filter(conversation_id__in=list(conversations), system__isnull=False)
    changes: dict = {}
    for line in lines.only("pk", "conversation_id", "body", "system"):
        system = line.system or {}
        if system.get("actorId") != uid and uid not in system.get("userIds", []):
            continue
        body = system_text(system, moderator=line.body.startswith("a moderator "))
        if body != line.body:
            changes.setdefault(line.conversation_id, {})[line.pk] = {"body": body}
    for conversation_id, updates in changes.items():
        _update_in_conversation(conversation_id, updates, only_if={})
    return sum(len(updates) for updates in changes.values())


def messages_erase_of_sender(*, user: User, batch: int = ERASE_BATCH) -> int:
    """Erase every message `user` wrote, `batch` at a time: per conversation of a batch, one
    transaction takes a version per message (so `/api/sync` hands each tombstone out exactly
    once) and writes them in one bulk update. Memory stays bounded by `batch`; no event is
    sent per message (there can be many): clients see the tombstones when they next sync or
    load the history."""
    erased = 0
    while True:
        page = list(
            Message.objects.filter(sender=user, deleted_at__isnull=True, system__isnull=True)
            .order_by("-created_at")
            .values_list("pk", "conversation_id")[:batch]
        )
        if not page:
            return erased
        by_conversation: dict = {}
        for pk, conversation_id in page:
            by_conversation.setdefault(conversation_id, []).append(pk)
        for conversation_id, ids in by_conversation.items():
            _erase_in_conversation(conversation_id, ids)
        erased += len(page)


ERASED = {"body": "", "edit_history": [], "reactions": [], "attachment_ids": [], "search_terms": []}


def _erase_in_conversation(conversation_id, ids: list) -> None:
    changes = {pk: {**ERASED, "deleted_at": None} for pk in ids}  # `deleted_at` set below
    _update_in_conversation(
        conversation_id,
        changes,
        only_if={"deleted_at": None},
        also=lambda: _attachments_erase(Attachment.objects.filter(message__in=ids)),
    )


def _update_in_conversation(
    conversation_id, changes: dict, *, only_if: dict, also: Callable[[], None] | None = None
) -> None:
    """In one transaction: each message of `changes` (pk → fields to set; a `deleted_at` key
    is set to now) takes the conversation's next version; one bulk write (each update only
    where `only_if` holds), the conversation's version moves past them, then `also()`."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    messages = connection.get_collection(Message._meta.db_table)

    def write() -> None:
        session = current_session()
        state = _conversations().find_one({"_id": conversation_id}, {"version": 1}, session=session)
        version = state["version"] if state else 0
        now = timezone.now()
        updates = []
        for pk, fields in changes.items():
            version += 1
            fields = {**fields, "version": Int64(version), "updated_at": now}
            if "deleted_at" in fields:
                fields["deleted_at"] = now
            updates.append(UpdateOne({"_id": pk, **only_if}, {"$set": fields}))
        messages.bulk_write(updates, ordered=False, session=session)
        if state is not None:
            _conversations().update_one(
                {"_id": conversation_id},
                {"$set": {"version": Int64(version), "updated_at": now}},
                session=session,
            )
        if also is not None:
            also()

    key = writer_key(conversation) if conversation is not None else str(conversation_id)
    run_in_transaction(write, lock_key=key)

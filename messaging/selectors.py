"""Every read of the messaging app. Each one checks that the caller is a participant: other
users get 404, so conversation ids can't be probed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from functools import reduce
from operator import or_

from bson import ObjectId
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.selectors import is_ascii_number, user_is_active
from chatsite.errors import ValidationFailed
from chatsite.mongodb import find_ids_holding_all
from messaging import errors
from messaging.models import (
    NAMED_MEMBERS,
    Attachment,
    Conversation,
    Message,
    SyncCheckpoint,
    shown_username,
)
from messaging.search import match_ranges, query_terms

SYNC_BATCH = 500


OBJECT_ID = re.compile(r"\A[0-9a-f]{24}\Z")


def object_id(raw: object, error: type[Exception]) -> ObjectId:
    """The id the client sent, as the API writes ids: 24 lowercase hex digits (`ObjectId` would
    also take upper case, which the schema's pattern refuses)."""
    if isinstance(raw, ObjectId):
        return raw
    if not isinstance(raw, str) or not OBJECT_ID.match(raw):
        raise error()
    return ObjectId(raw)


SEQ_MAX = 10**12 - 1


def parse_seq(raw: str | None, name: str) -> int | None:
    """A query's `before`/`after`: ASCII digits only (see `parse_limit`), at most `SEQ_MAX`."""
    if raw is None:
        return None
    if not is_ascii_number(raw) or len(raw) > 12:
        raise ValidationFailed(f"{name} must be a whole number.", fields={name: ["invalid"]})
    return int(raw)


def user_get_active(*, user_id: object) -> User:
    """An active user to send to. Only `pk` and `is_active` are loaded (other fields are
    deferred: Django reads them on first use); see `accounts.selectors.user_is_active`."""
    pk = object_id(user_id, errors.ReceiverNotFound)
    if not user_is_active(pk):
        raise errors.ReceiverNotFound()
    return User.from_db(connection.alias, ["id", "is_active"], [pk, True])


def conversation_get_for_user(*, user: User, conversation_id: object) -> Conversation:
    pk = object_id(conversation_id, errors.ConversationNotFound)
    conversation = Conversation.objects.filter(pk=pk, participants__contains=[user.pk]).first()
    if conversation is None:
        raise errors.ConversationNotFound()
    return conversation


def message_get_for_user(*, user: User, message_id: object) -> Message:
    """A message of one of the user's conversations, else `message_not_found`."""
    pk = object_id(message_id, errors.MessageNotFound)
    message = Message.objects.filter(pk=pk).first()
    conversations = Conversation.objects.filter(participants__contains=[user.pk])
    conversation = (
        conversations.filter(pk=message.conversation_id).only("direct_key").first()
        if message
        else None
    )
    if conversation is None:
        raise errors.MessageNotFound()
    message.conversation = conversation  # what a change needs of it (`services.writer_key`)
    return message


def contact_ids_for_user(*, user_id: object) -> set[str]:
    """Ids of the users who share a conversation with this one (its presence audience)."""
    me = object_id(user_id, errors.ConversationNotFound)
    # Asked on every socket connect and disconnect, so through the driver: as an ORM query its
    # query building costs more of this process's CPU than the read (measured:
    # docs/benchmarks.md, "Measurements behind the code").
    conversations = connection.get_collection(Conversation._meta.db_table)
    rows = conversations.find({"participants": me}, {"participants": 1, "_id": 0})
    return {str(p) for row in rows for p in row["participants"] if p != me}


def contact_ids_among(*, user_id: object, user_ids) -> set[ObjectId]:
    """Which of `user_ids` share a conversation with this user: one query on the
    `participants` index, reading only the conversations that hold both."""
    me = object_id(user_id, errors.UserNotFound)
    ids = [object_id(pk, errors.UserNotFound) for pk in user_ids]
    if not ids:
        return set()
    conversations = connection.get_collection(Conversation._meta.db_table)
    query = {"$and": [{"participants": me}, {"participants": {"$in": ids}}]}
    rows = conversations.find(query, {"participants": 1, "_id": 0})
    wanted = set(ids)
    return {p for row in rows for p in row["participants"] if p in wanted}


def contact_ids_for_users(*, user_ids, excluding_conversation_id=None) -> dict[str, set[str]]:
    """For each of these users, the ids of the users who share a conversation with them (all
    of them in one query); `excluding_conversation_id` leaves that conversation out (say, the
    contacts they had before joining it)."""
    ids = [object_id(user_id, errors.UserNotFound) for user_id in user_ids]
    contacts: dict[str, set[str]] = {str(user_id): set() for user_id in ids}
    query: dict = {"participants": {"$in": ids}}
    if excluding_conversation_id is not None:
        query["_id"] = {"$ne": object_id(excluding_conversation_id, errors.ConversationNotFound)}
    conversations = connection.get_collection(Conversation._meta.db_table)
    for row in conversations.find(query, {"participants": 1, "_id": 0}):
        people = {str(p) for p in row["participants"]}
        for user_id in people & contacts.keys():
            contacts[user_id] |= people - {user_id}
    return contacts


def conversation_get_direct(*, user: User, other_id: object) -> Conversation | None:
    other = object_id(other_id, errors.ReceiverNotFound)
    key = Conversation.direct_key_for(user.pk, other)
    return Conversation.objects.filter(direct_key=key).first()


def message_page(
    *, conversation: Conversation, before: int | None = None, after: int | None = None, limit: int
) -> tuple[list[Message], bool]:
    """Up to `limit` messages, oldest first: the latest ones, or those before/after a seq.
    Returns them and whether more exist in the direction of travel.

    Seqs run from 1 to `last_seq` without gaps, so a page is a range of seqs that the
    (conversation, seq) index serves directly: the latest page costs the same at 10 messages
    and at 10 million."""
    top = conversation.last_seq if before is None else min(before - 1, conversation.last_seq)
    if after is not None:
        low, high = after + 1, min(after + limit, top)
        has_more = high < top
    else:
        low, high = max(top - limit + 1, 1), top
        has_more = low > 1
    if high < low:
        return [], False
    messages = Message.objects.filter(conversation=conversation, seq__gte=low, seq__lte=high)
    return attach_related(list(messages.order_by("seq"))), has_more


def attach_related(messages: list[Message]) -> list[Message]:
    """What the payload of these messages needs besides them: reply targets and attachments,
    one query each, and none for a page without any."""
    return attach_attachments(attach_reply_targets(messages))


def attach_attachments(messages: list[Message]) -> list[Message]:
    """Load the attachments of these messages in one query (`attachment_rows`, in order)."""
    ids = [pk for m in messages for pk in m.attachment_ids or ()]
    if ids:
        found = Attachment.objects.in_bulk(ids)
        for m in messages:
            m.attachment_rows = [found[pk] for pk in m.attachment_ids or () if pk in found]
    return messages


def attachments_of(message: Message) -> list[Attachment]:
    """One message's attachments, in order (loaded unless `attach_attachments` did)."""
    if not message.attachment_ids:
        return []
    rows = getattr(message, "attachment_rows", None)
    if rows is None:
        rows = attach_attachments([message])[0].attachment_rows
    return rows


def attachment_get_for_user(*, user: User, attachment_id: object) -> Attachment:
    """An attachment the user may download: their own upload that no message uses yet, or one
    carried by a message of one of their conversations that is neither hidden nor deleted.
    Anything else is `attachment_not_found`, like a missing id."""
    pk = object_id(attachment_id, errors.AttachmentNotFound)
    attachment = Attachment.objects.filter(pk=pk).first()
    if attachment is None:
        raise errors.AttachmentNotFound()
    if attachment.message_id is None:
        if attachment.uploader_id != user.pk:
            raise errors.AttachmentNotFound()
        return attachment
    message = (
        Message.objects.filter(pk=attachment.message_id, hidden_at=None, deleted_at=None)
        .only("conversation_id")
        .first()
    )
    if (
        message is None
        or not Conversation.objects.filter(
            pk=message.conversation_id, participants__contains=[user.pk]
        ).exists()
    ):
        raise errors.AttachmentNotFound()
    return attachment


def attach_reply_targets(messages: list[Message]) -> list[Message]:
    """Load the messages these reply to in one query (their previews are part of the payload)."""
    ids = {m.reply_to_id for m in messages if m.reply_to_id}
    if ids:
        targets = Message.objects.in_bulk(list(ids))
        for m in messages:
            if m.reply_to_id:
                m.reply_to = targets.get(m.reply_to_id)
    return messages


def attach_conversation_names(
    conversations: Iterable[Conversation], *, members: int = NAMED_MEMBERS
) -> dict[ObjectId, str]:
    """Name these conversations (`shown_name`) with one query for the usernames of their
    first `members` participants (`members` at least NAMED_MEMBERS; groups with a name need
    them only when `members` asks for more). Returns those usernames, by user id, as shown."""
    conversations = list(conversations)
    ids = {
        p
        for c in conversations
        if members > NAMED_MEMBERS or not c.title
        for p in c.participants[: max(members, NAMED_MEMBERS)]
    }
    found = User.objects.filter(pk__in=list(ids)).values_list("pk", "username") if ids else []
    usernames = {pk: shown_username(username) for pk, username in found}
    for conversation in conversations:
        conversation.shown_name = conversation.name_with(usernames)
    return usernames


def conversation_list_for_user(*, user: User) -> tuple[list[dict], dict[str, int]]:
    """The caller's conversations, most recent activity first, each with the other
    participants, the last message and the caller's read marker; plus their versions (the
    starting point of a sync cursor). Three queries, whatever the number of conversations."""
    conversations = list(
        Conversation.objects.filter(participants__contains=[user.pk]).order_by(
            "-last_message_at", "-pk"
        )
    )
    if not conversations:
        return [], {}
    last_keys = [Q(conversation_id=c.pk, seq=c.last_seq) for c in conversations if c.last_seq]
    last_messages = (
        {
            m.conversation_id: m
            for m in attach_related(list(Message.objects.filter(reduce(or_, last_keys))))
        }
        if last_keys
        else {}
    )
    other_ids = {p for c in conversations for p in c.participants if p != user.pk}
    users = {u.pk: u for u in User.objects.filter(pk__in=other_ids)}
    items = [
        {
            "conversation": c,
            "others": [users[p] for p in c.participants if p in users],
            "last_message": last_messages.get(c.pk),
            "last_read_seq": c.last_read_seq(user.pk),
        }
        for c in conversations
    ]
    versions = {str(c.pk): c.version for c in conversations}
    return items, versions


def sync_changes(*, user: User, since: str | None, batch: int | None = None) -> dict:
    """Everything that changed in the caller's conversations after the cursor `since`: new,
    hidden and unhidden messages (their current state) and read markers.

    Each conversation numbers its changes (`version`) inside the transactions that make them,
    so "changes with a version above the one in the cursor" misses nothing and repeats nothing.
    Without `since`, answers no changes and a cursor for "now". At most `batch` messages per
    answer; `hasMore` says to call again with the new cursor.

    The answer's `versions` are what the next cursor records (`services.sync_checkpoint_create`);
    `cursor` is there already when it is `since` itself, nothing having changed."""
    # Read at call time (not bound as the default) so settings and tests can change it.
    batch = batch or SYNC_BATCH
    seen: dict[str, int] = {}
    if since:
        checkpoint = SyncCheckpoint.objects.filter(
            pk=object_id(since, errors.CursorInvalid), user=user
        ).first()
        if checkpoint is None:
            raise errors.CursorInvalid()
        seen = {k: int(v) for k, v in checkpoint.versions.items()}

    rows = Conversation.objects.filter(participants__contains=[user.pk]).values_list(
        "pk", "version", "read_markers"
    )
    current, markers = {}, {}
    for pk, version, read_markers in rows:
        current[pk], markers[pk] = version, read_markers
    changed = sorted(
        (pk for pk, version in current.items() if version > seen.get(str(pk), 0)), key=str
    )
    result = {"messages": [], "reads": [], "hasMore": False}
    if not since or not changed:
        result["versions"] = {str(pk): version for pk, version in current.items()}
        if since and result["versions"] == seen:
            result["cursor"] = since  # nothing new to record
        return result

    ranges = {pk: (seen.get(str(pk), 0), current[pk]) for pk in changed}
    messages = _messages_in_windows(ranges, limit=batch + 1)
    new_versions = {str(pk): version for pk, version in current.items()}
    if len(messages) > batch:
        result["hasMore"] = True
        messages = messages[:batch]
        cut = messages[-1]
        # The conversation where the batch ended is synced up to its last included version;
        # the ones after it are left for the next call.
        for pk in changed:
            if str(pk) > str(cut.conversation_id):
                new_versions[str(pk)] = seen.get(str(pk), 0)
        new_versions[str(cut.conversation_id)] = cut.version
    result["messages"] = attach_related(messages)
    # A read marker keeps only its latest move, under the version that made it.
    result["reads"] = [
        {"conversationId": str(pk), "userId": user_id, "seq": marker["seq"]}
        for pk in changed
        for user_id, marker in sorted(markers[pk].items())
        if ranges[pk][0] < marker["version"] <= new_versions[str(pk)]
    ]
    result["versions"] = new_versions
    return result


def sync_cursors_current(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The `(user id, cursor)` pairs for which `sync_changes(user, since=cursor)` would answer
    no message and no read marker: the cursor is the user's own and none of their
    conversations changed after it. Two reads for all the pairs (the cursors, then the users'
    conversations); a malformed or unknown cursor, or another user's, is not current."""
    pairs = [
        (user_id, cursor)
        for user_id, cursor in pairs
        if isinstance(cursor, str) and OBJECT_ID.match(cursor) and OBJECT_ID.match(user_id)
    ]
    if not pairs:
        return set()
    checkpoints = {
        str(pk): (str(user_id), versions)
        for pk, user_id, versions in SyncCheckpoint.objects.filter(
            pk__in=sorted({ObjectId(cursor) for _, cursor in pairs})
        ).values_list("pk", "user_id", "versions")
    }
    users = sorted({ObjectId(user_id) for user_id, _ in pairs})
    versions_of: dict[str, dict[str, int]] = {str(user_id): {} for user_id in users}
    conversations = connection.get_collection(Conversation._meta.db_table)
    for row in conversations.find(
        {"participants": {"$in": users}}, {"participants": 1, "version": 1}
    ):
        for member in row["participants"]:
            if str(member) in versions_of:
                versions_of[str(member)][str(row["_id"])] = row.get("version", 0)
    current = set()
    for user_id, cursor in pairs:
        owner, seen = checkpoints.get(cursor, (None, None))
        if owner != user_id:
            continue
        if all(version <= int(seen.get(pk, 0)) for pk, version in versions_of[user_id].items()):
            current.add((user_id, cursor))
    return current


def _messages_in_windows(ranges: dict, *, limit: int) -> list[Message]:
    """The messages of each conversation in `ranges` (`{pk: (after version, up to version)}`,
    in the order of the pks) whose version is in its window, by conversation then version: at
    most `limit`.

    One query (an `$or` of the windows) where the database serves each branch from the
    `(conversation, version)` index; one query per window, until `limit` is reached, on a
    database that reads the whole collection for an `$or` (the embedded one: the adapter's
    `or_reads_whole_collection`; one sync touching two conversations read every message)."""
    windows = [
        Q(conversation_id=pk, version__gt=lo, version__lte=hi) for pk, (lo, hi) in ranges.items()
    ]
    if not getattr(connection.features, "or_reads_whole_collection", False):
        query = Message.objects.filter(reduce(or_, windows))
        return list(query.order_by("conversation_id", "version")[:limit])
    messages: list[Message] = []
    for window in windows:
        messages += Message.objects.filter(window).order_by("version")[: limit - len(messages)]
        if len(messages) >= limit:
            break
    return messages


# How far apart two processes' clocks may be when search stops at a conversation whose last
# message is older than the hits it has (message ids carry their creation time).
SEARCH_CLOCK_MARGIN = timedelta(seconds=5)
# Conversations one search query reads (docs/benchmarks.md, "Search (S9)").
SEARCH_CONVERSATIONS_PER_QUERY = 10


def message_search(
    *,
    user: User,
    query: str,
    conversation_id: object = None,
    before: object = None,
    limit: int,
) -> tuple[list[dict], bool]:
    """The caller's messages whose words include every word of `query`, newest first: up to
    `limit` hits `{"message", "conversation", "ranges"}` and whether more exist. `before` (a
    message id: the last hit of the previous page) pages on; `conversation_id` narrows it to one
    conversation.

    The `message_search` index (a term, a conversation, newest first) serves one query per ten
    conversations, the most recently active first, stopping once the next ones' last messages
    are older than the hits already found: a frequent word reads a few conversations, a rare
    one all of them in a few queries (fewer conversations per query read less when stopping
    early, more cost more round trips; docs/benchmarks.md, "Search (S9)")."""
    terms = query_terms(query)
    if not terms:
        raise errors.SearchQueryInvalid()
    mine = Conversation.objects.filter(participants__contains=[user.pk])
    if conversation_id is not None:
        mine = mine.filter(pk=object_id(conversation_id, errors.ConversationNotFound))
    conversations = {
        c.pk: c for c in mine.only("kind", "title", "last_message_at").order_by("-last_message_at")
    }
    if conversation_id is not None and not conversations:
        raise errors.ConversationNotFound()
    collection = connection.get_collection(Message._meta.db_table)
    below = object_id(before, errors.SearchCursorInvalid) if before is not None else None
    ordered = list(conversations.values())
    found: list[ObjectId] = []
    for start in range(0, len(ordered), SEARCH_CONVERSATIONS_PER_QUERY):
        batch = ordered[start : start + SEARCH_CONVERSATIONS_PER_QUERY]
        newest = batch[0].last_message_at
        if newest is None:  # no message at all: nor in the rest (they sort last)
            break
        if len(found) > limit and newest + SEARCH_CLOCK_MARGIN < found[limit].generation_time:
            break
        # Hidden, deleted and system messages have no terms: they never match.
        ids = find_ids_holding_all(
            collection,
            field="search_terms",
            values=terms,
            where={"conversation_id": {"$in": [c.pk for c in batch]}},
            below=below,
            limit=limit + 1,
        )
        found = sorted([*found, *ids], reverse=True)[: limit + 1]
    messages = Message.objects.in_bulk(found[:limit])
    hits = attach_related([messages[pk] for pk in found[:limit] if pk in messages])
    return [
        {
            "message": m,
            "conversation": conversations[m.conversation_id],
            "ranges": match_ranges(m.body, terms),
        }
        for m in hits
    ], len(found) > limit


EXPORT_BATCH = 500


def account_export_chunks(
    *, user: User, current_sid: str = "", batch: int = EXPORT_BATCH
) -> Iterator[str]:
    """The user's own data as one JSON document, in pieces: profile, live login sessions, the
    conversations they are in, and every message they wrote (oldest first, `batch` read at a
    time, so memory stays bounded however many there are)."""
    from accounts.selectors import login_session_list_for_user
    from accounts.serializers import LoginSessionSerializer, MeSerializer
    from messaging.serializers import iso

    profile = {**MeSerializer(user).data, "dateJoined": iso(user.date_joined)}
    sessions = LoginSessionSerializer(
        login_session_list_for_user(user=user), many=True, context={"current_sid": current_sid}
    ).data
    yield '{"exportedAt": ' + json.dumps(iso(timezone.now()))
    yield ', "profile": ' + json.dumps(profile)
    yield ', "sessions": ' + json.dumps(sessions)
    yield ', "conversations": ['
    conversations = Conversation.objects.filter(participants__contains=[user.pk]).values_list(
        "pk", "kind", "title", "created_at"
    )
    for n, (pk, kind, title, created_at) in enumerate(conversations.iterator(chunk_size=batch)):
        item = {"id": str(pk), "kind": kind, "name": title, "createdAt": iso(created_at)}
        yield ("" if n == 0 else ", ") + json.dumps(item)
    yield '], "messages": ['
    mine = Message.objects.filter(sender=user, system__isnull=True).order_by("created_at", "pk")
    last = None
    first = True
    while True:
        page = mine
        if last is not None:
            page = page.filter(
                Q(created_at__gt=last.created_at) | Q(created_at=last.created_at, pk__gt=last.pk)
            )
        rows = list(page[:batch])
        for m in rows:
            item = {
                "id": str(m.pk),
                "conversationId": str(m.conversation_id),
                "seq": m.seq,
                "createdAt": iso(m.created_at),
                "editedAt": iso(m.edited_at),
                "deleted": m.deleted_at is not None,
                "hidden": m.hidden_at is not None,
                "message": m.body,
                "attachmentIds": [str(a) for a in m.attachment_ids or []],
            }
            yield ("" if first else ", ") + json.dumps(item)
            first = False
        if len(rows) < batch:
            break
        last = rows[-1]
    yield "]}"

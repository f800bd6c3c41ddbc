"""Whole-database invariants of the messaging data, read with raw pymongo.

Fault, load and fuzz tests call `assert_invariants(db)` after they are done breaking things:

- every message belongs to an existing conversation whose participants include its sender and,
  for a direct conversation, its receiver (the other participant);
- the seqs of each conversation are unique and gap-free, 1..last_seq, and match its
  `last_seq` counter; no message or read marker is ahead of the conversation's `version`;
- read markers belong to participants only; each is at most `last_seq`, not ahead of the
  conversation's `version`, and at least the seq of its user's last message (a send moves its
  sender's marker); the unread count the API shows (`last_seq - last_read_seq`, see
  `ConversationSerializer`; no marker reads as 0) equals a recount of the messages after it;
- `(sender, client_msg_id)` is unique;
- a deleted message keeps no text, edit history or reactions; an edited one has `edited_at`
  and its history; reactions name each emoji once, each user once per emoji, none empty, at
  most 20; a reply answers a message of its own conversation; search terms are the message's
  words (`messaging.search.message_terms`), none for a hidden, deleted or system message;
- a direct conversation has two distinct participants and the `direct_key` made of them, and
  no two conversations share a `direct_key`;
- a group's owner is a member, its admins are other members, it is archived exactly when it
  has no members, and it has no `direct_key`; its messages may come from former members and
  moderators (a direct conversation's only from its participants).

`acknowledged` (message payloads a client was answered with: REST 201 bodies or socket acks)
adds: every acknowledged send is stored exactly once, with the conversation and seq it was
acknowledged with.

The database is read through pymongo, not the ORM, so the check also works on the database of
another process (`MongoClient(uri)[name]`) and sees exactly what is stored.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from bson import ObjectId
from pymongo.database import Database

from messaging.models import Conversation, Message
from messaging.search import message_terms


def _column(model, name: str) -> str:
    return model._meta.get_field(name).column


def _collection(db: Database, model):
    return db[model._meta.db_table]


def _id(value) -> str:
    return str(value) if value is not None else "None"


def violations(db: Database, *, acknowledged: Iterable[Mapping] | None = None) -> list[str]:
    """Every invariant violation found in `db`, as readable lines (empty when all hold)."""
    m_conversation = _column(Message, "conversation")
    m_sender = _column(Message, "sender")
    m_receiver = _column(Message, "receiver")

    problems: list[str] = []
    conversations = {c["_id"]: c for c in _collection(db, Conversation).find({})}
    messages = list(
        _collection(db, Message).find(
            {},
            {
                m_conversation: 1,
                m_sender: 1,
                m_receiver: 1,
                "seq": 1,
                "version": 1,
                "client_msg_id": 1,
                "body": 1,
                "deleted_at": 1,
                "edited_at": 1,
                "edit_history": 1,
                "reactions": 1,
                "search_terms": 1,
                "hidden_at": 1,
                "system": 1,
                _column(Message, "reply_to"): 1,
            },
        )
    )

    # --- conversations ---------------------------------------------------------------------
    direct_keys: Counter[str] = Counter()
    for cid, c in conversations.items():
        participants = c.get("participants") or []
        if len(set(participants)) != len(participants):
            problems.append(f"conversation {cid}: repeated participants {participants}")
        if c.get("kind") == Conversation.Kind.DIRECT:
            if len(set(participants)) != 2:
                problems.append(
                    f"conversation {cid}: direct with participants {participants} (needs 2)"
                )
            else:
                expected = Conversation.direct_key_for(*participants)
                if c.get("direct_key") != expected:
                    problems.append(
                        f"conversation {cid}: direct_key {c.get('direct_key')!r}, "
                        f"participants give {expected!r}"
                    )
            if c.get("direct_key"):
                direct_keys[c["direct_key"]] += 1
        else:
            problems.extend(_group_problems(cid, c, participants))
    for key, count in direct_keys.items():
        if count > 1:
            problems.append(f"direct_key {key!r} is shared by {count} conversations")

    # --- messages --------------------------------------------------------------------------
    seqs: defaultdict[ObjectId, list[int]] = defaultdict(list)
    last_sent: dict[tuple[ObjectId, object], int] = {}
    client_ids: Counter[tuple[str, str]] = Counter()
    for m in messages:
        mid, cid = m["_id"], m.get(m_conversation)
        sender, receiver = m.get(m_sender), m.get(m_receiver)
        if m.get("client_msg_id"):
            client_ids[(_id(sender), m["client_msg_id"])] += 1
        c = conversations.get(cid)
        if c is None:
            problems.append(f"message {mid}: conversation {_id(cid)} does not exist")
            continue
        seqs[cid].append(m.get("seq"))
        if isinstance(m.get("seq"), int):
            last_sent[(cid, sender)] = max(last_sent.get((cid, sender), 0), m["seq"])
        participants = c.get("participants") or []
        # A group keeps the messages of members who left, and moderators' system messages.
        if sender not in participants and c.get("kind") == Conversation.Kind.DIRECT:
            problems.append(f"message {mid}: sender {_id(sender)} is not a participant of {cid}")
        if c.get("kind") == Conversation.Kind.DIRECT:
            if receiver is None or receiver == sender or receiver not in participants:
                problems.append(
                    f"message {mid}: receiver {_id(receiver)} is not the other participant "
                    f"of direct conversation {cid}"
                )
        elif receiver is not None and receiver not in participants:
            problems.append(f"message {mid}: receiver {_id(receiver)} is not a participant")
        if not isinstance(m.get("version"), int) or m["version"] > c.get("version", 0):
            problems.append(
                f"message {mid}: version {m.get('version')!r} is ahead of its conversation's "
                f"{c.get('version')!r}"
            )
    problems.extend(_action_problems(messages))
    for (sender, client_msg_id), count in client_ids.items():
        if count > 1:
            problems.append(
                f"client_msg_id {client_msg_id!r} of sender {sender} is stored {count} times"
            )

    for cid, c in conversations.items():
        found = seqs.get(cid, [])
        last_seq = c.get("last_seq", 0)
        repeated = sorted(s for s, n in Counter(found).items() if n > 1)
        if repeated:
            problems.append(f"conversation {cid}: seqs {repeated} are repeated")
        expected = set(range(1, last_seq + 1))
        present = set(found)
        missing = sorted(expected - present)
        extra = sorted(present - expected, key=repr)
        if missing:
            problems.append(
                f"conversation {cid}: seqs {_short(missing)} missing (last_seq {last_seq})"
            )
        if extra:
            problems.append(
                f"conversation {cid}: seqs {_short(extra)} beyond last_seq {last_seq} or invalid"
            )

    # --- read markers and unread counts ----------------------------------------------------
    for cid, c in conversations.items():
        last_seq = c.get("last_seq", 0)
        participants = c.get("participants") or []
        markers = c.get("read_markers") or {}
        strangers = sorted(set(markers) - {str(p) for p in participants})
        if strangers:
            problems.append(f"conversation {cid}: read markers of non-participants {strangers}")
        found = seqs.get(cid, [])
        for user in participants:
            marker = markers.get(str(user), {})
            read = marker.get("seq", 0)
            if read > last_seq:
                problems.append(
                    f"conversation {cid}: user {user} has read up to {read}, "
                    f"beyond last_seq {last_seq}"
                )
            if marker.get("version", 0) > c.get("version", 0):
                problems.append(
                    f"conversation {cid}: read marker of {user} has version "
                    f"{marker.get('version')}, ahead of the conversation's {c.get('version')}"
                )
            if read < last_sent.get((cid, user), 0):
                problems.append(
                    f"conversation {cid}: user {user} has read up to {read}, before their own "
                    f"message {last_sent[(cid, user)]}"
                )
            shown = max(last_seq - read, 0)
            recount = sum(1 for s in found if isinstance(s, int) and s > read)
            if shown != recount:
                problems.append(
                    f"conversation {cid}: unread count of {user} is {shown} "
                    f"(last_seq {last_seq} - read {read}) but {recount} messages follow "
                    "the marker"
                )

    # --- acknowledged sends ----------------------------------------------------------------
    if acknowledged is not None:
        problems.extend(_acknowledged_problems(db, acknowledged, m_conversation, m_sender))
    return problems


def _group_problems(cid, c: Mapping, participants: list) -> list[str]:
    problems = []
    owner, admins = c.get("owner_id"), c.get("admins") or []
    if participants and owner not in participants:
        problems.append(f"group {cid}: owner {_id(owner)} is not a member")
    if not set(admins) <= set(participants) or owner in admins:
        problems.append(f"group {cid}: admins {admins} are not members other than the owner")
    if bool(participants) == bool(c.get("archived_at")):
        problems.append(f"group {cid}: archived {c.get('archived_at')} with members {participants}")
    if c.get("direct_key"):
        problems.append(f"group {cid}: has a direct_key")
    return problems


def _action_problems(messages: list[Mapping]) -> list[str]:
    """What edits, deletes, replies and reactions must leave behind."""
    problems = []
    m_conversation, m_reply_to = _column(Message, "conversation"), _column(Message, "reply_to")
    conversation_of = {m["_id"]: m.get(m_conversation) for m in messages}
    for m in messages:
        mid, reactions = m["_id"], m.get("reactions") or []
        if m.get("deleted_at") and (m.get("body") or m.get("edit_history") or reactions):
            problems.append(f"message {mid}: deleted but keeps text, history or reactions")
        if not m.get("deleted_at") and bool(m.get("edit_history")) != bool(m.get("edited_at")):
            problems.append(f"message {mid}: edited_at and edit history disagree")
        emojis = [r.get("emoji") for r in reactions]
        if len(set(emojis)) != len(emojis) or len(emojis) > 20:
            problems.append(f"message {mid}: reactions {emojis} repeat an emoji or exceed 20")
        for r in reactions:
            users = r.get("userIds") or []
            if not users or len(set(users)) != len(users):
                problems.append(f"message {mid}: reaction {r.get('emoji')} has users {users}")
        terms = m.get("search_terms")
        if terms is not None:  # null: stored before search, see `manage.py search_backfill`
            silent = m.get("hidden_at") or m.get("deleted_at") or m.get("system")
            if terms != ([] if silent else message_terms(m.get("body") or "")):
                problems.append(f"message {mid}: search terms {terms[:5]}... are not its words")
        target = m.get(m_reply_to)
        if target is not None and conversation_of.get(target) != m.get(m_conversation):
            problems.append(f"message {mid}: replies to {target}, not of its conversation")
    return problems


def _acknowledged_problems(
    db: Database, acknowledged: Iterable[Mapping], m_conversation: str, m_sender: str
) -> list[str]:
    problems: list[str] = []
    acks = list(acknowledged)
    ids = [ObjectId(a["_id"]) for a in acks]
    stored = {m["_id"]: m for m in _collection(db, Message).find({"_id": {"$in": ids}})}
    for ack, mid in zip(acks, ids, strict=True):
        m = stored.get(mid)
        if m is None:
            problems.append(f"acknowledged message {mid} (seq {ack.get('seq')}) is not stored")
            continue
        if str(m.get(m_conversation)) != str(ack.get("conversationId")) or m.get("seq") != ack.get(
            "seq"
        ):
            problems.append(
                f"acknowledged message {mid}: acknowledged as seq {ack.get('seq')} of "
                f"{ack.get('conversationId')}, stored as seq {m.get('seq')} of "
                f"{m.get(m_conversation)}"
            )
        if ack.get("clientMsgId"):
            count = _collection(db, Message).count_documents(
                {m_sender: m.get(m_sender), "client_msg_id": ack["clientMsgId"]}
            )
            if count != 1:
                problems.append(
                    f"acknowledged clientMsgId {ack['clientMsgId']!r} is stored {count} times"
                )
    return problems


def _short(values: list) -> str:
    return repr(values) if len(values) <= 10 else f"{values[:10]!r} and {len(values) - 10} more"


def assert_invariants(db: Database, *, acknowledged: Iterable[Mapping] | None = None) -> None:
    """Raise AssertionError listing every violated invariant (see the module docstring)."""
    problems = violations(db, acknowledged=acknowledged)
    if problems:
        raise AssertionError(
            f"{len(problems)} invariant violation(s):\n" + "\n".join(f"- {p}" for p in problems)
        )


def database() -> Database:
    """The test database, as the ORM's connection sees it."""
    from django.db import connection

    connection.ensure_connection()
    return connection.database

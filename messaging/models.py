"""Conversations (with each participant's read marker) and their messages.

Ordering is by `seq` (per conversation, gap-free, allocated inside the send transaction), never
by time: MongoDB keeps milliseconds only. `version` (per conversation) numbers every change —
new message, edit, delete, reaction, hide/unhide, read marker — so `/api/sync` can hand out
exact, gap-free cursors.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django_mongodb_backend.fields import ArrayField, ObjectIdField

from accounts.models import DELETED_USERNAME_PREFIX, User

# Members a conversation's name shows when it has no title: "alice, bob, carol and 7 more".
NAMED_MEMBERS = 3


def shown_username(username: str) -> str:
    """How moderators see a person: their username; a deleted account's (its id) is not one."""
    return "Deleted user" if username.startswith(DELETED_USERNAME_PREFIX) else username


# Before any real timestamp: `hidden_at__gt=EPOCH` is "hidden" as one range on one field.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct"
        GROUP = "group"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DIRECT)
    # Member ids as an array: "conversations of user X" is one indexed query.
    participants = ArrayField(ObjectIdField(), default=list)
    # "<smaller id>:<larger id>" for direct conversations; its unique index makes
    # find-or-create race-free. Null for groups.
    direct_key = models.CharField(max_length=60, null=True, blank=True, editable=False)
    # A group's name (1-100 characters); empty for direct conversations.
    title = models.CharField(max_length=100, blank=True)
    # Groups: the owner (one) and the admins (members who may rename and manage members).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_index=False,
    )  # fmt: skip
    admins = ArrayField(ObjectIdField(), default=list, blank=True)
    # When the last member left a group.
    archived_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # Each participant's read marker, `{"<user id>": {"seq": n, "version": v}}`, where `version`
    # is the conversation version that moved it (for `/api/sync`); no entry means nothing read.
    # Kept in the conversation document so that a send moves its sender's marker in the same
    # update that allocates the seq.
    read_markers = models.JSONField(default=dict, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["direct_key"],
                condition=Q(direct_key__gt=""),
                name="conversation_direct_key_unique",
            ),
        ]
        indexes = [
            # The unique index above is partial (`$type` filters, as for every unique index
            # the backend makes), and the embedded database uses no partial index for a lookup:
            # find-or-create by direct_key scanned every conversation without this plain one
            # (measured: docs/benchmarks.md, "Measurements behind the code").
            models.Index(fields=["direct_key"], name="conversation_by_direct_key"),
            models.Index(
                fields=["participants", "-last_message_at"], name="conversation_by_member"
            ),
            models.Index(fields=["-last_message_at"], name="conversation_by_activity"),
        ]
        permissions = [("remove_member", "Can remove members from groups")]

    def __str__(self):
        return self.shown_name

    @cached_property
    def shown_name(self) -> str:
        """The group's name, or its participants' usernames ("alice ↔ bob"), never its id.
        One query; `selectors.attach_conversation_names` names a page of them in one."""
        if self.title:
            return self.title
        named = self.participants[:NAMED_MEMBERS]
        return self.name_with(dict(User.objects.filter(pk__in=named).values_list("pk", "username")))

    def name_with(self, usernames: Mapping) -> str:
        """`shown_name` from the usernames of (at least) its first NAMED_MEMBERS participants."""
        if self.title:
            return self.title
        names = [shown_username(usernames.get(p, "")) or "Deleted user"
                 for p in self.participants[:NAMED_MEMBERS]]  # fmt: skip
        if not names:
            return f"empty {self.kind}"
        if self.kind == self.Kind.DIRECT:
            return " ↔ ".join(sorted(names, key=str.lower))
        more = len(self.participants) - len(names)
        return ", ".join(names) + (f" and {more} more" if more > 0 else "")

    def last_read_seq(self, user_id) -> int:
        return self.read_markers.get(str(user_id), {}).get("seq", 0)

    @staticmethod
    def direct_key_for(user_a_id, user_b_id) -> str:
        return ":".join(sorted([str(user_a_id), str(user_b_id)]))


class Message(models.Model):
    # Indexed by the (conversation, seq) and (sender, created_at) indexes below.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The other participant of a direct conversation (the reference's receiverId).
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="+", db_index=False,
    )  # fmt: skip
    body = models.TextField()
    # A system message (a group's membership or name changed): what happened, for clients to
    # render in their own words; `body` says it in English for those that don't.
    # `{"action": "created" | "renamed" | "added" | "removed" | "left" | "role_changed",
    #   "actorId": "...", "userIds": [...], "name"?: "...", "role"?: "..."}`; null otherwise.
    system = models.JSONField(null=True, blank=True, editable=False)
    seq = models.PositiveIntegerField()
    version = models.PositiveIntegerField()
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The author's edits: when the last one was, and the texts before each one (oldest first,
    # `[{"body": "...", "replacedAt": "<iso time>"}]`), which only moderators see.
    edited_at = models.DateTimeField(null=True, blank=True)
    edit_history = models.JSONField(default=list, blank=True, editable=False)
    # Deleted by its author: it keeps its seq as a tombstone; text, history and reactions are
    # erased.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The message this one answers (of the same conversation).
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )  # fmt: skip
    # `[{"emoji": "👍", "userIds": ["<user id>", ...]}]`, in the order each emoji was first used.
    reactions = models.JSONField(default=list, blank=True, editable=False)
    # Its attachments' ids, in the order sent (at most 10): a page of messages without any costs
    # no query for them (`selectors.attach_related`). Emptied when the message is deleted.
    attachment_ids = ArrayField(ObjectIdField(), default=list, blank=True, editable=False)
    # What search finds it by (`messaging.search.message_terms` of its text); [] while hidden or
    # deleted and for system messages; null: not indexed yet (`manage.py search_backfill`).
    search_terms = ArrayField(
        models.CharField(max_length=64), null=True, blank=True, editable=False
    )
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_index=False,
    )  # fmt: skip

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["sender", "client_msg_id"],
                condition=Q(client_msg_id__gt=""),
                name="message_client_msg_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "version"], name="message_by_version"),
            # The unique (conversation, seq) index is partial (the backend adds `$type` filters
            # to unique indexes), so no query on a seq range can use it; this one serves them.
            models.Index(fields=["conversation", "seq"], name="message_by_seq"),
            models.Index(fields=["-created_at"], name="message_by_date"),
            models.Index(fields=["sender", "-created_at"], name="message_by_sender"),
            # Search: a term and a conversation, newest first (`selectors.message_search`);
            # a term alone for the moderators' search in the admin.
            models.Index(fields=["search_terms", "conversation", "-id"], name="message_search"),
            # Only hidden messages, for the moderators' "hidden" filter.
            models.Index(
                fields=["-hidden_at"], name="message_hidden", condition=Q(hidden_at__gt=EPOCH)
            ),
        ]
        permissions = [("hide_message", "Can hide and unhide messages")]

    def __str__(self):
        return f"#{self.seq} {self.body[:50]}"

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


def attachment_storage():
    """The storage of attachment files: `STORAGES["attachments"]` (GridFS by default)."""
    return storages["attachments"]


def attachment_file_name(attachment: Attachment, filename: str) -> str:
    """Opaque, unique names: the uploader's file name is kept in `name`, never in a path."""
    return f"{uuid.uuid4().hex}{Path(filename).suffix.lower()}"


class Attachment(models.Model):
    """A file uploaded by a user, then carried by one message. It belongs to its uploader
    until a message uses it (`message` set in the send's transaction); one left unused is
    deleted after a day (`services.attachments_purge_unused`)."""

    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_index=False,
    )  # fmt: skip
    # The uploader's file name without any path or control characters, at most 255 characters.
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    # Read from the bytes, never from the name or the client's header.
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    file = models.FileField(storage=attachment_storage, upload_to=attachment_file_name)
    thumbnail = models.FileField(
        storage=attachment_storage, upload_to=attachment_file_name, blank=True
    )
    # Of the stored bytes: the download's ETag.
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # A message's attachments, and the unused ones (message null) by age for the purge.
            models.Index(fields=["message", "created_at"], name="attachment_by_message"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_image(self) -> bool:
        return self.width is not None


class SyncCheckpoint(models.Model):
    """What a client had seen at one `/api/sync` call: conversation id → version.

    The opaque sync cursor is this document's id, so cursors stay short however many
    conversations a user has."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    versions = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="checkpoint_by_date")]

    def __str__(self):
        return f"sync checkpoint {self.pk} of {self.user_id}"

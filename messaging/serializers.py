"""Payload shapes. `MessageSerializer` is the one message shape: the REST answers and the
realtime events (`newMessage`, sync) are all built by it."""

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import UserSerializer
from chatsite.fields import StrictCharField
from chatsite.openapi import OBJECT_ID_PATTERN, character_class
from messaging.files import NAME_MAX_LENGTH
from messaging.models import Attachment, Conversation, Message
from messaging.selectors import attachments_of
from messaging.services import ATTACHMENTS_MAX, REPLY_PREVIEW_LENGTH, invisible_character


def object_id_field(**kwargs) -> serializers.RegexField:
    return serializers.RegexField(OBJECT_ID_PATTERN, **kwargs)


CLIENT_MSG_ID_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "nullable": True}


class ServiceCheckedField(serializers.JSONField):
    """Any JSON value, null included, handed to the service that checks it, so that REST and the
    socket events answer the same codes. The schema shows what the service accepts."""

    def validate_empty_values(self, data):
        if data is None:
            return (False, None)  # not "This field may not be null.": the service's own code
        return super().validate_empty_values(data)


# What the send service accepts (`clean_body`): at least one visible character, no NUL. The
# invisible characters past U+FFFF (tag characters, musical-notation controls) are left out of
# the class: schema tools fail to compile it with them, so the schema lets through a message
# made only of those, which the service answers `message_empty`.
INVISIBLE = character_class(lambda char: char != "\x00" and invisible_character(char), up_to=0xFFFF)
MESSAGE_TEXT_PATTERN = f"^[{INVISIBLE}]*[^{INVISIBLE}\\u0000][^\\u0000]*$"


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": settings.CHAT["MESSAGE_MAX_LENGTH"],
        "pattern": MESSAGE_TEXT_PATTERN,
        "description": "The text: at most `MESSAGE_MAX_LENGTH` characters as sent (whitespace "
        "around it is trimmed), no NUL, and something visible: not only whitespace, controls, "
        "format characters (zero-width space, joiners, bidi marks), Hangul fillers or the blank "
        "braille pattern.",
    }
)
class MessageTextField(ServiceCheckedField):
    """Checked by the send service: `message_invalid`, `message_empty`, `message_too_long`."""


@extend_schema_field(CLIENT_MSG_ID_SCHEMA)
class ClientMsgIdField(ServiceCheckedField):
    """Checked by the send service: `client_msg_id_invalid`; null means no key."""


@extend_schema_field(
    {
        "type": "string",
        "pattern": OBJECT_ID_PATTERN,
        "nullable": True,
        "description": "The id of the message this one answers, of the same conversation.",
    }
)
class ReplyToField(ServiceCheckedField):
    """Checked by the send service: `reply_not_found`; null means not a reply."""


@extend_schema_field({"type": "integer", "minimum": 0})
class SeqField(ServiceCheckedField):
    """Checked by the mark-read service: `seq_invalid`."""


def iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@extend_schema_field(
    {
        "type": "object",
        "description": "What a system message records (a group created, renamed, or its "
        "members or roles changed); null for a message someone wrote.",
        "required": ["action", "actorId", "userIds"],
        "properties": {
            "action": {
                "type": "string",
                "enum": ["created", "renamed", "added", "removed", "left", "role_changed"],
            },
            "actorId": {"type": "string", "pattern": OBJECT_ID_PATTERN},
            "userIds": {"type": "array", "items": {"type": "string", "pattern": OBJECT_ID_PATTERN}},
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "role": {"type": "string", "enum": ["member", "admin", "owner"]},
        },
        "additionalProperties": False,
        "nullable": True,
    }
)
class SystemEventField(serializers.JSONField):
    pass


class ReplyPreviewSerializer(serializers.Serializer):
    """The message a reply answers, as it is now: its first 100 characters, or none when it was
    deleted or hidden."""

    _id = object_id_field()
    seq = serializers.IntegerField(min_value=1, help_text="Its place: page to it by seq.")
    senderId = object_id_field()
    message = serializers.CharField(allow_blank=True, max_length=REPLY_PREVIEW_LENGTH)
    deleted = serializers.BooleanField()
    hidden = serializers.BooleanField()

    def to_representation(self, m):
        withheld = m.deleted_at is not None or m.hidden_at is not None
        return {
            "_id": str(m.pk),
            "seq": m.seq,
            "senderId": str(m.sender_id),
            "message": "" if withheld else m.body[:REPLY_PREVIEW_LENGTH],
            "deleted": m.deleted_at is not None,
            "hidden": m.hidden_at is not None,
        }


class AttachmentSerializer(serializers.Serializer):
    """An uploaded file: the answer of `POST /api/attachments` and the items of a message's
    `attachments`. `url` and `thumbnailUrl` are paths on this server (Bearer or session
    authentication); `width`, `height` and `thumbnailUrl` are there for images only."""

    _id = object_id_field()
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    size = serializers.IntegerField(min_value=1)
    contentType = serializers.CharField()
    width = serializers.IntegerField(min_value=1, required=False)
    height = serializers.IntegerField(min_value=1, required=False)
    url = serializers.CharField()
    thumbnailUrl = serializers.CharField(required=False)

    def to_representation(self, attachment: Attachment):
        return attachment_payload(attachment)


def attachment_payload(attachment: Attachment) -> dict:
    url = f"/api/attachments/{attachment.pk}"
    payload = {
        "_id": str(attachment.pk),
        "name": attachment.name,
        "size": attachment.size,
        "contentType": attachment.content_type,
        "url": url,
    }
    if attachment.is_image:
        payload.update(width=attachment.width, height=attachment.height)
    if attachment.thumbnail:
        payload["thumbnailUrl"] = f"{url}/thumbnail"
    return payload


class AttachmentUploadSerializer(serializers.Serializer):
    """Body of `POST /api/attachments` (multipart/form-data)."""

    # An empty file is the service's to refuse, with the attachment codes.
    file = serializers.FileField(
        allow_empty_file=True,
        help_text="One file, at most `ATTACHMENT_MAX_BYTES` (default 10 MB): a JPEG, PNG, GIF "
        "or WebP image, a PDF, an Office or OpenDocument file, a ZIP archive or UTF-8 text. "
        "The type is read from the bytes, and the name's extension must match it.",
    )


class ReactionSerializer(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField(min_value=1)
    userIds = serializers.ListField(
        child=object_id_field(), help_text="Who reacted, in order; `me` is your id among them."
    )


class MessageSerializer(serializers.Serializer):
    """A stored message, with the reference design's field names (`_id`, `senderId`,
    `receiverId`, `message`, `createdAt`, `updatedAt`) plus `conversationId`, `seq`,
    `clientMsgId`, `editedAt`, `deleted`, `hidden`, `system` (what a system message records),
    `replyTo` (a preview of the message it answers), `reactions` and `attachments`. A hidden or
    deleted message keeps its place (seq) but its text, reactions and attachments are
    withheld."""

    _id = object_id_field()
    conversationId = object_id_field()
    senderId = object_id_field()
    receiverId = object_id_field(allow_null=True)
    message = serializers.CharField(allow_blank=True)
    seq = serializers.IntegerField(min_value=1)
    clientMsgId = serializers.RegexField("^[A-Za-z0-9_-]{1,64}$", allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    editedAt = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    hidden = serializers.BooleanField()
    system = SystemEventField(allow_null=True)
    replyTo = ReplyPreviewSerializer(allow_null=True)
    reactions = ReactionSerializer(many=True)
    attachments = AttachmentSerializer(many=True, max_length=ATTACHMENTS_MAX)

    def to_representation(self, m):
        # Written out by hand: this runs for every message sent and every page read.
        withheld = m.hidden_at is not None or m.deleted_at is not None
        return {
            "_id": str(m.pk),
            "conversationId": str(m.conversation_id),
            "senderId": str(m.sender_id),
            "receiverId": str(m.receiver_id) if m.receiver_id else None,
            "message": "" if withheld else m.body,
            "seq": m.seq,
            "clientMsgId": m.client_msg_id,
            "createdAt": iso(m.created_at),
            "updatedAt": iso(m.updated_at),
            "editedAt": iso(m.edited_at),
            "deleted": m.deleted_at is not None,
            "hidden": m.hidden_at is not None,
            "system": m.system,
            "replyTo": _reply_preview(m) if m.reply_to_id else None,
            "reactions": [] if withheld else _reactions(m.reactions),
            "attachments": []
            if withheld or not m.attachment_ids
            else [attachment_payload(a) for a in attachments_of(m)],
        }


def _reply_preview(m) -> dict | None:
    # Pages load the replied-to messages in one query (`selectors.attach_related`).
    try:
        target = m.reply_to
    except Message.DoesNotExist:
        return None
    return ReplyPreviewSerializer(target).data


def _reactions(reactions: list | None) -> list[dict]:
    return [
        {"emoji": r["emoji"], "count": len(r["userIds"]), "userIds": r["userIds"]}
        for r in reactions or ()
    ]


@extend_schema_field(
    {
        "type": "string",
        "maxLength": settings.CHAT["MESSAGE_MAX_LENGTH"],
        "pattern": "^[^\\u0000]*$",
        "description": "The text: at most `MESSAGE_MAX_LENGTH` characters as sent (whitespace "
        "around it is trimmed), no NUL. Without attachments it must show something: not only "
        "whitespace, controls, format characters (zero-width space, joiners, bidi marks), "
        "Hangul fillers or the blank braille pattern. With attachments it may be empty.",
    }
)
class OptionalMessageTextField(ServiceCheckedField):
    """Checked by the send service: `message_invalid`, `message_empty`, `message_too_long`."""


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "pattern": OBJECT_ID_PATTERN},
        "maxItems": ATTACHMENTS_MAX,
        "description": "Ids of your uploads (`POST /api/attachments`) that no message carries "
        "yet, in the order to show them; duplicates are ignored.",
    }
)
class AttachmentIdsField(ServiceCheckedField):
    """Checked by the send service: `attachment_not_found`, `too_many_attachments`."""


class SendMessageSerializer(serializers.Serializer):
    """Body of `POST /api/messages/send/<user_id>` and `.../conversations/<id>/messages`: text,
    attachments, or both.

    `message` and `attachments` are checked by the send service itself (type, blank, length,
    ownership) so the REST API and the socket event answer the same codes."""

    # No field is required on its own, the body is (`SendMessageSchema`): `chatsite.openapi`.
    body_required = True

    message = OptionalMessageTextField(required=False)
    clientMsgId = ClientMsgIdField(required=False, help_text="Idempotency key, unique per sender.")
    replyTo = ReplyToField(required=False)
    attachments = AttachmentIdsField(required=False)

    def validate(self, data):
        if "message" not in data and not data.get("attachments"):
            raise serializers.ValidationError({"message": ["This field is required."]})
        return data


class SendMessageSchema(OpenApiSerializerExtension):
    """The body's schema says what the send service accepts: text that shows something, or at
    least one attachment, or both."""

    target_class = SendMessageSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema.pop("required", None)
        schema["anyOf"] = [
            {
                "required": ["message"],
                "properties": {"message": {"minLength": 1, "pattern": MESSAGE_TEXT_PATTERN}},
            },
            {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}},
        ]
        return schema


class EditMessageSerializer(serializers.Serializer):
    """Body of `PATCH /api/messages/<message_id>`: the new text, checked as a sent one. A
    PATCH: without `message`, nothing changes."""

    message = MessageTextField(required=False)


class MarkReadSerializer(serializers.Serializer):
    seq = SeqField(help_text="Not above the conversation's `lastSeq`.")


class MessagePageSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)
    hasMore = serializers.BooleanField()
    before = serializers.IntegerField(allow_null=True, min_value=1)
    after = serializers.IntegerField(allow_null=True, min_value=1)


def read_seqs(conversation: Conversation) -> dict[str, int]:
    """Each member's read marker (members who have read nothing are left out)."""
    return {user_id: marker["seq"] for user_id, marker in (conversation.read_markers or {}).items()}


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 0},
        "description": "Each member's read marker by user id (you included; a member who has "
        "read nothing is left out): how many have read a message is the number of markers at "
        "or above its seq.",
    }
)
class ReadSeqsField(serializers.JSONField):
    pass


class ConversationSerializer(serializers.Serializer):
    _id = object_id_field()
    kind = serializers.ChoiceField(choices=Conversation.Kind.choices)
    title = serializers.CharField(allow_blank=True)
    participants = UserSerializer(many=True)
    lastMessage = MessageSerializer(allow_null=True)
    lastSeq = serializers.IntegerField(min_value=0)
    lastReadSeq = serializers.IntegerField(min_value=0)
    unreadCount = serializers.IntegerField(min_value=0)
    readSeqs = ReadSeqsField()
    lastMessageAt = serializers.DateTimeField(allow_null=True)

    def to_representation(self, item):
        conversation = item["conversation"]
        return {
            "_id": str(conversation.pk),
            "kind": conversation.kind,
            "title": conversation.title,
            "participants": UserSerializer(item["others"], many=True).data,
            "lastMessage": MessageSerializer(item["last_message"]).data
            if item["last_message"]
            else None,
            "lastSeq": conversation.last_seq,
            "lastReadSeq": item["last_read_seq"],
            "unreadCount": max(conversation.last_seq - item["last_read_seq"], 0),
            "readSeqs": read_seqs(conversation),
            "lastMessageAt": iso(conversation.last_message_at),
        }


class ConversationListSerializer(serializers.Serializer):
    conversations = ConversationSerializer(many=True)
    syncCursor = object_id_field()


class ReadMarkerSerializer(serializers.Serializer):
    conversationId = object_id_field()
    userId = object_id_field()
    seq = serializers.IntegerField(min_value=0)


class SyncSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)
    reads = ReadMarkerSerializer(many=True)
    cursor = object_id_field()
    hasMore = serializers.BooleanField()


class SyncQuerySerializer(serializers.Serializer):
    # A malformed cursor is a client bug (400); a well-formed one the server no longer knows
    # is `410 cursor_invalid`: reload.
    since = StrictCharField(
        required=False,
        validators=[RegexValidator("\\A[0-9a-f]{24}\\Z", "A cursor from an earlier answer.")],
        help_text="The cursor of the last answer (or of `GET /api/conversations`).",
    )


class GroupSerializer(serializers.Serializer):
    """A group as every member sees it: the answer of the group routes and the payload of
    `conversationUpdated`."""

    _id = object_id_field()
    kind = serializers.ChoiceField(choices=Conversation.Kind.choices)
    title = serializers.CharField(allow_blank=True, max_length=100)
    ownerId = object_id_field(allow_null=True)
    adminIds = serializers.ListField(child=object_id_field())
    memberIds = serializers.ListField(child=object_id_field())
    memberCount = serializers.IntegerField(min_value=0)
    lastSeq = serializers.IntegerField(min_value=0)
    readSeqs = ReadSeqsField()
    archived = serializers.BooleanField()

    def to_representation(self, conversation):
        return {
            "_id": str(conversation.pk),
            "kind": conversation.kind,
            "title": conversation.title,
            "ownerId": str(conversation.owner_id) if conversation.owner_id else None,
            "adminIds": [str(p) for p in conversation.admins or []],
            "memberIds": [str(p) for p in conversation.participants],
            "memberCount": len(conversation.participants),
            "lastSeq": conversation.last_seq,
            "readSeqs": read_seqs(conversation),
            "archived": conversation.archived_at is not None,
        }


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "pattern": OBJECT_ID_PATTERN},
        "description": "User ids; duplicates are ignored.",
    }
)
class UserIdsField(ServiceCheckedField):
    """Checked by the group services: `user_not_found` (naming the id), `too_many_members`."""


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "pattern": MESSAGE_TEXT_PATTERN,
        "description": "At most 100 characters as sent (whitespace around it is trimmed), no "
        "NUL, something visible (as a message's text).",
    }
)
class GroupNameField(ServiceCheckedField):
    """Checked by the group services: `group_name_invalid`."""


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "pattern": OBJECT_ID_PATTERN},
        "minItems": 1,
        "description": "The other members (at least one); duplicates are ignored.",
    }
)
class MemberIdsField(UserIdsField):
    """Checked by the group services: `too_few_members` as well."""


class GroupCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[Conversation.Kind.GROUP.value])
    name = GroupNameField()
    participantIds = MemberIdsField()


class GroupRenameSerializer(serializers.Serializer):
    """A PATCH: without `name`, nothing changes."""

    name = GroupNameField(required=False)


class GroupMembersAddSerializer(serializers.Serializer):
    userIds = UserIdsField(help_text="Users to add; members already in are ignored.")


@extend_schema_field({"type": "string", "enum": ["member", "admin", "owner"]})
class RoleField(ServiceCheckedField):
    """Checked by the group services: `role_invalid`."""


class GroupMemberRoleSerializer(serializers.Serializer):
    """A PATCH: without `role`, nothing changes."""

    role = RoleField(
        required=False, help_text='"owner" hands ownership over; the old owner becomes an admin.'
    )


class SearchQuerySerializer(serializers.Serializer):
    q = StrictCharField(
        max_length=200,
        help_text="Words to find (all of them), in any language; case and accents don't matter.",
    )
    conversationId = serializers.RegexField(
        OBJECT_ID_PATTERN, required=False, help_text="Only this conversation."
    )
    before = serializers.RegexField(
        OBJECT_ID_PATTERN,
        required=False,
        help_text="The `cursor` of the previous page: hits older than it.",
    )


class SearchConversationSerializer(serializers.Serializer):
    _id = object_id_field()
    kind = serializers.ChoiceField(choices=Conversation.Kind.choices)
    title = serializers.CharField(allow_blank=True)

    def to_representation(self, conversation):
        return {"_id": str(conversation.pk), "kind": conversation.kind, "title": conversation.title}


class SearchHitSerializer(serializers.Serializer):
    message = MessageSerializer()
    conversation = SearchConversationSerializer()
    ranges = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=0), min_length=2,
                                    max_length=2),
        help_text="Where the words are in `message.message`: [start, end) in UTF-16 code "
        "units (as JavaScript indexes strings), sorted, not overlapping.",
    )  # fmt: skip


class SearchResultSerializer(serializers.Serializer):
    hits = SearchHitSerializer(many=True)
    cursor = object_id_field(
        allow_null=True, help_text="Pass as `before` for the next page (null: no hits)."
    )
    hasMore = serializers.BooleanField()

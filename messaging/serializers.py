"""Payload shapes. `MessageSerializer` is the one message shape: the REST answers and the
realtime events (`newMessage`, sync) are all built by it."""

from rest_framework import serializers

from accounts.serializers import UserSerializer
from chatsite.fields import StrictCharField


def iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MessageSerializer(serializers.Serializer):
    """A stored message, with the reference design's field names (`_id`, `senderId`,
    `receiverId`, `message`, `createdAt`, `updatedAt`) plus `conversationId`, `seq`,
    `clientMsgId`, `editedAt` and `hidden`. A hidden message keeps its place (seq) but its
    text is withheld."""

    _id = serializers.CharField()
    conversationId = serializers.CharField()
    senderId = serializers.CharField()
    receiverId = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    seq = serializers.IntegerField()
    clientMsgId = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    editedAt = serializers.DateTimeField(allow_null=True)
    hidden = serializers.BooleanField()

    def to_representation(self, m):
        # Written out by hand: this runs for every message sent and every page read.
        hidden = m.hidden_at is not None
        return {
            "_id": str(m.pk),
            "conversationId": str(m.conversation_id),
            "senderId": str(m.sender_id),
            "receiverId": str(m.receiver_id) if m.receiver_id else None,
            "message": "" if hidden else m.body,
            "seq": m.seq,
            "clientMsgId": m.client_msg_id,
            "createdAt": iso(m.created_at),
            "updatedAt": iso(m.updated_at),
            "editedAt": iso(m.edited_at),
            "hidden": hidden,
        }


class SendMessageSerializer(serializers.Serializer):
    """Body of `POST /api/messages/send/<user_id>` and `.../conversations/<id>/messages`.

    `message` is checked by the send service itself (type, blank, length) so the REST API and
    the socket event answer the same codes."""

    # null is let through too: the service answers message_invalid, as the socket event does.
    message = serializers.JSONField(allow_null=True)
    clientMsgId = serializers.JSONField(required=False, allow_null=True)


class MarkReadSerializer(serializers.Serializer):
    # Checked by the service (seq_invalid), null included, as for the socket event.
    seq = serializers.JSONField(allow_null=True)


class MessagePageSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)
    hasMore = serializers.BooleanField()
    before = serializers.IntegerField(allow_null=True)
    after = serializers.IntegerField(allow_null=True)


class ConversationSerializer(serializers.Serializer):
    _id = serializers.CharField()
    kind = serializers.CharField()
    title = serializers.CharField()
    participants = UserSerializer(many=True)
    lastMessage = MessageSerializer(allow_null=True)
    lastSeq = serializers.IntegerField()
    lastReadSeq = serializers.IntegerField()
    unreadCount = serializers.IntegerField()
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
            "lastMessageAt": iso(conversation.last_message_at),
        }


class ConversationListSerializer(serializers.Serializer):
    conversations = ConversationSerializer(many=True)
    syncCursor = serializers.CharField()


class ReadMarkerSerializer(serializers.Serializer):
    conversationId = serializers.CharField()
    userId = serializers.CharField()
    seq = serializers.IntegerField()


class SyncSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)
    reads = ReadMarkerSerializer(many=True)
    cursor = serializers.CharField()
    hasMore = serializers.BooleanField()


class SyncQuerySerializer(serializers.Serializer):
    since = StrictCharField(required=False, max_length=64)

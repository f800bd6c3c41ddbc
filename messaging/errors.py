"""Messaging failures, each with a stable code (see docs/api.md)."""

from chatsite.errors import ChatError, NotFound


class MessageInvalid(ChatError):
    code = "message_invalid"
    default_detail = "The message must be a string."


class MessageEmpty(ChatError):
    code = "message_empty"
    default_detail = "The message is empty."


class MessageTooLong(ChatError):
    code = "message_too_long"
    default_detail = "The message is too long."


class ClientMsgIdInvalid(ChatError):
    code = "client_msg_id_invalid"
    default_detail = "clientMsgId must be a string of 1 to 64 letters, digits, '-' or '_'."


class CannotMessageSelf(ChatError):
    code = "cannot_message_self"
    default_detail = "You cannot send a message to yourself."


class ReceiverNotFound(NotFound):
    code = "receiver_not_found"
    default_detail = "No active user with that id."


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    default_detail = "No such conversation."


class MessageNotFound(NotFound):
    code = "message_not_found"
    default_detail = "No such message."


class SeqInvalid(ChatError):
    code = "seq_invalid"
    default_detail = "seq must be a whole number not above the conversation's last seq."


class CursorInvalid(ChatError):
    code = "cursor_invalid"
    default_detail = "The sync cursor is unknown or expired; reload the conversations."
    status = 410

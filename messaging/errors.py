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


class UserNotFound(NotFound):
    code = "user_not_found"
    default_detail = "No active user with that id."

    def __init__(self, user_id: object = None):
        super().__init__(None if user_id is None else f"No active user with the id {user_id}.")


class GroupNameInvalid(ChatError):
    code = "group_name_invalid"
    default_detail = "A group's name is at most 100 characters, no NUL, with something visible."


class TooFewMembers(ChatError):
    code = "too_few_members"
    default_detail = "A group needs at least one member besides its creator."


class TooManyMembers(ChatError):
    code = "too_many_members"
    default_detail = "A group has at most GROUP_MAX_MEMBERS members."


class NotAGroup(ChatError):
    code = "not_a_group"
    default_detail = "Only a group's name and members can change."
    status = 409


class GroupAdminRequired(ChatError):
    code = "group_admin_required"
    default_detail = "Only the group's owner and admins can do that."
    status = 403


class GroupOwnerRequired(ChatError):
    code = "group_owner_required"
    default_detail = "Only the group's owner can do that."
    status = 403


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_detail = "That user is not a member of the group."


class RoleInvalid(ChatError):
    code = "role_invalid"
    default_detail = 'role must be "member", "admin" or "owner".'


class ReplyNotFound(ChatError):
    code = "reply_not_found"
    default_detail = "replyTo must be the id of a message of the same conversation."


class MessageDeleted(ChatError):
    code = "message_deleted"
    default_detail = "The message was deleted."
    status = 409


class MessageHiddenByModerator(ChatError):
    code = "message_hidden"
    default_detail = "A moderator hid the message."
    status = 409


class SystemMessage(ChatError):
    code = "system_message"
    default_detail = "A system message can't be edited or deleted."
    status = 409


class EditWindowPassed(ChatError):
    code = "edit_window_passed"
    default_detail = "The time for editing this message has passed."
    status = 409


class EditLimitReached(ChatError):
    code = "edit_limit_reached"
    default_detail = "The message has been edited too many times."
    status = 409


class EmojiInvalid(ChatError):
    code = "emoji_invalid"
    default_detail = "A reaction is one emoji, or the short name of one (thumbs_up)."


class TooManyReactions(ChatError):
    code = "too_many_reactions"
    default_detail = "A message has at most 20 different reactions."
    status = 409


class AttachmentTooLarge(ChatError):
    code = "attachment_too_large"
    default_detail = "The file is larger than ATTACHMENT_MAX_BYTES."
    status = 413


class AttachmentTypeNotAllowed(ChatError):
    code = "attachment_type_not_allowed"
    default_detail = (
        "Send a JPEG, PNG, GIF or WebP image, a PDF, an Office or OpenDocument file, a ZIP "
        "archive or plain text, named for what it is."
    )


class AttachmentImageTooLarge(ChatError):
    code = "attachment_image_too_large"
    default_detail = "The image has more than ATTACHMENT_MAX_PIXELS pixels."


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    default_detail = "No such attachment, or not one you can use."


class TooManyAttachments(ChatError):
    code = "too_many_attachments"
    default_detail = "A message carries at most 10 attachments."


class SearchQueryInvalid(ChatError):
    code = "search_query_invalid"
    default_detail = "The query has no word to search for (letters or digits)."


class SearchCursorInvalid(ChatError):
    code = "search_cursor_invalid"
    default_detail = "before must be the id of the last hit of the previous page."

"""What messaging announces; realtime listens (messaging never imports realtime).

New messages need no signal of their own: realtime listens to Message's post_save. A send
retried with its `clientMsgId` finds the message stored and announces it again
(`message_sent_again`): the process that stored it may have died before delivering it."""

from django.dispatch import Signal

# conversation, user, seq, version — a member moved their read marker forward.
messages_read = Signal()
# message — hidden or unhidden by a moderator.
message_visibility_changed = Signal()
# message, action ("edited" | "deleted" | "reactions"), and for reactions user, emoji, added —
# its author edited or deleted it, or someone reacted.
message_changed = Signal()
# conversation, added_user_ids, removed_user_ids — a group was created (everyone in it is
# added), renamed or its members changed.
conversation_changed = Signal()
# message — a send was retried (same sender and clientMsgId) and found this message stored.
message_sent_again = Signal()

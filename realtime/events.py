"""Socket.IO event names, in one place (docs/realtime.md describes each)."""

# server → client
GET_ONLINE_USERS = "getOnlineUsers"
USER_ONLINE = "userOnline"
USER_OFFLINE = "userOffline"
NEW_MESSAGE = "newMessage"
MESSAGE_HIDDEN = "messageHidden"
MESSAGE_UPDATED = "messageUpdated"
MESSAGE_DELETED = "messageDeleted"
REACTIONS_UPDATED = "reactionsUpdated"
MESSAGES_READ = "messagesRead"
TYPING = "typing"
CONVERSATION_UPDATED = "conversationUpdated"
REMOVED_FROM_CONVERSATION = "removedFromConversation"
SESSION_ENDED = "sessionEnded"
USER_SIGNED_UP = "userSignedUp"
SYNC_STATUS = "syncStatus"

# client → server
SEND_MESSAGE = "sendMessage"
EDIT_MESSAGE = "editMessage"
DELETE_MESSAGE = "deleteMessage"
REACT = "react"
UNREACT = "unreact"
MARK_READ = "markRead"
WATCH_PRESENCE = "watchPresence"
# TYPING is relayed both ways.

# connect_error messages
UNAUTHORIZED = "unauthorized"
TOKEN_EXPIRED = "token_expired"

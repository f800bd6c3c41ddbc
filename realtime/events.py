"""Socket.IO event names, in one place (docs/realtime.md describes each)."""

# server → client
GET_ONLINE_USERS = "getOnlineUsers"
USER_ONLINE = "userOnline"
USER_OFFLINE = "userOffline"
NEW_MESSAGE = "newMessage"
MESSAGE_HIDDEN = "messageHidden"
MESSAGES_READ = "messagesRead"
TYPING = "typing"
CONVERSATION_UPDATED = "conversationUpdated"
REMOVED_FROM_CONVERSATION = "removedFromConversation"
SESSION_ENDED = "sessionEnded"

# client → server
SEND_MESSAGE = "sendMessage"
MARK_READ = "markRead"
WATCH_PRESENCE = "watchPresence"
# TYPING is relayed both ways.

# connect_error messages
UNAUTHORIZED = "unauthorized"
TOKEN_EXPIRED = "token_expired"

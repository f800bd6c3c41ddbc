"""Room names. Every socket of a user joins that user's room, so an emit to the room reaches
each of their tabs and devices; an original-mode socket (docs/realtime.md, "The original front
end") joins their original room instead."""


def user_room(user_id) -> str:
    return f"user:{user_id}"


def presence_room(user_id) -> str:
    """Sockets that asked (`watchPresence`) to hear when this user comes and goes."""
    return f"presence:{user_id}"


def original_room(user_id) -> str:
    """The user's original-mode sockets (the reference design's front end): they hear only
    `newMessage` of direct conversations, never of their own sends, and `getOnlineUsers`."""
    return f"original:{user_id}"


# Every socket but original-mode ones: what concerns everyone who uses the API's clients (a new
# user in the directory, `userSignedUp`).
DIRECTORY_ROOM = "directory"

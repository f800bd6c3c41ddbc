"""Room names. Every socket of a user joins that user's room, so an emit to the room reaches
each of their tabs and devices."""


def user_room(user_id) -> str:
    return f"user:{user_id}"


def presence_room(user_id) -> str:
    """Sockets that asked (`watchPresence`) to hear when this user comes and goes."""
    return f"presence:{user_id}"

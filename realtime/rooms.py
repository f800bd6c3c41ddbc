"""Room names. Every socket of a user joins that user's room, so an emit to the room reaches
each of their tabs and devices."""


def user_room(user_id) -> str:
    return f"user:{user_id}"


def presence_room(user_id) -> str:
    """Sockets that asked (`watchPresence`) to hear when this user comes and goes."""
    return f"presence:{user_id}"


class RoomIndex:
    """Mixed into python-socketio's client managers: keeps the rooms of each socket.

    python-socketio finds a leaving socket's rooms by copying and testing every room of the
    namespace, and there are two or more per socket (its own, its user's, presence rooms), so
    each disconnect cost O(sockets) and a reconnect storm of N sockets O(N²): thousands of
    sockets leaving at once kept one process busy for a long time
    (measured: docs/benchmarks.md, "Measurements behind the code")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rooms_of: dict[tuple[str, str], set] = {}  # (namespace, sid) → rooms

    def basic_enter_room(self, sid, namespace, room, eio_sid=None):
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self.rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid, namespace, room):
        super().basic_leave_room(sid, namespace, room)
        rooms = self.rooms_of.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self.rooms_of[(namespace, sid)]

    def get_rooms(self, sid, namespace):
        return [room for room in self.rooms_of.get((namespace, sid), ()) if room is not None]

    def basic_disconnect(self, sid, namespace, **kwargs):
        """python-socketio 5.18's `basic_disconnect` with the rooms taken from the index."""
        for room in list(self.rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace, [])
            if sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

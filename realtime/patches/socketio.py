"""python-socketio, written against python-socketio 5.18.1.

- `Server` and `AsyncServer`: python-socketio with the Engine.IO servers of
  `realtime.patches.engineio`, through `_engineio_server_class` (private).
- `RoomIndex`: the client managers keep each socket's rooms. Its `basic_disconnect` replaces
  python-socketio's and clears what that one clears: the manager's `callbacks`,
  `pending_connect` and `pending_disconnect` (undocumented attributes).
- `engineio_handlers`: the Engine.IO `message` and `disconnect` handlers python-socketio
  registered (read from `eio.handlers`), for `realtime.packets` to stand in front of.

Checked by `realtime/tests/test_patches.py` (and `realtime/tests/test_rooms.py` against
python-socketio's own manager)."""

from __future__ import annotations

import socketio

from realtime.patches import engineio as engineio_patches


class Server(socketio.Server):
    def _engineio_server_class(self):
        return engineio_patches.Server


class AsyncServer(socketio.AsyncServer):
    def _engineio_server_class(self):
        return engineio_patches.AsyncServer


def engineio_handlers(sio) -> tuple:
    """python-socketio's handlers of Engine.IO's `message` and `disconnect` events."""
    handlers = sio.eio.handlers
    return handlers["message"], handlers["disconnect"]


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

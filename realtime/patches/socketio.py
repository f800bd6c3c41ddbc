"""python-socketio, written against python-socketio 5.18.1.

- `Server` and `AsyncServer`: python-socketio with the Engine.IO servers of
  `realtime.patches.engineio`, through `_engineio_server_class` (private).
- `RoomIndex`: the client managers keep each socket's rooms. Its `basic_disconnect` replaces
  python-socketio's and clears what that one clears: the manager's `callbacks`,
  `pending_connect` and `pending_disconnect` (undocumented attributes). Those two hold, per
  namespace, the sockets connecting and leaving, in a list python-socketio creates with
  `pending[namespace] = []` and tests with `in` on every `is_connected`: `PendingSockets` turns
  each list into an ordered set as it is stored.
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


class _SocketSet(dict):
    """The list python-socketio keeps of a namespace's sockets connecting or leaving, as an
    ordered set: `in` and `remove` without a walk through the list."""

    def append(self, sid) -> None:
        self[sid] = None

    def remove(self, sid) -> None:
        del self[sid]


class PendingSockets(dict):
    """`pending_connect` / `pending_disconnect`: namespace → the `_SocketSet` of its sockets.

    python-socketio tests a socket against these lists in `is_connected`, which every emit to
    a socket, every event's handler and our `disconnect` call, and removes it from them when it
    is done: O(sockets pending) each. In a storm thousands are pending at once (connects waiting
    for their batched read, sockets leaving together), so that became O(N²) (measured:
    docs/benchmarks.md, "Connect storms")."""

    def __setitem__(self, namespace, sids) -> None:
        super().__setitem__(namespace, _SocketSet.fromkeys(sids))


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
        self.pending_connect = PendingSockets()
        self.pending_disconnect = PendingSockets()

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

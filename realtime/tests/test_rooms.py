"""The client manager's room index (realtime.patches.socketio.RoomIndex) keeps exactly the
rooms that python-socketio's own manager keeps, whatever the sequence of joins, leaves and
disconnects."""

import random

import pytest
import socketio

from realtime.patches.socketio import RoomIndex
from realtime.rooms import presence_room, user_room


class IndexedManager(RoomIndex, socketio.Manager):
    pass


def _managers():
    plain, indexed = socketio.Manager(), IndexedManager()
    for manager in (plain, indexed):
        socketio.Server(async_mode="threading", client_manager=manager)
    return plain, indexed


def _state(manager) -> dict:
    return {
        namespace: {room: dict(members) for room, members in rooms.items()}
        for namespace, rooms in manager.rooms.items()
    }


@pytest.mark.parametrize("seed", range(20))
def test_the_index_agrees_with_python_socketio_on_random_operations(seed):
    rng = random.Random(seed)
    plain, indexed = _managers()
    room_names = [user_room(i) for i in range(4)] + [presence_room(i) for i in range(4)]
    connected: list[tuple[str, str]] = []  # (sid in plain, sid in indexed)
    for step in range(300):
        action = rng.choice(["connect", "connect", "enter", "enter", "leave", "disconnect"])
        if action == "connect" or not connected:
            eio_sid = f"eio{step}"
            connected.append((plain.connect(eio_sid, "/"), indexed.connect(eio_sid, "/")))
            continue
        pair = rng.choice(connected)
        room = rng.choice(room_names)
        if action == "enter":
            plain.enter_room(pair[0], "/", room)
            indexed.enter_room(pair[1], "/", room)
        elif action == "leave":
            plain.leave_room(pair[0], "/", room)
            indexed.leave_room(pair[1], "/", room)
        else:
            connected.remove(pair)
            for manager, sid in zip((plain, indexed), pair, strict=True):
                manager.pre_disconnect(sid, "/")
                manager.disconnect(sid, "/")
        # The two generate different sids: compare with the sids renamed to their eio sid.
        assert _renamed(plain) == _renamed(indexed)
        for plain_sid, indexed_sid in connected:
            assert _rooms_of(plain, plain_sid) == _rooms_of(indexed, indexed_sid)


def _rooms_of(manager, sid) -> set[str]:
    return {"own room" if room == sid else room for room in manager.get_rooms(sid, "/")}


def _renamed(manager) -> dict:
    state = _state(manager)
    eio_of = {sid: eio for rooms in state.values() for sid, eio in rooms.get(None, {}).items()}
    return {
        namespace: {
            eio_of.get(room, room): {eio_of[sid]: eio for sid, eio in members.items()}
            for room, members in rooms.items()
        }
        for namespace, rooms in state.items()
    }


def test_everyone_leaving_leaves_no_room_and_no_index_entry():
    _, manager = _managers()
    sids = [manager.connect(f"eio{i}", "/") for i in range(50)]
    for i, sid in enumerate(sids):
        manager.enter_room(sid, "/", user_room(i % 5))
        manager.enter_room(sid, "/", presence_room(i % 7))
    for sid in sids:
        manager.pre_disconnect(sid, "/")
        manager.disconnect(sid, "/")
    assert manager.rooms == {}
    assert manager.rooms_of == {}
    assert manager.pending_disconnect == {}


def test_sockets_connecting_and_leaving_are_told_apart_as_python_socketio_tells_them():
    """`RoomIndex` keeps python-socketio's lists of sockets connecting and leaving as ordered
    sets (`PendingSockets`): `is_connected` and `is_pre_connected` answer as python-socketio's
    own manager does at every step of a socket's life."""
    plain, indexed = _managers()
    pairs = [(plain.pre_connect(f"e{i}", "/"), indexed.pre_connect(f"e{i}", "/")) for i in range(6)]

    def answers(manager, sid) -> tuple[bool, bool]:
        return manager.is_connected(sid, "/"), manager.is_pre_connected(sid, "/")

    def agree() -> bool:
        return [answers(plain, p) for p, _ in pairs] == [answers(indexed, i) for _, i in pairs]

    assert agree()
    for manager, sid in zip((plain, indexed), pairs[0], strict=True):
        manager.connect(sid, "/")
    for manager, sid in zip((plain, indexed), pairs[1], strict=True):
        manager.connect(sid, "/")
        manager.pre_disconnect(sid, "/")
    for manager, sid in zip((plain, indexed), pairs[2], strict=True):
        manager.pre_disconnect(sid, "/")
        manager.disconnect(sid, "/")
    assert agree()
    assert [answers(indexed, sid) for _, sid in pairs] == [(True, False), (False, False)] + [
        (False, False)
    ] + [(False, True)] * 3
    assert list(indexed.pending_connect["/"]) == [sid for _, sid in pairs[3:]]  # in order
    assert list(indexed.pending_disconnect["/"]) == [pairs[1][1]]


def test_python_socketio_still_stores_its_pending_lists_through_the_index():
    """Contract with python-socketio 5.18: it creates a namespace's list of sockets connecting
    (`pre_connect`) and leaving (`pre_disconnect`) with `pending[namespace] = []`, which
    `PendingSockets` turns into a set. If it stops doing so, `is_connected` walks a list again
    (O(N²) in a storm): this fails first."""
    _, manager = _managers()
    sid = manager.pre_connect("eio0", "/")
    other = manager.connect("eio1", "/")
    manager.pre_disconnect(other, "/")
    assert type(manager.pending_connect["/"]).__name__ == "_SocketSet"
    assert type(manager.pending_disconnect["/"]).__name__ == "_SocketSet"
    manager.connect(sid, "/")
    manager.disconnect(other, "/")
    assert manager.pending_connect == {} and manager.pending_disconnect == {}

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

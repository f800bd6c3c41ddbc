"""A user whose last socket closed is announced offline after their contacts are read, and in a
storm that read waits behind other batched reads (`realtime.batching`). If a new socket of theirs
connected meanwhile, its `userOnline` may already be out: no `userOffline` may follow it.

(The server's handlers on a real database, with the Socket.IO server's emits recorded: a live
server cannot be made to hold one read while a connect completes.)"""

import pytest
import socketio

from messaging.services import message_send
from realtime import batching, handlers
from realtime.presence import Presence

pytestmark = pytest.mark.django_db(transaction=True)


class RecordingServer(socketio.Server):
    def __init__(self):
        super().__init__(async_mode="threading")
        self.emitted: list[tuple[str, object]] = []

    def emit(self, event, data=None, **kwargs):
        self.emitted.append((event, data))


@pytest.fixture
def namespace(settings):
    settings.REALTIME = {**settings.REALTIME, "PRESENCE_FANOUT": "contacts"}
    return handlers.ChatNamespace(RecordingServer(), Presence())


def _offline(namespace) -> list:
    return [data for event, data in namespace.sio.emitted if event == "userOffline"]


def test_a_user_gone_is_announced_offline_to_their_contacts(namespace, alice, bob):
    message_send(sender=alice.user, receiver=bob.user, body="hi")
    namespace.presence.add(bob.id)
    assert namespace.presence.remove(bob.id)
    namespace._went_offline(bob.id)
    assert _offline(namespace) == [{"userId": bob.id}]


def test_a_user_back_during_the_contacts_read_is_not_announced_offline(namespace, alice, bob):
    message_send(sender=alice.user, receiver=bob.user, body="hi")
    namespace.presence.add(bob.id)
    assert namespace.presence.remove(bob.id)  # the last socket closed

    def read_while_bob_reconnects(user_ids):
        namespace.presence.add(bob.id)  # a new socket of bob's connects meanwhile
        return handlers._contacts_of(user_ids)

    namespace.contact_reads = batching.Batcher(read_while_bob_reconnects, default=frozenset())
    namespace._went_offline(bob.id)
    assert _offline(namespace) == []


def test_sessions_end_while_another_socket_leaves(namespace):
    # In the ASGI mode a disconnect pops its socket in one handler thread while a revocation
    # walks the sockets in another: the walk must not fail halfway ("dictionary changed size").
    class Identity:
        session_id = "session"

        @property
        def user_id(self):
            namespace.identities.pop("leaving", None)  # the other thread's disconnect
            return "revoked-user"

    namespace.identities.update({"first": Identity(), "leaving": Identity(), "last": Identity()})
    namespace.end_sessions(user_id="revoked-user", session_id=None, reason="session_ended")
    ended = [data for event, data in namespace.sio.emitted if event == "sessionEnded"]
    assert len(ended) == 2
    namespace.identities.clear()  # lets the background disconnects stop

"""REALTIME_PRESENCE_FANOUT=contacts (the default): a user's `userOnline`/`userOffline` reach
the users who share a conversation with them and the sockets that asked with `watchPresence`,
so a connect costs frames for a user's contacts, not for every connected socket.

(The rest of the realtime suite runs with `everyone`, see chatsite/testing.py.)"""

import concurrent.futures

import pytest

from realtime.tests.clients import Api, person_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module", params=["eventlet", "gevent", "asgi"])
def contacts_server(request, chat_server_factory):
    return chat_server_factory(request.param, REALTIME_PRESENCE_FANOUT="contacts")


@pytest.fixture
def open_socket(contacts_server, make_client):
    def open_(person):
        return make_client(contacts_server).connect(token=person.access)

    return open_


@pytest.fixture
def talk(contacts_server):
    """`talk(a, b)`: a writes to b, so they share a conversation."""
    api = Api(contacts_server.url)
    return lambda a, b: api.send(a, b, "hello")


@pytest.fixture
def dan(transactional_db):
    return person_create("dan")


def test_only_contacts_hear_a_user_come_and_go(open_socket, talk, alice, bob, carol):
    talk(alice, bob)
    friend = open_socket(alice)
    stranger = open_socket(carol)

    bobs_tab = open_socket(bob)
    assert friend.wait_for("userOnline") == {"userId": bob.id}
    bobs_tab.close()
    assert friend.wait_for("userOffline") == {"userId": bob.id}

    stranger.barrier()
    assert stranger.received("userOnline") == []
    assert stranger.received("userOffline") == []


def test_the_snapshot_lists_the_user_and_their_online_contacts(
    open_socket, talk, alice, bob, carol
):
    talk(alice, bob)
    open_socket(alice)
    open_socket(carol)

    assert open_socket(bob).wait_for("getOnlineUsers") == sorted([alice.id, bob.id])
    assert open_socket(carol).wait_for("getOnlineUsers") == [carol.id]


def test_a_conversation_started_while_online_counts_at_disconnect(open_socket, talk, alice, dan):
    watcher = open_socket(alice)
    dans_tab = open_socket(dan)
    watcher.barrier()
    assert watcher.received("userOnline") == []  # not contacts yet

    talk(dan, alice)
    dans_tab.close()

    assert watcher.wait_for("userOffline") == {"userId": dan.id}


def test_users_leaving_together_are_each_announced_to_their_own_contacts(open_socket, talk):
    """A network blip drops many sockets at once; the server reads the departing users'
    contacts together (`ChatNamespace._went_offline`): each contact hears exactly
    their own partner go offline, and no one else's."""
    pairs = [(person_create(f"stays{i}"), person_create(f"leaves{i}")) for i in range(12)]
    for stays, leaves in pairs:
        talk(stays, leaves)
    listeners = [open_socket(stays) for stays, _ in pairs]
    leaving = [open_socket(leaves) for _, leaves in pairs]
    for listener, (_, leaves) in zip(listeners, pairs, strict=True):
        assert listener.wait_for("userOnline") == {"userId": leaves.id}

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(leaving)) as pool:
        list(pool.map(lambda socket: socket.close(), leaving))

    for listener, (_, leaves) in zip(listeners, pairs, strict=True):
        assert listener.wait_for("userOffline") == {"userId": leaves.id}
    for listener, (_, leaves) in zip(listeners, pairs, strict=True):
        listener.barrier()
        assert listener.received("userOffline") == [{"userId": leaves.id}]
        assert listener.received("userOnline") == [{"userId": leaves.id}]


def test_watch_presence_answers_who_is_online_and_sends_their_changes(
    open_socket, talk, alice, bob, carol
):
    talk(carol, alice)
    talk(bob, carol)
    open_socket(alice)
    watcher = open_socket(carol)

    answer = watcher.call("watchPresence", {"userIds": [bob.id, alice.id]})
    assert answer == {"ok": True, "online": [alice.id]}

    open_socket(bob)
    assert watcher.wait_for("userOnline") == {"userId": bob.id}


def test_a_stranger_cannot_watch_someone_come_and_go(open_socket, talk, alice, bob, carol):
    """Presence is not a tracking tool: watching a user you share no conversation with answers
    them as offline, and their comings and goings are never sent."""
    talk(carol, alice)
    open_socket(alice)
    bobs_tab = open_socket(bob)
    watcher = open_socket(carol)

    answer = watcher.call("watchPresence", {"userIds": [bob.id, alice.id]})
    assert answer == {"ok": True, "online": [alice.id]}  # bob is online, but a stranger

    bobs_tab.close()
    open_socket(bob).close()
    watcher.barrier()
    assert watcher.received("userOnline") == []
    assert watcher.received("userOffline") == []


def test_public_presence_lets_anyone_watch(chat_server_factory, make_client, alice, bob, carol):
    server = chat_server_factory(
        "eventlet", REALTIME_PRESENCE_FANOUT="contacts", REALTIME_PRESENCE_WATCH="anyone"
    )
    bobs_tab = make_client(server).connect(token=bob.access)
    watcher = make_client(server).connect(token=carol.access)

    assert watcher.call("watchPresence", {"userIds": [bob.id, alice.id]}) == {
        "ok": True,
        "online": [bob.id],
    }
    bobs_tab.close()
    assert watcher.wait_for("userOffline") == {"userId": bob.id}

    # A new list replaces the old one: Bob is no longer watched.
    assert watcher.call("watchPresence", {"userIds": [alice.id]}) == {"ok": True, "online": []}
    make_client(server).connect(token=bob.access)
    watcher.assert_silent("userOnline")


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "everyone",
        {"userIds": "abc"},
        {"userIds": [42]},
        {"userIds": ["not-an-id"]},
        {"userIds": [{"$gt": ""}]},
        {"userIds": ["0" * 24] * 501},
    ],
)
def test_watch_presence_refuses_bad_input(open_socket, alice, payload):
    answer = open_socket(alice).call("watchPresence", payload)

    assert answer["ok"] is False
    assert answer["error"]["code"] == "invalid_payload"

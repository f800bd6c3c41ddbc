"""Original-mode sockets: the reference design's front end connects with `?userId=<its id>` and
no `auth` token, listens to `getOnlineUsers` (replacing its whole list) and `newMessage` (appending
it to the open chat), and appends its own sends from the REST answer.

Its identity still comes from the token; `userId` must name that same user. It gets whole
lists whenever its list changes (debounced, its contacts only), no echo of its own sends, and
no group messages; sockets that connect our way keep every event as before."""

import threading

import pytest
import requests
import socketio

from realtime.tests.clients import TIMEOUT, Api, person_create

pytestmark = pytest.mark.django_db(transaction=True)

DEBOUNCE_MS = 200
# Longer than one debounce interval: a pending list would have arrived by then.
QUIET = DEBOUNCE_MS / 1000 + 0.6


@pytest.fixture(scope="module", params=["eventlet", "gevent", "asgi"])
def original_server(request, chat_server_factory):
    """Presence to contacts, the production default."""
    return chat_server_factory(
        request.param,
        REALTIME_PRESENCE_FANOUT="contacts",
        REALTIME_LEGACY_PRESENCE_DEBOUNCE_MS=str(DEBOUNCE_MS),
    )


@pytest.fixture
def original(original_server, make_client):
    """`original(person)`: a socket connected as the reference front end does: `userId` in the
    query, the browser's `jwt` cookie."""

    def open_(person, claimed=None):
        return make_client(original_server).connect(
            query=f"userId={claimed or person.id}", headers=cookie(person)
        )

    return open_


def cookie(person) -> dict:
    return {"Cookie": f"jwt={person.access}"}


@pytest.fixture
def ours(original_server, make_client):
    return lambda person: make_client(original_server).connect(token=person.access)


@pytest.fixture
def talk(original_server):
    api = Api(original_server.url)
    return lambda a, b, text="hello": api.send(a, b, text)


@pytest.fixture
def dan(transactional_db):
    return person_create("dan")


def test_a_claimed_user_id_that_is_not_the_tokens_user_is_refused(original, alice, bob):
    with pytest.raises(socketio.exceptions.ConnectionError):
        original(alice, claimed=bob.id)


@pytest.mark.parametrize("claimed", ["", "undefined", "0" * 24])
def test_a_claimed_user_id_that_names_nobody_is_refused(
    original_server, make_client, alice, claimed
):
    client = make_client(original_server)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(query=f"userId={claimed}", headers=cookie(alice))
    assert client.connect_errors[-1] == {"message": "unauthorized"}


def test_user_id_alone_identifies_nobody(original_server, make_client, alice):
    client = make_client(original_server)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(query=f"userId={alice.id}")
    assert client.connect_errors[-1] == {"message": "unauthorized"}


def test_a_token_in_the_query_with_user_id_is_original_mode_too(
    original_server, make_client, alice, bob
):
    """For clients that can send neither cookies nor `auth` (the load tools, say)."""
    alices = make_client(original_server).connect(query=f"token={alice.access}&userId={alice.id}")
    bobs = make_client(original_server).connect(query=f"token={bob.access}&userId={bob.id}")

    sent = Api(original_server.url).send(alice, bob, "hello")

    assert bobs.wait_for("newMessage") == sent
    alices.barrier()
    assert alices.received("newMessage") == []


def test_with_an_auth_token_the_query_is_not_looked_at(original_server, make_client, alice, bob):
    """A socket that authenticates our way is ours, whatever its query says."""
    socket = make_client(original_server).connect(token=alice.access, query=f"userId={bob.id}")

    assert socket.wait_for("getOnlineUsers") == [alice.id]


def test_no_echo_of_its_own_sends_but_our_sockets_of_the_same_user_get_it(
    original, ours, talk, alice, bob, carol
):
    alices_original, alices_ours = original(alice), ours(alice)
    bobs_original, bobs_ours = original(bob), ours(bob)
    carols = original(carol)

    sent = talk(alice, bob, "hi bob")

    assert bobs_original.wait_for("newMessage") == sent
    assert bobs_ours.wait_for("newMessage") == sent
    assert alices_ours.wait_for("newMessage") == sent
    for socket in (alices_original, carols, bobs_original):
        socket.barrier()
    assert alices_original.received("newMessage") == []
    assert carols.received("newMessage") == []
    assert bobs_original.received("newMessage") == [sent]


def test_a_socket_send_is_not_echoed_either(original, alice, bob):
    alices, bobs = original(alice), original(bob)

    ack = alices.call("sendMessage", {"to": bob.id, "message": "by socket"})

    assert bobs.wait_for("newMessage") == ack["message"]
    alices.barrier()
    assert alices.received("newMessage") == []


def test_group_messages_do_not_reach_original_sockets(original_server, original, ours, alice, bob):
    """The original client appends every `newMessage` to the open chat: a group message would
    show up in a conversation with someone else."""
    bobs_original, bobs_ours = original(bob), ours(bob)
    group = requests.post(
        f"{original_server.url}/api/conversations",
        json={"kind": "group", "name": "Trip", "participantIds": [bob.id]},
        headers=alice.headers,
        timeout=TIMEOUT,
    ).json()

    sent = requests.post(
        f"{original_server.url}/api/conversations/{group['_id']}/messages",
        json={"message": "to the group"},
        headers=alice.headers,
        timeout=TIMEOUT,
    ).json()

    assert bobs_ours.wait_for("newMessage", lambda m: m["message"] == "to the group") == sent
    bobs_original.barrier()
    assert bobs_original.received("newMessage") == []
    assert bobs_original.received("conversationUpdated") == []


def test_the_list_follows_contacts_as_they_come_and_go(original, ours, talk, alice, bob, carol):
    talk(alice, bob)
    watcher = original(alice)
    assert watcher.wait_for("getOnlineUsers") == [alice.id]

    bobs_tab = ours(bob)
    assert watcher.wait_for("getOnlineUsers", lambda ids: bob.id in ids) == sorted(
        [alice.id, bob.id]
    )
    original(carol)  # a stranger: alice's list does not change, and she gets none
    watcher.assert_silent("getOnlineUsers", within=QUIET)

    bobs_tab.close()
    assert watcher.wait_count("getOnlineUsers", 3)[-1] == [alice.id]
    assert watcher.received("userOnline") == watcher.received("userOffline") == []


def test_a_second_tab_changes_nobodys_list(original, talk, alice, bob):
    talk(alice, bob)
    watcher = original(alice)
    original(bob)
    watcher.wait_count("getOnlineUsers", 2)

    second = original(bob)
    second.close()

    watcher.assert_silent("getOnlineUsers", within=QUIET)


def test_our_sockets_keep_getting_deltas(original, ours, talk, alice, bob):
    talk(alice, bob)
    watcher = ours(alice)
    watcher.wait_for("getOnlineUsers")

    original(bob).close()

    assert watcher.wait_for("userOffline") == {"userId": bob.id}
    assert watcher.received("userOnline") == [{"userId": bob.id}]
    assert watcher.received("getOnlineUsers") == [[alice.id]]


def test_a_first_message_puts_the_sender_on_the_receivers_list(original, talk, alice, dan):
    watcher = original(alice)
    assert watcher.wait_for("getOnlineUsers") == [alice.id]
    dans = original(dan)
    dans.wait_for("getOnlineUsers")

    talk(dan, alice, "nice to meet you")

    both = sorted([alice.id, dan.id])
    assert watcher.wait_for("getOnlineUsers", lambda ids: dan.id in ids) == both
    assert dans.wait_for("getOnlineUsers", lambda ids: alice.id in ids) == both
    talk(alice, dan, "likewise")  # not a first message: no list
    watcher.assert_silent("getOnlineUsers", within=QUIET)


def test_joining_a_group_puts_its_online_members_on_the_list(
    original_server, original, alice, bob, carol
):
    watcher = original(carol)
    original(bob)
    assert watcher.wait_for("getOnlineUsers") == [carol.id]

    created = requests.post(
        f"{original_server.url}/api/conversations",
        json={"kind": "group", "name": "Trip", "participantIds": [bob.id, carol.id]},
        headers=alice.headers,
        timeout=TIMEOUT,
    )

    assert created.status_code == 201, created.text
    assert watcher.wait_for("getOnlineUsers", lambda ids: bob.id in ids) == sorted(
        [bob.id, carol.id]
    )


def test_leaving_the_only_shared_group_takes_a_member_off_the_list(
    original_server, original, alice, bob, carol
):
    created = requests.post(
        f"{original_server.url}/api/conversations",
        json={"kind": "group", "name": "Trip", "participantIds": [bob.id, carol.id]},
        headers=alice.headers,
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    watcher = original(carol)
    original(bob)
    assert watcher.wait_for("getOnlineUsers", lambda ids: bob.id in ids)

    left = requests.delete(
        f"{original_server.url}/api/conversations/{created.json()['_id']}/members/{bob.id}",
        headers=bob.headers,
        timeout=TIMEOUT,
    )

    assert left.status_code == 200, left.text
    # Bob shares nothing with carol now: presence no longer tells her about him.
    assert watcher.wait_for("getOnlineUsers", lambda ids: bob.id not in ids) == [carol.id]


# Only this process hashes these passwords (the sockets log in with tokens).
@pytest.mark.usefixtures("fast_password_hashing")
def test_a_connect_storm_costs_each_list_one_frame_per_interval(original, talk, alice):
    crowd = [person_create() for _ in range(12)]
    for person in crowd:
        talk(person, alice)
    watcher = original(alice)
    watcher.wait_for("getOnlineUsers")

    sockets, errors = [], []

    def open_socket(person):
        try:
            sockets.append(original(person))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=open_socket, args=(p,)) for p in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    everyone = sorted([alice.id, *(p.id for p in crowd)])
    watcher.wait_for("getOnlineUsers", lambda ids: ids == everyone)
    watcher.assert_silent("getOnlineUsers", within=QUIET)
    lists = watcher.received("getOnlineUsers")[1:]
    assert len(lists) < len(crowd)  # merged, not one list per connect
    assert lists[-1] == everyone
    for socket in sockets:  # each crowd member's list is themselves and alice
        socket.barrier()
        assert len(socket.received("getOnlineUsers")) == 1


def test_logout_closes_original_sockets(original_server, original, alice):
    socket = original(alice)
    socket.wait_for("getOnlineUsers")

    response = requests.post(
        f"{original_server.url}/api/auth/logout",
        json={"refresh": alice.refresh},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    assert socket.wait_for("sessionEnded") == {"reason": "session_ended"}
    socket.wait_disconnected()

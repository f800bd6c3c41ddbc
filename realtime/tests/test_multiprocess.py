"""Two server processes (one eventlet, one gevent) sharing Redis behave as one server."""

import os

import pytest
import requests

from realtime.tests.clients import TIMEOUT, Api

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is unreachable at {REDIS_URL}")
    return client


@pytest.fixture(scope="module")
def servers(chat_server_factory):
    _redis_or_skip().flushdb()
    return (
        chat_server_factory("eventlet", REDIS_URL=REDIS_URL),
        chat_server_factory("gevent", REDIS_URL=REDIS_URL),
    )


@pytest.fixture
def on(make_client):
    def open_socket(server, person):
        return make_client(server).connect(token=person.access)

    return open_socket


def test_message_sent_on_one_process_reaches_sockets_on_the_other(servers, on, alice, bob, carol):
    a, b = servers
    receiver = on(b, bob)
    sender_elsewhere = on(b, alice)
    bystander = on(a, carol)

    sent = Api(a.url).send(alice, bob, "across processes")

    assert receiver.wait_for("newMessage") == sent
    assert sender_elsewhere.wait_for("newMessage") == sent
    bystander.assert_silent("newMessage")


def test_socket_send_on_one_process_reaches_the_other(servers, on, alice, bob):
    a, b = servers
    receiver = on(a, bob)

    ack = on(b, alice).call("sendMessage", {"to": bob.id, "message": "hello from gevent"})

    assert ack["ok"] is True
    assert receiver.wait_for("newMessage") == ack["message"]


def test_presence_spans_processes(servers, on, alice, bob):
    a, b = servers
    watcher = on(a, alice)

    newcomer = on(b, bob)

    assert alice.id in newcomer.wait_for("getOnlineUsers")
    assert watcher.wait_for("userOnline", lambda e: e["userId"] == bob.id)

    second_tab = on(a, bob)  # bob is already online on the other process
    watcher.assert_silent("userOnline")
    assert watcher.received("userOnline") == [{"userId": bob.id}]
    newcomer.close()
    watcher.assert_silent("userOffline")
    second_tab.close()
    assert watcher.wait_for("userOffline") == {"userId": bob.id}
    assert bob.id not in on(b, alice).wait_for("getOnlineUsers")


@pytest.fixture(scope="module")
def contacts_servers(chat_server_factory):
    """Two processes with presence to contacts (the production default)."""
    _redis_or_skip()
    return (
        chat_server_factory("eventlet", REDIS_URL=REDIS_URL, REALTIME_PRESENCE_FANOUT="contacts"),
        chat_server_factory("gevent", REDIS_URL=REDIS_URL, REALTIME_PRESENCE_FANOUT="contacts"),
    )


def test_new_group_members_learn_who_is_online_on_every_process(
    contacts_servers, on, alice, bob, carol
):
    """The process that adds a member counts who is online on all of them and reaches their
    sockets wherever they are."""
    a, b = contacts_servers
    alices, bobs, carols = on(a, alice), on(a, bob), on(b, carol)
    group = requests.post(
        f"{a.url}/api/conversations",
        json={"kind": "group", "name": "Trip", "participantIds": [carol.id]},
        headers=alice.headers,
        timeout=TIMEOUT,
    ).json()
    assert carols.wait_for("getOnlineUsers", lambda ids: alice.id in ids) == sorted(
        [alice.id, carol.id]
    )

    added = requests.post(
        f"{b.url}/api/conversations/{group['_id']}/members",
        json={"userIds": [bob.id]},
        headers=alice.headers,
        timeout=TIMEOUT,
    )
    assert added.status_code == 200, added.text
    assert bobs.wait_for("getOnlineUsers", lambda ids: len(ids) > 1) == sorted(
        [alice.id, bob.id, carol.id]
    )
    assert alices.wait_for("userOnline") == {"userId": bob.id}
    assert carols.wait_for("userOnline") == {"userId": bob.id}


def test_original_mode_lists_follow_contacts_on_every_process(
    contacts_servers, make_client, on, alice, bob, carol
):
    """An original-mode socket (the reference front end: `userId` in the query) hears its list
    change when a contact comes or goes on another process, or when someone on another process
    writes to it for the first time."""
    a, b = contacts_servers
    Api(b.url).send(alice, bob, "hello")
    watcher = make_client(a).connect(
        query=f"userId={alice.id}", headers={"Cookie": f"jwt={alice.access}"}
    )
    assert watcher.wait_for("getOnlineUsers") == [alice.id]

    bobs = on(b, bob)
    assert watcher.wait_for("getOnlineUsers", lambda ids: bob.id in ids) == sorted(
        [alice.id, bob.id]
    )
    on(b, carol)  # not a contact yet
    Api(b.url).send(carol, alice, "hi, I'm carol")
    assert watcher.wait_for("getOnlineUsers", lambda ids: carol.id in ids) == sorted(
        [alice.id, bob.id, carol.id]
    )
    bobs.close()
    without_bob = sorted([alice.id, carol.id])
    watcher.wait_for("getOnlineUsers", lambda ids: ids == without_bob)
    assert watcher.received("getOnlineUsers")[-1] == without_bob
    watcher.barrier()
    assert watcher.received("userOnline") == watcher.received("userOffline") == []
    assert [m["message"] for m in watcher.received("newMessage")] == ["hi, I'm carol"]

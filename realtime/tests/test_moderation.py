"""Moderation reaches the sockets: a message hidden or unhidden through the admin of a serving
process, or from a separate process through Redis, is announced with `messageHidden` to every
socket of its participants and to nobody else."""

import os
import subprocess
import sys

import pytest
import requests

from accounts.tests.factories import PASSWORD
from chatsite.testing import BASE_DIR
from realtime.tests.clients import TIMEOUT, Api, person_create
from realtime.tests.test_multiprocess import REDIS_URL, _redis_or_skip

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = "/admin/messaging/message/"


class AdminSession:
    """A moderator logged in to a server's admin over HTTP, like a browser."""

    def __init__(self, url: str, moderator):
        self.url = url
        self.http = requests.Session()
        self.http.get(f"{url}/admin/login/", timeout=TIMEOUT).raise_for_status()
        response = self.http.post(
            f"{url}/admin/login/",
            data={
                "username": moderator.user.username,
                "password": PASSWORD,
                "next": "/admin/",
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert response.status_code == 302, response.text
        assert response.headers["Location"] == "/admin/"

    def run_action(self, action: str, message_ids: list[str]) -> None:
        response = self.http.post(
            self.url + MESSAGES,
            data={
                "action": action,
                "_selected_action": message_ids,
                "index": 0,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert response.status_code == 302, response.text


@pytest.fixture
def moderator(transactional_db):
    person = person_create("moderator")
    person.user.is_staff = True
    person.user.is_superuser = True
    person.user.save()
    return person


def _hidden_event(message: dict, *, hidden: bool) -> dict:
    return {
        "messageId": message["_id"],
        "conversationId": message["conversationId"],
        "seq": message["seq"],
        "hidden": hidden,
        "message": {**message, "message": "" if hidden else message["message"], "hidden": hidden},
    }


def _without_timestamps(event: dict) -> dict:
    # Hiding touches the stored row's updatedAt; everything else must be as sent.
    return {**event, "message": {k: v for k, v in event["message"].items() if k != "updatedAt"}}


def test_admin_hide_and_unhide_reach_every_participant_socket_only(
    chat_server, connect, api, alice, bob, carol, moderator
):
    sent = api.send(alice, bob, "something rude")
    api.send(alice, carol, "unrelated")  # carol talks to alice, but not in this conversation
    alice_phone, alice_laptop = connect(alice), connect(alice)
    bob_socket, carol_socket = connect(bob), connect(carol)
    moderator_socket = connect(moderator)
    admin = AdminSession(chat_server.url, moderator)

    admin.run_action("hide", [sent["_id"]])

    hidden = _hidden_event(sent, hidden=True)
    for socket in (alice_phone, alice_laptop, bob_socket):
        event = socket.wait_for("messageHidden")
        assert _without_timestamps(event) == _without_timestamps(hidden)
    for socket in (carol_socket, moderator_socket):
        socket.barrier()
        assert socket.received("messageHidden") == []
    assert api.get(bob, f"/api/messages/{alice.id}")[0]["hidden"] is True

    admin.run_action("unhide", [sent["_id"]])

    shown = _hidden_event(sent, hidden=False)
    for socket in (alice_phone, alice_laptop, bob_socket):
        events = socket.wait_count("messageHidden", 2)
        assert [_without_timestamps(e) for e in events] == [
            _without_timestamps(hidden),
            _without_timestamps(shown),
        ]
    for socket in (carol_socket, moderator_socket):
        socket.barrier()
        assert socket.received("messageHidden") == []


def test_hiding_an_already_hidden_message_announces_nothing(
    chat_server, connect, api, alice, bob, moderator
):
    sent = api.send(alice, bob, "twice")
    bob_socket = connect(bob)
    admin = AdminSession(chat_server.url, moderator)
    admin.run_action("hide", [sent["_id"]])
    bob_socket.wait_for("messageHidden")

    admin.run_action("hide", [sent["_id"]])

    bob_socket.barrier()
    assert len(bob_socket.received("messageHidden")) == 1


# A separate process (a management command, a web process without sockets) hides a message.
HIDE = """
from messaging.models import Message
from messaging.services import message_hide
message_hide(message=Message.objects.get(pk=MESSAGE_ID), by=None)
"""


@pytest.mark.redis
def test_hide_from_another_process_reaches_sockets_through_redis(
    chat_server_factory, make_client, alice, bob, carol
):
    _redis_or_skip()
    server = chat_server_factory("eventlet", REDIS_URL=REDIS_URL)
    try:
        sent = Api(server.url).send(alice, bob, "hide me from afar")
        alice_socket = make_client(server).connect(token=alice.access)
        bob_socket = make_client(server).connect(token=bob.access)
        carol_socket = make_client(server).connect(token=carol.access)

        subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), "shell", "-c",
             HIDE.replace("MESSAGE_ID", repr(sent["_id"]))],
            env={**os.environ, "MONGODB_NAME": server.env["MONGODB_NAME"], "REDIS_URL": REDIS_URL},
            cwd=BASE_DIR, check=True, timeout=60,
        )  # fmt: skip

        hidden = _without_timestamps(_hidden_event(sent, hidden=True))
        assert _without_timestamps(bob_socket.wait_for("messageHidden")) == hidden
        assert _without_timestamps(alice_socket.wait_for("messageHidden")) == hidden
        carol_socket.barrier()
        assert carol_socket.received("messageHidden") == []
    finally:
        server.stop()  # its presence and channel in Redis are not left to other tests

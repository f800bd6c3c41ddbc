"""A signup reaches the sockets: `userSignedUp` with the new user's public shape goes to every
socket but original-mode ones, after the account is stored, and to nobody with
`REALTIME_ANNOUNCE_SIGNUPS=false` (docs/realtime.md)."""

from __future__ import annotations

import uuid

import pytest
import requests

from realtime.tests.clients import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def announcing(chat_server_factory):
    return chat_server_factory("eventlet")


@pytest.fixture(scope="module")
def quiet(chat_server_factory):
    return chat_server_factory("eventlet", REALTIME_ANNOUNCE_SIGNUPS="false")


def sign_up(server) -> dict:
    username = f"new{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{server.url}/api/auth/signup",
        json={
            "fullName": "New Person",
            "username": username,
            "email": f"{username}@example.org",
            "password": "correct-horse-9",
            "confirmPassword": "correct-horse-9",
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_everyone_connected_hears_of_a_signup_but_original_sockets(
    announcing, make_client, alice, bob
):
    ours = make_client(announcing).connect(token=alice.access)
    also_ours = make_client(announcing).connect(token=bob.access)
    original = make_client(announcing).connect(
        query=f"userId={bob.id}", headers={"Cookie": f"jwt={bob.access}"}
    )
    new = sign_up(announcing)
    for socket in (ours, also_ours):
        event = socket.wait_for("userSignedUp", lambda e: e["user"]["_id"] == new["_id"])
        assert event == {
            "user": {
                key: new[key] for key in ("_id", "fullName", "username", "gender", "profilePic")
            }
        }
    original.assert_silent("userSignedUp")
    # The new user's own first socket hears nothing of themselves: they signed up before it.
    mine = make_client(announcing).connect(token=new["access"])
    mine.assert_silent("userSignedUp")


def test_no_announcement_when_turned_off(quiet, make_client, alice):
    socket = make_client(quiet).connect(token=alice.access)
    sign_up(quiet)
    socket.assert_silent("userSignedUp", within=1.0)

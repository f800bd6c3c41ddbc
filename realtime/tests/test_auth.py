"""Who may open a socket: only a valid access token of an active user whose session is open."""

from datetime import timedelta

import jwt
import pytest
import socketio
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import tokens_revoke, user_deactivate

pytestmark = pytest.mark.django_db(transaction=True)


def refused(client, **connect) -> str:
    """Connect and expect a refusal; returns the connect_error message."""
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(**connect)
    assert not client.connected
    assert client.connect_errors, "no connect_error received"
    return client.connect_errors[-1]["message"]


def test_no_token_is_refused(chat_server, make_client):
    assert refused(make_client(chat_server)) == "unauthorized"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "", "x" * 5000])
def test_garbage_token_is_refused(chat_server, make_client, token):
    assert refused(make_client(chat_server), auth={"token": token}) == "unauthorized"


def test_token_signed_with_another_key_is_refused(chat_server, make_client, alice):
    claims = AccessToken(alice.access).payload
    forged = jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256")
    assert refused(make_client(chat_server), token=forged) == "unauthorized"


def test_expired_token_is_refused_with_token_expired(chat_server, make_client, alice):
    token = AccessToken(alice.access)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=1))
    assert refused(make_client(chat_server), token=str(token)) == "token_expired"


def test_refresh_token_is_not_an_access_token(chat_server, make_client, alice):
    assert refused(make_client(chat_server), token=alice.refresh) == "unauthorized"


def test_deactivated_user_is_refused(chat_server, make_client, alice):
    user_deactivate(user=alice.user)
    assert refused(make_client(chat_server), token=alice.access) == "unauthorized"


def test_logged_out_session_is_refused(chat_server, make_client, alice):
    make_client(chat_server).connect(token=alice.access).close()
    tokens_revoke(refresh=alice.refresh)
    assert refused(make_client(chat_server), token=alice.access) == "unauthorized"


def test_forged_user_id_query_is_refused(chat_server, make_client, api, alice, bob):
    """The reference design trusted `?userId=`; here it identifies nobody."""
    intruder = make_client(chat_server)
    assert refused(intruder, query=f"userId={alice.id}") == "unauthorized"
    api.send(bob, alice, "for alice only")
    assert intruder.events == []


def test_forged_user_id_with_own_token_is_ignored(chat_server, make_client, api, alice, bob, carol):
    """A valid token decides who you are, whatever `?userId=` says."""
    mallory = make_client(chat_server).connect(token=carol.access, query=f"userId={alice.id}")
    api.send(bob, alice, "for alice only")
    mallory.barrier()
    assert mallory.received("newMessage") == []


def test_token_in_auth_payload(chat_server, make_client, alice):
    client = make_client(chat_server).connect(auth={"token": alice.access})
    assert client.connected
    assert alice.id in client.wait_for("getOnlineUsers")


def test_bearer_prefix_in_auth_payload(chat_server, make_client, alice):
    client = make_client(chat_server).connect(auth={"token": f"Bearer {alice.access}"})
    assert client.connected


def test_token_in_query(chat_server, make_client, alice):
    client = make_client(chat_server).connect(query=f"token={alice.access}")
    assert client.connected
    assert alice.id in client.wait_for("getOnlineUsers")

"""What an attacker can send to the messaging API: forged tokens, guessed ids, oversized,
malformed and mistyped bodies, fields the API does not take, and markup for the pages that show
messages. Each gets a stable error code and the right status, never a 500; nothing is stored
half-way, which `assert_invariants` checks after every test.

(The ordinary validation errors are in test_apis.py; this file covers the hostile cases.)"""

import json
from urllib.parse import quote

import pytest
from bson import ObjectId

from accounts.tests.factories import (
    FORGED_TOKEN_KINDS,
    assert_error,
    bearer,
    forged_token,
    user_factory,
)
from messaging.models import Conversation, Message
from messaging.services import message_send
from messaging.tests.factories import message_factory, messages_factory
from messaging.tests.invariants import assert_invariants, database

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _invariants_hold_afterwards(db):
    yield
    assert_invariants(database())


@pytest.fixture
def chat(alice, bob):
    """Two messages between alice and bob; returns the first."""
    return messages_factory(sender=alice, receiver=bob, count=2)[0]


def send_url(user) -> str:
    return f"/api/messages/send/{user.pk}"


def conversation_url(conversation_id, what: str = "messages") -> str:
    return f"/api/conversations/{conversation_id}/{what}"


def stored() -> tuple[int, int, list]:
    return (
        Message.objects.count(),
        Conversation.objects.count(),
        sorted(Conversation.objects.values_list("version", "read_markers"), key=str),
    )


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FORGED_TOKEN_KINDS)
def test_a_forged_or_misused_token_reads_and_writes_nothing(api, alice, bob, chat, kind):
    token = forged_token(kind, user=alice, other=bob)
    if token is not None:
        api.credentials(HTTP_AUTHORIZATION=bearer(token))
    code = {"missing": "not_authenticated", "expired": "token_expired"}.get(kind, "token_invalid")
    before = stored()
    conversation_id = chat.conversation_id

    for response in [
        api.get(f"/api/messages/{bob.pk}"),
        api.get("/api/conversations"),
        api.get(conversation_url(conversation_id)),
        api.get("/api/sync"),
        api.post(send_url(bob), {"message": "forged"}, format="json"),
        api.post(conversation_url(conversation_id), {"message": "forged"}, format="json"),
        api.post(conversation_url(conversation_id, "read"), {"seq": 2}, format="json"),
    ]:
        body = assert_error(response, 401, code)
        assert set(body) == {"error", "code"}
    assert stored() == before
    assert Conversation.objects.get().last_read_seq(alice.pk) == 1


# --- authorization -------------------------------------------------------------------------


def test_guessed_conversation_ids_give_away_nothing(api, alice, bob, carol, chat):
    """ObjectIds are guessable (time, machine, counter): the participant check is what keeps
    a conversation private. Neighbouring ids answer the same 404 as the real one."""
    real = chat.conversation_id
    raw = int(str(real), 16)
    guesses = [real] + [ObjectId(f"{raw + delta:024x}") for delta in (-2, -1, 1, 2)]
    api.login_as(carol)
    before = stored()

    for guess in guesses:
        assert_error(api.get(conversation_url(guess)), 404, "conversation_not_found")
        response = api.post(conversation_url(guess), {"message": "in?"}, format="json")
        assert_error(response, 404, "conversation_not_found")
        response = api.post(conversation_url(guess, "read"), {"seq": 1}, format="json")
        assert_error(response, 404, "conversation_not_found")
    # The user-id routes only ever reach carol's own conversations.
    assert api.get(f"/api/messages/{alice.pk}").json() == []
    listed = api.get("/api/conversations").json()["conversations"]
    assert listed == []
    assert api.get("/api/sync").json()["messages"] == []
    assert stored() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_messages_are_changed_only_through_their_own_routes(api, alice, bob, chat, method):
    api.login_as(alice)
    before = stored()

    for url in (conversation_url(chat.conversation_id), send_url(bob)):
        response = getattr(api, method)(
            url, {"message": "rewritten", "hidden": True}, format="json"
        )
        assert_error(response, 405, "method_not_allowed")
    # `/api/messages/<id>` edits and deletes by message id: a user's id names no message.
    response = getattr(api, method)(
        f"/api/messages/{bob.pk}", {"message": "rewritten", "hidden": True}, format="json"
    )
    if method == "put":
        assert_error(response, 405, "method_not_allowed")
    else:
        assert_error(response, 404, "message_not_found")
    assert stored() == before
    chat.refresh_from_db()
    assert (chat.body, chat.hidden_at) == ("m1", None)


def test_a_participant_without_staff_rights_cannot_hide_through_the_admin(client, alice, chat):
    client.force_login(alice)

    response = client.post(
        "/admin/messaging/message/",
        {"action": "hide", "_selected_action": [str(chat.pk)], "index": 0},
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    chat.refresh_from_db()
    assert chat.hidden_at is None


# --- payloads -------------------------------------------------------------------------------


def test_a_1_mb_message_is_413_and_stores_nothing(api, alice, bob, chat):
    api.login_as(alice)
    before = stored()

    for url in (send_url(bob), conversation_url(chat.conversation_id)):
        response = api.post(url, {"message": "x" * 1_000_000}, format="json")
        assert_error(response, 413, "request_too_large")
    assert stored() == before


@pytest.mark.parametrize(
    "body",
    [
        "\u200b",  # zero-width space
        "\u200c\u200d\u2060\ufeff",  # joiners, word joiner, BOM
        "\u202e\u2066\u00ad",  # bidi controls, soft hyphen
        "\u00a0\u3000\u2028\u2029",  # no-break and ideographic spaces, separators
        "\x07\x1b\x7f",  # controls
        "\u115f\u1160\u3164\uffa0",  # Hangul fillers
        "\u2800\u2800",  # braille blank
    ],
)
def test_a_message_of_invisible_characters_is_empty(api, alice, bob, chat, body):
    api.login_as(alice)
    before = stored()

    for url in (send_url(bob), conversation_url(chat.conversation_id)):
        response = api.post(url, {"message": f" {body} "}, format="json")
        assert_error(response, 400, "message_empty")
    assert stored() == before


def test_visible_text_among_invisible_characters_is_stored_as_sent(api, alice, bob):
    body = "\u200bhi\u2800\u3164 there\u200d"

    response = api.login_as(alice).post(send_url(bob), {"message": f"  {body}\n"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["message"] == body
    assert Message.objects.get(pk=response.json()["_id"]).body == body


def test_deeply_nested_json_is_malformed_json(api, alice, bob):
    raw = b'{"message": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"

    response = api.login_as(alice).post(send_url(bob), raw, content_type="application/json")

    assert_error(response, 400, "malformed_json")
    assert stored() == (0, 0, [])


def test_nesting_within_the_limit_is_just_the_wrong_type(api, alice, bob):
    body = {"message": json.loads("[" * 200 + "]" * 200), "clientMsgId": {"a": {"b": {}}}}

    response = api.login_as(alice).post(send_url(bob), body, format="json")

    assert_error(response, 400, "message_invalid")
    assert stored() == (0, 0, [])


@pytest.mark.parametrize(
    "raw",
    [
        b'{"message": "half \\ud83d"}',  # a high surrogate without its pair
        b'{"message": "\\udc00 low"}',
        b'{"message": "hi", "clientMsgId": "\\ud800"}',
        b'{"message": "hi", "\\ud800": 1}',  # in a key
    ],
)
def test_an_unpaired_surrogate_is_malformed_json(api, alice, bob, raw):
    response = api.login_as(alice).post(send_url(bob), raw, content_type="application/json")

    assert_error(response, 400, "malformed_json")
    assert stored() == (0, 0, [])


def test_the_send_service_refuses_unpaired_surrogates_itself(alice, bob):
    """The socket event and the admin reach the service without the REST parser."""
    from messaging import errors

    with pytest.raises(errors.MessageInvalid) as caught:
        message_send(sender=alice, receiver=bob, body="half \ud83d")
    assert caught.value.code == "message_invalid"
    assert stored() == (0, 0, [])
    # A proper pair is one character and fine.
    assert message_send(sender=alice, receiver=bob, body="\U0001f600").body == "\U0001f600"


@pytest.mark.parametrize(
    "raw", [b'{"message": "\xff\xfe"}', b"\xef\xbb\xbf\xff", b'{"message": "a"', b"\x00"]
)
def test_bytes_that_are_not_json_text(api, alice, bob, raw):
    response = api.login_as(alice).post(send_url(bob), raw, content_type="application/json")

    assert_error(response, 400, "malformed_json")
    assert stored() == (0, 0, [])


def test_nul_characters(api, alice, bob, chat):
    api.login_as(alice)
    before = stored()

    for body in (
        {"message": "a\x00b"},
        {"message": "\x00"},
        {"message": "hi", "clientMsgId": "a\x00"},
    ):
        response = api.post(send_url(bob), body, format="json")
        assert response.status_code == 400, body
        assert response.json()["code"] in {"message_invalid", "client_msg_id_invalid"}
    response = api.post(conversation_url("\x00"), {"message": "hi"}, format="json")
    assert response.status_code == 404
    assert stored() == before


WRONG_VALUES = [{"$gt": ""}, {"$ne": None}, {"$where": "1"}, ["a"], 12, 1.5, True, False, {}]


def test_wrong_types_and_operators_in_every_send_field(api, alice, bob, chat):
    api.login_as(alice)
    before = stored()

    for value in WRONG_VALUES:
        for url in (send_url(bob), conversation_url(chat.conversation_id)):
            response = api.post(url, {"message": value}, format="json")
            assert_error(response, 400, "message_invalid")
            response = api.post(url, {"message": "hi", "clientMsgId": value}, format="json")
            assert_error(response, 400, "client_msg_id_invalid")
        response = api.post(conversation_url(chat.conversation_id, "read"), {"seq": value},
                            format="json")  # fmt: skip
        assert_error(response, 400, "seq_invalid")
    assert stored() == before


@pytest.mark.parametrize("operator", ['{"$gt": ""}', "$gt", "[$ne]=1", "{'$where':'1'}"])
def test_operators_in_ids_and_query_parameters(api, alice, bob, chat, operator):
    api.login_as(alice)
    in_path = quote(operator, safe="")

    assert_error(api.get(conversation_url(in_path)), 404, "conversation_not_found")
    response = api.post(f"/api/messages/send/{in_path}", {"message": "hi"}, format="json")
    assert_error(response, 404, "receiver_not_found")
    assert_error(api.get(f"/api/messages/{in_path}"), 404, "receiver_not_found")
    for name in ("before", "after", "limit"):
        response = api.get(conversation_url(chat.conversation_id), {name: operator})
        assert_error(response, 400, "validation_error")
    assert_error(api.get("/api/sync", {"since": operator}), 400, "validation_error")
    # Repeated and bracketed parameters are not parsed into objects either.
    response = api.get(f"{conversation_url(chat.conversation_id)}?before[$gt]=0&before=1")
    assert response.status_code == 200
    assert response.json()["messages"] == []


def test_unknown_fields_cannot_choose_sender_seq_conversation_or_visibility(
    api, alice, bob, carol, chat
):
    elsewhere = message_factory(sender=carol, receiver=bob)
    api.login_as(alice)

    response = api.post(
        send_url(bob),
        {
            "message": "plain",
            "_id": str(chat.pk),
            "senderId": str(carol.pk),
            "receiverId": str(carol.pk),
            "conversationId": str(elsewhere.conversation_id),
            "seq": 1,
            "hidden": True,
            "createdAt": "2000-01-01T00:00:00Z",
            "$set": {"is_staff": True},
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    payload = response.json()
    assert payload["_id"] != str(chat.pk)
    assert (payload["senderId"], payload["receiverId"]) == (str(alice.pk), str(bob.pk))
    assert payload["conversationId"] == str(chat.conversation_id)
    assert (payload["seq"], payload["hidden"]) == (3, False)
    assert not payload["createdAt"].startswith("2000")
    assert Conversation.objects.get(pk=elsewhere.conversation_id).last_seq == 1


# --- rendering ------------------------------------------------------------------------------

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def assert_inert(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html


@pytest.fixture
def marked_up(alice, bob):
    return message_factory(sender=alice, receiver=bob, body=MARKUP)


def test_message_markup_is_inert_in_the_admin(client, marked_up):
    moderator = user_factory(username="moderator")
    moderator.is_staff = moderator.is_superuser = True
    moderator.save()
    client.force_login(moderator)

    pages = [
        "/admin/messaging/message/",
        f"/admin/messaging/message/{marked_up.pk}/change/",
        f"/admin/messaging/conversation/{marked_up.conversation_id}/change/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode())


def test_message_markup_is_inert_in_the_browsable_api(client, alice, bob, marked_up):
    client.force_login(bob)

    for url in (conversation_url(marked_up.conversation_id), f"/api/messages/{alice.pk}"):
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html")
        assert_inert(response.content.decode())
    # The JSON itself carries the text unchanged: escaping is the renderer's job.
    response = client.get(conversation_url(marked_up.conversation_id))
    assert response.json()["messages"][0]["message"] == MARKUP

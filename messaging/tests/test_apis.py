import pytest
from bson import ObjectId
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from accounts.services import user_deactivate
from accounts.tests.factories import assert_error
from messaging import selectors
from messaging.models import Conversation, Message
from messaging.services import conversation_mark_read, message_hide
from messaging.tests.factories import message_factory, messages_factory
from messaging.tests.test_admin import index_used

pytestmark = pytest.mark.django_db

PAYLOAD_KEYS = {
    "_id", "conversationId", "senderId", "receiverId", "message", "seq", "clientMsgId",
    "createdAt", "updatedAt", "editedAt", "deleted", "hidden", "system", "replyTo", "reactions",
    "attachments",
}  # fmt: skip


def send_url(user) -> str:
    return f"/api/messages/send/{user.pk}"


def list_url(user) -> str:
    return f"/api/messages/{user.pk}"


def conversation_url(conversation_id, what: str = "messages") -> str:
    return f"/api/conversations/{conversation_id}/{what}"


def conversation_of(message) -> Conversation:
    return Conversation.objects.get(pk=message.conversation_id)


# --- POST /api/messages/send/<user_id> -----------------------------------------------------


def test_send(api, alice, bob):
    response = api.login_as(alice).post(
        send_url(bob), {"message": "hi bob", "clientMsgId": "c-1"}, format="json"
    )
    assert response.status_code == 201, response.content
    payload = response.json()
    assert set(payload) == PAYLOAD_KEYS
    conversation = Conversation.objects.get()
    assert payload["conversationId"] == str(conversation.pk)
    assert (payload["senderId"], payload["receiverId"]) == (str(alice.pk), str(bob.pk))
    assert (payload["message"], payload["seq"], payload["clientMsgId"]) == ("hi bob", 1, "c-1")
    assert payload["hidden"] is False
    assert payload["editedAt"] is None


def test_send_retry_returns_the_same_message(api, alice, bob):
    api.login_as(alice)
    first = api.post(send_url(bob), {"message": "once", "clientMsgId": "r1"}, format="json")
    again = api.post(send_url(bob), {"message": "once", "clientMsgId": "r1"}, format="json")
    assert again.status_code in (200, 201)
    assert again.json()["_id"] == first.json()["_id"]
    assert Conversation.objects.get().last_seq == 1


def test_sender_is_always_the_caller(api, alice, bob, carol):
    response = api.login_as(alice).post(
        send_url(bob), {"message": "spoof", "senderId": str(carol.pk)}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["senderId"] == str(alice.pk)


def test_send_with_force_authenticate(api, alice, bob):
    api.force_authenticate(alice)
    assert api.post(send_url(bob), {"message": "hi"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"message": {"$ne": None}}, "message_invalid"),
        ({"message": ["a", "b"]}, "message_invalid"),
        ({"message": 42}, "message_invalid"),
        ({"message": None}, "message_invalid"),
        ({"message": True}, "message_invalid"),
        ({"message": "   "}, "message_empty"),
        ({"message": ""}, "message_empty"),
        ({"message": "x" * (settings.CHAT["MESSAGE_MAX_LENGTH"] + 1)}, "message_too_long"),
        ({"message": "hi", "clientMsgId": "no spaces"}, "client_msg_id_invalid"),
        ({"message": "hi", "clientMsgId": {"$gt": ""}}, "client_msg_id_invalid"),
    ],
)
def test_send_rejects_bad_messages(api, alice, bob, body, code):
    response = api.login_as(alice).post(send_url(bob), body, format="json")
    assert_error(response, 400, code)
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("body", [{}, {"text": "hi"}, [], "hi", 5])
def test_send_without_a_message_field_is_400(api, alice, bob, body):
    response = api.login_as(alice).post(send_url(bob), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"validation_error", "message_invalid"}
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"\xff\xfe", "malformed_json"), (b"{not json", "malformed_json"), (b"", None)],
)
def test_send_with_an_unreadable_body_is_400(api, alice, bob, raw, code):
    response = api.login_as(alice).post(send_url(bob), raw, content_type="application/json")
    assert response.status_code == 400, response.content
    if code:
        assert response.json()["code"] == code
    assert not Conversation.objects.exists()


def test_send_as_form_data_is_refused(api, alice, bob):
    response = api.login_as(alice).post(send_url(bob), {"message": "hi"})  # multipart
    assert_error(response, 415, "unsupported_media_type")


def test_send_to_an_unknown_receiver(api, alice, bob):
    api.login_as(alice)
    for user_id in [str(ObjectId()), "abc", "0" * 24, "f" * 25, "%24ne", "%00"]:
        response = api.post(f"/api/messages/send/{user_id}", {"message": "hi"}, format="json")
        assert_error(response, 404, "receiver_not_found")
    # A "/" in the id matches no route at all: still a JSON 404.
    response = api.post("/api/messages/send/..%2Fx", {"message": "hi"}, format="json")
    assert_error(response, 404, "not_found")
    user_deactivate(user=bob)
    assert_error(api.post(send_url(bob), {"message": "hi"}, format="json"), 404,
                 "receiver_not_found")  # fmt: skip


def test_send_to_self(api, alice):
    response = api.login_as(alice).post(send_url(alice), {"message": "me"}, format="json")
    assert_error(response, 400, "cannot_message_self")


def test_send_rate_limit(api, alice, bob, settings):
    settings.CHAT = {**settings.CHAT, "SEND_RATE": "3/minute"}
    api.login_as(alice)
    for i in range(3):
        assert api.post(send_url(bob), {"message": f"{i}"}, format="json").status_code == 201
    response = api.post(send_url(bob), {"message": "one too many"}, format="json")
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["retryAfter"] >= 1
    assert Conversation.objects.get().last_seq == 3
    # The limit is per sender, and the conversation route shares the counter.
    conversation_id = Conversation.objects.get().pk
    response = api.post(conversation_url(conversation_id), {"message": "x"}, format="json")
    assert_error(response, 429, "rate_limited")
    api.login_as(bob)
    assert api.post(send_url(alice), {"message": "mine"}, format="json").status_code == 201


def test_reading_is_not_rate_limited(api, alice, bob, settings):
    settings.CHAT = {**settings.CHAT, "SEND_RATE": "1/minute"}
    message = message_factory(sender=alice, receiver=bob)
    api.login_as(alice)
    for _ in range(3):
        assert api.get(conversation_url(message.conversation_id)).status_code == 200


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/messages/send/{id}"),
        ("get", "/api/messages/{id}"),
        ("get", "/api/conversations"),
        ("get", "/api/conversations/{id}/messages"),
        ("post", "/api/conversations/{id}/messages"),
        ("post", "/api/conversations/{id}/read"),
        ("get", "/api/sync"),
    ],
)
def test_unauthenticated_is_401(api, alice, method, path):
    response = getattr(api, method)(path.format(id=alice.pk), {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_bad_token_is_401(api, alice):
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert api.get("/api/conversations").status_code == 401


# --- GET /api/messages/<user_id> ------------------------------------------------------------


def test_list_without_a_conversation_is_empty(api, alice, bob):
    response = api.login_as(alice).get(list_url(bob))
    assert response.status_code == 200
    assert response.json() == []
    # An id that is no user at all answers the same empty list, not a 500.
    assert api.get(f"/api/messages/{ObjectId()}").json() == []


@pytest.mark.parametrize("user_id", ["abc", "..%2Fx", "%00", "x" * 300])
def test_list_with_a_malformed_id_is_404(api, alice, user_id):
    response = api.login_as(alice).get(f"/api/messages/{user_id}")
    assert response.status_code == 404


def test_list_is_oldest_first_for_both_participants(api, alice, bob):
    messages_factory(sender=alice, receiver=bob, count=4)
    for user, other in [(alice, bob), (bob, alice)]:
        response = api.login_as(user).get(list_url(other))
        assert response.status_code == 200
        payload = response.json()
        assert [m["seq"] for m in payload] == [1, 2, 3, 4]
        assert [m["message"] for m in payload] == ["m1", "m2", "m3", "m4"]
        assert all(set(m) == PAYLOAD_KEYS for m in payload)
        assert response["X-Has-More"] == "false"
        assert "Link" not in response


def test_list_does_not_leak_to_a_third_user(api, alice, bob, carol):
    messages_factory(sender=alice, receiver=bob, count=2)
    assert api.login_as(carol).get(list_url(bob)).json() == []


def test_list_pages_with_before_and_limit(api, alice, bob):
    messages_factory(sender=alice, receiver=bob, count=10)
    api.login_as(alice)
    response = api.get(list_url(bob), {"limit": 4})
    assert [m["seq"] for m in response.json()] == [7, 8, 9, 10]
    assert response["X-Has-More"] == "true"
    assert 'rel="prev"' in response["Link"]
    assert "before=7" in response["Link"]
    assert "limit=4" in response["Link"]
    response = api.get(list_url(bob), {"before": 3, "limit": 4})
    assert [m["seq"] for m in response.json()] == [1, 2]
    assert response["X-Has-More"] == "false"
    assert "Link" not in response


def test_walk_the_whole_history(api, alice, bob):
    messages_factory(sender=alice, receiver=bob, count=120)
    api.login_as(bob)
    seen: list[int] = []
    response = api.get(list_url(alice), {"limit": 25})
    pages = 1
    while True:
        page = [m["seq"] for m in response.json()]
        assert page == sorted(page)
        seen = page + seen
        if response["X-Has-More"] == "false":
            break
        link = response["Link"]
        url = link[link.index("<") + 1 : link.index(">")]
        assert f"before={page[0]}" in url
        response = api.get(url)
        pages += 1
    assert seen == list(range(1, 121))
    assert pages == 5


@pytest.mark.parametrize(
    "query",
    [
        {"before": "abc"},
        {"before": "-1"},
        {"before": "1.5"},
        {"after": "x"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "abc"},
        {"limit": "201"},
        {"before": "9" * 40},
        # Digits of other scripts: int() reads U+FF15 (fullwidth 5) as 5 and refuses U+00B2 (²).
        {"limit": "\uff15"},
        {"limit": "\u00b2"},
        {"before": "\u0663"},
        {"after": "\uff11"},
    ],
)
def test_bad_page_parameters_are_400(api, alice, bob, query):
    message = message_factory(sender=alice, receiver=bob)
    api.login_as(alice)
    assert_error(api.get(list_url(bob), query), 400, "validation_error")
    assert_error(api.get(conversation_url(message.conversation_id), query), 400,
                 "validation_error")  # fmt: skip


# --- GET /api/conversations -----------------------------------------------------------------


def test_conversation_list(api, alice, bob, carol):
    with_bob = message_factory(sender=alice, receiver=bob, body="to bob")
    message_factory(sender=bob, receiver=alice, body="from bob")
    with_carol = message_factory(sender=carol, receiver=alice, body="from carol")

    response = api.login_as(alice).get("/api/conversations")
    assert response.status_code == 200
    payload = response.json()
    assert isinstance(payload["syncCursor"], str) and payload["syncCursor"]
    conversations = payload["conversations"]
    # Most recent activity first.
    assert [c["_id"] for c in conversations] == [
        str(with_carol.conversation_id),
        str(with_bob.conversation_id),
    ]
    carol_item, bob_item = conversations
    assert [p["username"] for p in carol_item["participants"]] == ["carol"]
    assert [p["username"] for p in bob_item["participants"]] == ["bob"]
    assert "password" not in bob_item["participants"][0]
    assert bob_item["lastMessage"]["message"] == "from bob"
    assert set(bob_item["lastMessage"]) == PAYLOAD_KEYS
    assert (bob_item["lastSeq"], bob_item["lastReadSeq"], bob_item["unreadCount"]) == (2, 1, 1)
    assert (carol_item["lastSeq"], carol_item["unreadCount"]) == (1, 1)
    assert bob_item["kind"] == "direct"
    assert bob_item["lastMessageAt"].endswith("Z")


def test_conversation_list_when_empty(api, alice):
    payload = api.login_as(alice).get("/api/conversations").json()
    assert payload["conversations"] == []
    assert payload["syncCursor"]


def test_conversation_list_is_private(api, alice, bob, carol):
    message_factory(sender=alice, receiver=bob)
    assert api.login_as(carol).get("/api/conversations").json()["conversations"] == []


def test_sending_moves_your_own_read_marker(api, alice, bob):
    message_factory(sender=bob, receiver=alice)
    message_factory(sender=bob, receiver=alice)
    api.login_as(alice)
    assert api.get("/api/conversations").json()["conversations"][0]["unreadCount"] == 2
    api.post(send_url(bob), {"message": "caught up"}, format="json")
    item = api.get("/api/conversations").json()["conversations"][0]
    assert (item["lastReadSeq"], item["unreadCount"]) == (3, 0)


# --- /api/conversations/<id>/messages -------------------------------------------------------


def test_conversation_messages_pages(api, alice, bob):
    message = messages_factory(sender=alice, receiver=bob, count=10)[0]
    url = conversation_url(message.conversation_id)
    api.login_as(bob)

    latest = api.get(url, {"limit": 3}).json()
    assert [m["seq"] for m in latest["messages"]] == [8, 9, 10]
    assert (latest["hasMore"], latest["before"], latest["after"]) == (True, 8, 10)

    older = api.get(url, {"before": latest["before"], "limit": 3}).json()
    assert [m["seq"] for m in older["messages"]] == [5, 6, 7]
    assert older["hasMore"] is True

    newer = api.get(url, {"after": 2, "limit": 3}).json()
    assert [m["seq"] for m in newer["messages"]] == [3, 4, 5]
    assert newer["hasMore"] is True

    window = api.get(url, {"after": 2, "before": 6}).json()
    assert [m["seq"] for m in window["messages"]] == [3, 4, 5]
    assert window["hasMore"] is False

    last = api.get(url, {"after": 8}).json()
    assert [m["seq"] for m in last["messages"]] == [9, 10]
    assert last["hasMore"] is False

    nothing = api.get(url, {"after": 10}).json()
    assert nothing == {"messages": [], "hasMore": False, "before": None, "after": None}


def test_walk_a_conversation_forward_with_after(api, alice, bob):
    message = messages_factory(sender=alice, receiver=bob, count=60)[0]
    url = conversation_url(message.conversation_id)
    api.login_as(alice)
    seen: list[int] = []
    after = 0
    while True:
        page = api.get(url, {"after": after, "limit": 25}).json()
        seen += [m["seq"] for m in page["messages"]]
        if not page["hasMore"]:
            break
        after = page["after"]
    assert seen == list(range(1, 61))


def test_post_into_a_conversation(api, alice, bob):
    message = message_factory(sender=alice, receiver=bob)
    response = api.login_as(bob).post(
        conversation_url(message.conversation_id), {"message": "reply"}, format="json"
    )
    assert response.status_code == 201, response.content
    payload = response.json()
    assert set(payload) == PAYLOAD_KEYS
    assert (payload["seq"], payload["senderId"], payload["receiverId"]) == (
        2,
        str(bob.pk),
        str(alice.pk),
    )


def test_post_into_a_conversation_validates_the_body(api, alice, bob):
    message = message_factory(sender=alice, receiver=bob)
    url = conversation_url(message.conversation_id)
    api.login_as(bob)
    assert_error(api.post(url, {"message": {"$ne": None}}, format="json"), 400, "message_invalid")
    assert_error(api.post(url, {"message": " "}, format="json"), 400, "message_empty")
    assert conversation_of(message).last_seq == 1


def test_a_non_participant_gets_404_everywhere(api, alice, bob, carol):
    message = message_factory(sender=alice, receiver=bob)
    conversation_id = message.conversation_id
    api.login_as(carol)
    assert_error(api.get(conversation_url(conversation_id)), 404, "conversation_not_found")
    response = api.post(conversation_url(conversation_id), {"message": "hi"}, format="json")
    assert_error(response, 404, "conversation_not_found")
    response = api.post(conversation_url(conversation_id, "read"), {"seq": 1}, format="json")
    assert_error(response, 404, "conversation_not_found")
    assert conversation_of(message).last_seq == 1


@pytest.mark.parametrize(
    "conversation_id", ["abc", "..", "%24ne", "%00", str(ObjectId()), "1" * 25]
)
def test_malformed_or_unknown_conversation_ids_are_404(api, alice, conversation_id):
    api.login_as(alice)
    assert_error(api.get(conversation_url(conversation_id)), 404, "conversation_not_found")
    response = api.post(conversation_url(conversation_id), {"message": "hi"}, format="json")
    assert_error(response, 404, "conversation_not_found")
    response = api.post(conversation_url(conversation_id, "read"), {"seq": 0}, format="json")
    assert_error(response, 404, "conversation_not_found")


@pytest.mark.parametrize(
    "path", ["/api/conversations/../x/messages", "/api/conversations/..%2Fx/messages"]
)
def test_path_traversal_is_not_routed(api, alice, path):
    response = api.login_as(alice).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


# --- POST /api/conversations/<id>/read ------------------------------------------------------


def test_mark_read(api, alice, bob):
    message = messages_factory(sender=alice, receiver=bob, count=3)[0]
    message_factory(sender=alice, receiver=bob)
    message_factory(sender=alice, receiver=bob)
    url = conversation_url(message.conversation_id, "read")
    api.login_as(bob)

    def unread() -> int:
        return api.get("/api/conversations").json()["conversations"][0]["unreadCount"]

    before = unread()
    assert before == 3  # bob sent seq 2 himself, which moved his marker to 2
    response = api.post(url, {"seq": 5}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "conversationId": str(message.conversation_id),
        "userId": str(bob.pk),
        "seq": 5,
    }
    assert unread() == 0
    # Never moves back.
    assert api.post(url, {"seq": 2}, format="json").json()["seq"] == 5


@pytest.mark.parametrize("seq", [99, -1, "3", 1.5, None, [1], {"$gt": 0}, True])
def test_mark_read_rejects_bad_seqs(api, alice, bob, seq):
    message = message_factory(sender=alice, receiver=bob)
    url = conversation_url(message.conversation_id, "read")
    response = api.login_as(bob).post(url, {"seq": seq}, format="json")
    assert_error(response, 400, "seq_invalid")


def test_mark_read_without_seq_is_400(api, alice, bob):
    message = message_factory(sender=alice, receiver=bob)
    url = conversation_url(message.conversation_id, "read")
    assert_error(api.login_as(bob).post(url, {}, format="json"), 400, "validation_error")


# --- GET /api/sync --------------------------------------------------------------------------


def sync(api, since=None) -> dict:
    response = api.get("/api/sync", {"since": since} if since else {})
    assert response.status_code == 200, response.content
    return response.json()


def test_sync_without_since_gives_a_cursor_and_no_changes(api, alice, bob):
    messages_factory(sender=alice, receiver=bob, count=3)
    payload = sync(api.login_as(alice))
    assert payload["messages"] == [] and payload["reads"] == []
    assert payload["hasMore"] is False
    assert payload["cursor"]


def test_sync_returns_exactly_what_was_sent_since_the_cursor(api, alice, bob, carol):
    messages_factory(sender=alice, receiver=bob, count=3)
    api.login_as(alice)
    cursor = sync(api)["cursor"]

    sent = [
        message_factory(sender=bob, receiver=alice),
        message_factory(sender=alice, receiver=bob),
        message_factory(sender=carol, receiver=alice),
        message_factory(sender=alice, receiver=carol),
    ]
    message_factory(sender=bob, receiver=carol)  # not alice's

    payload = sync(api, cursor)
    ids = [m["_id"] for m in payload["messages"]]
    assert sorted(ids) == sorted(str(m.pk) for m in sent)
    assert len(ids) == len(set(ids))
    assert all(set(m) == PAYLOAD_KEYS for m in payload["messages"])
    assert payload["hasMore"] is False

    again = sync(api, payload["cursor"])
    assert again["messages"] == [] and again["reads"] == []
    assert again["hasMore"] is False
    assert again["cursor"]
    # The old cursor still works and still answers the same changes (retry after a lost answer).
    assert sorted(m["_id"] for m in sync(api, cursor)["messages"]) == sorted(ids)


def test_sync_from_the_conversation_list_cursor(api, alice, bob):
    message_factory(sender=alice, receiver=bob)
    api.login_as(bob)
    cursor = api.get("/api/conversations").json()["syncCursor"]
    new = message_factory(sender=alice, receiver=bob)
    assert [m["_id"] for m in sync(api, cursor)["messages"]] == [str(new.pk)]


def test_sync_picks_up_a_new_conversation(api, alice, bob):
    api.login_as(bob)
    cursor = sync(api)["cursor"]
    new = message_factory(sender=alice, receiver=bob)
    payload = sync(api, cursor)
    assert [m["_id"] for m in payload["messages"]] == [str(new.pk)]
    # Alice's read marker moved with her message; it is part of the change.
    assert {(r["userId"], r["seq"]) for r in payload["reads"]} >= {(str(alice.pk), 1)}


def test_sync_reports_hidden_messages_and_read_markers(api, alice, bob):
    messages = messages_factory(sender=alice, receiver=bob, count=3)
    conversation = conversation_of(messages[0])
    api.login_as(alice)
    cursor = sync(api)["cursor"]

    message_hide(message=messages[0], by=None)
    conversation_mark_read(user=bob, conversation=conversation_of(messages[0]), seq=3)

    payload = sync(api, cursor)
    assert [(m["_id"], m["hidden"], m["message"]) for m in payload["messages"]] == [
        (str(messages[0].pk), True, "")
    ]
    assert {"conversationId": str(conversation.pk), "userId": str(bob.pk), "seq": 3} in payload[
        "reads"
    ]
    assert sync(api, payload["cursor"])["messages"] == []


def test_sync_with_an_unknown_cursor_is_410(api, alice):
    response = api.login_as(alice).get("/api/sync", {"since": str(ObjectId())})
    assert_error(response, 410, "cursor_invalid")


@pytest.mark.parametrize(
    "since", ["nope", "../x", "a" * 64, "{$ne: null}", "", str(ObjectId()).upper()]
)
def test_sync_with_a_malformed_cursor_is_400(api, alice, since):
    # The schema's pattern refuses these; the server answers as it says (never 410 "reload").
    response = api.login_as(alice).get("/api/sync", {"since": since})
    assert_error(response, 400, "validation_error")


def test_sync_with_someone_elses_cursor_is_410(api, alice, bob):
    message_factory(sender=alice, receiver=bob)
    cursor = sync(api.login_as(bob))["cursor"]
    assert_error(api.login_as(alice).get("/api/sync", {"since": cursor}), 410, "cursor_invalid")


def test_sync_with_a_malformed_since_is_400(api, alice):
    api.login_as(alice)
    assert_error(api.get("/api/sync", {"since": "x" * 65}), 400, "validation_error")


@pytest.mark.parametrize("or_reads_whole_collection", [True, False], ids=["by window", "by $or"])
def test_sync_pages_in_batches(api, alice, bob, carol, monkeypatch, or_reads_whole_collection):
    # Both ways of reading the windows (`selectors._messages_in_windows`), whichever database.
    monkeypatch.setattr(
        connection.features, "or_reads_whole_collection", or_reads_whole_collection, raising=False
    )
    monkeypatch.setattr(selectors, "SYNC_BATCH", 4)
    api.login_as(alice)
    cursor = sync(api)["cursor"]
    sent = messages_factory(sender=alice, receiver=bob, count=7) + messages_factory(
        sender=carol, receiver=alice, count=6
    )
    message_hide(message=sent[0], by=None)  # a second change of one message
    conversation_mark_read(user=bob, conversation=conversation_of(sent[0]), seq=7)

    seen: list[str] = []
    reads: list[tuple] = []
    calls = 0
    while True:
        payload = sync(api, cursor)
        calls += 1
        assert len(payload["messages"]) <= 4
        seen += [m["_id"] for m in payload["messages"]]
        reads += [(r["userId"], r["seq"]) for r in payload["reads"]]
        cursor = payload["cursor"]
        if not payload["hasMore"]:
            break
        assert calls < 20
    assert calls >= 4
    assert sorted(seen) == sorted(str(m.pk) for m in sent)
    assert len(seen) == len(set(seen))
    assert reads.count((str(bob.pk), 7)) == 1
    assert sync(api, cursor)["messages"] == []


def test_a_cursor_is_current_exactly_when_sync_would_answer_nothing(api, alice, bob, carol):
    """`sync_cursors_current` (the socket's `syncStatus`) against `/api/sync` itself, for each
    kind of change, with every pair asked in one call."""
    people = {p.pk: p for p in (alice, bob, carol)}

    def cursors() -> dict:
        return {str(pk): sync(api.login_as(p))["cursor"] for pk, p in people.items()}

    def check(taken: dict) -> None:
        pairs = [(user_id, cursor) for user_id, cursor in taken.items()]
        current = selectors.sync_cursors_current(pairs)
        for user_id, cursor in pairs:
            answer = sync(api.login_as(people[ObjectId(user_id)]), cursor)
            nothing = not answer["messages"] and not answer["reads"]
            assert ((user_id, cursor) in current) is nothing, (user_id, answer)

    first = message_factory(sender=alice, receiver=bob)
    taken = cursors()
    check(taken)  # nothing since
    message_factory(sender=carol, receiver=alice)  # a new conversation
    check(taken)
    taken = cursors()
    conversation_mark_read(user=bob, conversation=conversation_of(first), seq=1)  # a marker
    check(taken)
    taken = cursors()
    message_hide(message=first, by=None)  # a hidden message
    check(taken)
    # Someone else's, unknown and malformed cursors are never current.
    taken = cursors()
    strangers = [
        (str(alice.pk), taken[str(bob.pk)]),
        (str(alice.pk), str(ObjectId())),
        (str(alice.pk), "nope"),
        ("nope", taken[str(alice.pk)]),
    ]
    assert selectors.sync_cursors_current(strangers) == set()


def test_a_sync_over_several_conversations_reads_the_version_index(api, alice, bob, carol):
    """On the embedded database, which reads every message for an `$or` of windows, each
    changed conversation's window is its own query, read from `message_by_version`."""
    api.login_as(alice)
    cursor = sync(api)["cursor"]
    sent = [
        message_factory(sender=bob, receiver=alice),
        message_factory(sender=carol, receiver=alice),
    ]
    with CaptureQueriesContext(connection) as captured:
        payload = sync(api, cursor)
    assert sorted(m["_id"] for m in payload["messages"]) == sorted(str(m.pk) for m in sent)
    windows = [Q(conversation_id=m.conversation_id, version__gt=0, version__lte=2) for m in sent]
    if not getattr(connection.features, "or_reads_whole_collection", False):
        return  # MongoDB: one `$or`, each branch from the index
    queries = [q["sql"] for q in captured.captured_queries if "db.messaging_message." in q["sql"]]
    assert len(queries) == 2 and not any("$or" in q for q in queries), queries
    for window in windows:
        assert index_used(Message.objects.filter(window).order_by("version")) == {
            "message_by_version"
        }
    # Why: the same windows as one `$or` read the whole collection. When this fails, the
    # embedded database serves `$or` from indexes and the adapter's flag can go.
    assert index_used(Message.objects.filter(windows[0] | windows[1])) == set()


# --- What the OpenAPI schema says, the server does (chatsite/tests/test_contract.py) ----------


@pytest.mark.parametrize("value", ["²", "٣", "", " 5", "5.0"])
def test_page_parameters_take_ascii_digits_only(api, alice, bob, value):
    # "²".isdigit() is true but int("²") raises: this answered 500 before.
    message = message_factory(sender=alice, receiver=bob)
    api.login_as(alice)
    for name in ("before", "after", "limit"):
        url = conversation_url(message.conversation_id)
        assert_error(api.get(url, {name: value}), 400, "validation_error")
        assert_error(api.get(list_url(bob), {name: value}), 400, "validation_error")


def test_ids_in_upper_case_are_refused_like_unknown_ones(api, alice, bob):
    message = message_factory(sender=alice, receiver=bob)
    api.login_as(alice)
    upper = str(message.conversation_id).upper()
    assert_error(api.get(conversation_url(upper)), 404, "conversation_not_found")
    response = api.post(
        f"/api/messages/send/{str(bob.pk).upper()}", {"message": "hi"}, format="json"
    )
    assert_error(response, 404, "receiver_not_found")


def test_a_client_msg_id_with_a_final_newline_is_refused(api, alice, bob):
    response = api.login_as(alice).post(
        send_url(bob), {"message": "hi", "clientMsgId": "abc\n"}, format="json"
    )
    assert_error(response, 400, "client_msg_id_invalid")


def test_the_direct_history_with_no_conversation_says_there_is_no_more(api, alice, bob):
    response = api.login_as(alice).get(list_url(bob))
    assert response.json() == []
    assert response["X-Has-More"] == "false"


def test_conversation_list_carries_every_members_read_marker(api, alice, bob):
    """The demo page draws ✓✓ after a reload from `readSeqs` (static/chat/chat.js)."""
    first = message_factory(sender=alice, receiver=bob)
    message_factory(sender=alice, receiver=bob)
    conversation_mark_read(user=bob, conversation=conversation_of(first), seq=1)
    [entry] = api.login_as(alice).get("/api/conversations").json()["conversations"]
    assert entry["readSeqs"] == {str(alice.pk): 2, str(bob.pk): 1}
    assert entry["lastReadSeq"] == 2

"""Edit, delete, reply and reactions, through the services and the REST API, on the real
database: who may do what, what every API shows afterwards, sync, idempotency, concurrency."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import assert_error, user_factory
from messaging import errors
from messaging.models import Conversation, Message
from messaging.services import (
    group_create,
    group_member_remove,
    message_delete,
    message_edit,
    message_hide,
    message_react,
    message_send,
    message_unreact,
)
from messaging.tests.factories import run_at_once
from messaging.tests.invariants import assert_invariants, database

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(alice, bob) -> Message:
    return message_send(sender=alice, receiver=bob, body="helo", client_msg_id="first")


def message_url(message) -> str:
    return f"/api/messages/{message.pk}"


def reaction_url(message, emoji: str) -> str:
    return f"/api/messages/{message.pk}/reactions/{emoji}"


def version_of(message) -> int:
    return Conversation.objects.get(pk=message.conversation_id).version


def sync(api, cursor: str) -> dict:
    return api.get(f"/api/sync?since={cursor}").json()


def cursor_of(api) -> str:
    return api.get("/api/conversations").json()["syncCursor"]


# --- edit -------------------------------------------------------------------------------------


def test_the_author_edits_and_everyone_sees_the_new_text_once(api, alice, bob, sent):
    bobs_cursor = cursor_of(api.login_as(bob))
    api.login_as(alice)
    answer = api.patch(message_url(sent), {"message": " hello "}, format="json")
    assert answer.status_code == 200, answer.content
    edited = answer.json()
    assert edited["message"] == "hello" and edited["editedAt"] is not None
    assert (edited["_id"], edited["seq"]) == (str(sent.pk), sent.seq)

    stored = Message.objects.get(pk=sent.pk)
    assert stored.body == "hello"
    assert [h["body"] for h in stored.edit_history] == ["helo"]  # for moderators only
    assert "edit_history" not in edited and "helo" not in str(edited)

    api.login_as(bob)
    assert api.get(f"/api/messages/{alice.pk}").json()[0]["message"] == "hello"
    changes = sync(api, bobs_cursor)
    assert [m["message"] for m in changes["messages"]] == ["hello"]
    assert sync(api, changes["cursor"])["messages"] == []  # exactly once


def test_editing_to_the_same_text_changes_nothing(alice, sent):
    version = version_of(sent)
    again = message_edit(message=sent, user=alice, body="helo")
    assert again.edited_at is None and version_of(sent) == version


def test_the_edit_history_keeps_every_replaced_text(alice, sent):
    for text in ("hello", "hello!", "hello!!"):
        message_edit(message=sent, user=alice, body=text)
    stored = Message.objects.get(pk=sent.pk)
    assert [h["body"] for h in stored.edit_history] == ["helo", "hello", "hello!"]
    assert stored.body == "hello!!"


def test_only_the_author_edits_others_get_404(api, bob, carol, sent):
    for user in (bob, carol):  # the other participant, a stranger
        response = api.login_as(user).patch(message_url(sent), {"message": "x"}, format="json")
        assert_error(response, 404, "message_not_found")
    assert Message.objects.get(pk=sent.pk).body == "helo"


@pytest.mark.parametrize(
    ("text", "status", "code"),
    [
        ("   ", 400, "message_empty"),
        ("x" * 4001, 400, "message_too_long"),
        (7, 400, "message_invalid"),
    ],
)
def test_an_edit_is_validated_as_a_send(api, alice, sent, text, status, code):
    response = api.login_as(alice).patch(message_url(sent), {"message": text}, format="json")
    assert_error(response, status, code)
    assert Message.objects.get(pk=sent.pk).body == "helo"


def test_edits_end_with_the_edit_window(api, alice, sent, settings):
    Message.objects.filter(pk=sent.pk).update(created_at=timezone.now() - timedelta(hours=2))
    response = api.login_as(alice).patch(message_url(sent), {"message": "late"}, format="json")
    assert_error(response, 409, "edit_window_passed")

    settings.CHAT = {**settings.CHAT, "MESSAGE_EDIT_WINDOW_SECONDS": 0}  # no limit
    response = api.patch(message_url(sent), {"message": "late"}, format="json")
    assert response.status_code == 200 and response.json()["message"] == "late"


def test_hidden_deleted_and_system_messages_are_not_edited(api, alice, bob, sent):
    moderator = user_factory()
    message_hide(message=sent, by=moderator)
    api.login_as(alice)
    assert_error(
        api.patch(message_url(sent), {"message": "x"}, format="json"), 409, "message_hidden"
    )

    gone = message_send(sender=alice, receiver=bob, body="oops")
    message_delete(message=gone, user=alice)
    assert_error(
        api.patch(message_url(gone), {"message": "x"}, format="json"), 409, "message_deleted"
    )

    group = group_create(creator=alice, name="g", member_ids=[str(bob.pk)])
    created = Message.objects.get(conversation=group, seq=1)
    assert_error(
        api.patch(message_url(created), {"message": "x"}, format="json"), 409, "system_message"
    )
    assert_error(api.delete(message_url(created)), 409, "system_message")


def test_edits_are_bounded(alice, sent, monkeypatch):
    monkeypatch.setattr("messaging.services.EDIT_HISTORY_MAX", 2)
    message_edit(message=sent, user=alice, body="a")
    message_edit(message=sent, user=alice, body="b")
    with pytest.raises(errors.EditLimitReached):
        message_edit(message=sent, user=alice, body="c")
    assert Message.objects.get(pk=sent.pk).body == "b"


def test_a_client_msg_id_retry_returns_the_message_as_edited_since(alice, bob, sent):
    message_edit(message=sent, user=alice, body="hello")
    retry = message_send(sender=alice, receiver=bob, body="helo", client_msg_id="first")
    assert (retry.pk, retry.body) == (sent.pk, "hello")
    assert Message.objects.filter(conversation_id=sent.conversation_id).count() == 1


# --- delete -----------------------------------------------------------------------------------


def test_a_deleted_message_is_a_tombstone_everywhere(api, alice, bob, sent):
    message_react(message=sent, user=bob, emoji="👍")
    message_edit(message=sent, user=alice, body="secret")
    bobs_cursor = cursor_of(api.login_as(bob))

    answer = api.login_as(alice).delete(message_url(sent))
    assert answer.status_code == 200, answer.content
    tombstone = answer.json()
    assert tombstone["deleted"] is True
    assert (tombstone["message"], tombstone["reactions"], tombstone["seq"]) == ("", [], sent.seq)

    stored = Message.objects.get(pk=sent.pk)
    assert (stored.body, stored.edit_history, stored.reactions) == ("", [], [])
    api.login_as(bob)
    assert api.get(f"/api/messages/{alice.pk}").json() == [
        tombstone | {"updatedAt": tombstone["updatedAt"]}
    ]
    listed = api.get("/api/conversations").json()["conversations"][0]["lastMessage"]
    assert listed["deleted"] is True and listed["message"] == ""
    changes = sync(api, bobs_cursor)
    assert [(m["seq"], m["deleted"]) for m in changes["messages"]] == [(sent.seq, True)]
    assert "secret" not in str(changes) and "helo" not in str(changes)


def test_deleting_twice_changes_nothing_and_others_cannot_delete(api, alice, bob, sent):
    assert_error(api.login_as(bob).delete(message_url(sent)), 404, "message_not_found")
    api.login_as(alice)
    assert api.delete(message_url(sent)).status_code == 200
    version = version_of(sent)
    again = api.delete(message_url(sent))
    assert again.status_code == 200 and again.json()["deleted"] is True
    assert version_of(sent) == version


def test_the_author_cannot_delete_what_a_moderator_hid(api, alice, sent):
    message_hide(message=sent, by=user_factory())
    assert_error(api.login_as(alice).delete(message_url(sent)), 409, "message_hidden")
    assert Message.objects.get(pk=sent.pk).body == "helo"  # the moderators' evidence stays


# --- reply ------------------------------------------------------------------------------------


def test_a_reply_carries_a_preview_of_what_it_answers(api, alice, bob, sent):
    long = message_send(sender=alice, receiver=bob, body="y" * 300)
    api.login_as(bob)
    reply = api.post(
        f"/api/messages/send/{alice.pk}", {"message": "yes", "replyTo": str(long.pk)}, format="json"
    ).json()
    assert reply["replyTo"] == {
        "_id": str(long.pk),
        "seq": long.seq,
        "senderId": str(alice.pk),
        "message": "y" * 100,
        "deleted": False,
        "hidden": False,
    }
    over_conversation = api.post(
        f"/api/conversations/{sent.conversation_id}/messages",
        {"message": "and this", "replyTo": str(sent.pk)},
        format="json",
    ).json()
    assert over_conversation["replyTo"]["message"] == "helo"

    # The preview follows the original: deleted, its text is gone from the reply too.
    message_delete(message=long, user=alice)
    page = api.get(f"/api/messages/{alice.pk}").json()
    replied = next(m for m in page if m["_id"] == reply["_id"])
    assert replied["replyTo"]["deleted"] is True and replied["replyTo"]["message"] == ""


def test_a_reply_to_a_hidden_message_shows_no_text(api, alice, bob, sent):
    reply = message_send(sender=bob, receiver=alice, body="what?", reply_to=str(sent.pk))
    message_hide(message=sent, by=user_factory())
    page = api.login_as(bob).get(f"/api/messages/{alice.pk}").json()
    preview = next(m for m in page if m["_id"] == str(reply.pk))["replyTo"]
    assert preview["hidden"] is True and preview["message"] == ""


@pytest.mark.parametrize("reply_to", ["nope", 12, "0" * 24, "other"])
def test_a_reply_must_answer_a_message_of_the_same_conversation(api, alice, bob, carol, reply_to):
    elsewhere = message_send(sender=alice, receiver=carol, body="not for bob")
    if reply_to == "other":
        reply_to = str(elsewhere.pk)
    response = api.login_as(alice).post(
        f"/api/messages/send/{bob.pk}", {"message": "hi", "replyTo": reply_to}, format="json"
    )
    assert_error(response, 400, "reply_not_found")
    assert not Message.objects.filter(body="hi").exists()


def test_a_page_loads_reply_previews_in_one_query(
    api, alice, bob, sent, django_assert_max_num_queries
):
    for n in range(5):
        message_send(sender=bob, receiver=alice, body=f"re {n}", reply_to=str(sent.pk))
    api.login_as(bob)
    api.get(f"/api/messages/{alice.pk}")  # warm up authentication caches
    with django_assert_max_num_queries(4):
        page = api.get(f"/api/messages/{alice.pk}").json()
    assert [m["replyTo"]["message"] for m in page[1:]] == ["helo"] * 5


# --- reactions --------------------------------------------------------------------------------


def test_reactions_count_each_user_once_per_emoji(api, alice, bob, sent):
    api.login_as(bob)
    first = api.post(reaction_url(sent, "👍"))
    assert first.status_code == 200, first.content
    assert first.json()["reactions"] == [{"emoji": "👍", "count": 1, "userIds": [str(bob.pk)]}]
    version = version_of(sent)
    assert api.post(reaction_url(sent, "thumbs_up")).json() == first.json() | {
        "updatedAt": first.json()["updatedAt"]
    }  # the same emoji by its name: nothing new
    assert version_of(sent) == version

    api.login_as(alice)
    api.post(reaction_url(sent, "%F0%9F%91%8D"))  # 👍, URL-encoded
    both = api.post(reaction_url(sent, "heart")).json()["reactions"]
    assert both == [
        {"emoji": "👍", "count": 2, "userIds": [str(bob.pk), str(alice.pk)]},
        {"emoji": "❤️", "count": 1, "userIds": [str(alice.pk)]},
    ]
    assert api.post(reaction_url(sent, "❤")).json()["reactions"] == both  # ❤ is ❤️

    after = api.delete(reaction_url(sent, "❤️")).json()["reactions"]
    assert after == [both[0]]
    assert api.delete(reaction_url(sent, "❤️")).json()["reactions"] == after  # again: nothing


@pytest.mark.parametrize(
    "emoji", ["plain text", "👍👍", "%3Cscript%3E", "not_an_emoji_name", "x" * 70]
)
def test_a_reaction_is_one_emoji(api, bob, sent, emoji):
    assert_error(api.login_as(bob).post(reaction_url(sent, emoji)), 400, "emoji_invalid")
    assert Message.objects.get(pk=sent.pk).reactions == []


def test_a_message_takes_at_most_20_different_emoji(alice, bob, sent):
    names = ["grinning_face", "red_heart", "thumbs_up", "fire", "rocket", "eyes", "star",
             "party_popper", "clapping_hands", "thinking_face", "face_with_tears_of_joy",
             "folded_hands", "OK_hand", "waving_hand", "sparkles", "check_mark", "sun",
             "pizza", "coffee", "cat_face"]  # fmt: skip
    for name in names:
        message_react(message=sent, user=bob, emoji=name)
    with pytest.raises(errors.TooManyReactions):
        message_react(message=sent, user=alice, emoji="dog_face")
    message_react(message=sent, user=alice, emoji="fire")  # an emoji already there still works
    assert len(Message.objects.get(pk=sent.pk).reactions) == 20


def test_no_reactions_on_deleted_or_hidden_messages(api, alice, bob, sent):
    message_react(message=sent, user=bob, emoji="👍")
    message_hide(message=sent, by=user_factory())
    api.login_as(bob)
    assert api.get(f"/api/messages/{alice.pk}").json()[0]["reactions"] == []  # withheld
    assert_error(api.post(reaction_url(sent, "👍")), 409, "message_hidden")
    gone = message_send(sender=alice, receiver=bob, body="bye")
    message_delete(message=gone, user=alice)
    assert_error(api.post(reaction_url(gone, "👍")), 409, "message_deleted")


def test_strangers_and_former_members_cannot_act(api, alice, bob, carol):
    group = group_create(creator=alice, name="g", member_ids=[str(bob.pk)])
    said = message_send(sender=bob, conversation=group, body="hi all")
    assert_error(api.login_as(carol).post(reaction_url(said, "👍")), 404, "message_not_found")
    group_member_remove(conversation=group, actor=bob, user_id=bob.pk)
    api.login_as(bob)
    assert_error(api.post(reaction_url(said, "👍")), 404, "message_not_found")
    assert_error(
        api.patch(message_url(said), {"message": "x"}, format="json"), 404, "message_not_found"
    )
    assert_error(api.delete(message_url(said)), 404, "message_not_found")
    # A service call racing the removal is refused inside its transaction too.
    with pytest.raises(errors.MessageNotFound):
        message_edit(message=said, user=bob, body="x")


def test_actions_are_rate_limited(api, bob, sent, settings):
    settings.CHAT = {**settings.CHAT, "ACTION_RATE": "2/minute"}
    api.login_as(bob)
    assert api.post(reaction_url(sent, "👍")).status_code == 200
    assert api.delete(reaction_url(sent, "👍")).status_code == 200
    limited = api.post(reaction_url(sent, "👍"))
    assert_error(limited, 429, "rate_limited")
    assert "Retry-After" in limited


def test_concurrent_reactions_edits_and_sends_lose_nothing(alice, bob):
    people = [user_factory() for _ in range(12)]
    group = group_create(creator=alice, name="busy", member_ids=[str(p.pk) for p in [bob, *people]])
    target = message_send(sender=alice, conversation=group, body="react to me")
    jobs = [
        lambda p=p: [message_react(message=target, user=p, emoji=e) for e in ("👍", "🎉")]
        for p in people
    ]
    jobs.append(lambda: [message_edit(message=target, user=alice, body=f"v{n}") for n in range(5)])
    jobs.append(
        lambda: [message_send(sender=bob, conversation=group, body=str(n)) for n in range(5)]
    )
    _results, failures = run_at_once(jobs)
    assert failures == []
    stored = Message.objects.get(pk=target.pk)
    everyone = sorted(str(p.pk) for p in people)
    assert [(r["emoji"], sorted(r["userIds"])) for r in stored.reactions] == [
        ("👍", everyone),
        ("🎉", everyone),
    ]
    assert stored.body == "v4" and len(stored.edit_history) == 5
    # Each change took its own version: 24 reactions, 5 edits, 5 sends after the target.
    group.refresh_from_db()
    assert group.version == target.version + 24 + 5 + 5
    assert_invariants(database())


def test_unreact_by_service(bob, sent):
    message_react(message=sent, user=bob, emoji="fire")
    assert message_unreact(message=sent, user=bob, emoji=":fire:").reactions == []


def test_a_patch_without_text_changes_nothing(api, alice, bob, sent):
    version = version_of(sent)
    response = api.login_as(alice).patch(message_url(sent), {}, format="json")
    assert response.status_code == 200 and response.json()["message"] == "helo"
    assert version_of(sent) == version
    assert_error(
        api.login_as(bob).patch(message_url(sent), {}, format="json"), 404, "message_not_found"
    )

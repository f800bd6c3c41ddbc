import json
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import user_factory
from messaging.admin import (
    INLINE_MESSAGES,
    MessageAdmin,
    NewestMessagesPaginator,
    conversation_latest_messages,
)
from messaging.models import EPOCH, Conversation, Message
from messaging.services import group_create, message_hide
from messaging.tests.factories import message_factory, messages_factory

pytestmark = pytest.mark.django_db

MESSAGES = "/admin/messaging/message/"
CONVERSATIONS = "/admin/messaging/conversation/"


def staff(*permissions: str, superuser: bool = False):
    user = user_factory(full_name="Staff Member")
    user.is_staff = True
    user.is_superuser = superuser
    user.save()
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.fixture
def admin_client(client):
    client.force_login(staff(superuser=True))
    return client


def run_action(client, action: str, messages: list[Message]):
    return client.post(
        MESSAGES,
        {"action": action, "_selected_action": [str(m.pk) for m in messages], "index": 0},
    )


def test_changelists_and_change_pages(admin_client, alice, bob):
    message = messages_factory(sender=alice, receiver=bob, count=3)[-1]
    response = admin_client.get(CONVERSATIONS)
    assert response.status_code == 200
    content = response.content.decode()
    assert "alice" in content and "bob" in content

    response = admin_client.get(f"{CONVERSATIONS}{message.conversation_id}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "alice, bob" in content or "bob, alice" in content
    assert "m3" in content

    response = admin_client.get(MESSAGES)
    assert response.status_code == 200
    assert "m1" in response.content.decode()

    response = admin_client.get(f"{MESSAGES}{message.pk}/change/")
    assert response.status_code == 200
    assert "m3" in response.content.decode()


def test_changelists_with_filters(admin_client, alice, bob):
    messages = messages_factory(sender=alice, receiver=bob, count=3)
    message_hide(message=messages[0], by=None)
    response = admin_client.get(MESSAGES, {"hidden": "yes"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [Message.objects.get(pk=messages[0].pk)]
    response = admin_client.get(MESSAGES, {"hidden": "no"})
    assert {m.pk for m in response.context["cl"].result_list} == {m.pk for m in messages[1:]}
    for query in [{"kind": "direct"}, {"last_message_at__gte": "2000-01-01 00:00:00+00:00"}]:
        response = admin_client.get(CONVERSATIONS, query)
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == 1
    response = admin_client.get(CONVERSATIONS, {"kind": "group"})
    assert len(response.context["cl"].result_list) == 0


def test_message_changelist_filters_by_sender(admin_client, alice, bob):
    messages = messages_factory(sender=alice, receiver=bob, count=3)  # alice, bob, alice
    from_alice, from_bob = [messages[0], messages[2]], [messages[1]]

    listing = admin_client.get(MESSAGES).content.decode()
    assert f'href="?sender={bob.pk}"' in listing  # a sender's name links to their messages

    response = admin_client.get(MESSAGES, {"sender": str(bob.pk)})
    assert [m.pk for m in response.context["cl"].result_list] == [from_bob[0].pk]
    assert "bob" in response.content.decode()  # the active filter names the sender
    response = admin_client.get(MESSAGES, {"sender": str(alice.pk)})
    assert {m.pk for m in response.context["cl"].result_list} == {m.pk for m in from_alice}
    response = admin_client.get(MESSAGES, {"sender": "not-an-id"})
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 3


def test_changelist_queries_do_not_grow_with_rows(admin_client, alice, bob, carol):
    messages_factory(sender=alice, receiver=bob, count=2)
    message_factory(sender=alice, receiver=carol)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured.captured_queries)

    few_messages, few_conversations = queries(MESSAGES), queries(CONVERSATIONS)
    dave, erin = user_factory(), user_factory()
    messages_factory(sender=dave, receiver=erin, count=6)
    messages_factory(sender=carol, receiver=erin, count=2)
    assert queries(MESSAGES) == few_messages
    assert queries(CONVERSATIONS) == few_conversations


def test_conversation_search_by_participant_username(admin_client, alice, bob, carol):
    with_bob = message_factory(sender=alice, receiver=bob)
    with_carol = message_factory(sender=carol, receiver=alice)

    def found(term: str) -> set:
        response = admin_client.get(CONVERSATIONS, {"q": term})
        assert response.status_code == 200
        return {c.pk for c in response.context["cl"].result_list}

    assert found("bob") == {with_bob.conversation_id}
    assert found("CAR") == {with_carol.conversation_id}
    assert found("alice") == {with_bob.conversation_id, with_carol.conversation_id}
    assert found(str(with_carol.conversation_id)) == {with_carol.conversation_id}
    assert found("nobody-like-this") == set()
    assert found(".*") == set()  # not a regex


def test_message_search_by_body(admin_client, alice, bob):
    message_factory(sender=alice, receiver=bob, body="the quick brown fox")
    message_factory(sender=bob, receiver=alice, body="lazy dog")
    response = admin_client.get(MESSAGES, {"q": "BROWN"})
    assert [m.body for m in response.context["cl"].result_list] == ["the quick brown fox"]


def test_hide_and_unhide_actions(admin_client, alice, bob):
    messages = messages_factory(sender=alice, receiver=bob, count=3)
    version = Conversation.objects.get().version

    response = run_action(admin_client, "hide", messages[:2])
    assert response.status_code == 302
    hidden = Message.objects.filter(hidden_at__isnull=False)
    assert {m.pk for m in hidden} == {m.pk for m in messages[:2]}
    moderator = response.wsgi_request.user
    assert {m.hidden_by_id for m in hidden} == {moderator.pk}
    assert Conversation.objects.get().version == version + 2
    entries = LogEntry.objects.filter(action_flag=CHANGE, change_message="Hidden")
    assert {e.object_id for e in entries} == {str(m.pk) for m in messages[:2]}
    assert {e.user_id for e in entries} == {moderator.pk}

    # Hiding again changes and logs nothing.
    run_action(admin_client, "hide", messages[:1])
    assert LogEntry.objects.filter(change_message="Hidden").count() == 2
    assert Conversation.objects.get().version == version + 2

    run_action(admin_client, "unhide", messages)
    assert not Message.objects.filter(hidden_at__isnull=False).exists()
    entries = LogEntry.objects.filter(change_message="Unhidden")
    assert {e.object_id for e in entries} == {str(m.pk) for m in messages[:2]}


def test_staff_without_hide_permission_cannot_hide(client, alice, bob):
    message = message_factory(sender=alice, receiver=bob)
    client.force_login(staff("view_message"))
    response = client.get(MESSAGES)
    assert response.status_code == 200
    action_form = response.context["action_form"]
    assert action_form is None or "hide" not in dict(action_form.fields["action"].choices)
    response = run_action(client, "hide", [message])
    assert response.status_code in (200, 302, 403)
    assert Message.objects.get(pk=message.pk).hidden_at is None
    assert not LogEntry.objects.exists()


def test_staff_with_view_and_hide_permission_can_hide(client, alice, bob):
    message = message_factory(sender=alice, receiver=bob)
    client.force_login(staff("view_message", "hide_message"))
    response = client.get(MESSAGES)
    assert response.status_code == 200
    choices = dict(response.context["action_form"].fields["action"].choices)
    assert {"hide", "unhide"} <= set(choices)
    assert "delete_selected" not in choices
    run_action(client, "hide", [message])
    assert Message.objects.get(pk=message.pk).hidden_at is not None
    assert LogEntry.objects.filter(change_message="Hidden").count() == 1


def test_staff_without_view_permission_is_forbidden(client, alice, bob):
    message_factory(sender=alice, receiver=bob)
    client.force_login(staff())
    assert client.get(MESSAGES).status_code == 403
    assert client.get(CONVERSATIONS).status_code == 403


def test_admin_is_read_only_except_actions(admin_client, alice, bob):
    message = message_factory(sender=alice, receiver=bob)
    assert admin_client.get(f"{MESSAGES}{message.pk}/delete/").status_code == 403
    assert admin_client.get(f"{CONVERSATIONS}add/").status_code == 403
    response = admin_client.post(f"{MESSAGES}{message.pk}/change/", {"body": "rewritten"})
    assert response.status_code == 403
    assert Message.objects.get(pk=message.pk).body == message.body


def test_add_message_goes_through_message_send(admin_client, alice, bob):
    first = message_factory(sender=alice, receiver=bob)
    assert admin_client.get(f"{MESSAGES}add/").status_code == 200
    response = admin_client.post(
        f"{MESSAGES}add/",
        {"conversation": str(first.conversation_id), "sender": str(bob.pk), "body": "  hi  "},
    )
    assert response.status_code == 302, response.content
    added = Message.objects.get(seq=2)
    assert (added.body, added.sender_id, added.receiver_id) == ("hi", bob.pk, alice.pk)
    assert Conversation.objects.get().last_seq == 2
    assert LogEntry.objects.filter(object_id=str(added.pk)).count() == 1


def test_add_message_validates(admin_client, alice, bob, carol):
    first = message_factory(sender=alice, receiver=bob)
    for data in [
        {"sender": str(carol.pk), "body": "not a member"},
        {"sender": str(bob.pk), "body": "   "},
        {"sender": str(bob.pk), "body": "x" * 5000},
    ]:
        data["conversation"] = str(first.conversation_id)
        response = admin_client.post(f"{MESSAGES}add/", data)
        assert response.status_code == 200  # the form again, with errors
        assert response.context["adminform"].form.errors
    assert Message.objects.count() == 1


def test_hide_permission_through_a_group(client, alice, bob):
    from django.contrib.auth.models import Group

    message = message_factory(sender=alice, receiver=bob)
    moderators = Group.objects.create(name="moderators")
    moderators.permissions.add(
        *Permission.objects.filter(codename__in=["view_message", "hide_message"])
    )
    user = staff()
    user.groups.add(moderators)
    assert user.has_perm("messaging.hide_message")
    client.force_login(user)
    run_action(client, "hide", [message])
    assert Message.objects.get(pk=message.pk).hidden_at is not None


# --- large collections: the query shapes behind the pages ---------------------------------


def message_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "db.messaging_message." in q["sql"]]


def index_used(queryset) -> set[str]:
    """The indexes the database's plan for `queryset` reads (empty: a collection scan)."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "indexName" in node and node.get("stage") != "COLLSCAN":
                found.add(node["indexName"])
            for key, value in node.items():
                if key != "rejectedPlans":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(queryset.explain()))
    return found


def spread_in_time(messages: list[Message], seconds: list[float]) -> None:
    """Give a history a shape: each message `seconds[i]` after its conversation began."""
    began = timezone.now() - timedelta(days=3)
    Conversation.objects.update(created_at=began)
    for message, offset in zip(messages, seconds, strict=True):
        Message.objects.filter(pk=message.pk).update(created_at=began + timedelta(seconds=offset))
    for conversation in Conversation.objects.all():
        newest = Message.objects.filter(conversation=conversation).order_by("-created_at")[0]
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=newest.created_at)


def all_pages(client, pages: int) -> tuple[list, list[list[str]]]:
    """The ids shown on pages 1..`pages`, and each page's queries on the messages."""
    shown, queries = [], []
    for page in range(1, pages + 1):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(MESSAGES, {"p": page})
        assert response.status_code == 200
        assert isinstance(response.context["cl"].paginator, NewestMessagesPaginator)
        shown += [m.pk for m in response.context["cl"].result_list]
        queries.append(message_queries(captured))
    return shown, queries


def test_unfiltered_message_pages_read_time_windows_not_the_collection(
    admin_client, monkeypatch, alice, bob, carol
):
    monkeypatch.setattr(MessageAdmin, "list_per_page", 4)
    sent = [
        *messages_factory(sender=alice, receiver=bob, count=6),
        *messages_factory(sender=carol, receiver=alice, count=5),
        *messages_factory(sender=bob, receiver=carol, count=4),
    ]
    # Two early messages, a busy minute a day later (three of them in one millisecond), then a
    # quiet day: the newest page is further back than the average rate suggests.
    day = 86400
    spread_in_time(
        sent,
        [5, 60, day, day, day, day + 1, day + 2, day + 3, day + 4, day + 5, day + 6, day + 7,
         day * 1.5, day * 1.75, day * 2],
    )  # fmt: skip

    response = admin_client.get(MESSAGES)
    assert response.context["cl"].result_count == 15
    shown, queries = all_pages(admin_client, pages=4)

    expected = list(Message.objects.order_by("-created_at", "-pk").values_list("pk", flat=True))
    assert shown == expected
    # The newer pages read windows on the messages' date: no count of them, no sort of all of
    # them. (The older pages' windows would span them all, so those read all of them.)
    for page_queries in queries[:2]:
        assert page_queries
        assert all("'created_at': {'$gte'" in query for query in page_queries), page_queries


def test_without_the_embedded_database_s_flag_pages_are_plain_slices(
    admin_client, monkeypatch, alice, bob
):
    # MongoDB (the stock backend's features): the limit stops the index walk, no windows.
    monkeypatch.setattr(MessageAdmin, "list_per_page", 3)
    monkeypatch.setattr(connection.features, "limit_reads_whole_index_range", False)
    sent = messages_factory(sender=alice, receiver=bob, count=7)
    spread_in_time(sent, [10, 20, 30, 40, 50, 60, 70])

    response = admin_client.get(MESSAGES)
    assert response.context["cl"].result_count == 7  # still from the conversations
    shown, queries = all_pages(admin_client, pages=3)

    assert shown == list(
        Message.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)
    )
    assert not [q for page in queries for q in page if "'created_at': {'$gte'" in q]


def test_message_pages_include_messages_older_than_their_conversation(
    admin_client, monkeypatch, alice, bob, carol
):
    # Stored around message_send (an import, say): the windows can't bound them, the list must.
    monkeypatch.setattr(MessageAdmin, "list_per_page", 4)
    sent = [
        *messages_factory(sender=alice, receiver=bob, count=5),
        *messages_factory(sender=carol, receiver=bob, count=4),
    ]
    spread_in_time(sent, [10, 20, 30, 40, 50, 15, 25, 35, 45])
    Message.objects.filter(pk=sent[0].pk).update(created_at=EPOCH + timedelta(days=1))

    shown, _ = all_pages(admin_client, pages=3)

    assert shown == list(
        Message.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)
    )
    assert shown[-1] == sent[0].pk


def test_sorted_or_filtered_message_pages_are_counted_exactly(
    admin_client, monkeypatch, alice, bob
):
    monkeypatch.setattr(MessageAdmin, "list_per_page", 2)
    sent = messages_factory(sender=alice, receiver=bob, count=5)
    message_hide(message=sent[1], by=None)

    response = admin_client.get(MESSAGES, {"o": "1", "p": 2})  # by seq, ascending
    assert response.context["cl"].paginator.unfiltered is False
    assert [m.seq for m in response.context["cl"].result_list] == [3, 4]
    response = admin_client.get(MESSAGES, {"hidden": "no"})
    assert response.context["cl"].result_count == 4
    response = admin_client.get(MESSAGES, {"q": "m5"})
    assert [m.body for m in response.context["cl"].result_list] == ["m5"]


def test_the_inline_lists_the_latest_messages_by_a_seq_range(admin_client, alice, bob):
    sent = messages_factory(sender=alice, receiver=bob, count=INLINE_MESSAGES + 3)
    conversation = Conversation.objects.get()

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(f"{CONVERSATIONS}{conversation.pk}/change/")
    assert response.status_code == 200

    formset = response.context["inline_admin_formsets"][0].formset
    seqs = [form.instance.seq for form in formset.forms]
    assert seqs == list(range(INLINE_MESSAGES + 3, 3, -1))
    assert {form.instance.sender.username for form in formset.forms} == {"alice", "bob"}
    assert "'seq': {'$gt': 3}" in " ".join(message_queries(captured))
    assert sent[-1].body in response.content.decode()
    assert len(captured.captured_queries) < 10  # senders are one query, not one per row


def test_the_admin_query_shapes_are_served_by_indexes(alice, bob):
    message = message_factory(sender=alice, receiver=bob)
    conversation = Conversation.objects.get()

    hidden = Message.objects.filter(hidden_at__gt=EPOCH)
    window = Message.objects.filter(created_at__gte=timezone.now() - timedelta(hours=1))
    latest = Message.objects.filter(conversation=conversation, seq__gt=conversation.last_seq - 50)

    assert index_used(hidden) == {"message_hidden"}
    assert index_used(window) == {"message_by_date"}
    assert index_used(latest) == {"message_by_seq"}
    assert [m.pk for m in conversation_latest_messages(conversation, 50)] == [message.pk]


# --- groups ---------------------------------------------------------------------------------


def test_groups_are_listed_with_name_members_and_owner(admin_client, alice, bob, carol):
    group_create(creator=alice, name="Book club", member_ids=[str(bob.pk), str(carol.pk)])
    message_factory(sender=alice, receiver=bob)
    page = admin_client.get(CONVERSATIONS).content.decode()
    assert "Book club" in page and "alice, bob, carol" in page
    response = admin_client.get(CONVERSATIONS + "?kind__exact=group")
    rows = list(response.context["cl"].result_list)
    assert [c.title for c in rows] == ["Book club"]
    assert rows[0].owner == alice


def test_a_moderator_removes_a_group_member(client, alice, bob, carol):
    group = group_create(creator=alice, name="Book club", member_ids=[str(bob.pk), str(carol.pk)])
    moderator = staff("view_conversation", "remove_member")
    client.force_login(moderator)
    change_page = client.get(f"{CONVERSATIONS}{group.pk}/change/").content.decode()
    remove_url = f"{CONVERSATIONS}{group.pk}/remove-member/{carol.pk}/"
    assert remove_url in change_page
    assert "alice (owner)" in change_page
    confirm = client.get(remove_url)
    assert (
        confirm.status_code == 200 and "Remove <strong>carol</strong>" in confirm.content.decode()
    )
    assert client.post(remove_url).status_code == 302
    group.refresh_from_db()
    assert group.participants == [alice.pk, bob.pk]
    last = Message.objects.get(conversation=group, seq=group.last_seq)
    assert last.body == "a moderator removed carol"
    assert last.system["action"] == "removed" and last.system["userIds"] == [str(carol.pk)]


def test_staff_without_the_permission_cannot_remove_members(client, alice, bob, carol):
    group = group_create(creator=alice, name="g", member_ids=[str(bob.pk), str(carol.pk)])
    client.force_login(staff("view_conversation"))
    change_page = client.get(f"{CONVERSATIONS}{group.pk}/change/").content.decode()
    assert "remove-member" not in change_page
    response = client.post(f"{CONVERSATIONS}{group.pk}/remove-member/{carol.pk}/")
    assert response.status_code == 403
    group.refresh_from_db()
    assert carol.pk in group.participants


def test_the_message_page_shows_edit_history_reactions_and_deletions(admin_client, alice, bob):
    from messaging.services import message_delete, message_edit, message_react, message_send

    first = message_send(sender=alice, receiver=bob, body="teh <b>first</b>")
    message_edit(message=first, user=alice, body="the first")
    message_react(message=first, user=bob, emoji="👍")
    reply = message_send(sender=bob, receiver=alice, body="ok", reply_to=str(first.pk))

    page = admin_client.get(f"{MESSAGES}{first.pk}/change/").content.decode()
    assert "teh &lt;b&gt;first&lt;/b&gt;" in page  # the replaced text, escaped
    assert "the first" in page
    assert "👍 1: bob" in page
    page = admin_client.get(f"{MESSAGES}{reply.pk}/change/").content.decode()
    assert str(first.pk) in page  # what it replies to

    message_delete(message=first, user=alice)
    page = admin_client.get(f"{MESSAGES}{first.pk}/change/").content.decode()
    assert "teh" not in page and "the first" not in page  # erased, moderators included
    assert "(deleted: erased with the text)" in page
    listing = admin_client.get(MESSAGES).content.decode()
    assert "(deleted by its author)" in listing


def test_message_search_reads_the_search_index(admin_client, alice, bob):
    from messaging.services import message_send

    kept = message_send(sender=alice, receiver=bob, body="Café meeting at noon")
    hidden = message_send(sender=bob, receiver=alice, body="cafe rant")
    message_hide(message=hidden, by=None)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(MESSAGES, {"q": "CAFE"})
    assert [m.pk for m in response.context["cl"].result_list] == [kept.pk]
    assert not any("$regex" in q["sql"] for q in captured.captured_queries)
    by_id = admin_client.get(MESSAGES, {"q": str(hidden.pk)})
    assert [m.pk for m in by_id.context["cl"].result_list] == [hidden.pk]

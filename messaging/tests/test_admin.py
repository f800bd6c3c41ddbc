import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.models import Conversation, Message
from messaging.services import message_hide
from messaging.tests.factories import message_factory, messages_factory, user_factory

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

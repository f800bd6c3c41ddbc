"""The moderation admin names conversations by their participants, and shows a conversation as
a thread (oldest first, the newest last, in pages) where messages are hidden and unhidden."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import user_delete
from accounts.tests.factories import user_factory
from messaging.admin import THREAD_PAGE
from messaging.models import Conversation, Message
from messaging.services import group_create, message_hide
from messaging.tests.factories import message_factory, messages_factory
from messaging.tests.test_admin import CONVERSATIONS, MESSAGES, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(staff(superuser=True))
    return client


HEX_ID = re.compile(r"\b[0-9a-f]{24}\b")


def visible_text(html: str) -> str:
    """The page's text without its tags and attribute values (ids in links are fine)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", html)


def thread(conversation_id) -> str:
    return f"{CONVERSATIONS}{conversation_id}/thread/"


# --- names ----------------------------------------------------------------------------------


def test_conversations_are_named_by_participants_never_by_id(admin_client, alice, bob, carol):
    direct = message_factory(sender=bob, receiver=alice, body="hello there").conversation
    group = group_create(creator=alice, name="Book club", member_ids=[str(bob.pk), str(carol.pk)])
    message_factory(sender=carol, conversation=group, body="hi club")

    assert str(Conversation.objects.get(pk=direct.pk)) == "alice ↔ bob"
    assert str(Conversation.objects.get(pk=group.pk)) == "Book club"

    pages = {
        "conversation list": CONVERSATIONS,
        "conversation page": f"{CONVERSATIONS}{direct.pk}/change/",
        "message list": MESSAGES,
        "message list, one conversation": f"{MESSAGES}?conversation={direct.pk}",
        "message page": f"{MESSAGES}{Message.objects.get(conversation=direct).pk}/change/",
        "thread": thread(direct.pk),
    }
    for name, url in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, name
        text = visible_text(response.content.decode())
        assert "alice ↔ bob" in text, name
        assert not HEX_ID.search(text), (name, HEX_ID.search(text))
    listing = visible_text(admin_client.get(MESSAGES).content.decode())
    assert "Book club" in listing


def test_the_conversation_filter_is_named_and_filters(admin_client, alice, bob, carol):
    with_bob = messages_factory(sender=alice, receiver=bob, count=2)
    message_factory(sender=alice, receiver=carol)
    conversation_id = with_bob[0].conversation_id
    response = admin_client.get(MESSAGES, {"conversation": str(conversation_id)})
    assert {m.pk for m in response.context["cl"].result_list} == {m.pk for m in with_bob}
    filters = {spec.title: spec for spec in response.context["cl"].filter_specs}
    choices = list(filters["conversation"].choices(response.context["cl"]))
    assert [c["display"] for c in choices if c["selected"]] == ["alice ↔ bob"]
    response = admin_client.get(MESSAGES, {"conversation": "nonsense"})
    assert len(response.context["cl"].result_list) == 3


def test_the_autocomplete_names_conversations_in_one_query(admin_client, alice, bob, carol):
    for other in [bob, carol, user_factory(username="dave"), user_factory(username="erin")]:
        message_factory(sender=alice, receiver=other)
    params = {"app_label": "messaging", "model_name": "message", "field_name": "conversation"}
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get("/admin/autocomplete/", {**params, "term": "alice"})
    assert response.status_code == 200
    names = {r["text"] for r in response.json()["results"]}
    assert names == {"alice ↔ bob", "alice ↔ carol", "alice ↔ dave", "alice ↔ erin"}
    user_queries = [q for q in captured.captured_queries if "accounts_user" in q["sql"]]
    # The session's user, the search's usernames, the names of the whole page.
    assert len(user_queries) <= 3, [q["sql"][:120] for q in user_queries]

    response = admin_client.get("/admin/autocomplete/", {**params, "term": "carol"})
    assert [r["text"] for r in response.json()["results"]] == ["alice ↔ carol"]
    # The add form asks for the conversation and the sender by name.
    form = admin_client.get(f"{MESSAGES}add/").content.decode()
    assert re.search(r'class="admin-autocomplete"[^>]*data-field-name="conversation"', form)


def test_a_deleted_participant_is_named_deleted_user(admin_client, alice, bob):
    message_factory(sender=alice, receiver=bob)
    conversation = Conversation.objects.get()
    user_delete(user=bob)
    assert str(Conversation.objects.get(pk=conversation.pk)) == "alice ↔ Deleted user"
    text = visible_text(admin_client.get(CONVERSATIONS).content.decode())
    assert "alice ↔ Deleted user" in text and not HEX_ID.search(text)


def test_names_cost_one_query_per_page(admin_client, alice, bob, carol):
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured.captured_queries)

    message_factory(sender=alice, receiver=bob)
    group_create(creator=alice, name="First", member_ids=[str(bob.pk)])
    few = {url: queries(url) for url in [MESSAGES, CONVERSATIONS]}
    for _ in range(6):
        message_factory(sender=user_factory(), receiver=carol)
    group_create(creator=bob, name="Later", member_ids=[str(carol.pk)])
    assert {url: queries(url) for url in [MESSAGES, CONVERSATIONS]} == few


# --- the thread -----------------------------------------------------------------------------


def seqs_shown(response) -> list[int]:
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', response.content.decode())]


def test_the_thread_reads_oldest_first_with_the_newest_last_in_pages(admin_client, alice, bob):
    count = THREAD_PAGE * 2 + 5
    messages_factory(sender=alice, receiver=bob, count=count)
    url = thread(Conversation.objects.get().pk)

    with CaptureQueriesContext(connection) as captured:
        newest = admin_client.get(url)
    assert seqs_shown(newest) == list(range(count - THREAD_PAGE + 1, count + 1))
    page = newest.content.decode()
    assert page.index(f">m{count - 1}<") < page.index(f">m{count}<")  # newest last
    assert len(captured.captured_queries) < 15

    older = admin_client.get(f"{url}?before={count - THREAD_PAGE + 1}")
    assert seqs_shown(older) == list(range(count - 2 * THREAD_PAGE + 1, count - THREAD_PAGE + 1))
    first = admin_client.get(f"{url}?before={count - 2 * THREAD_PAGE + 1}")
    assert seqs_shown(first) == [1, 2, 3, 4, 5]
    assert "The beginning of the conversation." in first.content.decode()
    newer = admin_client.get(f"{url}?after=5")
    assert seqs_shown(newer) == list(range(6, 6 + THREAD_PAGE))
    assert f'href="{url}?after={5 + THREAD_PAGE}"' in newer.content.decode()
    # Nonsense paging shows the newest messages.
    assert seqs_shown(admin_client.get(f"{url}?before=x²")) == seqs_shown(newest)


def test_the_message_list_links_to_the_thread_around_a_message(admin_client, alice, bob):
    messages = messages_factory(sender=alice, receiver=bob, count=THREAD_PAGE + 20)
    target = messages[9]
    listing = admin_client.get(MESSAGES, {"conversation": str(target.conversation_id)})
    link = f"{thread(target.conversation_id)}?after=4#m10"
    assert f'href="{link}"' in listing.content.decode()
    around = admin_client.get(link.split("#")[0])
    assert 10 in seqs_shown(around) and seqs_shown(around)[0] == 5


def test_the_thread_hides_and_unhides_in_place(admin_client, alice, bob):
    messages = messages_factory(sender=alice, receiver=bob, count=3)
    target = messages[1]
    url = thread(target.conversation_id)
    version = Conversation.objects.get().version

    response = admin_client.post(f"{url}?after=0", {"message": str(target.pk), "action": "hide"})
    assert response.status_code == 302
    assert response["Location"] == f"{url}?after=0#m2"
    stored = Message.objects.get(pk=target.pk)
    assert stored.is_hidden and stored.hidden_by_id == response.wsgi_request.user.pk
    assert Conversation.objects.get().version == version + 1  # through message_hide
    assert LogEntry.objects.filter(object_id=str(target.pk), change_message="Hidden").exists()

    page = admin_client.get(url).content.decode()
    row = page[page.index('id="m2"') : page.index('id="m3"')]
    assert "hidden by" in row and 'value="unhide"' in row and "m2" in row  # text kept for mods

    admin_client.post(url, {"message": str(target.pk), "action": "unhide"})
    assert not Message.objects.get(pk=target.pk).is_hidden
    assert Conversation.objects.get().version == version + 2
    assert LogEntry.objects.filter(change_message="Unhidden").count() == 1


def test_the_thread_refuses_what_it_must(client, alice, bob, carol):
    message = message_factory(sender=alice, receiver=bob)
    other = message_factory(sender=alice, receiver=carol)
    url = thread(message.conversation_id)

    client.force_login(staff("view_message", "view_conversation"))
    page = client.get(url)
    assert page.status_code == 200 and 'value="hide"' not in page.content.decode()
    client.post(url, {"message": str(message.pk), "action": "hide"})
    assert not Message.objects.get(pk=message.pk).is_hidden

    client.force_login(staff("view_conversation"))
    assert client.get(url).status_code == 403

    client.force_login(staff("view_message", "view_conversation", "hide_message"))
    # A message of another conversation, or an unknown action, is not found here.
    response = client.post(url, {"message": str(other.pk), "action": "hide"})
    assert response.status_code == 404
    response = client.post(url, {"message": str(message.pk), "action": "delete"})
    assert response.status_code == 404
    assert not Message.objects.filter(hidden_at__isnull=False).exists()
    client.post(url, {"message": str(message.pk), "action": "hide"})
    assert Message.objects.get(pk=message.pk).is_hidden


def test_the_thread_shows_system_lines_and_states(admin_client, alice, bob, carol):
    group = group_create(creator=alice, name="Book club", member_ids=[str(bob.pk)])
    sent = message_factory(sender=bob, conversation=group, body="first!")
    message_hide(message=sent, by=None)
    page = visible_text(admin_client.get(thread(group.pk)).content.decode())
    assert "alice created the group Book club" in page
    assert "first!" in page and "hidden by" in page

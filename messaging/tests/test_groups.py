"""Groups: create, rename, members and roles, through the services and the REST API, on the
real database."""

import threading

import pytest
from django.conf import settings

from accounts.services import user_deactivate
from accounts.tests.factories import assert_error, user_factory
from chatsite.testing import wait_until
from messaging import errors
from messaging.models import Conversation, Message
from messaging.selectors import contact_ids_for_users
from messaging.services import (
    group_create,
    group_member_remove,
    group_member_set_role,
    group_members_add,
    group_rename,
    message_send,
)
from messaging.signals import conversation_changed
from messaging.tests.factories import run_at_once
from messaging.tests.invariants import assert_invariants, database

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave(db):
    return user_factory(username="dave", full_name="Dave Bowman")


def history(group: Conversation) -> list[tuple[int, str]]:
    return [(m.seq, m.body) for m in Message.objects.filter(conversation=group).order_by("seq")]


def ids(*users) -> list[str]:
    return [str(u.pk) for u in users]


# --- services ---------------------------------------------------------------------------------


def test_create_a_group(alice, bob, carol):
    group = group_create(creator=alice, name="  Trip  ", member_ids=ids(bob, carol, bob))
    group.refresh_from_db()
    assert group.kind == Conversation.Kind.GROUP
    assert group.title == "Trip"
    assert group.participants == [alice.pk, bob.pk, carol.pk]  # duplicates ignored
    assert group.owner_id == alice.pk and group.admins == []
    assert (group.last_seq, group.version) == (1, 1)
    assert history(group) == [(1, "alice created the group Trip")]
    created = Message.objects.get(conversation=group)
    assert created.system == {
        "action": "created",
        "actorId": str(alice.pk),
        "userIds": ids(alice, bob, carol),
        "name": "Trip",
    }
    assert group.last_read_seq(alice.pk) == 1 and group.last_read_seq(bob.pk) == 0


@pytest.mark.parametrize(
    ("name", "members", "error"),
    [
        ("", "bob", errors.GroupNameInvalid),
        ("   ", "bob", errors.GroupNameInvalid),
        ("x" * 101, "bob", errors.GroupNameInvalid),
        ("a\x00b", "bob", errors.GroupNameInvalid),
        (5, "bob", errors.GroupNameInvalid),
        ("ok", "", errors.TooFewMembers),
        ("ok", "self", errors.TooFewMembers),
        ("ok", "missing", errors.UserNotFound),
        ("ok", "deactivated", errors.UserNotFound),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(alice, bob, name, members, error):
    member_ids = {
        "bob": ids(bob),
        "": [],
        "self": ids(alice),
        "missing": ["0" * 24],
        "deactivated": ids(bob),
    }[members]
    if members == "deactivated":
        user_deactivate(user=bob)
    with pytest.raises(error):
        group_create(creator=alice, name=name, member_ids=member_ids)
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_user_not_found_names_the_id(alice):
    with pytest.raises(errors.UserNotFound, match="0" * 24):
        group_create(creator=alice, name="g", member_ids=["0" * 24])


def test_too_many_members(alice, bob, carol, monkeypatch):
    monkeypatch.setitem(settings.CHAT, "GROUP_MAX_MEMBERS", 2)
    with pytest.raises(errors.TooManyMembers):
        group_create(creator=alice, name="g", member_ids=ids(bob, carol))
    group = group_create(creator=alice, name="g", member_ids=ids(bob))
    with pytest.raises(errors.TooManyMembers):
        group_members_add(conversation=group, actor=alice, user_ids=ids(carol))
    assert Conversation.objects.get().participants == [alice.pk, bob.pk]


def test_members_send_and_each_change_takes_the_next_seq(alice, bob, carol, dave):
    group = group_create(creator=alice, name="Trip", member_ids=ids(bob))
    message_send(sender=bob, conversation=group, body="hi all")
    group = group_members_add(conversation=group, actor=alice, user_ids=ids(carol, dave, bob))
    group = group_rename(conversation=group, actor=alice, name="Road trip")
    group = group_member_remove(conversation=group, actor=alice, user_id=dave.pk)
    group = group_member_remove(conversation=group, actor=carol, user_id=carol.pk)
    assert history(group) == [
        (1, "alice created the group Trip"),
        (2, "hi all"),
        (3, "alice added carol and dave"),
        (4, "alice renamed the group to Road trip"),
        (5, "alice removed dave"),
        (6, "carol left"),
    ]
    group.refresh_from_db()
    assert group.participants == [alice.pk, bob.pk]
    assert group.title == "Road trip"
    assert (group.last_seq, group.version) == (6, 6)
    versions = list(Message.objects.filter(conversation=group).values_list("version", flat=True))
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
    assert str(carol.pk) not in group.read_markers
    assert_invariants(database())


def test_new_members_have_read_what_came_before_them(alice, bob, carol):
    group = group_create(creator=alice, name="g", member_ids=ids(bob))
    message_send(sender=bob, conversation=group, body="before carol")
    group = group_members_add(conversation=group, actor=alice, user_ids=ids(carol))
    assert group.last_read_seq(carol.pk) == 2  # unread: only "alice added carol"
    # Removed and added again: her marker starts over at the new join, after her old messages.
    message_send(sender=carol, conversation=group, body="hi")
    group = group_member_remove(conversation=group, actor=alice, user_id=carol.pk)
    group = group_members_add(conversation=group, actor=alice, user_ids=ids(carol))
    assert group.last_read_seq(carol.pk) == group.last_seq - 1
    assert_invariants(database())


def test_membership_changes_announce_who_was_added(alice, bob, carol, dave):
    """Realtime tells new members and the others who of them is online from this."""
    heard = []

    def listen(sender, conversation, added_user_ids, removed_user_ids, **kwargs):
        heard.append((list(added_user_ids), list(removed_user_ids)))

    conversation_changed.connect(listen, dispatch_uid="test.added")
    try:
        group = group_create(creator=alice, name="Trip", member_ids=ids(bob))
        group = group_members_add(conversation=group, actor=alice, user_ids=ids(bob, carol, dave))
        group_member_remove(conversation=group, actor=alice, user_id=str(dave.pk))
    finally:
        conversation_changed.disconnect(dispatch_uid="test.added")
    assert heard == [
        ([alice.pk, bob.pk], []),
        ([carol.pk, dave.pk], []),
        ([], [dave.pk]),
    ]


def test_contacts_of_several_users_at_once_and_before_a_conversation(alice, bob, carol, dave):
    message_send(sender=alice, receiver=bob, body="hi")
    group = group_create(creator=alice, name="Trip", member_ids=ids(carol, dave))

    assert contact_ids_for_users(user_ids=ids(alice, carol, bob)) == {
        str(alice.pk): set(ids(bob, carol, dave)),
        str(carol.pk): set(ids(alice, dave)),
        str(bob.pk): set(ids(alice)),
    }
    before = contact_ids_for_users(user_ids=ids(alice, carol), excluding_conversation_id=group.pk)
    assert before == {str(alice.pk): set(ids(bob)), str(carol.pk): set()}


def test_only_members_send_read_or_change(alice, bob, carol):
    group = group_create(creator=alice, name="g", member_ids=ids(bob))
    with pytest.raises(errors.ConversationNotFound):
        message_send(sender=carol, conversation=group, body="let me in")
    with pytest.raises(errors.ConversationNotFound):
        group_rename(conversation=group, actor=carol, name="mine")


def test_only_owner_and_admins_rename_and_manage_members(alice, bob, carol, dave):
    group = group_create(creator=alice, name="g", member_ids=ids(bob, carol))
    with pytest.raises(errors.GroupAdminRequired):
        group_rename(conversation=group, actor=bob, name="bob's")
    with pytest.raises(errors.GroupAdminRequired):
        group_members_add(conversation=group, actor=bob, user_ids=ids(dave))
    with pytest.raises(errors.GroupAdminRequired):
        group_member_remove(conversation=group, actor=bob, user_id=carol.pk)
    with pytest.raises(errors.GroupOwnerRequired):
        group_member_set_role(conversation=group, actor=bob, user_id=bob.pk, role="admin")
    group = group_member_set_role(conversation=group, actor=alice, user_id=bob.pk, role="admin")
    assert group.admins == [bob.pk]
    group = group_rename(conversation=group, actor=bob, name="bob's")
    group = group_members_add(conversation=group, actor=bob, user_ids=ids(dave))
    # An admin removes plain members, not the owner or another admin.
    group = group_member_set_role(conversation=group, actor=alice, user_id=carol.pk, role="admin")
    with pytest.raises(errors.GroupOwnerRequired):
        group_member_remove(conversation=group, actor=bob, user_id=carol.pk)
    with pytest.raises(errors.GroupOwnerRequired):
        group_member_remove(conversation=group, actor=bob, user_id=alice.pk)
    group = group_member_remove(conversation=group, actor=bob, user_id=dave.pk)
    assert group.participants == [alice.pk, bob.pk, carol.pk]


def test_hand_over_ownership_and_the_owner_leaving(alice, bob, carol):
    group = group_create(creator=alice, name="g", member_ids=ids(bob, carol))
    group = group_member_set_role(conversation=group, actor=alice, user_id=bob.pk, role="owner")
    assert (group.owner_id, group.admins) == (bob.pk, [alice.pk])
    with pytest.raises(errors.GroupOwnerRequired):
        group_member_set_role(conversation=group, actor=alice, user_id=carol.pk, role="admin")
    # The owner leaving hands ownership to the first admin, else the longest-standing member.
    group = group_member_remove(conversation=group, actor=bob, user_id=bob.pk)
    assert (group.owner_id, group.admins) == (alice.pk, [])
    group = group_member_remove(conversation=group, actor=alice, user_id=alice.pk)
    assert (group.owner_id, group.participants) == (carol.pk, [carol.pk])
    assert group.archived_at is None
    group = group_member_remove(conversation=group, actor=carol, user_id=carol.pk)
    assert group.participants == [] and group.archived_at is not None
    assert history(group)[-1] == (5, "carol left")
    assert_invariants(database())


def test_concurrent_adds_removes_and_sends_lose_nothing(alice, bob):
    members = [user_factory() for _ in range(8)]
    group = group_create(creator=alice, name="busy", member_ids=ids(bob))
    jobs = [
        lambda m=m: group_members_add(conversation=group, actor=alice, user_ids=ids(m))
        for m in members
    ]
    jobs.append(
        lambda: [message_send(sender=bob, conversation=group, body=str(n)) for n in range(5)]
    )
    jobs.append(lambda: group_member_remove(conversation=group, actor=bob, user_id=bob.pk))
    _results, failures = run_at_once(jobs)
    # bob's sends after he left are refused; nothing else may fail.
    assert all(isinstance(f, errors.ConversationNotFound) for f in failures), failures
    group.refresh_from_db()
    assert sorted(group.participants, key=str) == sorted(
        [alice.pk, *(m.pk for m in members)], key=str
    )
    seqs = list(Message.objects.filter(conversation=group).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, group.last_seq + 1))
    assert_invariants(database())


# --- REST -------------------------------------------------------------------------------------


def test_create_rename_add_remove_over_rest(api, alice, bob, carol):
    api.login_as(alice)
    created = api.post(
        "/api/conversations",
        {"kind": "group", "name": "Trip", "participantIds": ids(bob)},
        format="json",
    )
    assert created.status_code == 201, created.content
    group = created.json()
    assert group["kind"] == "group" and group["title"] == "Trip"
    assert group["ownerId"] == str(alice.pk) and group["memberIds"] == ids(alice, bob)
    url = f"/api/conversations/{group['_id']}"
    assert api.get(url).json() == group
    renamed = api.patch(url, {"name": "Road trip"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Road trip"
    added = api.post(f"{url}/members", {"userIds": ids(carol)}, format="json")
    assert added.json()["memberIds"] == ids(alice, bob, carol)
    removed = api.delete(f"{url}/members/{carol.pk}")
    assert removed.status_code == 200 and removed.json()["memberIds"] == ids(alice, bob)
    page = api.get(f"{url}/messages").json()["messages"]
    assert [m["system"]["action"] for m in page] == ["created", "renamed", "added", "removed"]
    listed = api.get("/api/conversations").json()["conversations"]
    assert [c["title"] for c in listed] == ["Road trip"]


def test_rest_errors(api, alice, bob, carol):
    api.login_as(alice)
    missing = api.post(
        "/api/conversations",
        {"kind": "group", "name": "g", "participantIds": ["0" * 24]},
        format="json",
    )
    assert_error(missing, 404, "user_not_found")
    assert "0" * 24 in missing.json()["error"]
    group = api.post(
        "/api/conversations",
        {"kind": "group", "name": "g", "participantIds": ids(bob)},
        format="json",
    ).json()
    url = f"/api/conversations/{group['_id']}"
    api.login_as(bob)
    assert_error(api.patch(url, {"name": "bob's"}, format="json"), 403, "group_admin_required")
    assert_error(
        api.patch(f"{url}/members/{bob.pk}", {"role": "owner"}, format="json"),
        403,
        "group_owner_required",
    )
    api.login_as(carol)
    assert_error(api.get(url), 404, "conversation_not_found")
    assert_error(api.post(f"{url}/messages", {"message": "hi"}, format="json"), 404,
                 "conversation_not_found")  # fmt: skip
    api.login_as(alice)
    assert_error(api.delete(f"{url}/members/{carol.pk}"), 404, "member_not_found")
    assert_error(api.patch(f"{url}/members/{bob.pk}", {"role": "king"}, format="json"), 400,
                 "role_invalid")  # fmt: skip
    direct = api.post(f"/api/messages/send/{bob.pk}", {"message": "hi"}, format="json").json()
    assert_error(
        api.patch(f"/api/conversations/{direct['conversationId']}", {"name": "x"}, format="json"),
        409,
        "not_a_group",
    )


def test_sync_returns_group_changes_once_and_nothing_after_removal(api, alice, bob, carol):
    api.login_as(carol)
    cursor = api.get("/api/sync").json()["cursor"]
    group = group_create(creator=alice, name="g", member_ids=ids(bob, carol))
    message_send(sender=bob, conversation=group, body="hello")
    changes = api.get("/api/sync", {"since": cursor}).json()
    assert [(m["seq"], (m["system"] or {}).get("action")) for m in changes["messages"]] == [
        (1, "created"),
        (2, None),
    ]
    cursor = changes["cursor"]
    assert api.get("/api/sync", {"since": cursor}).json()["messages"] == []
    group_member_remove(conversation=group, actor=alice, user_id=carol.pk)
    message_send(sender=bob, conversation=group, body="after carol")
    after = api.get("/api/sync", {"since": cursor}).json()
    assert after["messages"] == [] and after["reads"] == []


def test_members_marking_read_at_once_share_one_update(alice, bob, monkeypatch):
    """While a send holds the conversation's writer turn, the members who mark read join one
    batch: one version for all their markers, each caller answered with its own."""
    from messaging import services
    from messaging.transactions import transaction_turns

    readers = [user_factory() for _ in range(5)]
    group = group_create(creator=alice, name="big", member_ids=ids(bob, *readers))
    message_send(sender=alice, conversation=group, body="news")
    group.refresh_from_db()
    version = group.version
    answers: dict = {}

    def mark(user) -> None:
        from django.db import connection

        try:
            answers[user.pk] = services.conversation_mark_read(
                user=user, conversation=group, seq=group.last_seq
            )
        finally:
            connection.close()

    lock = transaction_turns().writer_lock(services.writer_key(group))
    with lock:  # a send in progress
        threads = [threading.Thread(target=mark, args=(user,)) for user in readers]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(getattr(services._marker_batches.get(group.pk), "seqs", {})) == 5)
    for thread in threads:
        thread.join(timeout=30)
    assert answers == {user.pk: group.last_seq for user in readers}
    group.refresh_from_db()
    assert group.version == version + 1
    assert {group.read_markers[str(u.pk)]["version"] for u in readers} == {version + 1}
    assert_invariants(database())


def test_a_marker_batch_that_waits_too_long_fails_and_leaves_no_trace(alice, bob, monkeypatch):
    """A leader that doesn't get the writer's turn in time fails its batch (503), and the next
    mark-read of the conversation starts afresh."""
    from chatsite.errors import DatabaseUnavailable
    from messaging import services
    from messaging.transactions import transaction_turns

    group = group_create(creator=alice, name="slow", member_ids=ids(bob))
    monkeypatch.setattr("messaging.services.turn_timeout", lambda: 0.2)
    lock = transaction_turns().writer_lock(services.writer_key(group))
    with lock, pytest.raises(DatabaseUnavailable):
        services.conversation_mark_read(user=bob, conversation=group, seq=1)
    assert group.pk not in services._marker_batches
    assert services.conversation_mark_read(user=bob, conversation=group, seq=1) == 1

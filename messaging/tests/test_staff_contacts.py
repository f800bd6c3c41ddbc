"""Staff and superusers are not everyone's chat contacts: `GET /api/users` lists them only to
the users who share a conversation with them (`CHAT["HIDE_STAFF_FROM_CONTACTS"]`, on by
default)."""

import pytest

from accounts.tests.factories import user_factory
from messaging.services import group_create
from messaging.tests.factories import message_factory

pytestmark = pytest.mark.django_db


def staff_user(username: str, *, superuser: bool):
    user = user_factory(username=username)
    user.is_staff, user.is_superuser = not superuser, superuser  # a superuser need not be staff
    user.save()
    return user


@pytest.fixture
def moderator(db):
    return staff_user("mod", superuser=False)


@pytest.fixture
def root(db):
    return staff_user("root", superuser=True)


def listed(api, user, **query) -> list[str]:
    response = api.login_as(user).get("/api/users", query)
    assert response.status_code == 200, response.content
    return [u["username"] for u in response.json()]


def test_staff_are_listed_only_to_those_they_chatted_with(api, alice, bob, carol, moderator, root):
    assert listed(api, alice) == ["bob", "carol"]
    assert listed(api, alice, search="mo") == []  # searching does not find them either

    message_factory(sender=moderator, receiver=alice, body="a word from the moderators")
    assert listed(api, alice) == ["bob", "carol", "mod"]
    assert listed(api, alice, search="mo") == ["mod"]
    assert listed(api, bob) == ["alice", "carol"]

    # A group they share counts too.
    group_create(creator=root, name="Support", member_ids=[str(bob.pk)])
    assert listed(api, bob) == ["alice", "carol", "root"]
    assert listed(api, carol) == ["alice", "bob"]
    # Staff, too, see other staff only once they share a conversation.
    assert listed(api, moderator) == ["alice", "bob", "carol"]


def test_the_setting_off_lists_staff_like_everyone(api, settings, alice, bob, moderator, root):
    settings.CHAT = {**settings.CHAT, "HIDE_STAFF_FROM_CONTACTS": False}
    assert listed(api, alice) == ["bob", "mod", "root"]

"""What messaging does for an account: erasing a deleted account's messages (in bulk, each
with a version of its own for /api/sync), leaving its groups, and the data export."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from accounts.services import DELETED_FULL_NAME, user_delete
from accounts.tests.factories import PASSWORD, signup_payload
from chatsite.testing import database_statements
from messaging import selectors, services
from messaging.models import Attachment, Conversation, Message
from messaging.tests.factories import message_factory
from messaging.tests.test_attachments import _empty_gridfs, gridfs_counts, pdf_bytes  # noqa: F401

pytestmark = pytest.mark.django_db


def deleted_over_api(api, user) -> None:
    response = api.login_as(user).delete("/api/auth/me", {"password": PASSWORD}, format="json")
    assert response.status_code == 204, response.content


class TestErasure:
    def test_their_messages_stay_as_tombstones_and_others_are_untouched(self, api, alice, bob):
        mine = [message_factory(sender=alice, receiver=bob, body=f"secret {n}") for n in range(3)]
        theirs = message_factory(sender=bob, receiver=alice, body="hello alice")
        services.message_react(message=theirs, user=alice, emoji="👍")

        deleted_over_api(api, alice)

        for message in Message.objects.filter(pk__in=[m.pk for m in mine]):
            assert message.deleted_at is not None
            assert (message.body, message.search_terms, message.reactions) == ("", [], [])
            assert message.sender_id == alice.pk  # still in the history, by "Deleted user"
        kept = Message.objects.get(pk=theirs.pk)
        assert kept.body == "hello alice" and kept.deleted_at is None
        # Their reaction on someone else's message stays (under "Deleted user").
        assert kept.reactions == [{"emoji": "👍", "userIds": [str(alice.pk)]}]
        history = api.login_as(bob).get(f"/api/messages/{alice.pk}").json()
        assert [m["message"] for m in history] == ["", "", "", "hello alice"]
        assert [m["deleted"] for m in history] == [True, True, True, False]
        listed = api.login_as(bob).get("/api/conversations").json()
        assert DELETED_FULL_NAME in json.dumps(listed)

    def test_a_send_stored_during_the_erasure_is_erased_too(self, monkeypatch, alice, bob):
        """A socket on another process may store one more message before the news that the
        sessions ended reaches it: here, while the group lines are being renamed."""
        rename = services.system_lines_rename
        late = []

        def send_meanwhile(**kwargs):
            # As a socket's identity sees its user: active, as checked at connect.
            sender = User(pk=alice.pk, is_active=True)
            late.append(message_factory(sender=sender, receiver=bob, body="in flight"))
            return rename(**kwargs)

        message_factory(sender=alice, receiver=bob, body="before")
        monkeypatch.setattr(services, "system_lines_rename", send_meanwhile)

        user_delete(user=alice)

        assert late, "the fault hook did not run"
        bodies = set(Message.objects.filter(sender=alice).values_list("body", flat=True))
        assert bodies == {""}

    def test_each_tombstone_has_a_version_of_its_own_and_sync_hands_them_out(self, alice, bob):
        for n in range(5):
            message_factory(sender=alice, receiver=bob, body=f"m{n}")
        cursor = selectors.sync_changes(user=bob, since=None)
        since = services.sync_checkpoint_create(user=bob, versions=cursor["versions"])

        services.messages_erase_of_sender(user=alice, batch=2)

        versions = list(Message.objects.filter(sender=alice).values_list("version", flat=True))
        assert len(set(versions)) == 5
        conversation = Conversation.objects.get()
        assert conversation.version == max(versions)
        seen, cursor_id = [], since
        while True:
            page = selectors.sync_changes(user=bob, since=cursor_id, batch=2)
            seen += [m.pk for m in page["messages"]]
            cursor_id = services.sync_checkpoint_create(user=bob, versions=page["versions"])
            if not page["hasMore"]:
                break
        assert sorted(seen) == sorted(
            Message.objects.filter(sender=alice).values_list("pk", flat=True)
        )

    def test_the_erasure_writes_in_bulk(self, alice, bob):
        for n in range(30):
            message_factory(sender=alice, receiver=bob, body=f"m{n}")

        with database_statements() as statements:
            services.messages_erase_of_sender(user=alice, batch=100)

        # One update command carries the 30 messages' changes, one the conversation's version.
        assert statements.count("update") == 2, statements
        assert len(statements) < 12, statements
        assert Message.objects.filter(sender=alice, deleted_at__isnull=True).count() == 0

    def test_attachments_and_unsent_uploads_are_deleted(self, api, alice, bob):
        sent = services.attachment_upload(
            uploader=alice, upload=SimpleUploadedFile("a.pdf", pdf_bytes())
        )
        services.attachment_upload(uploader=alice, upload=SimpleUploadedFile("b.pdf", pdf_bytes()))
        message_factory(sender=alice, receiver=bob, body="see attached")
        Message.objects.filter(sender=alice).update(attachment_ids=[sent.pk])
        Attachment.objects.filter(pk=sent.pk).update(message=Message.objects.get(sender=alice))
        assert gridfs_counts()[0] == 2

        deleted_over_api(api, alice)

        assert not Attachment.objects.exists()
        assert gridfs_counts()[0] == 0
        assert Message.objects.get(sender=alice).attachment_ids == []

    def test_they_leave_their_groups_and_ownership_passes_on(self, api, alice, bob, carol):
        group = services.group_create(creator=alice, name="Trio", member_ids=[bob.pk, carol.pk])

        deleted_over_api(api, alice)

        group.refresh_from_db()
        assert alice.pk not in group.participants
        assert group.owner_id in (bob.pk, carol.pk)
        last = Message.objects.filter(conversation=group).order_by("-seq").first()
        assert last.system["action"] == "left"

    def test_group_lines_name_them_as_deleted_user_not_by_their_old_username(
        self, api, alice, bob, carol
    ):
        group = services.group_create(creator=alice, name="Trio", member_ids=[bob.pk, carol.pk])
        services.group_member_set_role(
            conversation=group, actor=alice, user_id=bob.pk, role="admin"
        )
        group = services.group_member_remove(conversation=group, actor=bob, user_id=carol.pk)
        services.group_members_add(conversation=group, actor=bob, user_ids=[carol.pk])
        services.group_rename(conversation=group, actor=bob, name="Duo and one")
        before = {m.pk: m.version for m in Message.objects.filter(conversation=group)}

        deleted_over_api(api, alice)
        # Their username is free: someone else takes it.
        assert api.post("/api/auth/signup", signup_payload(username="alice"),
                        format="json").status_code == 201  # fmt: skip

        page = api.login_as(bob).get(f"/api/conversations/{group.pk}/messages").json()
        assert [m["message"] for m in page["messages"]] == [
            "Deleted user created the group Trio",
            "Deleted user made bob an admin",
            "bob removed carol",
            "bob added carol",
            "bob renamed the group to Duo and one",
            "Deleted user left",
        ]
        rewritten = Message.objects.filter(conversation=group, pk__in=list(before))
        for line in rewritten:
            if "Deleted user" in line.body:  # a new version: /api/sync hands it out again
                assert line.version > before[line.pk]

    def test_a_deletion_that_stopped_half_way_can_be_run_again(self, alice, bob):
        message_factory(sender=alice, receiver=bob, body="one")

        user_delete(user=alice)
        user_delete(user=User.objects.get(pk=alice.pk))

        assert Message.objects.get(sender=alice).deleted_at is not None
        assert User.objects.get(pk=alice.pk).full_name == DELETED_FULL_NAME


class TestExport:
    def test_is_a_json_download_of_the_users_own_data(self, api, alice, bob, carol):
        alice.email = "alice@example.org"
        alice.save()
        for n in range(7):
            message_factory(sender=alice, receiver=bob, body=f"to bob {n}")
        message_factory(sender=bob, receiver=alice, body="not hers")
        services.group_create(creator=alice, name="Trio", member_ids=[bob.pk, carol.pk])
        message_factory(sender=bob, receiver=carol, body="not her conversation")

        response = api.login_as(alice).get("/api/auth/me/export")

        assert response.status_code == 200
        assert response["Content-Disposition"].startswith('attachment; filename="chat-export-')
        data = json.loads(b"".join(response.streaming_content))
        assert data["profile"]["email"] == "alice@example.org"
        assert data["profile"]["username"] == "alice"
        assert [s["current"] for s in data["sessions"]] == [True]
        assert sorted(c["kind"] for c in data["conversations"]) == ["direct", "group"]
        assert [c["name"] for c in data["conversations"] if c["kind"] == "group"] == ["Trio"]
        assert [m["message"] for m in data["messages"]] == [f"to bob {n}" for n in range(7)]

    def test_messages_are_read_a_page_at_a_time(self, alice, bob):
        for n in range(7):
            message_factory(sender=alice, receiver=bob, body=f"m{n}")

        with database_statements() as statements:
            text = "".join(selectors.account_export_chunks(user=alice, batch=3))

        assert [m["message"] for m in json.loads(text)["messages"]] == [f"m{n}" for n in range(7)]
        assert statements.count("aggregate") + statements.count("find") >= 3  # pages of 3

    def test_exports_are_limited_per_user(self, api, alice, settings):
        settings.CHAT = {**settings.CHAT, "EXPORT_RATE": "2/hour"}
        client = api.login_as(alice)

        answers = [client.get("/api/auth/me/export").status_code for _ in range(3)]

        assert answers == [200, 200, 429]

    def test_needs_a_token(self, api):
        assert api.get("/api/auth/me/export").status_code == 401

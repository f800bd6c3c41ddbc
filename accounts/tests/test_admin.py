"""The user admin on MongoDB: pages, permissions, the deactivate action, createsuperuser."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import call_command

from accounts.models import User
from accounts.tests.factories import PASSWORD, user_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("root", PASSWORD, full_name="Site Admin")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def user_pages(user):
    return [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/?q=ali",
        "/admin/accounts/user/?is_active__exact=1",
        "/admin/accounts/user/?gender__exact=female&q=alice",
        f"/admin/accounts/user/{user.pk}/change/",
        "/admin/accounts/user/add/",
    ]


class TestPages:
    def test_a_superuser_sees_every_page(self, admin_client, alice):
        for url in user_pages(alice):
            response = admin_client.get(url)
            assert response.status_code == 200, url

    def test_the_changelist_lists_users(self, admin_client, alice, bob):
        response = admin_client.get("/admin/accounts/user/")

        assert b"alice" in response.content
        assert b"bob" in response.content

    def test_search_filters_the_changelist(self, admin_client, alice, bob):
        response = admin_client.get("/admin/accounts/user/", {"q": "Liddell"})

        assert response.context["cl"].result_count == 1
        assert list(response.context["cl"].result_list) == [alice]

    def test_list_filter_filters_the_changelist(self, admin_client, alice, bob):
        response = admin_client.get("/admin/accounts/user/", {"gender__exact": "male"})

        assert list(response.context["cl"].result_list) == [bob]

    def test_the_change_form_shows_the_user(self, admin_client, alice):
        response = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/")

        assert response.context["original"] == alice
        assert b"Alice Liddell" in response.content

    def test_the_add_form_creates_a_user(self, admin_client):
        response = admin_client.post(
            "/admin/accounts/user/add/",
            {
                "username": "newbie",
                "full_name": "New Bie",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )

        assert response.status_code == 302, response.content
        user = User.objects.get(username="newbie")
        assert user.check_password(PASSWORD)
        assert user.username_key == "newbie"

    def test_the_add_form_refuses_a_taken_username_in_another_case(self, admin_client, alice):
        response = admin_client.post(
            "/admin/accounts/user/add/",
            {
                "username": "ALICE",
                "full_name": "Other Alice",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )

        assert response.status_code == 200
        assert response.context["adminform"].form.errors["username"]
        assert User.objects.filter(username_key="alice").count() == 1

    def test_anonymous_is_redirected_to_login(self, client, alice):
        for url in user_pages(alice):
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/admin/login/"), url

    def test_a_non_staff_user_gets_the_login_page(self, client, alice):
        client.force_login(alice)

        for url in user_pages(alice):
            response = client.get(url)
            assert response.status_code in {200, 302}, url
            if response.status_code == 302:
                assert response["Location"].startswith("/admin/login/"), url
            else:
                assert response.context["form"].__class__.__name__ == "AdminAuthenticationForm"
                assert "cl" not in response.context
            assert b"Alice Liddell" not in response.content


class TestDeactivateAction:
    def test_deactivates_and_logs(self, admin_client, admin_user, alice, bob):
        response = admin_client.post(
            "/admin/accounts/user/",
            {"action": "deactivate", "_selected_action": [str(alice.pk)]},
            follow=True,
        )

        assert response.status_code == 200
        alice.refresh_from_db()
        bob.refresh_from_db()
        assert alice.is_active is False
        assert bob.is_active is True
        entry = LogEntry.objects.get(object_id=str(alice.pk))
        assert entry.action_flag == CHANGE
        assert entry.user_id == admin_user.pk
        assert "Deactivated" in entry.get_change_message()
        assert b"Deactivated 1 user(s)." in response.content

    @pytest.mark.parametrize(
        ("permissions", "allowed"),
        [(["view_user", "deactivate_user"], True), (["view_user", "change_user"], False)],
    )
    def test_moderators_need_the_deactivate_permission(self, client, alice, permissions, allowed):
        from django.contrib.auth.models import Permission

        moderator = user_factory(username="moderator")
        moderator.is_staff = True
        moderator.save()
        moderator.user_permissions.set(
            Permission.objects.filter(content_type__app_label="accounts", codename__in=permissions)
        )
        client.force_login(moderator)

        client.post(
            "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [str(alice.pk)]}
        )

        alice.refresh_from_db()
        assert alice.is_active is not allowed

    def test_a_deactivated_user_can_no_longer_log_in(self, admin_client, api, alice):
        admin_client.post(
            "/admin/accounts/user/",
            {"action": "deactivate", "_selected_action": [str(alice.pk)]},
        )

        response = api.post(
            "/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json"
        )

        assert response.status_code == 401


class TestCreateSuperuser:
    def test_noinput_with_the_password_in_the_environment(self, monkeypatch):
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

        call_command(
            "createsuperuser", "--noinput", "--username", "Boss", "--full_name", "The Boss"
        )

        user = User.objects.get(username="Boss")
        assert user.is_superuser and user.is_staff and user.is_active
        assert user.username_key == "boss"
        assert user.full_name == "The Boss"
        assert user.check_password(PASSWORD)

    def test_noinput_with_the_whole_account_in_the_environment(self, monkeypatch):
        # As the README documents it: the full name is a required field too.
        monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "Boss")
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
        monkeypatch.setenv("DJANGO_SUPERUSER_FULL_NAME", "The Boss")

        call_command("createsuperuser", "--noinput")

        user = User.objects.get(username="Boss")
        assert user.is_superuser and user.full_name == "The Boss"
        assert user.check_password(PASSWORD)

    def test_the_superuser_can_use_the_admin(self, monkeypatch, client):
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
        call_command("createsuperuser", "--noinput", "--username", "boss", "--full_name", "B")

        assert client.login(username="BOSS", password=PASSWORD)
        assert client.get("/admin/accounts/user/").status_code == 200


def test_user_factory_users_are_not_staff(db):
    user = user_factory()

    assert not user.is_staff
    assert not user.is_superuser


def test_the_change_form_saves(admin_client, alice):
    page = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if name in form.fields and value is not None and name != "password"
    }
    data.update(full_name="Alice Pleasance Liddell", groups=[], user_permissions=[])
    data.update({"last_login_0": "", "last_login_1": ""})

    response = admin_client.post(f"/admin/accounts/user/{alice.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    alice.refresh_from_db()
    assert alice.full_name == "Alice Pleasance Liddell"
    assert alice.username_key == "alice"


class TestLoginSessions:
    def sid(self, user) -> str:
        from accounts.models import LoginSession
        from accounts.tests.factories import tokens_for

        tokens_for(user)
        return LoginSession.objects.filter(user=user, ended_at=None).latest("created_at").sid

    def test_the_change_page_lists_live_sessions_with_a_link_to_end_each(self, admin_client, alice):
        sid = self.sid(alice)

        page = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/")

        assert sid.encode() in page.content
        assert f"/admin/accounts/user/{alice.pk}/sessions/{sid}/end/".encode() in page.content

    def test_ending_asks_first_then_ends_the_session(self, admin_client, admin_user, alice):
        from accounts import tokens
        from accounts.models import LoginSession

        sid = self.sid(alice)
        url = f"/admin/accounts/user/{alice.pk}/sessions/{sid}/end/"

        confirm = admin_client.get(url)
        assert confirm.status_code == 200 and b"Yes, end it" in confirm.content
        assert tokens.session_is_live(user_id=str(alice.pk), session_id=sid)
        done = admin_client.post(url)

        assert done.status_code == 302
        assert LoginSession.objects.get(sid=sid).ended_at is not None
        assert not tokens.session_is_live(user_id=str(alice.pk), session_id=sid)
        assert LogEntry.objects.filter(user_id=admin_user.pk, action_flag=CHANGE).exists()
        page = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/")
        assert url.encode() not in page.content

    def test_a_session_of_another_user_or_unknown_is_not_found(self, admin_client, alice, bob):
        sid = self.sid(bob)

        assert (
            admin_client.post(f"/admin/accounts/user/{alice.pk}/sessions/{sid}/end/").status_code
            == 404
        )
        assert (
            admin_client.post(
                f"/admin/accounts/user/{alice.pk}/sessions/{'0' * 32}/end/"
            ).status_code
            == 404
        )

    def test_staff_without_the_permission_cannot_end_sessions(self, client, alice):
        from accounts import tokens

        sid = self.sid(alice)
        staff = user_factory(username="helper")
        staff.is_staff = True
        staff.save()
        client.force_login(staff)

        response = client.post(f"/admin/accounts/user/{alice.pk}/sessions/{sid}/end/")

        assert response.status_code == 403
        assert tokens.session_is_live(user_id=str(alice.pk), session_id=sid)


def _moderator(client, *codenames):
    from django.contrib.auth.models import Permission

    moderator = user_factory(username="moderator")
    moderator.is_staff = True
    moderator.save()
    moderator.user_permissions.set(
        Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
    )
    client.force_login(moderator)
    return moderator


class TestDelete:
    """The admin deletes an account as `DELETE /api/auth/me` does (`services.user_delete`)."""

    def assert_deleted_as_the_service_does(self, user, message) -> None:
        from accounts import tokens
        from accounts.services import DELETED_FULL_NAME
        from messaging.models import Message

        gone = User.objects.get(pk=user.pk)  # the row stays, anonymised
        assert (gone.full_name, gone.is_active) == (DELETED_FULL_NAME, False)
        kept = Message.objects.get(pk=message.pk)  # no cascade: a tombstone in the history
        assert (kept.body, kept.deleted_at is not None) == ("", True)
        assert not tokens.session_is_live(user_id=str(user.pk), session_id=self.sid)

    @pytest.fixture
    def message(self, alice, bob):
        from rest_framework_simplejwt.tokens import RefreshToken

        from accounts.tests.factories import tokens_for
        from messaging.tests.factories import message_factory

        self.sid = RefreshToken(tokens_for(alice)["refresh"])["sid"]
        return message_factory(sender=alice, receiver=bob, body="hello bob")

    def test_the_delete_page_goes_through_the_service(self, admin_client, alice, message):
        confirm = admin_client.get(f"/admin/accounts/user/{alice.pk}/delete/")
        assert confirm.status_code == 200
        assert b"hello bob" not in confirm.content  # nothing cascades

        done = admin_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})

        assert done.status_code == 302
        self.assert_deleted_as_the_service_does(alice, message)

    def test_the_bulk_action_goes_through_the_service(self, admin_client, alice, bob, message):
        done = admin_client.post(
            "/admin/accounts/user/",
            {"action": "delete_selected", "_selected_action": [str(alice.pk)], "post": "yes"},
        )

        assert done.status_code == 302
        self.assert_deleted_as_the_service_does(alice, message)
        assert User.objects.get(pk=bob.pk).is_active

    def test_only_a_superuser_deletes_a_superuser(self, client, admin_user):
        _moderator(client, "view_user", "delete_user")

        response = client.post(f"/admin/accounts/user/{admin_user.pk}/delete/", {"post": "yes"})

        assert response.status_code == 403
        assert User.objects.get(pk=admin_user.pk).is_active


class TestAdminPasswordChange:
    def test_a_new_password_ends_every_login_session(self, admin_client, api, alice):
        from rest_framework_simplejwt.tokens import RefreshToken

        from accounts import tokens
        from accounts.tests.factories import tokens_for

        sids = [RefreshToken(tokens_for(alice)["refresh"])["sid"] for _ in range(2)]
        new = "a-brand-new-password-99"

        response = admin_client.post(
            f"/admin/accounts/user/{alice.pk}/password/",
            {"password1": new, "password2": new, "set_usable_password": "true"},
        )

        assert response.status_code == 302, response.content
        for sid in sids:
            assert not tokens.session_is_live(user_id=str(alice.pk), session_id=sid)
        login = api.post("/api/auth/login", {"username": "alice", "password": new}, format="json")
        assert login.status_code == 200


def test_only_a_superuser_ends_a_superusers_session(client, admin_user):
    from accounts import tokens
    from accounts.models import LoginSession
    from accounts.tests.factories import tokens_for

    tokens_for(admin_user)
    sid = LoginSession.objects.get(user=admin_user).sid
    _moderator(client, "view_user", "change_user", "deactivate_user")

    response = client.post(f"/admin/accounts/user/{admin_user.pk}/sessions/{sid}/end/")

    assert response.status_code == 403
    assert tokens.session_is_live(user_id=str(admin_user.pk), session_id=sid)

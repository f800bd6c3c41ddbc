"""Account services and the model rules behind them."""

import pytest
from django.core.exceptions import ValidationError

from accounts import services, tokens
from accounts.models import RevokedToken, User
from accounts.signals import user_deactivated
from accounts.tests.factories import PASSWORD, tokens_for, user_factory

pytestmark = pytest.mark.django_db


class TestUserCreate:
    def test_stores_a_lowercased_key_and_a_hashed_password(self):
        user = services.user_create(username="Zoe_1", full_name="Zoe", password=PASSWORD)

        user = User.objects.get(pk=user.pk)
        assert user.username == "Zoe_1"
        assert user.username_key == "zoe_1"
        assert user.check_password(PASSWORD)
        assert user.is_active and not user.is_staff

    def test_refuses_a_taken_username_in_another_case(self, alice):
        with pytest.raises(services.UsernameTaken) as caught:
            services.user_create(username="ALICE", full_name="A", password=PASSWORD)

        assert caught.value.fields == {"username": ["That username is taken."]}
        assert User.objects.filter(username_key="alice").count() == 1

    def test_the_unique_index_decides_a_race(self, alice):
        twin = User(username="Alice", full_name="Twin")
        twin.set_password(PASSWORD)

        with pytest.raises(Exception) as caught:
            twin.save()

        assert type(caught.value).__name__ in {"IntegrityError", "DuplicateKeyError"}
        assert User.objects.filter(username_key="alice").count() == 1


class TestValidateUnique:
    def test_finds_a_clash_in_another_case(self, alice):
        with pytest.raises(ValidationError) as caught:
            User(username="ALICE", full_name="x").validate_unique()

        assert "username" in caught.value.message_dict

    def test_skips_a_username_that_already_failed(self, alice):
        User(username=None, full_name="x").validate_unique(exclude={"username"})

    def test_the_user_itself_is_no_clash(self, alice):
        alice.validate_unique()


class TestAuthenticate:
    def test_case_insensitive(self, alice):
        assert services.user_authenticate(request=None, username="AlIcE", password=PASSWORD) == (
            alice
        )

    @pytest.mark.parametrize(("username", "password"), [("alice", "nope"), ("nobody", PASSWORD)])
    def test_one_error_for_both_failures(self, alice, username, password):
        with pytest.raises(services.InvalidCredentials) as caught:
            services.user_authenticate(request=None, username=username, password=password)

        assert caught.value.as_dict() == {
            "error": "Invalid username or password",
            "code": "invalid_credentials",
        }


class TestTokens:
    def test_refresh_revokes_the_old_token_without_ending_the_session(self, alice):
        pair = tokens_for(alice)
        session = tokens.parse_refresh(pair["refresh"])["sid"]

        services.tokens_refresh(refresh=pair["refresh"])

        revoked = RevokedToken.objects.get(session_id=session)
        assert revoked.logout is False
        assert revoked.user_id == alice.pk
        assert tokens.ended_sessions([session]) == set()

    def test_revoke_twice_is_refused_the_second_time(self, alice):
        pair = tokens_for(alice)
        services.tokens_revoke(refresh=pair["refresh"])

        with pytest.raises(services.InvalidRefreshToken):
            services.tokens_revoke(refresh=pair["refresh"])

    def test_a_session_is_live_until_logout_or_deactivation(self, alice):
        pair = tokens_for(alice)
        session = tokens.parse_refresh(pair["refresh"])["sid"]
        user_id = str(alice.pk)
        assert tokens.session_is_live(user_id=user_id, session_id=session) is True

        services.tokens_refresh(refresh=pair["refresh"])  # a refresh keeps the session
        assert tokens.session_is_live(user_id=user_id, session_id=session) is True

        other = tokens.parse_refresh(tokens_for(alice)["refresh"])["sid"]
        services.tokens_revoke(refresh=tokens.issue_for(alice, session_id=session)["refresh"])
        assert tokens.session_is_live(user_id=user_id, session_id=session) is False
        assert tokens.session_is_live(user_id=user_id, session_id=other) is True

        services.user_deactivate(user=alice)
        assert tokens.session_is_live(user_id=user_id, session_id=other) is False

    @pytest.mark.parametrize("user_id", ["", "not-an-id", "0" * 24, "0" * 25])
    def test_no_session_is_live_for_an_unknown_user(self, alice, user_id):
        assert tokens.session_is_live(user_id=user_id, session_id="") is False

    def test_refresh_of_a_deactivated_user_is_refused(self, alice):
        pair = tokens_for(alice)
        services.user_deactivate(user=alice)

        with pytest.raises(services.InvalidRefreshToken):
            services.tokens_refresh(refresh=pair["refresh"])


class TestUserDeactivate:
    def test_deactivates_and_announces(self, alice):
        received = []

        def receiver(sender, user, **kwargs):
            received.append(user)

        user_deactivated.connect(receiver, dispatch_uid="test-deactivate")
        try:
            services.user_deactivate(user=alice)
        finally:
            user_deactivated.disconnect(dispatch_uid="test-deactivate")

        alice.refresh_from_db()
        assert alice.is_active is False
        assert received == [alice]

    def test_other_users_stay_active(self, alice, bob):
        services.user_deactivate(user=alice)

        bob.refresh_from_db()
        assert bob.is_active is True


def test_factory_usernames_are_unique(db):
    assert user_factory().username != user_factory().username

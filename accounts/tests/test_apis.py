"""The accounts REST API: every route's success answer."""

import pytest

from accounts.services import user_deactivate
from accounts.tests.factories import (
    PASSWORD,
    assert_error,
    bearer,
    signup_payload,
    tokens_for,
    user_factory,
)

pytestmark = pytest.mark.django_db

USER_FIELDS = {"_id", "fullName", "username", "gender", "profilePic"}


def auth_header(access: str) -> dict:
    return {"HTTP_AUTHORIZATION": bearer(access)}


class TestSignup:
    def test_creates_the_user_and_answers_it_with_a_token_pair(self, api):
        response = api.post("/api/auth/signup", signup_payload(), format="json")

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == USER_FIELDS | {"access", "refresh"}
        assert body["fullName"] == "Dana Scully"
        assert body["username"] == "dana"
        assert body["gender"] == "female"
        assert body["profilePic"].startswith("data:image/svg+xml;base64,")
        assert len(body["_id"]) == 24  # an ObjectId

    def test_the_new_access_token_works(self, api):
        body = api.post("/api/auth/signup", signup_payload(), format="json").json()

        me = api.get("/api/auth/me", **auth_header(body["access"]))

        assert me.status_code == 200
        assert me.json()["_id"] == body["_id"]

    def test_gender_is_optional(self, api):
        payload = signup_payload()
        del payload["gender"]

        response = api.post("/api/auth/signup", payload, format="json")

        assert response.status_code == 201, response.content
        assert response.json()["gender"] == ""

    def test_the_stored_password_is_hashed(self, api):
        from accounts.models import User

        api.post("/api/auth/signup", signup_payload(), format="json")

        user = User.objects.get(username="dana")
        assert user.password != PASSWORD
        assert user.check_password(PASSWORD)


class TestLogin:
    def test_answers_the_user_and_a_token_pair(self, api, alice):
        response = api.post(
            "/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json"
        )

        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == USER_FIELDS | {"access", "refresh"}
        assert body["_id"] == str(alice.pk)
        assert api.get("/api/auth/me", **auth_header(body["access"])).status_code == 200

    def test_username_is_case_insensitive(self, api, alice):
        response = api.post(
            "/api/auth/login", {"username": "ALICE", "password": PASSWORD}, format="json"
        )

        assert response.status_code == 200, response.content
        assert response.json()["_id"] == str(alice.pk)
        assert response.json()["username"] == "alice"

    def test_mixed_case_signup_logs_in_with_any_case(self, api):
        user_factory(username="MixedCase")

        response = api.post(
            "/api/auth/login", {"username": "mixedcase", "password": PASSWORD}, format="json"
        )

        assert response.status_code == 200, response.content
        assert response.json()["username"] == "MixedCase"


class TestRefresh:
    def test_rotates_the_pair(self, api, alice):
        old = tokens_for(alice)

        response = api.post("/api/auth/refresh", {"refresh": old["refresh"]}, format="json")

        assert response.status_code == 200, response.content
        new = response.json()
        assert set(new) == {"access", "refresh"}
        assert new["refresh"] != old["refresh"]
        assert new["access"] != old["access"]
        assert api.get("/api/auth/me", **auth_header(new["access"])).status_code == 200

    def test_the_old_refresh_token_is_refused_afterwards(self, api, alice):
        old = tokens_for(alice)
        api.post("/api/auth/refresh", {"refresh": old["refresh"]}, format="json")

        response = api.post("/api/auth/refresh", {"refresh": old["refresh"]}, format="json")

        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"

    def test_the_new_refresh_token_can_be_rotated_again(self, api, alice):
        first = tokens_for(alice)
        second = api.post("/api/auth/refresh", {"refresh": first["refresh"]}, format="json")

        third = api.post("/api/auth/refresh", {"refresh": second.json()["refresh"]}, format="json")

        assert third.status_code == 200, third.content

    def test_rotation_keeps_the_login_session(self, api, alice):
        from accounts.tokens import parse_refresh

        old = tokens_for(alice)
        session = parse_refresh(old["refresh"])["sid"]

        new = api.post("/api/auth/refresh", {"refresh": old["refresh"]}, format="json").json()

        assert parse_refresh(new["refresh"])["sid"] == session


class TestLogout:
    def test_revokes_the_refresh_token(self, alice_api, alice):
        pair = tokens_for(alice)

        response = alice_api.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json")

        assert response.status_code == 200, response.content
        assert response.json() == {"message": "Logged out successfully"}
        again = alice_api.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
        assert again.status_code == 401
        assert again.json()["code"] == "token_invalid"

    def test_needs_no_access_token(self, api, alice):
        pair = tokens_for(alice)

        response = api.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json")

        assert response.status_code == 200, response.content
        refused = api.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
        assert refused.status_code == 401

    def test_ends_the_login_session(self, api, alice):
        from accounts.tokens import ended_sessions, parse_refresh

        pair = tokens_for(alice)
        session = parse_refresh(pair["refresh"])["sid"]
        assert ended_sessions([session]) == set()

        api.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json")

        assert ended_sessions([session]) == {session}

    def test_leaves_other_sessions_alone(self, api, alice):
        phone, laptop = tokens_for(alice), tokens_for(alice)

        api.post("/api/auth/logout", {"refresh": phone["refresh"]}, format="json")

        response = api.post("/api/auth/refresh", {"refresh": laptop["refresh"]}, format="json")
        assert response.status_code == 200, response.content

    def test_a_garbage_refresh_token_is_refused(self, api):
        response = api.post("/api/auth/logout", {"refresh": "not-a-token"}, format="json")

        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"

    def test_ends_the_browser_session(self, client, alice):
        client.force_login(alice)
        assert client.get("/api/auth/me").status_code == 200

        response = client.post("/api/auth/logout", {}, content_type="application/json")

        assert response.status_code == 200, response.content
        assert client.get("/api/auth/me").status_code in {401, 403}


class TestMe:
    def test_answers_the_caller(self, alice_api, alice):
        response = alice_api.get("/api/auth/me")

        assert response.status_code == 200
        assert response.json() == {
            "_id": str(alice.pk),
            "fullName": "Alice Liddell",
            "username": "alice",
            "gender": "female",
            "profilePic": response.json()["profilePic"],
            "email": None,
        }
        assert response.json()["profilePic"].startswith("data:image/svg+xml;base64,")

    def test_session_authentication_works_too(self, client, alice):
        client.force_login(alice)

        response = client.get("/api/auth/me")

        assert response.status_code == 200
        assert response.json()["username"] == "alice"


class TestUserList:
    def test_lists_active_users_except_the_caller(self, alice_api, alice, bob):
        carol = user_factory(username="carol", full_name="Carol Danvers")

        response = alice_api.get("/api/users")

        assert response.status_code == 200
        body = response.json()
        assert [u["username"] for u in body] == ["bob", "carol"]
        assert set(body[0]) == USER_FIELDS
        assert body[1]["_id"] == str(carol.pk)

    def test_deactivated_users_are_absent(self, alice_api, alice, bob):
        carol = user_factory(username="carol")
        user_deactivate(user=carol)

        response = alice_api.get("/api/users")

        assert [u["username"] for u in response.json()] == ["bob"]

    def test_search_matches_username_or_full_name_case_insensitively(self, alice_api, alice, bob):
        user_factory(username="carol", full_name="Carol Danvers")
        user_factory(username="dave", full_name="Dave Bowman")

        by_username = alice_api.get("/api/users", {"search": "CAR"})
        by_full_name = alice_api.get("/api/users", {"search": "bowman"})
        nothing = alice_api.get("/api/users", {"search": "zzz"})

        assert [u["username"] for u in by_username.json()] == ["carol"]
        assert [u["username"] for u in by_full_name.json()] == ["dave"]
        assert nothing.json() == []

    def test_search_treats_regex_characters_literally(self, alice_api, alice, bob):
        response = alice_api.get("/api/users", {"search": ".*"})

        assert response.status_code == 200
        assert response.json() == []

    def test_search_never_finds_the_caller(self, alice_api, alice, bob):
        response = alice_api.get("/api/users", {"search": "alice"})

        assert response.json() == []

    def test_limit(self, alice_api, alice, bob):
        user_factory(username="carol")

        response = alice_api.get("/api/users", {"limit": "1"})

        assert [u["username"] for u in response.json()] == ["bob"]

    @pytest.mark.parametrize("limit", ["0", "-1", "abc", "1001", "\uff15", "\u00b2", "\u0661"])
    def test_a_bad_limit_is_a_validation_error(self, alice_api, limit):
        response = alice_api.get("/api/users", {"limit": limit})

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert "limit" in response.json()["fields"]


class TestLogoutWithAStaleAccessToken:
    """Clients send their access token on every call, the logout included; an expired one must
    not keep the refresh token alive."""

    def test_an_expired_access_token_does_not_stop_the_logout(self, api, alice):
        from datetime import timedelta

        from rest_framework_simplejwt.tokens import AccessToken

        pair = tokens_for(alice)
        expired = AccessToken.for_user(alice)
        expired.set_exp(lifetime=-timedelta(seconds=1))

        response = api.post(
            "/api/auth/logout",
            {"refresh": pair["refresh"]},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {expired}",
        )

        assert response.status_code == 200, response.content
        refused = api.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
        assert refused.status_code == 401

    def test_a_garbage_access_token_does_not_stop_the_logout(self, api, alice):
        pair = tokens_for(alice)

        response = api.post(
            "/api/auth/logout",
            {"refresh": pair["refresh"]},
            format="json",
            HTTP_AUTHORIZATION="Bearer garbage",
        )

        assert response.status_code == 200, response.content


# --- What the OpenAPI schema says, the server does (chatsite/tests/test_contract.py) ----------


@pytest.mark.parametrize("username", [" alice", "alice ", "alice\n"])
def test_signup_refuses_a_username_with_whitespace(api, username):
    password = "a-long-test-password-42"
    response = api.post(
        "/api/auth/signup",
        {"fullName": "A", "username": username, "password": password, "confirmPassword": password},
        format="json",
    )
    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("query", [{"limit": "²"}, {"limit": ""}, {"search": "x" * 101}])
def test_the_users_list_refuses_what_the_schema_refuses(alice_api, query):
    assert_error(alice_api.get("/api/users", query), 400, "validation_error")

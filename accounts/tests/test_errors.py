"""The accounts API's failures: each answers the documented shape and a stable code."""

from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import user_deactivate
from accounts.tests.factories import PASSWORD, signup_payload, tokens_for, user_factory

pytestmark = pytest.mark.django_db

INVALID_CREDENTIALS = {"error": "Invalid username or password", "code": "invalid_credentials"}


def login(api, username, password=PASSWORD):
    return api.post("/api/auth/login", {"username": username, "password": password}, format="json")


def _both(password: str) -> dict:
    return {"password": password, "confirmPassword": password}


class TestSignupErrors:
    @pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
    def test_a_taken_username_in_any_case(self, api, alice, username):
        response = api.post("/api/auth/signup", signup_payload(username=username), format="json")

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "username_taken"
        assert body["fields"]["username"] == ["That username is taken."]

    def test_passwords_that_do_not_match(self, api):
        payload = signup_payload(confirmPassword=PASSWORD + "x")

        response = api.post("/api/auth/signup", payload, format="json")

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "validation_error"
        assert list(body["fields"]) == ["confirmPassword"]

    @pytest.mark.parametrize("password", ["short", "password123", "12345678901", "dscully42!"])
    def test_a_weak_password(self, api, password):
        payload = signup_payload(username="dscully42", password=password, confirmPassword=password)

        response = api.post("/api/auth/signup", payload, format="json")

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "validation_error"
        assert body["fields"]["password"]

    @pytest.mark.parametrize("username", ["ab", "has space", "a" * 31, "émile", "semi;colon"])
    def test_an_invalid_username(self, api, username):
        response = api.post("/api/auth/signup", signup_payload(username=username), format="json")

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert "username" in response.json()["fields"]

    @pytest.mark.parametrize("field", ["fullName", "username", "password", "confirmPassword"])
    def test_a_missing_field(self, api, field):
        payload = signup_payload()
        del payload[field]

        response = api.post("/api/auth/signup", payload, format="json")

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert field in response.json()["fields"]

    def test_an_unknown_gender(self, api):
        response = api.post("/api/auth/signup", signup_payload(gender="robot"), format="json")

        assert response.status_code == 400
        assert "gender" in response.json()["fields"]

    def test_nothing_is_created_on_failure(self, api):
        from accounts.models import User

        api.post("/api/auth/signup", signup_payload(confirmPassword="nope"), format="json")

        assert not User.objects.filter(username_key="dana").exists()

    @pytest.mark.parametrize(
        ("overrides", "error"),
        [
            (_both("short"), "Password must be at least 8 characters."),
            ({"confirmPassword": PASSWORD + "x"}, "Passwords don't match."),
            ({"username": "alice"}, "That username is taken."),
            ({"fullName": None}, "Full name is required."),
            ({"fullName": "  "}, "Full name is required."),
            ({"fullName": "x" * 101}, "Full name must be at most 100 characters."),
            ({"fullName": {"$ne": None}}, "Full name must be a string."),
            ({"username": "ab"}, "Usernames have 3 to 30 letters, digits, dots, dashes or "
                                 "underscores."),
            (_both("password123"), "Password is too common."),
            (_both("83920174652"), "Password is entirely numeric."),
            ({"username": "dscully42", **_both("dscully42!")},
             "Password is too similar to the username."),
            ({"gender": "robot"}, 'Gender: "robot" is not a valid choice.'),
        ],
    )  # fmt: skip
    def test_error_names_the_first_problem_in_words(self, api, alice, overrides, error):
        """The reference design's front end shows `error` alone (in a toast): it says what is
        wrong with which field; `code` and `fields` stay for programs."""
        response = api.post("/api/auth/signup", signup_payload(**overrides), format="json")

        assert response.status_code == 400
        body = response.json()
        assert body["error"] == error
        assert body["code"] in {"validation_error", "username_taken"}
        assert body["fields"]

    def test_the_first_field_in_form_order_is_named(self, api):
        response = api.post("/api/auth/signup", {}, format="json")

        body = response.json()
        assert body["error"] == "Full name is required."
        assert set(body["fields"]) == {"fullName", "username", "password", "confirmPassword"}
        assert body["fields"]["username"] == ["This field is required."]


class TestLoginErrors:
    def test_wrong_password_and_unknown_user_answer_the_same(self, api, alice):
        wrong_password = login(api, "alice", "not-the-password")
        unknown_user = login(api, "nobody")

        assert wrong_password.status_code == unknown_user.status_code == 401
        assert wrong_password.json() == unknown_user.json() == INVALID_CREDENTIALS

    def test_a_deactivated_user_cannot_log_in(self, api, alice):
        user_deactivate(user=alice)

        response = login(api, "alice")

        assert response.status_code == 401
        assert response.json() == INVALID_CREDENTIALS

    def test_an_empty_password(self, api, alice):
        response = login(api, "alice", "")

        assert response.status_code == 400
        assert "password" in response.json()["fields"]


class TestMalformedInput:
    @pytest.mark.parametrize(
        "url", ["/api/auth/signup", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout"]
    )
    def test_malformed_json(self, api, url):
        response = api.post(url, data='{"username": ', content_type="application/json")

        assert response.status_code == 400
        assert response.json()["code"] == "malformed_json"
        assert isinstance(response.json()["error"], str)

    @pytest.mark.parametrize("value", [{"$ne": None}, {"$gt": ""}, 42, 4.2, True, ["alice"], None])
    def test_login_with_wrong_json_types(self, api, alice, value):
        response = api.post(
            "/api/auth/login", {"username": value, "password": value}, format="json"
        )

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "validation_error"
        assert set(body["fields"]) == {"username", "password"}

    @pytest.mark.parametrize("value", [{"$ne": None}, 12345678, ["dana"], None, False])
    def test_signup_with_wrong_json_types(self, api, value):
        payload = signup_payload(username=value, fullName=value)

        response = api.post("/api/auth/signup", payload, format="json")

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert {"username", "fullName"} <= set(response.json()["fields"])

    @pytest.mark.parametrize("url", ["/api/auth/refresh", "/api/auth/logout"])
    @pytest.mark.parametrize("value", [{"$ne": None}, 1, ["x"]])
    def test_refresh_token_of_the_wrong_type(self, api, url, value):
        response = api.post(url, {"refresh": value}, format="json")

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert "refresh" in response.json()["fields"]

    @pytest.mark.parametrize("body", ["[]", '"alice"', "42", "null"])
    def test_a_body_that_is_not_an_object(self, api, body):
        response = api.post("/api/auth/login", data=body, content_type="application/json")

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"

    def test_a_nul_character(self, api, alice):
        response = login(api, "alice\x00", PASSWORD)

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"

    def test_a_form_body_is_refused(self, api):
        response = api.post("/api/auth/login", {"username": "a", "password": "b"})

        assert response.status_code == 415
        assert response.json()["code"] == "unsupported_media_type"


class TestAccessTokenErrors:
    def test_no_token(self, api):
        response = api.get("/api/auth/me")

        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer garbage",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiMSJ9.c2lnbmF0dXJl",
            "Bearer ",
            "Bearer a b",
        ],
    )
    def test_a_garbage_token(self, api, header):
        response = api.get("/api/auth/me", HTTP_AUTHORIZATION=header)

        assert response.status_code == 401
        assert response.json()["code"] in {"token_invalid", "not_authenticated"}

    def test_a_garbage_token_is_token_invalid(self, api):
        response = api.get("/api/auth/me", HTTP_AUTHORIZATION="Bearer garbage")

        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"

    def test_a_token_signed_with_another_key(self, api, alice):
        import jwt

        forged = jwt.encode(
            {"token_type": "access", "user_id": str(alice.pk), "jti": "x", "exp": 9999999999},
            "not-the-secret-key-but-long-enough-for-hs256",
            algorithm="HS256",
        )

        response = api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {forged}")

        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"

    def test_an_expired_access_token(self, api, alice):
        token = AccessToken.for_user(alice)
        token.set_exp(lifetime=-timedelta(seconds=1))

        response = api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")

        assert response.status_code == 401
        assert response.json()["code"] == "token_expired"

    def test_a_refresh_token_used_as_access_token(self, api, alice):
        refresh = tokens_for(alice)["refresh"]

        response = api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {refresh}")

        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"

    def test_an_access_token_used_as_refresh_token(self, api, alice):
        access = tokens_for(alice)["access"]

        response = api.post("/api/auth/refresh", {"refresh": access}, format="json")

        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"

    def test_a_deactivated_users_access_token(self, api, alice):
        access = tokens_for(alice)["access"]
        user_deactivate(user=alice)

        response = api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")

        assert response.status_code == 401
        assert response.json()["code"] == "user_inactive"

    def test_a_deactivated_users_refresh_token(self, api, alice):
        refresh = tokens_for(alice)["refresh"]
        user_deactivate(user=alice)

        response = api.post("/api/auth/refresh", {"refresh": refresh}, format="json")

        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"

    def test_a_deleted_users_access_token(self, api):
        ghost = user_factory(username="ghost")
        access = tokens_for(ghost)["access"]
        ghost.delete()

        response = api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")

        assert response.status_code == 401
        assert response.json()["code"] == "user_inactive"

    def test_the_user_list_needs_a_token(self, api):
        response = api.get("/api/users")

        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


class TestOtherErrors:
    def test_wrong_method(self, api):
        response = api.get("/api/auth/login")

        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"

    def test_unknown_api_url_answers_json(self, api):
        response = api.get("/api/no-such-thing")

        assert response.status_code == 404
        assert response.json() == {"error": "Not found.", "code": "not_found"}


class TestLoginRateLimit:
    """Windows are fixed; a day long here, so one rarely ends in the middle of a test."""

    def test_too_many_attempts(self, api, alice, settings):
        settings.CHAT = {**settings.CHAT, "LOGIN_RATE": "3/day"}
        for _ in range(3):
            assert login(api, "alice", "wrong-password").status_code == 401

        response = login(api, "alice")

        assert response.status_code == 429
        body = response.json()
        assert body["code"] == "rate_limited"
        assert isinstance(body["error"], str)
        retry_after = int(response["Retry-After"])
        assert 1 <= retry_after <= 24 * 3600
        assert body["retryAfter"] == retry_after

    def test_successful_logins_count_too(self, api, alice, settings):
        settings.CHAT = {**settings.CHAT, "LOGIN_RATE": "2/day"}
        assert login(api, "alice").status_code == 200
        assert login(api, "alice").status_code == 200

        assert login(api, "alice").status_code == 429

    def test_the_limit_is_per_client_address(self, api, alice, settings):
        settings.CHAT = {**settings.CHAT, "LOGIN_RATE": "1/day"}
        assert login(api, "alice").status_code == 200
        assert login(api, "alice").status_code == 429

        other = api.post(
            "/api/auth/login",
            {"username": "alice", "password": PASSWORD},
            format="json",
            REMOTE_ADDR="10.0.0.2",
        )

        assert other.status_code == 200


def test_a_body_over_the_size_limit(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    payload = {"username": "a" * 2000, "password": PASSWORD}

    response = api.post("/api/auth/login", payload, format="json")

    assert response.status_code == 413
    assert response.json() == {
        "error": "The request body is larger than 1024 bytes.",
        "code": "request_too_large",
    }

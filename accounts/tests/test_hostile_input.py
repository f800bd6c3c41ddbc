"""What an attacker can send to the accounts API: forged and misused tokens, oversized and
malformed bodies, fields the API does not take, and markup in the fields it does. Each gets a
stable error code and the right status, never a 500, and nothing is created half-way.

(The ordinary validation errors are in test_errors.py; this file covers the hostile cases.)"""

import base64
import json

import pytest
from django.contrib.auth.hashers import check_password

from accounts.models import RevokedToken, User
from accounts.tests.factories import (
    FORGED_TOKEN_KINDS,
    PASSWORD,
    assert_error,
    bearer,
    forged_token,
    signup_payload,
    tokens_for,
    user_factory,
)

pytestmark = pytest.mark.django_db


ACCESS_CODES = {"missing": "not_authenticated", "expired": "token_expired"}


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FORGED_TOKEN_KINDS)
def test_a_forged_or_misused_access_token_is_refused_everywhere(api, alice, bob, kind):
    token = forged_token(kind, user=alice, other=bob)
    if token is not None:
        api.credentials(HTTP_AUTHORIZATION=bearer(token))
    code = ACCESS_CODES.get(kind, "token_invalid")

    for response in (api.get("/api/auth/me"), api.get("/api/users")):
        body = assert_error(response, 401, code)
        # The answer says why and nothing else: no user, no list.
        assert set(body) == {"error", "code"}
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("kind", [k for k in FORGED_TOKEN_KINDS if k != "missing"])
def test_a_forged_or_misused_refresh_token_gets_no_new_tokens(api, alice, bob, kind):
    token = forged_token(kind, user=alice, other=bob, of="refresh")

    response = api.post("/api/auth/refresh", {"refresh": token}, format="json")

    body = assert_error(response, 401, "token_invalid")
    assert "access" not in body and "refresh" not in body
    # Logging out with it revokes nothing either: the token is the proof of ownership.
    response = api.post("/api/auth/logout", {"refresh": token}, format="json")
    assert_error(response, 401, "token_invalid")
    assert not RevokedToken.objects.exists()


def test_the_alg_none_token_is_refused_whatever_the_header_spelling(api, alice, bob):
    token = forged_token("alg_none", user=alice, other=bob)
    payload = token.split(".")[1]
    for alg in ["none", "None", "NONE", "nOnE"]:
        header = json.dumps({"alg": alg, "typ": "JWT"}).encode()
        forged = f"{base64.urlsafe_b64encode(header).rstrip(b'=').decode()}.{payload}."
        response = api.get("/api/auth/me", HTTP_AUTHORIZATION=bearer(forged))
        assert_error(response, 401, "token_invalid")


# --- payloads -------------------------------------------------------------------------------


def test_a_100_kb_username_is_a_validation_error(api):
    huge = "a" * 100_000

    response = api.post("/api/auth/signup", signup_payload(username=huge), format="json")
    body = assert_error(response, 400, "validation_error")
    assert "username" in body["fields"]
    response = api.post("/api/auth/login", {"username": huge, "password": "x"}, format="json")
    assert_error(response, 400, "validation_error")
    assert not User.objects.exists()


def test_a_1_mb_body_is_413(api):
    response = api.post("/api/auth/signup", signup_payload(fullName="x" * 1_000_000), format="json")

    assert_error(response, 413, "request_too_large")
    assert not User.objects.exists()


@pytest.mark.parametrize("url", ["/api/auth/signup", "/api/auth/login", "/api/auth/refresh"])
def test_deeply_nested_json_is_malformed_json(api, url):
    """Deeper than Python's recursion limit: DRF's parser lets the RecursionError through."""
    raw = b'{"username": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"

    response = api.post(url, raw, content_type="application/json")

    assert_error(response, 400, "malformed_json")
    assert not User.objects.exists()


@pytest.mark.parametrize("field", ["fullName", "password", "username"])
def test_an_unpaired_surrogate_is_malformed_json(api, field):
    """`"\\ud800"` is valid JSON syntax but no UTF-8 text: it would fail at the database or in
    the password hasher."""
    body = json.dumps(signup_payload(**{field: "abc\ud800def"}))  # written as the escape \ud800

    response = api.post("/api/auth/signup", body, content_type="application/json")

    assert_error(response, 400, "malformed_json")
    assert not User.objects.exists()


def test_an_unpaired_surrogate_in_a_login_password(api, alice):
    body = '{"username": "alice", "password": "x\\udfff"}'

    response = api.post("/api/auth/login", body, content_type="application/json")

    assert_error(response, 400, "malformed_json")


def test_a_surrogate_pair_is_ordinary_text(api):
    response = api.post(
        "/api/auth/signup", signup_payload(fullName="Dana \U0001f600"), format="json"
    )

    assert response.status_code == 201, response.content
    assert User.objects.get().full_name == "Dana \U0001f600"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"username": "\xff\xfe", "password": "x"}',  # not UTF-8
        b'{"username": "alice", "password": "x"',  # cut short
        b'{"username": "alice", "password": NaN}',
        b"\x00\x00\x00\x00",
    ],
)
def test_bytes_that_are_not_json_text(api, alice, raw):
    response = api.post("/api/auth/login", raw, content_type="application/json")

    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("field", ["fullName", "username", "password", "confirmPassword"])
def test_a_nul_character_in_a_signup_field(api, field):
    value = "Dana\x00Scully" if field == "fullName" else "dana\x00"
    changes = {field: value}
    if field in {"password", "confirmPassword"}:
        changes = {"password": value, "confirmPassword": value}

    response = api.post("/api/auth/signup", signup_payload(**changes), format="json")

    assert_error(response, 400, "validation_error")
    assert not User.objects.exists()


WRONG_VALUES = [{"$gt": ""}, {"$ne": None}, {"$regex": ".*"}, ["a"], 1, 1.5, True, None]


@pytest.mark.parametrize("field", ["fullName", "username", "password", "gender"])
def test_wrong_types_and_operators_in_every_signup_field(api, field):
    for value in WRONG_VALUES:
        changes = {field: value}
        if field == "password":
            changes["confirmPassword"] = value

        response = api.post("/api/auth/signup", signup_payload(**changes), format="json")

        body = assert_error(response, 400, "validation_error")
        assert field in body["fields"], value
    assert not User.objects.exists()


def test_operators_as_a_login_password_do_not_log_in(api, alice):
    for value in WRONG_VALUES:
        response = api.post(
            "/api/auth/login", {"username": "alice", "password": value}, format="json"
        )

        assert_error(response, 400, "validation_error")
        assert "access" not in response.json()


def test_unknown_fields_cannot_make_a_staff_account(api, alice):
    response = api.post(
        "/api/auth/signup",
        signup_payload(
            is_staff=True,
            is_superuser=True,
            isStaff=True,
            is_active=False,
            _id=str(alice.pk),
            id=str(alice.pk),
            username_key="alice",
            password_hash="x",
            groups=["moderators"],
        ),
        format="json",
    )

    assert response.status_code == 201, response.content
    dana = User.objects.get(username="dana")
    assert (dana.is_staff, dana.is_superuser, dana.is_active) == (False, False, True)
    assert dana.pk != alice.pk and dana.username_key == "dana"
    assert check_password(PASSWORD, dana.password)
    assert not dana.groups.exists()
    alice.refresh_from_db()
    assert alice.username_key == "alice"


def test_unknown_fields_in_a_login_are_ignored(api, alice):
    response = api.post(
        "/api/auth/login",
        {"username": "alice", "password": PASSWORD, "user_id": "x", "is_staff": True},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["_id"] == str(alice.pk)


# --- rendering ------------------------------------------------------------------------------

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def marked_up(db):
    return user_factory(username="mallory", full_name=MARKUP)


def assert_inert(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html


def test_a_full_name_with_markup_is_inert_in_the_browsable_api(client, alice, marked_up):
    client.force_login(alice)

    response = client.get("/api/users", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_inert(response.content.decode())


def test_a_full_name_with_markup_is_inert_in_the_admin(client, marked_up):
    admin = user_factory(username="root", full_name="Root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)

    changelist = client.get("/admin/accounts/user/")
    change = client.get(f"/admin/accounts/user/{marked_up.pk}/change/")

    assert changelist.status_code == change.status_code == 200
    assert_inert(changelist.content.decode())
    assert_inert(change.content.decode())


def test_a_bearer_token_does_not_open_the_admin(client, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()

    response = client.get(
        "/admin/accounts/user/", HTTP_AUTHORIZATION=bearer(tokens_for(alice)["access"])
    )

    # The admin only knows browser sessions (with CSRF protection), not API tokens.
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- rate limits ----------------------------------------------------------------------------


def test_a_forged_x_forwarded_for_does_not_escape_the_login_limit(api, alice, settings):
    """Without a trusted proxy in front, X-Forwarded-For is whatever the client wrote: it must
    not choose the address the limit counts, or every guess could come from a "new" address."""
    settings.CHAT = {**settings.CHAT, "LOGIN_RATE": "3/day"}
    answers = [
        api.post(
            "/api/auth/login",
            {"username": "alice", "password": f"guess-{i}"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        ).status_code
        for i in range(6)
    ]

    assert answers == [401, 401, 401, 429, 429, 429]


def test_behind_one_trusted_proxy_the_limit_counts_the_address_it_forwards(api, alice, settings):
    settings.CHAT = {**settings.CHAT, "LOGIN_RATE": "1/day"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def login(forwarded_for: str) -> int:
        return api.post(
            "/api/auth/login",
            {"username": "alice", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=forwarded_for,
            REMOTE_ADDR="10.0.0.1",  # the proxy
        ).status_code

    assert login("198.51.100.7") == 401
    assert login("198.51.100.7") == 429
    # A client-written entry before the proxy's own is ignored: the proxy appends the real one.
    assert login("203.0.113.9, 198.51.100.7") == 429
    assert login("198.51.100.8") == 401

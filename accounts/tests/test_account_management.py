"""Managing one's own account over the REST API (in process): email, login sessions, profile
changes, password change and reset, deletion. Socket closing is tested against a real server
in test_account_sessions_live.py."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts import tokens
from accounts.models import LoginSession, RevokedToken, User
from accounts.services import (
    DELETED_FULL_NAME,
    MAIL_THREAD,
    password_reset_link,
    user_create,
)
from accounts.tests.factories import PASSWORD, assert_error, bearer, signup_payload, user_factory
from chatsite.testing import database_statements, wait_until

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-password-77"


def login(api, username="alice", password=PASSWORD, agent="TestAgent/1.0") -> dict:
    response = api.post(
        "/api/auth/login",
        {"username": username, "password": password},
        format="json",
        HTTP_USER_AGENT=agent,
    )
    assert response.status_code == 200, response.content
    api.cookies.clear()  # these tests authenticate with the Bearer header, as API clients do
    return response.json()


def sid_of(refresh: str) -> str:
    """The login session a token belongs to."""
    return tokens.ChatRefreshToken(refresh, verify=False)["sid"]


def as_token(access: str) -> dict:
    return {"HTTP_AUTHORIZATION": bearer(access)}


class TestEmail:
    def test_many_users_can_have_no_email(self, db):
        first = user_factory()
        second = user_factory()

        assert first.email is None and second.email is None
        assert first.email_key is None and second.email_key is None

    def test_signup_takes_an_optional_email_that_me_shows(self, api):
        body = api.post(
            "/api/auth/signup", signup_payload(email="Dana@Example.org"), format="json"
        ).json()

        me = api.get("/api/auth/me", **as_token(body["access"])).json()
        assert me["email"] == "Dana@Example.org"
        assert User.objects.get(username="dana").email_key == "dana@example.org"

    def test_an_email_in_use_is_refused_ignoring_case(self, api, db):
        user_create(username="first", full_name="First", password=PASSWORD, email="a@b.org")

        response = api.post("/api/auth/signup", signup_payload(email="A@B.ORG"), format="json")

        body = assert_error(response, 400, "email_taken")
        assert "email" in body["fields"]

    def test_the_unique_index_decides_a_race(self, db):
        from django.db import IntegrityError
        from pymongo.errors import DuplicateKeyError

        User(username="one", full_name="One", email="x@y.org").save()
        with pytest.raises((IntegrityError, DuplicateKeyError)):
            User(username="two", full_name="Two", email="X@y.org").save()

    def test_a_malformed_email_is_a_validation_error(self, api):
        response = api.post("/api/auth/signup", signup_payload(email="nope"), format="json")

        assert assert_error(response, 400, "validation_error")["fields"]["email"]

    def test_the_public_user_shape_has_no_email(self, alice_api, db):
        user_create(username="erin", full_name="Erin", password=PASSWORD, email="erin@x.org")

        users = alice_api.get("/api/users").json()

        assert [u["username"] for u in users] == ["erin"]
        assert "email" not in users[0]


class TestLoginSessions:
    def test_a_login_stores_its_session_with_the_user_agent(self, api, alice):
        body = login(api, agent="Firefox/" + "x" * 400)

        sid = sid_of(body["refresh"])
        row = LoginSession.objects.get(sid=sid)
        assert row.user_id == alice.pk
        assert row.user_agent.startswith("Firefox/")
        assert len(row.user_agent) == 256
        assert row.ended_at is None

    def test_the_list_shows_live_sessions_and_marks_the_current_one(self, api, alice, bob):
        phone = login(api, agent="Phone")
        laptop = login(api, agent="Laptop")
        login(api, username="bob")

        response = api.get("/api/auth/sessions", **as_token(laptop["access"]))

        assert response.status_code == 200
        sessions = response.json()
        assert {s["userAgent"] for s in sessions} == {"Phone", "Laptop"}
        assert [s["current"] for s in sessions if s["userAgent"] == "Laptop"] == [True]
        assert [s["current"] for s in sessions if s["userAgent"] == "Phone"] == [False]
        assert set(sessions[0]) == {"id", "createdAt", "lastUsedAt", "userAgent", "current"}
        del phone

    def test_ending_another_session_refuses_its_tokens(self, api, alice):
        phone, laptop = login(api, agent="Phone"), login(api, agent="Laptop")
        phone_sid = sid_of(phone["refresh"])

        response = api.delete(f"/api/auth/sessions/{phone_sid}", **as_token(laptop["access"]))

        assert response.status_code == 204
        assert_error(api.get("/api/auth/me", **as_token(phone["access"])), 401, "session_ended")
        refused = api.post("/api/auth/refresh", {"refresh": phone["refresh"]}, format="json")
        assert_error(refused, 401, "token_invalid")
        assert api.get("/api/auth/me", **as_token(laptop["access"])).status_code == 200
        listed = api.get("/api/auth/sessions", **as_token(laptop["access"])).json()
        assert [s["userAgent"] for s in listed] == ["Laptop"]
        assert LoginSession.objects.get(sid=phone_sid).ended_at is not None

    def test_another_users_or_an_unknown_session_is_not_found(self, api, alice, bob):
        mine = login(api)
        theirs = tokens.ChatRefreshToken(login(api, username="bob")["refresh"])["sid"]

        for sid in (theirs, "0" * 32, "not-a-session"):
            response = api.delete(f"/api/auth/sessions/{sid}", **as_token(mine["access"]))
            assert_error(response, 404, "not_found")
        assert LoginSession.objects.get(sid=theirs).ended_at is None

    def test_logout_ends_the_row_too(self, api, alice):
        body = login(api)
        api.post("/api/auth/logout", {"refresh": body["refresh"]}, format="json")

        sid = sid_of(body["refresh"])
        assert LoginSession.objects.get(sid=sid).ended_at is not None
        assert_error(api.get("/api/auth/me", **as_token(body["access"])), 401, "session_ended")

    def test_last_used_at_moves_at_most_once_per_interval(self, api, alice):
        body = login(api)
        sid = sid_of(body["refresh"])
        old = timezone.now() - tokens.TOUCH_INTERVAL - timedelta(seconds=5)
        LoginSession.objects.filter(sid=sid).update(last_used_at=old)

        api.get("/api/auth/me", **as_token(body["access"]))
        touched = LoginSession.objects.get(sid=sid).last_used_at
        api.get("/api/auth/me", **as_token(body["access"]))

        assert touched > old + timedelta(seconds=4)
        assert LoginSession.objects.get(sid=sid).last_used_at == touched

    def test_a_refresh_touches_the_session(self, api, alice):
        body = login(api)
        sid = sid_of(body["refresh"])
        old = timezone.now() - timedelta(days=1)
        LoginSession.objects.filter(sid=sid).update(last_used_at=old)

        api.post("/api/auth/refresh", {"refresh": body["refresh"]}, format="json")

        assert LoginSession.objects.get(sid=sid).last_used_at > old + timedelta(hours=23)

    def test_a_session_from_before_the_table_answers_from_revoked_tokens(self, alice):
        body = tokens.issue_for(alice)
        sid = sid_of(body["refresh"])
        LoginSession.objects.filter(sid=sid).delete()  # as if made before the table existed

        assert tokens.session_is_live(user_id=str(alice.pk), session_id=sid)
        tokens.session_revoke(user_id=str(alice.pk), session_id=sid)
        assert not tokens.session_is_live(user_id=str(alice.pk), session_id=sid)
        assert RevokedToken.objects.filter(session_id=sid, logout=True).exists()


class TestEndingManySessions:
    def test_the_writes_do_not_grow_with_the_number_of_sessions(self, api, db):
        counts = []
        for others in (1, 6):
            user = user_factory()
            here = login(api, username=user.username)
            for _ in range(others):
                login(api, username=user.username)
            with database_statements() as statements:
                changed = api.post(
                    "/api/auth/password",
                    {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD,
                     "confirmPassword": NEW_PASSWORD},
                    format="json",
                    **as_token(here["access"]),
                )  # fmt: skip
            assert changed.status_code == 200, changed.content
            counts.append(statements.count("insert") + statements.count("update"))
        assert counts[0] == counts[1], counts

    def test_one_announcement_ends_every_session_of_a_reset(self, api, alice):
        from accounts.services import password_reset_confirm
        from accounts.signals import session_ended

        for _ in range(3):
            login(api)
        heard = []

        def hear(sender, **kwargs):
            heard.append(kwargs["session_id"])

        session_ended.connect(hear)
        try:
            alice.refresh_from_db()
            uid, token = password_reset_link(user=alice, base_url="").split("/")[-3:-1]
            password_reset_confirm(uid=uid, token=token, new=NEW_PASSWORD)
        finally:
            session_ended.disconnect(hear)

        assert heard == [None]  # every socket of the user
        assert not LoginSession.objects.filter(user=alice, ended_at=None).exists()

    def test_a_password_change_announces_each_other_session(self, api, alice):
        from accounts.signals import session_ended

        here, others = login(api), [login(api) for _ in range(2)]
        heard = []

        def hear(sender, **kwargs):
            heard.append(kwargs["session_id"])

        session_ended.connect(hear)
        try:
            api.post(
                "/api/auth/password",
                {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD,
                 "confirmPassword": NEW_PASSWORD},
                format="json",
                **as_token(here["access"]),
            )  # fmt: skip
        finally:
            session_ended.disconnect(hear)

        assert sorted(heard) == sorted(sid_of(o["refresh"]) for o in others)

    def test_a_session_unused_for_the_refresh_lifetime_is_over(self, api, alice, settings):
        old, recent = login(api, agent="Old"), login(api, agent="Recent")
        lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
        LoginSession.objects.filter(sid=sid_of(old["refresh"])).update(
            last_used_at=timezone.now() - lifetime - timedelta(minutes=1)
        )

        listed = api.get("/api/auth/sessions", **as_token(recent["access"])).json()

        assert [s["userAgent"] for s in listed] == ["Recent"]

    def test_the_prune_command_deletes_ended_and_expired_rows(self, api, alice, settings):
        from django.core.management import call_command

        lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
        long_ago = timezone.now() - lifetime - timedelta(minutes=1)
        ended, expired, live = (login(api, agent=a) for a in ("Ended", "Expired", "Live"))
        LoginSession.objects.filter(sid=sid_of(ended["refresh"])).update(ended_at=long_ago)
        LoginSession.objects.filter(sid=sid_of(expired["refresh"])).update(last_used_at=long_ago)
        RevokedToken.objects.create(
            jti="gone", user=alice, expires_at=timezone.now() - timedelta(seconds=1)
        )

        call_command("prune_login_sessions", verbosity=0)

        assert list(LoginSession.objects.values_list("user_agent", flat=True)) == ["Live"]
        assert not RevokedToken.objects.filter(jti="gone").exists()
        assert api.get("/api/auth/me", **as_token(live["access"])).status_code == 200


class TestProfileUpdate:
    def test_changes_the_given_fields_and_answers_the_user(self, api, alice):
        body = login(api)

        response = api.patch(
            "/api/auth/me",
            {
                "fullName": "Alice Cooper",
                "gender": "other",
                "email": "alice@example.org",
                "currentPassword": PASSWORD,
            },
            format="json",
            **as_token(body["access"]),
        )

        assert response.status_code == 200, response.content
        me = response.json()
        assert (me["fullName"], me["gender"], me["email"]) == (
            "Alice Cooper",
            "other",
            "alice@example.org",
        )
        assert me["username"] == "alice"
        alice.refresh_from_db()
        assert alice.full_name == "Alice Cooper" and alice.email_key == "alice@example.org"

    def test_a_new_username_works_for_login(self, api, alice):
        body = login(api)

        response = api.patch(
            "/api/auth/me", {"username": "Wonder.Alice"}, format="json", **as_token(body["access"])
        )

        assert response.json()["username"] == "Wonder.Alice"
        login(api, username="wonder.alice")

    def test_a_taken_username_or_email_is_refused(self, api, alice, bob):
        user_create(username="erin", full_name="Erin", password=PASSWORD, email="erin@x.org")
        body = login(api)

        taken = api.patch(
            "/api/auth/me", {"username": "BOB"}, format="json", **as_token(body["access"])
        )
        assert_error(taken, 400, "username_taken")
        in_use = api.patch(
            "/api/auth/me",
            {"email": "Erin@X.org", "currentPassword": PASSWORD},
            format="json",
            **as_token(body["access"]),
        )
        assert_error(in_use, 400, "email_taken")
        alice.refresh_from_db()
        assert (alice.username, alice.email) == ("alice", None)

    def test_the_own_username_in_another_case_is_fine(self, api, alice):
        body = login(api)

        response = api.patch(
            "/api/auth/me", {"username": "ALICE"}, format="json", **as_token(body["access"])
        )

        assert response.status_code == 200
        assert response.json()["username"] == "ALICE"

    def test_invalid_values_are_validation_errors(self, api, alice):
        body = login(api)

        for change in ({"username": "a b"}, {"fullName": "  "}, {"gender": "x"}, {"email": "x"}):
            response = api.patch("/api/auth/me", change, format="json", **as_token(body["access"]))
            assert_error(response, 400, "validation_error")

    def test_null_removes_the_email(self, api, alice):
        alice.email = "alice@example.org"
        alice.save()
        body = login(api)

        response = api.patch(
            "/api/auth/me",
            {"email": None, "currentPassword": PASSWORD},
            format="json",
            **as_token(body["access"]),
        )

        assert response.json()["email"] is None
        alice.refresh_from_db()
        assert alice.email is None and alice.email_key is None

    def test_an_empty_email_removes_it_and_a_missing_one_keeps_it(self, api, alice):
        alice.email = "alice@example.org"
        alice.save()
        body = login(api)

        kept = api.patch("/api/auth/me", {"fullName": "Al"}, format="json",
                         **as_token(body["access"]))  # fmt: skip
        assert kept.json()["email"] == "alice@example.org"
        removed = api.patch(
            "/api/auth/me",
            {"email": "", "currentPassword": PASSWORD},
            format="json",
            **as_token(body["access"]),
        )

        assert removed.status_code == 200, removed.content
        assert removed.json()["email"] is None
        alice.refresh_from_db()
        assert alice.email is None and alice.email_key is None

    def test_a_new_email_takes_the_current_password(self, api, alice):
        body = login(api)

        missing = api.patch(
            "/api/auth/me", {"email": "thief@evil.example"}, format="json",
            **as_token(body["access"]),
        )  # fmt: skip
        wrong = api.patch(
            "/api/auth/me",
            {"email": "thief@evil.example", "currentPassword": "guess"},
            format="json",
            **as_token(body["access"]),
        )

        assert "currentPassword" in assert_error(missing, 400, "validation_error")["fields"]
        assert assert_error(wrong, 400, "wrong_password")["fields"] == {
            "currentPassword": ["The password is wrong."]
        }
        alice.refresh_from_db()
        assert alice.email is None

    def test_whether_an_email_is_taken_is_told_only_with_the_password(self, api, alice):
        user_create(username="erin", full_name="Erin", password=PASSWORD, email="erin@x.org")
        body = login(api)

        probe = api.patch(
            "/api/auth/me",
            {"email": "erin@x.org", "currentPassword": "guess"},
            format="json",
            **as_token(body["access"]),
        )

        assert_error(probe, 400, "wrong_password")

    def test_the_old_address_is_told_of_a_new_email(self, api, alice):
        alice.email = "alice@example.org"
        alice.save()
        body = login(api)

        response = api.patch(
            "/api/auth/me",
            {"email": "alice@new.example", "currentPassword": PASSWORD},
            format="json",
            **as_token(body["access"]),
        )

        assert response.status_code == 200, response.content
        sent = wait_until(lambda: mail.outbox, what="the notice")
        assert sent[0].to == ["alice@example.org"]
        assert "alice@new.example" in sent[0].body

    def test_changes_are_rate_limited_per_user(self, api, alice, settings):
        settings.CHAT = {**settings.CHAT, "PASSWORD_CHECK_RATE": "2/minute"}
        body = login(api)

        answers = [
            api.patch("/api/auth/me", {"email": f"a{n}@x.org", "currentPassword": "guess"},
                      format="json", **as_token(body["access"])).status_code
            for n in range(3)
        ]  # fmt: skip

        assert answers == [400, 400, 429]

    def test_the_unique_index_names_the_field_that_clashed(self, db):
        from accounts.services import EmailTaken, UsernameTaken, _save_unique

        User(username="email.fan", full_name="One", email="one@x.org").save()

        with pytest.raises(UsernameTaken):
            _save_unique(User(username="Email.Fan", full_name="Two"))
        with pytest.raises(EmailTaken):
            _save_unique(User(username="other", full_name="Three", email="ONE@x.org"))


class TestPasswordChange:
    def change(self, api, access, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
        return api.post(
            "/api/auth/password",
            {"currentPassword": current, "newPassword": new, "confirmPassword": confirm or new},
            format="json",
            **as_token(access),
        )

    def test_ends_the_other_sessions_and_keeps_this_one(self, api, alice):
        here, elsewhere = login(api), login(api)

        response = self.change(api, here["access"])

        assert response.status_code == 200, response.content
        assert api.get("/api/auth/me", **as_token(here["access"])).status_code == 200
        assert_error(api.get("/api/auth/me", **as_token(elsewhere["access"])), 401, "session_ended")
        refreshed = api.post("/api/auth/refresh", {"refresh": here["refresh"]}, format="json")
        assert refreshed.status_code == 200
        login(api, password=NEW_PASSWORD)
        refused = api.post(
            "/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json"
        )
        assert_error(refused, 401, "invalid_credentials")

    def test_a_wrong_current_password_is_refused(self, api, alice):
        body = login(api)

        response = self.change(api, body["access"], current="not-it")

        assert assert_error(response, 400, "wrong_password")["fields"] == {
            "currentPassword": ["The password is wrong."]
        }
        login(api)

    def test_djangos_validators_and_the_confirmation_apply(self, api, alice):
        body = login(api)

        for new, confirm in (("short", None), ("12345678901", None), ("alice123", None),
                             (NEW_PASSWORD, NEW_PASSWORD + "x")):  # fmt: skip
            response = self.change(api, body["access"], new=new, confirm=confirm)
            assert_error(response, 400, "validation_error")
        login(api)

    def test_attempts_are_rate_limited(self, api, alice, settings):
        settings.CHAT = {**settings.CHAT, "PASSWORD_CHECK_RATE": "2/minute"}
        body = login(api)

        answers = [self.change(api, body["access"], current="wrong").status_code for _ in range(3)]

        assert answers == [400, 400, 429]


class TestPasswordReset:
    @pytest.fixture
    def dana(self, db):
        return user_create(
            username="dana", full_name="Dana Scully", password=PASSWORD, email="dana@fbi.gov"
        )

    def ask(self, api, login_value):
        return api.post("/api/auth/password/reset", {"login": login_value}, format="json")

    def test_the_answer_is_the_same_for_known_and_unknown_accounts(self, api, dana, alice):
        answers = [self.ask(api, name) for name in ("dana", "nobody", "alice")]

        assert {a.status_code for a in answers} == {202}
        assert len({a.content for a in answers}) == 1

    def test_a_link_is_mailed_to_an_account_with_an_email(self, api, dana):
        self.ask(api, "DANA@fbi.gov")

        sent = wait_until(lambda: mail.outbox, what="the reset mail")
        assert sent[0].to == ["dana@fbi.gov"]
        assert "http://testserver/reset/" in sent[0].body

    def test_nothing_is_sent_without_an_email_or_to_an_inactive_user(self, api, dana, alice):
        dana.is_active = False
        dana.save()

        self.ask(api, "dana")
        self.ask(api, "alice")

        assert mail.outbox == []

    def test_requests_per_address_and_per_account_are_limited(self, api, dana, settings):
        settings.CHAT = {**settings.CHAT, "PASSWORD_RESET_RATE": "2/hour"}

        answers = [self.ask(api, "dana").status_code for _ in range(3)]

        assert answers == [202, 202, 429]
        wait_until(lambda: len(mail.outbox) == 2, what="two mails")

    def test_mails_per_account_are_limited_whoever_asks_and_by_whichever_name(
        self, api, dana, settings
    ):
        settings.CHAT = {**settings.CHAT, "PASSWORD_RESET_RATE": "2/hour"}
        asks = [("dana", "10.0.0.1"), ("DANA@fbi.gov", "10.0.0.2"), ("dana", "10.0.0.3")]

        answers = [
            api.post(
                "/api/auth/password/reset", {"login": name}, format="json", REMOTE_ADDR=address
            )
            for name, address in asks
        ]

        assert [a.status_code for a in answers] == [202, 202, 202]
        assert len({a.content for a in answers}) == 1
        for thread in threading.enumerate():
            if thread.name == MAIL_THREAD:
                thread.join(10)
        assert len(mail.outbox) == 2

    def test_the_page_sets_a_new_password_once_and_ends_every_session(self, api, client, dana):
        sessions = [login(api, username="dana") for _ in range(2)]
        dana.refresh_from_db()  # the logins moved `last_login`, which the link covers
        link = password_reset_link(user=dana, base_url="http://testserver")

        page = client.get(link, follow=True)
        assert page.status_code == 200
        assert b'name="new_password1"' in page.content
        done = client.post(
            page.redirect_chain[-1][0],
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
            follow=True,
        )

        assert b"Password set" in done.content
        for body in sessions:
            assert_error(api.get("/api/auth/me", **as_token(body["access"])), 401, "session_ended")
        login(api, username="dana", password=NEW_PASSWORD)
        again = client.get(link, follow=True)
        assert b"does not work" in again.content
        assert b'name="new_password1"' not in again.content

    def test_the_page_refuses_a_weak_password_in_words(self, client, dana):
        link = password_reset_link(user=dana, base_url="http://testserver")
        page = client.get(link, follow=True)

        answer = client.post(
            page.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"}
        )

        assert answer.status_code == 200
        assert b"too short" in answer.content
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]

    def test_an_expired_link_is_refused(self, client, dana, settings):
        link = password_reset_link(user=dana, base_url="http://testserver")
        settings.PASSWORD_RESET_TIMEOUT = -1

        assert b"does not work" in client.get(link, follow=True).content

    def test_the_api_confirms_with_uid_and_token(self, api, dana):
        session = login(api, username="dana")
        dana.refresh_from_db()  # the login moved `last_login`, which the link covers
        uid, token = password_reset_link(user=dana, base_url="").split("/")[-3:-1]
        body = {"uid": uid, "token": token, "newPassword": NEW_PASSWORD,
                "confirmPassword": NEW_PASSWORD}  # fmt: skip

        response = api.post("/api/auth/password/reset/confirm", body, format="json")

        assert response.status_code == 200, response.content
        assert_error(api.get("/api/auth/me", **as_token(session["access"])), 401, "session_ended")
        login(api, username="dana", password=NEW_PASSWORD)
        reused = api.post("/api/auth/password/reset/confirm", body, format="json")
        assert_error(reused, 400, "reset_link_invalid")

    def test_the_request_thread_reads_nothing_whether_or_not_the_account_exists(self, api, dana):
        for name in ("dana", "nobody"):
            with database_statements(this_thread=True) as statements:
                answer = self.ask(api, name)
            assert answer.status_code == 202
            assert statements == [], (name, statements)
        sent = wait_until(lambda: mail.outbox, what="the reset mail")
        assert sent[0].to == ["dana@fbi.gov"]

    def test_a_link_issued_before_a_login_is_refused_after_it(self, api, dana):
        uid, token = password_reset_link(user=dana, base_url="").split("/")[-3:-1]
        login(api, username="dana")

        response = api.post(
            "/api/auth/password/reset/confirm",
            {"uid": uid, "token": token, "newPassword": NEW_PASSWORD,
             "confirmPassword": NEW_PASSWORD},
            format="json",
        )  # fmt: skip

        assert_error(response, 400, "reset_link_invalid")
        assert User.objects.get(pk=dana.pk).last_login is not None

    def test_confirming_has_a_limit_of_its_own(self, api, dana, settings):
        settings.CHAT = {**settings.CHAT, "PASSWORD_RESET_RATE": "1/hour",
                         "PASSWORD_RESET_CONFIRM_RATE": "2/hour"}  # fmt: skip
        assert self.ask(api, "dana").status_code == 202
        uid, token = password_reset_link(user=dana, base_url="").split("/")[-3:-1]
        body = {"uid": uid, "token": token, "newPassword": NEW_PASSWORD,
                "confirmPassword": NEW_PASSWORD}  # fmt: skip

        answers = [
            api.post("/api/auth/password/reset/confirm", body, format="json").status_code
            for _ in range(3)
        ]

        assert answers == [200, 400, 429]
        assert self.ask(api, "dana").status_code == 429

    def test_the_api_refuses_a_forged_link(self, api, dana):
        uid, _ = password_reset_link(user=dana, base_url="").split("/")[-3:-1]
        for bad_uid, token in ((uid, "abc-123"), ("@@@", "abc-123"), ("MTIz", "abc-123")):
            response = api.post(
                "/api/auth/password/reset/confirm",
                {"uid": bad_uid, "token": token, "newPassword": NEW_PASSWORD,
                 "confirmPassword": NEW_PASSWORD},
                format="json",
            )  # fmt: skip
            assert_error(response, 400, "reset_link_invalid")


class TestAccountDeletion:
    def test_a_wrong_password_is_refused(self, api, alice):
        body = login(api)

        response = api.delete(
            "/api/auth/me", {"password": "nope"}, format="json", **as_token(body["access"])
        )

        assert assert_error(response, 400, "wrong_password")["fields"] == {
            "password": ["The password is wrong."]
        }
        assert User.objects.get(pk=alice.pk).is_active

    def test_the_account_is_anonymised_and_can_no_longer_log_in(self, api, alice, bob):
        alice.email = "alice@example.org"
        alice.save()
        body, other = login(api), login(api)

        response = api.delete(
            "/api/auth/me", {"password": PASSWORD}, format="json", **as_token(body["access"])
        )

        assert response.status_code == 204
        gone = User.objects.get(pk=alice.pk)
        assert gone.full_name == DELETED_FULL_NAME
        assert (gone.email, gone.email_key, gone.is_active) == (None, None, False)
        assert gone.deleted_at is not None
        assert not gone.has_usable_password()
        assert gone.username != "alice"
        assert not LoginSession.objects.filter(user=gone).exists()
        for tokens_ in (body, other):
            assert api.get("/api/auth/me", **as_token(tokens_["access"])).status_code == 401
            refused = api.post("/api/auth/refresh", {"refresh": tokens_["refresh"]}, format="json")
            assert refused.status_code == 401
        refused = api.post(
            "/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json"
        )
        assert_error(refused, 401, "invalid_credentials")

    def test_the_username_and_email_are_free_again(self, api, alice):
        alice.email = "alice@example.org"
        alice.save()
        body = login(api)
        api.delete(
            "/api/auth/me", {"password": PASSWORD}, format="json", **as_token(body["access"])
        )

        again = api.post(
            "/api/auth/signup",
            signup_payload(username="alice", email="alice@example.org"),
            format="json",
        )

        assert again.status_code == 201, again.content

    def test_the_public_shape_shows_deleted_user(self, alice, bob):
        from accounts.serializers import UserSerializer
        from accounts.services import user_delete

        user_delete(user=alice)

        shown = UserSerializer(User.objects.get(pk=alice.pk)).data
        assert shown["fullName"] == "Deleted user"
        assert "email" not in shown


class TestUnfinishedDeletions:
    def test_a_deletion_stopped_after_its_first_step_is_finished_by_the_command(
        self, api, alice, bob
    ):
        from django.core.management import call_command

        from accounts.selectors import user_list_deletion_pending
        from accounts.services import user_delete
        from accounts.signals import user_deleting
        from messaging.tests.factories import message_factory

        message = message_factory(sender=alice, receiver=bob, body="erase me")
        session = login(api)

        def crash(sender, **kwargs):
            raise ConnectionError("the database went away")

        user_deleting.connect(crash, dispatch_uid="test.crash")
        try:
            with pytest.raises(ConnectionError):
                user_delete(user=alice)
        finally:
            user_deleting.disconnect(dispatch_uid="test.crash")
        stopped = User.objects.get(pk=alice.pk)
        assert (stopped.is_active, stopped.username) == (False, "alice")
        assert stopped.deleted_at is not None
        assert user_list_deletion_pending() == [stopped]

        call_command("finish_account_deletions", verbosity=0)

        gone = User.objects.get(pk=alice.pk)
        assert gone.full_name == DELETED_FULL_NAME and gone.username.startswith("del:")
        assert gone.deleted_at == stopped.deleted_at
        assert message.__class__.objects.get(pk=message.pk).body == ""
        assert not LoginSession.objects.filter(user=gone).exists()
        assert api.get("/api/auth/me", **as_token(session["access"])).status_code == 401
        assert user_list_deletion_pending() == []


class TestAccountDeletionInABrowser:
    def test_deleting_with_the_cookie_clears_the_cookies(self, api, alice):
        api.post("/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json")
        assert api.cookies["jwt"].value

        response = api.delete(
            "/api/auth/me",
            {"password": PASSWORD},
            format="json",
            HTTP_ORIGIN="http://testserver",
            HTTP_HOST="testserver",
        )

        assert response.status_code == 204, response.content
        assert response.cookies["jwt"].value == ""
        assert response.cookies["jwt"]["max-age"] == 0
        assert response.cookies["jwt_refresh"].value == ""
        assert not User.objects.get(pk=alice.pk).is_active

    def test_a_page_of_another_site_cannot_delete_the_account(self, api, alice):
        api.post("/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json")

        response = api.delete(
            "/api/auth/me",
            {"password": PASSWORD},
            format="json",
            HTTP_ORIGIN="https://evil.example",
        )

        assert_error(response, 403, "origin_not_allowed")
        assert User.objects.get(pk=alice.pk).is_active

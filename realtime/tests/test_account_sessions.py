"""Account management over real HTTP against a real server process, with real sockets: ending
a login session from another device, changing the password, resetting it from the mailed link
and deleting the account close the sockets they must, at once (the recheck is 30 s away), and
leave the others open. The export streams under WSGI and ASGI alike."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import requests

from accounts.models import LoginSession
from accounts.tests.factories import PASSWORD
from chatsite.testing import wait_until
from messaging.tests.factories import message_factory
from realtime.tests.clients import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = 3.0  # seconds: far below the 30 s recheck
NEW_PASSWORD = "another-long-password-77"


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="module", params=["eventlet", "asgi"])
def server(request, chat_server_factory, mail_dir):
    return chat_server_factory(
        request.param,
        REALTIME_AUTH_RECHECK_SECONDS="30",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir / request.param),
    )


def call(server, method: str, path: str, token: str | None = None, headers=None, **kwargs):
    headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    return requests.request(
        method, f"{server.url}{path}", headers=headers, timeout=TIMEOUT, **kwargs
    )


def login(server, username: str, password: str = PASSWORD, agent: str = "pytest") -> dict:
    response = call(
        server,
        "POST",
        "/api/auth/login",
        json={"username": username, "password": password},
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_closed_promptly(socket, since: float) -> None:
    reason = socket.wait_for("sessionEnded", timeout=PROMPT)["reason"]
    assert reason in {"session_ended", "deactivated"}
    socket.wait_disconnected(timeout=PROMPT)
    assert time.monotonic() - since < PROMPT + 0.5


def test_ending_a_session_from_another_device_closes_its_sockets(server, make_client, alice):
    phone = login(server, "alice", agent="Phone")
    laptop = login(server, "alice", agent="Laptop")
    phone_socket = make_client(server).connect(token=phone["access"])
    laptop_socket = make_client(server).connect(token=laptop["access"])
    sessions = call(server, "GET", "/api/auth/sessions", laptop["access"]).json()
    (phone_session,) = [s for s in sessions if s["userAgent"] == "Phone"]

    since = time.monotonic()
    ended = call(server, "DELETE", f"/api/auth/sessions/{phone_session['id']}", laptop["access"])

    assert ended.status_code == 204
    assert_closed_promptly(phone_socket, since)
    assert call(server, "GET", "/api/auth/me", phone["access"]).json()["code"] == "session_ended"
    laptop_socket.assert_silent("sessionEnded", within=1.0)
    assert laptop_socket.connected


def test_a_password_change_closes_the_other_sessions_sockets(server, make_client, alice):
    here, elsewhere = login(server, "alice"), login(server, "alice")
    here_socket = make_client(server).connect(token=here["access"])
    elsewhere_socket = make_client(server).connect(token=elsewhere["access"])

    since = time.monotonic()
    changed = call(
        server,
        "POST",
        "/api/auth/password",
        here["access"],
        json={
            "currentPassword": PASSWORD,
            "newPassword": NEW_PASSWORD,
            "confirmPassword": NEW_PASSWORD,
        },
    )

    assert changed.status_code == 200, changed.text
    assert_closed_promptly(elsewhere_socket, since)
    here_socket.assert_silent("sessionEnded", within=1.0)
    assert here_socket.connected
    assert call(server, "GET", "/api/auth/me", here["access"]).status_code == 200


def test_a_reset_from_the_mailed_link_ends_every_session(server, mail_dir, make_client, alice):
    alice.user.email = "alice@example.org"
    alice.user.save()
    session = login(server, "alice")
    socket = make_client(server).connect(token=session["access"])

    asked = call(server, "POST", "/api/auth/password/reset", json={"login": "ALICE@example.org"})
    unknown = call(server, "POST", "/api/auth/password/reset", json={"login": "nobody"})

    assert (asked.status_code, unknown.status_code) == (202, 202)
    assert asked.json() == unknown.json()
    outbox = mail_dir / server.async_mode
    # The mail is written off the request thread: wait until the file is complete.
    mails = wait_until(
        lambda: outbox.exists() and [m for m in outbox.iterdir() if "\n\n" in m.read_text()],
        what="the mail",
    )
    text = mails[0].read_text()
    assert "To: alice@example.org" in text
    link = re.search(r"http://\S+/reset/\S+/", text).group(0)
    assert link.startswith(server.url)

    browser = requests.Session()
    page = browser.get(link, timeout=TIMEOUT)
    assert page.status_code == 200 and 'name="new_password1"' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    since = time.monotonic()
    done = browser.post(
        page.url,
        data={
            "csrfmiddlewaretoken": csrf,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        headers={"Referer": page.url},
        timeout=TIMEOUT,
    )

    assert done.status_code == 200 and "Password set" in done.text
    assert_closed_promptly(socket, since)
    login(server, "alice", NEW_PASSWORD)
    again = requests.get(link, timeout=TIMEOUT)
    assert "does not work" in again.text


def test_deleting_the_account_closes_every_socket(server, make_client, alice, bob):
    message_factory(sender=alice.user, receiver=bob.user, body="erase me")
    phone, laptop = login(server, "alice"), login(server, "alice")
    sockets = [make_client(server).connect(token=t["access"]) for t in (phone, laptop)]
    bystander = make_client(server).connect(token=bob.access)

    wrong = call(server, "DELETE", "/api/auth/me", phone["access"], json={"password": "nope"})
    assert (wrong.status_code, wrong.json()["code"]) == (400, "wrong_password")
    since = time.monotonic()
    deleted = call(server, "DELETE", "/api/auth/me", phone["access"], json={"password": PASSWORD})

    assert deleted.status_code == 204
    for socket in sockets:
        assert_closed_promptly(socket, since)
    assert bystander.connected
    refused = call(
        server, "POST", "/api/auth/login", json={"username": "alice", "password": PASSWORD}
    )
    assert refused.status_code == 401
    history = call(server, "GET", f"/api/messages/{alice.id}", bob.access).json()
    assert [(m["message"], m["deleted"]) for m in history] == [("", True)]
    assert not LoginSession.objects.filter(user_id=alice.user.pk).exists()


def test_the_export_streams_a_json_download(server, alice, bob):
    for n in range(3):
        message_factory(sender=alice.user, receiver=bob.user, body=f"m{n}")
    token = login(server, "alice")["access"]

    response = call(server, "GET", "/api/auth/me/export", token, stream=True)

    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "Content-Length" not in response.headers  # streamed
    data = json.loads(b"".join(response.iter_content(8192)))
    assert [m["message"] for m in data["messages"]] == ["m0", "m1", "m2"]
    assert data["profile"]["_id"] == alice.id

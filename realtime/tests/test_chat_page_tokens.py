"""The demo page's login session lives in httpOnly cookies, so a script on the page (an XSS,
a browser extension) has no token to steal: answers to same-origin browser requests carry no
token, the page keeps none in storage or in its state, and `document.cookie` doesn't show
them. Other clients (apps, scripts, these tests without browser headers) still get the tokens
in the body. (A page of another origin may not log anyone in: accounts/tests.)"""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS, PASSWORD, Person

JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")
LIFETIME = 3  # seconds an access token lives in the browser test


def is_refresh(status: int):
    return lambda r: r.url.endswith("/api/auth/refresh") and r.status == status


def signup_body() -> dict:
    return {
        "fullName": "Tess Token",
        "username": f"tess{uuid.uuid4().hex[:8]}",
        "password": PASSWORD,
        "confirmPassword": PASSWORD,
    }


def assert_no_tokens(response: requests.Response) -> None:
    assert response.ok, response.text
    body = response.json()
    assert "access" not in body and "refresh" not in body, body
    assert not JWT.search(response.text), response.text


def assert_tokens(response: requests.Response) -> dict:
    assert response.ok, response.text
    body = response.json()
    assert JWT.fullmatch(body["access"]) and JWT.fullmatch(body["refresh"]), body
    return body


@pytest.mark.parametrize(
    "browser_headers",
    [
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="fetch-metadata"),
        pytest.param("own-origin", id="origin"),
    ],
)
def test_same_origin_browser_requests_get_cookies_and_no_tokens(server, browser_headers):
    headers = {"Origin": server.url} if browser_headers == "own-origin" else browser_headers
    body = signup_body()
    browser = requests.Session()

    signup = browser.post(server.url + "/api/auth/signup", json=body, headers=headers, timeout=10)
    assert_no_tokens(signup)
    assert signup.json()["username"] == body["username"]
    assert {"jwt", "jwt_refresh"} <= set(signup.cookies.keys())

    login = requests.post(
        server.url + "/api/auth/login",
        json={"username": body["username"], "password": PASSWORD},
        headers=headers,
        timeout=10,
    )
    assert_no_tokens(login)
    assert {"jwt", "jwt_refresh"} <= set(login.cookies.keys())

    # The refresh cookie renews both cookies; the answer names no token either. (A browser
    # sends its Origin with every POST.)
    refreshed = browser.post(
        server.url + "/api/auth/refresh", headers={**headers, "Origin": server.url}, timeout=10
    )
    assert_no_tokens(refreshed)
    assert {"jwt", "jwt_refresh"} <= set(refreshed.cookies.keys())
    me = browser.get(server.url + "/api/auth/me", timeout=10)
    assert me.json()["username"] == body["username"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-browser-headers"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross-site"),
    ],
)
def test_other_clients_still_get_the_tokens_in_the_body(server, headers):
    body = signup_body()
    signup = requests.post(server.url + "/api/auth/signup", json=body, headers=headers, timeout=10)
    assert_tokens(signup)
    login = requests.post(
        server.url + "/api/auth/login",
        json={"username": body["username"], "password": PASSWORD},
        headers=headers,
        timeout=10,
    )
    tokens = assert_tokens(login)
    refreshed = requests.post(
        server.url + "/api/auth/refresh",
        json={"refresh": tokens["refresh"]},
        headers=headers,
        timeout=10,
    )
    assert_tokens(refreshed)


def browser_test(test):
    for mark in BROWSER_TESTS:
        test = mark(test)
    return test


@browser_test
def test_the_page_holds_no_token_after_login_and_refresh(browser, chat_server_factory):
    # Access tokens that expire within seconds: the page finds its access cookie expired
    # (`401 token_expired`) and refreshes its session from the refresh cookie, on its own.
    server = chat_server_factory("eventlet", JWT_ACCESS_LIFETIME_SECONDS=str(LIFETIME))
    tess = Person(browser, server, "tess")
    answers, sent_tokens = [], []
    tess.page.on("response", lambda answer: answers.append(answer))
    tess.page.on(
        "request",
        lambda r: "authorization" in r.headers and sent_tokens.append((r.url, r.headers)),
    )
    tess.sign_up()
    assert_page_holds_no_token(tess)

    # While the page is open: opening the settings asks the API, finds the cookie expired,
    # refreshes and asks again.
    tess.page.wait_for_timeout(LIFETIME * 1000 + 500)  # the access token expires
    with tess.page.expect_response(is_refresh(200)):
        tess.page.click("#open-settings")
    expect(tess.page.locator("#session-list .session.current")).to_have_count(1)
    expect(tess.page.locator("#profile-form [name=fullName]")).to_have_value(tess.full_name)
    assert_page_holds_no_token(tess)
    tess.page.keyboard.press("Escape")

    # Coming back to the page later: it loads, refreshes, and is logged in.
    tess.page.wait_for_timeout(LIFETIME * 1000 + 500)
    with tess.page.expect_response(is_refresh(200)):
        tess.reload()
    expect(tess.page.locator("#me-name")).to_have_text(tess.full_name)
    expect(tess.page.locator("#banner")).to_be_hidden(timeout=10_000)  # the socket connected
    assert_page_holds_no_token(tess)

    assert sent_tokens == []  # never an Authorization header
    checked = 0
    for answer in answers:
        if not answer.url.startswith(server.url + "/api/"):
            continue
        try:
            text = answer.text()
        except Exception:  # no body to read: a 204, a redirect
            continue
        checked += 1
        assert not JWT.search(text), (answer.url, text)
        if answer.headers.get("content-type", "").startswith("application/json") and text:
            data = json.loads(text)
            if isinstance(data, dict):
                assert not {"access", "refresh"} & set(data), (answer.url, data)
    assert checked >= 5  # signup, me, users, conversations, refresh, ...
    assert tess.errors == [] and tess.dialogs == []


def assert_page_holds_no_token(person: Person) -> None:
    page = person.page
    storage = page.evaluate("JSON.stringify([localStorage, sessionStorage])")
    assert storage == "[{},{}]", storage
    assert "jwt" not in page.evaluate("document.cookie")
    # Whatever the page's scripts left reachable from `window`, and the document itself.
    reachable = page.evaluate(
        """() => {
          const seen = [];
          for (const name of Object.getOwnPropertyNames(window)) {
            try {
              const value = window[name];
              if (typeof value === "string") seen.push(value);
              else if (value && typeof value === "object" && !(value instanceof Node)) {
                seen.push(JSON.stringify(value) || "");
              }
            } catch (error) { /* circular or not readable */ }
          }
          return seen.join("\\n") + document.documentElement.outerHTML;
        }"""
    )
    assert not JWT.search(reachable)
    cookies = {c["name"]: c for c in person.context.cookies()}
    assert cookies["jwt"]["httpOnly"] and cookies["jwt_refresh"]["httpOnly"]
    assert cookies["jwt_refresh"]["path"] == "/api/auth/refresh"

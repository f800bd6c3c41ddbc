"""What the demo-page tests share: Debian's Chromium, driven by Playwright, and `Person`, one
user of the page in their own browser context. The `browser` and `server` fixtures are in
conftest.py."""

from __future__ import annotations

import shutil
import uuid

import pytest

from chatsite.testing import ARTIFACTS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SHOTS = ARTIFACTS / "screenshots"
PASSWORD = "correct-horse-9"
# How long an assertion waits for the page by default (Playwright's own is 5 s): in the full
# suite a module's page tests share one server and two cores with the browser. An assertion
# about how soon something shows passes its own `timeout`.
EXPECT_TIMEOUT_MS = 10_000
# The marks of every demo-page test module (`pytestmark = BROWSER_TESTS`); their server is the
# `server` fixture of conftest.py.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed"),
]


class Person:
    """One user of the page. `errors` collects uncaught page errors and `dialogs` any
    alert/confirm/prompt (the page shows none: a dialog means user text ran as script);
    `websockets` the page's WebSockets."""

    def __init__(self, browser, server, name: str, viewport=None, **context_options):
        """`context_options` go to Playwright's `new_context` (`color_scheme="dark"`, ...)."""
        self.username = f"{name}{uuid.uuid4().hex[:6]}"
        self.full_name = f"{name.title()} Example"
        self.context = browser.new_context(
            viewport=viewport or {"width": 1100, "height": 720}, **context_options
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss())
        )
        self.websockets: list = []  # every WebSocket the page opened (Socket.IO's)
        self.page.on("websocket", lambda ws: self.websockets.append(ws))
        self.server = server
        self.url = server.url

    def sign_up(self) -> None:
        page = self.page
        page.goto(self.url + "/")
        page.click("#show-signup")
        form = page.locator("#signup-form")
        form.locator("[name=fullName]").fill(self.full_name)
        form.locator("[name=username]").fill(self.username)
        form.locator("[name=password]").fill(PASSWORD)
        form.locator("[name=confirmPassword]").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#app:not([hidden])")

    def log_in(self, password: str = PASSWORD) -> None:
        """Fill the login form (the page must show it) and wait for the chat."""
        form = self.page.locator("#login-form")
        form.locator("[name=username]").fill(self.username)
        form.locator("[name=password]").fill(password)
        form.locator("button[type=submit]").click()
        self.page.wait_for_selector("#app:not([hidden])")

    def on_another_device(self, browser) -> Person:
        """The same person logged in in a second browser context (a login session of its own)."""
        other = Person(browser, self.server, "x")
        other.username, other.full_name = self.username, self.full_name
        other.page.goto(self.url + "/")
        other.log_in()
        return other

    def reload(self) -> None:
        self.page.reload()
        self.page.wait_for_selector("#app:not([hidden])")

    def contact(self, other: Person):
        """`other`'s row in the sidebar (a person's row, not a group whose preview names them)."""
        return self.page.locator(".contact[data-peer]", has_text=other.full_name)

    def open_chat(self, other: Person) -> None:
        self.contact(other).click()
        self.page.wait_for_selector(".peer-name", state="visible")

    def say(self, text: str) -> None:
        self.page.fill("#composer-input", text)
        self.page.press("#composer-input", "Enter")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))


def signed_up_apart(browser, chat_server_factory, *names: str) -> list[Person]:
    """People signed up in this order, each on a server process of their own (eventlet, no
    Redis: nothing one of them says reaches another's server live; `person.server` stops and
    starts theirs)."""
    people = [Person(browser, chat_server_factory("eventlet"), name) for name in names]
    for person in people:
        person.sign_up()
    return people

"""The reference design's front end in headless Chromium: `original_page.html` makes exactly its
calls (fetch with the browser's cookies and no Authorization header; socket.io-client with
`query: {userId}`), served at the chat server's own origin so that the cookies are same-origin.
Two people sign up, see each other online, chat live without echoes, and log out."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS

pytestmark = BROWSER_TESTS

PAGE = (Path(__file__).parent / "original_page.html").read_text()
PASSWORD = "correct-horse-9"


class Tab:
    """One person's browser (its own context: cookies and localStorage) on the page."""

    def __init__(self, browser, server, name: str):
        self.username = f"{name}{uuid.uuid4().hex[:6]}"
        # Unique: the page tests share one database, and the sidebar lists every user in it.
        self.full_name = f"{name.title()} {self.username[-6:]}"
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.route(
            f"{server.url}/original.html",
            lambda route: route.fulfill(status=200, content_type="text/html", body=PAGE),
        )
        self.page.goto(f"{server.url}/original.html")

    def call(self, expression: str, *args):
        """Run one of the page's functions (what a click in the original does) and wait for it."""
        return self.page.evaluate(f"(args) => {expression}(...args)", list(args))

    def sign_up(self, password=PASSWORD, confirm=None) -> None:
        self.call(
            "signup",
            {
                "fullName": self.full_name,
                "username": self.username,
                "password": password,
                "confirmPassword": password if confirm is None else confirm,
                "gender": "male",
            },
        )

    @property
    def me(self) -> dict:
        return self.page.evaluate("state.authUser")

    def expect_online(self, *people: Tab) -> None:
        ids = sorted(person.me["_id"] for person in people)
        expect(self.page.locator("#online")).to_have_text(
            json.dumps(ids, separators=(",", ":")), timeout=10000
        )

    def barrier(self) -> None:
        """Return once the socket has received everything the server sent it before: the
        server answers an invalid `markRead` after those events."""
        answer = self.page.evaluate("state.socket.emitWithAck('markRead', 'barrier')")
        assert answer["ok"] is False

    def messages(self):
        return self.page.locator("#messages li")


def test_two_people_use_the_original_front_end(browser, server):
    ana, ben = Tab(browser, server, "ana"), Tab(browser, server, "ben")

    # Its own checks pass "short7" (6 characters); ours answer in words it shows as a toast.
    ana.sign_up(password="short7")
    expect(ana.page.locator("#toasts li")).to_have_text(["Password must be at least 8 characters."])
    ana.sign_up()
    ben.sign_up()
    assert "jwt" in {c["name"] for c in ana.context.cookies()}  # the session: httpOnly cookies
    expect(ana.page.locator("#socket")).to_have_text("connected")
    ana.expect_online(ana)  # strangers do not see each other online
    ben.expect_online(ben)

    ana.call("getConversations")
    expect(ana.page.locator("#sidebar li", has_text=ben.full_name)).to_have_count(1)
    ana.call("selectConversation", ben.me["_id"])
    expect(ana.messages()).to_have_count(0)
    ana.call("sendMessage", "hello ben")
    # Now they share a conversation: each sees the other online, without reconnecting.
    ana.expect_online(ana, ben)
    ben.expect_online(ana, ben)

    ben.call("getConversations")
    ben.call("selectConversation", ana.me["_id"])
    expect(ben.messages()).to_have_text(["hello ben"])
    ben.call("sendMessage", "hi ana")
    expect(ana.messages()).to_have_text(["hello ben", "hi ana"])
    expect(ben.messages()).to_have_text(["hello ben", "hi ana"])
    ana.call("sendMessage", "how are you?")
    expect(ben.messages()).to_have_text(["hello ben", "hi ana", "how are you?"])
    ana.barrier()
    expect(ana.messages()).to_have_text(["hello ben", "hi ana", "how are you?"])  # no echo

    ben.call("logout")
    expect(ben.page.locator("#socket")).to_have_text("none")
    assert "jwt" not in {c["name"] for c in ben.context.cookies()}
    ana.expect_online(ana)
    ben.call("getConversations")  # logged out: the API refuses, the page shows the error
    expect(ben.page.locator("#toasts li")).to_have_count(1)

    ben.call("login", ben.username, PASSWORD)
    ana.expect_online(ana, ben)
    assert ana.errors == [] and ben.errors == []
    ana.context.close()
    ben.context.close()


def test_a_page_that_claims_another_user_is_refused(browser, server):
    """`userId` never says who the user is: a page whose stored user is not the one its cookie
    belongs to gets no socket (the reference design's flaw: anyone could read anyone's)."""
    ana, ben = Tab(browser, server, "ana"), Tab(browser, server, "ben")
    ana.sign_up()
    ben.sign_up()
    ana.page.evaluate(
        """(other) => {
            state.socket.close();
            window.refused = new Promise((resolve) => {
                const options = { query: { userId: other }, reconnection: false };
                const socket = io(location.origin, options);
                socket.on("connect_error", (error) => resolve(error.message));
                socket.on("newMessage", () => resolve("got a message"));
            });
        }""",
        ben.me["_id"],
    )
    assert ana.page.evaluate("window.refused") == "unauthorized"
    ana.context.close()
    ben.context.close()

"""The demo chat page in headless Chromium (Debian's, driven by Playwright), against a real
server process: two people sign up, chat both ways, and see presence, unread badges, typing,
history after a reload and hostile text rendered as text; a dropped connection shows the banner
and what was missed arrives after the reconnect; the API docs pages render with nothing from
another origin. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS, Person, signed_up_apart

XSS = "<img src=x onerror=alert(1)> & <script>alert(2)</script>"

pytestmark = BROWSER_TESTS


def test_two_people_chat_in_the_browser(browser, server):
    ann = Person(browser, server, "ann")
    ben = Person(browser, server, "ben")
    ann.sign_up()
    ben.sign_up()
    # Ann's sidebar was loaded before Ben existed: a reload shows him, but not whether he is
    # online: they have no conversation yet, and presence is only shared with contacts.
    ann.page.reload()
    ann.page.wait_for_selector("#app:not([hidden])")
    ann.contact(ben).wait_for(timeout=5000)
    expect(ann.contact(ben).locator(".dot.online")).to_have_count(0)

    # Ann writes first; Ben has not opened the chat, so he gets an unread badge. Now they
    # share a conversation, Ann sees that Ben is online.
    ann.open_chat(ben)
    ann.say(XSS)
    ann.page.locator(".message.mine", has_text="onerror").wait_for()
    ann.contact(ben).locator(".dot.online").wait_for(timeout=5000)
    ben.page.reload()
    ben.page.wait_for_selector("#app:not([hidden])")
    ben.contact(ann).locator(".dot.online").wait_for(timeout=5000)
    ann.say("second message")
    expect(ben.contact(ann).locator(".badge")).to_have_text("2", timeout=5000)
    ben.shot("sidebar-unread")

    # Ben opens the chat: history in order, hostile text shown as text, badge gone.
    ben.open_chat(ann)
    # The message that arrived live shows at once, the one before it when the page loads.
    expect(ben.page.locator(".message")).to_have_count(2)
    texts = ben.page.locator(".message").all_inner_texts()
    assert XSS in texts[0]
    assert "second message" in texts[1]
    assert ben.page.locator(".messages img").count() == 0
    assert ben.contact(ann).locator(".badge").count() == 0

    # Typing indicator, then a reply that arrives live on Ann's page.
    ben.page.type("#composer-input", "hel")
    ann.page.locator("#typing").wait_for(state="visible", timeout=5000)
    ben.page.fill("#composer-input", "hello ann")
    ben.page.press("#composer-input", "Enter")
    ann.page.locator(".message:not(.mine)", has_text="hello ann").wait_for(timeout=5000)
    # Ann's own messages show as read once Ben has opened the chat.
    ann.page.locator(".message.mine .ticks.read").first.wait_for(timeout=5000)
    ann.shot("chat-desktop")

    # After a reload the history is still there, in order.
    ann.page.reload()
    ann.page.wait_for_selector("#app:not([hidden])")
    ann.open_chat(ben)
    ann.page.locator(".message", has_text="hello ann").wait_for()
    texts = ann.page.locator(".message").all_inner_texts()
    assert [XSS in texts[0], "second message" in texts[1], "hello ann" in texts[2]] == [True] * 3

    assert not ann.dialogs and not ben.dialogs, "user text ran as script"
    assert not ann.errors and not ben.errors


def test_narrow_screen_and_security_headers(browser, server):
    response = requests.get(server.url + "/", timeout=5)
    policy = response.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "<script>" not in response.text  # no inline script on the page

    cat = Person(browser, server, "cat", viewport={"width": 390, "height": 780})
    dan = Person(browser, server, "dan")
    dan.sign_up()
    cat.sign_up()
    cat.open_chat(dan)
    assert cat.page.locator(".sidebar").is_hidden()  # one pane at a time on a phone
    cat.say("hi from a phone")
    cat.page.locator(".message.mine", has_text="hi from a phone").wait_for()
    cat.shot("chat-mobile")
    cat.page.click("#back")
    assert cat.page.locator(".sidebar").is_visible()


def test_banner_while_disconnected_and_catch_up_after_reconnect(browser, chat_server_factory):
    # Eve's server goes down and comes back on the same port; meanwhile Finn writes to her
    # through a second server. Without Redis nothing reaches Eve's server live: what she sees
    # after the reconnect comes from /api/sync.
    finn, eve = signed_up_apart(browser, chat_server_factory, "finn", "eve")
    eve_server = eve.server
    eve.open_chat(finn)
    eve.say("before the outage")
    eve.page.locator(".message.mine", has_text="before the outage").wait_for()
    finn.page.reload()
    finn.page.wait_for_selector("#app:not([hidden])")
    finn.open_chat(eve)
    finn.page.locator(".message", has_text="before the outage").wait_for()
    banner = eve.page.locator("#banner")
    expect(banner).to_be_hidden()

    eve_server.stop()
    expect(banner).to_be_visible(timeout=10_000)
    finn.say("sent while eve was away")
    finn.say("and one more")
    finn.page.locator(".message.mine", has_text="and one more").wait_for()
    eve.shot("chat-reconnecting")
    assert eve.page.locator(".message", has_text="while eve was away").count() == 0

    eve_server.start()
    expect(banner).to_be_hidden(timeout=20_000)
    eve.page.locator(".message:not(.mine)", has_text="and one more").wait_for(timeout=10_000)
    texts = eve.page.locator(".message").all_inner_texts()
    expected = ["before the outage", "sent while eve was away", "and one more"]
    assert len(texts) == 3, texts
    assert all(text.startswith(body) for text, body in zip(texts, expected, strict=True)), texts
    assert eve.page.locator("#app").is_visible()  # still logged in, not sent back to the form

    # The socket works again: Eve's reply goes out through her server.
    eve.say("back online")
    finn.page.reload()
    finn.page.wait_for_selector("#app:not([hidden])")
    finn.open_chat(eve)
    finn.page.locator(".message:not(.mine)", has_text="back online").wait_for(timeout=10_000)
    assert not eve.errors and not finn.errors


def test_after_a_reconnect_the_page_asks_for_what_it_missed_only_when_it_missed_something(
    browser, chat_server_factory
):
    # Gus's page sends its sync cursor with every handshake; the server says whether anything
    # happened since (`syncStatus`). Hal writes through another server (no Redis: nothing
    # reaches Gus's server live).
    gus, hal = signed_up_apart(browser, chat_server_factory, "gus", "hal")
    gus_server = gus.server
    hal.open_chat(gus)
    hal.say("hi gus")
    hal.page.locator(".message.mine", has_text="hi gus").wait_for()
    gus.reload()  # his cursor now counts hal's message
    expect(gus.contact(hal).locator(".badge")).to_have_text("1")
    syncs: list[str] = []
    gus.page.on("request", lambda r: syncs.append(r.url) if "/api/sync" in r.url else None)
    banner = gus.page.locator("#banner")

    def outage(while_away=None) -> None:
        gus_server.stop()
        expect(banner).to_be_visible(timeout=10_000)
        if while_away:
            while_away()
        # The reconnect's catch-up ends with the conversation list.
        with gus.page.expect_response(
            lambda r: r.url.endswith("/api/conversations"), timeout=30_000
        ):
            gus_server.start()
        expect(banner).to_be_hidden()

    outage()
    assert syncs == []  # nothing missed: no request
    outage(lambda: hal.say("while you were away"))
    expect(gus.contact(hal).locator(".badge")).to_have_text("2")
    assert len(syncs) == 1, syncs
    assert not gus.errors and not hal.errors


@pytest.mark.parametrize("path", ["/api/redoc/", "/api/docs/"])
def test_api_docs_render_with_nothing_from_elsewhere(browser, server, path):
    context = browser.new_context()
    page = context.new_page()
    ours = (server.url + "/", "data:")
    elsewhere: list[str] = []
    answered_elsewhere: list[str] = []
    blocked: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(ours) else elsewhere.append(r.url))
    page.on(
        "response", lambda r: None if r.url.startswith(ours) else answered_elsewhere.append(r.url)
    )
    page.on("requestfailed", lambda r: r.failure == "csp" and blocked.append(r.url))
    page.goto(server.url + path)
    expect(page.get_by_text("Chat API").first).to_be_visible(timeout=15_000)
    page.get_by_text("/api/auth/login").first.wait_for(timeout=15_000)
    page.wait_for_timeout(500)
    context.close()

    # Nothing reached another origin. Redoc's bundle always shows Redocly's logo from their CDN
    # in its sidebar (no option turns it off): the Content-Security-Policy stops that request
    # in the browser, and Redoc then leaves the image out.
    assert answered_elsewhere == []
    assert sorted(set(elsewhere)) == sorted(set(blocked))
    assert set(blocked) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
